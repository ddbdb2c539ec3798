"""push/fetch -T and -A read pointer files from git revisions without checking them out."""

import json

import yaml

from mlvc.objects.store import ObjectStore


def cache_oids(project):
    return set(ObjectStore(project.root / ".mlvc" / "cache").iter_oids())


def remote_oids(path):
    return set(ObjectStore(path).iter_oids())


def test_tags_and_all_commits(project, tmp_path):
    remote = tmp_path / "remote"
    project.run("remote", "add", "-d", "store", str(remote))
    versions = []
    for n in range(3):
        project.gen({"model.bin": f"weights v{n}"})
        project.run("add", "model.bin")
        project.commit_all(f"v{n}")
        versions.append(cache_oids(project))
        if n == 0:
            project.git("tag", "-a", "v0", "-m", "annotated tag")
    every = set().union(*versions)
    assert len(every) == 3

    project.run("push")  # the workspace: v2's model only
    assert remote_oids(remote) == versions[2] - versions[1]
    doc = json.loads(project.run("status", "-c", "-A", "--json", code=None).stdout)
    assert doc["not_on_remote"] == ["model.bin", "model.bin"]  # (v0's and v1's)
    assert json.loads(project.run("status", "-c", "--json").stdout)["clean"]  # (workspace)
    assert project.run("status", "-A", code=2).exit_code == 2  # (goes with -c)
    doc = json.loads(project.run("push", "-T", "--json").stdout)
    assert doc["transferred"] == 1  # v0's model, through the annotated tag
    doc = json.loads(project.run("push", "-A", "--json").stdout)
    assert doc["transferred"] == 1  # v1's model: only an untagged commit has it
    assert remote_oids(remote) == every


def test_broken_pointer_in_history_is_a_warning_not_a_stop(project, tmp_path):
    project.run("remote", "add", "-d", "store", str(tmp_path / "remote"))
    project.gen({"broken.mlvc": "schema: 1\nouts: [oops\n"}, commit="a broken pointer")
    (project.root / "broken.mlvc").unlink()
    project.gen({"good.txt": "fine"})
    project.run("add", "good.txt")
    project.commit_all("fix")
    r = project.run("push", "-A")
    assert "warning:" in r.stderr and "broken.mlvc" in r.stderr
    assert "Pushed 1 object," in r.stdout
    r = project.run("push", "-A")
    assert "Remote 'store' has the 1 object already: nothing to transfer." in r.stdout


def test_push_trusts_manifests_validated_before(project, tmp_path, monkeypatch):
    """Every level of a folder's manifests is looked up in the state DB: a manifest that
    passed validation once only has its hash checked on the next push."""
    from mlvc.objects.tree import Tree

    project.run("remote", "add", "-d", "store", str(tmp_path / "remote"))
    project.gen({"data": {"a": "1", "sub": {"b": "2", "deeper": {"c": "3"}}}})
    project.run("add", "data")
    parsed = []
    real = Tree.from_bytes.__func__
    monkeypatch.setattr(Tree, "from_bytes",
                        classmethod(lambda cls, data, oid="?": parsed.append(oid)
                                    or real(cls, data, oid)))
    project.run("push")
    assert parsed == []
    assert len(remote_oids(tmp_path / "remote")) == 6  # 3 files, 3 manifests


def test_pushing_several_parts_of_one_folder_sends_each(project, tmp_path):
    """`mlvc push data/a data/sub/s` sends both files (the last part alone was sent), and
    not the rest of the folder."""
    from mlvc.objects.oid import hash_bytes

    remote = tmp_path / "remote"
    project.run("remote", "add", "-d", "store", str(remote))
    project.gen({"data": {"a": "A", "sub": {"s": "S"}, "other": {"o": "O"}}})
    project.run("add", "data")
    project.run("push", "data/a", "data/sub/s")
    sent = remote_oids(remote)
    assert {hash_bytes(b"A"), hash_bytes(b"S")} <= sent
    assert hash_bytes(b"O") not in sent


