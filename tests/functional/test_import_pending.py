"""Imports recorded without their data (``import-url --no-download/--no-exec``, ``import
--no-exec``, as DVC's): the pointer file has no oid until ``pull`` (or ``update``) reads the
source and records it."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import new_project


@pytest.fixture
def here(tmp_path):
    ext = tmp_path / "ext"
    (ext / "raw/sub").mkdir(parents=True)
    (ext / "raw/a.txt").write_text("a")
    (ext / "raw/sub/b.txt").write_text("b")
    (ext / "one.csv").write_text("1\n")
    return new_project(tmp_path / "here")


def test_no_download_records_the_fingerprint_and_pull_gets_the_data(here, tmp_path):
    r = here.run("import-url", "../ext/raw", "data", "--no-download", "--json")
    doc = json.loads(r.stdout)
    assert doc["pending"] and doc["oid"] is None and doc["path"] == "data"
    pointer = yaml.safe_load(here.read("data.mlvc"))
    assert pointer["outs"] == [{"path": "data", "hash": "xxh128"}]
    assert pointer["import_url"]["fingerprint"].startswith("dir:")
    assert "/data" in here.read(".gitignore")
    assert not (here.root / "data").exists()
    assert not list((here.root / ".mlvc/cache").rglob("*/*"))  # (nothing read into it)

    # status tells it, and it is a difference
    r = here.run("status")
    assert "data (data.mlvc):" in r.stdout and "not downloaded" in r.stdout
    assert "`mlvc pull` gets imports recorded without their data" in r.stdout
    assert here.run("status", "-q", code=1).exit_code == 1
    assert json.loads(here.run("status", "--json").stdout)["pending"] == [
        {"pointer": "data.mlvc", "path": "data", "source_read": True}]
    doc = json.loads(here.run("data", "status", "--json").stdout)  # (as DVC's tells it)
    assert doc["not_in_cache"] == ["data"] and not doc["clean"]
    (entry,) = json.loads(here.run("ls", "--json").stdout)["entries"]  # (as DVC's lists it)
    assert entry == {"path": "data", "type": "dir", "oid": "", "size": None, "pending": True,
                     "hash": "", "pointer": "data.mlvc"}  # (a folder: its fingerprint says)
    assert "pending" in here.run("ls", "data").stdout
    # what needs its data refuses it, naming the way to get it
    r = here.run("move", "data", "elsewhere", code=1)
    assert "recorded without its data" in r.stderr and "mlvc pull data" in r.stderr
    for cmd in (["checkout", "data"], ["push", "data"], ["status", "-c", "data"]):
        r = here.run(*cmd, code=1)
        assert "recorded without its data" in r.stderr and "mlvc pull data" in r.stderr
    (here.root / "data").mkdir()
    (here.root / "data/x").write_text("mine")
    r = here.run("add", "data", code=1)  # (would record this as what the URL held)
    assert "mlvc remove data.mlvc" in r.stderr
    assert "oid" not in here.read("data.mlvc")
    (here.root / "data/x").unlink()
    (here.root / "data").rmdir()

    here.run("remote", "add", "-d", "store", str(tmp_path / "store"))
    for narrowed in (["--max-size", "100000"], ["--type", "metrics"]):  # (size, kind unknown)
        assert "recorded" not in json.loads(here.run("fetch", *narrowed, "--json").stdout)
        assert "oid" not in yaml.safe_load(here.read("data.mlvc"))["outs"][0]
    doc = json.loads(here.run("pull", "--json").stdout)
    assert doc["fetch"]["recorded"] == ["data.mlvc"] and doc["fetch"]["failed"] == []
    assert (here.root / "data/sub/b.txt").read_text() == "b"
    out = yaml.safe_load(here.read("data.mlvc"))["outs"][0]
    assert out["nfiles"] == 2 and out["type"] == "dir" and len(out["oid"]) == 32
    assert here.run("status", "-q").exit_code == 0
    # and as a plain import-url would have recorded it
    here.run("import-url", "../ext/raw", "twin")
    assert yaml.safe_load(here.read("twin.mlvc"))["outs"][0]["oid"] == out["oid"]


def test_pull_refuses_a_url_that_moved_since_and_update_records_it(here, tmp_path):
    here.run("remote", "add", "-d", "store", str(tmp_path / "store"))
    here.gen({"mine.txt": "m"})
    here.run("add", "mine.txt")
    here.run("push")
    here.run("import-url", "../ext/one.csv", "--no-download")
    (tmp_path / "ext/one.csv").write_text("2\n")  # (not what was recorded any more)
    (here.root / "mine.txt").unlink()
    before = here.read("one.csv.mlvc")
    r = here.run("pull", code=1)
    assert "one.csv" in r.stderr and "holds other data now than was recorded" in r.stderr
    assert "`mlvc update` records what the source holds now" in r.stderr
    assert here.read("one.csv.mlvc") == before and not (here.root / "one.csv").exists()
    assert here.read("mine.txt") == "m"  # (the rest was checked out all the same)
    r = here.run("pull", "one.csv", code=1)  # (named alone: nothing else is done)
    assert "holds other data now" in r.stderr
    assert "not downloaded" in here.run("status", "one.csv").stdout
    here.run("remote", "remove", "store")
    r = here.run("pull", code=1)  # (no remote for the rest: both are said)
    assert "holds other data now" in r.stderr and "no default remote" in r.stderr

    r = here.run("update", "--no-download", "one.csv")  # (the new fingerprint alone)
    assert "pending: not downloaded" in r.stdout
    here.run("pull", "one.csv")
    assert here.read("one.csv") == "2\n" and here.run("status", "-q").exit_code == 0


def test_no_exec_asks_nothing_and_pull_or_update_read_the_url_then(here, tmp_path):
    r = here.run("import-url", "../ext/later.csv", "--no-exec")  # (not there yet)
    assert "pending" in r.stdout
    assert yaml.safe_load(here.read("later.csv.mlvc"))["import_url"] == {
        "url": "../ext/later.csv"}
    assert "source not read yet (--no-exec)" in here.run("status").stdout
    r = here.run("pull", code=1)
    assert "later.csv does not exist" in r.stderr
    (tmp_path / "ext/later.csv").write_text("now\n")
    here.run("pull")
    assert here.read("later.csv") == "now\n"
    assert yaml.safe_load(here.read("later.csv.mlvc"))["import_url"]["fingerprint"]
    assert here.run("status", "-q").exit_code == 0

    here.run("import-url", "../ext/raw", "data", "--no-exec")
    r = here.run("update", "data")  # (update reads it too, and checks it out)
    assert "data: ../ext/raw, 2 files" in r.stdout
    assert (here.root / "data/a.txt").read_text() == "a"
    r = here.run("import-url", "../ext/raw", "data/x", "--no-exec", code=1)
    assert "overlaps 'data'" in r.stderr
    r = here.run("import-url", "../ext/one.csv", "--no-exec", "--to-remote", code=2)
    assert "choose one" in r.stderr


def test_import_no_exec_records_the_repository_and_reads_it_on_pull(here, tmp_path):
    registry = new_project(tmp_path / "registry")
    registry.gen({"images": {"1.png": "one"}})
    registry.run("add", "images")
    registry.commit_all("v1")
    r = here.run("import", "../registry", "images", "--no-exec")
    assert "(not read yet), pending" in r.stdout
    pointer = yaml.safe_load(here.read("images.mlvc"))
    assert pointer["import"] == {"url": "../registry", "path": "images"}  # (no commit)
    here.run("pull")  # (the registry's cache: no remote needed here)
    assert (here.root / "images/1.png").read_text() == "one"
    pointer = yaml.safe_load(here.read("images.mlvc"))
    assert pointer["import"]["rev_lock"] == registry.git("rev-parse", "HEAD").strip()
    assert here.run("status", "-q").exit_code == 0
    # a pending import there cannot be imported (it records no oid), and says so
    registry.run("import-url", str(tmp_path / "ext/one.csv"), "--no-download")
    registry.commit_all("pending")
    r = here.run("import", "../registry", "one.csv", code=1)
    assert "an import recorded without its data in ../registry" in r.stderr
    assert not (here.root / "one.csv.mlvc").exists()


def test_a_stage_whose_dep_is_a_pending_import_says_to_pull_it(here):
    here.run("import-url", "../ext/one.csv", "--no-download")
    here.run("stage", "add", "-n", "s", "-d", "one.csv", "-o", "out.txt", "cat one.csv > out.txt")
    r = here.run("repro", code=1)
    assert "one.csv.mlvc records an import without its data" in r.stderr
    assert "`mlvc pull one.csv.mlvc`" in r.stderr
    here.run("pull")
    here.run("repro")
    assert here.read("out.txt") == "1\n"


def test_remove_takes_a_pending_import_and_its_gitignore_line_but_no_file_of_yours(here):
    here.run("import-url", "../ext/one.csv", "--no-download")
    assert "/one.csv" in here.read(".gitignore")
    (here.root / "one.csv").write_text("mine\n")  # (recorded nowhere)
    here.run("remove", "--outs", "one.csv")  # (named by its output's path)
    assert not (here.root / "one.csv.mlvc").exists()
    assert "/one.csv" not in (here.read(".gitignore") if (here.root / ".gitignore").exists()
                              else "")
    assert here.read("one.csv") == "mine\n"
