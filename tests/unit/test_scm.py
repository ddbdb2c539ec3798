import subprocess

import pytest

from mlvc.errors import ScmError
from mlvc.scm import Git


def test_git_commands_outside_a_repository_say_so(tmp_path):
    with pytest.raises(ScmError) as err:
        Git(tmp_path).tracked(["x"])
    assert "not inside a git repository" in err.value.message
    assert "--no-scm" in (err.value.hint or "")


def test_a_failing_git_command_is_one_clear_error(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    with pytest.raises(ScmError) as err:
        Git(tmp_path).files_at("no-such-rev", ".mlvc")
    assert err.value.message.startswith("git ls-tree failed: fatal:")
    assert "no-such-rev" in err.value.message


def test_paths_come_back_as_git_lists_them(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    names = ["plain.txt", "with space.txt", "ünï cödé.txt", "sub/nested.txt"]
    for name in names:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(name)
    Git(tmp_path).add(names)
    assert sorted(Git(tmp_path).tracked(["."])) == sorted(names)
    assert Git(tmp_path).tracked(["sub"]) == ["sub/nested.txt"]


def test_paths_are_literal_and_any_number_fit(tmp_path, monkeypatch):
    import mlvc.scm

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    names = ["ab", "a*", "[x]", "x", *[f"many/f{i}" for i in range(40)]]
    (tmp_path / "many").mkdir()
    for name in names:
        (tmp_path / name).write_text(name)
    git = Git(tmp_path)
    runs = []
    real = Git._run
    monkeypatch.setattr(Git, "_run", lambda self, *args: runs.append(args) or real(self, *args))
    monkeypatch.setattr(mlvc.scm, "PATHS_PER_RUN", 30)  # a few paths per command line
    git.add(["ab", "many"])
    assert git.tracked(["a*"]) == []  # a pattern would match "ab"
    assert git.tracked(["[x]", "x"]) == []
    assert sorted(git.tracked(["ab", "a*", *[f"many/f{i}" for i in range(40)]])) == sorted(
        ["ab", *[f"many/f{i}" for i in range(40)]])
    assert len(runs) > 5  # the 40 paths took several command lines
    git.add(["a*"])
    assert sorted(git.tracked(["a*", "ab"])) == ["a*", "ab"]
