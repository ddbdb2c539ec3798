"""``mlvc migrate-dvc``: a DVC project's remotes, pipeline, ignore rules and data taken over."""

from __future__ import annotations

import json

import yaml

DVC_CONFIG = """[core]
    remote = storage
    autostage = true
['remote "storage"']
    url = ../dvc-store
    jobs = 4
['remote "s3r"']
    url = s3://bucket/prefix
    endpointurl = http://127.0.0.1:9000
[cache]
    type = "hardlink,copy"
    dir = /mnt/shared/dvc-cache
['plots']
    auto_open = true
"""
DVC_LOCAL = """['remote "s3r"']
    secret_access_key = s3cr3t
"""
DVC_YAML = """# our pipeline
stages:
  prep:
    cmd: mkdir -p prep && cat raw/* > prep/all.csv
    deps: [raw]
    outs:
    - prep:
        checkpoint: true
  train:
    cmd: cp prep/all.csv model.bin
    deps: [prep]
    outs: [model.bin]
    meta: {owner: me}
artifacts:
  model: {path: model.bin, type: model}
"""


def dvc_file(path: str) -> str:
    return yaml.safe_dump({"outs": [{"md5": "0" * 32, "size": 1, "hash": "md5",
                                     "path": path}]})


def test_migrate_dvc_takes_over_remotes_pipeline_ignores_and_data(project):
    project.gen({".dvc": {"config": DVC_CONFIG, "config.local": DVC_LOCAL},
                 "dvc.yaml": DVC_YAML, ".dvcignore": "# scratch\n*.tmp\n",
                 "raw": {"a.csv": "a\n", "b.csv": "b\n"}, "raw.dvc": dvc_file("raw"),
                 "sub": {"w.bin": "w", "w.bin.dvc": dvc_file("w.bin"), "dvc.yaml": "stages: {}\n",
                         "gone.bin.dvc": dvc_file("gone.bin")},
                 "ext.csv": "e", "ext.csv.dvc": yaml.safe_dump({
                     "deps": [{"path": "data/ext.csv", "repo": {
                         "url": "https://example.org/registry", "rev": "v1",
                         "rev_lock": "a" * 40}}],
                     "outs": [{"md5": "1" * 32, "path": "ext.csv"}]}),
                 "url.csv": "u", "url.csv.dvc": yaml.safe_dump({
                     "deps": [{"path": "https://example.org/u.csv"}],  # (nothing recorded)
                     "outs": [{"md5": "2" * 32, "path": "url.csv"}]})})
    def files() -> dict:  # (without mlvc's scratch folder, where parsed YAML is kept)
        return {k: v for k, v in project.snapshot().items() if not k.startswith(".mlvc/tmp")}

    before = files()
    dry = json.loads(project.run("migrate-dvc", "--dry", "--json").stdout)
    assert dry["dry"] and dry["added"] == ["ext.csv", "raw", "sub/w.bin", "url.csv"]
    assert files() == before  # (nothing written)

    doc = json.loads(project.run("migrate-dvc", "--json").stdout)
    assert doc["remotes"] == ["storage", "s3r"] and doc["default_remote"] == "storage"
    assert doc["pipeline"] and not doc["pipeline_as_is"]
    assert doc["added"] == ["ext.csv", "raw", "sub/w.bin", "url.csv"]
    assert doc["missing"] == ["sub/gone.bin"] and doc["ignore_rules"] == 1
    notes = "\n".join(doc["notes"])
    for said in ("'jobs' is DVC's own", "'checkpoint' is not read",
                 "url.csv.dvc: an import whose source mlvc does not record",
                 "not in the workspace: `dvc pull` them",
                 "sub/dvc.yaml: its stages merged",
                 "cache.dir /mnt/shared/dvc-cache (DVC's cache) is not taken over",
                 "plots.auto_open is DVC's own setting: left out"):
        assert said in notes, said
    # the remotes and settings, the secret in the local file
    project.run("config", "remotes.s3r.endpointurl")
    local = yaml.safe_load(project.read(".mlvc/config.local.yaml"))
    assert local["remotes"]["s3r"]["secret_access_key"] == "s3cr3t"
    config = yaml.safe_load(project.read(".mlvc/config.yaml"))
    assert config["remotes"]["storage"] == {"url": "../dvc-store"}
    assert config["core"] == {"remote": "storage", "autostage": True}
    assert config["cache"]["type"] == [
        "hardlink", "copy"]
    # the pipeline: what mlvc reads kept; the data tracked; the rule copied
    stages = yaml.safe_load(project.read("mlvc.yaml"))["stages"]
    assert stages["prep"]["outs"] == ["prep"] and stages["train"]["meta"] == {
        "owner": "me"}
    dry_run = json.loads(project.run("repro", "--dry", "--json").stdout)
    assert [s["stage"] for s in dry_run["stages"]] == ["prep", "train"]
    assert (project.root / "raw.mlvc").exists() and (project.root / "sub/w.bin.mlvc").exists()
    assert json.loads(project.run("status", "raw", "sub/w.bin", "--json").stdout)["clean"]
    assert "*.tmp" in project.read(".mlvcignore").splitlines()
    # a `dvc import` keeps its source: `mlvc update` and `status` follow it
    assert yaml.safe_load(project.read("ext.csv.mlvc"))["import"] == {
        "url": "https://example.org/registry", "path": "data/ext.csv", "rev": "v1",
        "rev_lock": "a" * 40}
    assert "import" not in yaml.safe_load(project.read("url.csv.mlvc"))
    assert (project.root / "raw.dvc").exists() and (project.root / "dvc.yaml").exists()
    # run again: what was taken over stays, and says so
    again = json.loads(project.run("migrate-dvc", "--json").stdout)
    assert again["remotes"] == [] and not again["pipeline"] and again["added"] == []
    assert again["ignore_rules"] == 0


