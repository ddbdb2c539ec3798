"""mlvc repro over mlvc.yaml and mlvc.lock (SPEC 2.4 and 4, behaviours 5-8)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlvc.cli.main import cli
from mlvc.ops.repro import repro
from mlvc.repo import Repo
from tests.conftest import Project, snapshot
from tests.helpers.spies import RecordedPhases


def sh(name: str, out: str, *deps: str) -> str:
    """A stage command: its output is its name plus its deps' bytes; each run is logged."""
    inputs = " ".join(deps)
    body = f"(echo {name}; cat {inputs})" if deps else f"echo {name}"
    return f"{body} > {out} && echo {name} >> runs.log"


def write_pipeline(project, stages: dict, commit: str | None = None) -> None:
    project.gen({"mlvc.yaml": yaml.safe_dump({"stages": stages}, sort_keys=False)}, commit)


def runs(project) -> list[str]:
    log = project.root / "runs.log"
    if not log.exists():
        return []
    lines = log.read_text().split()
    log.unlink()
    return lines


def lock(project) -> dict:
    return yaml.safe_load(project.read("mlvc.lock"))


# a -> b -> c, a -> d, and x on its own
CHAIN = {
    "a": {"cmd": sh("a", "a.out", "a.in"), "deps": ["a.in"], "outs": ["a.out"]},
    "b": {"cmd": sh("b", "b.out", "a.out", "b.in"), "deps": ["a.out", "b.in"],
          "outs": ["b.out"]},
    "c": {"cmd": sh("c", "c.out", "b.out"), "deps": ["b.out"], "outs": ["c.out"]},
    "d": {"cmd": sh("d", "d.out", "a.out"), "deps": ["a.out"], "outs": ["d.out"]},
    "x": {"cmd": sh("x", "x.out", "x.in"), "deps": ["x.in"], "outs": ["x.out"]},
}


@pytest.fixture
def chain(project):
    project.gen({"a.in": "1\n", "b.in": "2\n", "x.in": "3\n"})
    write_pipeline(project, CHAIN)
    project.run("repro")
    assert sorted(runs(project)) == ["a", "b", "c", "d", "x"]
    return project


def test_first_repro_runs_in_order_and_writes_outputs_lock_and_gitignore(project):
    project.gen({"a.in": "1\n", "b.in": "2\n", "x.in": "3\n"})
    write_pipeline(project, CHAIN)
    project.run("repro")
    order = runs(project)
    assert order.index("a") < order.index("b") < order.index("c")
    assert order.index("a") < order.index("d")
    assert project.read("c.out") == "c\nb\na\n1\n2\n"
    doc = lock(project)
    assert list(doc["stages"]) == ["a", "b", "c", "d", "x"]
    assert [d["path"] for d in doc["stages"]["b"]["deps"]] == ["a.out", "b.in"]
    assert "/c.out" in project.read(".gitignore").splitlines()
    # outputs are in the cache: deleting one and checking out brings it back
    (project.root / "c.out").unlink()
    project.run("checkout")
    assert project.read("c.out") == "c\nb\na\n1\n2\n"


def test_up_to_date_pipeline_runs_nothing(chain):
    before = chain.read("mlvc.lock")
    result = chain.run("repro")
    assert runs(chain) == []
    assert "up to date" in result.stdout
    assert chain.read("mlvc.lock") == before
    assert json.loads(chain.run("status", "--json").stdout)["clean"]


def test_changed_dep_reruns_exactly_its_descendants(chain):
    chain.gen({"b.in": "changed\n"})
    assert [s["stage"] for s in json.loads(chain.run("status", "--json").stdout)["stages"]] \
        == ["b"]
    chain.run("repro")
    assert runs(chain) == ["b", "c"]
    chain.gen({"a.in": "changed\n"})
    chain.run("repro")
    ran = runs(chain)
    assert sorted(ran) == ["a", "b", "c", "d"]
    assert ran.index("a") < ran.index("b") < ran.index("c")


def test_upstream_rerun_with_identical_output_does_not_rerun_downstream(project):
    project.gen({"in.txt": "v1\n", "tool.sh": "echo same\n"})
    write_pipeline(project, {
        "first": {"cmd": "sh tool.sh > mid.txt && echo first >> runs.log",
                  "deps": ["in.txt", "tool.sh"], "outs": ["mid.txt"]},
        "second": {"cmd": sh("second", "end.txt", "mid.txt"), "deps": ["mid.txt"],
                   "outs": ["end.txt"]},
    })
    project.run("repro")
    runs(project)
    project.gen({"in.txt": "v2\n"})
    project.run("repro")
    assert runs(project) == ["first"]


def test_reordering_deps_and_outs_changes_neither_what_runs_nor_the_lock(project):
    project.gen({"p.in": "1", "q.in": "2"})
    stage = {"cmd": "cat p.in q.in > o1 && cat q.in > o2 && echo s >> runs.log",
             "deps": ["p.in", "q.in"], "outs": ["o1", "o2"]}
    write_pipeline(project, {"s": stage})
    project.run("repro")
    runs(project)
    before = project.read("mlvc.lock")
    write_pipeline(project, {"s": {**stage, "deps": ["q.in", "p.in"], "outs": ["o2", "o1"]}})
    project.run("repro")
    assert runs(project) == []
    assert project.read("mlvc.lock") == before


def test_params_declared_values_matter_and_undeclared_ones_do_not(project):
    project.gen({"params.yaml": "train:\n  lr: 0.1\n  epochs: 3\nother: 1\n", "d.in": "x"})
    write_pipeline(project, {
        "lr_only": {"cmd": sh("lr_only", "o1", "d.in"), "deps": ["d.in"],
                    "params": ["train.lr"], "outs": ["o1"]},
        "section": {"cmd": sh("section", "o2", "d.in"), "deps": ["d.in"],
                    "params": ["train"], "outs": ["o2"]},
    })
    project.run("repro")
    runs(project)
    assert lock(project)["stages"]["section"]["params"] == {
        "params.yaml": {"train.epochs": 3, "train.lr": 0.1}}
    before = project.read("mlvc.lock")
    project.gen({"params.yaml": "train:\n  lr: 0.1\n  epochs: 3\nother: 2\n"})
    project.run("repro")
    assert runs(project) == []
    assert project.read("mlvc.lock") == before
    project.gen({"params.yaml": "train:\n  lr: 0.1\n  epochs: 4\nother: 2\n"})
    dry = project.run("repro", "--dry")
    assert "param train.epochs 3 -> 4" in dry.stdout
    assert runs(project) == []
    project.run("repro")
    assert runs(project) == ["section"]


def test_status_of_a_stage_with_many_reasons_says_how_many_it_leaves_out(project):
    values = "".join(f"  k{n:02}: {n}\n" for n in range(24))
    project.gen({"params.yaml": "p:\n" + values, "d.in": "x"})
    write_pipeline(project, {"s": {"cmd": sh("s", "o", "d.in"), "deps": ["d.in"],
                                   "params": ["p"], "outs": ["o"]}})
    project.run("repro")
    project.gen({"params.yaml": "p:\n" + values.replace(": ", ": 1")})
    out = project.run("status").stdout
    assert "  param p.k19 19 -> 119\n  … and 4 more; `--json` lists them all\n" in out
    assert "p.k20" not in out
    doc = json.loads(project.run("status", "--json").stdout)
    assert len(doc["stages"][0]["reasons"]) == 24


def test_a_params_file_that_leads_outside_the_project_is_refused(project, tmp_path):
    """Declared params go into mlvc.lock, which git shares: a params file linked to one
    outside the project (a secret, say) is refused, never read."""
    outside = tmp_path / "secrets.yaml"
    outside.write_text("token: hunter2\n")
    os.symlink(outside, project.root / "params.yaml")
    write_pipeline(project, {"s": {"cmd": "echo hi > o", "params": ["token"], "outs": ["o"]}})
    for cmd in (("repro",), ("status",)):
        r = project.run(*cmd, code=1)
        assert f"error: 'params.yaml' leads outside the project (it resolves to {outside})" \
            in r.stderr
    assert not (project.root / "mlvc.lock").exists() and not (project.root / "o").exists()


def test_params_from_json_and_toml_files(project):
    project.gen({"cfg.json": '{"a": {"b": 1}}', "cfg.toml": "[m]\nk = 'v'\n"})
    write_pipeline(project, {"s": {"cmd": "echo s >> runs.log && echo ok > o",
                                   "params": [{"cfg.json": ["a.b"]}, {"cfg.toml": None}],
                                   "outs": ["o"]}})
    project.run("repro")
    assert lock(project)["stages"]["s"]["params"] == {"cfg.json": {"a.b": 1},
                                                      "cfg.toml": {"m.k": "v"}}
    project.gen({"cfg.toml": "[m]\nk = 'w'\n"})
    assert "param m.k \"v\" -> \"w\"" in project.run("repro", "--dry").stdout


