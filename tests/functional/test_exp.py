"""``mlvc exp``: experiments as git commits on refs/mlvc/exps/…, and sharing them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import Project

# train: data + params -> model/ (cached) and metrics.json (kept in git).
TRAIN = (f"{sys.executable} -c \"import yaml, json, os; p = yaml.safe_load(open('params.yaml'));"
         " d = open('data/x.csv').read(); os.makedirs('model', exist_ok=True);"
         " open('model/w.txt', 'w').write(str(p['train']['lr']) + d);"
         " json.dump({'acc': round(1 - p['train']['lr'], 4), 'n': len(d)},"
         " open('metrics.json', 'w'))\"")
PIPELINE = {"stages": {"train": {
    "cmd": TRAIN, "deps": ["data"], "params": ["train"], "outs": ["model"],
    "metrics": [{"metrics.json": {"cache": False}}]}}}


@pytest.fixture
def ml(project: Project) -> Project:
    return make_ml(project)


def make_ml(project: Project) -> Project:
    """A project with data, params and a one-stage pipeline, run and committed."""
    project.gen({"data": {"x.csv": "1,2\n"},
                 "params.yaml": "# params\ntrain:\n  lr: 0.5  # rate\n  epochs: 3\n",
                 "mlvc.yaml": yaml.safe_dump(PIPELINE, sort_keys=False)})
    project.run("add", "data")
    project.run("repro")
    project.commit_all("v1")
    return project


def exps(p: Project, *args: str) -> list[dict]:
    return json.loads(p.run("exp", "list", "--json", *args).stdout)


def run_exp(p: Project, *args: str, code: int = 0) -> dict:
    return json.loads(p.run("exp", "run", "--json", *args, code=code).stdout)


def head(p: Project) -> str:
    return p.git("rev-parse", "HEAD").strip()


def test_run_saves_a_commit_on_its_ref_and_leaves_head_and_index(ml):
    before_head, before_index = head(ml), (ml.root / ".git/index").read_bytes()
    doc = run_exp(ml, "-S", "train.lr=0.25", "-n", "small")
    exp = doc["experiment"]
    assert exp["name"] == "small" and exp["baseline"] == before_head
    assert exp["ref"] == f"refs/mlvc/exps/{before_head[:2]}/{before_head[2:]}/small"
    assert ml.git("rev-parse", exp["ref"]).strip() == exp["rev"]
    assert ml.git("rev-parse", f"{exp['rev']}^").strip() == before_head
    assert head(ml) == before_head and (ml.root / ".git/index").read_bytes() == before_index
    assert doc["params"] == [{"file": "params.yaml", "key": "train.lr", "old": 0.5,
                              "new": 0.25, "op": "set"}]
    # The results stay in the workspace, the comment of params.yaml too.
    assert "  lr: 0.25 # rate\n" in ml.read("params.yaml")
    assert json.loads(ml.read("metrics.json"))["acc"] == 0.75
    # The commit holds them: params, lock, metrics.
    shown = ml.git("show", f"{exp['rev']}:params.yaml")
    assert "lr: 0.25" in shown and "# params" in shown
    assert json.loads(ml.git("show", f"{exp['rev']}:metrics.json"))["acc"] == 0.75
    lock = yaml.safe_load(ml.git("show", f"{exp['rev']}:mlvc.lock"))
    assert lock["stages"]["train"]["params"]["params.yaml"]["train.lr"] == 0.25
    # Its data went to the cache: the workspace can lose it and get it back.
    assert ml.run("status").stdout.strip().endswith("Data and pipelines are up to date.")


def test_names_are_made_up_unique_and_checked(ml):
    a = run_exp(ml, "-S", "train.lr=0.1")["experiment"]["name"]
    b = run_exp(ml, "-S", "train.lr=0.2")["experiment"]["name"]
    assert a != b and all("-" in n for n in (a, b))
    r = ml.run("exp", "run", "-n", a, code=1)
    assert f"experiment '{a}' exists already" in r.stderr and "-f" in r.stderr
    old = ml.git("rev-parse", exps(ml)[0]["ref"])
    doc = run_exp(ml, "-n", a, "-f", "-S", "train.lr=0.3")
    assert doc["replaced"] and {e["name"] for e in exps(ml)} == {a, b}
    assert ml.git("rev-parse", doc["experiment"]["ref"]) != old
    r = json.loads(ml.run("exp", "run", "--json", "-n", a, "-f").stdout)
    assert [s["state"] for s in r["repro"]["stages"]] == ["ran"]  # (-f: run anyway)
    r = ml.run("exp", "run", "-n", "a/b", code=1)
    assert "not a valid experiment name" in r.stderr


def test_a_bad_param_changes_nothing_and_a_failed_stage_saves_nothing(ml):
    params = ml.read("params.yaml")
    r = ml.run("exp", "run", "-S", "train.lr=0.1", "-S", "train.nope=1", code=1)
    assert "param 'train.nope' is not in params.yaml" in r.stderr and "+train.nope" in r.stderr
    assert ml.read("params.yaml") == params and exps(ml) == []
    r = ml.run("exp", "run", "--dry", "-S", "train.nope=1", code=1)  # (checked, --dry too)
    assert "param 'train.nope' is not in params.yaml" in r.stderr
    doc = run_exp(ml, "--dry", "-S", "train.lr=0.2")
    assert doc["experiment"] is None and doc["params"][0]["new"] == 0.2
    assert ml.read("params.yaml") == params and exps(ml) == []
    ml.gen({"params.yaml": "train:\n  lr: boom\n  epochs: 3\n"})  # (1 - "boom" fails)
    r = ml.run("exp", "run", "-n", "broken", code=1)
    assert "the experiment was not saved" in r.stderr
    assert exps(ml) == []


def test_untracked_files_are_left_out_and_named_but_pipeline_files_go_in(ml):
    ml.gen({"notes.txt": "scratch\n", "extra": {"e.csv": "9\n"}})
    ml.run("add", "extra")  # (extra.mlvc and its .gitignore line: untracked, mlvc's own)
    r = ml.run("exp", "run", "-n", "e1")
    assert "1 untracked file not in the experiment: notes.txt" in r.stderr
    rev = exps(ml)[0]["rev"]
    files = ml.git("ls-tree", "-r", "--name-only", rev).split()
    assert "extra.mlvc" in files and "notes.txt" not in files
    assert ml.git("status", "--porcelain", "--", "extra.mlvc").startswith("??")  # (index kept)


def test_show_lists_workspace_baseline_and_experiments_with_values(ml):
    run_exp(ml, "-n", "low", "-S", "train.lr=0.1")
    run_exp(ml, "-n", "high", "-S", "train.lr=0.9")
    rows = json.loads(ml.run("exp", "show", "--json").stdout)
    assert [(r["kind"], r["name"]) for r in rows] == [
        ("workspace", "workspace"), ("baseline", "main"), ("experiment", "high"),
        ("experiment", "low")]  # (newest first)
    by = {r["name"]: r for r in rows}
    assert by["low"]["metrics"]["metrics.json"]["acc"] == 0.9
    assert by["high"]["params"]["params.yaml"]["train.lr"] == 0.9
    assert by["main"]["params"]["params.yaml"]["train.lr"] == 0.5
    assert by["workspace"]["metrics"] == by["high"]["metrics"]
    rows = json.loads(ml.run("exp", "show", "--json", "--sort-by", "acc",
                             "--sort-order", "desc").stdout)
    assert [r["name"] for r in rows][2:] == ["low", "high"]
    text = ml.run("exp", "show", "--only-changed").stdout
    header = text.splitlines()[0].split()
    assert "acc" in header and "train.lr" in header and "train.epochs" not in header
    assert "└── low" in text and "├── high" in text
    header = ml.run("exp", "show", "--drop", "^train").stdout.splitlines()[0].split()
    assert "acc" in header and not any(h.startswith("train.") for h in header)
    header = ml.run("exp", "show", "--drop", ".", "--keep", r"params\.yaml:train\.lr",
                    ).stdout.splitlines()[0].split()
    assert header == ["Experiment", "rev", "Created", "train.lr"]
    header = ml.run("exp", "show", "--only-changed", "--keep", "epochs").stdout.split("\n")[0]
    assert "train.epochs" in header.split()
    assert "not a regular expression" in ml.run("exp", "show", "--drop", "(", code=1).stderr
    md = ml.run("exp", "show", "--md").stdout
    assert md.splitlines()[1].startswith("|---|")
    import csv

    table = list(csv.DictReader(ml.run("exp", "show", "--csv").stdout.splitlines()))
    assert [(r["Experiment"], r["kind"]) for r in table][1:] == [
        ("main", "baseline"), ("high", "experiment"), ("low", "experiment")]
    assert table[3]["train.lr"] == "0.1" and table[3]["acc"] == "0.9"
    assert table[2]["baseline"] == table[1]["rev"] and table[0]["rev"] == ""
    ml.run("exp", "show", "--csv", "--md", code=2)
    r = ml.run("exp", "show", "--sort-by", "nope", code=1)
    assert "no param or metric" in r.stderr


def test_diff_compares_experiments_by_name(ml):
    run_exp(ml, "-n", "low", "-S", "train.lr=0.1")
    run_exp(ml, "-n", "high", "-S", "train.lr=0.9")
    doc = json.loads(ml.run("exp", "diff", "low", "high", "--json").stdout)
    assert {(c["key"], c["old"], c["new"]) for c in doc["params"]} == {("train.lr", 0.1, 0.9)}
    assert {(c["key"], c["old"], c["new"]) for c in doc["metrics"]} == {("acc", 0.9, 0.1)}
    text = ml.run("exp", "diff").stdout  # HEAD against the workspace (high's results)
    assert "train.lr  0.5 -> 0.9" in text and "acc  0.5 -> 0.1" in text
    r = ml.run("exp", "diff", "nothing-such", code=1)
    assert "no experiment called 'nothing-such'" in r.stderr


def test_diff_param_deps_leaves_out_top_level_params_and_precision_rounds(ml):
    ml.gen({"extra.yaml": "depth: 2\n",
            "mlvc.yaml": yaml.safe_dump({**PIPELINE, "params": ["extra.yaml"]})},
           commit="top-level params")
    ml.gen({"extra.yaml": "depth: 3\n", "params.yaml": "train:\n  lr: 0.123456\n"
                                                      "  epochs: 3\n"})
    keys = {c["key"] for c in json.loads(ml.run("exp", "diff", "--json").stdout)["params"]}
    assert keys == {"depth", "train.lr"}
    doc = json.loads(ml.run("exp", "diff", "--param-deps", "--json").stdout)
    assert {c["key"] for c in doc["params"]} == {"train.lr"}
    text = ml.run("exp", "diff", "--precision", "2").stdout
    assert "train.lr  0.5 -> 0.12" in text and "0.123456" not in text
    assert "  params.yaml  train.lr  0.5 -> 0.123456" in ml.run("exp", "diff").stdout
    text = ml.run("exp", "diff", "--no-path").stdout
    assert "\n  train.lr  0.5 -> 0.123456" in text and "params.yaml" not in text
    md = ml.run("exp", "diff", "--no-path", "--md").stdout
    assert md.startswith("| key | old | new | change |\n|---|---|---|---|\n")
    assert "| train.lr | 0.5 | 0.123456 |" in md and "params.yaml" not in md


def test_apply_brings_back_files_and_data_and_keeps_unsaved_work(ml):
    run_exp(ml, "-n", "low", "-S", "train.lr=0.1")
    run_exp(ml, "-n", "high", "-S", "train.lr=0.9")
    # The workspace holds high's results, saved in its commit: apply may replace them.
    doc = json.loads(ml.run("exp", "apply", "low", "--json").stdout)
    assert set(doc["written"]) == {"params.yaml", "metrics.json", "mlvc.lock"}
    assert doc["data"]["modified"] == ["model/w.txt"]
    assert ml.read("model/w.txt").startswith("0.1") and "lr: 0.1" in ml.read("params.yaml")
    assert ml.run("status").stdout.strip().endswith("Data and pipelines are up to date.")
    assert head(ml) == ml.git("rev-parse", "main").strip()
    # An edit saved nowhere stops the apply before anything changes.
    ml.gen({"params.yaml": ml.read("params.yaml") + "# mine\n"})
    before = ml.snapshot()
    r = ml.run("exp", "apply", "high", code=1)
    assert "unsaved changes in the workspace: params.yaml" in r.stderr
    assert ml.snapshot() == before
    ml.run("exp", "apply", "high", "-f")
    assert "# mine" not in ml.read("params.yaml") and ml.read("model/w.txt").startswith("0.9")


def test_apply_of_an_older_baseline_says_so(ml):
    run_exp(ml, "-n", "old", "-S", "train.lr=0.1")
    ml.git("checkout", "-q", "--", "params.yaml", "metrics.json", "mlvc.lock")
    ml.run("checkout")
    ml.gen({"README": "later\n"}, commit="v2")
    r = ml.run("exp", "apply", "old")
    assert "started from" in r.stderr and "not from HEAD" in r.stderr
    assert not (ml.root / "README").exists()  # (as the experiment has it)


def test_branch_and_remove(ml):
    run_exp(ml, "-n", "low", "-S", "train.lr=0.1")
    run_exp(ml, "-n", "high", "-S", "train.lr=0.9")
    rev = exps(ml)[1]["rev"]
    doc = json.loads(ml.run("exp", "branch", "low", "try-low", "--json").stdout)
    assert doc["branch"] == "try-low" and doc["experiment"]["rev"] == rev
    assert ml.git("rev-parse", "try-low").strip() == rev
    r = ml.run("exp", "branch", "high", "try-low", code=1)
    assert "exists already" in r.stderr
    ml.run("exp", "remove", "low")
    assert [e["name"] for e in exps(ml)] == ["high"]
    assert ml.git("rev-parse", "try-low").strip() == rev  # (the branch stays)
    ml.run("exp", "remove", "low", code=1)
    r = ml.run("exp", "remove", code=1)
    assert "name the experiments to remove" in r.stderr
    ml.run("exp", "remove", "-A")
    assert exps(ml, "-A") == []


def test_show_takes_baselines_by_rev_tags_and_all_ancestors_and_names_them(ml):
    run_exp(ml, "-n", "first", "-S", "train.lr=0.1")
    ml.git("checkout", "-q", "--", "params.yaml", "metrics.json", "mlvc.lock")
    ml.run("checkout")
    base1 = head(ml)
    ml.git("tag", "-a", "v1", "-m", "one")  # (annotated: named by the commit it peels to)
    ml.gen({"README": "later\n"}, commit="two")
    ml.git("checkout", "-q", "-b", "side")  # (HEAD's commit now has two branches)
    ml.git("checkout", "-q", "-")
    run_exp(ml, "-n", "second", "-S", "train.lr=0.2")

    def rows(*args: str) -> list[tuple[str, str]]:
        doc = json.loads(ml.run("exp", "show", "--json", "--hide-workspace", *args).stdout)
        return [(r["name"], r["kind"]) for r in doc]

    branch = ml.git("branch", "--show-current").strip()
    assert rows() == [(branch, "baseline"), ("second", "experiment")]
    assert rows("--rev", "v1") == [("v1", "baseline"), ("first", "experiment")]
    assert rows("--rev", base1[:10]) == rows("--rev", "v1")
    assert rows("-T") == [(branch, "baseline"), ("second", "experiment"), ("v1", "baseline"),
                          ("first", "experiment")]
    assert rows("-n", "2") == rows("-T")
    every = ml.git("rev-list", "--first-parent", "HEAD").split()
    assert len(every) > 2 and rows("-n", "-1") == [*rows("-T"), *(
        (sha[:7], "baseline") for sha in every[2:])]  # (negative: every first parent)
    assert rows("--sha", "-n", "2")[::2] == [(head(ml)[:7], "baseline"),
                                             (base1[:7], "baseline")]
    assert "unknown revision 'nope'" in ml.run("exp", "show", "--rev", "nope", code=1).stderr
    assert "0 would show no baseline" in ml.run("exp", "show", "-n", "0", code=2).stderr


def test_remove_keep_removes_every_other_and_queue_empties_the_queue(ml):
    run_exp(ml, "-n", "a", "-S", "train.lr=0.1")
    run_exp(ml, "-n", "b", "-S", "train.lr=0.2")
    ml.git("checkout", "-q", "--", "params.yaml", "metrics.json", "mlvc.lock")
    ml.run("checkout")
    ml.gen({"README": "later\n"}, commit="two")
    run_exp(ml, "-n", "c", "-S", "train.lr=0.3")  # (of another baseline)
    ml.run("exp", "run", "--queue", "-n", "waiting", "-S", "train.lr=0.4")
    r = ml.run("exp", "remove", "--keep", "b")
    assert r.stdout.startswith("Removed 2 experiments: ") and {"a", "c"} == set(
        r.stdout.split(": ")[1].strip().split(", "))
    assert [e["name"] for e in exps(ml, "-A")] == ["b"]
    ml.run("exp", "remove", "--keep", "--queue", "b", code=2)
    doc = json.loads(ml.run("exp", "remove", "--queue", "--json").stdout)
    assert doc["experiments"] == [] and [e["name"] for e in doc["queued"]] == ["waiting"]
    assert "Nothing is queued" in ml.run("queue", "status").stdout
    assert [e["name"] for e in exps(ml, "-A")] == ["b"]  # (--queue alone: only the queue)
    ml.run("exp", "remove", "--keep", code=1)  # (nothing chosen to keep)


def test_gc_keeps_experiments_only_when_asked(ml):
    run_exp(ml, "-n", "low", "-S", "train.lr=0.1")
    ml.git("checkout", "-q", "--", "params.yaml", "metrics.json", "mlvc.lock")
    ml.run("checkout")
    low = json.loads(ml.run("exp", "apply", "low", "--json", "--", ).stdout)
    assert low["data"]["modified"]
    ml.git("checkout", "-q", "--", "params.yaml", "metrics.json", "mlvc.lock")
    ml.run("checkout")
    dry = json.loads(ml.run("gc", "-w", "--all-experiments", "--dry", "--json").stdout)
    assert dry["removed"] == []
    dry = json.loads(ml.run("gc", "-A", "--dry", "--json").stdout)
    assert dry["removed"] == []  # (every commit: experiments' too)
    dry = json.loads(ml.run("gc", "-w", "--dry", "--json").stdout)
    # low's model folder (its manifest and its file) and its metrics.json (kept in the
    # cache for the run cache, as mlvc.lock records it)
    assert len(dry["removed"]) == 3


@pytest.fixture
def shared(ml, tmp_path):
    """``ml`` with a bare git remote (origin) and a folder remote (store) both pushed to."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(tmp_path / "origin.git")],
                   check=True)
    ml.run("remote", "add", "-d", "store", str(tmp_path / "store"))
    ml.commit_all("remote")
    ml.git("remote", "add", "origin", str(tmp_path / "origin.git"))
    ml.git("push", "-q", "origin", "main")
    ml.run("push")
    return ml