def test_migrate_dvc_keeps_a_dvc_yaml_mlvc_reads_as_it_is_and_needs_dvc(project):
    assert "no DVC project here" in project.run("migrate-dvc", code=1).stderr
    text = "# keep this comment\nstages:\n  s:\n    cmd: echo hi > o\n    outs: [o]\n"
    project.gen({".dvc": {"config": ""}, "dvc.yaml": text})
    doc = json.loads(project.run("migrate-dvc", "--json").stdout)
    assert doc["pipeline_as_is"] and project.read("mlvc.yaml") == text


# A pipeline, its workspace and the dvc.lock DVC 3 wrote for them (the md5 values are DVC's
# own: a folder's is the md5 of its files' list).
ROWS = "row 1\nrow 2\nrow 3\n"
LOCKED_YAML = """stages:
  prep:
    cmd: mkdir -p data/prep && cat data/raw/*.csv > data/prep/all.csv
    deps:
    - data/raw
    params:
    - x
    outs:
    - data/prep
  train:
    cmd: "cp data/prep/all.csv model2.bin && echo '{\\"acc\\": 1}' > metrics.json"
    deps:
    - data/prep
    outs:
    - model2.bin
    metrics:
    - metrics.json:
        cache: false
"""
DVC_LOCK = """schema: '2.0'
stages:
  prep:
    cmd: mkdir -p data/prep && cat data/raw/*.csv > data/prep/all.csv
    deps:
    - path: data/raw
      hash: md5
      md5: 6ec454a4a7ff83b94f113daf0c17ae7e.dir
      size: 18
      nfiles: 3
    params:
      params.yaml:
        x: 1
    outs:
    - path: data/prep
      hash: md5
      md5: c6d0e7fdeeb0659ba1d4466ed7812808.dir
      size: 18
      nfiles: 1
  train:
    cmd: "cp data/prep/all.csv model2.bin && echo '{\\"acc\\": 1}' > metrics.json"
    deps:
    - path: data/prep
      hash: md5
      md5: c6d0e7fdeeb0659ba1d4466ed7812808.dir
      size: 18
      nfiles: 1
    outs:
    - path: metrics.json
      hash: md5
      md5: 3f71a31dad1360002379e8f9539df33e
      size: 11
    - path: model2.bin
      hash: md5
      md5: 581050b5567cc67772c8ff5ed647d78f
      size: 18
"""