def test_cmd_change_and_missing_output_rerun(chain):
    (chain.root / "x.out").unlink()
    assert "out x.out missing" in chain.run("repro", "--dry").stdout
    chain.run("repro")  # the same inputs ran before: restored, not run
    assert runs(chain) == [] and chain.read("x.out") == "x\n3\n"
    (chain.root / "x.out").unlink()
    chain.run("repro", "--no-run-cache")
    assert runs(chain) == ["x"]
    stages = dict(CHAIN)
    stages["x"] = {**CHAIN["x"], "cmd": CHAIN["x"]["cmd"] + " && true"}
    write_pipeline(chain, stages)
    out = chain.run("repro", "--dry").stdout
    assert "cmd changed" in out
    chain.run("repro")
    assert runs(chain) == ["x"]


def test_dry_prints_plan_and_changes_nothing(chain):
    chain.gen({"a.in": "new\n"})
    before = snapshot(chain.root, skip=(".git", "tmp"))  # tmp/: the state DB may learn
    result = chain.run("repro", "--dry")
    assert "Would run stage 'a'" in result.stdout and "dep a.in modified" in result.stdout
    assert "upstream stage 'a' would run" in result.stdout
    assert snapshot(chain.root, skip=(".git", "tmp")) == before
    doc = json.loads(chain.run("repro", "--dry", "--json").stdout)
    assert {s["stage"]: s["state"] for s in doc["stages"]} == {
        "a": "would run", "b": "would run", "c": "would run", "d": "would run",
        "x": "unchanged"}


def test_allow_missing_passes_by_stages_whose_only_change_is_absent_data(chain, tmp_path):
    import subprocess

    chain.commit_all("ran")
    clone = tmp_path / "clone"  # (no data: outputs in no cache, a.out & co. absent)
    subprocess.run(["git", "clone", "-q", str(chain.root), str(clone)], check=True)
    other = type(chain)(clone)
    states = {s["stage"]: s["state"] for s in json.loads(
        other.run("repro", "--dry", "--json").stdout)["stages"]}
    assert set(states.values()) == {"would run"}  # (outputs missing)
    r = other.run("repro", "--dry", "--allow-missing")
    assert "Nothing would run" in r.stdout
    # A real change still counts, and what depends on it.
    other.gen({"b.in": "changed\n"})
    doc = json.loads(other.run("repro", "--dry", "--allow-missing", "--json").stdout)
    assert {s["stage"]: s["state"] for s in doc["stages"]} == {
        "a": "unchanged", "b": "would run", "c": "would run", "d": "unchanged",
        "x": "unchanged"}
    assert [str(r) for s in doc["stages"] if s["stage"] == "b" for r in s["reasons"]] == [
        "dep b.in modified"]  # (a.out missing: not a reason)
    other.gen({"b.in": "2\n"})
    r = other.run("repro", "--allow-missing")
    assert "Data and pipelines are up to date." in r.stdout and runs(other) == []
    assert not (clone / "a.out").exists()


def test_targets_single_item_downstream_and_force(chain):
    chain.run("repro", "-f", "c")
    assert runs(chain) == ["a", "b", "c"]  # c and what it depends on
    chain.run("repro", "-f", "-s", "c")
    assert runs(chain) == ["c"]
    chain.run("repro", "-f", "--downstream", "b")
    assert runs(chain) == ["b", "c"]
    chain.gen({"a.in": "new\n"})
    chain.run("repro", "-s", "d")  # d alone: a is not run, so d's dep is unchanged
    assert runs(chain) == []
    chain.run("repro", "d")
    assert runs(chain) == ["a", "d"]
    chain.run("repro", "c.out")  # a path names the stage that outputs it
    assert runs(chain) == ["b", "c"]


def test_whole_pipelines_globs_and_force_downstream(chain):
    chain.run("repro", "-f", "-p", "d")  # d's pipeline: a, b, c, d; not x
    assert sorted(runs(chain)) == ["a", "b", "c", "d"]
    chain.run("repro", "-f", "-p", "x")
    assert runs(chain) == ["x"]
    chain.run("repro", "-f", "-P")
    assert sorted(runs(chain)) == ["a", "b", "c", "d", "x"]
    chain.run("repro", "-f", "-s", "--glob", "[bx]")
    assert sorted(runs(chain)) == ["b", "x"]
    assert "no stage matches 'z*'" in chain.run("repro", "--glob", "z*", code=1).stderr
    assert "neither a stage" in chain.run("repro", "-s", "[bx]", code=1).stderr  # (no --glob)
    assert "takes no TARGETS" in chain.run("repro", "-P", "a", code=2).stderr
    # b runs again and makes the same b.out: c would not run, unless forced downstream
    chain.run("repro", "-f", "-s", "b")
    assert runs(chain) == ["b"]
    r = chain.run("repro", "-f", "--force-downstream", "--downstream", "-s", "b")
    assert runs(chain) == ["b"]  # (-s: b alone is chosen)
    r = chain.run("repro", "-f", "--force-downstream", "--downstream", "b", "--json")
    assert runs(chain) == ["b", "c"]  # (c ran: not restored from the run cache)
    assert [s["state"] for s in json.loads(r.stdout)["stages"]] == ["ran", "ran"]
    r = chain.run("repro", "--force-downstream", "--json")  # nothing ran: nothing forced
    assert runs(chain) == [] and json.loads(r.stdout)["ok"]
    chain.run("repro", "--force-downstream", "-s", "c")
    assert runs(chain) == []  # (c alone chosen, nothing upstream of it ran)
    chain.run("repro", "-f", "--force-downstream", "a")
    assert runs(chain) == ["a"]  # (only a and its upstream were chosen)
    r = chain.run("repro", "-f", "--force-downstream", "--downstream", "a", "--json")
    assert sorted(runs(chain)) == ["a", "b", "c", "d"]
    states = {s["stage"]: s["state"] for s in json.loads(r.stdout)["stages"]}
    assert states == {"a": "ran", "b": "ran", "c": "ran", "d": "ran"}


def test_a_stage_forced_downstream_runs_rather_than_coming_from_the_run_cache(project):
    project.gen({"in": "1"})
    write_pipeline(project, {
        "p": {"cmd": "echo fixed > p.out && echo p >> runs.log", "deps": ["in"],
              "outs": ["p.out"]},
        "q": {"cmd": sh("q", "q.out", "p.out"), "deps": ["p.out"], "outs": ["q.out"]}})
    project.run("repro")
    assert runs(project) == ["p", "q"]
    project.gen({"in": "2"})
    project.run("repro")
    assert runs(project) == ["p"]  # p.out is as it was: q is up to date
    project.gen({"in": "3"})
    r = project.run("repro", "--force-downstream", "--json")
    assert runs(project) == ["p", "q"]
    q = json.loads(r.stdout)["stages"][1]
    assert q["state"] == "ran" and "upstream stage 'p' ran" in q["reasons"][0]


def test_interactive_asks_before_each_stage_and_a_no_stops_the_run(chain):
    from mlvc.cli.main import cli

    def repro(answers: str, *args: str):
        return chain.runner.invoke(cli, ["-C", str(chain.root), "repro", "-i", "-f", *args],
                                   input=answers)

    r = repro("y\ny\ny\n", "c")  # (a, b, c: each asked, each run)
    assert r.exit_code == 0 and runs(chain) == ["a", "b", "c"]
    assert r.stderr.count("Run stage") == 3
    r = repro("y\nn\n", "c")  # (b declined: c does not start)
    assert r.exit_code == 1 and runs(chain) == ["a"]
    assert "stage 'b'" in r.stderr and "declined" in r.stderr
    assert "Stage 'c' skipped" in r.stderr
    assert "no -j" in chain.run("repro", "-i", "-j", "2", code=2).stderr


def test_unknown_target_is_an_error(chain):
    result = chain.run("repro", "nope", code=1)
    assert "error: 'nope' is neither a stage nor an output of one" in result.stderr


def test_failing_command_keeps_its_lock_entry_and_stops_descendants(chain):
    before = lock(chain)["stages"]["b"]
    stages = dict(CHAIN)
    stages["b"] = {**CHAIN["b"], "cmd": "echo b >> runs.log && exit 3"}
    write_pipeline(chain, stages)
    result = chain.run("repro", code=1)
    assert "stage 'b' failed" in result.stderr and "exit code 3" in result.stderr
    assert "Stage 'c' skipped" in result.stderr
    doc = lock(chain)
    assert doc["stages"]["b"] == before
    ran = runs(chain)
    assert "c" not in ran and "b" in ran


