"""Marks of sub-folders ("chunks"): when one file of a big output changes, status compares
only what lies outside the sub-folders still clean by their own marks, and still reports
every change."""

import json
import os
import sqlite3
import subprocess

import pytest

import mlvc.ops._outputs as outputs_op
import mlvc.workspace.marks as marks_mod
import mlvc.workspace.scan as scan
from mlvc.objects.store import ObjectStore
from mlvc.workspace.compare import tree_entries_at
from mlvc.workspace.ignore import IgnoreRules
from mlvc.workspace.state import StateDB
from tests.conftest import snapshot
from tests.functional.test_status_marks import (  # objects_check: every test, three ways
    _cache_object,
    _edit,
    add_aged,
    age,
    objects_check,  # noqa: F401
    rot,
)

CHUNKS = ["data/big/x", "data/big/y", "data/s0", "data/s1", "data/s2", "data/s3"]
DATA = {"data": {"top.txt": "top",
                 **{f"s{i}": {n: f"{n}{i}" for n in "abc"} for i in range(4)},
                 "big": {"x": {"1": "x1", "2": "x2", "3": "x3"},
                         "y": {"1": "y1", "2": "y2", "3": "same"}, "z": "same"}}}


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    """Chunks of 2 to 4 files: s0-s3 (3 each), and big/x and big/y, as big holds 7."""
    monkeypatch.setattr(marks_mod, "CHUNK_MIN", 2)
    monkeypatch.setattr(marks_mod, "CHUNK_MAX", 4)


@pytest.fixture(params=["copy", "hardlink"])
def added(project, request):
    return add_aged(project, request.param, DATA)


def marks(project, paths=("data", *CHUNKS)) -> dict:
    db = StateDB(project.root / ".mlvc/tmp/state.db")
    try:
        return db.marks(paths)
    finally:
        db.close()


def recorded_tree_oids(project) -> dict:
    oid = next(ln.split()[1] for ln in project.read("data.mlvc").splitlines()
               if ln.strip().startswith("oid:"))
    found = tree_entries_at(ObjectStore(project.root / ".mlvc/cache"), "data", oid, CHUNKS)
    return {p: e.oid for p, e in found.items()}


@pytest.fixture
def compared(monkeypatch):
    """The workspace files that status looked up or hashed (the full comparison's files)."""
    seen: list[str] = []
    real = outputs_op.resolve

    def spy(repo, files, *args, **kwargs):
        seen.extend(f.path for f in files)
        return real(repo, files, *args, **kwargs)

    import mlvc.ops.checkout as checkout_op

    monkeypatch.setattr(outputs_op, "resolve", spy)  # status imports it when it needs it
    monkeypatch.setattr(checkout_op, "resolve", spy)
    return seen


def changes(project) -> dict:
    doc = json.loads(project.run("status", "--json", code=None).stdout)
    return {k: v for k, v in doc["changed"][0].items() if k not in ("pointer", "path")} \
        if doc["changed"] else {}


def test_add_marks_each_chunk_against_its_recorded_tree(added):
    found = marks(added)
    assert set(found) == {"data", *CHUNKS}
    assert {p: m.oid for p, m in found.items() if p != "data"} == recorded_tree_oids(added)


def edit_shows(project, path: str) -> None:
    """Edit ``path`` in place: status shows it modified (and, hard-linked, its object
    corrupt, as an in-place edit changes the object too)."""
    _edit(project.root / path, "changed")
    expected = {"modified": [path]}
    if project.link_type == "hardlink":
        expected["corrupt_in_cache"] = [path]
    assert changes(project) == expected


def test_one_change_compares_only_outside_the_clean_chunks(added, compared):
    edit_shows(added, "data/s1/a")
    # s1 (its mark fails) and the files outside every chunk; the other five stay clean.
    assert sorted(compared) == ["data/big/z", "data/s1/a", "data/s1/b", "data/s1/c",
                                "data/top.txt"]


def _set_mode(path, mode):
    os.chmod(path, mode)


