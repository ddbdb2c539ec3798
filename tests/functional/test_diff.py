"""``mlvc diff``: data, params, metrics and stages between revisions, and metric traces."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Project, new_project, write_tree

# prepare: data/ -> features.txt; train: features.txt + params -> model.txt;
# evaluate: model.txt -> metrics.json (kept in git). The "accuracy" is a number made from
# the bytes of what came before, so any upstream change moves it.
PREPARE = "cat data/*/* > features.txt"
TRAIN = (f"{sys.executable} -c \"import yaml; p = yaml.safe_load(open('params.yaml'))['train']; "
         "f = open('features.txt').read(); "
         "open('model.txt', 'w').write(str(len(f) * p['lr']))\"")
EVALUATE = (f"{sys.executable} -c \"import json; m = float(open('model.txt').read()); "
            "json.dump({'accuracy': round(m / 1000, 4), 'n': 3}, open('metrics.json', 'w'))\"")
PIPELINE = {"stages": {
    "prepare": {"cmd": PREPARE, "deps": ["data"], "outs": ["features.txt"]},
    "train": {"cmd": TRAIN, "deps": ["features.txt"], "params": ["train.lr"],
              "outs": ["model.txt"]},
    "evaluate": {"cmd": EVALUATE, "deps": ["model.txt"],
                 "metrics": [{"metrics.json": {"cache": False}}]},
}}


@pytest.fixture
def ml(project: Project) -> Project:
    project.gen({"data": {"train": {"a.csv": "1,2\n", "b.csv": "3,4\n"}, "test": {"c.csv": "5\n"}},
                 "params.yaml": "train:\n  lr: 0.5\n  epochs: 3\n",
                 "mlvc.yaml": yaml.safe_dump(PIPELINE, sort_keys=False)})
    project.run("add", "data")
    project.run("repro")
    project.commit_all("v1")
    return project


def diff_json(project: Project, *args: str) -> dict:
    return json.loads(project.run("diff", *args, "--json").stdout)


def test_no_change_is_clean_and_quiet(ml):
    r = ml.run("diff")
    assert "No changes in data, params, metrics or stages." in r.stdout
    assert ml.run("diff", "-q").stdout == ""
    doc = diff_json(ml)
    assert doc["clean"] and doc["a"]["rev"] == "HEAD" and doc["b"]["sha"] is None


def test_data_change_is_traced_from_the_metric_to_the_file(ml):
    ml.gen({"data": {"train": {"a.csv": "1,2,99\n", "new.csv": "7\n"}}})
    objects = sorted((ml.root / ".mlvc/cache/objects").rglob("*"))
    doc = diff_json(ml)  # before repro: the data changed, prepare is out of date
    assert sorted((ml.root / ".mlvc/cache/objects").rglob("*")) == objects  # (nothing stored)
    data = {d["path"]: d for d in doc["data"]}
    assert data["data"]["modified"] == ["data/train/a.csv"]
    assert data["data"]["added"] == ["data/train/new.csv"]
    assert [(s["stage"], s["change"]) for s in doc["stages"]] == [("prepare", "out of date")]
    assert doc["metrics"] == [] and doc["traces"] == []
    assert ml.run("diff", "-q", code=1).stdout == ""

    ml.run("repro")
    doc = diff_json(ml)
    assert [m["key"] for m in doc["metrics"]] == ["accuracy"]  # "n" did not change
    (m,) = doc["metrics"]
    assert m["file"] == "metrics.json" and m["delta"] == pytest.approx(m["new"] - m["old"])
    assert {s["stage"]: s["change"] for s in doc["stages"]} == {
        "prepare": "modified", "train": "modified", "evaluate": "modified"}
    assert {d["path"] for d in doc["data"]} == {"data", "features.txt", "model.txt"}
    (trace,) = doc["traces"]
    assert trace["metric"] == "metrics.json" and trace["keys"] == ["accuracy"]
    root = trace["trace"]
    assert (root["kind"], root["name"]) == ("stage", "evaluate")
    (train,) = root["children"]
    assert (train["name"], train["detail"]) == ("train", "makes model.txt")
    (prepare,) = train["children"]
    assert (prepare["name"], prepare["detail"]) == ("prepare", "makes features.txt")
    (leaf,) = prepare["children"]
    assert leaf == {"kind": "data", "name": "data",
                    "detail": "1 modified, 1 added (data.mlvc)"}

    text = ml.run("diff").stdout
    assert "Why metrics.json changed (accuracy):" in text
    assert "└─ stage train: makes model.txt" in text
    assert "└─ data: 1 modified, 1 added (data.mlvc)" in text
    assert "modified: data/train/a.csv" in text


def test_param_change_between_two_commits(ml):
    ml.gen({"params.yaml": "train:\n  lr: 2.0\n  epochs: 4\n"})
    ml.run("repro")
    ml.commit_all("v2")
    doc = diff_json(ml, "HEAD~1", "HEAD")
    assert doc["b"]["rev"] == "HEAD" and len(doc["b"]["sha"]) == 40
    # train.epochs is in params.yaml but no stage declares it: not listed
    assert doc["params"] == [{"file": "params.yaml", "key": "train.lr", "old": 0.5,
                              "new": 2.0, "delta": 1.5}]
    assert [s["stage"] for s in doc["stages"]] == ["train", "evaluate"]
    (trace,) = doc["traces"]
    (train,) = trace["trace"]["children"]
    assert train["children"] == [{"kind": "param", "name": "params.yaml:train.lr",
                                  "detail": "0.5 -> 2.0"}]
    assert "param params.yaml:train.lr: 0.5 -> 2.0" in ml.run("diff", "HEAD~1", "HEAD").stdout
    # and the other way round
    back = diff_json(ml, "HEAD", "HEAD~1")
    assert back["params"][0]["old"] == 2.0 and back["params"][0]["delta"] == -1.5


def test_markdown(ml):
    ml.gen({"params.yaml": "train:\n  lr: 1.0\n  epochs: 3\n"})
    ml.run("repro")
    md = ml.run("diff", "--md").stdout
    assert md.startswith("## mlvc diff: HEAD (")
    assert "| params.yaml | train.lr | 0.5 | 1.0 | +0.5 |" in md
    assert "### Why metrics.json changed (accuracy)" in md
    assert "  - stage **train**: makes model.txt" in md
    ml.run("diff", "--md", "--json", code=2)


def test_files_renamed_added_deleted_between_revisions(project):
    project.gen({"d": {"keep": "k", "old": "moved bytes", "gone": "g", "sub": {"x": "1"}}})
    project.run("add", "d")
    project.commit_all("one")
    shutil.rmtree(project.root / "d")
    project.gen({"d": {"keep": "k", "new": "moved bytes", "sub": {"x": "2", "y": "3"}}})
    project.run("commit")
    project.commit_all("two")
    doc = diff_json(project, "HEAD~1", "HEAD")
    (d,) = doc["data"]
    assert d["renamed"] == [{"old": "d/old", "new": "d/new"}]
    assert d["deleted"] == ["d/gone"] and d["added"] == ["d/sub/y"]
    assert d["modified"] == ["d/sub/x"]
    # --targets: only what lies inside the path
    (d,) = diff_json(project, "HEAD~1", "HEAD", "--targets", "d/sub")["data"]
    assert d["added"] == ["d/sub/y"] and d["modified"] == ["d/sub/x"] and not d["renamed"]
    assert diff_json(project, "HEAD~1", "HEAD", "--targets", "elsewhere")["data"] == []
    # a whole output added since a revision that did not have it
    project.gen({"model.bin": "m"})
    project.run("add", "model.bin")
    doc = diff_json(project)
    assert [(d["path"], d["added"], d["old_oid"]) for d in doc["data"]] == [
        ("model.bin", ["model.bin"], None)]
    assert "model.bin (model.bin.mlvc): added" in project.run("diff").stdout
    (project.root / "model.bin").unlink()
    project.commit_all("three")
    r = project.run("diff", "HEAD")
    assert "model.bin (model.bin.mlvc): deleted" in r.stdout
    assert "`mlvc checkout` (or `mlvc pull` in a fresh clone) puts it back" in r.stderr


def test_show_hash_gives_the_oids_of_each_output_and_file(project):
    from mlvc.objects.oid import hash_bytes

    def oid(text: str) -> str:
        return hash_bytes(text.encode())

    project.gen({"d": {"keep": "k", "old": "moved", "gone": "g", "x": "1"}, "m.bin": "m1"})
    project.run("add", "d", "m.bin")
    project.commit_all("one")
    shutil.rmtree(project.root / "d")
    project.gen({"d": {"keep": "k", "new": "moved", "x": "2", "y": "3"}, "m.bin": "m2"})
    project.run("commit")
    (d, m) = diff_json(project, "--show-hash")["data"]
    assert d["oids"] == {"d/x": {"old": oid("1"), "new": oid("2")},
                         "d/y": {"old": None, "new": oid("3")},
                         "d/gone": {"old": oid("g"), "new": None},
                         "d/new": {"old": oid("moved"), "new": oid("moved")}}
    assert m["oids"] == {"m.bin": {"old": oid("m1"), "new": oid("m2")}}
    assert "oids" not in diff_json(project)["data"][0]  # (asked for only)
    (d,) = diff_json(project, "--show-hash", "--targets", "d/y")["data"]
    assert d["oids"] == {"d/y": {"old": None, "new": oid("3")}}
    text = project.run("diff", "--show-hash").stdout
    assert f"    modified: {oid('1')[:8]}..{oid('2')[:8]} d/x" in text
    assert f"    added:    {oid('3')[:8]} d/y" in text
    assert f"    renamed:  {oid('moved')[:8]} d/old -> d/new" in text
    assert f"m.bin (m.bin.mlvc): modified  {oid('m1')[:8]}..{oid('m2')[:8]}" in text
    assert oid("3")[:8] not in project.run("diff").stdout
    md = project.run("diff", "--show-hash", "--md").stdout
    assert "| path | change | hash |" in md and f"| d/y | added | {oid('3')[:8]} |" in md
    # (DVC's --hide-missing: mlvc's diff lists nothing the cache lacks; the same diff)
    assert project.run("diff", "--show-hash", "--hide-missing").stdout == text


def test_a_folder_not_in_the_cache_is_told_not_guessed(project):
    project.gen({"d": {"a": "1"}})
    project.run("add", "d")
    project.commit_all("one")
    oid = yaml.safe_load(project.read("d.mlvc"))["outs"][0]["oid"]
    project.gen({"d": {"a": "2"}})
    project.run("commit")
    obj = project.root / ".mlvc/cache/objects" / oid[:2] / oid[2:]
    obj.chmod(0o644)
    obj.unlink()  # the old revision's manifest is gone (a clone that never fetched it)
    r = project.run("diff", "--json")
    (d,) = json.loads(r.stdout)["data"]
    assert d["old_oid"] == oid and "not in the cache" in d["unknown"]
    assert "mlvc fetch" in d["unknown"] and "Traceback" not in r.stderr


def test_bad_revisions_and_no_git(project, tmp_path):
    r = project.run("diff", "no-such-rev", code=1)
    assert r.stderr.startswith("error: unknown revision 'no-such-rev'")
    assert "hint: " in r.stderr
    assert "unknown revision '--all'" in project.run("diff", "--", "--all", code=1).stderr
    loose = tmp_path / "loose"
    loose.mkdir()
    Project(loose).run("init", "--no-scm")
    r = Project(loose).run("diff", code=1)
    assert "no git" in r.stderr


def test_from_a_sub_folder_paths_are_relative(ml):
    ml.gen({"data": {"test": {"c.csv": "6\n"}}})
    sub = ml.root / "data" / "train"
    text = ml.run("diff", cwd=sub).stdout
    assert "modified: ../test/c.csv" in text
    (d,) = json.loads(ml.run("diff", "--json", "--targets", "../test", cwd=sub).stdout)["data"]
    assert d["modified"] == ["data/test/c.csv"]  # --json: from the project root


names = st.sampled_from(["a", "b", "c", "d"])
contents = st.sampled_from(["1", "2", "3"])
trees = st.recursive(st.dictionaries(names, contents, max_size=3),
                     lambda children: st.dictionaries(names, st.one_of(contents, children),
                                                      max_size=3), max_leaves=8)


def _flat(spec: dict, prefix: str = "d") -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in spec.items():
        path = f"{prefix}/{name}"
        out.update(_flat(value, path) if isinstance(value, dict) else {path: value})
    return out


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(first=trees, second=trees)
def test_file_changes_match_a_flat_comparison(tmp_path_factory, first, second):
    """Every file is told once: as added, deleted, modified or one end of a rename, as a
    comparison of the two flattened trees says (a rename pairs a deleted and an added file
    of the same bytes)."""
    project = new_project(tmp_path_factory.mktemp("diff") / "p")
    (project.root / "d").mkdir()
    write_tree(project.root / "d", first)
    project.run("add", "d")
    project.commit_all("first")
    shutil.rmtree(project.root / "d")
    (project.root / "d").mkdir()
    write_tree(project.root / "d", second)
    doc = diff_json(project)  # HEAD against the workspace, hashed
    a, b = _flat(first), _flat(second)
    changes = {x["path"]: x for x in doc["data"]}
    if a == b:
        assert doc["data"] == [] or changes["d"]["added"] == changes["d"]["deleted"] == []
        return
    d = changes["d"]
    renamed_old = {r["old"] for r in d["renamed"]}
    renamed_new = {r["new"] for r in d["renamed"]}
    assert set(d["deleted"]) | renamed_old == a.keys() - b.keys()
    assert set(d["added"]) | renamed_new == b.keys() - a.keys()
    assert not set(d["deleted"]) & renamed_old and not set(d["added"]) & renamed_new
    assert set(d["modified"]) == {p for p in a.keys() & b.keys() if a[p] != b[p]}
    assert all(a[r["old"]] == b[r["new"]] for r in d["renamed"])


def test_trace_leaves_code_and_cmd_and_tells_a_stage_once(project):
    # a -> b -> c, and c also reads a's output directly (a diamond); b runs a script
    project.gen({"in.txt": "1\n", "tool.sh": "cat a.out\n"})
    stages = {
        "a": {"cmd": "cat in.txt > a.out", "deps": ["in.txt"], "outs": ["a.out"]},
        "b": {"cmd": "sh tool.sh > b.out", "deps": ["a.out", "tool.sh"], "outs": ["b.out"]},
        "c": {"cmd": "printf '{\"m\": %s}' $(cat a.out b.out | wc -c) > m.json",
              "deps": ["a.out", "b.out"], "metrics": [{"m.json": {"cache": False}}]},
    }
    project.gen({"mlvc.yaml": yaml.safe_dump({"stages": stages})})
    project.run("repro")
    project.commit_all("one")
    project.gen({"in.txt": "22\n", "tool.sh": "cat a.out a.out\n"})
    stages["a"]["cmd"] = "cat in.txt in.txt > a.out"
    project.gen({"mlvc.yaml": yaml.safe_dump({"stages": stages})})
    project.run("repro")
    (trace,) = diff_json(project)["traces"]
    c = trace["trace"]
    assert c["name"] == "c"
    first, second = c["children"]
    assert (first["name"], first["detail"]) == ("a", "makes a.out")
    assert first["children"] == [{"kind": "cmd", "name": "a", "detail": "changed"},
                                 {"kind": "file", "name": "in.txt", "detail": "modified"}]
    assert (second["name"], second["detail"]) == ("b", "makes b.out")
    assert second["children"][0] == {"kind": "stage", "name": "a",
                                     "detail": "makes a.out; see above"}
    assert second["children"][1] == {"kind": "file", "name": "tool.sh", "detail": "modified"}
    text = project.run("diff").stdout
    assert "├─ stage a: makes a.out" in text and "│  ├─ cmd: changed" in text
    assert "   └─ tool.sh: modified" in text


def test_metrics_and_params_show_and_diff(ml):
    first = json.loads(ml.read("metrics.json"))
    r = ml.run("metrics", "show")
    assert r.stdout == f"metrics.json:\n  accuracy: {first['accuracy']}\n  n: 3\n"
    assert ml.run("params", "show").stdout == "params.yaml:\n  train.lr: 0.5\n"  # declared only
    ml.gen({"params.yaml": "train:\n  lr: 1.5\n  epochs: 3\n"})
    ml.run("repro")
    ml.commit_all("v2")
    now = json.loads(ml.read("metrics.json"))
    assert json.loads(ml.run("metrics", "show", "HEAD~1", "workspace", "--json").stdout) == {
        "HEAD~1": {"metrics.json": first}, "workspace": {"metrics.json": now}}
    # every commit that has metrics (the first, `init mlvc`, has none), and the workspace
    every = json.loads(ml.run("metrics", "show", "-A", "--json").stdout)
    assert list(every)[0] == "workspace" and len(every) == 3
    # -a / -T: every branch and tag, by name (an old branch, a tag on the first version)
    ml.git("branch", "old", "HEAD~1")
    ml.git("tag", "v1", "HEAD~1")
    named = json.loads(ml.run("metrics", "show", "-a", "-T", "--json").stdout)
    assert named == {"workspace": {"metrics.json": now}, "main": {"metrics.json": now},
                     "old": {"metrics.json": first}, "v1": {"metrics.json": first}}
    assert list(json.loads(ml.run("params", "show", "-T", "--json").stdout)) == [
        "workspace", "v1"]
    doc = json.loads(ml.run("metrics", "diff", "HEAD~1", "HEAD", "--json").stdout)
    assert [(c["key"], c["old"], c["new"]) for c in doc["changes"]] == [
        ("accuracy", first["accuracy"], now["accuracy"])]
    assert json.loads(ml.run("metrics", "diff", "--json").stdout)["changes"] == []
    assert "No metrics changed." in ml.run("metrics", "diff").stdout
    r = ml.run("params", "diff", "HEAD~1", "--all")
    assert "params.yaml  train.lr  0.5 -> 1.5  (+1)" in r.stdout
    md = ml.run("metrics", "diff", "HEAD~1", "--all", "--md").stdout
    assert md.splitlines()[:2] == ["| file | key | old | new | change |", "|---|---|---|---|---|"]
    assert "| metrics.json | n | 3 | 3 | +0 |" in md
    (ml.root / "metrics.json").unlink()
    assert "metrics.json: not there" in ml.run("metrics", "show").stdout
    assert ml.run("metrics", "show", "--json").stdout.strip() == \
        '{\n  "workspace": {\n    "metrics.json": {}\n  }\n}'


def test_cached_metrics_are_read_from_the_cache_at_a_revision(project):
    project.gen({"x.txt": "4"})
    stages = {"s": {"cmd": "printf '{\"m\": %s}' $(cat x.txt) > m.json", "deps": ["x.txt"],
                    "metrics": ["m.json"]}}  # cached: git does not have it
    project.gen({"mlvc.yaml": yaml.safe_dump({"stages": stages})})
    project.run("repro")
    project.commit_all("one")
    assert project.git("ls-files", "m.json") == ""
    project.gen({"x.txt": "9"})
    project.run("repro")
    doc = json.loads(project.run("metrics", "diff", "--json").stdout)
    assert [(c["old"], c["new"], c["delta"]) for c in doc["changes"]] == [(4, 9, 5)]
    (trace,) = diff_json(project)["traces"]
    assert trace["trace"]["children"] == [{"kind": "file", "name": "x.txt",
                                           "detail": "modified"}]


def test_a_folder_dep_leads_to_the_stages_that_changed_inside_it(project):
    project.gen({"in": {"1": "a", "2": "b", "3": "c"}})
    stages = {
        "copy": {"foreach": ["1", "2", "3"],
                 "do": {"cmd": "mkdir -p out && cp in/${item} out/${item}",
                        "deps": ["in/${item}"], "outs": ["out/${item}"]}},
        "count": {"cmd": "printf '{\"bytes\": %s}' $(cat out/* | wc -c) > m.json",
                  "deps": ["out"], "metrics": [{"m.json": {"cache": False}}]},
    }
    project.gen({"mlvc.yaml": yaml.safe_dump({"stages": stages})})
    project.run("repro")
    project.commit_all("one")
    project.gen({"in": {"2": "bbbb"}})
    project.run("repro")
    (trace,) = diff_json(project)["traces"]
    (copy,) = trace["trace"]["children"]
    assert (copy["name"], copy["detail"]) == ("copy@2", "makes out")
    assert copy["children"] == [{"kind": "file", "name": "in/2", "detail": "modified"}]


def test_manifests_are_validated_once(project, monkeypatch):
    project.gen({"d": {"s": {"a": "1", "b": "2"}, "t": {"c": "3"}}})
    project.run("add", "d")
    project.commit_all("one")
    project.gen({"d": {"s": {"a": "changed"}}})
    for db in (project.root / ".mlvc/tmp").glob("state.db*"):
        db.unlink()  # as in a fresh clone after its pull: no manifest is known valid yet
    from mlvc.objects.tree import Tree

    checked = []
    real = Tree.from_bytes.__func__

    def counting(cls, data, oid="?"):
        checked.append(oid)
        return real(cls, data, oid)

    monkeypatch.setattr(Tree, "from_bytes", classmethod(counting))
    assert diff_json(project)["data"][0]["modified"] == ["d/s/a"]
    assert len(checked) == 2  # HEAD's d and d/s (d/t is the same on both sides: not read)
    checked.clear()
    assert diff_json(project)["data"][0]["modified"] == ["d/s/a"]
    assert checked == []


def test_a_project_in_a_sub_folder_of_the_git_repository(tmp_path):
    import subprocess

    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path / "repo")], check=True)
    root = tmp_path / "repo" / "ml"
    root.mkdir()
    project = Project(root)
    project.run("init")
    stages = {"s": {"cmd": "true", "metrics": [{"m.json": {"cache": False}}]}}
    project.gen({"m.json": '{"m": 1}', "mlvc.yaml": yaml.safe_dump({"stages": stages}),
                 "d": {"x": "1"}})
    project.run("add", "d")
    project.commit_all("one")
    project.gen({"m.json": '{"m": 4}', "d": {"x": "2"}})
    doc = diff_json(project)
    assert [(c["file"], c["old"], c["new"]) for c in doc["metrics"]] == [("m.json", 1, 4)]
    assert doc["data"][0]["modified"] == ["d/x"]
    assert json.loads(project.run("metrics", "show", "HEAD", "--json").stdout) == {
        "HEAD": {"m.json": {"m": 1}}}


def test_an_old_revision_whose_lock_does_not_parse_is_left_out_with_a_warning(project):
    project.gen({"mlvc.lock": "schema: 1\nstages: [broken\n", "d": {"a": "1"}})
    project.run("add", "d")
    project.commit_all("old")
    (project.root / "mlvc.lock").unlink()
    project.gen({"d": {"a": "2"}})
    project.run("commit")
    r = project.run("diff", "HEAD", "--json")
    assert "warning: HEAD:mlvc.lock" in r.stderr and "left out" in r.stderr
    assert json.loads(r.stdout)["data"][0]["modified"] == ["d/a"]


def test_a_revisions_pipeline_takes_its_vars_from_that_revision(project):
    # The metrics file's folder is a var of params.yaml and moved between the commits; the
    # old commit's metrics are where its own params put them, not where today's do.
    write = (f"{sys.executable} -c \"import json, os, sys; os.makedirs(sys.argv[1], "
             "exist_ok=True); json.dump({'acc': float(sys.argv[2])}, "
             "open(sys.argv[1] + '/m.json', 'w'))\"")
    stage = {"cmd": write + " ${out} ${score}",
             "metrics": [{"${out}/m.json": {"cache": False}}]}
    project.gen({"params.yaml": "out: first\nscore: 0.5\n",
                 "mlvc.yaml": yaml.safe_dump({"stages": {"eval": stage}})})
    project.run("repro")
    project.commit_all("v1")
    project.gen({"params.yaml": "out: second\nscore: 0.75\n"})
    (project.root / "first/m.json").unlink()
    project.run("repro")
    project.commit_all("v2")

    shown = json.loads(project.run("metrics", "show", "HEAD~1", "HEAD", "--json").stdout)
    assert shown == {"HEAD~1": {"first/m.json": {"acc": 0.5}},
                     "HEAD": {"second/m.json": {"acc": 0.75}}}
    doc = diff_json(project, "HEAD~1", "HEAD")
    assert {(m["file"], m["old"], m["new"]) for m in doc["metrics"]} == {
        ("first/m.json", 0.5, None), ("second/m.json", None, 0.75)}
    assert doc["warnings"] == []

    # A vars file that the workspace no longer has still serves the revision that had it.
    project.gen({"conf.yaml": "out: third\nscore: 0.25\n",
                 "mlvc.yaml": yaml.safe_dump({"vars": ["conf.yaml"],
                                              "stages": {"eval": stage}})})
    project.run("repro")
    project.commit_all("v3")
    project.git("rm", "-q", "conf.yaml")
    project.gen({"mlvc.yaml": yaml.safe_dump({"stages": {"eval": stage}})})
    project.commit_all("v4")
    shown = json.loads(project.run("metrics", "show", "HEAD~1", "--json").stdout)
    assert shown == {"HEAD~1": {"third/m.json": {"acc": 0.25}}}


def test_a_revisions_mlvcignore_decides_which_of_its_pointers_count(project):
    # v1 tracks two pointer files; v2 hides one of them with .mlvcignore. Comparing v1 with
    # v2 tells the hidden one as gone, and v1 alone (`ls --rev`) still lists both.
    project.gen({"a.txt": "a\n", "b.txt": "b\n"})
    project.run("add", "a.txt", "b.txt")
    project.commit_all("v1")
    project.gen({".mlvcignore": "b.txt.mlvc\n"})
    project.commit_all("v2")

    def listed(rev: str) -> set[str]:
        doc = json.loads(project.run("ls", "--rev", rev, "--json").stdout)
        return {e["path"] for e in doc["entries"]}

    assert listed("HEAD~1") == {"a.txt", "b.txt"}
    assert listed("HEAD") == {"a.txt"}
    doc = diff_json(project, "HEAD~1", "HEAD")
    assert [(d["path"], d["deleted"], d["new_oid"]) for d in doc["data"]] == [
        ("b.txt", ["b.txt"], None)]


def test_pipelines_parsed_for_old_revisions_are_kept_per_project_and_few(tmp_path,
                                                                        monkeypatch):
    from mlvc.ops import diff

    monkeypatch.setattr(diff, "_PARSED", diff.OrderedDict())
    monkeypatch.setattr(diff, "_PARSED_MAX", 3)
    projects = [new_project(tmp_path / name) for name in ("a", "b")]
    for p in projects:
        for n in range(5):  # five texts of mlvc.yaml, the same in both projects
            p.gen({"params.yaml": f"lr: {n}\n", "mlvc.yaml": yaml.safe_dump(
                {"stages": {"s": {"cmd": f"echo {n}", "params": ["lr"]}}})}, commit=f"v{n}")
        doc = json.loads(p.run("params", "show", "-A", "--json").stdout)
        assert sorted(v["params.yaml"]["lr"] for k, v in doc.items() if k != "workspace") \
            == [0, 1, 2, 3, 4]
    assert len(diff._PARSED) == 3  # (the most recently used)
    assert {root for root, _ in diff._PARSED} == {str(projects[1].root.resolve())}


def test_targets_choose_the_params_and_metrics_files_declared_or_not(project):
    stage = {"cmd": "true", "params": ["lr"], "metrics": [{"eval.json": {"cache": False}}]}
    project.gen({"params.yaml": "lr: 1\nepochs: 3\n", "other.yaml": "seed: 7\n",
                 "eval.json": '{"acc": 0.5}', "extra.json": '{"loss": 2, "f1": 0.1}',
                 "mlvc.yaml": yaml.safe_dump({"stages": {"train": stage}})}, commit="v1")
    project.gen({"eval.json": '{"acc": 0.6}', "extra.json": '{"loss": 1, "f1": 0.1}',
                 "other.yaml": "seed: 8\n"})

    def keys(doc):  # ({rev: {file: {key: value}}}, as DVC's)
        return sorted((f, k) for files in doc.values() for f, values in files.items()
                      for k in values)

    doc = json.loads(project.run("metrics", "show", "--json").stdout)
    assert keys(doc) == [("eval.json", "acc")]
    doc = json.loads(project.run("metrics", "show", "--targets", "extra.json", "--json").stdout)
    assert keys(doc) == [("extra.json", "f1"), ("extra.json", "loss")]  # (not declared)
    doc = json.loads(project.run("params", "show", "--targets", "other.yaml",
                                 "--targets", "params.yaml", "--json").stdout)
    assert keys(doc) == [("other.yaml", "seed"), ("params.yaml", "lr")]  # (declared keys)
    r = project.run("metrics", "diff", "--targets", "extra.json", "--json")
    assert [(c["file"], c["key"], c["old"], c["new"]) for c in json.loads(r.stdout)["changes"]] \
        == [("extra.json", "loss", 2, 1)]
    r = project.run("params", "diff", "--targets", "other.yaml")
    assert "seed" in r.stdout and "lr" not in r.stdout
    r = project.run("params", "diff", "--targets", "other.yaml", "--no-path")
    assert "\n  seed  7 -> 8" in r.stdout and "other.yaml" not in r.stdout
    r = project.run("metrics", "diff", "--targets", "extra.json", "--md", "--no-path")
    assert r.stdout == "| key | old | new | change |\n|---|---|---|---|\n| loss | 2 | 1 | -1 |\n"
    (project.root / "sub").mkdir()  # (a target is a path from the current folder)
    doc = json.loads(project.run("metrics", "show", "--targets", "../eval.json", "--json",
                                 cwd=project.root / "sub").stdout)
    assert keys(doc) == [("eval.json", "acc")]
    r = project.run("metrics", "show", "--targets", "none.json")
    assert "none.json: not there" in r.stdout


def test_recursive_metrics_targets_stand_for_the_declared_files_in_a_folder(project):
    stage = {"cmd": "true", "metrics": [{"eval/a.json": {"cache": False}},
                                        {"eval/deep/b.json": {"cache": False}},
                                        {"top.json": {"cache": False}}]}
    project.gen({"eval": {"a.json": '{"acc": 0.5}', "deep": {"b.json": '{"f1": 0.1}'},
                          "undeclared.json": '{"x": 1}'},
                 "top.json": '{"loss": 2}',
                 "mlvc.yaml": yaml.safe_dump({"stages": {"s": stage}})}, commit="v1")
    project.gen({"eval": {"deep": {"b.json": '{"f1": 0.2}'}}, "top.json": '{"loss": 1}'})

    def files(doc):
        return sorted({f for values in doc.values() for f in values})

    doc = json.loads(project.run("metrics", "show", "-R", "--targets", "eval", "--json").stdout)
    assert files(doc) == ["eval/a.json", "eval/deep/b.json"]  # (declared ones, at any depth)
    r = project.run("metrics", "show", "--targets", "eval")  # (without -R: a file, not there)
    assert "eval: not there" in r.stdout
    r = project.run("metrics", "diff", "--recursive", "--targets", "eval/deep", "--json")
    assert [(c["file"], c["old"], c["new"]) for c in json.loads(r.stdout)["changes"]] \
        == [("eval/deep/b.json", 0.1, 0.2)]
    doc = json.loads(project.run("metrics", "show", "-R", "--targets", "eval",
                                 "--targets", "top.json", "--json").stdout)
    assert files(doc) == ["eval/a.json", "eval/deep/b.json", "top.json"]
    assert project.run("params", "show", "-R", code=2).exit_code == 2  # (metrics alone, as DVC)


def test_precision_rounds_decimal_values_for_people_not_in_json(project):
    stage = {"cmd": "true", "metrics": [{"m.json": {"cache": False}}]}
    project.gen({"m.json": '{"acc": 0.123456789, "ok": true}',
                 "mlvc.yaml": yaml.safe_dump({"stages": {"s": stage}})}, commit="v1")
    project.gen({"m.json": '{"acc": 0.987654321, "ok": true}'})
    r = project.run("metrics", "show", "--precision", "3")
    assert "acc: 0.988" in r.stdout and "ok: true" in r.stdout
    assert "acc: 0.987654321" in project.run("metrics", "show").stdout  # (as written)
    r = project.run("metrics", "diff", "--precision", "2")
    assert "acc  0.12 -> 0.99  (+0.86)" in r.stdout
    doc = json.loads(project.run("metrics", "show", "--precision", "2", "--json").stdout)
    assert doc["workspace"]["m.json"]["acc"] == 0.987654321  # (JSON: the value itself)


def test_top_level_metrics_and_params_are_shown_and_compared_whole(ml):
    """DVC 3's top-level ``metrics:`` and ``params:`` in the pipeline file: files no stage
    declares (what a logger such as DVCLive writes), shown and compared whole, in `metrics`,
    `params`, `exp show` and `diff`."""
    doc = yaml.safe_load(ml.read("mlvc.yaml"))
    doc["metrics"] = ["live/metrics.json"]
    doc["params"] = ["config/extra.yaml"]
    ml.gen({"mlvc.yaml": yaml.safe_dump(doc, sort_keys=False),
            "live": {"metrics.json": json.dumps({"loss": 0.5, "step": 10})},
            "config": {"extra.yaml": "batch: 32\nopt:\n  name: adam\n"}})
    ml.commit_all("logged")
    shown = json.loads(ml.run("metrics", "show", "--json").stdout)["workspace"]
    assert shown["live/metrics.json"] == {"loss": 0.5, "step": 10}
    assert "metrics.json" in shown  # (the stage's, as before)
    params = json.loads(ml.run("params", "show", "--json").stdout)["workspace"]
    assert params["config/extra.yaml"] == {"batch": 32, "opt.name": "adam"}
    assert params["params.yaml"] == {"train.lr": 0.5}  # (a stage's: the keys it declares)
    ml.gen({"live": {"metrics.json": json.dumps({"loss": 0.25, "step": 20})},
            "config": {"extra.yaml": "batch: 64\nopt:\n  name: adam\n"}})
    changes = json.loads(ml.run("metrics", "diff", "--json").stdout)["changes"]
    assert [(c["file"], c["key"], c["old"], c["new"]) for c in changes] == [
        ("live/metrics.json", "loss", 0.5, 0.25), ("live/metrics.json", "step", 10, 20)]
    changes = json.loads(ml.run("params", "diff", "--json").stdout)["changes"]
    assert [(c["key"], c["old"], c["new"]) for c in changes] == [("batch", 32, 64)]
    assert json.loads(ml.run("params", "diff", "--deps", "--json").stdout)["changes"] == []
    shown = json.loads(ml.run("params", "show", "--deps", "--json").stdout)["workspace"]
    assert list(shown) == ["params.yaml"]
    assert "No such option '--deps'" in ml.run("metrics", "show", "--deps", code=2).stderr
    assert "live/metrics.json" in ml.run("diff").stdout
    rows = json.loads(ml.run("exp", "show", "--json").stdout)
    assert rows[0]["metrics"]["live/metrics.json"] == {"loss": 0.25, "step": 20}
    assert rows[0]["params"]["config/extra.yaml"]["batch"] == 64
    deps = json.loads(ml.run("exp", "show", "--param-deps", "--json").stdout)
    assert list(deps[0]["params"]) == ["params.yaml"]  # (what stages depend on)
    bad = dict(doc, metrics="live/metrics.json")
    ml.gen({"mlvc.yaml": yaml.safe_dump(bad, sort_keys=False)})
    assert "metrics: must be a list of file paths" in ml.run("metrics", "show").stderr
    ml.gen({"mlvc.yaml": yaml.safe_dump(dict(doc, params=["../out.yaml"]), sort_keys=False)})
    assert "params[0]" in ml.run("params", "show").stderr
    assert "params[0]" in ml.run("repro", code=1).stderr


def test_a_top_level_metrics_file_inside_a_cached_output_folder_is_read_at_revisions(
        project):
    """What a logger writes into a stage's cached output folder (DVCLive's
    dvclive/metrics.json): a revision's values come from the folder's manifest in the cache,
    as a cached metrics file's come from its oid."""
    write = (f"{sys.executable} -c \"import json, os, yaml; os.makedirs('live', exist_ok=True); "
             "json.dump({'acc': yaml.safe_load(open('params.yaml'))['lr'] * 2}, "
             "open('live/metrics.json', 'w'))\"")
    project.gen({"params.yaml": "lr: 0.25\n", "mlvc.yaml": yaml.safe_dump({
        "stages": {"train": {"cmd": write, "params": ["lr"], "outs": ["live"]}},
        "metrics": ["live/metrics.json"]})})
    project.run("repro")
    project.commit_all("v1")
    project.gen({"params.yaml": "lr: 1.5\n"})
    project.run("repro")
    project.commit_all("v2")
    shown = json.loads(project.run("metrics", "show", "HEAD~1", "HEAD", "--json").stdout)
    assert shown == {"HEAD~1": {"live/metrics.json": {"acc": 0.5}},
                     "HEAD": {"live/metrics.json": {"acc": 3.0}}}
    changes = json.loads(project.run("metrics", "diff", "HEAD~1", "HEAD", "--json").stdout)
    assert [(c["old"], c["new"]) for c in changes["changes"]] == [(0.5, 3.0)]