def test_keep_going_runs_independent_stages_and_exits_nonzero(project):
    project.gen({"in": "1"})
    write_pipeline(project, {
        "bad": {"cmd": "echo bad >> runs.log && false", "deps": ["in"], "outs": ["bad.out"]},
        "after_bad": {"cmd": sh("after_bad", "ab.out", "bad.out"), "deps": ["bad.out"],
                      "outs": ["ab.out"]},
        "good": {"cmd": sh("good", "good.out", "in"), "deps": ["in"], "outs": ["good.out"]},
    })
    project.run("repro", code=1)
    assert runs(project) == ["bad"]  # stops at the first failure
    result = project.run("repro", "-k", code=1)
    assert runs(project) == ["bad", "good"]
    assert "after_bad" in result.stderr
    stages = lock(project)["stages"]
    assert "good" in stages and "bad" not in stages and "after_bad" not in stages


def test_a_stage_whose_wdir_is_not_a_folder_says_so(project):
    write_pipeline(project, {"s": {"cmd": "echo s > s.out", "wdir": "gone", "outs": ["s.out"]}})
    project.gen({"sub": {}})
    r = project.run("repro", code=1)
    assert "error: stage 's' failed: wdir gone is not a folder" in r.stderr
    r = project.run("repro", cwd=project.root / "sub", code=1)
    assert "error: stage 's' failed: wdir ../gone is not a folder" in r.stderr


def test_a_stage_that_cannot_start_says_why_once_with_a_hint(project):
    """A missing dep or param: one error line naming the stage once, and a hint; with -k
    and two such stages, a last line counts them."""
    project.gen({"params.yaml": "lr: 1\n"})
    write_pipeline(project, {
        "a": {"cmd": "cat missing.txt > a.out", "deps": ["missing.txt"], "outs": ["a.out"]},
        "b": {"cmd": "echo b > b.out", "params": ["nokey"], "outs": ["b.out"]},
    })
    r = project.run("repro", "a", code=1)
    assert r.stderr.splitlines() == [
        "error: stage 'a' failed: dep missing.txt does not exist",
        "hint: create missing.txt, or add the stage that makes it "
        "(`mlvc stage add ... -o missing.txt ...`)"]
    r = project.run("repro", "-k", code=1)
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: stage 'a' failed: dep missing.txt does not exist",
                      "error: stage 'b' failed: param 'nokey' is not in params.yaml",
                      "error: 2 stages failed: a, b"]
    assert "hint: add it to params.yaml, or remove it from the stage's params" in r.stderr
    doc = json.loads(project.run("repro", "a", "--json", code=1).stdout)
    assert doc["stages"][0]["hint"].startswith("create missing.txt")
    project.gen({"sub": {}})  # in a sub-folder: as seen from there, and the command pastes
    r = project.run("repro", "a", cwd=project.root / "sub", code=1)
    assert r.stderr.splitlines() == [
        "error: stage 'a' failed: dep ../missing.txt does not exist",
        "hint: create ../missing.txt, or add the stage that makes it "
        "(`mlvc stage add ... -o ../missing.txt ...`)"]


def test_missing_output_after_command_fails(project):
    write_pipeline(project, {"s": {"cmd": "true", "outs": ["never.txt"]}})
    result = project.run("repro", code=1)
    assert "did not create output never.txt" in result.stderr
    assert not (project.root / "mlvc.lock").exists()


def test_run_cache_restores_outputs_without_running(project):
    project.gen({"params.yaml": "lr: 1\n", "d.in": "data"})
    write_pipeline(project, {
        "train": {"cmd": "(echo lr; cat params.yaml d.in) > model && echo train >> runs.log",
                  "deps": ["d.in"], "params": ["lr"], "outs": ["model"],
                  "metrics": [{"m.json": {"cache": False}}]},
    })
    stages = yaml.safe_load(project.read("mlvc.yaml"))
    stages["stages"]["train"]["cmd"] += " && cat params.yaml > m.json"
    project.gen({"mlvc.yaml": yaml.safe_dump(stages, sort_keys=False)})
    project.run("repro")
    first_model, first_metrics = project.read("model"), project.read("m.json")
    assert runs(project) == ["train"]
    project.gen({"params.yaml": "lr: 2\n"})
    project.run("repro")
    assert runs(project) == ["train"]
    project.gen({"params.yaml": "lr: 1\n"})
    result = project.run("repro")
    assert runs(project) == []  # not run: restored
    assert "run cache" in result.stdout
    assert project.read("model") == first_model and project.read("m.json") == first_metrics
    assert lock(project)["stages"]["train"]["params"] == {"params.yaml": {"lr": 1}}
    # -f always runs the command
    project.run("repro", "-f")
    assert runs(project) == ["train"]


def test_no_commit_keeps_outputs_out_of_the_cache(project):
    project.gen({"d.in": "data"})
    write_pipeline(project, {"s": {"cmd": sh("s", "o", "d.in"), "deps": ["d.in"],
                                   "outs": ["o"]}})
    project.run("repro", "--no-commit")
    oid = lock(project)["stages"]["s"]["outs"][0]["oid"]
    assert not (project.root / ".mlvc/cache/objects" / oid[:2] / oid[2:]).exists()
    assert project.run("checkout").stdout == "Nothing to do: the workspace matches.\n"
    r = project.run("commit")  # (it said "Nothing to commit")
    assert r.stdout.startswith(
        "Stored 1 file in the cache; the pointers already matched the workspace.\n")
    assert (project.root / ".mlvc/cache/objects" / oid[:2] / oid[2:]).exists()


def test_two_independent_stages_run_at_once_with_jobs(project):
    write_pipeline(project, {
        "one": {"cmd": "sleep 1 && echo one-done > one.out", "outs": ["one.out"]},
        "two": {"cmd": "sleep 1 && echo two-done > two.out", "outs": ["two.out"]},
    })
    started = time.monotonic()
    result = project.run("repro", "-j", "2")
    elapsed = time.monotonic() - started
    assert elapsed < 1.8, f"two 1-second stages took {elapsed:.2f}s with -j 2"
    assert "Stage 'one' done" in result.stdout and "Stage 'two' done" in result.stdout
    assert set(lock(project)["stages"]) == {"one", "two"}


def test_parallel_run_respects_the_graph_and_prefixes_output(project):
    write_pipeline(project, {
        "first": {"cmd": "sleep 0.3 && echo hello && echo first > f.out", "outs": ["f.out"]},
        "second": {"cmd": "cat f.out > s.out && echo second >> s.out", "deps": ["f.out"],
                   "outs": ["s.out"]},
    })
    result = project.run("repro", "-j", "4")
    assert project.read("s.out") == "first\nsecond\n"
    assert "[first] hello" in result.stdout


def test_parallel_failure_stops_descendants_like_a_serial_run(project):
    project.gen({"in": "1"})
    write_pipeline(project, {
        "bad": {"cmd": "sleep 0.2 && false", "deps": ["in"], "outs": ["bad.out"]},
        "after_bad": {"cmd": "cat bad.out > ab.out", "deps": ["bad.out"], "outs": ["ab.out"]},
        "slow": {"cmd": "sleep 0.5 && echo ok > slow.out", "outs": ["slow.out"]},
    })
    result = project.run("repro", "-j", "2", code=1)
    assert "stage 'bad' failed" in result.stderr
    assert not (project.root / "ab.out").exists()
    assert "bad" not in lock(project)["stages"]


@pytest.mark.parametrize("stages, message", [
    ({"a": {"cmd": "x", "deps": ["b.out"], "outs": ["a.out"]},
      "b": {"cmd": "x", "deps": ["a.out"], "outs": ["b.out"]}}, "cycle in the pipeline"),
    ({"a": {"cmd": "x", "deps": ["a.out"], "outs": ["a.out"]}}, "depends on its own output"),
    ({"a": {"cmd": "x", "outs": ["data"]}, "b": {"cmd": "x", "outs": ["data/part"]}},
     "outputs overlap: 'data/part' (stage 'b') is inside 'data' (stage 'a')"),
    ({"a": {"cmd": "x", "outs": ["o"]}, "b": {"cmd": "x", "outs": ["o"]}},
     "output 'o' is declared by two stages: 'a' and 'b'"),
])
def test_graph_errors_are_clear_and_write_nothing(project, stages, message):
    write_pipeline(project, stages)
    before = project.snapshot()
    result = project.run("repro", code=1)
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert project.snapshot() == before


def test_stage_output_tracked_by_a_pointer_is_an_error(project):
    project.gen({"data.txt": "x"})
    project.run("add", "data.txt")
    write_pipeline(project, {"a": {"cmd": "x", "outs": ["data.txt"]}})
    result = project.run("repro", code=1)
    assert "output 'data.txt' of stage 'a' is tracked by data.txt.mlvc" in result.stderr


