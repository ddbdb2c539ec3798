"""Flat chunks: a folder with too many files of its own to be one chunk has them cut into
runs, each with a mark of its own. When one file of a flat folder changes, status and
checkout look only at its run (and at what lies outside every chunk), and every change
still shows. Commit does not reuse runs (the folder's manifest is made again anyway)."""

import json
import os

import pytest

import mlvc.workspace.marks as marks_mod
from mlvc.workspace.ignore import IgnoreRules
from mlvc.workspace.scan import Scanner
from tests.conftest import snapshot
from tests.functional import test_chunk_marks as chunk_tests
from tests.functional.test_chunk_marks import _age, _out, changes, fresh_add, marks, shows_twice
from tests.functional.test_status_marks import (  # objects_check: every test, three ways
    _cache_object,
    _edit,
    add_aged,
    objects_check,  # noqa: F401
)

compared = chunk_tests.compared  # the files that status or checkout looked up or hashed

FLAT = [f"f{i:02d}" for i in range(16)]
DATA = {"data": {**{n: f"content {n}" for n in FLAT}, "sub": {"a": "sa", "b": "sb"}}}


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    """Chunks of 2 to 4 files: sub is one; data's own 16 files are cut into runs."""
    monkeypatch.setattr(marks_mod, "CHUNK_MIN", 2)
    monkeypatch.setattr(marks_mod, "CHUNK_MAX", 4)
    monkeypatch.setattr(marks_mod, "RUN_EVERY", 3)


@pytest.fixture(params=["copy", "hardlink"])
def added(project, request):
    return add_aged(project, request.param, DATA)


def runs(project) -> dict[str, list[str]]:
    """Each flat chunk of ``data`` as the workspace is now: its key and its files."""
    scanner = Scanner(project.root, IgnoreRules(project.root), (project.root,))
    listing = scanner.listing("data")
    return {c.path: listing.paths[c.start:c.end]
            for c in marks_mod.chunks(listing) if c.flat}


def run_of(project, path: str) -> list[str]:
    """The files of the run that holds ``path``, sorted."""
    return sorted(next(files for files in runs(project).values() if path in files))


def test_add_marks_every_run_of_a_flat_folder(added):
    found = runs(added)
    assert len(found) >= 4 and all(2 <= len(files) <= 4 for files in list(found.values())[:-1])
    assert sorted(f for files in found.values() for f in files) == [f"data/{n}" for n in FLAT]
    assert all(key == f"data//{files[0].rsplit('/', 1)[1]}" for key, files in found.items())
    recorded = _out(added)["oid"]
    held = marks(added, ["data", "data/sub", *found])
    assert set(held) == {"data", "data/sub", *found}
    assert all(held[key].oid == recorded for key in found)  # the folder's recorded tree


def test_one_edit_compares_only_its_run(added, compared):
    chunk_tests.edit_shows(added, "data/f05")
    assert sorted(compared) == run_of(added, "data/f05")


def _rename(p, old, new):
    os.rename(p.root / "data" / old, p.root / "data" / new)


CHANGES = {
    "edit": (lambda p: _edit(p.root / "data/f03", "other"), {"modified": ["data/f03"]}),
    "grow": (lambda p: _edit(p.root / "data/f11", "content f11, longer"),
             {"modified": ["data/f11"]}),
    "delete": (lambda p: (p.root / "data/f07").unlink(), {"deleted": ["data/f07"]}),
    "delete every first file": (
        lambda p: [(p.root / files[0]).unlink() for files in runs(p).values()],
        None),
    "new file": (lambda p: (p.root / "data/f99").write_text("n"), {"added": ["data/f99"]}),
    "rename": (lambda p: _rename(p, "f02", "g02"),
               {"added": ["data/g02"], "deleted": ["data/f02"]}),
    "exec bit": (lambda p: os.chmod(p.root / "data/f09", 0o755), {"modified": ["data/f09"]}),
    "ignored": (lambda p: (p.root / ".mlvcignore").write_text("f1*\n"),
                {"ignored": [f"data/f1{i}" for i in range(6)]}),
    "object gone": (lambda p: _cache_object(p, b"content f13").unlink(),
                    {"not_in_cache": ["data/f13"]}),
    "new folder": (lambda p: (p.root / "data/void").mkdir(), {"added": ["data/void/"]}),
}


