"""``mlvc get``: a file or folder copied out of another project, at any revision."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import Project, new_project


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


def test_a_folder_git_keeps_comes_with_the_data_tracked_inside_it(project, tmp_path):
    """As `dvc get` of a folder holding outputs: the git files, the pointer files and the
    data (of pointer files and of stages, through mlvc.lock), from the remote for a URL;
    `get REPO .` leaves the clone's .git and .mlvc behind. `import` of such a folder tracks
    it all."""
    import yaml

    project.gen({"models": {"README.md": "models\n", "m.pkl": "weights",
                            "sub": {"z.bin": "zz"}},
                 "mlvc.yaml": yaml.safe_dump({"stages": {"s": {
                     "cmd": "mkdir -p models/gen && echo g > models/gen/g.txt",
                     "outs": ["models/gen"]}}})})
    project.run("add", "models/m.pkl", "models/sub/z.bin")
    project.run("repro")
    project.run("remote", "add", "-d", "store", str(tmp_path / "store"))
    project.commit_all("v1")
    project.run("push")
    here = tmp_path / "here"
    here.mkdir()
    get(here, f"file://{project.root}", "models")  # (a URL: the data from the remote)
    assert sorted(str(p.relative_to(here)) for p in here.rglob("*") if p.is_file()) == [
        "models/.gitignore", "models/README.md", "models/gen/g.txt", "models/m.pkl",
        "models/m.pkl.mlvc", "models/sub/.gitignore", "models/sub/z.bin",
        "models/sub/z.bin.mlvc"]
    assert (here / "models/m.pkl").read_text() == "weights"
    get(here, str(project.root), ".", "-o", "all")
    assert not (here / "all/.git").exists() and not (here / "all/.mlvc").exists()
    assert (here / "all/models/sub/z.bin").read_text() == "zz"
    assert (here / "all/mlvc.lock").exists()

    other = new_project(tmp_path / "other")
    doc = json.loads(other.run("import", str(project.root), "models", "--json").stdout)
    assert doc["files"] == 8
    assert (other.root / "models/gen/g.txt").read_text() == "g\n"
    # its oids are known only by reading the data inside: --no-download records the
    # commit, the output pending; pull reads it at that commit, not a later one
    other.run("import", str(project.root), "models", "-o", "m2", "--no-download")
    m2 = yaml.safe_load(other.read("m2.mlvc"))
    assert "oid" not in m2["outs"][0] and m2["import"]["rev_lock"]
    project.gen({"models": {"m.pkl": "weights v2"}})
    project.run("commit")
    project.commit_all("v2")
    other.run("update", "models")
    assert (other.root / "models/m.pkl").read_text() == "weights v2"
    other.run("pull", "m2")
    assert (other.root / "m2/m.pkl").read_text() == "weights"  # (the commit recorded)
    assert yaml.safe_load(other.read("m2.mlvc"))["import"]["rev_lock"] == \
        m2["import"]["rev_lock"]


def test_jobs_sets_the_threads_of_the_clones_transfers(source, tmp_path, monkeypatch):
    """`get/import -j N` (as DVC's): the temporary clone's transfers use N threads; an
    import's, this project's core.jobs when not given."""
    import mlvc.ops.get as get_module

    seen: list[int] = []
    real = get_module.fetch_objects

    def spy(repo, *args, **kwargs):
        seen.append(repo.jobs)
        return real(repo, *args, **kwargs)

    monkeypatch.setattr(get_module, "fetch_objects", spy)
    here = tmp_path / "here"
    here.mkdir()
    get(here, f"file://{source.root}", "data", "-j", "3")
    assert seen and set(seen) == {3}
    seen.clear()
    other = new_project(tmp_path / "other")
    other.run("config", "core.jobs", "5")
    other.run("import", f"file://{source.root}", "data")
    assert seen and set(seen) == {5}
    seen.clear()
    other.run("import", f"file://{source.root}", "data/a.csv", "-j", "2")
    assert set(seen) == {2}