def test_pointer_outputs_are_sources_of_the_graph(project):
    project.gen({"data": {"raw.txt": "r1\n"}})
    project.run("add", "data")
    write_pipeline(project, {"p": {"cmd": "cat data/raw.txt > p.out && echo p >> runs.log",
                                   "deps": ["data"], "outs": ["p.out"]}})
    project.run("repro")
    assert runs(project) == ["p"]
    project.gen({"data": {"raw.txt": "r2\n"}})
    project.run("add", "data")
    project.run("repro")
    assert runs(project) == ["p"]
    assert project.read("p.out") == "r2\n"


def test_malformed_pipeline_names_file_stage_and_field(project):
    write_pipeline(project, {"a": {"cmd": "x", "deps": "not-a-list"}})
    result = project.run("repro", code=1)
    assert "mlvc.yaml: stage 'a': deps: must be a list" in result.stderr
    project.gen({"mlvc.yaml": "stages:\n  a: [unclosed\n"})
    result = project.run("status", code=1)
    assert result.stderr.startswith("error: mlvc.yaml:")
    assert "Traceback" not in result.stderr


def test_pipeline_paths_outside_the_project_are_refused(project):
    write_pipeline(project, {"a": {"cmd": "x", "outs": ["../evil"]}})
    result = project.run("repro", code=1)
    assert "outs[0]" in result.stderr and "outside the project" in result.stderr


def test_status_and_checkout_cover_stage_outputs(chain):
    (chain.root / "c.out").write_text("edited by hand\n")
    result = chain.run("status")
    assert "c.out (mlvc.lock)" in result.stdout and "modified" in result.stdout
    assert "c (stage):" in result.stdout and "out c.out modified" in result.stdout
    chain.run("checkout", "--force")
    assert chain.read("c.out") == "c\nb\na\n1\n2\n"
    assert json.loads(chain.run("status", "--json").stdout)["clean"]


def test_git_checkout_then_mlvc_checkout_restores_stage_outputs(chain):
    chain.commit_all("v1")
    chain.gen({"a.in": "v2\n"})
    chain.run("repro")
    chain.commit_all("v2")
    assert chain.read("c.out").endswith("v2\n2\n")
    chain.git("checkout", "-q", "HEAD~1")
    chain.run("checkout")
    assert chain.read("c.out") == "c\nb\na\n1\n2\n"


def test_commit_of_a_stage_output_records_the_stage(chain):
    (chain.root / "x.out").write_text("hand made\n")
    chain.run("commit", "x.out")
    entry = lock(chain)["stages"]["x"]
    assert entry["outs"][0]["size"] == len("hand made\n")
    assert json.loads(chain.run("status", "--json").stdout)["clean"]
    result = chain.run("remove", "x.out", code=1)
    assert "output of stage 'x'" in result.stderr
    result = chain.run("add", "x.out", code=1)
    assert "an output of stage 'x'" in result.stderr


def test_autostage_stages_the_lock_of_a_committed_stage_output(chain):
    chain.run("config", "core.autostage", "true")
    chain.commit_all("pipeline")
    (chain.root / "x.out").write_text("hand made\n")
    doc = json.loads(chain.run("commit", "x.out", "--json").stdout)
    assert doc["git_files"] == ["mlvc.lock"] and doc["staged"] is True
    assert chain.git("diff", "--cached", "--name-only").split() == ["mlvc.lock"]


def test_commit_of_a_stage_whose_inputs_changed_needs_force(chain):
    chain.gen({"x.in": "changed\n"})
    before = snapshot(chain.root, skip=(".git", "tmp"))  # tmp: the state DB may learn
    result = chain.run("commit", "x.out", code=1)
    assert "stage 'x': dep x.in modified since it last ran" in result.stderr
    assert "mlvc repro x" in result.stderr and "--force" in result.stderr
    assert snapshot(chain.root, skip=(".git", "tmp")) == before  # nothing, not even the cache
    chain.gen({"sub": {}})  # in a sub-folder, the paths as seen from there
    result = chain.run("commit", "../x.out", cwd=chain.root / "sub", code=1)
    assert "stage 'x': dep ../x.in modified since it last ran" in result.stderr
    # With no targets too: the stage is selected with every other output.
    chain.gen({"data": {"f": "1"}})
    chain.run("add", "data")
    chain.gen({"data": {"f": "2"}})
    before = snapshot(chain.root, skip=(".git", "tmp"))
    chain.run("commit", code=1)
    assert snapshot(chain.root, skip=(".git", "tmp")) == before  # data.mlvc not rewritten
    assert "Committed data -> data.mlvc" in chain.run("commit", "data").stdout  # only the data
    # --force records the stage with its new input and its outputs as they are.
    chain.run("commit", "--force", "x.out")
    entry = lock(chain)["stages"]["x"]
    assert entry["deps"][0]["size"] == len("changed\n")
    assert entry["outs"][0]["size"] == len("x\n3\n")
    assert json.loads(chain.run("status", "--json").stdout)["clean"]
    assert runs(chain) == []


def test_commit_with_a_stage_dep_missing_writes_nothing(chain):
    chain.gen({"data": {"f": "1"}})
    chain.run("add", "data")
    chain.gen({"data": {"f": "2"}})
    (chain.root / "x.in").unlink()
    before = snapshot(chain.root, skip=(".git", "tmp"))
    result = chain.run("commit", code=1)
    assert "stage 'x': x.in does not exist" in result.stderr
    assert snapshot(chain.root, skip=(".git", "tmp")) == before  # data.mlvc as it was
    chain.gen({"sub": {}})
    result = chain.run("commit", cwd=chain.root / "sub", code=1)
    assert "stage 'x': ../x.in does not exist" in result.stderr


@pytest.mark.parametrize("how", ["missing", "broken symlink"])
def test_commit_of_a_stage_whose_output_cannot_be_recorded_writes_nothing(unrun, how):
    unrun.gen({"data": {"f": "1"}})
    unrun.run("add", "data")
    unrun.gen({"data": {"f": "2"}, "m.json": "{}\n"})
    if how == "broken symlink":
        (unrun.root / "y.out").symlink_to("nowhere")
    before = snapshot(unrun.root, skip=(".git", "tmp"))
    result = unrun.run("commit", "y.out", "data", code=1)
    assert ("y.out does not exist" if how == "missing" else "'y.out' is a broken symlink") \
        in result.stderr
    assert snapshot(unrun.root, skip=(".git", "tmp")) == before  # data.mlvc as it was


def test_commit_asks_on_a_terminal_when_stage_inputs_changed(chain, monkeypatch):
    from mlvc.cli import render

    chain.gen({"x.in": "changed\n"})
    monkeypatch.setattr(render, "interactive", lambda: True)
    args = ["-C", str(chain.root), "commit", "x.out"]
    r = chain.runner.invoke(cli, args, input="n\n")
    assert r.exit_code == 1 and "Commit anyway?" in r.stderr
    assert lock(chain)["stages"]["x"]["deps"][0]["size"] == len("3\n")
    r = chain.runner.invoke(cli, args, input="y\n")
    assert r.exit_code == 0, r.stderr
    assert lock(chain)["stages"]["x"]["deps"][0]["size"] == len("changed\n")


def test_commit_of_changed_params_or_cmd_needs_force(chain):
    stages = dict(CHAIN)
    stages["x"] = {**CHAIN["x"], "cmd": CHAIN["x"]["cmd"] + " && true"}
    write_pipeline(chain, stages)
    assert "cmd changed" in chain.run("commit", "x.out", code=1).stderr
    chain.run("commit", "-f", "x.out")
    assert lock(chain)["stages"]["x"]["cmd"].endswith("&& true")


def test_frozen_stage_is_not_run(chain):
    stages = dict(CHAIN)
    stages["x"] = {**CHAIN["x"], "frozen": True}
    write_pipeline(chain, stages)
    chain.gen({"x.in": "changed"})
    result = chain.run("repro")
    assert runs(chain) == []
    assert "frozen" in result.stdout


def test_always_changed_stage_runs_every_time(project):
    write_pipeline(project, {"s": {"cmd": "echo s >> runs.log && date +%N > o",
                                   "outs": ["o"], "always_changed": True}})
    project.run("repro")
    project.run("repro", "--no-run-cache")
    assert runs(project) == ["s", "s"]


def test_foreach_stages_run_by_group_name(project):
    project.gen({"params.yaml": "sizes: [small, large]\n"})
    project.gen({"mlvc.yaml": (
        "stages:\n"
        "  build:\n"
        "    foreach: ${sizes}\n"
        "    do:\n"
        "      cmd: echo ${item} > out-${item}.txt\n"
        "      outs:\n"
        "        - out-${item}.txt\n")})
    listed = project.run("stage", "list").stdout
    assert "build@small" in listed and "build@large" in listed
    project.run("repro", "build")
    assert project.read("out-large.txt") == "large\n"


