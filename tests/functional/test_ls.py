"""``mlvc ls``: tracked data at a revision or as recorded, from git and the manifests."""

from __future__ import annotations

import json

import yaml

from tests.conftest import Project


def ls(project: Project, *args: str, cwd=None) -> dict:
    return json.loads(project.run("ls", *args, "--json", cwd=cwd).stdout)


def paths(doc: dict) -> list[str]:
    return [e["path"] for e in doc["entries"]]


def test_lists_outputs_folders_and_files_at_revisions(project):
    project.gen({"data": {"a.csv": "1", "sub": {"b.csv": "22", "c": {"d.bin": "333"}}},
                 "model.bin": "m"})
    project.run("add", "data", "model.bin")
    project.commit_all("one")
    doc = ls(project)
    assert doc["rev"] == {"rev": "workspace", "sha": None} and doc["path"] == ""
    assert [(e["path"], e["type"], e.get("nfiles"), e["pointer"]) for e in doc["entries"]] == [
        ("data", "dir", 3, "data.mlvc"), ("model.bin", "file", None, "model.bin.mlvc")]
    assert paths(ls(project, "data")) == ["data/a.csv", "data/sub"]
    inner = ls(project, "data/sub")["entries"]
    assert [(e["path"], e["type"], e["size"]) for e in inner] == [
        ("data/sub/b.csv", "file", 2), ("data/sub/c", "dir", 3)]
    assert paths(ls(project, "data", "-R")) == ["data/a.csv", "data/sub/b.csv",
                                                 "data/sub/c/d.bin"]
    assert paths(ls(project, "-R")) == ["data/a.csv", "data/sub/b.csv", "data/sub/c/d.bin",
                                        "model.bin"]
    assert paths(ls(project, "data/sub/c/d.bin")) == ["data/sub/c/d.bin"]

    # a later version, deleted from the workspace: the older revision still lists its own
    project.gen({"data": {"new.csv": "4"}})
    project.run("commit")
    project.commit_all("two")
    project.run("remove", "model.bin.mlvc", "--outs")
    assert "data/new.csv" in paths(ls(project, "data"))
    assert paths(ls(project, "data", "--rev", "HEAD~1")) == ["data/a.csv", "data/sub"]
    assert paths(ls(project, "--rev", "HEAD~1")) == ["data", "model.bin"]
    assert paths(ls(project)) == ["data"]

    text = project.run("ls", "sub", cwd=project.root / "data").stdout
    assert "  sub/b.csv\n" in text and "  sub/c/\n" in text  # (typed and shown from there)
    assert paths(ls(project, cwd=project.root / "data")) == ["data/a.csv", "data/new.csv",
                                                              "data/sub"]
    assert paths(ls(project, "..", cwd=project.root / "data")) == ["data"]
    assert "data/  (data.mlvc)" in project.run("ls").stdout


def test_stage_outputs_and_errors(project):
    stages = {"s": {"cmd": "mkdir -p out && echo x > out/f", "outs": ["out"]}}
    project.gen({"mlvc.yaml": yaml.safe_dump({"stages": stages})})
    project.run("repro")
    project.commit_all("one")
    (entry,) = ls(project)["entries"]
    assert (entry["path"], entry["pointer"]) == ("out", "mlvc.lock")
    assert paths(ls(project, "out")) == ["out/f"]
    r = project.run("ls", "elsewhere", code=1)
    assert r.stderr.startswith("error: 'elsewhere' is not tracked by mlvc")
    r = project.run("ls", "out/missing", code=1)
    assert "'out/missing' is not in the recorded 'out'" in r.stderr
    assert "unknown revision 'nope'" in project.run("ls", "--rev", "nope", code=1).stderr
    assert "outside the project" in project.run("ls", "../x", code=1).stderr
    # a folder whose manifest the cache lacks (a clone that never fetched it)
    oid = yaml.safe_load(project.read("mlvc.lock"))["stages"]["s"]["outs"][0]["oid"]
    obj = project.root / ".mlvc/cache/objects" / oid[:2] / oid[2:]
    obj.chmod(0o644)
    obj.unlink()
    r = project.run("ls", "out", code=1)
    assert "cannot list 'out'" in r.stderr and "mlvc fetch" in r.stderr
    assert "Traceback" not in r.stderr
    assert paths(ls(project)) == ["out"]  # the outputs themselves need no manifest


