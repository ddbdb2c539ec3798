"""``cache.dir``: a cache outside the project (shared by projects), and one inside the
workspace refused."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import new_project, snapshot

DATA = {"data": {"a.csv": "1,2\n", "sub": {"b.bin": b"\x00\x01" * 300}}}


def _objects(cache: Path) -> set[str]:
    """The objects in a cache folder, as oids."""
    found = set()
    for dirpath, _, files in os.walk(cache / "objects"):
        found.update(Path(dirpath).name + f for f in files)
    return found


@pytest.mark.parametrize("link", ["copy", "symlink"])
def test_a_cache_outside_the_project_holds_the_objects_and_projects_can_share_it(
        project, tmp_path, link):
    shared = tmp_path / "shared-cache"
    other = new_project(tmp_path / "other")
    for p in (project, other):
        p.run("config", "cache.dir", str(shared))
        p.run("config", "cache.type", link)
        p.gen(DATA)
    project.run("add", "data")
    stored = _objects(shared)
    assert len(stored) == 4  # two files, two manifests
    assert _objects(project.root / ".mlvc/cache") == set()
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True
    before = snapshot(project.root / "data")

    # The other project adds the same bytes: nothing new is stored, and its data checks out
    # from the shared cache.
    other.run("add", "data")
    assert other.read("data.mlvc") == project.read("data.mlvc")
    assert _objects(shared) == stored
    for p in (project, other):
        subprocess.run(["rm", "-rf", str(p.root / "data")], check=True)
        p.run("checkout")
        assert json.loads(p.run("status", "--json").stdout)["clean"] is True
    assert snapshot(project.root / "data") == before
    if link == "symlink":  # the links lead into the shared cache, outside the project
        target = os.path.realpath(project.root / "data/a.csv")
        assert target.startswith(str(shared.resolve()) + os.sep)


def test_a_relative_cache_dir_starts_at_the_mlvc_folder(project, tmp_path):
    project.run("config", "cache.dir", "../../outside")  # .mlvc/../../outside
    project.gen(DATA)
    project.run("add", "data")
    assert len(_objects(tmp_path / "outside")) == 4
    doc = json.loads(project.run("doctor", "--json").stdout)
    assert doc["cache_dir"] == str((tmp_path / "outside").resolve())


@pytest.mark.parametrize("value, shown", [
    ("../data/cache", "data/cache"),  # inside a tracked output: a checkout deleted the cache
    ("../mycache", "mycache"),  # git saw every object
    ("..", "the project's top folder"),
    (".mlvc/cache", ".mlvc/.mlvc/cache"),  # (relative to .mlvc/ already)
])
def test_a_cache_inside_the_workspace_is_refused_and_nothing_is_written(project, value, shown):
    project.gen(DATA)
    config = project.root / ".mlvc/config.yaml"
    before = config.read_text()
    for level in ([], ["--local"]):
        r = project.run("config", *level, "cache.dir", value, code=1)
        assert f"error: cache.dir '{value}' is inside the project ({shown};" in r.stderr
        assert "keep the cache outside the project" in r.stderr
    assert config.read_text() == before
    assert not (project.root / ".mlvc/config.local.yaml").exists()

    # Written by hand, or merged in from git: every command refuses it before any work.
    config.write_text(before + f"cache:\n  dir: {value}\n")
    state = project.snapshot()
    for args in (["add", "data"], ["status"], ["checkout"], ["commit"]):
        r = project.run(*args, code=1)
        assert f"error: cache.dir '{value}' is inside the project" in r.stderr, args
        assert "`mlvc config --unset cache.dir`" in r.stderr
    assert project.snapshot() == state
    # doctor names the project and the problem (it said "none here" for any bad setting).
    r = project.run("doctor", code=1)
    assert f"project: {project.root.resolve()}" in r.stdout
    assert "error: cache.dir" in r.stderr
    doc = json.loads(project.run("doctor", "--json", code=1).stdout)
    assert doc["root"] == str(project.root.resolve()) and "inside the project" in doc["problem"]

    project.run("config", "--unset", "cache.dir")
    project.run("add", "data")
    assert len(_objects(project.root / ".mlvc/cache")) == 4


def test_a_cache_inside_the_default_cache_folder_is_allowed(project):
    project.run("config", "cache.dir", "cache/sub")
    project.gen(DATA)
    project.run("add", "data")
    assert len(_objects(project.root / ".mlvc/cache/sub")) == 4


def test_doctor_names_a_project_whose_config_is_malformed(project):
    (project.root / ".mlvc/config.yaml").write_text("core: [")
    r = project.run("doctor", code=1)
    assert "project: none here" not in r.stdout
    assert f"project: {project.root.resolve()}" in r.stdout
    assert "error:" in r.stderr and "config.yaml" in r.stderr


def test_the_default_cache_as_a_symlink_must_lead_out_of_the_workspace(project, tmp_path):
    """``.mlvc/cache`` moved elsewhere and symlinked back, as people do for a bigger disk:
    outside the project it is used; into the workspace (a tracked folder here) it is refused
    as ``cache.dir`` there is."""
    project.gen(DATA)
    cache = project.root / ".mlvc/cache"
    shutil.rmtree(cache, ignore_errors=True)
    (tmp_path / "big").mkdir()
    cache.symlink_to(tmp_path / "big")
    project.run("add", "data")
    assert len(_objects(tmp_path / "big")) == 4

    cache.unlink()
    cache.symlink_to(project.root / "data")
    state = project.snapshot()
    for args in (["status"], ["checkout"], ["add", "data"]):
        r = project.run(*args, code=1)
        assert "error: .mlvc/cache is a symlink to data, inside the project" in r.stderr, args
    assert project.snapshot() == state


def test_cache_dir_prints_and_sets_the_cache_folder_as_dvc_cache_dir(project, tmp_path):
    project.gen({"a.txt": "a"})
    project.run("add", "a.txt")
    default = json.loads(project.run("cache", "dir", "--json").stdout)["cache_dir"]
    assert default == str(project.root / ".mlvc/cache")
    (project.root / "sub").mkdir()
    r = project.run("cache", "dir", "../../shared", cwd=project.root / "sub")
    assert r.stdout.strip() == str(tmp_path / "shared")  # (relative to where it was typed)
    assert "stay there: move them" in r.stderr  # (a.txt's object is in the old cache)
    written = yaml.safe_load((project.root / ".mlvc/config.yaml").read_text())
    assert written["cache"]["dir"] == "../../shared"  # (relative to .mlvc/: moves along)
    r = project.run("cache", "dir", "inside", code=1)
    assert "is inside the project" in r.stderr
    project.run("cache", "dir", "--local", str(tmp_path / "mine"))
    assert project.run("cache", "dir").stdout.strip() == str(tmp_path / "mine")
    project.run("cache", "dir", "--unset", "--local")
    project.run("cache", "dir", "--unset")
    assert project.run("cache", "dir").stdout.strip() == default
    # Global: absolute, whichever project reads it.
    project.run("cache", "dir", "--global", "../global-cache")
    other = new_project(tmp_path / "other")
    assert other.run("cache", "dir").stdout.strip() == str(tmp_path / "global-cache")