def test_api_reports_each_stage(chain):
    chain.gen({"x.in": "new"})
    with Repo.find(chain.root) as repo:
        events = []
        result = repro(repo, on_event=events.append)
    states = {s.name: s.state for s in result.stages}
    assert states == {"a": "unchanged", "b": "unchanged", "c": "unchanged",
                      "d": "unchanged", "x": "ran"}
    assert [tuple(map(str, s.reasons)) for s in result.stages if s.name == "x"] == [
        ("dep x.in modified",)]
    assert any(e.kind == "start" and e.stage == "x" for e in events)


def test_a_stages_reasons_name_paths_as_seen_from_a_sub_folder(chain):
    chain.gen({"x.in": "new", "sub": {}})
    (chain.root / "c.out").unlink()
    sub = chain.root / "sub"
    out = chain.run("status", cwd=sub).stdout
    assert "  dep ../x.in modified" in out and "  out ../c.out missing" in out
    out = chain.run("repro", "--dry", cwd=sub).stdout
    assert "    dep ../x.in modified" in out and "    out ../c.out missing" in out
    # --json names them from the project root, wherever it runs
    doc = json.loads(chain.run("status", "--json", cwd=sub).stdout)
    assert {"stage": "x", "reasons": ["dep x.in modified"]} in doc["stages"]
    # (with -j, from the stage threads, which cannot look up where the user is)
    out = chain.run("repro", "-j", "2", "x", "c", cwd=sub).stdout
    assert "Running stage 'x' (dep ../x.in modified):" in out
    assert "Stage 'c' (out ../c.out missing): these inputs ran before" in out  # run cache


# -- random graphs -------------------------------------------------------------------------


@st.composite
def dags(draw):
    n = draw(st.integers(2, 6))
    ups = {j: sorted(draw(st.sets(st.integers(0, j - 1), max_size=j))) if j else []
           for j in range(n)}
    names = draw(st.permutations([f"s{i}" for i in range(n)]))  # mlvc.yaml order is random
    return n, ups, list(names)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(dags(), st.data())
def test_touching_a_random_node_reruns_exactly_its_descendants(tmp_path_factory, dag, data):
    n, ups, order = dag
    root = tmp_path_factory.mktemp("dag")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    project = Project(root)
    project.run("init")
    stages = {}
    for j in range(n):
        deps = [f"o{i}" for i in ups[j]] + [f"i{j}"]
        stages[f"s{j}"] = {"cmd": sh(f"s{j}", f"o{j}", *deps), "deps": deps, "outs": [f"o{j}"]}
    project.gen({f"i{j}": f"{j}\n" for j in range(n)})
    write_pipeline(project, {name: stages[name] for name in order})
    project.run("repro")
    first = runs(project)
    assert sorted(first) == sorted(stages)
    _assert_topological(first, ups)

    touched = data.draw(st.integers(0, n - 1))
    project.gen({f"i{touched}": "touched\n"})
    project.run("repro")
    ran = runs(project)
    down = {touched}
    for j in range(n):  # node ids are a topological order of the generated graph
        if any(i in down for i in ups[j]):
            down.add(j)
    assert sorted(ran) == sorted(f"s{j}" for j in down)
    _assert_topological(ran, ups)
    project.run("repro")
    assert runs(project) == []


def _assert_topological(ran: list[str], ups: dict[int, list[int]]) -> None:
    pos = {name: k for k, name in enumerate(ran)}
    for j, parents in ups.items():
        for i in parents:
            if f"s{i}" in pos and f"s{j}" in pos:
                assert pos[f"s{i}"] < pos[f"s{j}"], (ran, ups)


def test_commit_of_a_stage_output_records_its_gitignore_line_in_git(chain):
    chain.run("config", "core.autostage", "true")
    chain.commit_all("pipeline")
    ignore = chain.root / ".gitignore"
    ignore.write_text("".join(line + "\n" for line in ignore.read_text().splitlines()
                              if line != "/x.out"))
    chain.git("commit", "-q", "-m", "x.out no longer ignored", ".gitignore")
    (chain.root / "x.out").write_text("hand made\n")
    time.sleep(0.05)  # out of the racy window: the state row made now will be trusted
    doc = json.loads(chain.run("commit", "x.out", "--json").stdout)
    assert [(s["path"], s["hashed"], s["changed"]) for s in doc["saved"]] == [
        ("x.out", 1, True)]
    assert sorted(doc["git_files"]) == [".gitignore", "mlvc.lock"]
    assert "/x.out" in chain.read(".gitignore").splitlines()
    assert sorted(chain.git("diff", "--cached", "--name-only").split()) == [
        ".gitignore", "mlvc.lock"]
    # Committed again unchanged: nothing read, nothing new for git.
    doc = json.loads(chain.run("commit", "x.out", "--json").stdout)
    assert [(s["hashed"], s["changed"]) for s in doc["saved"]] == [(0, False)]
    assert doc["git_files"] == []


@pytest.fixture
def unrun(chain):
    """The chain plus stage y, declared but never run, and a metrics file kept in git."""
    stages = dict(CHAIN, y={"cmd": sh("y", "y.out", "x.in"), "deps": ["x.in"],
                            "outs": ["y.out", {"m.json": {"cache": False}}]})
    write_pipeline(chain, stages)
    chain.commit_all("pipeline with y")
    return chain


def test_add_refuses_an_output_of_a_stage_that_has_not_run(unrun):
    unrun.gen({"y.out": "by hand\n", "m.json": "{}\n"})
    before = snapshot(unrun.root, skip=(".git", "tmp"))
    for target in ("y.out", "m.json"):
        result = unrun.run("add", target, code=1)
        assert f"'{target}' is an output of stage 'y'" in result.stderr
        assert "`mlvc repro y`" in result.stderr
        assert f"`mlvc commit {target}`" in result.stderr
    assert snapshot(unrun.root, skip=(".git", "tmp")) == before


def test_status_and_checkout_of_an_unrun_output_point_to_repro(unrun):
    for command in ("status", "checkout"):
        result = unrun.run(command, "y.out", code=1)
        assert "'y.out' is an output of stage 'y', which has not run yet" in result.stderr
        assert "not tracked" not in result.stderr


def test_commit_records_a_stage_whose_command_was_run_by_hand(unrun):
    unrun.gen({"y.out": "y\n3\n", "m.json": "{\"acc\": 1}\n"})
    # Written long enough ago that a state row made of them is trusted at once: each
    # output is still read once in all (checking the stage reads its deps only).
    for name in ("y.out", "m.json"):
        os.utime(unrun.root / name, ns=(time.time_ns() - 10**10,) * 2)
    doc = json.loads(unrun.run("commit", "y.out", "--json").stdout)
    assert [(s["path"], s["hashed"], s["changed"]) for s in doc["saved"]] == [
        ("y.out", 1, True), ("m.json", 1, True)]
    assert sorted(doc["git_files"]) == [".gitignore", "mlvc.lock"]
    assert "/y.out" in unrun.read(".gitignore").splitlines()
    entry = lock(unrun)["stages"]["y"]
    assert sorted(o["path"] for o in entry["outs"]) == ["m.json", "y.out"]
    assert json.loads(unrun.run("status", "--json").stdout)["clean"]
    assert runs(unrun) == []  # recorded, not run
    (unrun.root / "y.out").unlink()
    unrun.run("checkout", "y.out")  # now tracked: the cache gives it back
    assert unrun.read("y.out") == "y\n3\n"


def test_commit_without_targets_says_which_unrun_outputs_it_left_alone(unrun):
    for args in ((), (".",)):
        doc = json.loads(unrun.run("commit", *args, "--json").stdout)
        assert doc["not_run"] == []  # nothing on disk: nothing to say
    unrun.gen({"y.out": "by hand\n"})
    before = snapshot(unrun.root, skip=(".git", "tmp"))
    for args in ((), (".",)):
        doc = json.loads(unrun.run("commit", *args, "--json").stdout)
        assert doc["not_run"] == [{"path": "y.out", "stage": "y"}]
        assert all(not s["changed"] for s in doc["saved"])
        out = unrun.run("commit", *args).stdout
        assert "Nothing to commit" in out
        assert "Left alone: y.out, an output of stage 'y', which has not run yet" in out
        assert "`mlvc commit y.out` records them" in out
    assert snapshot(unrun.root, skip=(".git", "tmp")) == before
    # Named, it is recorded, and nothing is left alone any more.
    unrun.gen({"m.json": "{}\n"})
    assert json.loads(unrun.run("commit", "y.out", "--json").stdout)["not_run"] == []
    assert json.loads(unrun.run("commit", "--json").stdout)["not_run"] == []