def test_git_lists_the_files_git_keeps_too_as_dvc_list_does(project, tmp_path):
    project.gen({"data": {"a.csv": "1", "sub": {"b.csv": "22"}}, "src": {"train.py": "x\n"},
                 "models": {"m.pkl": "m"}, "mlvc.yaml": yaml.safe_dump({"stages": {"s": {
                     "cmd": "mkdir -p out/deep && echo o > out/deep/f", "outs": ["out"]}}})})
    (project.root / "src/train.py").chmod(0o755)
    project.run("add", "data", "models/m.pkl")
    project.run("repro")
    project.commit_all("one")

    def listed(*args: str, cwd=None) -> list[tuple]:
        return [(e["path"], e["type"], e.get("hash", "xxh128")) for e in
                ls(project, "--git", *args, cwd=cwd)["entries"]]

    top = listed()
    assert [p for p, _, _ in top] == [".gitignore", ".mlvcignore", "data", "data.mlvc",
                                      "mlvc.lock", "mlvc.yaml", "models", "out", "src"]
    assert ("data", "dir", "xxh128") in top and ("data.mlvc", "file", "git") in top
    assert ("out", "dir", "xxh128") in top  # (a stage's output: mlvc.lock's)
    assert ("models", "dir", "") in top  # (a folder of git files and an output)
    assert listed("models") == [("models/.gitignore", "file", "git"),
                                ("models/m.pkl", "file", "xxh128"),
                                ("models/m.pkl.mlvc", "file", "git")]
    src = ls(project, "--git", "src")["entries"]
    assert [(e["path"], e["exec"], e["size"]) for e in src] == [("src/train.py", True, 2)]
    everything = [p for p, _, _ in listed("-R")]
    assert {"data/sub/b.csv", "src/train.py", "out/deep/f", "models/m.pkl.mlvc"} <= \
        set(everything) and not any(p.startswith(".mlvc/") for p in everything)
    assert [p for p, _, _ in listed(cwd=project.root / "src")] == ["src/train.py"]
    r = project.run("ls", "src", code=1)  # (without --git: what mlvc tracks)
    assert "not tracked by mlvc" in r.stderr and "--git" in r.stderr
    assert "neither tracked nor in git" in project.run("ls", "--git", "nope", code=1).stderr
    # at a revision: git's files as that commit has them
    (project.root / "src/new.py").write_text("y\n")
    project.commit_all("two")
    assert [p for p, _, _ in listed("src", "--rev", "HEAD~1")] == ["src/train.py"]
    assert [p for p, _, _ in listed("src")] == ["src/new.py", "src/train.py"]
    # another project's, through --repo
    other = tmp_path / "elsewhere"
    other.mkdir()
    doc = json.loads(Project(other).run("ls", "--repo", str(project.root), "--git",
                                        "--json").stdout)
    assert [e["path"] for e in doc["entries"]] == [p for p, _, _ in top]


def test_tree_show_hash_and_dvcs_other_options(project):
    project.gen({"data": {"a.csv": "1", "sub": {"b.csv": "22", "c": {"d.bin": "333"}}},
                 "model.bin": "m"})
    project.run("add", "data", "model.bin")
    project.commit_all("one")
    lines = project.run("ls", "--tree").stdout.splitlines()
    assert [line[11:] for line in lines] == [
        ".", "├── data/", "│   ├── a.csv", "│   └── sub/", "│       ├── b.csv",
        "│       └── c/", "│           └── d.bin", "└── model.bin  (model.bin.mlvc)"]
    assert [line[:9].strip() for line in lines] == ["7 B", "6 B", "1 B", "5 B", "2 B", "3 B",
                                                     "3 B", "1 B"]  # (folders: their files)
    lines = project.run("ls", "-T", "sub", cwd=project.root / "data").stdout.splitlines()
    assert [line[11:] for line in lines] == ["sub/", "├── b.csv", "└── c/", "    └── d.bin"]
    oids = {e["path"]: e["oid"] for e in ls(project, "-R")["entries"]}
    text = project.run("ls", "-R", "--show-hash").stdout
    assert f"{oids['data/sub/c/d.bin']}  " in text and len(text.splitlines()) == 4
    text = project.run("ls", "-T", "--show-hash", "data/sub/c/d.bin").stdout
    assert text.split() == ["3", "B", oids["data/sub/c/d.bin"], "data/sub/c/d.bin"]
    assert project.run("ls", "--size", "--dvc-only").stdout == project.run("ls").stdout
    assert "choose one" in project.run("ls", "--dvc-only", "--git", code=2).stderr
    assert ls(project, "-T") == ls(project, "-R")  # (--json: the same entries)
    # -L: files down to that depth, a deeper folder one entry with its files' count and size
    doc = ls(project, "-L", "2")
    assert [(e["path"], e["type"], e["size"], e.get("nfiles")) for e in doc["entries"]] == [
        ("data/a.csv", "file", 1, None), ("data/sub", "dir", 5, 2), ("model.bin", "file", 1, None)]
    assert doc["entries"][1]["hash"] == ""  # (a folder only named: no oid)
    assert paths(ls(project, "-L", "3")) == ["data/a.csv", "data/sub/b.csv", "data/sub/c",
                                             "model.bin"]
    assert paths(ls(project, "-L", "9")) == paths(ls(project, "-R"))
    lines = project.run("ls", "-T", "-L", "1", "data").stdout.splitlines()
    assert [line[11:] for line in lines] == ["data/", "├── a.csv", "└── sub/  (2 files)"]


