"""``mlvc get`` and ``mlvc import`` from a DVC project (a data registry kept with DVC): its
.dvc files and dvc.lock read, its objects (DVC's layout) checked by md5, hashed as mlvc's."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import Project


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def put(store: Path, name: str, data: bytes, layout: str = "dvc3") -> None:
    """An object in a DVC store: files/md5/ab/cdef… (DVC 3) or ab/cdef… (DVC 2)."""
    path = store / ("files/md5" if layout == "dvc3" else "") / name[:2] / name[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def dvc_folder(store: Path, files: dict[str, bytes], layout: str = "dvc3") -> str:
    """Its files and listing in the store, as DVC writes them; the folder's md5."""
    entries = []
    for rel, data in sorted(files.items()):
        put(store, md5(data), data, layout)
        entries.append({"md5": md5(data), "relpath": rel})
    listing = json.dumps(entries, sort_keys=True).encode()
    name = md5(listing) + ".dir"
    put(store, name, listing, layout)
    return name


RAW = {"a.csv": b"a\n", "sub/b.csv": b"b\n"}


@pytest.fixture
def registry(tmp_path) -> Path:
    """A git repository kept with DVC (no mlvc), its objects on a folder remote."""
    root, store = tmp_path / "registry", tmp_path / "dvc-store"
    (root / ".dvc").mkdir(parents=True)
    (root / ".dvc" / "config").write_text(
        "[core]\n    remote = store\n['remote \"store\"']\n    url = ../../dvc-store\n")
    (root / "data").mkdir()
    (root / "data" / "raw.dvc").write_text(yaml.safe_dump({"outs": [
        {"md5": dvc_folder(store, RAW), "path": "raw", "hash": "md5"}]}))
    put(store, md5(b"weights"), b"weights")
    (root / "model.bin.dvc").write_text(yaml.safe_dump({"outs": [
        {"md5": md5(b"weights"), "path": "model.bin"}]}))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "data"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root


def test_get_reads_a_dvc_projects_data_from_its_remote(registry, tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    p = Project(here)  # (outside any project)
    p.run("get", str(registry), "data/raw")
    assert (here / "raw/a.csv").read_bytes() == b"a\n"
    assert (here / "raw/sub/b.csv").read_bytes() == b"b\n"
    p.run("get", str(registry), "data/raw/sub/b.csv", "-o", "b.csv")
    assert (here / "b.csv").read_bytes() == b"b\n"
    p.run("get", str(registry), "model.bin")
    assert (here / "model.bin").read_bytes() == b"weights"
    assert "neither tracked" in p.run("get", str(registry), "nope", code=1).stderr
    # a folder git keeps comes with the data DVC tracks inside it (as `dvc get` brings it)
    p.run("get", str(registry), "data", "-o", "whole")
    assert sorted(str(f.relative_to(here)) for f in (here / "whole").rglob("*")
                  if f.is_file()) == ["whole/raw.dvc", "whole/raw/a.csv", "whole/raw/sub/b.csv"]


def test_import_from_a_dvc_registry_and_pull_it_again_after_the_cache_is_gone(registry,
                                                                               project):
    project.run("import", str(registry), "data/raw", "-o", "raw")
    assert (project.root / "raw/sub/b.csv").read_bytes() == b"b\n"
    pointer = yaml.safe_load(project.read("raw.mlvc"))
    assert pointer["outs"][0]["nfiles"] == 2 and pointer["import"]["path"] == "data/raw"
    project.commit_all("imported")
    assert project.run("status", "-q").exit_code == 0
    shutil.rmtree(project.root / ".mlvc/cache")
    shutil.rmtree(project.root / "raw")
    project.run("pull")  # (from the DVC project again, each file checked by md5)
    assert (project.root / "raw/a.csv").read_bytes() == b"a\n"
    assert "up to date" in project.run("update").stdout
    # Its mlvc oids are known only by hashing its bytes: --no-download records the commit
    # and leaves the output pending; pull reads it at that commit (checked by md5).
    project.run("import", str(registry), "model.bin", "--no-download")
    pointer = yaml.safe_load(project.read("model.bin.mlvc"))
    assert "oid" not in pointer["outs"][0] and "rev_lock" in pointer["import"]
    assert not (project.root / "model.bin").exists()
    assert "not downloaded" in project.run("status").stdout
    assert project.run("status", "-q", code=1).exit_code == 1
    r = project.run("pull", "model.bin")
    assert "model.bin.mlvc" in r.stdout
    assert (project.root / "model.bin").read_bytes() == b"weights"
    assert yaml.safe_load(project.read("model.bin.mlvc"))["outs"][0]["size"] == 7
    assert project.run("status", "-q").exit_code == 0


def test_a_dvc_object_that_does_not_match_its_md5_or_a_listing_leading_out_is_refused(
        registry, tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    p = Project(here)
    store = tmp_path / "dvc-store"
    name = md5(b"weights")
    (store / "files/md5" / name[:2] / name[2:]).write_bytes(b"rotten")
    r = p.run("get", str(registry), "model.bin", code=1)
    assert f"DVC object {name} is in none of the DVC project's stores, whole" in r.stderr
    assert not (here / "model.bin").exists()
    evil = dvc_folder(store, {"../evil": b"x"})
    (registry / "data" / "raw.dvc").write_text(yaml.safe_dump({"outs": [
        {"md5": evil, "path": "raw"}]}))
    subprocess.run(["git", "commit", "-qam", "evil"], cwd=registry, check=True)
    r = p.run("get", str(registry), "data/raw", code=1)
    assert "not a path inside the folder" in r.stderr
    assert not (here / "raw").exists() and not (tmp_path / "evil").exists()


def test_dvc_2_layout_and_a_stage_output_of_dvc_lock(tmp_path):
    root, store = tmp_path / "old", tmp_path / "store2"
    (root / ".dvc").mkdir(parents=True)
    (root / ".dvc" / "config").write_text(
        f"[core]\n    remote = s\n['remote \"s\"']\n    url = {store}\n")
    folder = dvc_folder(store, {"p.txt": b"prepared"}, layout="dvc2")
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"prep": {
        "cmd": "x", "outs": [{"path": "prep", "md5": folder}]}}}))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "data"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    # DVC 2 hashed a text file with LF line ends ("md5-dos2unix"), and kept its bytes
    put(store, md5(b"a\nb\n"), b"a\r\nb\r\n", layout="dvc2")
    (root / "crlf.txt.dvc").write_text(yaml.safe_dump({"outs": [
        {"md5": md5(b"a\nb\n"), "path": "crlf.txt"}]}))
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "crlf"], cwd=root, check=True)
    here = tmp_path / "here"
    here.mkdir()
    Project(here).run("get", str(root), "prep")
    assert (here / "prep/p.txt").read_bytes() == b"prepared"
    Project(here).run("get", str(root), "crlf.txt")
    assert (here / "crlf.txt").read_bytes() == b"a\r\nb\r\n"