def locked_project(project, x: int = 1):
    project.gen({".dvc": {"config": ""}, "dvc.yaml": LOCKED_YAML, "dvc.lock": DVC_LOCK,
                 "params.yaml": f"x: {x}\n",
                 "data": {"raw": {f"f{i}.csv": f"row {i}\n" for i in (1, 2, 3)},
                          "prep": {"all.csv": ROWS}},
                 "model2.bin": ROWS, "metrics.json": '{"acc": 1}\n'})
    return project


def test_stages_dvc_lock_shows_up_to_date_are_recorded_and_do_not_run_again(project):
    doc = json.loads(locked_project(project).run("migrate-dvc", "--json").stdout)
    assert doc["recorded"] == ["prep", "train"]
    assert set(yaml.safe_load(project.read("mlvc.lock"))["stages"]) == {"prep", "train"}
    assert json.loads(project.run("status", "--json").stdout)["clean"]
    assert "Data and pipelines are up to date." in project.run("repro").stdout


def test_a_stage_whose_params_or_data_moved_since_dvc_lock_is_left_to_run(project):
    locked_project(project, x=2)  # (dvc.lock says x: 1)
    (project.root / "data/prep/all.csv").write_text(ROWS)
    doc = json.loads(project.run("migrate-dvc", "--json").stdout)
    assert doc["recorded"] == ["train"]  # (its deps and outputs are as dvc.lock says)
    assert any("1 stage(s) out of date" in n and "prep" in n for n in doc["notes"])
    stale = json.loads(project.run("repro", "--dry", "--json").stdout)["stages"]
    assert [(s["stage"], s["state"]) for s in stale] == [("prep", "would run"),
                                                         ("train", "would run")]
    # an output edited after DVC recorded it: not recorded either
    other = project.root.parent / "other"
    from tests.conftest import new_project

    again = locked_project(new_project(other))
    (other / "model2.bin").write_text("edited\n")
    doc = json.loads(again.run("migrate-dvc", "--json").stdout)
    assert doc["recorded"] == ["prep"]


# A dvc.yaml below the top, and the dvc.lock DVC 3.67.1 wrote for it (`dvc repro
# sub/dvc.yaml`): paths in the lock are from each stage's wdir.
SUB_YAML = """stages:
  prep:
    cmd: mkdir -p out && cat raw/a.csv > out/all.csv
    deps: [raw]
    params: [x]
    outs: [out]
  w:
    wdir: work
    cmd: cat ../out/all.csv > res.txt
    deps: [../out]
    outs: [res.txt]
metrics:
  - m.json
plots:
  - loss.csv: {x: step}
"""
SUB_LOCK = """schema: '2.0'
stages:
  prep:
    cmd: mkdir -p out && cat raw/a.csv > out/all.csv
    deps:
    - path: raw
      hash: md5
      md5: 6cd59a08d06d295982e8dbb38d6ab9c3.dir
      size: 3
      nfiles: 1
    params:
      params.yaml:
        x: 3
    outs:
    - path: out
      hash: md5
      md5: bee4acc45188e0ede2425020b3dc1013.dir
      size: 3
      nfiles: 1
  w:
    cmd: cat ../out/all.csv > res.txt
    deps:
    - path: ../out
      hash: md5
      md5: bee4acc45188e0ede2425020b3dc1013.dir
      size: 3
      nfiles: 1
    outs:
    - path: res.txt
      hash: md5
      md5: 35a853e2b2b105502215358d4d3db9f7
      size: 3
"""


