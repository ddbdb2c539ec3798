"""Hard links need no state rows: a workspace file that is a hard link to a verified cache
object has the object's inode and stat, so the object's verification record gives its oid.
`add` and `checkout` with hard links write no row per file, and nothing is hashed again."""

import json
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest

from tests.helpers.spies import RecordedPhases, asked_records

DATA = {"data": {"a.csv": "x,y\n1,2\n", "sub": {"b.txt": "bee", "deeper": {"c": "sea"}},
                 "empty": {}}}
FILES = ["data/a.csv", "data/sub/b.txt", "data/sub/deeper/c"]


def query(project, sql, *args):
    conn = sqlite3.connect(project.root / ".mlvc/tmp/state.db")
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def age(project, paths, seconds=3600):
    """Make files older than a clock tick, as data usually is when it is added."""
    for p in paths:
        fs = project.root / p
        then = fs.stat().st_mtime_ns - seconds * 10**9
        os.utime(fs, ns=(then, then))


def full_status(project):
    """`status --json` without the clean marks, so every file is looked up."""
    query(project, "DELETE FROM marks")
    return json.loads(project.run("status", "--json").stdout)


@pytest.fixture
def linked(project):
    project.run("config", "cache.type", "hardlink")
    project.gen(DATA)
    age(project, FILES)
    project.run("add", "data")
    return project


def test_a_hard_linked_add_writes_no_rows_and_nothing_is_hashed_again(linked, count_hashes):
    assert query(linked, "SELECT path FROM files") == []
    for p in FILES:
        assert (linked.root / p).stat().st_nlink == 2
    inodes = {(linked.root / p).stat().st_ino for p in FILES}
    assert {i for (i,) in query(linked, "SELECT inode FROM objects")} >= inodes
    count_hashes.clear()
    assert full_status(linked)["clean"] is True
    assert count_hashes == []
    doc = json.loads(linked.run("add", "--json", "data").stdout)
    assert doc["saved"][0]["hashed"] == 0 and doc["saved"][0]["changed"] is False
    assert count_hashes == []


def test_re_add_hashes_only_the_changed_file(linked, count_hashes):
    fs = linked.root / "data/sub/b.txt"
    fs.unlink()  # a hard link to its object: replace it, never edit it in place
    fs.write_text("changed")
    doc = json.loads(linked.run("add", "--json", "data").stdout)
    assert doc["saved"][0]["hashed"] == 1 and doc["saved"][0]["changed"] is True
    assert count_hashes == [str(fs)]


def test_objects_proved_by_their_hard_links_are_not_looked_up_again(linked, monkeypatch):
    """A hard link found by its stat among the verification records is its object, as sound
    as when verified: the object check (commit's, status's) does not load its record again.
    (One whose stat moved since is hashed: see the test below.)"""
    inodes = ",".join(str((linked.root / p).stat().st_ino)
                      for p in ("data/a.csv", "data/sub/deeper/c"))
    same = {o for (o,) in query(linked, f"SELECT oid FROM objects WHERE inode IN ({inodes})")}
    assert len(same) == 2
    asked = asked_records(monkeypatch)
    fs = linked.root / "data/sub/b.txt"
    fs.unlink()
    fs.write_text("changed")
    doc = json.loads(linked.run("add", "--json", "data").stdout)
    assert doc["saved"][0]["hashed"] == 1
    fs.unlink()
    fs.write_text("changed again")
    assert full_status(linked)["clean"] is False
    assert asked and not same & asked


def test_a_hard_linked_checkout_writes_no_rows_and_nothing_is_hashed_after(linked, count_hashes):
    shutil.rmtree(linked.root / "data")
    doc = json.loads(linked.run("checkout", "--json").stdout)
    assert sorted(doc["added"]) == FILES
    assert query(linked, "SELECT path FROM files") == []
    count_hashes.clear()
    assert full_status(linked)["clean"] is True
    doc = json.loads(linked.run("add", "--json", "data").stdout)
    assert doc["saved"][0]["hashed"] == 0
    assert count_hashes == []


def test_a_file_rewritten_within_a_clock_tick_of_its_add_is_not_trusted(project):
    """Added right after it was written, a file gets a row that is not trusted and its
    object no verification record: an edit that keeps size and mtime is still seen."""
    project.run("config", "cache.type", "hardlink")
    project.gen({"data": {"a": "one"}})
    fs = project.root / "data/a"
    # Within the racy window of the add, however slow the machine: its mtime is ahead.
    ahead = time.time_ns() + 5 * 10**9
    os.utime(fs, ns=(ahead, ahead))
    project.run("add", "data")
    assert query(project, "SELECT path, link FROM files") == [("data/a", "hardlink")]
    st = fs.stat()
    assert query(project, "SELECT oid FROM objects WHERE inode = ?", st.st_ino) == []
    os.chmod(fs, 0o644)
    fs.write_text("two")  # same size; the same mtime, as if in the same tick
    os.utime(fs, ns=(st.st_atime_ns, st.st_mtime_ns))
    doc = full_status(project)
    assert doc["clean"] is False
    out = doc["changed"][0]
    assert out["modified"] == ["data/a"] and out["corrupt_in_cache"] == ["data/a"]