@pytest.mark.parametrize("change", CHANGES)
def test_every_change_in_a_flat_folder_still_shows(added, change):
    assert "up to date" in added.run("status").stdout
    firsts = [files[0] for files in runs(added).values()]
    make, expected = CHANGES[change]
    make(added)
    if expected is None:  # the files that start a run: deleting them moves the boundaries
        expected = {"deleted": sorted(firsts)}
    if change in ("edit", "grow") and added.link_type == "hardlink":
        expected = {**expected, "corrupt_in_cache": expected["modified"]}
    shows_twice(added, expected)


def test_a_rewritten_object_of_a_clean_run_shows(added):
    chunk_tests.bad_object_shows(added, "data/sub/a", b"content f04", "data/f04")


def test_status_marks_the_runs_it_found_clean(added, compared):
    import sqlite3

    with sqlite3.connect(added.root / ".mlvc/tmp/state.db") as db:
        db.execute("DELETE FROM marks")
    _edit(added.root / "data/f06", "changed")
    _age(added.root / "data/f06")
    assert set(changes(added)) >= {"modified"}
    dirty = next(k for k, files in runs(added).items() if "data/f06" in files)
    assert set(marks(added, ["data", "data/sub", *runs(added)])) == \
        {"data/sub", *runs(added)} - {dirty}
    compared.clear()
    assert set(changes(added)) >= {"modified"}
    assert sorted(compared) == run_of(added, "data/f06")


def test_checkout_restores_a_file_looking_only_at_its_run(added, compared):
    before = snapshot(added.root, skip=(".git", ".mlvc"))
    run = run_of(added, "data/f10")
    (added.root / "data/f10").unlink()
    r = added.run("checkout", "--json")
    assert json.loads(r.stdout)["added"] == ["data/f10"]
    assert sorted(compared) == sorted(set(run) - {"data/f10"})
    assert snapshot(added.root, skip=(".git", ".mlvc")) == before
    assert "up to date" in added.run("status").stdout


def test_checkout_of_an_older_pointer_in_a_flat_folder(added):
    added.commit_all("v1")
    v1 = snapshot(added.root, skip=(".git", ".mlvc"))
    (added.root / "data/f01").unlink()
    (added.root / "data/f14").unlink()  # a new file: a hard link's object stays as it was
    (added.root / "data/f14").write_text("newer")
    (added.root / "data/f50").write_text("added")
    _age(added.root / "data/f14", added.root / "data/f50")
    added.run("commit")
    assert "up to date" in added.run("status").stdout
    added.git("checkout", "HEAD", "--", "data.mlvc")
    doc = json.loads(added.run("checkout", "--json").stdout)
    assert (doc["added"], doc["modified"], doc["deleted"]) == (
        ["data/f01"], ["data/f14"], ["data/f50"])
    assert snapshot(added.root, skip=(".git", ".mlvc")) == v1
    assert "up to date" in added.run("status").stdout


def test_commit_in_a_flat_folder_records_what_a_full_add_would(
        added, tmp_path, monkeypatch, compared):
    import mlvc.ops.commit as commit_op

    looked_up: list[str] = []
    real = commit_op.known_oids
    monkeypatch.setattr(commit_op, "known_oids", lambda state, files, under, linked=None: (
        looked_up.extend(f.path for f in files) or real(state, files, under, linked)))
    _edit(added.root / "data/f08", "changed")
    _age(added.root / "data/f08")
    added.run("commit")
    assert sorted(looked_up) == [f"data/{n}" for n in FLAT]  # sub is reused, the runs not

    assert fresh_add(tmp_path / "other", DATA, {"data": {"f08": "changed"}}) == _out(added)
    # The commit marked the new tree, its runs with it, around the reused sub-folder (put
    # back with what its mark holds): the next status compares nothing.
    compared.clear()
    assert "up to date" in added.run("status").stdout
    assert compared == []
    assert marks(added, ["data", *runs(added)]).keys() == {"data", *runs(added)}
    _rewrite(added.root / "data/f08", "once more")
    compared.clear()
    assert changes(added) == {"modified": ["data/f08"]}
    assert sorted(compared) == run_of(added, "data/f08")