def test_push_and_pull_share_experiments_with_their_data(shared, tmp_path):
    run_exp(shared, "-n", "low", "-S", "train.lr=0.1")
    shared.run("exp", "push", "origin", "low")
    there = json.loads(shared.run("exp", "list", "origin", "-A", "--json").stdout)
    assert [e["name"] for e in there] == ["low"]
    subprocess.run(["git", "clone", "-q", str(tmp_path / "origin.git"), str(tmp_path / "c")],
                   check=True)
    clone = Project(tmp_path / "c")
    doc = json.loads(clone.run("exp", "pull", "origin", "low", "--json").stdout)
    assert [e["name"] for e in doc["experiments"]] == ["low"] and doc["data"]["transferred"]
    clone.run("exp", "apply", "low")
    assert clone.read("model/w.txt").startswith("0.1")
    rev = doc["experiments"][0]["rev"]
    r = clone.run("exp", "remove", "-g", "origin", rev[:1], code=1)  # (too short for a sha)
    assert f"has no experiment '{rev[:1]}'" in r.stderr
    clone.run("exp", "remove", "-g", "origin", "low")
    assert json.loads(clone.run("exp", "list", "origin", "-A", "--json").stdout) == []
    r = clone.run("exp", "pull", "origin", "low", code=1)
    assert "has no experiment 'low'" in r.stderr