def test_unprotect_records_the_copies(linked, count_hashes):
    linked.run("unprotect", "data")
    rows = dict(query(linked, "SELECT path, link FROM files"))
    assert sorted(rows) == FILES and set(rows.values()) == {None}
    for p in FILES:
        assert (linked.root / p).stat().st_nlink == 1
    count_hashes.clear()
    assert full_status(linked)["clean"] is True
    assert count_hashes == []


def test_a_moved_output_still_needs_no_hashing(linked, count_hashes):
    linked.run("move", "data", "moved")
    count_hashes.clear()
    assert full_status(linked)["clean"] is True
    assert count_hashes == []


def test_a_hard_link_touched_after_its_object_was_verified_is_hashed(linked, count_hashes):
    fs = linked.root / "data/a.csv"
    st = fs.stat()
    os.utime(fs, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the object's stat changes too
    count_hashes.clear()
    assert full_status(linked)["clean"] is True  # same bytes
    assert str(fs) in count_hashes


@pytest.mark.parametrize("link", ["hardlink", "copy"])
def test_files_of_the_same_bytes_in_two_workers_make_one_object(project, link):
    """Forked workers each list an object folder once: a worker that listed it before the
    other stored a file of the same bytes finds the object there when it links its own
    (hard links), or replaces it (copies). A linked file must be a link of that object, and
    the object's verification record its stat, whichever write came last."""
    project.run("config", "cache.type", link)
    names = [f"f{i:04d}" for i in range(3000)]
    project.gen({"data": {n: f"bytes {i % 1500}" for i, n in enumerate(names)}})
    age(project, [f"data/{n}" for n in names])
    project.run("add", "data")
    if link == "hardlink":
        inodes: dict[str, set[int]] = {}
        for i, n in enumerate(names):
            inodes.setdefault(f"bytes {i % 1500}", set()).add(
                (project.root / "data" / n).stat().st_ino)
        assert all(len(found) == 1 for found in inodes.values())
    objects = project.root / ".mlvc/cache/objects"
    for oid, ino, mtime, size in query(project, "SELECT oid, inode, mtime_ns, size FROM objects"):
        st = (objects / oid[:2] / oid[2:]).stat()
        assert (st.st_ino, st.st_mtime_ns, st.st_size) == (ino, mtime, size)


def test_add_after_unprotect_links_the_unchanged_files_again(linked, count_hashes):
    """DVC does so too: after `unprotect` and an edit of one file, the others were left as
    private, writable copies, taking the space a second time."""
    linked.run("unprotect", "data")
    (linked.root / "data/a.csv").write_text("x,y\n3,4\n")
    age(linked, ["data/a.csv"])
    count_hashes.clear()
    doc = json.loads(linked.run("add", "--json", "data").stdout)
    assert doc["saved"][0]["relinked"] == 2
    assert len(count_hashes) == 1  # the edited file only: the others' rows answer
    for p in FILES:
        st = (linked.root / p).stat()
        assert st.st_nlink == 2 and not st.st_mode & 0o222, p
    assert sorted(str(p.relative_to(linked.root)) for p in (linked.root / "data").rglob("*")
                  if p.is_file()) == FILES  # (no temporary names left)
    assert full_status(linked)["clean"] is True
    # nothing more to link: the next add says none
    assert json.loads(linked.run("add", "--json", "data").stdout)["saved"][0]["relinked"] == 0


def test_commit_after_unprotect_links_the_files_again_and_says_so(linked):
    linked.run("unprotect", "data/sub")
    r = linked.run("commit")
    assert "Linked 2 unchanged files to the cache as cache.type asks" in r.stdout
    assert "Nothing to commit" not in r.stdout
    assert all((linked.root / p).stat().st_nlink == 2 for p in FILES)


def test_relinked_from_symlinks_to_hard_links_add_finds_nothing_to_link(project):
    """A symlink's state row has its object's stat, which a hard link to that object has
    too: the row, left behind, said "symlink" of the hard link, and each add linked it
    again."""
    project.run("config", "cache.type", "symlink")
    project.gen(DATA)
    project.run("add", "data")
    project.run("config", "cache.type", "hardlink")
    assert len(json.loads(project.run("checkout", "--relink", "--json").stdout)["relinked"]) == 3
    assert query(project, "SELECT path FROM files") == []
    for _ in range(2):
        doc = json.loads(project.run("add", "--json", "data").stdout)
        assert doc["saved"][0]["relinked"] == 0


def test_add_after_unprotect_with_symlinks_links_the_copy_again(project):
    project.run("config", "cache.type", "symlink")
    project.gen(DATA)
    age(project, FILES)
    project.run("add", "data")
    # (The objects were just made: the links' rows, with their stat, are hashed again once
    # they are older than the racy window.)
    time.sleep(0.1)
    full_status(project)
    for _ in range(2):  # (the second time, the copy may take the first copy's inode)
        project.run("unprotect", "data/a.csv")
        assert not (project.root / "data/a.csv").is_symlink()
        doc = json.loads(project.run("add", "--json", "data").stdout)
        assert doc["saved"][0]["relinked"] == 1
        assert all((project.root / p).is_symlink() for p in FILES)


def test_status_says_why_a_file_edited_in_place_made_its_object_corrupt(linked):
    fs = linked.root / "data/a.csv"
    os.chmod(fs, 0o644)
    with open(fs, "a") as f:  # in place: the object is this very inode
        f.write("3,4\n")
    text = linked.run("status").stdout
    assert "modified:" in text and "corrupt in cache:" in text
    assert "changed the cache's copy too: `mlvc unprotect` files before editing" in text
    (linked.root / "data/sub/b.txt").unlink()  # (not every change is that one)
    linked.run("checkout", "--force", code=1)
    assert "changed the cache's copy" not in linked.run("status", "data/sub").stdout


def test_unprotect_shows_progress_over_every_file(linked):
    from mlvc.ops.unprotect import unprotect
    from mlvc.repo import Repo

    seen = RecordedPhases()
    with Repo.find(linked.root) as repo:
        result = unprotect(repo, ["data"], cwd=linked.root, progress=seen)
    assert sorted(result.unprotected) == FILES
    assert seen.phases["Unprotecting"] == [3, 3]


def test_commit_of_an_unprotected_stage_output_links_it_again(project):
    project.run("config", "cache.type", "hardlink")
    project.gen({"in": "1\n", "mlvc.yaml": "stages:\n  s:\n    cmd: mkdir -p out && cp in out/a"
                 " && echo 2 > out/b\n    deps: [in]\n    outs: [out]\n"})
    project.run("repro")
    # (The outputs were just written: looked at again once older than the racy window,
    # they get rows and records that are trusted.)
    time.sleep(0.1)
    full_status(project)
    project.run("unprotect", "out")
    assert (project.root / "out/a").stat().st_nlink == 1
    r = project.run("commit", "out")
    assert "Linked 2 unchanged files to the cache" in r.stdout
    assert all((project.root / "out" / f).stat().st_nlink == 2 for f in ("a", "b"))


def _other_filesystem(tmp_path):
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK) \
            or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a folder on another filesystem (/dev/shm)")
    folder = Path(tempfile.mkdtemp(dir=shm))
    return folder


