"""A checkout that places much of an output marks it (``mlvc.ops._placed``): the ``status``
after it needs no full comparison, and every change made after it, or while it placed the
files, still shows."""

import os
import shutil
import sqlite3

import pytest

import mlvc.ops._outputs as outputs_op
import mlvc.ops._placed as placed_mod
import mlvc.workspace.marks as marks_mod
from tests.conftest import snapshot
from tests.functional import test_chunk_marks as chunk_tests
from tests.functional.test_chunk_marks import CHUNKS, DATA, marks, shows_twice
from tests.functional.test_status_marks import (  # objects_check: every test, three ways
    _cache_object,
    _edit,
    add_aged,
    age,
    no_slow_path,  # noqa: F401
    objects_check,  # noqa: F401
    rot,
)


@pytest.fixture(autouse=True)
def small(monkeypatch):
    """Chunks of 2 to 4 files (as in test_chunk_marks); a checkout that places 5 files of
    an output marks it."""
    monkeypatch.setattr(marks_mod, "CHUNK_MIN", 2)
    monkeypatch.setattr(marks_mod, "CHUNK_MAX", 4)
    monkeypatch.setattr(placed_mod, "MARK_AFTER_PLACED", 5)


@pytest.fixture(params=["copy", "hardlink"])
def checked_out(project, request):
    """``data`` added, marked, deleted and checked out again: every file placed anew."""
    add_aged(project, request.param, DATA)
    shutil.rmtree(project.root / "data")
    project.run("checkout")
    return project


def _out_oid(project) -> str:
    return chunk_tests._out(project)["oid"]


def test_status_after_a_full_checkout_compares_nothing(checked_out, no_slow_path):  # noqa: F811
    assert "up to date" in checked_out.run("status").stdout
    found = marks(checked_out)
    assert set(found) == {"data", *CHUNKS}
    assert found["data"].oid == _out_oid(checked_out)
    assert {p: m.oid for p, m in found.items() if p != "data"} == \
        chunk_tests.recorded_tree_oids(checked_out)


@pytest.mark.parametrize("change", chunk_tests.CHANGES)
def test_every_change_after_a_checkout_still_shows(checked_out, change):
    chunk_tests.change_shows(checked_out, change)


def test_an_object_gone_bad_after_a_checkout_shows(project):
    add_aged(project, "copy", DATA)
    shutil.rmtree(project.root / "data")
    project.run("checkout")
    rot(project, b"b3", b"zz")
    shows_twice(project, {"corrupt_in_cache": ["data/s3/b"]})


def _while_placing(monkeypatch, change) -> list:
    """Make ``change`` to the workspace after the checkout placed its files, just before it
    scans them to mark the output. Returns the outputs it was asked to mark."""
    real = placed_mod._marks
    asked = []

    def spy(repo, c, *args):
        asked.append(c.item.selected.tracked.out.path)
        change()
        return real(repo, c, *args)

    monkeypatch.setattr(placed_mod, "_marks", spy)
    return asked


CONCURRENT = {
    "edit": (lambda p: _edit(p.root / "data/s1/c", "changed"), {"modified": ["data/s1/c"]}),
    "same size": (lambda p: _edit(p.root / "data/top.txt", "pot"),
                  {"modified": ["data/top.txt"]}),
    "edit in a clean chunk": (lambda p: _edit(p.root / "data/big/x/2", "22"),
                              {"modified": ["data/big/x/2"]}),
    "new file": (lambda p: (p.root / "data/big/new").write_text("n"),
                 {"added": ["data/big/new"]}),
    "delete": (lambda p: (p.root / "data/big/z").unlink(), {"deleted": ["data/big/z"]}),
    "new folder": (lambda p: (p.root / "data/void").mkdir(), {"added": ["data/void/"]}),
    "exec bit": (lambda p: (p.root / "data/s2/c").chmod(0o755), {"modified": ["data/s2/c"]}),
    "object gone": (lambda p: _cache_object(p, b"x1").unlink(),
                    {"not_in_cache": ["data/big/x/1"]}),
    "hard link of another file": (
        lambda p: [(p.root / "data/s1/c").unlink(),
                   os.link(p.root / "data/s2/c", p.root / "data/s1/c")],
        {"modified": ["data/s1/c"]}),
}
PLACED = [f"data/s{i}/{n}" for i in range(4) for n in "ab"]