def test_api_reads_a_file_of_a_dvc_project_through_its_git_url(registry, tmp_path,
                                                               monkeypatch):
    import mlvc.api

    (registry / ".dvc" / "config").write_text(  # (a clone reads the remote by its URL)
        f"[core]\n    remote = store\n['remote \"store\"']\n    url = {tmp_path / 'dvc-store'}\n")
    subprocess.run(["git", "commit", "-qam", "absolute"], cwd=registry, check=True)
    monkeypatch.chdir(tmp_path)  # (outside any project)
    url = f"file://{registry}"
    assert mlvc.api.read("data/raw/sub/b.csv", repo=url) == "b\n"
    assert mlvc.api.read("model.bin", repo=url, mode="rb") == b"weights"
    with pytest.raises(mlvc.api.TargetError, match="is a folder"):
        mlvc.api.read("data/raw", repo=url)
    # a DVC project's folder here too (read as its clone)
    assert mlvc.api.read("data/raw/a.csv", repo=str(registry)) == "a\n"


def test_ls_repo_lists_a_dvc_projects_data(registry, tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    p = Project(here)

    def listed(*args: str) -> list[tuple]:
        doc = json.loads(p.run("ls", "--repo", str(registry), *args, "--json").stdout)
        return [(e["path"], e["type"], e.get("hash"), e.get("pointer")) for e in
                doc["entries"]]

    assert listed() == [("data/raw", "dir", "md5", "data/raw.dvc"),
                        ("model.bin", "file", "md5", "model.bin.dvc")]
    assert listed("data/raw") == [("data/raw/a.csv", "file", "md5", None),
                                  ("data/raw/sub", "dir", "md5", None)]
    assert [e[0] for e in listed("-R")] == ["data/raw/a.csv", "data/raw/sub/b.csv",
                                            "model.bin"]
    doc = json.loads(p.run("ls", "--repo", str(registry), "data/raw/sub", "--json").stdout)
    assert doc["entries"][0]["oid"] == md5(b"b\n")
    assert "not tracked by DVC" in p.run("ls", "--repo", str(registry), "nope",
                                         code=1).stderr
    # --git: what git keeps too (the clone's own mlvc files are not its)
    assert [e[0] for e in listed("--git")] == ["data", "model.bin", "model.bin.dvc"]
    assert listed("--git", "data") == [("data/raw", "dir", "md5", "data/raw.dvc"),
                                       ("data/raw.dvc", "file", "git", None)]
    assert [e[0] for e in listed("--git", "-R")] == [
        "data/raw.dvc", "data/raw/a.csv", "data/raw/sub/b.csv", "model.bin",
        "model.bin.dvc"]  # (.dvc/ left out, as `dvc list` leaves it)


def test_get_and_import_read_the_dvc_remote_named_with_the_options_given(registry, project,
                                                                         tmp_path):
    """--remote and --remote-config on a DVC project: options in DVC's names, written in
    the clone's .dvc/config.local (as DVC keeps a clone's settings), over .dvc/config."""
    shutil.move(tmp_path / "dvc-store", tmp_path / "moved")  # (the default remote is gone)
    (registry / ".dvc" / "config").write_text(
        "[core]\n    remote = store\n['remote \"store\"']\n    url = ../../dvc-store\n"
        f"['remote \"backup\"']\n    url = {tmp_path / 'moved'}\n")
    subprocess.run(["git", "commit", "-qam", "a backup"], cwd=registry, check=True)
    url = f"file://{registry}"
    assert "none of the DVC project's stores" in project.run(
        "get", url, "model.bin", code=1).stderr
    project.run("get", url, "data/raw", "--remote", "backup")
    assert (project.root / "raw/sub/b.csv").read_bytes() == b"b\n"
    project.run("get", url, "model.bin", "--remote-config", f"url={tmp_path / 'moved'}")
    assert (project.root / "model.bin").read_bytes() == b"weights"
    (tmp_path / "ci.conf").write_text("[core]\n    remote = backup\n")  # (DVC's --config)
    project.run("get", url, "model.bin", "-o", "m3", "--config", str(tmp_path / "ci.conf"))
    assert (project.root / "m3").read_bytes() == b"weights"
    r = project.run("get", url, "model.bin", "-o", "m2", "--remote", "nope", code=1)
    assert "(a DVC project) has no remote named 'nope'" in r.stderr
    assert "backup, store" in r.stderr
    project.run("import", url, "data/raw", "-o", "imp", "--remote", "backup")
    assert yaml.safe_load(project.read("imp.mlvc"))["import"]["remote"] == "backup"
    shutil.rmtree(project.root / ".mlvc/cache")
    shutil.rmtree(project.root / "imp")
    project.run("pull", "imp")  # (from the DVC project again, through its backup)
    assert (project.root / "imp/a.csv").read_bytes() == b"a\n"


def test_show_url_and_api_get_url_name_a_dvc_objects_place_on_its_remote(registry, tmp_path,
                                                                         monkeypatch):
    """As `dvc get --show-url` / `dvc.api.get_url`: a file's object on the DVC project's
    remote (a file of a folder found through the folder's listing); the remote's relative
    path is from the folder REPO names, whose DVC cache `mlvc.api` reads too."""
    import mlvc.api

    here = tmp_path / "here"
    here.mkdir()
    p = Project(here)
    store = tmp_path / "dvc-store" / "files" / "md5"
    weights, b = md5(b"weights"), md5(b"b\n")
    assert p.run("get", str(registry), "model.bin", "--show-url").stdout.strip() == \
        str(store / weights[:2] / weights[2:])
    doc = json.loads(p.run("get", str(registry), "data/raw/sub/b.csv", "--show-url",
                           "--json").stdout)
    assert doc == {"url": str(store / b[:2] / b[2:])}
    assert "is a folder DVC tracks" in p.run("get", str(registry), "data/raw", "--show-url",
                                             code=1).stderr
    assert "not a file of 'data/raw'" in p.run("get", str(registry), "data/raw/nope.csv",
                                               "--show-url", code=1).stderr
    (store / weights[:2] / weights[2:]).unlink()
    assert "not on the DVC project's remote" in p.run(
        "get", str(registry), "model.bin", "--show-url", code=1).stderr
    monkeypatch.chdir(tmp_path)
    assert mlvc.api.get_url("data/raw/sub/b.csv", repo=str(registry)) == \
        str(store / b[:2] / b[2:])
    # (read from the folder's DVC cache when its remote lacks it)
    cache = registry / ".dvc" / "cache" / "files" / "md5" / weights[:2]
    cache.mkdir(parents=True)
    (cache / weights[2:]).write_bytes(b"weights")
    assert mlvc.api.read("model.bin", repo=str(registry), mode="rb") == b"weights"


def test_outputs_of_a_dvc_lock_below_the_top_are_found_from_their_stages_wdir(registry,
                                                                             tmp_path):
    """A stage of sub/dvc.yaml with wdir work: sub/dvc.lock's paths are from sub/work (as
    DVC 3.67.1 wrote them); `ls --repo` and `get` find its outputs there."""
    store = tmp_path / "dvc-store"
    put(store, md5(b"r1\n"), b"r1\n")
    (registry / "sub").mkdir()
    (registry / "sub" / "dvc.yaml").write_text(
        "stages:\n  w:\n    wdir: work\n    cmd: cp ../in.txt res.txt\n"
        "    outs: [res.txt]\n")
    (registry / "sub" / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {
        "w": {"cmd": "cp ../in.txt res.txt", "outs": [
            {"path": "res.txt", "hash": "md5", "md5": md5(b"r1\n"), "size": 3}]}}}))
    (registry / "dvc.lock").write_text("stages: [not, a, mapping]\n")  # (read past)
    subprocess.run(["git", "add", "-A"], cwd=registry, check=True)
    subprocess.run(["git", "commit", "-qm", "nested"], cwd=registry, check=True)
    here = tmp_path / "here"
    here.mkdir()
    p = Project(here)
    doc = json.loads(p.run("ls", "--repo", str(registry), "sub", "--json").stdout)
    assert [(e["path"], e["pointer"]) for e in doc["entries"]] == [
        ("sub/work/res.txt", "sub/dvc.lock")]
    p.run("get", str(registry), "sub/work/res.txt")
    assert (here / "res.txt").read_bytes() == b"r1\n"