def test_an_unrun_output_is_named_as_typed_in_a_sub_folder(unrun):
    unrun.gen({"y.out": "by hand\n", "m.json": "{}\n", "sub": {}})
    here = unrun.root / "sub"
    result = unrun.run("add", "../y.out", cwd=here, code=1)
    assert "error: '../y.out' is an output of stage 'y'" in result.stderr
    assert "`mlvc commit ../y.out` records them" in result.stderr
    result = unrun.run("status", "../y.out", cwd=here, code=1)
    assert "error: '../y.out' is an output of stage 'y', which has not run yet" in result.stderr
    assert "`mlvc commit ../y.out` records them" in result.stderr
    out = unrun.run("commit", cwd=here).stdout
    assert "Left alone: ../y.out, an output of stage 'y'" in out
    assert "`mlvc commit ../y.out` records them" in out
    unrun.run("commit", "../y.out", cwd=here)  # the hinted command, pasted there
    assert json.loads(unrun.run("status", "--json").stdout)["clean"]


def test_an_uncached_stage_output_is_said_to_be_kept_in_git(unrun):
    unrun.gen({"y.out": "y\n3\n", "m.json": "{}\n"})
    unrun.run("commit", "m.json")  # records stage y
    result = unrun.run("checkout", "m.json", code=1)
    assert "'m.json' is an output of stage 'y' kept in git (cache: false)" in result.stderr
    assert "has not run" not in result.stderr


def test_a_dep_that_matches_its_clean_mark_is_not_hashed_again(project, monkeypatch):
    from mlvc.ops import commit

    project.gen({"data": {"a": "1", "sub": {"b": "2"}}})
    write_pipeline(project, {"n": {"cmd": "ls -R data > n.txt", "deps": ["data"],
                                   "outs": ["n.txt"]}})
    time.sleep(0.05)  # past the racy window: marks can be made
    project.run("add", "data")
    project.run("repro")
    time.sleep(0.05)
    assert "up to date" in project.run("status").stdout  # marks n.txt too
    stored = []
    real = commit._store
    monkeypatch.setattr(commit, "_store", lambda repo, scanned, **kw: stored.extend(
        p for p, _ in scanned) or real(repo, scanned, **kw))
    from mlvc.workspace.scan import Scanner

    listed = []
    real_listing = Scanner.listing
    monkeypatch.setattr(Scanner, "listing", lambda self, path, split=False: listed.append(
        path) or real_listing(self, path, split))
    assert "up to date" in project.run("status").stdout
    assert sorted(listed) == ["data", "n.txt"]  # once each: a clean output is a known dep
    assert "Data and pipelines are up to date" in project.run("repro").stdout
    assert stored == []
    (project.root / "data/sub/b").write_text("changed")
    result = project.run("status", "--json", code=None)
    assert json.loads(result.stdout)["stages"] == [{"stage": "n", "reasons": ["dep data modified"]}]
    assert "data" in stored


def test_many_quick_stages_rewrite_the_lock_now_and_then_not_after_each(project,
                                                                         monkeypatch):
    from mlvc.ops import repro as repro_mod

    written = []
    real = repro_mod.write_lock
    monkeypatch.setattr(repro_mod, "write_lock",
                        lambda root, entries: written.append(len(entries)) or real(root, entries))
    monkeypatch.setattr(repro_mod, "LOCK_WRITE_EVERY", 3600)
    stages = {f"s{i}": {"cmd": sh(f"s{i}", f"s{i}.out", "in"), "deps": ["in"],
                        "outs": [f"s{i}.out"]} for i in range(30)}
    stages["broken"] = {"cmd": "exit 3", "deps": ["s29.out"], "outs": ["never"]}
    project.gen({"in": "1\n"})
    write_pipeline(project, stages)
    project.run("repro", code=1)  # the last stage fails: the 30 before it are recorded
    assert written == [1, 30]  # the first at once, the rest when the run ended
    assert sorted(lock(project)["stages"]) == sorted(f"s{i}" for i in range(30))
    written.clear()
    project.gen({"in": "2\n"})
    for i in range(30):
        (project.root / f"s{i}.out").write_text(f"by hand {i}\n")
    project.run("commit", "--force", *[f"s{i}.out" for i in range(30)])
    assert written == [30, 30]
    assert all(e["outs"][0]["size"] == len(f"by hand {i}\n") for i, e in enumerate(
        lock(project)["stages"][f"s{i}"] for i in range(30)))


def test_a_slow_lock_write_is_made_less_often(project, monkeypatch):
    from mlvc.ops import repro as repro_mod

    written = []
    real = repro_mod.write_lock

    def slow(root, entries):
        time.sleep(0.1)  # as a lock of thousands of stages takes to write
        written.append(len(entries))
        real(root, entries)

    monkeypatch.setattr(repro_mod, "write_lock", slow)
    monkeypatch.setattr(repro_mod, "LOCK_WRITE_EVERY", 0)  # only the write's own cost counts
    stages = {f"s{i}": {"cmd": sh(f"s{i}", f"s{i}.out", "in"), "deps": ["in"],
                        "outs": [f"s{i}.out"]} for i in range(30)}
    project.gen({"in": "1\n"})
    write_pipeline(project, stages)
    project.run("repro")
    assert written[0] == 1 and written[-1] == 30
    assert len(written) < 15  # each write waits ten times its own cost: about 1 s
    assert sorted(lock(project)["stages"]) == sorted(stages)


def test_a_cached_output_that_git_tracks_is_refused_before_anything_runs(project):
    project.gen({"in.txt": "in\n", "out.txt": "old\n"}, commit="both in git")
    r = project.run("stage", "add", "-n", "s", "-d", "in.txt", "-o", "out.txt",
                    "cp in.txt out.txt", code=1)
    assert "error: output 'out.txt' of stage 's' is tracked by git" in r.stderr
    assert "(git rm -r --cached out.txt)" in r.stderr and "cache: false" in r.stderr
    assert not (project.root / "mlvc.yaml").exists()
    project.gen({"sub": {}})  # in a sub-folder: as seen from there, and the command pastes
    r = project.run("stage", "add", "-n", "s", "-d", "../in.txt", "-o", "../out.txt",
                    "cp in.txt out.txt", cwd=project.root / "sub", code=1)
    assert "error: output '../out.txt' of stage 's' is tracked by git" in r.stderr
    assert "(git rm -r --cached ../out.txt)" in r.stderr
    project.run("stage", "add", "-n", "s", "-d", "in.txt", "-O", "out.txt",
                "cp in.txt out.txt")  # kept in git: as meant
    write_pipeline(project, {"s": {"cmd": sh("s", "out.txt", "in.txt"), "deps": ["in.txt"],
                                   "outs": ["out.txt"]}})
    before = snapshot(project.root, skip=(".git",))
    for args in (["repro"], ["repro", "--dry"]):
        r = project.run(*args, code=1)
        assert "output 'out.txt' of stage 's' is tracked by git" in r.stderr
    assert runs(project) == [] and snapshot(project.root, skip=(".git",)) == before
    r = project.run("repro", cwd=project.root / "sub", code=1)
    assert "error: output '../out.txt' of stage 's' is tracked by git" in r.stderr
    subprocess.run(["git", "rm", "-q", "--cached", "../out.txt"], cwd=project.root / "sub",
                   check=True)  # the hinted command, pasted in the sub-folder
    project.run("repro")
    assert runs(project) == ["s"] and "/out.txt" in project.read(".gitignore")


def test_a_pointer_file_for_a_stage_output_is_refused_until_removed(chain):
    pointer = "schema: 1\nouts:\n- path: x.out\n  hash: xxh128\n  oid: {}\n  type: file\n" \
              "  size: 1\n".format(lock(chain)["stages"]["x"]["outs"][0]["oid"])
    chain.gen({"x.out.mlvc": pointer})  # hand-written, or from a merge
    for args in (["status"], ["checkout"], ["commit"]):
        r = chain.run(*args, code=1)
        assert r.stderr.startswith(
            "error: 'x.out' is tracked by x.out.mlvc and is an output of stage 'x' too")
        assert "`mlvc remove x.out.mlvc` and let the stage produce it" in r.stderr
    r = chain.run("repro", code=1)  # (the pipeline graph's own check)
    assert r.stderr.startswith("error: output 'x.out' of stage 'x' is tracked by x.out.mlvc")
    assert "`mlvc remove x.out.mlvc` and let the stage produce it" in r.stderr
    # In a sub-folder the files are named as seen from there, and the hint pastes as it is.
    chain.gen({"sub": {}})
    sub = chain.root / "sub"
    for args in (["status"], ["repro"], ["dag"], ["stage", "add", "-n", "z", "-d", "../x.out",
                                                  "-o", "z.out", "cp ../x.out z.out"]):
        r = chain.run(*args, cwd=sub, code=1)
        assert "'../x.out'" in r.stderr and "../x.out.mlvc" in r.stderr, args
        assert "`mlvc remove ../x.out.mlvc` and let the stage produce it" in r.stderr, args
    assert "/x.out" in chain.read(".gitignore").splitlines()
    chain.run("remove", "../x.out.mlvc", cwd=sub)
    assert "/x.out" in chain.read(".gitignore").splitlines()  # the stage still owns it
    assert json.loads(chain.run("status", "--json").stdout)["clean"]


