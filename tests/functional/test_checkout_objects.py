"""Checkout checks each cache object where it places it (in its workers): a missing or
corrupt object is never placed and what was at its path stays; an object whose stat changed
but whose bytes are sound is placed and verified again."""

import json
import os
import shutil
import sqlite3
import time

import pytest

import mlvc.ops.checkout as ops_checkout
import mlvc.parallel as parallel
from mlvc.objects.oid import hash_bytes
from tests.conftest import snapshot


@pytest.fixture(params=["copy", "hardlink"])
def link(request, project):
    project.run("config", "cache.type", request.param)
    return request.param


@pytest.fixture(params=["threads", "forked"], autouse=True)
def workers(request, monkeypatch):
    """Placements run in this process's threads for a few files, in forked workers for
    many: the threshold is lowered to reach the second here."""
    if request.param == "forked":
        monkeypatch.setattr(parallel, "PROCESS_MIN_ITEMS", 1)
        monkeypatch.setattr(ops_checkout, "PREPARE_FORK_MIN", 1)  # folders made by a child
    return request.param


def obj(project, content: bytes):
    oid = hash_bytes(content)
    return project.root / ".mlvc/cache/objects" / oid[:2] / oid[2:]


def verified_row(project, content: bytes):
    conn = sqlite3.connect(project.root / ".mlvc/tmp/state.db")
    try:
        return conn.execute("SELECT inode, mtime_ns, size FROM objects WHERE oid = ?",
                            (hash_bytes(content),)).fetchone()
    finally:
        conn.close()


def two_versions(project):
    """data/a is b"v2" in the workspace and the cache; git holds the pointer of b"v1"."""
    project.gen({"data": {"a": "v1", "b": "same"}})
    for name in ("a", "b"):  # older than a clock tick: a hard-linked add records its object
        old = (project.root / "data" / name).stat().st_mtime_ns - 3600 * 10**9
        os.utime(project.root / "data" / name, ns=(old, old))
    project.run("add", "data")
    project.commit_all("v1")
    a = project.root / "data/a"
    os.chmod(a, 0o644)
    if a.stat().st_nlink > 1:  # a hard link to its object: edit a copy
        a.unlink()
    a.write_text("v2")
    project.run("add", "data")
    project.git("checkout", "-q", "--", "data.mlvc")  # back to v1's pointer


def test_a_corrupt_object_is_not_placed_and_the_old_file_stays(project, link):
    two_versions(project)
    bad = obj(project, b"v1")
    os.chmod(bad, 0o644)
    bad.write_bytes(b"XX")  # same size, other bytes
    r = project.run("checkout", "--json", code=1)
    doc = json.loads(r.stdout)
    assert doc["failed"] == [{"path": "data/a",
                              "reason": f"object {hash_bytes(b'v1')} is corrupt in the cache"}]
    assert project.read("data/a") == "v2"
    assert project.read("data/b") == "same"


def test_a_missing_object_is_reported_and_the_old_file_stays(project, link):
    two_versions(project)
    obj(project, b"v1").unlink()
    doc = json.loads(project.run("checkout", "--json", code=1).stdout)
    assert doc["failed"] == [{"path": "data/a",
                              "reason": f"object {hash_bytes(b'v1')} is not in the cache"}]
    assert project.read("data/a") == "v2"


def test_a_touched_but_sound_object_is_placed_and_verified_again(project, link):
    two_versions(project)
    good = obj(project, b"v1")
    before = verified_row(project, b"v1")
    assert before is not None
    os.utime(good, ns=(before[1] + 10**9, before[1] + 10**9))  # new mtime, same bytes
    doc = json.loads(project.run("checkout", "--json").stdout)
    assert doc["modified"] == ["data/a"] and doc["failed"] == []
    assert project.read("data/a") == "v1"
    st = good.stat()
    assert verified_row(project, b"v1") == (st.st_ino, st.st_mtime_ns, st.st_size)
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True


# A file that is not in the workspace is placed the quick way when its object's stat matches
# its verification record (hard links: two system calls, verify.Inspector.link_verified);
# every other object takes the general path, which must still refuse or verify it.