def test_push_and_pull_run_cache_with_the_experiments(shared, tmp_path):
    """`exp push/pull --run-cache` (DVC's): the runs travel too, so that the clone's repro
    of the experiment's params restores the outputs instead of running the stages."""
    run_exp(shared, "-n", "low", "-S", "train.lr=0.1")
    doc = json.loads(shared.run("exp", "push", "origin", "low", "--run-cache",
                                "--json").stdout)
    assert doc["data"]["runs"] >= 1
    subprocess.run(["git", "clone", "-q", str(tmp_path / "origin.git"), str(tmp_path / "c")],
                   check=True)
    clone = Project(tmp_path / "c")
    r = clone.run("exp", "pull", "origin", "low", "--run-cache")
    assert "run-cache record" in r.stdout
    clone.run("pull")
    doc = json.loads(clone.run("exp", "run", "-S", "train.lr=0.1", "--json").stdout)
    states = {s["stage"]: s["state"] for s in doc["repro"]["stages"]}
    assert "ran" not in states.values() and "restored" in states.values()
    assert "choose one" in clone.run("exp", "pull", "origin", "low", "--run-cache",
                                     "--no-cache", code=2).stderr


def test_push_sends_no_ref_whose_data_is_not_on_the_remote(shared):
    doc = run_exp(shared, "-n", "low", "-S", "train.lr=0.1")
    outs = yaml.safe_load(shared.read("mlvc.lock"))["stages"]["train"]["outs"]
    (tree,) = [o["oid"] for o in outs if o["path"] == "model"]
    obj = shared.root / ".mlvc/cache/objects" / tree[:2] / tree[2:]
    obj.unlink()  # (the experiment's manifest is gone from the cache)
    r = shared.run("exp", "push", "origin", "low", code=1)
    assert "refs were not pushed" in r.stderr
    assert shared.git("ls-remote", "origin", "refs/mlvc/*") == ""
    assert doc["experiment"]["name"] == "low"