CHANGES = {
    "edit in a chunk": (lambda p: _edit(p.root / "data/s2/b", "bb"),
                        {"modified": ["data/s2/b"]}),
    "edit outside": (lambda p: _edit(p.root / "data/top.txt", "pot"),
                     {"modified": ["data/top.txt"]}),
    "edit below a chunk's parent": (lambda p: _edit(p.root / "data/big/z", "diff"),
                                    {"modified": ["data/big/z"]}),
    "delete": (lambda p: (p.root / "data/big/x/1").unlink(), {"deleted": ["data/big/x/1"]}),
    "new file": (lambda p: (p.root / "data/s3/new").write_text("n"),
                 {"added": ["data/s3/new"]}),
    "new folder": (lambda p: (p.root / "data/s0/void").mkdir(), {"added": ["data/s0/void/"]}),
    "new chunk-sized folder": (
        lambda p: [(p.root / "data/s4").mkdir(), *((p.root / "data/s4" / n).write_text(n)
                                                   for n in "ab")],
        {"added": ["data/s4/a", "data/s4/b"]}),
    "exec bit": (lambda p: _set_mode(p.root / "data/s1/c", 0o755),
                 {"modified": ["data/s1/c"]}),
    "ignored": (lambda p: (p.root / ".mlvcignore").write_text("2\n"),
                {"ignored": ["data/big/x/2", "data/big/y/2"]}),
    "object gone": (lambda p: _cache_object(p, b"x3").unlink(),
                    {"not_in_cache": ["data/big/x/3"]}),
    "folder gone": (lambda p: [os.unlink(p.root / "data/s0" / n) for n in "abc"]
                    and os.rmdir(p.root / "data/s0"),
                    {"deleted": ["data/s0/a", "data/s0/b", "data/s0/c"]}),
}


def change_shows(project, change: str) -> None:
    """Make the change ``CHANGES[change]``; status reports it, twice."""
    make, expected = CHANGES[change]
    make(project)
    if "edit" in change and project.link_type == "hardlink":
        # An in-place edit of a hard-linked file edits its cache object too, and so every
        # file linked to it: big/z and big/y/3 (in a chunk) have the same bytes.
        edited = expected["modified"]
        if edited == ["data/big/z"]:
            edited = ["data/big/y/3", "data/big/z"]
        expected = {"modified": edited, "corrupt_in_cache": edited}
    shows_twice(project, expected)


@pytest.mark.parametrize("change", CHANGES)
def test_every_change_still_shows_with_chunk_marks(added, change):
    assert "up to date" in added.run("status").stdout
    change_shows(added, change)


def bad_object_shows(project, edited: str, content: bytes, its_file: str) -> None:
    """With the output's own mark failing (``edited`` is edited), the object of
    ``content`` gone bad in a part still clean by its own mark shows as corrupt."""
    _edit(project.root / edited, "changed")
    rot(project, content, b"z" * len(content))
    expected = {"modified": [edited], "corrupt_in_cache": [its_file]}
    if project.link_type == "hardlink":  # the objects are the workspace files
        both = sorted({edited, its_file})
        expected = {"modified": both, "corrupt_in_cache": both}
    assert changes(project) == expected


def test_a_rewritten_object_of_a_clean_chunk_shows(added):
    bad_object_shows(added, "data/top.txt", b"a2", "data/s2/a")


def test_a_chunk_mark_holds_for_its_recorded_tree_only(project, compared):
    project.gen(DATA)
    age(project.root / "data")
    project.run("add", "data")
    project.commit_all("v1")
    project.gen({"data": {"s0": {"a": "new a"}}})
    age(project.root / "data")
    project.run("add", "data")
    assert "up to date" in project.run("status").stdout  # marks s0 for its new tree
    compared.clear()
    project.git("checkout", "HEAD", "--", "data.mlvc")  # back to v1's pointer
    assert changes(project) == {"modified": ["data/s0/a"]}
    assert sorted(compared) == ["data/big/z", "data/s0/a", "data/s0/b", "data/s0/c",
                                "data/top.txt"]