def test_a_corrupt_object_is_not_placed_where_nothing_was(project, link):
    two_versions(project)
    (project.root / "data/a").unlink()
    corrupt_in_place(obj(project, b"v1"))
    doc = json.loads(project.run("checkout", "--json", code=1).stdout)
    assert doc["failed"] == [{"path": "data/a",
                              "reason": f"object {hash_bytes(b'v1')} is corrupt in the cache"}]
    assert doc["added"] == []
    assert not (project.root / "data/a").exists()


def test_a_missing_object_is_not_placed_where_nothing_was(project, link):
    two_versions(project)
    (project.root / "data/a").unlink()
    obj(project, b"v1").unlink()
    doc = json.loads(project.run("checkout", "--json", code=1).stdout)
    assert [f["path"] for f in doc["failed"]] == ["data/a"]
    assert not (project.root / "data/a").exists()


def test_a_touched_but_sound_object_is_verified_again_where_nothing_was(project, link):
    two_versions(project)
    (project.root / "data/a").unlink()
    good = obj(project, b"v1")
    before = verified_row(project, b"v1")
    os.utime(good, ns=(before[1] + 10**9, before[1] + 10**9))
    doc = json.loads(project.run("checkout", "--json").stdout)
    assert doc["added"] == ["data/a"] and doc["failed"] == []
    st = good.stat()
    assert verified_row(project, b"v1") == (st.st_ino, st.st_mtime_ns, st.st_size)
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True


def test_deleted_files_come_back_linked_and_executables_as_copies(project, link):
    project.gen({"data": {"a": "1", "b": "2", "run.sh": "#!/bin/sh\n"}})
    os.chmod(project.root / "data/run.sh", 0o755)
    project.run("add", "data")
    shutil.rmtree(project.root / "data")
    doc = json.loads(project.run("checkout", "--json").stdout)
    assert doc["added"] == ["data/a", "data/b", "data/run.sh"] and doc["failed"] == []
    for name, content in (("a", b"1"), ("b", b"2")):
        st = (project.root / "data" / name).stat()
        assert (st.st_ino == obj(project, content).stat().st_ino) == (link == "hardlink")
    run = project.root / "data/run.sh"
    assert run.stat().st_mode & 0o111 and run.stat().st_nlink == 1
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True
    # Deleted again: a second checkout places the same way, from records it just used.
    shutil.rmtree(project.root / "data")
    project.run("checkout")
    assert project.read("data/b") == "2"
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True


def test_folders_are_made_for_new_files_and_for_empty_ones(project, link):
    """Folders for new files, nested ones and empty ones are all made."""
    project.gen({"data": {"top": "t", "x": {"y": {"f": "1"}, "e": {}},
                          "deep": {"a": {"b": {"c": {"g": "2"}}}}, "void": {}}})
    project.run("add", "data")
    before = snapshot(project.root / "data")
    shutil.rmtree(project.root / "data")
    doc = json.loads(project.run("checkout", "--json").stdout)
    assert sorted(doc["added"]) == ["data/deep/a/b/c/g", "data/top", "data/x/y/f"]
    assert snapshot(project.root / "data") == before