def test_a_project_in_a_sub_folder_of_the_work_tree(tmp_path):
    top = tmp_path / "top"
    top.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=top, check=True)
    (top / "other.txt").write_text("outside the project\n")
    p = new_project_in(top / "sub")
    p.gen({"data": {"x.csv": "1,2\n"}, "params.yaml": "train:\n  lr: 0.5\n",
           "mlvc.yaml": yaml.safe_dump(PIPELINE, sort_keys=False)})
    p.run("add", "data")
    p.run("repro")
    p.commit_all("v1")
    rev = run_exp(p, "-n", "s", "-S", "train.lr=0.2")["experiment"]["rev"]
    assert "lr: 0.2" in p.git("show", f"{rev}:sub/params.yaml")
    p.git("checkout", "-q", "--", ".")
    p.run("checkout")
    p.run("exp", "apply", "s")
    assert "lr: 0.2" in p.read("params.yaml") and p.read("model/w.txt").startswith("0.2")


def new_project_in(root) -> Project:
    root.mkdir()
    p = Project(root)
    p.run("init")
    return p


def test_without_git_or_a_commit(tmp_path):
    root = tmp_path / "nogit"
    root.mkdir()
    p = Project(root)
    p.run("init", "--no-scm")
    r = p.run("exp", "run", code=1)
    assert "experiments are git commits" in r.stderr
    q = tmp_path / "fresh"
    q.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=q, check=True)
    p = Project(q)
    p.run("init")
    r = p.run("exp", "run", code=1)
    assert "starts from a commit" in r.stderr