def test_status_marks_the_chunks_it_found_clean(project):
    project.gen(DATA)
    project.run("add", "data")
    age(project.root / "data")  # new mtimes: every mark fails
    with sqlite3.connect(project.root / ".mlvc/tmp/state.db") as db:
        db.execute("DELETE FROM marks")
    _edit(project.root / "data/s1/b", "changed")
    age(project.root / "data")
    assert changes(project) == {"modified": ["data/s1/b"]}
    assert set(marks(project)) == set(CHUNKS) - {"data/s1"}  # and not the output's
    _edit(project.root / "data/s1/b", "b1")  # back as recorded
    age(project.root / "data")
    assert "up to date" in project.run("status").stdout
    assert set(marks(project)) == {"data", *CHUNKS}


@pytest.mark.parametrize("split", [False, True])
def test_a_chunk_of_a_scan_is_the_scan_of_that_folder(project, monkeypatch, split):
    if split:
        monkeypatch.setattr(scan, "SPLIT_AFTER", 0)
    project.gen(DATA)
    scanner = scan.Scanner(project.root, IgnoreRules(project.root), (project.root,))
    whole = scanner.listing("data", split=split)
    found = marks_mod.chunks(whole)
    assert sorted(c.path for c in found) == CHUNKS
    for c in found:
        assert marks_mod.sub_listing(whole, c) == scanner.listing(c.path)


def test_remove_and_move_drop_the_chunk_marks_too(added):
    assert set(marks(added)) == {"data", *CHUNKS}
    added.run("move", "data", "moved")
    assert marks(added) == {}
    added.run("remove", "moved.mlvc")
    added.run("add", "moved")
    added.run("status")  # a re-add knows too little to mark; status marks
    moved = [p.replace("data", "moved", 1) for p in ("data", *CHUNKS)]
    assert set(marks(added, moved)) == set(moved)
    added.run("remove", "moved.mlvc")
    assert marks(added, moved) == {}


def test_checkout_restores_a_file_looking_only_outside_the_clean_chunks(added, compared):
    before = snapshot(added.root, skip=(".git", ".mlvc"))
    (added.root / "data/s1/a").unlink()
    r = added.run("checkout", "--json")
    assert json.loads(r.stdout)["added"] == ["data/s1/a"]
    assert sorted(compared) == ["data/big/z", "data/s1/b", "data/s1/c", "data/top.txt"]
    assert snapshot(added.root, skip=(".git", ".mlvc")) == before
    assert "up to date" in added.run("status").stdout


def test_checkout_of_an_older_pointer_replaces_only_what_differs(project, compared):
    project.gen(DATA)
    age(project.root / "data")
    project.run("add", "data")
    project.commit_all("v1")
    v1 = snapshot(project.root, skip=(".git", ".mlvc"))
    (project.root / "data/s0/a").unlink()
    project.gen({"data": {"s0": {"a": "new a"}, "s2": {"d": "new d"}}})
    age(project.root / "data")
    project.run("add", "data")
    assert "up to date" in project.run("status").stdout  # marks every chunk anew
    compared.clear()
    project.git("checkout", "HEAD", "--", "data.mlvc")
    r = project.run("checkout", "--json")
    assert (json.loads(r.stdout)["modified"], json.loads(r.stdout)["deleted"]) == (
        ["data/s0/a"], ["data/s2/d"])
    assert sorted(compared) == ["data/big/z", "data/s0/a", "data/s0/b", "data/s0/c",
                                "data/s2/a", "data/s2/b", "data/s2/c", "data/s2/d",
                                "data/top.txt"]
    assert snapshot(project.root, skip=(".git", ".mlvc")) == v1
    assert "up to date" in project.run("status").stdout


def test_checkout_deletes_what_a_killed_run_left_in_a_clean_chunk(added):
    leftover = added.root / "data/s2/b.mlvc-tmp.4242"
    leftover.write_text("half written")
    (added.root / "data/top.txt").unlink()  # the output's own mark fails
    added.run("checkout")
    assert not leftover.exists() and (added.root / "data/top.txt").exists()
    assert "up to date" in added.run("status").stdout


def test_relink_re_creates_files_in_clean_chunks_too(added):
    (added.root / "data/top.txt").unlink()
    doc = json.loads(added.run("checkout", "--relink", "--json").stdout)
    assert doc["added"] == ["data/top.txt"]
    assert len(doc["relinked"]) == 19  # every other file, in clean chunks too


