"""mlvc stage add / stage list / dag, and stage outputs travelling through remotes."""

from __future__ import annotations

import json

import yaml

from tests.conftest import snapshot

KEPT = """\
# Our pipeline. Keep this comment.
stages:
  prepare:   # makes the data
    cmd: python prepare.py
    outs:
    - data/prepared   # the prepared set
"""


def test_stage_add_keeps_comments_and_order(project):
    project.gen({"mlvc.yaml": KEPT, "params.yaml": "train: {lr: 0.1}\nother: {k: 1}\n"})
    project.run("stage", "add", "-n", "train", "-d", "data/prepared", "-d", "train.py",
                "-p", "train.lr", "-p", "other.yaml:", "-p", "params.yaml:other.k",
                "-o", "model.pkl", "-M", "metrics.json", "--plots", "roc.csv",
                "--plots-no-cache", "loss.csv", "python", "train.py", "--epochs", "3")
    text = project.read("mlvc.yaml")
    assert text.startswith(KEPT)  # the existing text, comments and all, is untouched
    doc = yaml.safe_load(text)
    assert list(doc["stages"]) == ["prepare", "train"]
    train = doc["stages"]["train"]
    assert train["cmd"] == "python train.py --epochs 3"
    assert train["deps"] == ["data/prepared", "train.py"]
    assert train["params"] == ["train.lr", "other.k", {"other.yaml": None}]
    assert train["outs"] == ["model.pkl"]
    assert train["metrics"] == [{"metrics.json": {"cache": False}}]
    assert train["plots"] == ["roc.csv", {"loss.csv": {"cache": False}}]
    listed = project.run("stage", "list").stdout
    assert "prepare" in listed and "train" in listed and "model.pkl" in listed


def test_stage_add_persist_always_changed_and_run(project):
    project.gen({"in.txt": "1\n"})
    r = project.run("stage", "add", "-n", "s", "-d", "in.txt", "-o", "out.txt",
                    "--outs-persist", "ckpt", "--outs-persist-no-cache", "log.txt",
                    "--always-changed", "--run",
                    "cat in.txt > out.txt && echo run >> ckpt && echo run >> log.txt")
    assert "Added stage 's'" in r.stdout and "Running stage 's'" in r.stdout
    s = yaml.safe_load(project.read("mlvc.yaml"))["stages"]["s"]
    assert s["outs"] == ["out.txt", {"ckpt": {"persist": True}},
                         {"log.txt": {"cache": False, "persist": True}}]
    assert s["always_changed"] is True
    assert project.read("out.txt") == "1\n" and "s" in yaml.safe_load(
        project.read("mlvc.lock"))["stages"]
    project.run("repro")  # always changed: runs again; persisted outputs are not cleared
    assert project.read("ckpt") == "run\nrun\n" and project.read("log.txt") == "run\nrun\n"
    # --run runs that stage alone (-s); a failing command fails the command
    r = project.run("stage", "add", "-n", "t", "-d", "out.txt", "-o", "t.txt", "--run",
                    "--json", "exit 4", code=1)
    doc = json.loads(r.stdout)
    assert doc["stage"]["name"] == "t" and not doc["repro"]["ok"]
    assert [st["stage"] for st in doc["repro"]["stages"]] == ["t"]
    assert "t" in yaml.safe_load(project.read("mlvc.yaml"))["stages"]  # (added all the same)


def test_stage_add_refuses_duplicates_and_bad_graphs(project):
    project.gen({"mlvc.yaml": KEPT})
    result = project.run("stage", "add", "-n", "prepare", "-o", "x", "true", code=1)
    assert "exists already" in result.stderr and "-f" in result.stderr
    result = project.run("stage", "add", "-n", "other", "-o", "data/prepared", "true", code=1)
    assert "declared by two stages" in result.stderr
    assert project.read("mlvc.yaml") == KEPT
    project.run("stage", "add", "-f", "-n", "prepare", "-o", "data/p2", "python p2.py")
    assert yaml.safe_load(project.read("mlvc.yaml"))["stages"]["prepare"]["outs"] == ["data/p2"]


