"""Clean marks: a no-op ``status`` of a whole output trusts one digest of its scan and of its
cache objects, and anything that could change the answer still shows."""

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

import mlvc.ops._outputs as outputs_op
import mlvc.workspace.marks as marks_mod
import mlvc.workspace.scan as scan
import mlvc.workspace.verify as verify_mod
from mlvc.objects.oid import hash_bytes
from mlvc.workspace.state import StateDB
from tests.conftest import snapshot
from tests.helpers.spies import asked_records

DATA = {"data": {"a.csv": "x,y\n1,2\n", "sub": {"b.txt": "bee", "deeper": {"c": "sea"}},
                 "empty": {}, "same": {"one": "twin", "two": "twin"}}}


def age(root: Path, seconds: int = 60) -> None:
    """Make every file below ``root`` older than the racy window."""
    past = time.time_ns() - seconds * 1_000_000_000
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(dirpath, name), ns=(past, past), follow_symlinks=False)


def marks(project) -> dict:
    db = StateDB(project.root / ".mlvc/tmp/state.db")
    try:
        return db.marks(["data"])
    finally:
        db.close()


def changes(project) -> dict:
    doc = json.loads(project.run("status", "--json", code=None).stdout)
    return {k: v for k, v in doc["changed"][0].items() if k not in ("pointer", "path")} \
        if doc["changed"] else {}


@pytest.fixture(autouse=True, params=["inline", "forked", "split"])
def objects_check(request, monkeypatch):
    """Every test runs three times: the marked cache objects stat'ed in this process; in the
    forked child that large outputs use (and the objects checked in two halves, one in a
    forked child); and in this process while a forked child scans half of the output (as for
    a large hard-linked output). Thresholds are lowered to reach the last two here."""
    if request.param == "forked":
        monkeypatch.setattr(marks_mod, "PROCESS_MIN_ITEMS", 0)
        monkeypatch.setattr(verify_mod, "PROCESS_MIN_ITEMS", 0)
    if request.param == "split":
        monkeypatch.setattr(scan, "SPLIT_AFTER", 0)
    return request.param


@pytest.fixture
def no_slow_path(monkeypatch):
    """Fail the test if status reads recorded trees (the way it works without a mark)."""
    def refuse(*_a, **_k):
        raise AssertionError("status took the slow path")
    monkeypatch.setattr(outputs_op, "load_recorded", refuse)


def add_aged(project, link: str, data: dict):
    """``project`` with ``data`` added through links of type ``link``, its files older than
    the racy window (so ``add`` marks it clean)."""
    project.run("config", "cache.type", link)
    project.gen(data)
    age(project.root / "data")
    project.run("add", "data")
    project.link_type = link
    return project


@pytest.fixture(params=["copy", "hardlink"])
def marked(project, request):
    """A project whose ``data`` was added and is marked clean."""
    add_aged(project, request.param, DATA)
    assert marks(project)["data"].oid in project.read("data.mlvc")
    return project


def test_add_marks_and_status_needs_nothing_else(marked, no_slow_path):
    r = marked.run("status")
    assert "up to date" in r.stdout


def _cache_object(project, content: bytes) -> Path:
    oid = hash_bytes(content)
    return project.root / ".mlvc/cache/objects" / oid[:2] / oid[2:]


def _edit(p, text):
    os.chmod(p, 0o644)
    p.write_text(text)


CHANGES = {
    "edit": (lambda p: _edit(p.root / "data/a.csv", "x,y\n9,9\n"), {"modified": ["data/a.csv"]}),
    "grow": (lambda p: _edit(p.root / "data/sub/b.txt", "bees"), {"modified": ["data/sub/b.txt"]}),
    "delete": (lambda p: (p.root / "data/sub/deeper/c").unlink(),
               {"deleted": ["data/sub/deeper/c"]}),
    "new file": (lambda p: (p.root / "data/new").write_text("n"), {"added": ["data/new"]}),
    "new folder": (lambda p: (p.root / "data/sub/void").mkdir(), {"added": ["data/sub/void/"]}),
    "exec bit": (lambda p: os.chmod(p.root / "data/a.csv", 0o755), {"modified": ["data/a.csv"]}),
    "ignored": (lambda p: (p.root / ".mlvcignore").write_text("b.txt\n"),
                {"ignored": ["data/sub/b.txt"]}),
    "object gone": (lambda p: _cache_object(p, b"sea").unlink(),
                    {"not_in_cache": ["data/sub/deeper/c"]}),
}