def test_du_of_a_dvc_project_sizes_what_its_records_give(registry, tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    p = Project(here)
    (registry / "data" / "raw.dvc").write_text(yaml.safe_dump({"outs": [
        {"md5": dvc_folder(tmp_path / "dvc-store", RAW), "path": "raw", "hash": "md5",
         "size": 4, "nfiles": 2}]}))
    subprocess.run(["git", "commit", "-qam", "sizes"], cwd=registry, check=True)

    def du(*args: str) -> dict:
        return json.loads(p.run("du", "--repo", str(registry), *args, "--json").stdout)

    top = {e["path"]: (e["type"], e["size"]) for e in du()["entries"]}
    raw_dvc = (registry / "data" / "raw.dvc").stat().st_size
    assert top["data"] == ("dir", 4 + raw_dvc)  # (the .dvc file's size of the folder)
    assert top["model.bin"] == ("file", None)  # (its .dvc file records none)
    assert du("data/raw")["size"] == 4
    # inside a DVC folder: DVC's listings record no sizes
    assert [(e["path"], e["type"], e["size"]) for e in du("data/raw")["entries"]] == [
        ("data/raw/a.csv", "file", None), ("data/raw/sub", "dir", None)]
    assert du("data/raw/a.csv")["type"] == "file"
    assert "?  data/raw/a.csv" in p.run("du", "--repo", str(registry), "data/raw").stdout
    assert "not in the DVC folder" in p.run("du", "--repo", str(registry), "data/raw/zz",
                                            code=1).stderr


def test_artifacts_of_a_dvc_model_registry_by_name_version_and_stage(registry, tmp_path):
    """A DVC project's dvc.yaml files declare its artifacts (DIR:NAME for one below the
    top), and GTO's tags version them (DIR=NAME@v1.0.0): mlvc reads both, as DVC does."""
    def git(*args):
        subprocess.run(["git", *args], cwd=registry, check=True, capture_output=True)

    (registry / "dvc.yaml").write_text(yaml.safe_dump({"artifacts": {
        "clf": {"path": "model.bin", "type": "model", "labels": ["nlp"]}}}))
    (registry / "data" / "dvc.yaml").write_text(yaml.safe_dump({"artifacts": {
        "raw-data": {"path": "raw", "type": "dataset"}}}))
    git("add", "-A")
    git("commit", "-qm", "artifacts")
    for tag in ("clf@v1.0.0", "clf#prod#1", "data=raw-data@v1.2.0"):
        git("tag", tag)
    here = tmp_path / "here"
    here.mkdir()
    p = Project(here)
    doc = json.loads(p.run("artifacts", "list", "--repo", str(registry), "--json").stdout)
    assert {a["name"]: (a["path"], [v["version"] for v in a["versions"]]) for a in doc} == {
        "clf": ("model.bin", ["v1.0.0"]), "data:raw-data": ("data/raw", ["v1.2.0"])}
    p.run("artifacts", "get", str(registry), "clf", "--stage", "prod")
    assert (here / "model.bin").read_bytes() == b"weights"
    p.run("artifacts", "get", str(registry), "data:raw-data", "-o", "raw")
    assert (here / "raw/sub/b.csv").read_bytes() == b"b\n"
    p.run("artifacts", "get", str(registry), "data/dvc.yaml:raw-data", "-o", "again",
          "--rev", "v1.2.0")  # (DVC's other spelling of it)
    assert (here / "again/a.csv").read_bytes() == b"a\n"
    r = p.run("artifacts", "get", str(registry), "nope", code=1)
    assert "clf, data:raw-data" in r.stderr