def test_stage_add_from_a_subfolder_sets_wdir(project):
    project.gen({"sub": {"in.txt": "x"}})
    project.run("stage", "add", "-n", "s", "-d", "in.txt", "-o", "out.txt", "cp in.txt out.txt",
                cwd=project.root / "sub")
    stage = yaml.safe_load(project.read("mlvc.yaml"))["stages"]["s"]
    assert stage["wdir"] == "sub"
    project.run("repro")
    assert project.read("sub/out.txt") == "x"
    lock = yaml.safe_load(project.read("mlvc.lock"))
    assert [o["path"] for o in lock["stages"]["s"]["outs"]] == ["sub/out.txt"]


PIPE = {"stages": {
    "prepare": {"cmd": "echo p > p.out", "outs": ["p.out"]},
    "train": {"cmd": "cat p.out > t.out", "deps": ["p.out"], "outs": ["t.out"]},
    "evaluate": {"cmd": "cat t.out p.out > e.out", "deps": ["t.out", "p.out"],
                 "outs": ["e.out"]},
    "lonely": {"cmd": "echo l > l.out", "outs": ["l.out"]},
}}


def test_dag_text_dot_mermaid_json(project):
    project.gen({"mlvc.yaml": yaml.safe_dump(PIPE, sort_keys=False)})
    assert project.run("dag").stdout.splitlines() == [
        "prepare",
        "├─▶ train",
        "│   └─▶ evaluate",
        "└─▶ evaluate",
        "lonely",
    ]
    dot = project.run("dag", "--dot").stdout
    assert '"prepare" -> "train";' in dot and '"train" -> "evaluate";' in dot
    assert dot.startswith("strict digraph {")
    mermaid = project.run("dag", "--mermaid").stdout
    assert mermaid.startswith("flowchart TD") and "-->" in mermaid
    md = project.run("dag", "--md").stdout
    assert md == f"```mermaid\n{mermaid.rstrip()}\n```\n"  # (a Markdown code block)
    assert project.run("stage", "list", "--name-only").stdout.split() == [
        "prepare", "train", "evaluate", "lonely"]
    doc = json.loads(project.run("dag", "--json", "evaluate").stdout)
    assert doc["nodes"] == ["prepare", "train", "evaluate"]
    assert sorted(map(tuple, doc["edges"])) == [("prepare", "evaluate"), ("prepare", "train"),
                                                ("train", "evaluate")]
    # --full: the target's whole pipeline (train alone shows prepare; --full evaluate too)
    assert json.loads(project.run("dag", "--json", "train").stdout)["nodes"] == [
        "prepare", "train"]
    assert json.loads(project.run("dag", "--json", "--full", "train").stdout)["nodes"] == [
        "prepare", "train", "evaluate"]
    # -o: the outputs, each pointing at the outputs of the stages that read it
    doc = json.loads(project.run("dag", "--json", "-o").stdout)
    assert sorted(doc["nodes"]) == ["e.out", "l.out", "p.out", "t.out"]
    assert sorted(map(tuple, doc["edges"])) == [("p.out", "e.out"), ("p.out", "t.out"),
                                                ("t.out", "e.out")]
    assert project.run("dag", "-o", "--dot", "train").stdout.splitlines()[-2:] == [
        '\t"p.out" -> "t.out";', "}"]


def test_dag_collapses_each_foreach_and_matrix_into_one_node(project):
    stages = {
        "split": {"foreach": ["a", "b"], "do": {"cmd": "echo ${item} > s-${item}.out",
                                                "outs": ["s-${item}.out"]}},
        "fit": {"matrix": {"m": ["x", "y"]}, "cmd": "cat s-a.out s-b.out > f-${item.m}.out",
                "deps": ["s-a.out", "s-b.out"], "outs": ["f-${item.m}.out"]},
        "report": {"cmd": "cat f-x.out f-y.out > r.out", "deps": ["f-x.out", "f-y.out"],
                   "outs": ["r.out"]}}
    project.gen({"mlvc.yaml": yaml.safe_dump({"stages": stages}, sort_keys=False)})
    doc = json.loads(project.run("dag", "--json").stdout)
    assert len(doc["nodes"]) == 5 and len(doc["edges"]) == 6
    doc = json.loads(project.run("dag", "--collapse-foreach-matrix", "--json").stdout)
    assert doc == {"nodes": ["split", "fit", "report"],
                   "edges": [["split", "fit"], ["fit", "report"]]}
    assert project.run("dag", "--collapse-foreach-matrix").stdout.splitlines() == [
        "split", "└─▶ fit", "    └─▶ report"]
    assert "choose one" in project.run("dag", "--collapse-foreach-matrix", "-o",
                                       code=2).stderr


