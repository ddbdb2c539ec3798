"""Importing a large file copies and hashes it at once; a change meanwhile is never stored."""

from __future__ import annotations

import errno
import os
import threading

import pytest

from mlvc.errors import CorruptObjectError
from mlvc.objects.oid import hash_file
from mlvc.objects.store import ObjectStore
from mlvc.workspace import importer
from mlvc.workspace.links import SMALL_FILE, Linker
from mlvc.workspace.scan import WsFile
from mlvc.workspace.state import stat_key

BIG = SMALL_FILE * 3 + 17
# Importer.run, and Importer.run_packed (what forked workers run) read back as the parent does.
RUNS = {"run": lambda imp: imp.run,
        "packed": lambda imp: lambda f: importer._unpack(imp.run_packed(f))}


def make(tmp_path, content: bytes):
    (tmp_path / "ws").mkdir()
    path = tmp_path / "ws" / "big.bin"
    path.write_bytes(content)
    store = ObjectStore(tmp_path / "cache")
    imp = importer.Importer(tmp_path / "ws", store, Linker(store, ("copy",)), save=True)
    return imp, store, WsFile("big.bin", stat_key(path.stat()), False), str(path)


def leftovers(store: ObjectStore) -> list[str]:
    return os.listdir(store.tmp_dir) if store.tmp_dir.exists() else []


def test_large_file_is_stored_under_its_hash(tmp_path):
    content = os.urandom(BIG)
    imp, store, f, path = make(tmp_path, content)
    got = imp.run(f)
    assert got.oid == hash_file(path)
    assert store.read_bytes(got.oid) == content
    assert got.verified is not None and leftovers(store) == []


def test_large_file_already_in_cache_drops_the_copy(tmp_path):
    content = os.urandom(BIG)
    imp, store, f, path = make(tmp_path, content)
    oid = imp.run(f).oid
    before = os.stat(store.path_str(oid))
    got = imp.run(f)
    assert got.oid == oid and got.verified is None  # nothing new was written
    assert os.stat(store.path_str(oid)).st_ino == before.st_ino
    assert leftovers(store) == []


def test_large_file_changed_while_copied_is_refused(tmp_path, monkeypatch):
    content = os.urandom(BIG)
    imp, store, f, path = make(tmp_path, content)
    real_copy = importer.copy_file

    def copy_then_edit(src, dst, mode):
        key = real_copy(src, dst, mode)
        with open(src, "r+b") as fh:  # the user saves the file part way through `add`
            fh.write(b"edited")
        return key

    monkeypatch.setattr(importer, "copy_file", copy_then_edit)
    with pytest.raises(CorruptObjectError, match="changed while it was being stored"):
        imp.run(f)
    assert list(store.iter_oids()) == [] and leftovers(store) == []


def test_large_file_is_hashed_while_it_is_copied(tmp_path, monkeypatch):
    imp, store, f, path = make(tmp_path, os.urandom(BIG))
    copying = threading.Event()
    real_copy, real_hash = importer.copy_file, importer.hash_path

    def copy(src, dst, mode):
        copying.set()
        return real_copy(src, dst, mode)

    def hash_during_copy(fs, metered=True):
        assert copying.wait(5), "the hash pass did not overlap the copy"
        return real_hash(fs, metered)

    monkeypatch.setattr(importer, "copy_file", copy)
    monkeypatch.setattr(importer, "hash_path", hash_during_copy)
    assert imp.run(f).oid == hash_file(path)


@pytest.mark.parametrize("how", RUNS)
def test_a_hard_link_stored_meanwhile_by_another_worker_is_linked_to(tmp_path, how):
    """Two files of the same bytes in two forked workers: each listed the object's folder
    before the other linked its file in. The second finds the object there when it links:
    its file must become a link to that object (not be reported as one while it is a file
    of its own, whose stat would then be recorded as the object's)."""
    (tmp_path / "ws").mkdir()
    for name in ("a", "b"):
        (tmp_path / "ws" / name).write_bytes(b"same bytes")
    store = ObjectStore(tmp_path / "cache")
    oid = hash_file(tmp_path / "ws" / "a")

    def worker():
        s = ObjectStore(tmp_path / "cache")
        return s, importer.Importer(tmp_path / "ws", s, Linker(s, ("hardlink", "copy")),
                                    save=True)

    (first_store, first), (second_store, second) = worker(), worker()
    assert not first_store.has(oid) and not second_store.has(oid)  # both listed: absent
    files = {n: WsFile(n, stat_key((tmp_path / "ws" / n).stat()), False) for n in "ab"}
    got_a = RUNS[how](first)(files["a"])
    got_b = RUNS[how](second)(files["b"])
    obj = os.stat(store.path_str(oid))
    assert os.stat(tmp_path / "ws" / "a").st_ino == obj.st_ino
    assert os.stat(tmp_path / "ws" / "b").st_ino == obj.st_ino  # linked, not left apart
    assert got_a.verified == stat_key(obj) and got_b.verified is None  # one record, right
    assert got_b.state.link == "hardlink" and got_b.state.key == stat_key(obj)
    assert got_b.nlink == obj.st_nlink == 3