def test_a_full_disk_is_named_with_its_own_hint_and_the_old_file_stays(project, link,
                                                                       monkeypatch):
    import errno

    from mlvc.workspace.links import Linker

    two_versions(project)
    place = Linker.place

    def full(self, oid, dest, executable, known=None, **kwargs):
        if str(dest).endswith("data/a"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return place(self, oid, dest, executable, known, **kwargs)

    monkeypatch.setattr(Linker, "place", full)
    r = project.run("checkout", code=1)
    assert "error: data/a: no space left on the device" in r.stderr
    assert "hint: free some disk space, then run the command again" in r.stderr
    assert "mlvc fetch" not in r.stderr
    assert project.read("data/a") == "v2"
    monkeypatch.setattr(Linker, "place", place)
    project.run("checkout")
    assert project.read("data/a") == "v1"


def test_a_missing_object_gets_the_fetch_hint(project, link):
    two_versions(project)
    obj(project, b"v1").unlink()
    r = project.run("checkout", code=1)
    assert "hint: `mlvc fetch` gets missing or corrupt objects again from a remote" in r.stderr
    assert "disk space" not in r.stderr


def test_status_without_the_recorded_objects_points_to_pull(project):
    import shutil

    project.gen({"data": {"a": "1"}, "m.bin": "model"})
    project.run("add", "data", "m.bin")
    shutil.rmtree(project.root / ".mlvc/cache")  # as in a fresh clone, before `mlvc pull`
    out = project.run("status").stdout
    assert "data (data.mlvc):\n  not in cache (object " in out
    assert "`mlvc pull` gets objects missing or corrupt in the cache from a remote" in out


def test_fetch_replaces_an_object_written_in_place(project, link, tmp_path):
    """A linked file written in place (root ignores the read-only mode) corrupts its cache
    object: status reports it, and fetch downloads it again from the remote."""
    project.gen({"data": {"a": "good", "b": "same"}})
    project.run("add", "data")
    project.run("remote", "add", "-d", "store", str(tmp_path / "store"))
    project.run("push")
    target = obj(project, b"good")
    os.chmod(target, 0o644)
    with open(target, "r+b") as f:  # in place: same inode, as a hard-linked file would be
        f.write(b"evil")
    os.chmod(target, 0o444)
    r = project.run("status")
    assert "corrupt in cache: data/a" in r.stdout and "`mlvc pull` gets objects" in r.stdout
    r = project.run("fetch", "--json")
    assert json.loads(r.stdout)["transferred"] == 1
    assert target.read_bytes() == b"good"
    assert oct(target.stat().st_mode & 0o777) == "0o444"
    if link == "copy":
        assert json.loads(project.run("status", "--json").stdout)["clean"]
    else:  # the workspace file was that inode: it is an unsaved change now
        assert project.read("data/a") == "evil"
        project.run("checkout", "--force")
        assert project.read("data/a") == "good"
        assert json.loads(project.run("status", "--json").stdout)["clean"]
    # A second fetch finds everything sound and sends nothing.
    assert json.loads(project.run("fetch", "--json").stdout)["transferred"] == 0


def corrupt_in_place(path) -> None:
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:  # same inode, as a write to a hard-linked file would be
        f.write(b"evil")
    os.chmod(path, 0o444)
    # Written later than the clock tick of the object's write (else its stat is the same,
    # and nothing can tell; a test right after `add` could land in that tick).
    later = path.stat().st_mtime_ns + 10**9
    os.utime(path, ns=(later, later))


def test_an_object_checkout_found_corrupt_is_fetched_again(project, link, tmp_path):
    two_versions(project)  # data/a is v2; the pointer wants v1
    project.run("remote", "add", "-d", "store", str(tmp_path / "store"))
    project.run("push")
    corrupt_in_place(obj(project, b"v1"))
    assert "is corrupt in the cache" in project.run("checkout", code=1).stderr
    # Nothing else asked about it: the checkout's finding is what fetch goes by.
    assert json.loads(project.run("fetch", "--json").stdout)["transferred"] == 1
    assert obj(project, b"v1").read_bytes() == b"v1"
    project.run("checkout")
    assert project.read("data/a") == "v1"


def test_transfers_without_a_sound_copy_say_where_one_is_needed(project, tmp_path):
    """A corrupt cache object is never pushed, and one corrupt on the remote never fetched:
    the hint says where a sound copy must come from, not to run the command again."""
    project.gen({"data": {"a": "good", "b": "same"}})
    project.run("add", "data")
    project.run("remote", "add", "-d", "store", str(tmp_path / "store"))
    corrupt_in_place(obj(project, b"good"))
    r = project.run("push", code=1)
    assert "data/a" in r.stderr and "corrupt in the cache" in r.stderr
    assert "hint: the cache has no sound copy of some: `mlvc fetch` them" in r.stderr
    assert "run the command again" not in r.stderr
    assert not (tmp_path / "store" / "objects" / hash_bytes(b"good")[:2]).exists()
    # As the hint says: stored again from the workspace file, which still has the bytes.
    project.run("commit")
    assert obj(project, b"good").read_bytes() == b"good"
    project.run("push")

    on_remote = tmp_path / "store" / "objects" / hash_bytes(b"good")[:2] / hash_bytes(b"good")[2:]
    corrupt_in_place(on_remote)
    cache, aside = project.root / ".mlvc" / "cache", tmp_path / "cache-aside"
    cache.rename(aside)  # a clone without the objects
    r = project.run("fetch", code=1)
    assert "corrupt on the remote (not stored)" in r.stderr
    assert "hint: the remote has no sound copy of some: `mlvc push` them" in r.stderr
    assert "run the command again" not in r.stderr
    # As the hint says, from a clone that has it: the copy on the remote and the index go.
    shutil.rmtree(cache)
    aside.rename(cache)
    on_remote.unlink()
    assert json.loads(project.run("push", "--json").stdout)["transferred"] == 0  # (the index)
    assert "data/a" in project.run("status", "-c").stdout  # asks the remote: tells the index
    assert json.loads(project.run("push", "--json").stdout)["transferred"] == 1
    shutil.rmtree(cache)
    project.run("fetch")
    assert obj(project, b"good").read_bytes() == b"good"


def test_adding_the_good_bytes_again_replaces_a_corrupt_object(project, link):
    project.gen({"data": {"a": "good", "b": "same"}})
    project.run("add", "data")
    target = obj(project, b"good")
    corrupt_in_place(target)
    assert "corrupt in cache: data/a" in project.run("status").stdout
    a = project.root / "data/a"
    if a.stat().st_nlink > 1:  # the workspace file was the object: it is "evil" too
        a.unlink()
    a.write_text("good")  # the good bytes from elsewhere
    project.run("add", "data")
    assert target.read_bytes() == b"good"
    assert json.loads(project.run("status", "--json").stdout)["clean"]


def test_commit_stores_again_an_object_that_went_bad_before_any_status_saw_it(project):
    """Commit checks the objects of the files it finds unchanged, as status would: one
    whose bytes went bad is stored again from the good file, before it can be lost."""
    project.gen({"data": {"a": "good", "b": "same", "c": "other"}})
    aged(project.root / "data")  # so their state rows are trusted: found unchanged
    project.run("add", "data")
    target = obj(project, b"good")
    corrupt_in_place(target)  # copies: the workspace file still has the good bytes
    (project.root / "data/c").write_text("edited")
    r = project.run("commit")
    assert "Stored 1 file again: the cache's copy was missing or corrupt." in r.stdout
    assert target.read_bytes() == b"good"
    assert json.loads(project.run("status", "--json").stdout)["clean"]
    project.commit_all("v2")
    shutil.rmtree(project.root / "data")
    project.run("checkout")
    assert project.read("data/a") == "good" and project.read("data/c") == "edited"


def test_commit_after_add_no_commit_stores_the_files_and_does_not_call_it_a_repair(project):
    """`add --no-commit` then `commit` (the files known from the state DB, their objects
    never stored) said "Nothing to commit" and "Stored 2 files again: the cache's copy was
    missing or corrupt"; so did `add` of a file hashed before as a stage's dep. Only an
    object that was stored once (it has a verification record) and is gone or bad now is a
    repair."""
    project.gen({"data": {"a": "one", "b": "two"}})
    aged(project.root / "data")
    project.run("add", "--no-commit", "data")
    assert not obj(project, b"one").exists()
    # status can say the workspace holds the recorded data (it could not list the files).
    out = project.run("status").stdout
    assert "  the workspace holds this data: `mlvc commit` stores it in the cache\n" in out
    assert json.loads(project.run("status", "--json").stdout)["changed"][0][
        "holds_recorded"] is True
    # checkout has nothing to place (it failed: "not in cache"), as in a git hook.
    assert project.run("checkout").stdout == "Nothing to do: the workspace matches.\n"
    (project.root / "data/b").unlink()
    out = project.run("status").stdout
    assert "  the workspace holds other data: `mlvc commit` records and stores it\n" in out
    r = project.run("checkout", code=1)  # (the recorded data is nowhere to be had)
    assert "error: data: not in cache (object" in r.stderr
    shutil.rmtree(project.root / "data")  # nothing there: nothing to say about it
    doc = json.loads(project.run("status", "--json").stdout)["changed"][0]
    assert "holds_recorded" not in doc and doc["missing"] is True
    project.gen({"data": {"a": "one", "b": "two"}})
    aged(project.root / "data")
    r = project.run("commit")
    assert r.stdout.startswith(
        "Stored 2 files in the cache; the pointers already matched the workspace.\n")
    assert "again" not in r.stdout and "Nothing to commit" not in r.stdout
    assert obj(project, b"one").read_bytes() == b"one"
    assert json.loads(project.run("status", "--json").stdout)["clean"]
    # Stored once, then lost: that is a repair.
    obj(project, b"one").unlink()
    doc = json.loads(project.run("commit", "--json").stdout)
    assert [(s["repaired"], s["newly_stored"]) for s in doc["saved"]] == [(1, 0)]
    assert obj(project, b"one").read_bytes() == b"one"

    # A stage's dep is hashed, not stored: adding it later stores it, quietly.
    project.gen({"src.py": "print(1)\n", "mlvc.yaml": "stages:\n  s:\n    cmd: echo hi > o\n"
                 "    deps: [src.py]\n    outs: [o]\n"})
    aged(project.root / "src.py")
    project.run("repro")
    assert not obj(project, b"print(1)\n").exists()
    r = project.run("add", "src.py")
    assert "again" not in r.stdout
    assert obj(project, b"print(1)\n").exists()


def test_commit_counts_newly_stored_files_per_output(project):
    project.gen({"x": {"a": "1", "b": "2", "c": "3"}, "y": {"d": "4"}, "z.bin": "5"})
    project.run("add", "--no-commit", "x", "y", "z.bin")
    doc = json.loads(project.run("commit", "--json").stdout)
    assert {s["path"]: (s["newly_stored"], s["repaired"], s["changed"])
            for s in doc["saved"]} == {"x": (3, 0, False), "y": (1, 0, False),
                                       "z.bin": (1, 0, False)}
    assert json.loads(project.run("status", "--json").stdout)["clean"]


def test_a_file_whose_bytes_are_stored_already_gets_its_object_checked(project):
    """A new file whose bytes the cache holds already (a renamed or copied file, a reverted
    edit) finds its object there: commit checks that object as it checks those of the files
    it finds unchanged, and stores a bad one again from the file. (With hard links the file
    was that object: see the test above for links to an object stored before.)"""
    project.run("config", "cache.type", "copy")
    project.gen({"data": {"a": "good bytes", "b": "other"}})
    project.run("add", "data")
    target = obj(project, b"good bytes")
    corrupt_in_place(target)
    os.rename(project.root / "data/a", project.root / "data/renamed")  # no row for it
    doc = json.loads(project.run("commit", "--json").stdout)
    assert [s["repaired"] for s in doc["saved"]] == [1]
    assert target.read_bytes() == b"good bytes"
    assert project.read("data/renamed") == "good bytes"
    doc = json.loads(project.run("status", "--json").stdout)
    assert doc["clean"], doc


def test_an_output_whose_objects_were_stored_before_is_marked(project, monkeypatch):
    """Adding a second copy of a tracked folder finds every object stored: they are checked,
    so the new output is marked and the status after it reads nothing more."""
    import mlvc.ops._outputs as outputs_op

    project.run("config", "cache.type", "copy")
    project.gen({"data": {"a": "one", "sub": {"b": "two"}}})
    project.run("add", "data")
    shutil.copytree(project.root / "data", project.root / "data2")
    aged(project.root / "data2")
    project.run("add", "data2")

    def refuse(*_a, **_k):
        raise AssertionError("status took the slow path")

    monkeypatch.setattr(outputs_op, "load_recorded", refuse)
    assert "up to date" in project.run("status", "data2").stdout


def aged(folder) -> None:
    past = time.time_ns() - 3600 * 10**9
    for f in folder.rglob("*"):
        os.utime(f, ns=(past, past))


@pytest.mark.parametrize("kind", ["hardlink", "symlink"])
def test_a_file_is_never_made_a_link_of_an_object_gone_bad(project, kind):
    """A file to be hashed whose bytes are in the cache already is replaced by a link to
    that object: if the object went bad, the file's good bytes would be lost. The object is
    read back first, and one gone bad is stored again from the file."""
    project.gen({"data": {"a": "good bytes", "b": "other"}})
    project.run("add", "data")  # copies
    target = obj(project, b"good bytes")
    corrupt_in_place(target)
    project.run("config", "cache.type", kind)
    (project.root / "data/a").touch()  # its state row no longer holds: it is hashed again
    project.run("commit")
    assert project.read("data/a") == "good bytes"
    assert target.read_bytes() == b"good bytes"
    assert json.loads(project.run("status", "--json").stdout)["clean"]


def test_a_folder_that_cannot_be_made_is_an_error_and_the_rest_stays(project, link,
                                                                     monkeypatch):
    """Deletes and folders are made first (in a forked child for many): a failure there
    is reported like any other, and no file is placed."""
    import errno

    project.gen({"data": {"x": {"f": "1"}, "y": {"g": "2"}}})
    project.run("add", "data")
    shutil.rmtree(project.root / "data/x")
    (project.root / "data/y/g").unlink()
    mkdir = os.mkdir

    def refuse(path, *args, **kwargs):
        if str(path).endswith("data/x"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", refuse)
    r = project.run("checkout", code=1)
    assert "error:" in r.stderr and "data/x" in r.stderr and "Traceback" not in r.stderr
    assert not (project.root / "data/y/g").exists()
    monkeypatch.setattr(os, "mkdir", mkdir)
    project.run("checkout")
    assert project.read("data/x/f") == "1" and project.read("data/y/g") == "2"


def test_a_file_made_where_the_plan_found_none_is_kept(project, link, monkeypatch):
    """Between the scan and the placing, a user's program may write a file where the
    checkout found none: it is kept and reported, never replaced."""
    import mlvc.workspace.checkout as co

    project.gen({"data": {"a": "1", "b": "2"}})
    project.run("add", "data")
    shutil.rmtree(project.root / "data")
    prepare = co.prepare

    def prepare_then_write(root, plans):
        prepare(root, plans)
        (root / "data/b").write_text("mine")  # (data/ was just made)

    monkeypatch.setattr(co, "prepare", prepare_then_write)
    r = project.run("checkout", code=1)
    assert "error: data/b: something was made there during the checkout: it was kept" \
        in r.stderr
    assert project.read("data/b") == "mine" and project.read("data/a") == "1"


def replaced_by_bad_bytes(path) -> None:
    """The object's name now holds other bytes in a new inode (a hard-linked workspace file
    keeps the old inode, and the good bytes)."""
    bad = path.with_name(path.name + ".bad")
    bad.write_bytes(b"evil")
    os.chmod(bad, 0o444)
    os.replace(bad, path)


def test_a_file_whose_object_went_bad_is_stored_again_before_it_is_replaced(project, link):
    """The workspace held the last sound copy of v2: replacing it because "its bytes are in
    the cache" lost them (the object was corrupt). It is stored again first, and said."""
    two_versions(project)  # data/a is v2 (saved); the pointer wants v1
    (corrupt_in_place if link == "copy" else replaced_by_bad_bytes)(obj(project, b"v2"))
    r = project.run("checkout", "--json")
    doc = json.loads(r.stdout)
    assert doc["modified"] == ["data/a"] and doc["repaired"] == ["data/a"]
    assert doc["failed"] == [] and doc["conflicts"] == []
    assert project.read("data/a") == "v1"
    assert obj(project, b"v2").read_bytes() == b"v2"
    r = project.run("checkout")  # (nothing to do, and nothing to say again)
    assert "warning" not in r.stderr
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True


def test_a_deleted_file_whose_object_went_bad_is_stored_again_first(project):
    project.run("config", "cache.type", "copy")
    project.gen({"data": {"a": "kept"}})
    project.run("add", "data")
    project.commit_all("v1")
    project.gen({"data": {"c": "only in v2"}})
    project.run("add", "data")
    project.commit_all("v2")
    project.git("checkout", "-q", "HEAD~1", "--", "data.mlvc")
    corrupt_in_place(obj(project, b"only in v2"))
    r = project.run("checkout")
    assert "warning: data/c: its cache object was corrupt: stored again from the file " \
           "before the checkout changed it" in r.stderr
    assert not (project.root / "data/c").exists()
    assert obj(project, b"only in v2").read_bytes() == b"only in v2"
    project.git("checkout", "-q", "HEAD", "--", "data.mlvc")
    project.run("checkout")
    assert project.read("data/c") == "only in v2"