def test_stage_outputs_push_and_pull_with_history(project, tmp_path):
    store = tmp_path / "store"
    project.gen({"mlvc.yaml": yaml.safe_dump(PIPE, sort_keys=False)})
    project.run("repro")
    project.commit_all("v1")
    project.gen({"mlvc.yaml": yaml.safe_dump(
        {"stages": {**PIPE["stages"], "prepare": {"cmd": "echo p2 > p.out",
                                                  "outs": ["p.out"]}}}, sort_keys=False)})
    project.run("repro")
    project.commit_all("v2")
    project.run("remote", "add", "-d", "store", str(store))
    pushed = json.loads(project.run("push", "-A", "--json").stdout)
    # distinct contents: v2 "p2" (p.out and t.out), "p2 p2", "l"; v1 "p" (twice), "p p"
    assert pushed["transferred"] == 5, pushed
    project.git("checkout", "-q", "HEAD~1")
    for name in ("p.out", "t.out", "e.out", "l.out"):
        (project.root / name).unlink()
    import shutil

    shutil.rmtree(project.root / ".mlvc" / "cache")
    project.run("pull")
    assert project.read("e.out") == "p\np\n"


GROUPS = """\
# Our pipeline. Keep this comment.
stages:
  prep:   # makes the data
    cmd: (echo prep; cat raw) > prep.out
    deps: [raw]
    outs: [prep.out]
  train:
    foreach: [a, b]
    do:
      cmd: (echo ${item}; cat prep.out) > m_${item} && echo 1 > s_${item}.json
      deps: [prep.out]
      outs:
      - m_${item}
      metrics:
      - s_${item}.json: {cache: false}
"""


def _ran(project):
    project.gen({"raw": "r\n", "mlvc.yaml": GROUPS})
    project.run("repro")
    project.commit_all("ran")
    return project


def test_remove_of_a_stage_takes_it_out_of_the_pipeline_lock_and_gitignore(project):
    """`dvc remove STAGE`: the stage, its lock entry and its outputs' .gitignore lines go;
    the outputs stay in the workspace (and their bytes in the cache)."""
    _ran(project)
    r = project.run("remove", "prep")
    assert "Removed stage 'prep' from mlvc.yaml\n" in r.stdout
    assert "git add mlvc.yaml mlvc.lock .gitignore" in r.stdout
    text = project.read("mlvc.yaml")
    assert text.startswith("# Our pipeline. Keep this comment.\nstages:\n  train:\n")
    assert list(yaml.safe_load(project.read("mlvc.lock"))["stages"]) == ["train@a", "train@b"]
    assert "/prep.out" not in project.read(".gitignore").splitlines()
    assert project.read("prep.out") == "prep\nr\n"
    # its output is a plain dep of train now: the pipeline is up to date
    assert project.run("status").stdout == "Data and pipelines are up to date.\n"


def test_remove_of_a_stage_keeps_its_hard_linked_outputs_as_private_copies(project):
    project.run("config", "cache.type", "hardlink")
    _ran(project)
    assert (project.root / "prep.out").stat().st_nlink == 2  # (it and its cache object)
    doc = json.loads(project.run("remove", "prep", "--json").stdout)
    assert doc["unprotected"] == 1
    st = (project.root / "prep.out").stat()
    assert st.st_nlink == 1 and st.st_mode & 0o200
    assert project.read("prep.out") == "prep\nr\n"