@pytest.mark.parametrize("how", RUNS)
@pytest.mark.parametrize("kind", ["hardlink", "copy"])
def test_a_corrupt_object_is_stored_again_once_for_files_of_the_same_bytes(tmp_path, kind,
                                                                          how):
    """The first file replaces the bad object; the second finds it sound. Replacing it again
    would leave the first file (hard-linked) a separate inode, said to be the object."""
    (tmp_path / "ws").mkdir()
    for name in ("a", "b"):
        (tmp_path / "ws" / name).write_bytes(b"good bytes")
    store = ObjectStore(tmp_path / "cache")
    oid = hash_file(tmp_path / "ws" / "a")
    store.write(b"bad  bytes", oid)
    imp = importer.Importer(tmp_path / "ws", store, Linker(store, (kind, "copy")), save=True,
                            corrupt=frozenset({oid}))
    files = {n: WsFile(n, stat_key((tmp_path / "ws" / n).stat()), False) for n in "ab"}
    run = RUNS[how](imp)
    got_a, got_b = run(files["a"]), run(files["b"])
    assert store.read_bytes(oid) == b"good bytes"
    obj = os.stat(store.path_str(oid))
    assert got_a.verified == stat_key(obj) and got_b.verified is None
    if kind == "hardlink":
        assert {os.stat(tmp_path / "ws" / n).st_ino for n in "ab"} == {obj.st_ino}


@pytest.mark.parametrize("how", RUNS)
@pytest.mark.parametrize("order", [("hardlink",), ("hardlink", "copy")])
def test_a_file_whose_object_is_stored_is_kept_when_links_cannot_reach_the_cache(
        tmp_path, monkeypatch, order, how):
    """The cache is on another filesystem (links fail with EXDEV) and holds the file's bytes
    already: the add records the file. With copy configured, the file is placed as a copy
    (the per-file fallback); without, it stays as it is (not an error, not replaced)."""
    import errno

    (tmp_path / "ws").mkdir()
    path = tmp_path / "ws" / "a"
    path.write_bytes(b"stored before")
    store = ObjectStore(tmp_path / "cache")
    oid = store.add_bytes(b"stored before")
    before = os.stat(path)

    def cross_device(*args, **kwargs):
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "link", cross_device)
    imp = importer.Importer(tmp_path / "ws", store, Linker(store, order), save=True)
    got = RUNS[how](imp)(WsFile("a", stat_key(before), False))
    after = os.stat(path)
    assert got.oid == oid and got.state.key == stat_key(after)
    assert path.read_bytes() == b"stored before"
    if "copy" in order:
        assert got.state.link == "copy"
    else:
        assert got.state.link is None and after.st_ino == before.st_ino


def test_a_filesystem_that_refuses_clones_costs_no_read(tmp_path, monkeypatch):
    """cache.type reflink, copy on a filesystem without clones (ext4): the big file is read
    once, by the copy, not hashed first for a clone that then fails."""
    content = os.urandom(BIG)
    imp, store, f, path = make(tmp_path, content)
    imp = importer.Importer(tmp_path / "ws", store, Linker(store, ("reflink", "copy")),
                            save=True)
    passes = []  # whole passes over the file's bytes to hash them
    real_hash = importer.hash_path
    monkeypatch.setattr(importer, "reflink", lambda *a: (_ for _ in ()).throw(
        OSError(errno.EOPNOTSUPP, "clones not supported here")))
    monkeypatch.setattr(importer, "hash_path",
                        lambda fs, metered=True: passes.append(fs) or real_hash(fs, metered))
    got = imp.run(f)
    assert got.oid == hash_file(path) and store.read_bytes(got.oid) == content
    assert passes == [path]  # the copy's hashing, beside it
    assert got.state.link is None and leftovers(store) == []


