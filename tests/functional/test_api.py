"""``mlvc.api``: versioned data read from Python."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

import mlvc.api
from mlvc.errors import MlvcError
from tests.conftest import Project


@pytest.fixture
def versions(project: Project) -> Project:
    project.gen({"data": {"train.csv": "a,b\n1,2\n", "sub": {"x.bin": b"\x00\x01"}},
                 "params.yaml": "train:\n  lr: 0.5\n  epochs: 3\nunused: 1\n",
                 "mlvc.yaml": yaml.safe_dump({"stages": {"t": {
                     "cmd": "true", "params": ["train"], "deps": ["data"]}}})})
    project.run("add", "data")
    project.commit_all("v1")
    project.git("tag", "v1")
    project.gen({"data": {"train.csv": "a,b\n3,4\n"}, "params.yaml": "train:\n  lr: 2.0\n"
                 "  epochs: 3\n"})
    project.run("commit", "data")
    project.commit_all("v2")
    return project


def test_read_the_workspace_and_older_revisions(versions):
    root = versions.root
    assert mlvc.api.read("data/train.csv", repo=root) == "a,b\n3,4\n"
    assert mlvc.api.read("data/train.csv", repo=root, rev="v1") == "a,b\n1,2\n"
    assert mlvc.api.read("data/sub/x.bin", repo=root, rev="v1", mode="rb") == b"\x00\x01"
    with mlvc.api.open("data/train.csv", repo=root, rev="HEAD~1") as f:
        assert f.readline() == "a,b\n"
    # a file git keeps: from git at a revision
    assert "lr: 0.5" in mlvc.api.read("params.yaml", repo=root, rev="v1")
    # deleted from the workspace: as the pointer records it, from the cache
    (root / "data/train.csv").unlink()
    assert mlvc.api.read("data/train.csv", repo=root) == "a,b\n3,4\n"


def test_params_show(versions):
    assert mlvc.api.params_show(repo=versions.root) == {"train": {"lr": 2.0, "epochs": 3}}
    assert mlvc.api.params_show(repo=versions.root, rev="v1")["train"]["lr"] == 0.5


def test_errors_are_mlvc_errors(versions):
    root = versions.root
    with pytest.raises(MlvcError, match="neither tracked by mlvc nor in git"):
        mlvc.api.read("nope.txt", repo=root, rev="v1")
    with pytest.raises(MlvcError, match="is a folder"):
        mlvc.api.read("data/sub", repo=root, rev="v1")
    with pytest.raises(MlvcError, match="outside the project"):
        mlvc.api.read("../x", repo=root)
    with pytest.raises(MlvcError, match="unknown revision"):
        mlvc.api.read("data/train.csv", repo=root, rev="v9")
    with pytest.raises(ValueError):
        mlvc.api.read("data/train.csv", repo=root, mode="w")


def test_a_clone_reads_from_the_remote_verified(versions, tmp_path):
    store = tmp_path / "store"
    versions.run("remote", "add", "-d", "store", str(store))
    versions.commit_all("remote")
    versions.run("push", "-T", "-a")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(versions.root), str(clone)], check=True)
    assert mlvc.api.read("data/train.csv", repo=clone, rev="v1") == "a,b\n1,2\n"
    # the object came into the clone's cache, whole
    assert len(list((clone / ".mlvc/cache/objects").rglob("*"))) > 0
    # a corrupt remote copy is refused, never read
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(versions.root), str(other)], check=True)
    for obj in (store / "objects").rglob("*"):
        if obj.is_file() and obj.read_bytes() == b"a,b\n3,4\n":
            obj.chmod(0o644)
            obj.write_bytes(b"a,b\n6,6\n")
    with pytest.raises(MlvcError, match="could not give it"):
        mlvc.api.read("data/train.csv", repo=other)


def test_a_corrupt_cache_object_is_refused_not_read(versions):
    root = versions.root
    for obj in (root / ".mlvc/cache/objects").rglob("*"):
        if obj.is_file() and obj.read_bytes() == b"a,b\n1,2\n":
            obj.chmod(0o644)
            obj.write_bytes(b"a,b\n6,6\n")
    with pytest.raises(MlvcError, match="is corrupt in the cache"):
        mlvc.api.read("data/train.csv", repo=root, rev="v1")


def test_metrics_show_reads_each_revisions_metrics_cached_or_not(project):
    # `eval` writes two metrics files: one git keeps, one cached (read from the cache at a
    # revision, by the oid its lock records).
    write = (f"{sys.executable} -c \"import json; s = float(open('score').read()); "
             "json.dump({'acc': s, 'loss': {'train': 1 - s}}, open('m.json', 'w')); "
             "json.dump({'f1': s / 2}, open('cached.json', 'w'))\"")
    project.gen({"score": "0.5", "mlvc.yaml": yaml.safe_dump({"stages": {"eval": {
        "cmd": write, "deps": ["score"],
        "metrics": [{"m.json": {"cache": False}}, "cached.json"]}}})})
    project.run("repro")
    project.commit_all("v1")
    project.gen({"score": "0.75"})
    project.run("repro")
    assert mlvc.api.metrics_show(repo=project.root) == {
        "acc": 0.75, "loss": {"train": 0.25}, "f1": 0.375}
    assert mlvc.api.metrics_show(repo=project.root, rev="HEAD") == {
        "acc": 0.5, "loss": {"train": 0.5}, "f1": 0.25}