def test_no_name_collision_across_baselines_resolves_to_head(ml):
    run_exp(ml, "-n", "same", "-S", "train.lr=0.1")
    first = exps(ml)[0]["rev"]
    ml.commit_all("v2")
    run_exp(ml, "-n", "same", "-S", "train.lr=0.2")
    assert len(exps(ml, "-A")) == 2
    doc = json.loads(ml.run("exp", "diff", "same", "--json").stdout)  # (HEAD's, v2's)
    assert doc["params"] == []
    assert first[:7] in ml.run("exp", "list", "-A", "--sha").stdout


def test_a_change_git_could_take_for_clean_goes_into_the_experiment(ml):
    """A params file changed in the second its index entry was written, size kept: git tells
    it from a clean one only because the index file is as new as the entry (racy git)."""
    import os

    when = 1_700_000_000
    params = ml.root / "params.yaml"
    os.utime(params, (when, when))
    ml.git("add", "params.yaml")
    os.utime(ml.root / ".git/index", (when, when))
    params.write_text(params.read_text().replace("0.5", "0.7"))  # (same size)
    os.utime(params, (when, when))
    rev = run_exp(ml, "-n", "racy")["experiment"]["rev"]
    assert "lr: 0.7" in ml.git("show", f"{rev}:params.yaml")


