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
    monkeypatch.setattr(Git, "_run", lambda self, *args, **kw: runs.append(args)
                        or real(self, *args, **kw))
    monkeypatch.setattr(mlvc.scm, "PATHS_PER_RUN", 30)  # a few paths per command line
    git.add(["ab", "many"])
    assert git.tracked(["a*"]) == []  # a pattern would match "ab"
    assert git.tracked(["[x]", "x"]) == []
    assert sorted(git.tracked(["ab", "a*", *[f"many/f{i}" for i in range(40)]])) == sorted(
        ["ab", *[f"many/f{i}" for i in range(40)]])
    assert len(runs) > 5  # the 40 paths took several command lines
    git.add(["a*"])
    assert sorted(git.tracked(["a*", "ab"])) == ["a*", "ab"]


def test_ignore_rules_name_the_rule_and_skip_negated_and_tracked_paths(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text("data*\n!/data-kept.mlvc\nsub/\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "tracked.txt").write_text("x")
    git = Git(tmp_path)
    git.add(["tracked.txt"])
    (tmp_path / ".gitignore").write_text("data*\n!/data-kept.mlvc\nsub/\ntracked*\n")
    paths = ["data.mlvc", "data-kept.mlvc", "datä.mlvc", "data ü.mlvc", "sub/x.mlvc",
             "tracked.txt", "other.mlvc"]
    assert git.ignore_rules(paths) == {
        "data.mlvc": ".gitignore:1: data*", "data ü.mlvc": ".gitignore:1: data*",
        "sub/x.mlvc": ".gitignore:3: sub/"}
    assert git.ignored(paths) == ["data.mlvc", "data ü.mlvc", "sub/x.mlvc"]
    assert git.ignore_rules([]) == {}


def test_remove_worktree_removes_a_locked_one(tmp_path):
    # (a `git worktree add` interrupted part way leaves its work tree locked: prune keeps it)
    import subprocess

    from mlvc.scm import Git

    repo = tmp_path / "r"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "f").write_text("x")
    subprocess.run(["git", "-C", str(repo), "add", "f"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=a", "-c", "user.email=a@b",
                    "commit", "-qm", "c"], check=True)
    git = Git(repo)
    sha = git.head()
    where = str(tmp_path / "wt")
    git.add_worktree(where, sha, sha)
    subprocess.run(["git", "-C", str(repo), "worktree", "lock", where], check=True)
    (tmp_path / "wt" / ".git").unlink()  # (as an add interrupted before writing it leaves it)
    git.remove_worktree(where)
    listed = subprocess.run(["git", "-C", str(repo), "worktree", "list", "--porcelain"],
                            capture_output=True, text=True, check=True).stdout
    assert listed.count("worktree ") == 1 and not (tmp_path / "wt").exists()


@pytest.mark.parametrize("sub", ["", "proj"], ids=["top", "sub-folder project"])
def test_batched_reads_answer_as_one_by_one_reads(tmp_path, sub):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    top = tmp_path / "repo"
    root = top / sub if sub else top
    root.mkdir(parents=True)
    run = lambda *a: subprocess.run(["git", *a], cwd=top, check=True,  # noqa: E731
                                    capture_output=True)
    run("init", "-q")
    files = {"a.txt": b"one\n", "with space.yaml": b"x: 1\n", "dir/b.bin": bytes(range(256)),
             "empty": b"", "ünï.json": b"{}"}
    for name, data in files.items():
        (root / name).parent.mkdir(exist_ok=True)
        (root / name).write_bytes(data)
    run("add", "-A")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    (root / "a.txt").write_bytes(b"two\n")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "two")
    git = Git(root)
    shas = [git.resolve("HEAD"), git.resolve("HEAD~1")]
    paths = [*files, "dir", "missing.txt", "dir/none", "a b c missing"]

    @settings(max_examples=30, deadline=None)
    @given(st.lists(st.tuples(st.sampled_from(shas), st.sampled_from(paths)), max_size=12))
    def check(pairs):
        assert git.show_many(pairs) == {p: git.show(*p) for p in pairs}

    check()
    assert git.show_many([(shas[1], "a.txt")]) == {(shas[1], "a.txt"): b"one\n"}
    revs = ["HEAD", "HEAD~1", "HEAD~5", "nope", "-x", shas[0][:10], "main:a.txt"]
    assert git.resolve_many(revs) == {r: git.resolve(r) for r in revs}
