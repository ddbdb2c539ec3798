"""``mlvc install``: git hooks that keep the data in step with git."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import Project


def hooks(project: Project) -> dict:
    return json.loads(project.run("install", "--json").stdout)


def test_hooks_check_out_the_data_git_checks_out(project):
    doc = hooks(project)
    names = sorted(os.path.basename(h) for h in doc["hooks"])
    assert names == ["post-checkout", "pre-commit", "pre-push"] and doc["replaced"] == []
    for h in doc["hooks"]:
        assert os.access(h, os.X_OK)
    # (pre-commit asks no import source: no network at each commit)
    assert "status --no-updates\n" in (project.root / ".git/hooks/pre-commit").read_text()
    project.gen({"d": {"a": "one"}})
    project.run("add", "d")
    project.commit_all("one")
    project.git("checkout", "-q", "-b", "two")
    project.gen({"d": {"a": "two"}})
    project.run("commit")
    out = subprocess.run(["git", "commit", "-qam", "two"], cwd=project.root, check=True,
                         capture_output=True, text=True)
    assert "Data and pipelines are up to date." in out.stdout + out.stderr  # pre-commit
    project.git("checkout", "-q", "main")  # post-checkout: mlvc checkout
    assert project.read("d/a") == "one"
    project.git("checkout", "-q", "two")
    assert project.read("d/a") == "two"
    project.git("checkout", "-q", "main", "--", "d.mlvc")  # a file checkout: left alone
    assert project.read("d/a") == "two"
    assert sorted(hooks(project)["replaced"]) == sorted(doc["hooks"])  # again: rewritten


def test_a_hook_mlvc_did_not_write_is_never_overwritten(project):
    hooks_dir = project.root / ".git/hooks"
    hooks_dir.mkdir(exist_ok=True)
    (hooks_dir / "pre-push").write_text("#!/bin/sh\necho mine\n")
    r = project.run("install", code=1)
    assert "pre-push exists already and mlvc did not write it" in r.stderr
    assert "mlvc -C PROJECT push" in r.stderr
    assert (hooks_dir / "pre-push").read_text() == "#!/bin/sh\necho mine\n"
    assert not (hooks_dir / "post-checkout").exists()  # nothing written


def test_hooks_path_and_a_project_in_a_sub_folder(tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run(["git", "config", "core.hooksPath", "githooks"], cwd=repo, check=True)
    (repo / "ml").mkdir()
    project = Project(repo / "ml")
    project.run("init")
    (hook,) = [h for h in hooks(project)["hooks"] if h.endswith("post-checkout")]
    assert hook == str(repo / "githooks" / "post-checkout")
    assert '"$(git rev-parse --show-toplevel)"/ml checkout' in Path(hook).read_text()


def test_no_git_no_hooks(tmp_path):
    loose = Project(tmp_path)
    loose.run("init", "--no-scm")
    assert "git hooks need git" in loose.run("install", code=1).stderr


def test_use_pre_commit_tool_adds_the_hooks_to_its_config_and_installs_them(
        project, tmp_path, monkeypatch):
    """DVC's --use-pre-commit-tool: the three hooks become `repo: local` entries of
    .pre-commit-config.yaml (the rest of it kept), and `pre-commit install` installs them."""
    import shlex
    import shutil
    import sys

    import yaml

    tools = tmp_path / "bin"
    tools.mkdir()
    calls = tmp_path / "calls"
    fake = tools / "pre-commit"  # (records how it was called)
    fake.write_text(f"#!/bin/sh\necho \"$PWD $*\" >> {calls}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    theirs = "# our linters\nrepos:\n- repo: https://example.org/linters\n  rev: v1\n" \
             "  hooks:\n  - id: lint\n"
    project.gen({".pre-commit-config.yaml": theirs})
    doc = json.loads(project.run("install", "--use-pre-commit-tool", "--json").stdout)
    assert doc["pre_commit_ran"] and doc["hooks"] == []
    text = project.read(".pre-commit-config.yaml")
    assert text.startswith(theirs)  # (their entry and comment as they were)
    repos = yaml.safe_load(text)["repos"]
    (local,) = [r for r in repos if r["repo"] == "local"]
    assert [(h["id"], h["stages"]) for h in local["hooks"]] == [
        ("mlvc-post-checkout", ["post-checkout"]), ("mlvc-pre-commit", ["pre-commit"]),
        ("mlvc-pre-push", ["pre-push"])]
    assert calls.read_text() == (f"{project.root} install --hook-type post-checkout "
                                 "--hook-type pre-commit --hook-type pre-push\n")
    assert not (project.root / ".git/hooks/post-checkout").exists()  # (pre-commit's job)
    project.run("install", "--use-pre-commit-tool")  # again: replaced, not added twice
    assert yaml.safe_load(project.read(".pre-commit-config.yaml"))["repos"] == repos

    # the post-checkout entry, as pre-commit runs it: after a branch checkout only
    project.gen({"data.txt": "d"})
    project.run("add", "data.txt")
    (project.root / "data.txt").unlink()
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}"
                                 f"{os.environ['PATH']}"}
    entry = shlex.split(local["hooks"][0]["entry"])
    for kind, there in (("0", False), ("1", True)):
        subprocess.run(entry, cwd=project.root, env={**env, "PRE_COMMIT_CHECKOUT_TYPE": kind},
                       check=True, capture_output=True)
        assert (project.root / "data.txt").exists() == there

    # a project in a folder whose name needs quoting: the entry still runs mlvc there
    top = tmp_path / "top"
    (top / "it's here").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(top)], check=True)
    inner = Project(tmp_path / "top/it's here")
    inner.run("init")
    inner.gen({"x.txt": "x"})
    inner.run("add", "x.txt")
    (inner.root / "x.txt").unlink()
    inner.run("install", "--use-pre-commit-tool")
    hooks = yaml.safe_load((top / ".pre-commit-config.yaml").read_text())["repos"][-1]
    subprocess.run(shlex.split(hooks["hooks"][0]["entry"]), cwd=top, check=True,
                   env={**env, "PRE_COMMIT_CHECKOUT_TYPE": "1"}, capture_output=True)
    assert (inner.root / "x.txt").read_text() == "x"

    monkeypatch.setenv("PATH", os.path.dirname(shutil.which("git")))  # (no pre-commit)
    r = project.run("install", "--use-pre-commit-tool")
    assert "`pre-commit` is not installed here" in r.stderr