@pytest.mark.parametrize("change", CONCURRENT)
@pytest.mark.parametrize("how", ["all placed", "some placed"])
def test_a_change_made_while_checkout_placed_leaves_the_output_unmarked(
        project, monkeypatch, change, how):
    """Changed while the checkout placed other files, a file it placed, one it found right,
    or one in a chunk clean by its mark (big/x, when only the files of s0-s3 are placed)."""
    add_aged(project, "copy", DATA)
    before = marks(project)["data"]  # add's, of files that are deleted now
    if how == "all placed":
        shutil.rmtree(project.root / "data")
    else:
        for path in PLACED:
            (project.root / path).unlink()
    make, expected = CONCURRENT[change]
    asked = _while_placing(monkeypatch, lambda: make(project))
    project.run("checkout")
    assert asked == ["data"]
    if change != "object gone":  # (a mark of the object's old stat does not hold)
        assert marks(project)["data"] == before
    shows_twice(project, expected)


def test_checkout_of_an_older_pointer_marks_it(project, monkeypatch):
    """Some files placed, some found right and kept, some in chunks clean by their marks:
    the status after needs nothing more, and the workspace is v1 exactly."""
    project.run("config", "cache.type", "copy")
    project.gen(DATA)
    age(project.root / "data")
    project.run("add", "data")
    project.commit_all("v1")
    v1 = snapshot(project.root, skip=(".git", ".mlvc"))
    for i in range(4):
        for n in "ab":
            _edit(project.root / f"data/s{i}/{n}", f"v2 {n}{i}")
    project.gen({"data": {"big": {"x": {"4": "x4"}}}})
    age(project.root / "data")
    project.run("add", "data")
    assert "up to date" in project.run("status").stdout  # marks every chunk of v2
    project.git("checkout", "HEAD", "--", "data.mlvc")
    project.run("checkout")
    assert snapshot(project.root, skip=(".git", ".mlvc")) == v1
    assert marks(project)["data"].oid == _out_oid(project)
    monkeypatch.setattr(outputs_op, "load_recorded", _refuse)
    assert "up to date" in project.run("status").stdout


def _refuse(*_a, **_k):
    raise AssertionError("status took the slow path")


def test_kept_changes_leave_the_output_unmarked(project):
    add_aged(project, "copy", DATA)
    before = marks(project)["data"]
    for i in range(4):
        (project.root / f"data/s{i}/a").unlink()
        (project.root / f"data/s{i}/b").unlink()
    _edit(project.root / "data/top.txt", "mine")
    r = project.run("checkout", code=1)
    assert "data/top.txt" in r.stdout + r.stderr
    assert marks(project)["data"] == before
    shows_twice(project, {"modified": ["data/top.txt"]})


def test_few_files_placed_leave_the_marking_to_status(project, monkeypatch):
    add_aged(project, "copy", DATA)
    asked = _while_placing(monkeypatch, lambda: None)
    for n in "abc":
        (project.root / f"data/s1/{n}").unlink()
    project.run("checkout")  # 3 placed
    assert asked == []
    for i in range(4):
        (project.root / f"data/s{i}/c").unlink()
    (project.root / "data/top.txt").unlink()
    project.run("checkout")  # 5 placed
    assert asked == ["data"]
    assert marks(project)["data"].oid == _out_oid(project)


def test_an_output_mostly_clean_by_chunk_marks_is_left_to_status(project, monkeypatch):
    """Five files placed in two chunks (s0, s1) of six: the status after compares 8 files
    of 20 (those chunks and the 2 files outside every chunk), less than the scan for a
    mark would cost."""
    add_aged(project, "copy", DATA)
    asked = _while_placing(monkeypatch, lambda: None)
    for path in ["data/s0/a", "data/s0/b", "data/s0/c", "data/s1/a", "data/s1/b"]:
        (project.root / path).unlink()
    project.run("checkout")
    assert asked == []
    assert "up to date" in project.run("status").stdout


def test_a_hard_linked_checkout_keeps_the_mark_that_holds(project, monkeypatch):
    """Hard links are their objects, with the stat the mark recorded: no scan is needed
    while a mark of the recorded oid is there; without one, the checkout makes it."""
    add_aged(project, "hardlink", DATA)
    asked = _while_placing(monkeypatch, lambda: None)
    shutil.rmtree(project.root / "data")
    project.run("checkout")
    assert asked == []
    with sqlite3.connect(project.root / ".mlvc/tmp/state.db") as db:
        db.execute("DELETE FROM marks")
    shutil.rmtree(project.root / "data")
    project.run("checkout")
    assert asked == ["data"]
    assert marks(project)["data"].oid == _out_oid(project)


