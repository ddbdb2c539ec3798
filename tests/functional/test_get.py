"""``mlvc get``: a file or folder copied out of another project, at any revision."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import Project


@pytest.fixture
def source(project: Project, tmp_path) -> Project:
    project.gen({"data": {"a.csv": "1\n", "s": {"run.sh": "#!/bin/sh\n"}},
                 "code.py": "print(1)\n"})
    os.chmod(project.root / "data/s/run.sh", 0o755)
    project.run("add", "data")
    project.run("remote", "add", "-d", "store", str(tmp_path / "store"))
    project.commit_all("v1")
    project.git("tag", "v1")
    project.run("push")
    project.gen({"data": {"a.csv": "2\n"}})
    project.run("commit")
    project.commit_all("v2")
    project.run("push")
    return project


def get(where, *args: str, code: int = 0):
    return Project(where).run("get", *args, code=code)


def test_files_and_folders_at_revisions_from_a_local_project(source, tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    get(here, str(source.root), "data/a.csv")
    assert (here / "a.csv").read_text() == "2\n"
    r = get(here, str(source.root), "data", "--rev", "v1", "-o", "old", "--json")
    assert json.loads(r.stdout)["files"] == 2
    assert (here / "old/a.csv").read_text() == "1\n"
    assert os.access(here / "old/s/run.sh", os.X_OK)  # the exec bit travels
    get(here, str(source.root), "code.py")  # a file git keeps
    assert (here / "code.py").read_text() == "print(1)\n"
    r = get(here, str(source.root), "data/a.csv", code=1)
    assert "'a.csv' exists already" in r.stderr and "--force" in r.stderr
    get(here, str(source.root), "data/a.csv", "--rev", "v1", "--force")
    assert (here / "a.csv").read_text() == "1\n"
    assert sorted(os.listdir(here)) == ["a.csv", "code.py", "old"]  # nothing left over


def test_from_a_url_the_remote_gives_the_data_verified(source, tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    get(here, f"file://{source.root}", "data", "-o", "d")  # (not read from source's cache)
    assert (here / "d/a.csv").read_text() == "2\n"
    # a corrupt object in the source's cache is not copied: the remote's copy is
    for obj in (source.root / ".mlvc/cache/objects").rglob("*"):
        if obj.is_file() and obj.read_bytes() == b"1\n":
            obj.chmod(0o644)
            obj.write_bytes(b"9\n")
    get(here, str(source.root), "data/a.csv", "--rev", "v1", "-o", "a1")
    assert (here / "a1").read_text() == "1\n"


def test_errors(source, tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    assert "is neither tracked by mlvc nor in git" in get(
        here, str(source.root), "nope", code=1).stderr
    assert "git clone failed" in get(here, str(tmp_path / "missing"), "x", code=1).stderr
    plain = tmp_path / "plain"
    subprocess.run(["git", "init", "-q", str(plain)], check=True)
    (plain / "f").write_text("x")
    subprocess.run(["git", "-C", str(plain), "add", "f"], check=True)
    subprocess.run(["git", "-C", str(plain), "-c", "user.name=a", "-c", "user.email=a@b",
                    "commit", "-qm", "f"], check=True)
    assert "is neither an mlvc project nor a DVC one" in get(here, str(plain), "f", code=1).stderr
    assert "outside the project" in get(here, str(source.root), "../x", code=1).stderr
    assert os.listdir(here) == []
