"""``mlvc gc`` (SPEC 3 and 4.9): what the kept revisions use stays; nothing else does."""

from __future__ import annotations

import json
import os
import subprocess

import yaml

from tests.conftest import Project


def objects(project: Project) -> set[str]:
    root = project.root / ".mlvc/cache/objects"
    return {p.parent.name + p.name for p in root.rglob("*") if p.is_file()}


def oid_of(project: Project, pointer: str = "d.mlvc") -> str:
    return yaml.safe_load(project.read(pointer))["outs"][0]["oid"]


def two_versions(project: Project) -> tuple[set[str], set[str]]:
    """d at v1 (tagged), then v2 committed on main: the objects of each."""
    project.gen({"d": {"a": "1", "b": "2", "s": {"c": "3"}}})
    project.run("add", "d")
    project.commit_all("v1")
    project.git("tag", "v1")
    first = objects(project)
    project.run("unprotect", "d")  # (linked files: root would write through the links)
    project.gen({"d": {"a": "changed", "s": {"c": "changed too"}}})
    project.run("commit")
    project.commit_all("v2")
    return first, objects(project) - first


def gc(project: Project, *args: str, code: int = 0) -> dict:
    r = project.run("gc", *args, "--json", code=code)
    return json.loads(r.stdout) if code == 0 else {}


def test_gc_needs_to_be_told_what_to_keep(project):
    r = project.run("gc", code=2)
    assert "say what to keep" in r.stderr
    assert "goes with -c" in project.run("gc", "-w", "-r", "x", code=2).stderr


def test_workspace_keeps_only_what_it_uses_and_asks_first(project):
    old, new = two_versions(project)
    before = objects(project)
    r = project.run("gc", "-w", code=1)  # not a terminal: no question, no deletion
    assert "gc would delete 4 objects from the cache" in r.stderr and "-f" in r.stderr
    assert objects(project) == before
    dry = gc(project, "-w", "--dry")
    assert dry["dry"] and len(dry["removed"]) == 4 and objects(project) == before
    done = gc(project, "-w", "-f")
    assert sorted(done["removed"]) == sorted(dry["removed"])
    # what v1 had alone goes (its d, d/s and the two changed files); all v2 needs stays
    assert set(done["removed"]) == old - objects(project)  # (none of v2's)
    assert objects(project) == before - set(done["removed"])
    assert new <= objects(project) and oid_of(project) in objects(project)
    assert not set(done["removed"]) & new
    assert project.run("status").stdout == "Data and pipelines are up to date.\n"
    # v1 cannot be checked out from this cache any more: as asked
    project.git("checkout", "-q", "v1")
    assert "not in cache" in project.run("checkout", code=1).stderr
    text = project.run("gc", "-w", "-f", code=1).stderr  # v1's d: what does it hold?
    assert "gc cannot tell what 1 kept folder(s) hold, so it deletes nothing" in text


def test_branches_tags_and_commits_are_kept_when_asked(project):
    old, new = two_versions(project)
    everything = objects(project)
    assert gc(project, "-T", "-f")["removed"] == []  # v1 is a tag
    assert gc(project, "-A", "-f")["removed"] == []
    project.git("checkout", "-q", "-b", "old", "v1")
    project.run("checkout")
    project.git("checkout", "-q", "main")
    project.run("checkout")
    assert gc(project, "-a", "-f")["removed"] == []  # branch old is at v1
    assert objects(project) == everything
    project.git("branch", "-D", "old")
    assert len(gc(project, "-a", "-f")["removed"]) == 4