def _rewrite(path, text):
    """New bytes in a new file (a hard link's object stays as it was), past the racy window."""
    path.unlink()
    path.write_text(text)
    _age(path)


def test_a_run_mark_holds_for_its_recorded_tree_only(added, compared):
    added.commit_all("v1")
    _rewrite(added.root / "data/f03", "newer")
    added.run("commit")
    assert "up to date" in added.run("status").stdout  # every run marked for the new tree
    compared.clear()
    added.git("checkout", "HEAD", "--", "data.mlvc")  # back to v1's pointer
    assert changes(added) == {"modified": ["data/f03"]}
    # No run's mark holds for v1's tree (sub's does: its tree is the same in both).
    assert sorted(compared) == [f"data/{n}" for n in FLAT]


NESTED = {"data": {"top": "t", "P": {"q1": "q1", "q2": "q2", "C": {"a": "ca", "b": "cb"},
                                     "D": {"a": "da", "b": "db"}},
                   "E": {n: f"e {n}" for n in "abcde"}}}


def test_a_commit_around_reused_folders_marks_no_folder_from_what_it_lacks(project, tmp_path):
    """C and D are chunks; P (6 files) is not, but a commit that reuses C and D builds a P
    of two files, the size of a chunk. Were that P marked, deleting C and D would leave P
    clean by its mark, and the next commit would record them again from P's old entry."""
    add_aged(project, "copy", NESTED)
    _rewrite(project.root / "data/P/q1", "new q1")
    _rewrite(project.root / "data/P/q2", "new q2")
    project.run("commit")  # reuses C and D, and E's runs
    for name in ("C", "D"):
        for f in "ab":
            (project.root / "data/P" / name / f).unlink()
        (project.root / "data/P" / name).rmdir()
    assert changes(project) == {"deleted": ["data/P/C/a", "data/P/C/b", "data/P/D/a",
                                            "data/P/D/b"]}
    project.run("commit")
    assert "up to date" in project.run("status").stdout

    assert fresh_add(tmp_path / "other", {"data": {
        "top": "t", "P": {"q1": "new q1", "q2": "new q2"}, "E": NESTED["data"]["E"]}}) == \
        _out(project)


def test_commit_makes_again_the_manifest_of_a_flat_folder_that_went_missing(project):
    """A run's mark covers its files and their objects, not its folder's manifest."""
    from mlvc.objects.store import ObjectStore
    from mlvc.workspace.compare import tree_entries_at

    add_aged(project, "copy", NESTED)
    store = ObjectStore(project.root / ".mlvc/cache")
    tree = tree_entries_at(store, "data", _out(project)["oid"], ["data/E"])["data/E"].oid
    manifest = project.root / ".mlvc/cache/objects" / tree[:2] / tree[2:]
    manifest.unlink()
    _rewrite(project.root / "data/top", "new top")  # E's runs stay clean by their marks
    project.run("commit")
    assert manifest.exists()
    assert "up to date" in project.run("status").stdout
    project.commit_all("v2")
    (project.root / "data/E/a").unlink()
    project.run("checkout")
    assert project.read("data/E/a") == "e a"


def all_marks(project) -> set:
    import sqlite3

    with sqlite3.connect(project.root / ".mlvc/tmp/state.db") as db:
        return {p for (p,) in db.execute("SELECT path FROM marks")}


def test_status_drops_the_marks_of_chunks_that_are_no_more(added):
    before = runs(added)
    assert all_marks(added) == {"data", "data/sub", *before}
    key, files = next(iter(before.items()))
    _rename(added, files[0].rsplit("/", 1)[1], "zz")  # that run's first file goes
    os.rename(added.root / "data/sub", added.root / "data/bus")
    assert set(changes(added)) == {"added", "deleted"}
    now = all_marks(added)
    assert key not in runs(added) and key not in now and "data/sub" not in now
    assert now <= {"data", "data/bus", *runs(added)}  # only marks of chunks there are
    after = runs(added)
    untouched = {k for k, f in before.items() if after.get(k) == f}
    assert untouched and untouched <= now  # the runs that did not change keep theirs