def test_a_dvc_yaml_below_the_top_is_merged_with_its_wdir_and_its_lock_read(project):
    project.gen({".dvc": {"config": ""}, "dvc.yaml": "stages:\n  top:\n    cmd: echo hi\n",
                 "sub": {"dvc.yaml": SUB_YAML, "dvc.lock": SUB_LOCK, "params.yaml": "x: 3\n",
                         "raw": {"a.csv": "r1\n"}, "out": {"all.csv": "r1\n"},
                         "work": {"res.txt": "r1\n"}, "m.json": '{"a": 1}\n',
                         "loss.csv": "step,loss\n1,0.5\n"},
                 "tpl": {"dvc.yaml": "vars: [p.yaml]\nstages:\n  s: {cmd: 'echo ${x}'}\n"}})
    doc = json.loads(project.run("migrate-dvc", "--json").stdout)
    notes = "\n".join(doc["notes"])
    assert "sub/dvc.yaml: its stages merged into mlvc.yaml as 'sub-NAME'" in notes
    assert "tpl/dvc.yaml: not merged" in notes
    pipeline = yaml.safe_load(project.read("mlvc.yaml"))
    assert list(pipeline["stages"]) == ["top", "sub-prep", "sub-w"]
    assert pipeline["stages"]["sub-prep"]["wdir"] == "sub"
    assert pipeline["stages"]["sub-w"]["wdir"] == "sub/work"
    assert pipeline["metrics"] == ["sub/m.json"]
    assert pipeline["plots"] == [{"sub/loss.csv": {"x": "step"}}]
    assert doc["recorded"] == ["sub-prep", "sub-w"]  # (every md5 and x: 3 as DVC's lock)
    lock = yaml.safe_load(project.read("mlvc.lock"))["stages"]
    assert lock["sub-prep"]["params"] == {"sub/params.yaml": {"x": 3}}
    assert [o["path"] for o in lock["sub-w"]["outs"]] == ["sub/work/res.txt"]
    stages = json.loads(project.run("repro", "--dry", "--json").stdout)["stages"]
    assert [(s["stage"], s["state"]) for s in stages if s["stage"].startswith("sub")] == [
        ("sub-prep", "unchanged"), ("sub-w", "unchanged")]
    shown = json.loads(project.run("metrics", "show", "--json").stdout)["workspace"]
    assert shown == {"sub/m.json": {"a": 1}}


# What DVC 2.58.2 wrote (`dvc repro`) for folders holding a CRLF text file, an LF one and a
# binary one: its lock names no hash, and its listings hold the text files' md5-dos2unix.
DVC2_YAML = """stages:
  prep:
    cmd: mkdir -p out && cp raw/crlf.csv out/c.csv && cp raw/bin.dat out/b.dat
    deps: [raw]
    outs: [out]
"""
DVC2_LOCK = """schema: '2.0'
stages:
  prep:
    cmd: mkdir -p out && cp raw/crlf.csv out/c.csv && cp raw/bin.dat out/b.dat
    deps:
    - path: raw
      md5: 8019bc81fbd41117acc0cd40852a99e2.dir
      size: 528
      nfiles: 3
    outs:
    - path: out
      md5: 3b15ffbccb6c97e6749860fc1fe83500.dir
      size: 522
      nfiles: 2
"""


def test_a_dvc2_lock_of_folders_with_crlf_text_files_is_recognized(project):
    binary = bytes(range(256)) * 2
    project.gen({".dvc": {"config": ""}, "dvc.yaml": DVC2_YAML, "dvc.lock": DVC2_LOCK,
                 "raw": {"crlf.csv": "a,b\r\n1,2\r\n", "lf.txt": "plain\n", "bin.dat": binary},
                 "out": {"c.csv": "a,b\r\n1,2\r\n", "b.dat": binary}})
    doc = json.loads(project.run("migrate-dvc", "--json").stdout)
    assert doc["recorded"] == ["prep"]
    assert "Data and pipelines are up to date." in project.run("status").stdout