def _age(*paths) -> None:
    """Only these files, past the racy window (the others keep the mtimes marked)."""
    import time

    past = time.time_ns() - 30 * 1_000_000_000
    for p in paths:
        os.utime(p, ns=(past, past))


def _out(project) -> dict:
    import yaml

    return yaml.safe_load(project.read("data.mlvc"))["outs"][0]


def fresh_add(folder, *trees) -> dict:
    """What ``mlvc add data`` records in a new project at ``folder`` holding ``trees``,
    written one over the other."""
    from tests.conftest import Project, write_tree

    folder.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    fresh = Project(folder)
    fresh.run("init")
    for tree in trees:
        write_tree(folder, tree)
    fresh.run("add", "data")
    return _out(fresh)


def shows_twice(project, expected: dict) -> None:
    """``status`` reports ``expected``, and again: no mark made by the first hides it."""
    assert changes(project) == expected
    assert changes(project) == expected


@pytest.fixture(params=["here", "forked"])
def tree_child(request, monkeypatch):
    """Trees built and finished in this process, or in a forked child (as for 64 folders
    or more), which puts the reused chunks back in its own copy of the tree."""
    import mlvc.ops.commit as commit_op

    if request.param == "forked":
        monkeypatch.setattr(commit_op, "TREE_FORK_MIN", 0)
    return request.param


def test_commit_reuses_the_clean_chunks_and_records_what_a_full_add_would(
        added, tmp_path, monkeypatch, tree_child):
    import mlvc.ops.commit as commit_op

    looked_up: list[str] = []
    real = commit_op.known_oids
    monkeypatch.setattr(commit_op, "known_oids", lambda state, files, under, linked=None: (
        looked_up.extend(f.path for f in files) or real(state, files, under, linked)))
    _edit(added.root / "data/s1/a", "changed")
    (added.root / "data/big/x/4").write_text("new x4")
    _age(added.root / "data/s1/a", added.root / "data/big/x/4")
    added.run("commit")
    # s1 and big/x changed; s0, s2, s3 and big/y are reused as recorded.
    assert sorted(looked_up) == ["data/big/x/1", "data/big/x/2", "data/big/x/3",
                                 "data/big/x/4", "data/big/z", "data/s1/a", "data/s1/b",
                                 "data/s1/c", "data/top.txt"]
    reused = _out(added)

    # The same data added afresh, in another project, gets the same record.
    other = tmp_path / "other"
    assert fresh_add(other, DATA, {"data": {"s1": {"a": "changed"},
                                            "big": {"x": {"4": "new x4"}}}}) == reused
    assert "up to date" in added.run("status").stdout
    assert snapshot(added.root, skip=(".git", ".mlvc", "data.mlvc", ".gitignore")) == \
        snapshot(other, skip=(".git", ".mlvc", "data.mlvc", ".gitignore"))


def _commit_around_reused(project) -> None:
    """Change s1 and big/x (s0, s2, s3 and big/y stay clean by their marks) and commit."""
    _edit(project.root / "data/s1/a", "changed")
    (project.root / "data/big/x/4").write_text("new x4")
    _age(project.root / "data/s1/a", project.root / "data/big/x/4")
    project.run("commit")


def test_a_commit_around_reused_chunks_lists_and_marks_the_new_tree(added, monkeypatch,
                                                                    tree_child):
    """The reused chunks are put back, as recorded and as their marks hold them, so the
    commit makes the new tree's listing and marks it whole: status then reads nothing."""
    _commit_around_reused(added)
    new = _out(added)["oid"]
    db = StateDB(added.root / ".mlvc/tmp/state.db")
    try:
        assert db.have_listings([new]) == {new}
    finally:
        db.close()
    found = marks(added)
    assert set(found) == {"data", *CHUNKS} and found["data"].oid == new
    assert {p: m.oid for p, m in found.items() if p != "data"} == recorded_tree_oids(added)

    def refuse(*_a, **_k):
        raise AssertionError("status took the slow path")

    monkeypatch.setattr(outputs_op, "load_recorded", refuse)
    assert "up to date" in added.run("status").stdout