def _object(project, oid: str) -> str:
    return (project.root / ".mlvc/cache/objects" / oid[:2] / oid[2:]).read_text()


@pytest.mark.parametrize("run_cache", [True, False])
def test_repro_keeps_a_hand_edited_output_in_the_cache_before_replacing_it(project,
                                                                          run_cache):
    """The stage replaces an output edited by hand (it is out of date because of it, or its
    deps changed too); the edit was in no cache and no lock, so it is stored first and the
    warning says where. Both ways of replacing it: running the command, and the run cache."""
    project.gen({"d.in": "1\n"})
    write_pipeline(project, {"s": {"cmd": sh("s", "o", "d.in"), "deps": ["d.in"],
                                   "outs": ["o"]}})
    project.run("repro")
    runs(project)
    project.gen({"o": "my edit\n"})
    if not run_cache:
        project.gen({"d.in": "2\n"})
    r = project.run("repro", "--json")
    assert runs(project) == ([] if run_cache else ["s"])
    assert project.read("o") == ("s\n1\n" if run_cache else "s\n2\n")
    [stage] = json.loads(r.stdout)["stages"]
    assert stage["state"] == ("restored" if run_cache else "ran")
    [kept] = stage["kept"]
    assert kept["path"] == "o" and _object(project, kept["oid"]) == "my edit\n"
    assert kept["object"] == str(project.root / ".mlvc/cache/objects" / kept["oid"][:2]
                                 / kept["oid"][2:])
    assert "warning: stage 's' replaces data that mlvc.lock does not record" in r.stderr
    assert f"  o: .mlvc/cache/objects/{kept['oid'][:2]}/{kept['oid'][2:]}\n" in r.stderr


def test_repro_keeps_the_changed_files_of_an_output_folder_and_names_only_them(project):
    project.gen({"n": "1"})
    write_pipeline(project, {"s": {
        "cmd": "mkdir -p out && for f in a b c; do (echo $f; cat n) > out/$f; done",
        "deps": ["n"], "outs": ["out"]}})
    project.run("repro")
    os.chmod(project.root / "out/b", 0o644)  # (a copy: the cache keeps its own bytes)
    project.gen({"out/b": "edited\n", "out/new": "added\n", "n": "2"})
    (project.root / "out/c").unlink()
    r = project.run("repro", "--json")
    [stage] = json.loads(r.stdout)["stages"]
    assert [(k["path"], _object(project, k["oid"])) for k in stage["kept"]] == [
        ("out/b", "edited\n"), ("out/new", "added\n")]
    assert project.read("out/b") == "b\n2" and not (project.root / "out/new").exists()
    r = project.run("repro", "-f")
    assert "warning" not in r.stderr  # the outputs were the stage's own: nothing to keep


def test_repro_stores_quietly_a_recorded_output_the_cache_lacks(project):
    """After ``repro --no-commit`` the lock records bytes the cache does not have; a later
    run that replaces them stores them first (no warning: they are the stage's own)."""
    project.gen({"d.in": "1\n"})
    write_pipeline(project, {"s": {"cmd": sh("s", "o", "d.in"), "deps": ["d.in"],
                                   "outs": ["o"]}})
    project.run("repro", "--no-commit")
    oid = lock(project)["stages"]["s"]["outs"][0]["oid"]
    project.gen({"d.in": "2\n"})
    r = project.run("repro")
    assert "warning" not in r.stderr
    assert _object(project, oid) == "s\n1\n"
    assert project.read("o") == "s\n2\n"


def test_first_repro_keeps_an_output_made_by_hand_before_the_stage_ran(project):
    project.gen({"d.in": "1\n", "o": "made by hand\n"})
    write_pipeline(project, {"s": {"cmd": sh("s", "o", "d.in"), "deps": ["d.in"],
                                   "outs": ["o"]}})
    r = project.run("repro")
    assert "made before the stage ran" in r.stderr
    [where] = [line[len("  o: "):] for line in r.stderr.splitlines() if line.startswith("  o: ")]
    assert (project.root / where).read_text() == "made by hand\n"
    assert project.read("o") == "s\n1\n"


def test_restoring_outputs_as_the_lock_records_them_names_no_lock_change(project):
    project.gen({"d.in": "1\n"})
    write_pipeline(project, {"s": {"cmd": sh("s", "o", "d.in"), "deps": ["d.in"],
                                   "outs": ["o"]}})
    project.run("repro")
    project.commit_all("ran")
    (project.root / "o").unlink()
    r = project.run("repro")
    assert "restored its outputs from the run cache" in r.stdout
    assert "git add" not in r.stdout
    (project.root / "o").unlink()
    assert json.loads(project.run("repro", "--json").stdout)["git_files"] == []
    assert project.git("status", "--porcelain") == ""


@pytest.fixture
def pushed(project, tmp_path):
    """A project whose pipeline ran (a dep tracked by a pointer, two stages), pushed to a
    folder remote, and a fresh git clone of it, with an empty cache."""
    project.run("remote", "add", "-d", "store", str(tmp_path / "store"))
    project.gen({"raw": "r\n", "params.yaml": "n: 1\n"})
    project.run("add", "raw")
    write_pipeline(project, {
        "prep": {"cmd": sh("prep", "prep.out", "raw"), "deps": ["raw"], "outs": ["prep.out"]},
        "train": {"cmd": sh("train", "model", "prep.out", "params.yaml"),
                  "deps": ["prep.out"], "params": ["n"], "outs": ["model"]},
    })
    project.run("repro")
    runs(project)
    project.commit_all("ran")
    project.run("push", "--run-cache")
    subprocess.run(["git", "clone", "-q", str(project.root), str(tmp_path / "clone")],
                   check=True)
    return Project(tmp_path / "clone")


def test_repro_pull_in_a_fresh_clone_checks_out_what_the_stages_need(pushed):
    """DVC's `repro --pull` for CI: unchanged stages find their outputs and do not run."""
    r = pushed.run("repro", "--pull")
    assert runs(pushed) == []
    assert "didn't change" in r.stdout
    assert pushed.read("raw") == "r\n" and pushed.read("model").startswith("train\n")
    assert pushed.run("status").stdout == "Data and pipelines are up to date.\n"


def test_repro_pull_keeps_a_changed_dep_and_runs_the_stages_it_changes(pushed):
    pushed.gen({"raw": "mine\n"})
    pushed.run("repro", "--pull")
    assert pushed.read("raw") == "mine\n"
    assert runs(pushed) == ["prep", "train"]
    assert pushed.read("model").startswith("train\nprep\nmine\n")


def test_repro_pull_says_what_it_could_not_fetch(pushed, tmp_path):
    shutil.rmtree(tmp_path / "store" / "objects")
    r = pushed.run("repro", "--pull", "--json", code=1)
    assert "warning: --pull: 3 objects did not transfer from remote 'store':" in r.stderr
    assert "  raw  " in r.stderr
    doc = json.loads(r.stdout)
    assert {f["path"] for f in doc["fetched"]["failed"]} == {"raw", "prep.out", "model"}


def test_status_of_a_stage_that_cannot_be_judged_names_it_once(project):
    project.gen({"d.in": "1\n"})
    write_pipeline(project, {"s": {"cmd": sh("s", "o", "d.in"), "deps": ["d.in"],
                                   "params": ["n"], "outs": ["o"]}})
    text = project.run("status").stdout
    assert "s (stage):\n  params file params.yaml does not exist\n" in text


def test_the_run_cache_stands_in_neither_for_always_changed_nor_persistent_stages(project):
    """DVC does not use its run cache for either: an always_changed stage must run every
    time, and a persistent output is made from its own last state as well as the inputs."""
    project.gen({"in.txt": "1\n"})
    write_pipeline(project, {
        "inc": {"cmd": "cat in.txt >> log.txt && echo inc >> runs.log", "deps": ["in.txt"],
                "outs": [{"log.txt": {"persist": True}}]},
        "always": {"cmd": "echo always >> runs.log && cat in.txt > t.txt",
                   "always_changed": True, "outs": ["t.txt"]},
    })
    project.run("repro")
    assert sorted(runs(project)) == ["always", "inc"]
    project.gen({"in.txt": "2\n"})
    project.run("repro")
    assert sorted(runs(project)) == ["always", "inc"]
    project.gen({"in.txt": "1\n"})
    r = project.run("repro")
    assert "run cache" not in r.stdout
    assert sorted(runs(project)) == ["always", "inc"]
    assert project.read("log.txt") == "1\n2\n1\n"  # (restored, it was "1\n")
    runs_dir = project.root / ".mlvc/cache/runs"  # and no records were kept for them
    assert not runs_dir.exists() or not [p for p in runs_dir.rglob("*") if p.is_file()]


