"""``mlvc destroy``: mlvc taken out of a project, the workspace's data kept."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest
import yaml

from tests.conftest import snapshot

PY = sys.executable


def tracked_project(project, link: str) -> dict[str, bytes]:
    """Data added, a stage run, hooks installed, all committed; the data files' bytes."""
    project.run("config", "cache.type", link)
    project.gen({"data": {"a.csv": "x\n1\n", "sub": {"b.csv": "x\n2\n"}}, "model.bin": "m"})
    project.run("add", "data", "model.bin")
    script = "import pathlib; pathlib.Path('out.txt').write_text('made')"
    (project.root / "mlvc.yaml").write_text(yaml.safe_dump({"stages": {"make": {
        "cmd": f"{PY} -c \"{script}\"", "deps": ["data"], "outs": ["out.txt"]}}}))
    project.run("repro")
    project.run("install")
    project.commit_all("tracked")
    return {p: (project.root / p).read_bytes()
            for p in ("data/a.csv", "data/sub/b.csv", "model.bin", "out.txt")}


@pytest.mark.parametrize("link", ["copy", "hardlink", "symlink"])
def test_destroy_takes_mlvc_out_and_keeps_the_data_as_private_files(project, link):
    data = tracked_project(project, link)
    gitignore = (project.root / ".gitignore").read_text()
    doc = json.loads(project.run("destroy", "-f", "--json").stdout)
    assert sorted(doc["removed"]) == sorted(["data.mlvc", "model.bin.mlvc", "mlvc.yaml",
                                             "mlvc.lock", ".mlvcignore", ".mlvc"])
    assert doc["cache_removed"] is True
    assert sorted(os.path.basename(h) for h in doc["hooks"]) == [
        "post-checkout", "pre-commit", "pre-push"]
    assert doc["unprotected"] == (0 if link == "copy" else 4)
    for path in (".mlvc", ".mlvcignore", "mlvc.yaml", "mlvc.lock", "data.mlvc",
                 "model.bin.mlvc", ".git/hooks/pre-commit", ".git/hooks/post-checkout"):
        assert not os.path.lexists(project.root / path), path
    for path, content in data.items():
        st = os.lstat(project.root / path)
        assert stat.S_ISREG(st.st_mode) and st.st_nlink == 1, path  # no link to a cache
        assert st.st_mode & stat.S_IWUSR, path  # and writable
        assert (project.root / path).read_bytes() == content
    assert (project.root / ".gitignore").read_text() == gitignore  # the data stays ignored
    # What git tracked of mlvc's is named for `git add` (the deletions).
    assert set(doc["git_files"]) >= {"data.mlvc", "mlvc.yaml", "mlvc.lock", ".mlvc/config.yaml"}
    assert project.run("status", code=1).stderr.startswith("error: not an mlvc project")


def test_destroy_asks_first_and_without_an_answer_deletes_nothing(project):
    tracked_project(project, "hardlink")
    before = snapshot(project.root, skip=())
    r = project.run("destroy", code=1)
    assert "this deletes 2 pointer files, mlvc.yaml, mlvc.lock, .mlvcignore and .mlvc/ " \
           "with the cache" in r.stderr
    assert "--force" in r.stderr
    assert snapshot(project.root, skip=()) == before


def test_destroy_asks_a_person_and_no_keeps_everything(project, monkeypatch):
    from mlvc.cli import render

    tracked_project(project, "copy")
    monkeypatch.setattr(render, "interactive", lambda: True)
    before = snapshot(project.root, skip=())
    r = project.runner.invoke(render_cli(), ["-C", str(project.root), "destroy"], input="n\n")
    assert r.exit_code == 1 and "Destroy the project?" in r.stderr
    assert snapshot(project.root, skip=()) == before
    r = project.runner.invoke(render_cli(), ["-C", str(project.root), "destroy"], input="y\n")
    assert r.exit_code == 0, r.stderr
    assert not (project.root / ".mlvc").exists()


def render_cli():
    from mlvc.cli.main import cli

    return cli


def test_a_cache_outside_the_project_is_kept_whole(project, tmp_path):
    cache = tmp_path / "shared-cache"
    project.run("config", "cache.dir", str(cache))
    data = tracked_project(project, "hardlink")
    objects = snapshot(cache)
    r = project.run("destroy", "-f")
    assert f"Kept the cache at {cache}" in r.stdout
    assert snapshot(cache) == objects
    # The workspace's files are copies: editing one leaves the shared cache's bytes alone.
    (project.root / "model.bin").write_text("edited")
    assert snapshot(cache) == objects
    assert (project.root / "data/a.csv").read_bytes() == data["data/a.csv"]


def test_a_hook_mlvc_did_not_write_stays(project):
    tracked_project(project, "copy")
    (project.root / ".git/hooks/pre-push").write_text("#!/bin/sh\necho mine\n")
    project.run("destroy", "-f")
    assert (project.root / ".git/hooks/pre-push").read_text() == "#!/bin/sh\necho mine\n"
    assert not (project.root / ".git/hooks/pre-commit").exists()


def test_a_failure_making_copies_deletes_nothing_and_a_second_run_finishes(project,
                                                                          monkeypatch):
    from mlvc.ops import destroy as destroy_mod

    data = tracked_project(project, "symlink")
    before = snapshot(project.root, skip=())

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(destroy_mod, "unprotect_paths", full_disk)
    r = project.run("destroy", "-f", code=1)
    assert "No space left on device" in r.stderr
    assert snapshot(project.root, skip=()) == before  # links, pointers, cache: all there
    monkeypatch.undo()
    project.run("destroy", "-f")
    assert not (project.root / ".mlvc").exists()
    assert {p: (project.root / p).read_bytes() for p in data} == data


def test_a_running_queue_worker_is_not_pulled_from_under(project, monkeypatch):
    from mlvc.ops import exp_queue

    tracked_project(project, "copy")
    monkeypatch.setattr(exp_queue, "workers", lambda repo: [4242])
    r = project.run("destroy", "-f", code=1)
    assert "queue has a worker running (process 4242)" in r.stderr
    assert "mlvc queue stop" in r.stderr
    assert (project.root / ".mlvc").is_dir() and (project.root / "data.mlvc").is_file()


def test_copies_a_killed_run_left_beside_their_files_are_removed(project):
    from mlvc.workspace.links import tmp_sibling

    data = tracked_project(project, "hardlink")
    leftover = tmp_sibling(project.root / "data/sub/b.csv")  # (as a kill mid-copy leaves it)
    with open(leftover, "w") as f:
        f.write("x\n2")
    assert "mlvc-tmp" in leftover
    project.run("unprotect", "data")  # (unprotect makes the same copies, killed or not)
    assert not os.path.exists(leftover)
    with open(leftover, "w") as f:
        f.write("x\n2")
    project.run("destroy", "-f")
    assert not os.path.exists(leftover)
    assert {p: (project.root / p).read_bytes() for p in data} == data


def test_a_destroy_cut_short_in_its_last_step_is_named_with_the_way_out(project):
    tracked_project(project, "copy")
    os.replace(project.root / ".mlvc", project.root / ".mlvc-destroyed.4242")  # (as left)
    r = project.run("status", code=1)
    assert "`mlvc destroy` was cut short" in r.stderr and ".mlvc-destroyed.4242" in r.stderr
