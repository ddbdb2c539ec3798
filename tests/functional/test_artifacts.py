"""``mlvc artifacts get/list`` and ``mlvc.api.artifacts_show``: named models and datasets of
the top-level ``artifacts:``, by version and stage (git tags as GTO writes them)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import Project, new_project

PIPELINE = {"artifacts": {"clf": {"path": "models/clf.pkl", "type": "model",
                                  "desc": "a classifier", "labels": ["nlp"],
                                  "meta": {"owner": "me"}},
                          "data/train": {"path": "data/train", "type": "dataset"}}}


@pytest.fixture
def registry(tmp_path) -> Project:
    """Three commits of a model; v1.0.0 and v1.1.0 registered, prod on v1.0.0, staging
    assigned to v1.1.0 and then taken away; its data on a folder remote."""
    reg = new_project(tmp_path / "registry")
    reg.gen({"models": {"clf.pkl": "w1"}, "data": {"train": {"a.csv": "1\n"}},
             "mlvc.yaml": yaml.safe_dump(PIPELINE)})
    reg.run("add", "models/clf.pkl", "data/train")
    reg.run("remote", "add", "-d", "store", str(tmp_path / "store"))
    reg.commit_all("v1")
    reg.git("tag", "-a", "clf@v1.0.0", "-m", "registered")
    for n in (2, 3):
        reg.gen({"models": {"clf.pkl": f"w{n}"}})
        reg.run("commit")
        reg.commit_all(f"v{n}")
        if n == 2:
            reg.git("tag", "-a", "clf@v1.1.0", "-m", "registered")
    reg.git("tag", "-a", "clf#prod#1", "clf@v1.0.0^{}", "-m", "promoted")
    reg.git("tag", "clf#staging#1", "clf@v1.1.0^{}")  # (a lightweight tag, too)
    reg.git("tag", "clf#staging!#2", "clf@v1.1.0^{}")
    reg.run("push", "-A")
    return reg


def test_get_takes_the_latest_version_a_version_a_stage_or_a_revision(registry, tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    p = Project(here)  # (outside any project)
    url = f"file://{registry.root}"  # (its data from its remote)
    doc = json.loads(p.run("artifacts", "get", url, "clf", "--json").stdout)
    assert (doc["version"], doc["path"], doc["type"]) == ("v1.1.0", "models/clf.pkl", "model")
    assert (here / "clf.pkl").read_text() == "w2"
    p.run("artifacts", "get", url, "clf", "--stage", "prod", "-o", "prod.pkl")
    assert (here / "prod.pkl").read_text() == "w1"
    p.run("artifacts", "get", url, "clf", "--rev", "v1.0.0", "-o", "one.pkl")
    assert (here / "one.pkl").read_text() == "w1"
    p.run("artifacts", "get", url, "clf", "--rev", "main", "-o", "main.pkl")
    assert (here / "main.pkl").read_text() == "w3"
    r = p.run("artifacts", "get", url, "clf", "--stage", "staging", code=1)  # (taken away)
    assert "no version in stage 'staging'" in r.stderr and "its stages: prod" in r.stderr
    p.run("artifacts", "get", str(registry.root), "data/train", "-o", "train")
    assert (here / "train/a.csv").read_text() == "1\n"
    assert "declares no artifact 'nope'" in p.run("artifacts", "get", url, "nope",
                                                  code=1).stderr
    assert "exists already" in p.run("artifacts", "get", url, "clf", code=1).stderr
    assert "choose one" in p.run("artifacts", "get", url, "clf", "--rev", "v1.0.0",
                                 "--stage", "prod", code=1).stderr


def test_list_shows_versions_and_stages_and_the_api_shows_one(registry, tmp_path,
                                                              monkeypatch):
    import mlvc.api

    doc = json.loads(registry.run("artifacts", "list", "--json").stdout)
    clf = next(a for a in doc if a["name"] == "clf")
    assert [v["version"] for v in clf["versions"]] == ["v1.0.0", "v1.1.0"]
    assert list(clf["stages"]) == ["prod"] and clf["labels"] == ["nlp"]
    text = registry.run("artifacts", "list").stdout
    assert "clf [model]: models/clf.pkl" in text and "prod: v1.0.0" in text
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = json.loads(Project(elsewhere).run("artifacts", "list", "--repo",
                                              str(registry.root), "--json").stdout)
    assert other == doc
    monkeypatch.chdir(elsewhere)
    shown = mlvc.api.artifacts_show("clf", stage="prod", repo=str(registry.root))
    assert shown == {"path": "models/clf.pkl",
                     "rev": registry.git("rev-parse", "clf@v1.0.0^{}").strip()}
    assert mlvc.api.read(shown["path"], repo=str(registry.root), rev=shown["rev"]) == "w1"
    monkeypatch.chdir(registry.root)
    assert mlvc.api.artifacts_show("clf")["rev"] == registry.git(
        "rev-parse", "clf@v1.1.0^{}").strip()


def test_bad_artifacts_are_told_and_migrate_dvc_keeps_dvcs(project):
    for bad, why in [({"Clf": {"path": "m"}}, "lower-case letters"),
                     ({"clf": {"type": "model"}}, "mapping with a path"),
                     ({"clf": {"path": "../m"}}, "artifacts: clf: path"),
                     ({"clf": {"path": "m", "owner": "x"}}, "unknown keys"),
                     (["clf"], "must be a mapping")]:
        project.gen({"mlvc.yaml": yaml.safe_dump({"artifacts": bad})})
        assert why in project.run("artifacts", "list", code=1).stderr, why
    shutil.rmtree(project.root / ".mlvc")  # (a DVC project, taken over)
    project.run("init")
    (project.root / "mlvc.yaml").unlink()
    project.gen({".dvc": {"config": ""},
                 "dvc.yaml": yaml.safe_dump({"artifacts": {"clf": {"path": "m.pkl",
                                                                   "type": "model"}}}),
                 "sub": {"dvc.yaml": yaml.safe_dump({"artifacts": {
                     "enc": {"path": "enc.pkl"}}})}})
    project.run("migrate-dvc")
    arts = yaml.safe_load(project.read("mlvc.yaml"))["artifacts"]
    assert arts == {"clf": {"path": "m.pkl", "type": "model"}, "enc": {"path": "sub/enc.pkl"}}


def test_get_show_url_names_the_versions_object_on_the_remote(tmp_path):
    reg = new_project(tmp_path / "reg")
    reg.run("remote", "add", "-d", "store", str(tmp_path / "store"))
    reg.run("remote", "modify", "store", "packs", "false")  # (each object on its own)
    reg.gen({"models": {"clf.pkl": "w1"}, "mlvc.yaml": yaml.safe_dump(PIPELINE)})
    reg.run("add", "models/clf.pkl")
    reg.commit_all("v1")
    reg.git("tag", "-a", "clf@v1.0.0", "-m", "registered")
    reg.gen({"models": {"clf.pkl": "w2"}})
    reg.run("commit")
    reg.commit_all("v2")
    reg.run("push", "-A")
    first = yaml.safe_load(reg.git("show", "clf@v1.0.0:models/clf.pkl.mlvc"))["outs"][0]["oid"]
    here = Project(tmp_path)  # (outside any project)
    url = here.run("artifacts", "get", str(reg.root), "clf", "--show-url").stdout.strip()
    assert url.endswith(f"{first[:2]}/{first[2:]}") and Path(url).read_text() == "w1"
    doc = json.loads(here.run("artifacts", "get", str(reg.root), "clf", "--rev", "main",
                              "--show-url", "--json").stdout)
    assert Path(doc["url"]).read_text() == "w2"
    assert not (tmp_path / "clf.pkl").exists()  # (nothing copied)
    assert "not with -o" in here.run("artifacts", "get", str(reg.root), "clf", "--show-url",
                                     "-o", "x", code=2).stderr