def test_the_mark_waits_out_the_racy_window(project, monkeypatch):
    """Files placed within ``RACY_NS`` of the mark could still change unseen in the same
    clock tick: the checkout waits that long before it scans them for the mark."""
    add_aged(project, "copy", DATA)
    monkeypatch.setattr(marks_mod, "RACY_NS", 300_000_000)
    monkeypatch.setattr(placed_mod, "RACY_NS", 300_000_000)
    shutil.rmtree(project.root / "data")
    project.run("checkout")
    assert "data" in marks(project)


def test_a_file_found_right_within_the_racy_window_is_not_marked(project, monkeypatch):
    """A file the checkout kept (its bytes are right) but that was written just before it
    started could still change within that clock tick: no mark vouches for it."""
    add_aged(project, "copy", DATA)
    monkeypatch.setattr(marks_mod, "RACY_NS", 60_000_000_000)
    monkeypatch.setattr(placed_mod, "RACY_NS", 60_000_000_000)
    age(project.root / "data", 120)
    for i in range(4):
        for n in "ab":
            (project.root / f"data/s{i}/{n}").unlink()
    _edit(project.root / "data/top.txt", "top")  # the same bytes, written now
    before = marks(project)["data"]
    asked = _while_placing(monkeypatch, lambda: None)
    project.run("checkout")
    assert asked == ["data"]
    assert marks(project)["data"] == before
    assert "up to date" in project.run("status").stdout


def test_only_a_whole_output_is_marked(project, monkeypatch):
    add_aged(project, "copy", DATA)
    asked = _while_placing(monkeypatch, lambda: None)
    shutil.rmtree(project.root / "data/big")
    project.run("checkout", "data/big")
    assert asked == []
    assert "up to date" in project.run("status").stdout


def test_the_marking_shows_as_a_phase_of_its_own(project):
    """After the bar of the placed files, the scan for the mark has a phase of its own (on
    a million files it takes seconds)."""
    from contextlib import contextmanager

    from mlvc.ops.checkout import checkout
    from mlvc.progress import Progress
    from mlvc.repo import Repo

    class Phases(Progress):
        def __init__(self):
            self.seen = []

        @contextmanager
        def phase(self, desc, total=None, unit="file"):
            counted = []
            yield counted.append
            self.seen.append((desc, total, sum(counted)))

    add_aged(project, "copy", DATA)
    before = marks(project)["data"]
    shutil.rmtree(project.root / "data")
    phases = Phases()
    with Repo.find(project.root) as repo:
        checkout(repo, progress=phases)
    assert phases.seen[-1] == ("Scanning what was placed", 1, 1)
    assert marks(project)["data"].ws != before.ws  # (new files: new inodes)


def test_what_the_scan_for_the_mark_meets_never_fails_the_checkout(project, tmp_path,
                                                                   monkeypatch):
    """The files are placed when the scan for the mark runs: a symlink that leads out of the
    project, made meanwhile, means no mark, not a failed checkout (status then refuses it)."""
    add_aged(project, "copy", DATA)
    before = marks(project)["data"]
    shutil.rmtree(project.root / "data")
    (tmp_path / "outside").write_text("x")
    _while_placing(monkeypatch, lambda: os.symlink(tmp_path / "outside",
                                                   project.root / "data/s1/link"))
    project.run("checkout")
    assert marks(project)["data"] == before
    assert (project.root / "data/s3/a").read_text() == "a3"
    assert "leads outside the project" in project.run("status", code=1).stderr


def test_a_folder_gone_during_the_scan_for_the_mark_never_fails_the_checkout(project,
                                                                           monkeypatch):
    from mlvc.workspace.scan import Scanner

    add_aged(project, "copy", DATA)
    shutil.rmtree(project.root / "data")

    def gone(*_a, **_k):
        raise FileNotFoundError(2, "No such file or directory", "data/s2")

    _while_placing(monkeypatch, lambda: monkeypatch.setattr(Scanner, "listing", gone))
    project.run("checkout")
    monkeypatch.undo()
    assert "up to date" in project.run("status").stdout