def test_a_part_whose_bytes_are_also_elsewhere_in_the_folder_is_pushed(project, tmp_path):
    """Objects are found once per oid: a part whose file (or whose whole folder) has the
    same bytes as one met first elsewhere in the output was dropped as "not in the part",
    and `mlvc push data/b/y` sent nothing."""
    from mlvc.objects.oid import hash_bytes

    project.gen({"data": {"a": {"x": "same"}, "b": {"y": "same"}, "c": {"x": "same"},
                          "d": {"z": "Z"}}})
    project.run("add", "data")
    for n, part in enumerate(("data/b/y", "data/c", "data/c/x")):
        remote = tmp_path / f"remote{n}"
        project.run("remote", "add", f"r{n}", str(remote))
        r = project.run("push", "-r", f"r{n}", part, "--json")
        assert json.loads(r.stdout)["transferred"] >= 1, part
        sent = remote_oids(remote)
        assert hash_bytes(b"same") in sent and hash_bytes(b"Z") not in sent, part


def test_a_part_not_recorded_is_refused_by_push_fetch_and_cloud_status(project, tmp_path):
    """A typo inside a tracked folder is an error, not "the remote has everything"."""
    remote = tmp_path / "remote"
    project.run("remote", "add", "-d", "store", str(remote))
    project.gen({"data": {"a": "A", "sub": {"s": "S"}}})
    project.run("add", "data")
    project.run("push")
    for args in (["push", "data/sub/typo"], ["fetch", "data/sub/typo"],
                 ["pull", "data/sub/typo"], ["status", "-c", "data/sub/typo"],
                 ["push", "data/a/below"]):  # (data/a is a file: nothing is below it)
        r = project.run(*args, code=1)
        assert r.stderr.splitlines()[0] == \
            f"error: '{args[-1]}' is not recorded in data.mlvc", args
        assert "hint: `mlvc status data`" in r.stderr
    r = project.run("push", "typo", code=1, cwd=project.root / "data/sub")  # (as seen there)
    assert r.stderr.splitlines() == [
        "error: 'typo' is not recorded in ../../data.mlvc",
        "hint: `mlvc status ..` shows what is there and what is recorded"]
    assert "nothing to transfer" in project.run("push", "data/sub/s").stdout  # (recorded)


def test_a_part_with_all_commits_is_that_part_in_each_revision(project, tmp_path):
    """`mlvc push -A data/sub` sends data/sub as each commit recorded it, nothing else of
    data, and a commit whose data has no sub/ adds nothing (not an error)."""
    from mlvc.objects.oid import hash_bytes

    remote = tmp_path / "remote"
    project.run("remote", "add", "-d", "store", str(remote))
    project.gen({"data": {"o": "O0"}})
    project.run("add", "data")
    project.commit_all("v0: no sub/")
    for n in (1, 2):
        project.gen({"data": {"o": f"O{n}", "sub": {"s": f"S{n}"}}})
        project.run("add", "data")
        project.commit_all(f"v{n}")
    project.run("push", "-A", "data/sub")
    sent = remote_oids(remote)
    assert {hash_bytes(b"S1"), hash_bytes(b"S2")} <= sent
    assert not {hash_bytes(f"O{n}".encode()) for n in range(3)} & sent


def test_cloud_status_of_a_part_shows_that_part_only(project, tmp_path):
    """`status -c data/b` told of every manifest of the folder the remote lacked, its
    siblings' too; it tells of the part's own objects (the folder's other manifests go
    up once the whole folder has)."""
    project.run("remote", "add", "-d", "store", str(tmp_path / "remote"))
    project.gen({"data": {"a": {"x": "X"}, "b": {"y": "Y", "deep": {"z": "Z"}}, "c": {"w": "W"}}})
    project.run("add", "data")
    doc = json.loads(project.run("status", "-c", "data/b", "--json").stdout)
    assert sorted(doc["not_on_remote"]) == ["data/b/", "data/b/deep/", "data/b/deep/z",
                                            "data/b/y"]
    assert doc["objects"] == 4
    doc = json.loads(project.run("status", "-c", "data/b/y", "--json").stdout)
    assert doc["not_on_remote"] == ["data/b/y"] and doc["objects"] == 1
    project.run("push", "data/b")
    r = project.run("status", "-c", "data/b")
    assert "not on remote" not in r.stdout
    assert json.loads(project.run("status", "-c", "data/b", "--json").stdout)["clean"]
    # The whole output still shows what the remote lacks, its manifests included.
    doc = json.loads(project.run("status", "-c", "--json").stdout)
    assert sorted(doc["not_on_remote"]) == ["data/", "data/a/", "data/a/x", "data/c/",
                                            "data/c/w"]