def test_du_sums_git_files_and_tracked_data_by_first_level_entry(project, tmp_path):
    project.gen({"data": {"a.csv": "1" * 100, "sub": {"b.csv": "2" * 30, "c": {"d": "3"}}},
                 "src": {"train.py": "x" * 7, "lib": {"u.py": "y" * 5}},
                 "models": {"m.pkl": "m" * 1000},
                 "mlvc.yaml": yaml.safe_dump({"stages": {"s": {
                     "cmd": "mkdir -p out && printf 12345 > out/f", "outs": ["out"]}}})})
    project.run("add", "data", "models/m.pkl")
    project.run("repro")
    project.commit_all("one")

    def du(*args: str, cwd=None) -> dict:
        return json.loads(project.run("du", *args, "--json", cwd=cwd).stdout)

    def git_size(path: str) -> int:
        return (project.root / path).stat().st_size

    top = du()
    sizes = {e["path"]: (e["type"], e["size"]) for e in top["entries"]}
    assert sizes["data"] == ("dir", 131) and sizes["out"] == ("dir", 5)
    assert sizes["src"] == ("dir", 12)  # (git's files, in a folder of its own)
    assert sizes["models"] == ("dir", 1000 + git_size("models/m.pkl.mlvc")
                               + git_size("models/.gitignore"))
    assert sizes["data.mlvc"] == ("file", git_size("data.mlvc"))
    assert top["size"] == sum(s for _, s in sizes.values()) and top["path"] == ""
    assert not any(p.startswith(".mlvc") and p != ".mlvcignore" for p in sizes)
    # inside a tracked folder: from its manifests
    assert [(e["path"], e["type"], e["size"]) for e in du("data")["entries"]] == [
        ("data/a.csv", "file", 100), ("data/sub", "dir", 31)]
    assert du("data/sub/b.csv")["size"] == 30 and du("data/sub/b.csv")["type"] == "file"
    assert du("lib", cwd=project.root / "src")["size"] == 5  # (from where it is run)
    # at a revision, and the text
    project.gen({"data": {"a.csv": "1"}})
    project.run("add", "data")
    project.commit_all("two")
    assert du("data", "--rev", "HEAD~1")["size"] == 131 and du("data")["size"] == 32
    out = project.run("du", "data").stdout.splitlines()
    assert [line.split() for line in out] == [["1", "B", "data/a.csv"],
                                              ["31", "B", "data/sub/"], ["32", "B", "data/"]]
    assert project.run("du", "-s", "data").stdout.split() == ["32", "B", "data/"]
    assert "size" in du("-s") and "entries" not in du("-s")
    r = project.run("du", "nope", code=1)
    assert "neither tracked nor in git" in r.stderr
    assert "not in the recorded 'data'" in project.run("du", "data/zz", code=1).stderr
    # another project's, through --repo (the folder's manifest from its cache)
    other = tmp_path / "elsewhere"
    other.mkdir()
    doc = json.loads(Project(other).run("du", "--repo", str(project.root), "data/sub",
                                        "--rev", "HEAD~1", "--json").stdout)
    assert [(e["path"], e["size"]) for e in doc["entries"]] == [("data/sub/b.csv", 30),
                                                               ("data/sub/c", 1)]