@pytest.mark.parametrize("change", CHANGES)
def test_every_change_still_shows_after_a_mark(marked, change):
    assert "up to date" in marked.run("status").stdout
    assert marks(marked)
    make, expected = CHANGES[change]
    make(marked)
    if change in ("edit", "grow") and marked.link_type == "hardlink":
        # An in-place edit of a hard-linked file edits its cache object too.
        expected = {**expected, "corrupt_in_cache": expected["modified"]}
    assert changes(marked) == expected


def rot(project, content: bytes, new: bytes) -> None:
    """Rewrite the cache object of ``content`` in place with ``new`` of the same size:
    bytes gone bad in the cache, later than the clock tick of the object's write (within
    it, the stat would be the same, and nothing could tell)."""
    obj = _cache_object(project, content)
    os.chmod(obj, 0o644)
    obj.write_bytes(new)
    later = obj.stat().st_mtime_ns + 10**9
    os.utime(obj, ns=(later, later))


def test_rewritten_cache_object_shows_after_a_mark(project):
    project.gen(DATA)
    age(project.root / "data")
    project.run("add", "data")
    rot(project, b"bee", b"bad")
    assert changes(project) == {"corrupt_in_cache": ["data/sub/b.txt"]}


def test_a_mark_names_the_recorded_oid(project):
    """Going back to an older pointer never matches the mark of the newer data."""
    project.gen(DATA)
    age(project.root / "data")
    project.run("add", "data")
    project.commit_all("v1")
    project.gen({"data": {"a.csv": "x,y\n3,4\n"}})
    age(project.root / "data")
    project.run("add", "data")
    assert "up to date" in project.run("status").stdout
    project.git("checkout", "HEAD", "--", "data.mlvc")
    assert changes(project) == {"modified": ["data/a.csv"]}


def test_files_inside_the_racy_window_are_never_marked(project):
    """A file whose mtime is not clearly in the past could change again unseen."""
    project.gen(DATA)
    future = time.time_ns() + 3600 * 1_000_000_000
    os.utime(project.root / "data/a.csv", ns=(future, future))
    project.run("add", "data")
    assert marks(project) == {}
    assert "up to date" in project.run("status").stdout
    assert marks(project) == {}


def test_status_marks_what_it_found_clean(project):
    project.gen(DATA)
    project.run("add", "data")
    age(project.root / "data")  # new mtimes: status hashes again, finds it clean, marks it
    with sqlite3.connect(project.root / ".mlvc/tmp/state.db") as db:
        db.execute("DELETE FROM marks")
    assert "up to date" in project.run("status").stdout
    assert marks(project)["data"].oid in project.read("data.mlvc")


def test_status_of_part_of_a_folder_does_not_use_the_mark(project, monkeypatch):
    project.gen(DATA)
    age(project.root / "data")
    project.run("add", "data")
    _edit(project.root / "data/sub/b.txt", "wasp")
    assert json.loads(project.run("status", "--json", "data/sub", code=None).stdout)[
        "changed"][0]["modified"] == ["data/sub/b.txt"]
    assert json.loads(project.run("status", "--json", "data/a.csv").stdout)["clean"] is True


def test_remove_and_move_drop_the_mark(marked):
    db_marks = marks(marked)
    assert "data" in db_marks
    marked.run("move", "data", "moved")
    assert marks(marked) == {}
    marked.run("status")
    db = StateDB(marked.root / ".mlvc/tmp/state.db")
    try:
        assert "moved" in db.marks(["moved"])
        marked.run("remove", "moved.mlvc")
        assert db.marks(["moved"]) == {}
    finally:
        db.close()


def test_checkout_of_a_marked_output_reads_nothing_more(marked, monkeypatch):
    import mlvc.ops.checkout as checkout_op

    compared = []
    real = checkout_op.load_recorded
    monkeypatch.setattr(checkout_op, "load_recorded",
                        lambda repo, selected: compared.append(selected) or real(repo, selected))
    before = snapshot(marked.root, skip=(".git", "tmp"))  # tmp: parsed YAML is remembered
    r = marked.run("checkout", "--json")
    assert json.loads(r.stdout) == {"added": [], "modified": [], "deleted": [], "relinked": [],
                                    "conflicts": [], "failed": [], "dirs_made": [],
                                    "dirs_removed": [], "repaired": [],
                                    "ignored": []}
    assert compared == [[]] and snapshot(marked.root, skip=(".git", "tmp")) == before