def test_apply_never_writes_through_a_symlinked_folder(ml, tmp_path):
    ml.gen({"conf": {"c.yaml": "a: 1\n"}}, commit="conf")
    ml.git("rm", "-q", "-r", "--cached", "conf")  # (the experiment changes conf/c.yaml)
    ml.gen({"conf": {"c.yaml": "a: 2\n"}})
    ml.git("add", "conf")
    run_exp(ml, "-n", "c2")
    ml.git("reset", "-q", "--hard")
    outside = tmp_path / "outside"
    outside.mkdir()
    import shutil

    shutil.rmtree(ml.root / "conf")
    (ml.root / "conf").symlink_to(outside)
    r = ml.run("exp", "apply", "c2", "-f", code=1)
    assert "leads that path out of the git work tree" in r.stderr
    assert list(outside.iterdir()) == []


def test_save_keeps_the_workspace_as_it_is_once_status_is_clean(ml):
    ml.gen({"params.yaml": "# params\ntrain:\n  lr: 0.3  # rate\n  epochs: 3\n"})
    r = ml.run("exp", "save", "-n", "by-hand", code=1)  # (train is out of date)
    assert "differs from its pointer files and mlvc.lock (train)" in r.stderr
    assert "`mlvc repro`" in r.stderr and exps(ml) == []
    ml.run("repro")
    doc = json.loads(ml.run("exp", "save", "-n", "by-hand", "-m", "tried 0.3",
                            "--json").stdout)
    rev = doc["experiment"]["rev"]
    assert doc["repro"] is None and [e["name"] for e in exps(ml)] == ["by-hand"]
    assert "lr: 0.3" in ml.git("show", f"{rev}:params.yaml")
    assert ml.git("log", "-1", "--format=%s", rev).strip() == "tried 0.3"
    r = ml.run("exp", "save", "-n", "by-hand", code=1)
    assert "exists already" in r.stderr