def test_dvc_import_url_outputs_keep_their_url_as_mlvc_records_one(project, tmp_path):
    """`dvc import-url` of a file and a folder outside the project (DVC records their md5)
    and of one that changed since: each pointer records its URL; the unchanged ones with
    the fingerprint the URL gives now, the changed one so that `update` reads it again."""
    import hashlib

    ext = tmp_path / "ext"
    (ext / "folder").mkdir(parents=True)
    (ext / "u.csv").write_text("u\n")
    (ext / "folder" / "a.txt").write_text("a\n")
    (ext / "moved.csv").write_text("newer\n")
    folder_md5 = hashlib.md5(json.dumps([{"md5": hashlib.md5(b"a\n").hexdigest(),
                                          "relpath": "a.txt"}], sort_keys=True).encode()
                             ).hexdigest() + ".dir"

    def imported(path: str, md5: str, out: str) -> str:
        return yaml.safe_dump({"frozen": True, "deps": [{"path": path, "md5": md5}],
                               "outs": [{"md5": md5, "path": out, "hash": "md5"}]})

    project.gen({".dvc": {"config": ""},
                 "u.csv": "u\n", "u.csv.dvc": imported(str(ext / "u.csv"),
                                                      hashlib.md5(b"u\n").hexdigest(),
                                                      "u.csv"),
                 "data": {"f": {"a.txt": "a\n"}, "f.dvc": imported("../../ext/folder",
                                                                   folder_md5, "f")},
                 "moved.csv": "older\n", "moved.csv.dvc": imported(
                     str(ext / "moved.csv"), hashlib.md5(b"older\n").hexdigest(),
                     "moved.csv")})
    doc = json.loads(project.run("migrate-dvc", "--json").stdout)
    assert doc["added"] == ["data/f", "moved.csv", "u.csv"]
    assert any("moved.csv.dvc" in n and "may hold other data" in n for n in doc["notes"])
    u = yaml.safe_load(project.read("u.csv.mlvc"))["import_url"]
    assert u["url"] == "../ext/u.csv" and u["fingerprint"].startswith("size:2:")
    f = yaml.safe_load(project.read("data/f.mlvc"))["import_url"]
    assert f["url"] == "../ext/folder" and f["fingerprint"].startswith("dir:")
    moved = yaml.safe_load(project.read("moved.csv.mlvc"))["import_url"]
    assert moved["fingerprint"] == "dvc-md5:" + hashlib.md5(b"older\n").hexdigest()
    status = json.loads(project.run("status", "--json").stdout)
    assert [(i["path"], i["update_available"]) for i in status["imports"]] == [
        ("data/f", False), ("moved.csv", True), ("u.csv", False)]
    project.run("update", "moved.csv")
    assert project.read("moved.csv") == "newer\n"
    assert json.loads(project.run("status", "--json").stdout)["clean"]


def test_a_dvc_import_url_not_downloaded_becomes_a_pending_import(project, tmp_path):
    """`dvc import-url --no-download` recorded the URL's md5 and no output hash: mlvc records
    it pending (no oid), and `mlvc pull` reads it from the URL, checked against that."""
    import hashlib

    (tmp_path / "ext").mkdir()
    (tmp_path / "ext/big.csv").write_text("b\n")
    dvc_file = yaml.safe_dump({"frozen": True, "deps": [
        {"path": str(tmp_path / "ext/big.csv"), "md5": hashlib.md5(b"b\n").hexdigest()}],
        "outs": [{"path": "big.csv", "hash": "md5"}]})
    project.gen({".dvc": {"config": ""}, "big.csv.dvc": dvc_file})
    doc = json.loads(project.run("migrate-dvc", "--json").stdout)
    assert any("recorded without their data (big.csv)" in n for n in doc["notes"])
    pointer = yaml.safe_load(project.read("big.csv.mlvc"))
    assert pointer["outs"] == [{"path": "big.csv", "hash": "xxh128"}]
    assert pointer["import_url"]["fingerprint"].startswith("size:2:")  # (it holds the same)
    assert "/big.csv" in project.read(".gitignore")
    project.run("pull")
    assert project.read("big.csv") == "b\n"
    assert project.run("status", "-q").exit_code == 0


def test_a_dvc_yaml_kept_as_it_is_when_those_below_are_not_merged(project):
    top = "# the top pipeline\nstages:\n  s:\n    cmd: echo hi  # greet\n"
    project.gen({".dvc": {"config": ""}, "dvc.yaml": top,
                 "t": {"dvc.yaml": "vars: [p.yaml]\nstages:\n  x: {cmd: 'echo ${a}'}\n"}})
    doc = json.loads(project.run("migrate-dvc", "--json").stdout)
    assert doc["pipeline_as_is"] and project.read("mlvc.yaml") == top
    assert any("t/dvc.yaml: not merged" in n for n in doc["notes"])