def test_pushing_a_part_says_a_fresh_clone_cannot_pull_it_until_the_whole_folder_is_pushed(
        project, tmp_path):
    """A folder's manifest goes up with the last of its files, so a part pushed alone cannot
    be found by a fresh clone: push says so, and says it no more once the folder is whole."""
    project.run("remote", "add", "-d", "store", str(tmp_path / "remote"))
    project.gen({"data": {"a": {"x": "X"}, "b": {"y": "Y"}, "c": {"z": "Z"}}})
    project.run("add", "data")
    r = project.run("push", "c/z", "b", cwd=project.root / "data")
    assert ("warning: only part of '.' (../data.mlvc) is on remote 'store': a fresh clone "
            "can pull 'b', 'c/z' once the whole folder is pushed (`mlvc push .`)") in r.stderr
    doc = json.loads(project.run("push", "data/b", "--json").stdout)
    assert len(doc["warnings"]) == 1
    project.run("push", "data/a")  # the last of the folder: its manifest goes up too
    r = project.run("push", "data/b")
    assert "warning" not in r.stderr
    r = project.run("push")
    assert "warning" not in r.stderr


def test_with_deps_takes_the_data_of_every_stage_upstream_of_the_targets(project, tmp_path):
    import subprocess

    import yaml

    from tests.conftest import Project

    project.gen({"raw": {"a.txt": "raw\n"}, "x.in": "x\n"})
    project.run("add", "raw")
    stages = {"prep": {"cmd": "cat raw/a.txt > prep.out", "deps": ["raw"],
                       "outs": ["prep.out"]},
              "train": {"cmd": "cat prep.out prep.out > model.bin", "deps": ["prep.out"],
                        "outs": ["model.bin"]},
              "other": {"cmd": "cat x.in > x.out", "deps": ["x.in"], "outs": ["x.out"]},
              "report": {"cmd": "echo '{\"n\": 1}' > report.json", "deps": ["model.bin"],
                         "metrics": [{"report.json": {"cache": False}}]}}
    project.gen({"mlvc.yaml": yaml.safe_dump({"stages": stages})})
    project.run("repro")
    project.run("remote", "add", "-d", "store", str(tmp_path / "remote"))
    project.commit_all("ran")
    doc = json.loads(project.run("push", "train", "--json").stdout)
    assert doc["transferred"] == 1  # (model.bin alone)
    assert "has no cached outputs" in project.run("push", "report", code=1).stderr
    # Everything upstream: train's model.bin (there), prep.out (= raw/a.txt's bytes) and
    # raw's manifest; not x.out.
    doc = json.loads(project.run("push", "report", "-d", "--json").stdout)
    assert (doc["transferred"], doc["present"]) == (2, 1)
    doc = json.loads(project.run("push", "model.bin", "-d", "--json").stdout)
    assert doc["transferred"] == 0
    from mlvc.objects.oid import hash_bytes

    assert hash_bytes(b"x\n") not in remote_oids(tmp_path / "remote")  # (x.out: not upstream)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(project.root), str(clone)], check=True)
    other = Project(clone)
    other.run("pull", "train", "--with-deps")
    for path in ("raw/a.txt", "prep.out", "model.bin"):
        assert (clone / path).read_bytes() == (project.root / path).read_bytes()
    assert not (clone / "x.out").exists()  # (not upstream of train, and not pushed)
    (clone / "prep.out").unlink()
    (clone / "raw/a.txt").unlink()
    other.run("checkout", "train")
    assert not (clone / "prep.out").exists()
    other.run("checkout", "-d", "train")
    assert (clone / "prep.out").exists() and (clone / "raw/a.txt").exists()
    # status and commit take -d too: raw (read two stages up) is train's data.
    (clone / "raw/a.txt").chmod(0o644)
    (clone / "raw/a.txt").write_text("edited\n")
    assert json.loads(other.run("status", "train", "--json").stdout)["clean"]
    changed = json.loads(other.run("status", "train", "-d", "--json", code=None).stdout)
    assert [c["path"] for c in changed["changed"]] == ["raw"]
    doc = json.loads(other.run("commit", "raw.mlvc", "-d", "--json").stdout)
    assert [s["path"] for s in doc["saved"] if s["changed"]] == ["raw"]