def test_move_of_a_stage_dep_warns_that_mlvc_yaml_names_the_old_path(project):
    project.gen({"raw": {"a.csv": "1\n"}, "other": "x"})
    project.run("add", "raw", "other")
    write_pipeline(project, {"s": {"cmd": sh("s", "o", "raw/a.csv"),
                                   "deps": ["raw/a.csv", "other"], "outs": ["o"]}})
    r = project.run("move", "raw", "data")
    assert ("warning: stage 's' depends on raw/a.csv, which is no longer there: change its "
            "deps in mlvc.yaml") in r.stderr
    assert json.loads(project.run("move", "other", "o2", "--json").stdout)["stale_deps"] == [
        {"stage": "s", "dep": "other"}]


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_a_persistent_output_linked_to_the_cache_is_unprotected_before_its_stage_runs(
        project, link):
    """The command appends to its persistent output: as a hard link (or symlink) to the
    cache, that wrote into the cache object itself (as root; others got 'permission
    denied'), leaving an object whose bytes do not match its oid."""
    project.run("config", "cache.type", link)
    project.gen({"in.txt": "1\n"})
    write_pipeline(project, {"inc": {"cmd": "cat in.txt >> log.txt", "deps": ["in.txt"],
                                     "outs": [{"log.txt": {"persist": True}}]},
                             "dir": {"cmd": "mkdir -p d && cat in.txt >> d/log",
                                     "deps": ["in.txt"], "outs": [{"d": {"persist": True}}]}})
    project.run("repro")
    first = lock(project)["stages"]["inc"]["outs"][0]["oid"]
    project.gen({"in.txt": "2\n"})
    project.run("repro")
    assert project.read("log.txt") == "1\n2\n" and project.read("d/log") == "1\n2\n"
    assert _object(project, first) == "1\n"  # the first version's object is intact
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True


def test_a_stage_with_no_deps_params_or_outputs_runs_every_time(project):
    """DVC's callback stage: nothing could show it up to date (a notification, a deploy)."""
    write_pipeline(project, {"notify": {"cmd": "echo notify >> runs.log"},
                             "made": {"cmd": "echo made >> runs.log && echo x > m",
                                      "outs": ["m"]}})
    project.run("repro")
    assert sorted(runs(project)) == ["made", "notify"]
    r = project.run("repro")
    assert runs(project) == ["notify"]
    assert "Running stage 'notify' (no deps, params or outputs: runs every time)" in r.stdout
    assert "notify (stage):" in project.run("status").stdout


def test_repro_shows_progress_while_it_hashes_and_stores_one_stage_at_a_time(project):
    project.gen({"raw": {f"f{i}": str(i) for i in range(40)}})
    write_pipeline(project, {
        "a": {"cmd": "cp -r raw a", "deps": ["raw"], "outs": ["a"]},
        "b": {"cmd": "cp -r raw b", "deps": ["raw"], "outs": ["b"]},
    })
    seen = RecordedPhases()
    with Repo.find(project.root) as repo:
        repro(repo, progress=seen)
        assert seen.order.count("Adding") == 2  # each stage's outputs, stored
        assert "Hashing" in seen.order  # its dep, hashed the first time
        # Stages that run at once would draw over each other's bars: none then.
        seen.order.clear()
        repro(repo, force=True, jobs=2, progress=seen)
        assert "Adding" not in seen.order


def test_a_renamed_stage_replaces_its_old_outputs_without_a_warning(project):
    """Its outputs, made under the old name, are in no lock entry of the new one, but every
    byte is in the cache already: there is nothing to warn of."""
    project.gen({"d.in": "1\n"})
    write_pipeline(project, {"old": {"cmd": sh("s", "o", "d.in"), "deps": ["d.in"],
                                     "outs": ["o"]}})
    project.run("repro")
    write_pipeline(project, {"new": {"cmd": sh("t", "o", "d.in"), "deps": ["d.in"],
                                     "outs": ["o"]}})
    r = project.run("repro")
    assert runs(project) == ["s", "t"]  # (it ran: its command is new)
    assert "warning" not in r.stderr
    assert project.read("o") == "t\n1\n"


def test_stage_names_are_targets_for_status_checkout_commit_and_push(chain, tmp_path):
    """As in DVC (`dvc push train`): a stage name, or a foreach/matrix group, stands for the
    stage's cached outputs; a path of the same name wins."""
    (chain.root / "b.out").unlink()
    (chain.root / "c.out").unlink()
    text = chain.run("status", "b").stdout
    assert "b.out (mlvc.lock):" in text and "c.out" not in text
    assert chain.run("checkout", "b").stdout == "1 added\n"
    assert not (chain.root / "c.out").exists()
    chain.run("remote", "add", "-d", "r", str(tmp_path / "r"))
    doc = json.loads(chain.run("push", "b", "--json").stdout)
    assert doc["transferred"] == 1
    assert json.loads(chain.run("commit", "b", "--json").stdout)["saved"][0]["path"] == "b.out"
    chain.gen({"b": "a file named b"})  # a path wins over the stage's name
    assert "'b' is not tracked by mlvc" in chain.run("status", "b", code=1).stderr


def test_a_foreach_group_name_is_a_target_for_its_copies_outputs(project):
    project.gen({"mlvc.yaml": "stages:\n  g:\n    foreach: [x, y]\n    do:\n"
                              "      cmd: echo ${item} > o_${item}\n      outs:\n"
                              "      - o_${item}\n"})
    project.run("repro")
    for f in ("o_x", "o_y"):
        (project.root / f).unlink()
    assert project.run("checkout", "g@x").stdout == "1 added\n"
    assert project.run("checkout", "g").stdout == "1 added\n"
    r = project.run("status", "nope", code=1)
    assert "'nope' is not tracked by mlvc" in r.stderr


def test_a_missing_dep_that_a_stage_makes_points_to_that_stage(chain):
    (chain.root / "a.out").unlink()
    r = chain.run("repro", "-s", "b", "-f", code=1)
    assert "error: stage 'b' failed: dep a.out does not exist" in r.stderr
    assert "hint: stage 'a' makes it: `mlvc repro a`, or `mlvc checkout a.out`" in r.stderr


def test_a_stage_prepared_as_repro_is_interrupted_neither_runs_nor_clears_outputs(
        project, monkeypatch):
    # The interrupt reaches the thread that schedules stages while another thread prepares
    # one: that stage must not delete its outputs, nor start its command.
    from mlvc.ops import repro as repro_mod

    project.gen({"in.txt": "1\n", "mlvc.yaml": yaml.safe_dump({"stages": {"s": {
        "cmd": "cp in.txt out.txt && echo ran >> runs.log", "deps": ["in.txt"],
        "outs": ["out.txt"]}}})})
    project.run("repro")
    project.gen({"in.txt": "2\n"})
    real = repro_mod.run_key
    engines = []
    real_init = repro_mod._Engine.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        engines.append(self)

    def interrupted_meanwhile(*args):
        engines[0].commands.stop(None)
        return real(*args)

    monkeypatch.setattr(repro_mod._Engine, "__init__", init)
    monkeypatch.setattr(repro_mod, "run_key", interrupted_meanwhile)
    project.run("repro", "--no-run-cache", code=1)
    assert project.read("out.txt") == "1\n" and project.read("runs.log") == "ran\n"


def test_recursive_chooses_the_stages_working_in_a_folder(project):
    """DVC's `repro -R FOLDER`: the stages "defined in" the folder, here those whose wdir is
    in it, even when their outputs are elsewhere; without -R, such a folder names none."""
    project.gen({"sub/deep/in": "1\n", "x.in": "2\n"})
    write_pipeline(project, {
        "inner": {"cmd": "cat in > ../../inner.out && echo inner >> ../../runs.log",
                  "wdir": "sub/deep", "deps": ["in"], "outs": ["../../inner.out"]},
        "x": {"cmd": sh("x", "x.out", "x.in"), "deps": ["x.in"], "outs": ["x.out"]}})
    err = project.run("repro", "sub", code=1).stderr
    assert "neither a stage nor an output" in err and "with -R" in err
    assert runs(project) == []
    project.run("repro", "-R", "sub")
    assert runs(project) == ["inner"] and project.read("inner.out") == "1\n"
    project.run("repro", "-f", "--recursive", "deep", cwd=project.root / "sub")  # (from inside)
    assert runs(project) == ["inner"]
    assert "no stage works in it" in project.run("repro", "-R", "x.in", code=1).stderr
    project.commit_all("pipeline")
    r = project.run("exp", "run", "--dry", "-R", "sub", "--json")
    assert [s["stage"] for s in json.loads(r.stdout)["repro"]["stages"]] == ["inner"]