def test_save_include_untracked_adds_those_files_to_the_experiment(ml):
    ml.gen({"notes.txt": "why", "src": {"a.py": "a", "b.py": "b"}, "other.txt": "no",
            ".gitignore": ml.read(".gitignore") + "/secret.txt\n", "secret.txt": "s"})
    r = ml.run("exp", "save", "-n", "noted", "-I", "notes.txt", "-I", "src", "--json")
    doc = json.loads(r.stdout)
    files = ml.git("ls-tree", "-r", "--name-only", doc["experiment"]["rev"]).split()
    assert {"notes.txt", "src/a.py", "src/b.py"} <= set(files) and "other.txt" not in files
    assert doc["left_out"] == ["other.txt"]
    assert "notes.txt" in ml.git("status", "--porcelain")  # (still untracked in the workspace)
    r = ml.run("exp", "save", "-n", "x", "-I", "secret.txt", code=1)
    assert "git ignores it" in r.stderr
    assert "no such file" in ml.run("exp", "save", "-n", "x", "-I", "nope", code=1).stderr


def test_apply_tells_symlinks_and_folders_from_saved_files(ml):
    import os
    import shutil

    ml.gen({"conf": {"real.yaml": "a: 1\n"}})
    os.symlink("real.yaml", ml.root / "conf" / "link.yaml")
    ml.commit_all("conf")
    os.unlink(ml.root / "conf" / "link.yaml")
    os.symlink("other.yaml", ml.root / "conf" / "link.yaml")  # (git-kept: goes in)
    run_exp(ml, "-n", "relinked")
    os.unlink(ml.root / "conf" / "link.yaml")
    os.symlink("real.yaml", ml.root / "conf" / "link.yaml")  # (as HEAD: saved)
    ml.run("exp", "apply", "relinked")
    assert os.readlink(ml.root / "conf" / "link.yaml") == "other.yaml"
    os.unlink(ml.root / "conf" / "link.yaml")
    (ml.root / "conf" / "link.yaml").mkdir()  # (a folder where the experiment has a link)
    (ml.root / "conf" / "link.yaml" / "mine.txt").write_text("unsaved\n")
    r = ml.run("exp", "apply", "relinked", code=1)
    assert "unsaved changes in the workspace: conf/link.yaml" in r.stderr
    shutil.rmtree(ml.root / "conf" / "link.yaml")