def test_push_false_outputs_never_travel_and_repro_makes_them_again(project, tmp_path):
    import subprocess

    import yaml

    from tests.conftest import Project

    stages = {"make": {"cmd": "echo big > big.bin && echo small > model.bin",
                       "outs": [{"big.bin": {"push": False}}, "model.bin"]}}
    project.gen({"mlvc.yaml": yaml.safe_dump({"stages": stages})})
    project.run("repro")
    outs = {o["path"]: o for o in yaml.safe_load(project.read("mlvc.lock"))["stages"]["make"][
        "outs"]}
    assert outs["big.bin"]["push"] is False and "push" not in outs["model.bin"]
    remote = tmp_path / "remote"
    project.run("remote", "add", "-d", "store", str(remote))
    project.commit_all("v1")
    doc = json.loads(project.run("push", "--json").stdout)
    assert doc["transferred"] == 1 and remote_oids(remote) == {
        o["oid"] for o in outs.values() if o["path"] == "model.bin"}
    assert json.loads(project.run("status", "-c", "--json").stdout)["clean"]
    assert json.loads(project.run("push", "-A", "--json").stdout)["transferred"] == 0
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(project.root), str(clone)], check=True)
    other = Project(clone)
    doc = json.loads(other.run("pull", "--json").stdout)  # (not a failure: it stays behind)
    assert doc["fetch"]["failed"] == [] and (clone / "model.bin").exists()
    assert not (clone / "big.bin").exists()
    r = other.run("repro")  # (the stage runs again: its output is missing)
    assert (clone / "big.bin").read_text() == "big\n"
    assert "Running stage 'make'" in r.stdout
    clone2 = tmp_path / "clone2"  # (CI: one command)
    subprocess.run(["git", "clone", "-q", str(project.root), str(clone2)], check=True)
    r = Project(clone2).run("repro", "--pull")
    assert (clone2 / "big.bin").read_text() == "big\n" and "Running stage 'make'" in r.stdout


def test_pull_allow_missing_pulls_what_the_remote_has_and_warns_of_the_rest(project,
                                                                          tmp_path):
    from tests.conftest import Project

    remote = tmp_path / "remote"
    project.run("remote", "add", "-d", "store", str(remote))
    project.gen({"pushed.txt": "on the remote", "local": {"a.txt": "a", "b.txt": "b"}})
    project.run("add", "pushed.txt", "local")
    project.run("push", "pushed.txt")  # (local/ never reaches the remote)
    project.commit_all("data")
    clone = tmp_path / "clone"
    project.git("clone", "-q", str(project.root), str(clone))
    other = Project(clone)
    r = other.run("pull", code=1)
    assert "did not transfer" in r.stderr
    r = other.run("pull", "--allow-missing")
    assert "not on remote 'store' (--allow-missing)" in r.stderr and "local" in r.stderr
    assert other.read("pushed.txt") == "on the remote" and not (clone / "local").exists()
    doc = json.loads(other.run("pull", "--allow-missing", "--json").stdout)
    assert doc["fetch"]["failed"] == [] and [m["path"] for m in doc["missing"]] == ["local/"]
    assert [s["path"] for s in doc["skipped"]] == ["local"]
    # checkout --allow-missing: the same for what the cache lacks
    r = other.run("checkout", code=1)
    assert "local" in r.stderr and "not in cache" in r.stderr
    r = other.run("checkout", "--allow-missing")
    assert "1 path not in the cache, not checked out (--allow-missing): local" in r.stderr
    doc = json.loads(other.run("checkout", "--allow-missing", "--json").stdout)
    assert doc["failed"] == [] and [s["path"] for s in doc["skipped"]] == ["local"]
    # an object the remote holds corrupt is still an error
    oid = yaml.safe_load(project.read("pushed.txt.mlvc"))["outs"][0]["oid"]
    obj = remote / "objects" / oid[:2] / oid[2:]
    obj.chmod(0o644)
    obj.write_text("rotten")
    again = Project(tmp_path / "again")
    project.git("clone", "-q", str(project.root), str(again.root))
    r = again.run("pull", "--allow-missing", code=1)
    assert "corrupt" in r.stderr and not (again.root / "pushed.txt").exists()