def test_rev_num_and_date_keep_those_commits_data(project):
    old, new = two_versions(project)
    everything = objects(project)
    # three versions: v1, v2, then v3 on main
    project.run("unprotect", "d")
    project.gen({"d": {"b": "v3"}})
    project.run("commit")
    project.commit_all("v3")
    third = objects(project) - everything
    # --date: what commits made that day or later use (all of them here, or none)
    commits = len(project.git("rev-list", "--all").split())
    assert gc(project, "--date", "2000-01-01", "--dry")["kept_revisions"] == commits
    assert gc(project, "--date", "2000-01-01", "--dry")["removed"] == []
    late = gc(project, "--date", "2999-01-01", "--dry")
    assert late["kept_revisions"] == 0 and late["removed"]
    assert "not a date" in project.run("gc", "--date", "yesterday", "-f", code=1).stderr
    assert "not a git revision" in project.run("gc", "--rev", "nope", "-f", code=1).stderr
    assert "-n/--num goes with --rev" in project.run("gc", "-w", "-n", "2", code=2).stderr
    # -n 2 from main: v3 and v2, so v1's data alone goes
    done = gc(project, "--rev", "main", "-n", "2", "-f")
    assert done["kept_revisions"] == 2 and set(done["removed"]) == old - new - objects(project)
    assert new <= objects(project) and third <= objects(project)
    project.git("checkout", "-q", "v1")  # (v1 cannot be restored: its data went)
    assert "not in cache" in project.run("checkout", code=1).stderr
    project.git("checkout", "-q", "main")
    assert gc(project, "--rev", "HEAD~1", "-f")["removed"] == []  # (v2: kept)
    assert gc(project, "-w", "-f")["removed"]  # (then v2's alone go)


def test_a_workspace_symlink_keeps_its_object(project):
    project.run("config", "cache.type", "symlink")
    old, new = two_versions(project)
    # the workspace as v1 placed it, while the pointer says v2 (git moved the pointer only)
    project.git("checkout", "-q", "v1")
    project.run("checkout")
    project.git("checkout", "-q", "main", "--", "d.mlvc")
    links = [p for p in (project.root / "d").rglob("*") if p.is_symlink()]
    assert links
    done = gc(project, "-w", "-f")
    for link in links:
        assert os.path.exists(link), link  # none broken
    assert len(done["removed"]) == 2  # v1's manifests, which no file links to


def test_run_cache_records_go_with_their_outputs_and_metrics_stay(project):
    stages = {"s": {"cmd": "cat in > out && printf '{\"n\": 1}' > m.json", "deps": ["in"],
                    "outs": ["out"], "metrics": [{"m.json": {"cache": False}}]}}
    project.gen({"in": "1", "mlvc.yaml": yaml.safe_dump({"stages": stages})})
    project.run("repro")
    project.commit_all("one")
    runs = project.root / ".mlvc/cache/runs"
    first = {p.parent.name + p.name for p in runs.rglob("*") if p.is_file()}
    project.gen({"in": "2"})
    project.run("repro")
    project.commit_all("two")
    assert len({p for p in runs.rglob("*") if p.is_file()}) == 2
    done = gc(project, "-w", "-f")
    assert done["runs_removed"] == 1 and len(done["removed"]) == 1  # the first run's out
    left = {p.parent.name + p.name for p in runs.rglob("*") if p.is_file()}
    assert len(left) == 1 and not left & first
    # the run kept can still be restored from the cache: nothing runs
    (project.root / "out").unlink()
    assert "restored its outputs from the run cache" in project.run("repro").stdout


def test_not_in_remote_deletes_only_what_was_pushed(project, tmp_path):
    store = tmp_path / "store"
    project.run("remote", "add", "-d", "store", str(store))
    old, new = two_versions(project)
    project.git("checkout", "-q", "v1")  # v1's data reaches the remote; v2's not yet
    project.run("checkout")
    project.run("push")
    project.git("checkout", "-q", "main")
    project.run("checkout")
    project.run("unprotect", "d")
    project.gen({"d": {"a": "v3"}})
    project.run("commit")
    project.commit_all("v3")  # v2's changed files are unused now, and were never pushed
    on_remote = {p.parent.name + p.name for p in (store / "objects").rglob("*") if p.is_file()}
    unused = set(gc(project, "-w", "--dry")["removed"])
    assert unused & on_remote and unused - on_remote  # (v1's pushed; v2's not)
    r = project.run("gc", "-w", "--not-in-remote", "-f")
    assert f"Kept {len(unused - on_remote)} unused objects that the remote lacks" in r.stdout
    assert not objects(project) & (unused & on_remote)  # (what was pushed went…)
    assert unused - on_remote <= objects(project)  # (…what was not stays)
    done = gc(project, "-w", "--not-in-remote", "-f")
    assert done["removed"] == [] and done["kept_unpushed"] == len(unused - on_remote)
    assert "choose one" in project.run("gc", "-w", "-c", "--not-in-remote", code=2).stderr