def test_a_clone_is_hashed_itself_so_an_edit_meanwhile_cannot_spoil_the_object(tmp_path,
                                                                             monkeypatch):
    imp, store, f, path = make(tmp_path, os.urandom(BIG))
    imp = importer.Importer(tmp_path / "ws", store, Linker(store, ("reflink",)), save=True)
    real_copy = importer.copy_file

    def edit_then_clone(src, dst, mode):  # the user saves as the clone (here a copy) starts
        key = stat_key(os.stat(src))
        with open(src, "r+b") as fh:
            fh.write(b"edited")
        real_copy(src, dst, mode)
        return key

    monkeypatch.setattr(importer, "reflink", edit_then_clone)
    got = imp.run(f)
    assert hash_file(store.path_str(got.oid)) == got.oid  # the object is what was hashed
    assert got.oid == hash_file(path)  # the edited bytes
    # The row keeps the stat from before the edit: the file's next stat differs from it,
    # so it is hashed again rather than trusted.
    assert got.state.key == f.key != stat_key(os.stat(path)) and leftovers(store) == []


@pytest.mark.parametrize("how", RUNS)
def test_a_file_with_all_the_names_it_can_have_is_copied_in_and_links_go_on(tmp_path,
                                                                            monkeypatch, how):
    """Linking a file that has 65,000 names already (EMLINK) into the cache fails for that
    file only: a copy is stored and the file stays; the next file is linked."""
    (tmp_path / "ws").mkdir()
    for name in ("full", "next"):
        (tmp_path / "ws" / name).write_bytes(name.encode())
    store = ObjectStore(tmp_path / "cache")
    real_link = os.link

    def emlink(src, dst, *args, **kwargs):
        if str(src).endswith("/full"):
            raise OSError(errno.EMLINK, os.strerror(errno.EMLINK))
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "link", emlink)
    imp = importer.Importer(tmp_path / "ws", store, Linker(store, ("hardlink",)), save=True)
    got = [RUNS[how](imp)(WsFile(n, stat_key((tmp_path / "ws" / n).stat()), False))
           for n in ("full", "next")]
    assert got[0].state.link is None and store.read_bytes(got[0].oid) == b"full"
    assert (tmp_path / "ws" / "full").stat().st_nlink == 1
    assert got[1].state.link == "hardlink" and (tmp_path / "ws" / "next").stat().st_nlink == 2


@pytest.mark.parametrize("order", [("hardlink", "copy"), ("copy", "hardlink")])
def test_what_forked_workers_run_gives_what_run_gives(tmp_path, order):
    """run_packed (inline for a new small file, hard-linked) and run, on two copies of one
    workspace: new, repeated, executable, big and empty files, and one whose bytes the cache
    had before, come out the same (the inodes aside) and leave the same cache."""
    contents = {"new": b"new bytes", "twin1": b"twin", "twin2": b"twin", "run.sh": b"#!",
                "big": os.urandom(BIG), "empty": b"", "stored": b"stored before"}
    got = {}
    for how in RUNS:
        ws = tmp_path / how / "ws"
        ws.mkdir(parents=True)
        for name, data in contents.items():
            (ws / name).write_bytes(data)
            os.utime(ws / name, ns=(10**18, 10**18))
        (ws / "run.sh").chmod(0o755)
        store = ObjectStore(tmp_path / how / "cache")
        store.add_bytes(b"stored before")
        imp = importer.Importer(ws, store, Linker(store, order), save=True)
        run = RUNS[how](imp)
        files = [WsFile(n, stat_key((ws / n).stat()), n == "run.sh",
                        nlink=(ws / n).stat().st_nlink) for n in contents]
        out = {}
        for f in files:
            imp_ = run(f)
            st = os.stat(ws / f.path)
            assert imp_.state.key == stat_key(st)  # the file's row is its stat now
            assert imp_.verified is None or imp_.verified == stat_key(
                os.stat(store.path_str(imp_.oid)))
            out[f.path] = (imp_.oid, imp_.state.oid, imp_.state.link, imp_.nlink,
                           imp_.verified is None, st.st_nlink, oct(st.st_mode))
        got[how] = (out, sorted(store.iter_oids()))
    assert got["packed"] == got["run"]
    if order[0] == "hardlink":  # the common case took the inline path
        ws = tmp_path / "packed" / "ws"
        (ws / "another").write_bytes(b"another")
        store = ObjectStore(tmp_path / "packed" / "cache")
        imp = importer.Importer(ws, store, Linker(store, order), save=True)
        packed = imp.run_packed(WsFile("another", stat_key((ws / "another").stat()), False))
        assert len(packed) == 5 and packed[-1] == 2 == (ws / "another").stat().st_nlink