def test_glob_targets_match_tracked_data_the_workspace_lacks(project, tmp_path):
    from tests.conftest import Project

    remote = tmp_path / "remote"
    project.run("remote", "add", "-d", "store", str(remote))
    project.gen({"data": {"a.csv": "a", "b.csv": "b", "c.txt": "c", "deep": {"d.csv": "d"}},
                 "model.bin": "m"})
    project.run("add", "data/a.csv", "data/b.csv", "data/c.txt", "data/deep/d.csv",
                "model.bin")
    project.run("push")
    project.commit_all("data")
    clone = tmp_path / "clone"
    project.git("clone", "-q", str(project.root), str(clone))
    other = Project(clone)
    # no data in the clone: the shell could not expand these, mlvc matches what is tracked
    other.run("pull", "--glob", "data/*.csv")
    assert (clone / "data/a.csv").exists() and (clone / "data/b.csv").exists()
    assert not (clone / "data/c.txt").exists()
    assert not (clone / "data/deep/d.csv").exists()  # (* stays within a folder)
    other.run("pull", "--glob", "data/**/*.csv")
    assert (clone / "data/deep/d.csv").exists() and not (clone / "model.bin").exists()
    (clone / "data/a.csv").unlink()
    r = other.run("status", "--glob", "data/?.csv", "--json", code=None)
    assert [c["path"] for c in json.loads(r.stdout)["changed"]] == ["data/a.csv"]
    other.run("checkout", "--glob", "data/[a]*")
    assert (clone / "data/a.csv").exists()
    r = other.run("fetch", "--glob", "*.bin", "--json")
    assert json.loads(r.stdout)["transferred"] == 1
    r = other.run("pull", "--glob", "nothing/*", code=1)
    assert "matches no tracked data" in r.stderr
    r = other.run("pull", "data/*.csv", code=1)  # (without --glob: a path, and none such)
    assert "error:" in r.stderr and "data/*.csv" in r.stderr


def test_recursive_folder_targets_as_dvc_scripts_give_them(project, tmp_path):
    """DVC's -R on commit/checkout/status/push/fetch/pull: the pointers inside a folder, at
    any depth, and nothing outside it (mlvc does so for any folder target: -R is taken)."""
    from tests.conftest import Project

    project.run("remote", "add", "-d", "store", str(tmp_path / "remote"))
    project.gen({"data": {"a.csv": "a", "deep": {"er": {"d.csv": "d"}}}, "model.bin": "m"})
    project.run("add", "data/a.csv", "data/deep/er/d.csv", "model.bin")
    r = project.run("push", "-R", "data", "--json")
    assert json.loads(r.stdout)["transferred"] == 2  # (not model.bin)
    project.run("push")
    project.commit_all("data")
    other = Project(tmp_path / "clone")
    project.git("clone", "-q", str(project.root), str(other.root))
    assert json.loads(other.run("fetch", "-R", "data/deep", "--json").stdout)["transferred"] == 1
    other.run("pull", "--recursive", "data")
    assert (other.root / "data/deep/er/d.csv").read_text() == "d"
    assert not (other.root / "model.bin").exists()
    (other.root / "data/deep/er/d.csv").unlink()
    r = other.run("status", "-R", "data", "--json", code=None)
    assert [c["path"] for c in json.loads(r.stdout)["changed"]] == ["data/deep/er/d.csv"]
    other.run("checkout", "-R", "data/deep")
    assert (other.root / "data/deep/er/d.csv").exists()
    before = other.read("data/deep/er/d.csv.mlvc")
    other.gen({"data": {"deep": {"er": {"d.csv": "new"}}}})
    other.run("commit", "-f", "-R", "data")
    assert other.read("data/deep/er/d.csv.mlvc") != before
    assert json.loads(other.run("status", "-R", "data", "--json").stdout)["clean"]