def test_cloud_deletes_on_the_remote_too_and_starts_its_index_again(project, tmp_path):
    store = tmp_path / "store"
    project.run("remote", "add", "-d", "store", str(store))
    old, new = two_versions(project)
    project.run("push", "-T", "-a")
    on_remote = {p.parent.name + p.name for p in (store / "objects").rglob("*") if p.is_file()}
    assert on_remote == objects(project)
    epoch = (store / "mlvc-epoch").read_text()
    done = gc(project, "-w", "-c", "-f")
    assert done["remote"] == "store" and sorted(done["remote_removed"]) == sorted(
        done["removed"])
    left = {p.parent.name + p.name for p in (store / "objects").rglob("*") if p.is_file()}
    assert left == objects(project)
    assert (store / "mlvc-epoch").read_text() != epoch
    # what is left is whole: a fresh clone pulls main
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(project.root), str(clone)], check=True)
    Project(clone).run("pull")
    assert Project(clone).read("d/a") == "changed"
    assert json.loads(project.run("status", "-c", "--json").stdout)["clean"]


def test_a_cache_outside_the_project_may_be_shared(project, tmp_path):
    shared = tmp_path / "shared-cache"
    project.run("config", "cache.dir", str(shared))
    other = Project(tmp_path / "other")
    other.root.mkdir()
    subprocess.run(["git", "init", "-q", str(other.root)], check=True)
    other.run("init")
    other.run("config", "cache.dir", str(shared))
    other.gen({"theirs": "their bytes"})
    other.run("add", "theirs")
    old, new = two_versions(project)
    theirs = oid_of(other, "theirs.mlvc")
    r = project.run("gc", "-w", "-f", code=1)
    assert "outside this project" in r.stderr and "-p" in r.stderr
    done = gc(project, "-w", "-f", "-p", str(other.root))
    assert len(done["removed"]) == 4 and theirs not in done["removed"]
    assert (shared / "objects" / theirs[:2] / theirs[2:]).exists()
    # `-p .`: "no other project uses it", taken at its word
    assert gc(project, "-w", "-f", "-p", ".")["removed"] == [theirs]


def test_skip_failed_leaves_out_a_revisions_unreadable_pointer(project):
    """As DVC's --skip-failed: a kept revision whose pointer file does not parse stops gc
    (it cannot tell what that revision uses), unless it is left out on purpose."""
    two_versions(project)
    project.gen({"broken.mlvc": "schema: 1\nouts: [oops\n"}, commit="a broken pointer")
    (project.root / "broken.mlvc").unlink()
    project.commit_all("fixed")
    project.gen({"scratch.bin": "used by nothing"})
    project.run("add", "scratch.bin")
    (project.root / "scratch.bin.mlvc").unlink()
    before = objects(project)
    r = project.run("gc", "-A", "-f", code=1)
    assert "gc cannot tell what 1 pointer or lock file(s)" in r.stderr
    assert "--skip-failed" in r.stderr and objects(project) == before
    r = project.run("gc", "-A", "--skip-failed", code=1)  # (not a terminal: it asks, no)
    assert "gc would delete 1 objects" in r.stderr and "--skip-failed left out 1" in r.stderr
    assert objects(project) == before
    r = project.run("gc", "-A", "-f", "--skip-failed", "--json")
    doc = json.loads(r.stdout)
    assert len(doc["removed"]) == 1 and len(doc["skipped"]) == 1  # (v1's and v2's stay)
    assert "broken.mlvc" in doc["skipped"][0]
    assert "warning: --skip-failed: left out" in r.stderr and "broken.mlvc" in r.stderr
    assert objects(project) == before - set(doc["removed"])