@pytest.mark.parametrize("change", ["delete", "new file", "new folder", "object gone"])
def test_checkout_after_a_mark_still_puts_back_every_change(marked, change):
    before = snapshot(marked.root, skip=(".git", ".mlvc"))
    CHANGES[change][0](marked)
    result = marked.run("checkout", "--force", code=None)  # new files are unsaved work
    if change == "object gone":  # the workspace is as recorded: nothing to place
        assert result.exit_code == 0 and snapshot(marked.root, skip=(".git", ".mlvc")) == before
        assert changes(marked) == CHANGES[change][1]
        return
    assert snapshot(marked.root, skip=(".git", ".mlvc")) == before
    assert "up to date" in marked.run("status").stdout


def test_checkout_removes_what_a_killed_run_left_in_a_marked_output(marked):
    leftover = marked.root / "data/sub/b.txt.mlvc-tmp.4242"
    leftover.write_text("half written")
    marked.run("checkout")
    assert not leftover.exists()
    assert "up to date" in marked.run("status").stdout


def test_the_objects_stat_is_waited_for_only_when_the_output_holds_files(project, monkeypatch):
    """A marked output deleted before a checkout has no use for its objects' stat: the
    forked child that takes it is not waited for. One still there but changed gets it."""
    from mlvc.repo import Repo

    add_aged(project, "copy", {"data": {f"f{i}": f"content {i}" for i in range(6)}})
    monkeypatch.setattr(marks_mod, "PROCESS_MIN_ITEMS", 4)

    def scan() -> dict:
        repo = Repo.find(project.root)
        stats: dict = {}
        oid = marks(project)["data"].oid
        try:
            _, clean = marks_mod.scan_by_marks(repo.scanner, repo.state,
                                               str(repo.cache.objects_dir), [("data", oid)],
                                               stats=stats)
        finally:
            repo.close()
        assert clean == [False]
        return stats

    (project.root / "data/f0").unlink()  # five files are left: the stat is worth having
    assert len(scan()) == 7  # the six files' objects and the manifest
    for i in range(1, 3):  # three are left: not worth the wait
        (project.root / f"data/f{i}").unlink()
    assert scan() == {}
    shutil.rmtree(project.root / "data")
    assert scan() == {}


@pytest.mark.parametrize("command", ["status", "add"])
def test_objects_sound_by_their_marks_digest_need_no_record(project, monkeypatch, command):
    """A changed output whose objects still have the stat that its mark holds: those objects
    are as sound as when the mark was made, and their verification records are not read.
    (Hard-linked files' objects are not in a mark: each is checked by its file's stat.)"""
    marked = add_aged(project, "copy", DATA)
    monkeypatch.setattr(marks_mod, "PROCESS_MIN_ITEMS", 0)
    (marked.root / "data/sub/deeper/c").unlink()
    asked = asked_records(monkeypatch)
    if command == "status":
        assert changes(marked) == {"deleted": ["data/sub/deeper/c"]}
    else:
        marked.run("add", "data")
        assert "up to date" in marked.run("status").stdout
    kept = {hash_bytes(b) for b in (b"x,y\n1,2\n", b"twin")}  # the sub-folders' run too
    assert asked.isdisjoint(kept)


@pytest.mark.parametrize("command", ["status", "add"])
def test_an_object_gone_bad_shows_beside_a_change_in_a_marked_output(project, monkeypatch,
                                                                      command):
    """An object whose stat changed since the mark breaks the mark's digest: every object
    of the output is checked as without a mark; ``add`` stores the bad one again."""
    add_aged(project, "copy", DATA)
    monkeypatch.setattr(marks_mod, "PROCESS_MIN_ITEMS", 0)
    _edit(project.root / "data/a.csv", "x,y\n9,9\n")
    rot(project, b"bee", b"bad")
    if command == "status":
        assert changes(project) == {"modified": ["data/a.csv"],
                                    "corrupt_in_cache": ["data/sub/b.txt"]}
        return
    project.run("add", "data")
    assert _cache_object(project, b"bee").read_bytes() == b"bee"
    assert "up to date" in project.run("status").stdout