def test_remove_of_a_foreach_group_with_outs_deletes_every_copy_and_records_git(project):
    _ran(project)
    r = project.run("remove", "train@a", code=1)
    assert "'train@a' is one of the stages that 'train' makes" in r.stderr
    doc = json.loads(project.run("remove", "train", "--outs", "--json").stdout)
    assert doc["removed"] == [{"pointer": "mlvc.yaml", "stage": "train",
                               "outs": ["m_a", "s_a.json", "m_b", "s_b.json"]}]
    assert doc["deleted_outs"] is True
    # the metrics files were in git: their deletion is a change to record
    assert set(doc["git_files"]) == {"mlvc.yaml", "mlvc.lock", ".gitignore", "s_a.json",
                                     "s_b.json"}
    for p in ("m_a", "m_b", "s_a.json", "s_b.json"):
        assert not (project.root / p).exists()
    assert list(yaml.safe_load(project.read("mlvc.lock"))["stages"]) == ["prep"]


def test_remove_of_a_stage_with_outs_keeps_unsaved_outputs_unless_forced(project):
    _ran(project)
    (project.root / "prep.out").write_text("my edit\n")
    state = snapshot(project.root, skip=(".git", "tmp"))  # (the state DB learns hashes)
    r = project.run("remove", "prep", "--outs", code=1)
    assert "'prep.out' has changes that are not in the cache" in r.stderr
    (project.root / "s_a.json").write_text('{"n": 2}\n')
    r = project.run("remove", "train", "--outs", code=1)
    assert "'s_a.json' has bytes that mlvc.lock does not record" in r.stderr
    assert snapshot(project.root, skip=(".git", "tmp")) == {
        **state, "s_a.json": (b'{"n": 2}\n', False)}
    r = project.run("remove", "prep", "--outs", "--force")
    assert not (project.root / "prep.out").exists()
    # the stages that read it are told (mlvc.yaml is left to the user)
    assert ("warning: stage 'train@a' depends on prep.out, which is no longer there"
            in r.stderr)


def test_a_path_wins_over_a_stage_of_the_same_name(project):
    project.gen({"prep": "data"})
    project.run("add", "prep")
    project.gen({"raw": "r\n", "mlvc.yaml": GROUPS.replace("deps: [raw]", "deps: [prep]")})
    r = project.run("remove", "prep")
    assert "Removed prep.mlvc" in r.stdout
    assert "prep" in yaml.safe_load(project.read("mlvc.yaml"))["stages"]


def test_freeze_and_unfreeze_mark_stages_and_repro_obeys(project):
    project.gen({"in.txt": "1\n", "mlvc.yaml": "# kept\n" + yaml.safe_dump({"stages": {
        "copy": {"cmd": "cat in.txt > out.txt", "deps": ["in.txt"], "outs": ["out.txt"]},
        "many": {"foreach": [1, 2], "do": {"cmd": "echo ${item} > m${item}.txt",
                                            "outs": ["m${item}.txt"]}}}})})
    project.run("repro")
    r = project.run("freeze", "copy", "many")
    assert "Froze stage 'copy'." in r.stdout and "Froze stage 'many@2'." in r.stdout
    doc = yaml.safe_load(project.read("mlvc.yaml"))
    assert doc["stages"]["copy"]["frozen"] is True
    assert doc["stages"]["many"]["do"]["frozen"] is True
    assert project.read("mlvc.yaml").startswith("# kept\n")
    project.gen({"in.txt": "2\n"})
    project.run("repro")
    assert project.read("out.txt") == "1\n"  # (frozen: not run)
    r = project.run("freeze", "many@1", code=1)
    assert "one copy of the foreach/matrix stage 'many'" in r.stderr
    r = project.run("unfreeze", "nope", code=1)
    assert "no stage 'nope'" in r.stderr
    doc = json.loads(project.run("unfreeze", "copy", "--json").stdout)
    assert doc["stages"] == ["copy"] and doc["frozen"] is False
    assert "frozen" not in yaml.safe_load(project.read("mlvc.yaml"))["stages"]["copy"]
    project.run("repro")
    assert project.read("out.txt") == "2\n"