def test_fetch_max_size_and_type_choose_outputs_as_dvcs(project, tmp_path):
    from mlvc.objects.store import ObjectStore
    from tests.conftest import Project

    project.run("remote", "add", "-d", "store", str(tmp_path / "remote"))
    stage = {"cmd": "echo '{\"acc\": 1}' > m.json && echo 'x,y' > p.csv && echo big > model",
             "outs": ["model"], "metrics": ["m.json"], "plots": ["p.csv"]}
    project.gen({"mlvc.yaml": yaml.safe_dump({"stages": {"train": stage}}),
                 "data": {"small": "s", "large": "l" * 5000}})
    project.run("add", "data/small", "data/large")
    project.run("repro")
    project.run("push")
    project.commit_all("v1")
    other = Project(tmp_path / "clone")
    project.git("clone", "-q", str(project.root), str(other.root))

    def fetched() -> set[str]:
        return set(ObjectStore(other.root / ".mlvc/cache").iter_oids())

    def oid(path: str) -> str:  # (as the lock or the pointer file records it)
        outs = yaml.safe_load(project.read("mlvc.lock"))["stages"]["train"]["outs"]
        found = [o["oid"] for o in outs if o["path"] == path]
        return found[0] if found else yaml.safe_load(project.read(f"{path}.mlvc"))["outs"][0]["oid"]

    r = other.run("fetch", "--type", "metrics", "--json")
    assert json.loads(r.stdout)["transferred"] == 1 and fetched() == {oid("m.json")}
    other.run("fetch", "--type", "plots", "--type", "metrics")
    assert fetched() == {oid("m.json"), oid("p.csv")}
    other.run("fetch", "--max-size", "100")
    assert fetched() == {oid(p) for p in ("m.json", "p.csv", "model", "data/small")}
    other.run("fetch")
    assert oid("data/large") in fetched()
    assert other.run("fetch", "--type", "params", code=2).exit_code == 2
    # each revision's own mlvc.yaml says what is a metric there
    stage["metrics"], stage["outs"] = [], ["model", "m.json"]
    project.gen({"mlvc.yaml": yaml.safe_dump({"stages": {"train": stage}}),
                 "m.json": '{"acc": 2}'})
    project.run("commit", "-f")
    project.run("push")
    project.commit_all("v2: m.json is no metric any more")
    other.git("pull", "-q")
    r = other.run("fetch", "--type", "metrics", "-a", "--json")
    assert json.loads(r.stdout)["transferred"] == 0  # (v2's m.json is an output, not a metric)
    other.git("checkout", "-q", "HEAD~1")
    assert json.loads(other.run("fetch", "--type", "metrics", "-A", "--json").stdout)[
        "transferred"] == 0  # (v1's metric is there already; v2's is no metric)
    assert oid("m.json") not in fetched()
    project.gen({"new.bin": "n"})
    project.run("add", "new.bin")  # (so that the revision has an output of its own)
    project.gen({"mlvc.yaml": "stages: [not a mapping\n"}, commit="a broken pipeline")
    other.git("checkout", "-q", "main")
    other.git("pull", "-q")
    other.git("checkout", "-q", "HEAD~1")  # (a workspace whose mlvc.yaml loads)
    doc = json.loads(other.run("fetch", "--type", "metrics", "-A", "--json").stdout)
    assert any("mlvc.yaml" in w for w in doc["warnings"])  # (that revision declares none)