def test_with_the_cache_on_another_filesystem_add_does_not_copy_every_file_again(
        project, tmp_path):
    """cache.type hardlink,copy with the cache on another disk: files are copies, since
    hard links cannot cross filesystems. Each add took them for copies to link again, and
    copied all of them again."""
    cache = _other_filesystem(tmp_path)
    try:
        project.run("config", "cache.dir", str(cache))
        project.run("config", "cache.type", "hardlink,copy")
        project.gen({"data": {f"f{i}": str(i) for i in range(20)}})
        age(project, [f"data/f{i}" for i in range(20)])
        project.run("add", "data")
        project.gen({"data": {"f0": "changed"}})
        age(project, ["data/f0"])
        inode = (project.root / "data/f1").stat().st_ino
        doc = json.loads(project.run("add", "--json", "data").stdout)
        assert doc["saved"][0]["relinked"] == 0 and doc["saved"][0]["hashed"] == 1
        assert (project.root / "data/f1").stat().st_ino == inode  # not copied again
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def test_empty_copies_are_not_linked_again(project):
    project.run("config", "cache.type", "hardlink")
    project.gen({"data": {"empty": "", "full": "x"}})
    age(project, ["data/empty", "data/full"])
    project.run("add", "data")
    time.sleep(0.05)
    project.run("unprotect", "data")
    doc = json.loads(project.run("add", "--json", "data").stdout)
    assert doc["saved"][0]["relinked"] == 1  # the full one
    assert (project.root / "data/empty").stat().st_nlink == 1


@pytest.mark.parametrize("link_type", ["hardlink", "symlink"])
def test_no_relink_leaves_the_files_as_they_are(project, link_type):
    """DVC's --no-relink: with a linking cache.type, add and commit give the cache copies
    and leave the workspace's files alone; a plain commit links them afterwards."""
    import os
    import stat

    project.run("config", "cache.type", link_type)
    project.gen({"d": {"a": "1", "b": "2"}, "f.bin": "f"})
    project.run("add", "--no-relink", "d", "f.bin")

    def plain(path: str) -> bool:
        st = os.lstat(project.root / path)
        return stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and bool(st.st_mode & 0o200)

    assert all(plain(p) for p in ("d/a", "d/b", "f.bin"))
    assert project.run("status").stdout == "Data and pipelines are up to date.\n"
    checked = json.loads(project.run("verify", "--json").stdout)  # (the cache's copies)
    assert checked["checked"] == 4 and checked["corrupt"] == []
    project.gen({"d": {"a": "one"}})
    project.run("commit", "--no-relink")
    assert all(plain(p) for p in ("d/a", "d/b", "f.bin"))
    project.run("checkout", "--relink")
    assert not any(plain(p) for p in ("d/a", "d/b", "f.bin"))
    assert project.run("status").stdout == "Data and pipelines are up to date.\n"
    assert "--no-relink" in project.run("add", "--no-relink", "-o", "x", "/tmp", code=2).stderr
