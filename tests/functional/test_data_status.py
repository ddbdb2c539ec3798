"""``mlvc data status``: the tracked data as ``git status`` shows files."""

from __future__ import annotations

import json

from tests.conftest import Project


def status(p: Project, *args: str) -> dict:
    return json.loads(p.run("data", "status", "--json", *args).stdout)


def changes(doc: dict, key: str) -> list[tuple[str, str]]:
    return [(c["change"], c["path"]) for c in doc[key]]


def test_data_status_tells_committed_uncommitted_and_missing_data(project, tmp_path):
    remote = tmp_path / "remote"
    project.run("remote", "add", "-d", "store", str(remote))
    project.gen({"data": {"a.csv": "a", "b.csv": "b", "old.csv": "o"}, "model.bin": "m"})
    project.run("add", "data", "model.bin")
    project.run("push", "model.bin")
    project.commit_all("v1")
    assert status(project) == {"not_in_cache": [], "committed": [], "uncommitted": [],
                               "clean": True}
    assert project.run("data", "status").stdout == "No changes.\n"

    # recorded but not committed to git: a.csv changed and `mlvc commit`ed, old.csv renamed
    project.run("unprotect", "data")
    project.gen({"data": {"a.csv": "a2"}})
    (project.root / "data/old.csv").rename(project.root / "data/new.csv")
    project.run("commit")
    # then b.csv changed without a commit; a new output added; a file nobody tracks
    project.gen({"data": {"b.csv": "b2"}, "extra.bin": "x", "notes.txt": "n"})
    project.run("add", "extra.bin")
    doc = status(project)
    assert changes(doc, "committed") == [("modified", "data/"), ("added", "extra.bin")]
    assert changes(doc, "uncommitted") == [("modified", "data/")]
    doc = status(project, "--granular", "--unchanged", "--untracked-files")
    assert changes(doc, "committed") == [("modified", "data/a.csv"),
                                         ("renamed", "data/new.csv"), ("added", "extra.bin")]
    assert doc["committed"][1]["old"] == "data/old.csv"
    assert changes(doc, "uncommitted") == [("modified", "data/b.csv")]
    assert doc["unchanged"] == ["model.bin"] and "notes.txt" in doc["untracked"]
    assert "extra.bin.mlvc" in doc["untracked"] and "data/b.csv" not in doc["untracked"]
    text = project.run("data", "status").stdout
    assert "Committed changes:" in text and "        modified: data/" in text
    assert "Uncommitted changes:" in text
    # the remote lacks data/ and extra.bin (model.bin was pushed)
    doc = status(project, "--not-in-remote")
    assert doc["remote"] == "store" and doc["not_in_remote"] == ["data/", "extra.bin"]

    # a fresh clone: the cache lacks everything, the workspace has nothing
    project.commit_all("v2")
    clone = tmp_path / "clone"
    project.git("clone", "-q", str(project.root), str(clone))
    doc = status(Project(clone))
    assert doc["not_in_cache"] == ["data/", "extra.bin", "model.bin"]
    assert changes(doc, "uncommitted") == [("deleted", "data/"), ("deleted", "extra.bin"),
                                           ("deleted", "model.bin")]
    assert doc["committed"] == []
    r = project.run("data", "status", "-r", "store", code=2)
    assert "goes with --not-in-remote" in r.stderr


def test_no_remote_refresh_answers_from_what_the_remote_was_last_seen_to_have(project,
                                                                              tmp_path):
    import shutil

    remote = tmp_path / "remote"
    project.run("remote", "add", "-d", "store", str(remote))
    project.gen({"a.bin": "a", "b.bin": "b"})
    project.run("add", "a.bin", "b.bin")
    project.run("push", "a.bin")
    doc = status(project, "--not-in-remote", "--no-remote-refresh")
    assert doc["not_in_remote"] == ["b.bin"]  # (push told the index what it sent)
    shutil.rmtree(remote)  # (the remote is not asked: it may be gone, or far)
    doc = status(project, "--not-in-remote", "--no-remote-refresh")
    assert doc["not_in_remote"] == ["b.bin"]
    doc = status(project, "--not-in-remote")  # (asked: it has nothing now)
    assert doc["not_in_remote"] == ["a.bin", "b.bin"]
    doc = status(project, "--not-in-remote", "--no-remote-refresh")
    assert doc["not_in_remote"] == ["a.bin", "b.bin"]  # (the index learnt it)
    r = project.run("data", "status", "--no-remote-refresh", code=2)
    assert "--no-remote-refresh goes with --not-in-remote" in r.stderr