def test_what_the_user_staged_goes_in_and_stays_staged(ml):
    ml.gen({"notes.md": "a new file, staged\n"})
    ml.git("add", "notes.md")
    rev = run_exp(ml, "-n", "with-notes")["experiment"]["rev"]
    assert ml.git("show", f"{rev}:notes.md") == "a new file, staged\n"
    assert ml.git("diff", "--cached", "--name-only").split() == ["notes.md"]


def test_rename_moves_the_ref_and_keeps_the_commit(ml):
    a = run_exp(ml, "-S", "train.lr=0.1", "-n", "a")["experiment"]
    run_exp(ml, "-S", "train.lr=0.2", "-n", "b")
    doc = json.loads(ml.run("exp", "rename", "a", "first", "--json").stdout)
    assert doc["new"]["rev"] == a["rev"] and doc["old"]["name"] == "a"
    assert {e["name"]: e["rev"] for e in exps(ml)}["first"] == a["rev"]
    assert "a" not in {e["name"] for e in exps(ml)}
    # A taken name is refused (nothing changes) unless -f; a bad name is refused.
    r = ml.run("exp", "rename", "first", "b", code=1)
    assert "exists already" in r.stderr and {e["name"] for e in exps(ml)} == {"first", "b"}
    assert "not a valid experiment name" in ml.run("exp", "rename", "b", "x/y", code=1).stderr
    ml.run("exp", "rename", "first", "b", "-f")
    assert [(e["name"], e["rev"]) for e in exps(ml)] == [("b", a["rev"])]


def test_num_takes_the_experiments_of_n_baselines(shared):
    """As DVC's `exp list/remove/push/pull -n N`: the experiments of --rev (default HEAD)
    and of the N-1 commits before it; here and on a git remote."""
    run_exp(shared, "-n", "first", "-S", "train.lr=0.1")
    shared.gen({"notes.txt": "second baseline"})
    shared.commit_all("second")
    run_exp(shared, "-n", "second", "-S", "train.lr=0.2")
    shared.gen({"notes.txt": "third baseline"})
    shared.commit_all("third")
    run_exp(shared, "-n", "third", "-S", "train.lr=0.3")

    def names(*args: str) -> list[str]:
        return sorted(e["name"] for e in json.loads(
            shared.run("exp", "list", *args, "--json").stdout))

    assert names() == ["third"]
    assert names("-n", "2") == ["second", "third"]
    assert names("--rev", "HEAD~1", "-n", "2") == ["first", "second"]
    doc = json.loads(shared.run("exp", "push", "origin", "-n", "2", "--json").stdout)
    assert sorted(e["name"] for e in doc["experiments"]) == ["second", "third"]
    assert names("origin", "-n", "3") == ["second", "third"]
    shared.run("exp", "remove", "-g", "origin", "-n", "3")
    assert names("origin", "-A") == []
    shared.run("exp", "remove", "-n", "2")
    assert names("-A") == ["first"]
    assert "0 is not in the range" in shared.run("exp", "list", "-n", "0", code=2).stderr
