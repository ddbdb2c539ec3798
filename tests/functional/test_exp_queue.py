"""``mlvc exp run --queue/--temp`` and ``mlvc queue``: experiments run in temporary copies of
the project (git work trees sharing the cache), never touching the workspace."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mlvc.errors import TargetError
from mlvc.ops.exp_queue import expand_sweeps, split_choices
from tests.conftest import Project
from tests.functional.test_exp import PIPELINE, head, make_ml


@pytest.fixture
def ml(project: Project) -> Project:
    return make_ml(project)


def files(p: Project) -> dict[str, object]:
    """The project's files, without the cache and mlvc's scratch folder (.mlvc/tmp)."""
    skip = (".mlvc/tmp", ".mlvc/cache")
    return {k: v for k, v in p.snapshot().items() if not k.startswith(skip)}

def status(p: Project) -> list[dict]:
    return json.loads(p.run("queue", "status", "--json").stdout)


def exp_values(p: Project) -> dict[str, tuple]:
    """name -> (train.lr, acc) of every experiment, from `exp show --json`."""
    rows = json.loads(p.run("exp", "show", "--json").stdout)
    out = {}
    for row in rows:
        if row["kind"] == "experiment":
            values = {k: v for kind in ("params", "metrics")
                      for f in row[kind].values() for k, v in f.items()}
            out[row["name"]] = (values["train.lr"], values["acc"])
    return out


def worktrees(p: Project) -> int:
    return p.git("worktree", "list", "--porcelain").count("worktree ")


def test_queue_changes_nothing_and_start_runs_each_in_a_temporary_copy(ml):
    before = files(ml)
    index = (ml.root / ".git/index").read_bytes()
    out = ml.run("exp", "run", "--queue", "-S", "train.lr=0.1,0.2", "-n", "sweep").stdout
    assert "Queued experiment 'sweep-1'" in out and "train.lr=0.2" in out
    assert [(e["name"], e["state"], e["set_params"]) for e in status(ml)] == [
        ("sweep-1", "queued", ["train.lr=0.1"]), ("sweep-2", "queued", ["train.lr=0.2"])]
    assert files(ml) == before and (ml.root / ".git/index").read_bytes() == index

    ml.run("queue", "start", "-j", "2")
    assert exp_values(ml) == {"sweep-1": (0.1, 0.9), "sweep-2": (0.2, 0.8)}
    assert {e["state"] for e in status(ml)} == {"success"}
    # The workspace, the index and HEAD are as they were; the temporary copies are gone.
    assert files(ml) == before and (ml.root / ".git/index").read_bytes() == index
    assert worktrees(ml) == 1 and not any((ml.root / ".mlvc/tmp/exps").iterdir())
    # Each experiment's data is in the shared cache: applying one checks it out.
    ml.run("exp", "apply", "sweep-2")
    assert ml.read("model/w.txt").startswith("0.2")
    assert json.loads(ml.read("metrics.json"))["acc"] == 0.8


def test_temp_runs_now_and_leaves_the_workspace(ml):
    base = head(ml)
    before = files(ml)
    r = ml.run("exp", "run", "--temp", "-S", "train.lr=0.3", "-n", "t")
    # The run's output as it runs, its stage's command and the experiment saved included.
    assert "Running stage 'train'" in r.stdout and "Saved experiment 't'" in r.stdout
    assert r.stdout.count("Saved experiment") == 1
    assert files(ml) == before and head(ml) == base
    assert exp_values(ml) == {"t": (0.3, 0.7)}
    assert status(ml) == []  # (a saved --temp run leaves nothing on the queue)
    # It started from the workspace as it is, unsaved edits to git-kept files included.
    (ml.root / "params.yaml").write_text("# params\ntrain:\n  lr: 0.4  # rate\n  epochs: 9\n")
    doc = json.loads(ml.run("exp", "run", "--temp", "-n", "u", "--json").stdout)
    rev = doc["experiments"][0]["rev"]
    assert "epochs: 9" in ml.git("show", f"{rev}:params.yaml")
    assert "epochs: 9" in ml.read("params.yaml") and head(ml) == base


def test_a_failed_run_stays_queued_as_failed_with_its_log(ml):
    (ml.root / "params.yaml").write_text("train:\n  lr: 0.5\n  epochs: 3\n")
    ml.run("exp", "run", "--queue", "-n", "bad", "-S", "train.lr=oops")
    r = ml.run("queue", "start", code=1)
    assert "experiment 'bad'" in r.stderr and "failed" in r.stderr
    [entry] = status(ml)
    assert entry["state"] == "failed" and entry["returncode"] == 1
    log = ml.run("queue", "logs", "bad").stdout
    assert "mlvc exp run -n bad -S train.lr=oops" in log
    assert "TypeError" in log or "unsupported operand" in log  # the stage's own traceback
    assert worktrees(ml) == 1
    assert not ml.git("for-each-ref", "refs/mlvc/exps")
    # exp show lists it as failed, unless --hide-failed (--hide-queued keeps it)
    kinds = lambda *a: [r.get("state") for r in json.loads(  # noqa: E731
        ml.run("exp", "show", "--json", *a).stdout) if r["kind"] == "queued"]
    assert kinds() == kinds("--hide-queued") == ["failed"] and kinds("--hide-failed") == []
    # start runs only what is still queued; remove --failed clears it, with its log.
    assert "Nothing is queued" in ml.run("queue", "start").stdout
    ml.run("queue", "remove", "--failed")
    assert status(ml) == [] and not list((ml.root / ".mlvc/tmp/queue").iterdir())


def test_names_are_checked_when_queued(ml):
    ml.run("exp", "run", "--queue", "-n", "a")
    r = ml.run("exp", "run", "--queue", "-n", "a", code=1)
    assert "queued already" in r.stderr
    ml.run("exp", "run", "-n", "b")
    assert "exists already" in ml.run("exp", "run", "--queue", "-n", "b", code=1).stderr
    # A bad -S is refused when queued, not when run, and queues nothing.
    r = ml.run("exp", "run", "--queue", "-S", "train.nope=1", code=1)
    assert "nope" in r.stderr and len(status(ml)) == 1
    assert ml.run("exp", "run", "--queue", "--temp", code=2).stderr
    assert "--dry" in ml.run("exp", "run", "--queue", "--dry", code=2).stderr


def test_an_entry_another_process_runs_is_skipped(ml):
    ml.run("exp", "run", "--queue", "-n", "busy")
    [entry] = status(ml)
    running = ml.root / ".mlvc/tmp/queue" / f"{entry['id']}.running"
    running.parent.mkdir(parents=True, exist_ok=True)
    running.write_text(str(os.getpid()))  # a live process
    assert status(ml)[0]["state"] == "running"
    assert "Nothing is queued" in ml.run("queue", "start").stdout
    assert "running" in ml.run("queue", "remove", "busy", code=1).stderr
    running.write_text("999999999")  # a process that died: the entry is queued again
    assert status(ml)[0]["state"] == "queued"
    ml.run("queue", "start")
    assert "busy" in exp_values(ml)


def test_gc_with_all_experiments_keeps_what_a_queued_run_needs(ml):
    ml.run("exp", "run", "--queue", "-n", "later")
    # The data changes and is committed; the old version is needed only by the queue.
    (ml.root / "data/x.csv").write_text("3,4,5\n")
    ml.run("add", "data")
    ml.run("repro")
    ml.commit_all("v2")
    ml.run("gc", "-w", "--all-experiments", "-f")
    ml.run("queue", "start")
    rev = ml.git("rev-parse", "refs/mlvc/queue/" + status(ml)[0]["id"]).strip()
    assert rev  # the snapshot is still on the queue's ref
    ml.run("exp", "apply", "later")
    assert ml.read("data/x.csv") == "1,2\n" and ml.read("model/w.txt") == "0.51,2\n"


def test_a_project_in_a_folder_of_the_git_repository(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    sub = tmp_path / "repo" / "proj"
    sub.mkdir()
    p = Project(sub)
    p.run("init")
    p.gen({"data": {"x.csv": "1,2\n"}, "params.yaml": "train:\n  lr: 0.5\n",
           "mlvc.yaml": yaml.safe_dump(PIPELINE, sort_keys=False)})
    p.run("add", "data")
    p.run("repro")
    p.commit_all("v1")
    p.run("exp", "run", "--temp", "-S", "train.lr=0.25", "-n", "sub")
    assert exp_values(p) == {"sub": (0.25, 0.75)}


# -- sweeps ----------------------------------------------------------------------------------

_plain = st.from_regex(r"[a-z0-9.]{1,6}", fullmatch=True)
_value = st.one_of(_plain, st.lists(_plain, min_size=1, max_size=3).map(
    lambda xs: "[" + ",".join(xs) + "]"), _plain.map(lambda x: f'"{x},{x}"'))


@given(st.lists(_value, min_size=1, max_size=5))
def test_choices_split_only_at_top_level_commas(values):
    assert split_choices(",".join(values)) == values


@given(st.lists(st.lists(_value, min_size=1, max_size=3), min_size=1, max_size=3))
def test_sweeps_are_every_combination_in_order(choices):
    texts = [f"k{i}=" + ",".join(c) for i, c in enumerate(choices)]
    combos = expand_sweeps(texts)
    expected = 1
    for c in choices:
        expected *= len(c)
    assert len(combos) == expected
    assert combos[0] == [f"k{i}={c[0]}" for i, c in enumerate(choices)]
    assert combos[-1] == [f"k{i}={c[-1]}" for i, c in enumerate(choices)]


def test_ranges_files_and_removals():
    assert expand_sweeps(["seed=range(1, 4)"]) == [["seed=1"], ["seed=2"], ["seed=3"]]
    assert expand_sweeps(["lr=range(0, 0.3, 0.1)"]) == [["lr=0.0"], ["lr=0.1"], ["lr=0.2"]]
    assert expand_sweeps(["n=range(3,0,-1)"]) == [["n=3"], ["n=2"], ["n=1"]]
    assert expand_sweeps(["t.yaml:+a.b=1,2", "~c"]) == [["t.yaml:+a.b=1", "~c"],
                                                        ["t.yaml:+a.b=2", "~c"]]
    with pytest.raises(TargetError, match="empty choice"):
        expand_sweeps(["a=1,,2"])
    with pytest.raises(TargetError, match="must not be 0"):
        expand_sweeps(["a=range(1,2,0)"])
    with pytest.raises(TargetError, match="too many|more than"):
        expand_sweeps(["a=range(0,5000)"])


def test_a_temporary_copy_pulls_from_a_remote_given_by_a_relative_path(ml):
    ml.run("remote", "add", "-d", "store", "../store")
    ml.run("push")
    ml.commit_all("remote")
    shutil.rmtree(ml.root / ".mlvc/cache")  # the data is on the remote only
    ml.run("exp", "run", "--temp", "--pull", "-S", "train.lr=0.3", "-n", "far")
    assert exp_values(ml) == {"far": (0.3, 0.7)}


def test_ctrl_c_stops_the_runs_cleans_up_and_leaves_them_queued(ml, tmp_path):
    marker = tmp_path / "started"
    _waiting_stage(ml, marker)
    ml.run("exp", "run", "--queue", "-n", "slow")
    proc = subprocess.Popen([sys.executable, "-m", "mlvc", "queue", "start"], cwd=ml.root,
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    _until(marker.exists)
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C does: to the whole process group
    out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 130 and "Stopped (queued again): 'slow'" in out
    assert [e["state"] for e in status(ml)] == ["queued"]
    assert worktrees(ml) == 1 and not any((ml.root / ".mlvc/tmp/exps").iterdir())
    assert not ml.git("for-each-ref", "refs/mlvc/exps")


def test_an_entry_run_by_another_start_meanwhile_is_not_run_again(ml):
    from mlvc.ops import exp_queue
    from mlvc.repo import Repo

    ml.run("exp", "run", "--queue", "-n", "once")
    with Repo(ml.root) as repo:
        listed = exp_queue.queued(repo)  # (as a second `queue start` listed it, at its start)
        first = exp_queue.start(repo)
        assert [e.state for e in first.ran] == ["success"]
        again = exp_queue.start(repo, listed)
    assert again.ran == () and [e["state"] for e in status(ml)] == ["success"]
    assert [e.name for e in first.experiments] == ["once"]


def test_a_copy_that_cannot_be_made_fails_that_run_alone(ml, monkeypatch):
    from mlvc.errors import ScmError
    from mlvc.scm import Git

    ml.run("exp", "run", "--queue", "-S", "train.lr=0.1,0.2", "-n", "w")
    real = Git.add_worktree
    calls = []

    def flaky(self, path, head, files):
        calls.append(path)
        if len(calls) == 1:
            raise ScmError("git worktree failed: fatal: could not open 'gitdir'")
        return real(self, path, head, files)

    monkeypatch.setattr(Git, "add_worktree", flaky)
    r = ml.run("queue", "start", code=1)
    assert "could not make the temporary copy" in r.stdout
    assert sorted(e["state"] for e in status(ml)) == ["failed", "success"]
    assert "could not make the temporary copy" in ml.run("queue", "logs", "w-1").stdout


def test_exp_show_lists_what_waits_with_its_changes(ml):
    ml.run("exp", "run", "-S", "train.lr=0.3", "-n", "ran")
    ml.run("exp", "run", "--queue", "-S", "train.lr=0.1,0.2", "-n", "w")
    rows = json.loads(ml.run("exp", "show", "--json", "--sort-by", "train.lr").stdout)
    shown = [(r["kind"], r["name"], r.get("state"), r["params"]["params.yaml"]["train.lr"],
              r["metrics"]) for r in rows[2:]]
    assert shown == [("queued", "w-1", "queued", 0.1, {}), ("queued", "w-2", "queued", 0.2, {}),
                     ("experiment", "ran", None, 0.3, {"metrics.json": {"acc": 0.7, "n": 4}})]
    table = ml.run("exp", "show").stdout
    assert "├── w-1" in table and "queued" in table
    rows = json.loads(ml.run("exp", "show", "--json", "--hide-queued",
                             "--hide-workspace").stdout)
    assert [(r["kind"], r["name"]) for r in rows] == [("baseline", "main"),
                                                      ("experiment", "ran")]
    ml.run("queue", "start")
    rows = json.loads(ml.run("exp", "show", "--json").stdout)
    assert {r["kind"] for r in rows[2:]} == {"experiment"} and len(rows) == 5


def _waiting_stage(ml: Project, marker) -> None:
    """A pipeline whose one stage says it started (``marker``) and then waits a minute."""
    wait = (f"{sys.executable} -c \"import time; open({str(marker)!r}, 'w').close(); "
            "time.sleep(60)\"")
    ml.gen({"mlvc.yaml": yaml.safe_dump({"stages": {"wait": {
        "cmd": wait, "deps": ["data"], "outs": ["w.txt"]}}})})
    ml.commit_all("slow")


def _until(check, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_detached_worker_runs_the_queue_and_stop_requeues_its_runs(ml, tmp_path):
    marker = tmp_path / "started"
    _waiting_stage(ml, marker)
    ml.run("exp", "run", "--queue", "-n", "long", "-S", "train.lr=0.1,0.2,0.3")
    doc = json.loads(ml.run("queue", "start", "--detach", "-j", "2", "--json").stdout)
    _until(marker.exists)  # (it returned at once; the worker runs the stage meanwhile)
    _until(lambda: [e["state"] for e in status(ml)].count("running") == 2)
    assert f"1 background worker running ({doc['worker']})" in ml.run("queue", "status").stdout
    assert json.loads(ml.run("queue", "stop", "--json").stdout) == {"stopped": [doc["worker"]]}
    # The two runs stopped and the third never started: all three wait again.
    assert [e["state"] for e in status(ml)] == ["queued"] * 3
    assert worktrees(ml) == 1 and not any((ml.root / ".mlvc/tmp/exps").iterdir())
    log = Path(doc["log"]).read_text()
    assert log.count("Stopped (queued again)") == 2 and "'long-3'" not in log
    assert not list(ml.root.joinpath(".mlvc/tmp/queue").glob("*.running"))
    # A worker runs what is queued and ends when nothing is left.
    ml.run("queue", "remove", "--all")
    ml.git("checkout", "-q", "HEAD~1", "--", "mlvc.yaml")
    ml.commit_all("fast again")
    ml.run("exp", "run", "--queue", "-S", "train.lr=0.1,0.2", "-n", "bg")
    ml.run("queue", "start", "-d", "-j", "2")
    _until(lambda: {e["state"] for e in status(ml)} == {"success"})
    assert exp_values(ml) == {"bg-1": (0.1, 0.9), "bg-2": (0.2, 0.8)}
    _until(lambda: "background worker" not in ml.run("queue", "status").stdout)


def test_logs_follow_prints_a_run_until_it_ends(ml):
    talk = (f"{sys.executable} -c \"import time; print('first', flush=True); time.sleep(1.5); "
            "print('second')\" > /dev/stderr && echo done > w.txt")
    ml.gen({"mlvc.yaml": yaml.safe_dump({"stages": {"talk": {
        "cmd": talk, "deps": ["data"], "outs": ["w.txt"]}}})})
    ml.commit_all("talk")
    ml.run("exp", "run", "--queue", "-n", "chatty")
    ml.run("queue", "start", "-d")
    out = ml.run("queue", "logs", "-f", "chatty").stdout
    assert out.index("first") < out.index("second") < out.index("Saved experiment 'chatty'")
    assert [e["state"] for e in status(ml)] == ["success"]


def test_a_project_config_not_committed_yet_goes_into_the_copy(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path / "p")], check=True)
    p = Project(tmp_path / "p")
    p.run("init")  # (staged by init, never committed, then unstaged: untracked)
    p.git("reset", "-q")
    p.run("config", "cache.type", "hardlink,copy")
    p.gen({"data": {"x.csv": "1,2\n"}, "params.yaml": "train:\n  lr: 0.5\n",
           "mlvc.yaml": yaml.safe_dump(PIPELINE, sort_keys=False), "keep.txt": "x"})
    p.run("add", "data")
    p.git("add", "keep.txt")
    p.git("commit", "-qm", "a commit without mlvc's files")
    p.run("exp", "run", "--temp", "-S", "train.lr=0.25", "-n", "t")
    assert exp_values(p) == {"t": (0.25, 0.75)}
    rev = p.git("rev-parse", "refs/mlvc/exps/" + "/".join(
        [(b := p.git("rev-parse", "HEAD").strip())[:2], b[2:], "t"])).strip()
    assert "hardlink" in p.git("show", f"{rev}:.mlvc/config.yaml")


def test_kill_stops_one_run_as_failed_and_the_others_go_on(ml, tmp_path):
    marker = tmp_path / "started"
    _waiting_stage(ml, marker)
    ml.run("exp", "run", "--queue", "-n", "k", "-S", "train.lr=0.1,0.2")
    ml.run("queue", "start", "-d", "-j", "2")
    _until(lambda: [e["state"] for e in status(ml)] == ["running", "running"])
    _until(lambda: all((ml.root / ".mlvc/tmp/queue" / f"{e['id']}.group").exists()
                       for e in status(ml)))
    [killed] = json.loads(ml.run("queue", "kill", "k-1", "--json").stdout)
    assert killed["name"] == "k-1" and killed["state"] == "failed"
    assert [e["state"] for e in status(ml)] == ["failed", "running"]
    assert not (ml.root / ".mlvc/tmp/exps" / killed["id"]).exists()
    assert "is failed, not running" in ml.run("queue", "kill", "k-1", code=1).stderr
    ml.run("queue", "stop")
    assert [e["state"] for e in status(ml)] == ["failed", "queued"]
    assert "Nothing is queued" not in ml.run("queue", "remove", "--failed").stdout
    assert [e["name"] for e in status(ml)] == ["k-2"]


def test_a_run_interrupted_after_its_save_counts_as_saved(ml):
    # Ctrl-C that lands as the run ends, after its experiment was saved: exit code 130,
    # but queueing it again would fail on the name taken (found by a soak of the queue).
    from mlvc.ops import exp_queue
    from mlvc.repo import Repo

    ml.run("exp", "run", "--queue", "-n", "late")
    with Repo(ml.root) as repo:
        [entry] = exp_queue.queued(repo)
        assert exp_queue._finish(repo, entry, 130).state == "queued"  # (nothing saved)
        ml.run("exp", "run", "-n", "late")  # (as the run did, just before the interrupt)
        sha = ml.git("rev-parse", exp_queue.ref_of(entry.baseline, "late")).strip()
        done = exp_queue._finish(repo, entry, 130, before=None)
        assert (done.state, done.experiment) == ("success", sha)
        # A ref that was there before the run (replaced with -f) is not this run's save.
        assert exp_queue._finish(repo, entry, 130, before=sha).state == "queued"
    assert [e["state"] for e in status(ml)] == ["queued"]


def test_following_a_claimed_run_waits_for_its_log(tmp_path, monkeypatch):
    # A run is "running" once claimed, and makes its work tree before its log: `logs -f`
    # asked in between waits for the log (it said "it has no log yet", seen under load).
    from mlvc.ops import exp_queue

    log = tmp_path / "x.log"
    entry = exp_queue.Queued.__new__(exp_queue.Queued)
    states = iter(["running"] * 8 + ["success"] * 1000)
    calls = []

    def log_of(repo, e):
        calls.append(1)
        if len(calls) == 3:
            log.write_bytes(b"hello\n")
        return log if log.exists() else None

    monkeypatch.setattr(exp_queue, "log_of", log_of)
    monkeypatch.setattr(exp_queue, "_with_state",
                        lambda repo, e: type("S", (), {"state": next(states)})())
    assert b"".join(exp_queue.read_log(None, entry, follow=True)) == b"hello\n"


def test_a_killed_run_takes_its_stage_along_even_one_that_ignores_ctrl_c(ml, tmp_path,
                                                                         monkeypatch):
    # The queue signals a run's whole process group (Ctrl-C, then SIGKILL after a grace):
    # the run's stages stay in that group (off a terminal they would have groups of their
    # own), so none is left running when the run is killed.
    from mlvc.ops import exp_queue

    pid_file = tmp_path / "stage.pid"
    stubborn = f"trap '' INT; echo $$ > {pid_file}; exec sleep 60"
    ml.gen({"mlvc.yaml": yaml.safe_dump({"stages": {"wait": {
        "cmd": stubborn, "deps": ["data"], "outs": ["w.txt"]}}})})
    ml.commit_all("stubborn")
    ml.run("exp", "run", "--queue", "-n", "s")
    ml.run("queue", "start", "-d")
    _until(lambda: pid_file.exists() and pid_file.read_text().strip().isdigit())
    pid = int(pid_file.read_text())
    monkeypatch.setattr(exp_queue, "STOP_GRACE", 1.0)
    ml.run("queue", "kill", "s")

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return open(f"/proc/{pid}/stat").read().split(") ")[1].startswith("Z")
    _until(gone, 10)
    ml.run("queue", "stop")


def test_a_queued_run_keeps_the_stage_selection_options(ml):
    # `--glob` must reach the queued run: without it, 'tr*' names no stage there
    ml.run("exp", "run", "--queue", "--glob", "--force-downstream", "-S", "train.lr=0.3",
           "-n", "g", "tr*")
    ml.run("queue", "start")
    assert [e["state"] for e in status(ml)] == ["success"]
    assert exp_values(ml)["g"] == (0.3, 0.7)
    r = ml.run("exp", "run", "--glob", "-S", "train.lr=0.4", "nope*", code=1)
    assert "no stage matches 'nope*'" in r.stderr


def test_every_stage_selection_option_reaches_a_queued_run():
    """A queued run is `mlvc exp run` with the flags RUN_FLAGS names: each option that
    `selection` passes on to repro must have its flag there (else --queue drops it)."""
    from mlvc.cli.commands.pipeline import selection
    from mlvc.ops.exp_queue import RUN_FLAGS

    _, options = selection(("t",), pipeline=False, all_pipelines=False, glob=False,
                           force_downstream=False, recursive=False)
    assert set(options) <= set(RUN_FLAGS)


def test_copy_paths_bring_untracked_files_into_the_run_and_not_into_the_experiment(project):
    project.gen({"params.yaml": "x: 1\n", ".gitignore": "/token.txt\n",
                 "mlvc.yaml": yaml.safe_dump({"stages": {"use": {
                     "cmd": "cat token.txt conf/a.txt > got.txt", "params": ["x"],
                     "outs": ["got.txt"]}}})})
    project.gen({"token.txt": "t1\n", "conf": {"a.txt": "a\n"}})
    project.run("repro")
    project.git("add", "-A", ":!conf")
    project.git("commit", "-qm", "base")
    # without -C the run has neither file: it fails
    r = project.run("exp", "run", "--temp", "-S", "x=2", "-n", "bare", code=1)
    assert "untracked file not in the experiment: conf/a.txt" in r.stderr
    assert "-C PATH" in r.stderr
    r = project.run("exp", "run", "--queue", "-S", "x=3", "-n", "c", "-C", "token.txt",
                    "-C", "conf")
    assert "untracked" not in r.stderr  # (conf/a.txt goes with -C)
    project.gen({"token.txt": "t2\n"})  # copied as it is when the run starts
    project.run("queue", "start", "c")
    assert [e["state"] for e in status(project) if e["name"] == "c"] == ["success"]
    rev = next(e["experiment"] for e in status(project) if e["name"] == "c")
    saved = project.git("ls-tree", "-r", "--name-only", rev).split()
    assert "token.txt" not in saved and "conf/a.txt" not in saved
    project.run("exp", "apply", "c")
    assert project.read("got.txt") == "t2\na\n"
    # refused: a file git tracks, a path that is not there, -C without --queue/--temp
    r = project.run("exp", "run", "--queue", "-C", "params.yaml", code=1)
    assert "git tracks it" in r.stderr
    assert "no such file" in project.run("exp", "run", "--temp", "-C", "nope", code=1).stderr
    assert "goes with --queue or --temp" in project.run("exp", "run", "-C", "conf",
                                                        code=2).stderr
    assert "inside .mlvc/" in project.run("exp", "run", "--queue", "-C", ".mlvc/tmp",
                                          code=1).stderr


def test_exp_clean_removes_what_killed_runs_left_and_nothing_running(ml):
    ml.run("exp", "run", "--queue", "-S", "train.lr=0.1,0.2", "-n", "k")
    running, waiting = status(ml)
    dead = 2**22 + 1  # (above the largest process id Linux gives)
    tmp = ml.root / ".mlvc/tmp"
    queue_dir = tmp / "queue"
    queue_dir.mkdir(parents=True, exist_ok=True)
    (queue_dir / f"{running['id']}.running").write_text(str(os.getpid()))  # (alive)
    (queue_dir / f"{waiting['id']}.running").write_text(str(dead))
    (queue_dir / "0123456789ab.log").write_text("an entry removed long ago")
    (tmp / f"queue-index.{dead}.abcd").write_text("")
    for entry_id in (running["id"], "fedcba987654"):
        ml.git("worktree", "add", "--detach", "-q", str(tmp / "exps" / entry_id), "HEAD")
    assert worktrees(ml) == 3
    assert [e["state"] for e in status(ml)] == ["running", "queued"]

    r = json.loads(ml.run("exp", "clean", "--json").stdout)
    assert r["worktrees"] == ["fedcba987654"]
    assert sorted(r["files"]) == sorted([f"{waiting['id']}.running", "0123456789ab.log",
                                         f"queue-index.{dead}.abcd"])
    assert worktrees(ml) == 2 and (tmp / "exps" / running["id"]).is_dir()
    assert (queue_dir / f"{running['id']}.running").exists()
    assert [e["state"] for e in status(ml)] == ["running", "queued"]
    assert ml.run("exp", "clean").stdout.strip() == "Nothing to clean."