@pytest.mark.parametrize("change", CHANGES)
def test_every_change_after_a_commit_around_reused_chunks_still_shows(added, change):
    _commit_around_reused(added)
    change_shows(added, change)


def test_a_commit_around_reused_chunks_without_the_recorded_listing_marks_nothing(added):
    """Without the flattened listing of the tree before, the reused chunks' files have no
    oids at hand: the new tree is neither listed nor marked, and status works it out."""
    before = marks(added)["data"]
    with sqlite3.connect(added.root / ".mlvc/tmp/state.db") as db:
        db.execute("DELETE FROM listings")
    _commit_around_reused(added)
    assert marks(added)["data"] == before
    assert "up to date" in added.run("status").stdout
    assert marks(added)["data"].oid == _out(added)["oid"]


def test_commit_of_only_a_file_outside_the_chunks_is_right_too(added):
    _edit(added.root / "data/top.txt", "pot")
    _age(added.root / "data/top.txt")
    added.run("commit")
    assert "up to date" in added.run("status").stdout
    added.commit_all("v2")
    (added.root / "data/top.txt").unlink()
    added.run("checkout")
    assert added.read("data/top.txt") == "pot"


def test_a_stage_dep_that_changed_in_one_folder_is_recorded_right(added, request):
    import yaml

    if request.node.callspec.params["objects_check"] != "inline":
        pytest.skip("how objects are stat'ed is covered above; a stage run is slow")

    added.run("stage", "add", "-n", "count", "-d", "data", "-o", "n.txt",
              "find data -type f | wc -l > n.txt")
    added.run("repro")
    assert "up to date" in added.run("status").stdout
    (added.root / "data/s1/d").write_text("new")
    _age(added.root / "data/s1/d")
    r = added.run("repro", "--json")
    assert [s["state"] for s in json.loads(r.stdout)["stages"]] == ["ran"]
    assert added.read("n.txt").strip() == "21"
    lock = yaml.safe_load(added.read("mlvc.lock"))["stages"]["count"]
    dep = next(d for d in lock["deps"] if d["path"] == "data")
    added.run("commit", "data.mlvc")
    assert dep["oid"] == _out(added)["oid"] and dep["nfiles"] == 21


def test_commit_stores_again_a_chunk_manifest_that_went_missing(added):
    s2 = recorded_tree_oids(added)["data/s2"]
    manifest = added.root / ".mlvc/cache/objects" / s2[:2] / s2[2:]
    manifest.unlink()
    _edit(added.root / "data/top.txt", "pot")  # the output's own mark fails
    _age(added.root / "data/top.txt")
    added.run("commit")
    assert manifest.exists()  # s2's mark covers its manifest: s2 was built again
    assert "up to date" in added.run("status").stdout


def test_listings_of_older_and_newer_mlvc_live_side_by_side(added):
    """An older mlvc reads only a listing under the tree's plain oid, in its own form; a
    newer one keeps its form (with the folders' oids) under another key, and makes it again
    once from the manifests when it finds only the older form."""
    import marshal

    oid = _out(added)["oid"]
    db = sqlite3.connect(added.root / ".mlvc/tmp/state.db")
    try:
        rows = dict(db.execute("SELECT oid, data FROM listings"))
        assert set(rows) == {oid + "+dirs"} and len(marshal.loads(rows[oid + "+dirs"])) == 4
        old = marshal.loads(rows[oid + "+dirs"])[:3]
        with db:
            db.execute("DELETE FROM listings")
            db.execute("INSERT INTO listings VALUES (?, ?)", (oid, marshal.dumps(old)))
    finally:
        db.close()
    (added.root / "data/top.txt").unlink()  # the full comparison reads the listing
    assert changes(added) == {"deleted": ["data/top.txt"]}
    db = sqlite3.connect(added.root / ".mlvc/tmp/state.db")
    try:
        rows = dict(db.execute("SELECT oid, data FROM listings"))
    finally:
        db.close()
    assert marshal.loads(rows[oid]) == old  # left as the older mlvc wrote it
    assert len(marshal.loads(rows[oid + "+dirs"])) == 4
