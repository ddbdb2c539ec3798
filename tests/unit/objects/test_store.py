import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlvc.errors import CorruptObjectError, ObjectMissingError
from mlvc.objects.oid import hash_bytes, hash_file
from mlvc.objects.store import ObjectStore
from mlvc.objects.tree import Tree, TreeEntry


@pytest.fixture
def store(tmp_path):
    return ObjectStore(tmp_path / "cache")


@settings(max_examples=30)
@given(data=st.binary(max_size=5000))
def test_add_bytes_is_content_addressed_and_read_only(tmp_path_factory, data):
    store = ObjectStore(tmp_path_factory.mktemp("c"))
    oid = store.add_bytes(data)
    assert oid == hash_bytes(data)
    path = store.path(oid)
    assert path == store.root / "objects" / oid[:2] / oid[2:]
    assert path.read_bytes() == data
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o444
    assert store.verify(oid)
    assert not list(store.tmp_dir.iterdir())


@pytest.mark.parametrize("before", ["missing", "sound", "corrupt", "truncated"])
def test_ensure_leaves_the_right_bytes_and_returns_their_stat(store, before):
    data = b"manifest bytes " * 50
    oid = hash_bytes(data)
    path = store.path(oid)
    if before != "missing":
        store.write(data, oid)
    if before in ("corrupt", "truncated"):
        os.chmod(path, 0o644)
        path.write_bytes(data[:-1] + b"X" if before == "corrupt" else data[:10])
    kept = os.stat(path).st_ino if before == "sound" else None
    key = store.ensure(data, oid)
    st_now = os.stat(path)
    assert path.read_bytes() == data
    assert key == (st_now.st_ino, st_now.st_mtime_ns, st_now.st_size)
    assert stat.S_IMODE(st_now.st_mode) == 0o444
    if kept is not None:
        assert st_now.st_ino == kept  # a sound object is not rewritten


@pytest.mark.parametrize("threads", [1, 4])
def test_ensure_many_stores_each_and_returns_its_stat(store, threads):
    items = [(hash_bytes(d), d) for d in (f"manifest {i}".encode() for i in range(20))]
    store.write(b"wrong bytes", items[3][0])  # a corrupt copy is replaced
    got = store.ensure_many(items, threads)
    assert [oid for oid, _ in got] == [oid for oid, _ in items]
    for (oid, data), (_, key) in zip(items, got):
        st_now = os.stat(store.path(oid))
        assert store.path(oid).read_bytes() == data
        assert key == (st_now.st_ino, st_now.st_mtime_ns, st_now.st_size)


def test_large_file_copy_hashes_in_one_pass(store, tmp_path):
    src = tmp_path / "big"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    oid = store.add_file_copy(src)
    assert oid == hash_file(src)
    assert store.path(oid).read_bytes() == src.read_bytes()


def test_copy_with_wrong_expected_oid_stores_nothing(store, tmp_path):
    src = tmp_path / "f"
    src.write_bytes(b"abc")
    with pytest.raises(CorruptObjectError):
        store.add_file_copy(src, expected="0" * 32)
    assert list(store.iter_oids()) == []
    assert not list(store.tmp_dir.iterdir())


def test_read_tree_verifies_hash(store):
    tree = Tree.build([TreeEntry("a", "file", "0" * 32, 1)])
    oid = store.add_tree(tree)
    fresh = ObjectStore(store.root)
    assert fresh.read_tree(oid) == tree
    path = fresh.path(oid)
    os.chmod(path, 0o644)
    path.write_bytes(tree.to_bytes().replace(b'"a"', b'"b"'))
    with pytest.raises(CorruptObjectError):
        ObjectStore(store.root).read_tree(oid)


def test_missing_object_is_a_clear_error(store):
    with pytest.raises(ObjectMissingError, match="not in the cache"):
        store.read_tree("0" * 32)


def test_linking_an_object_over_itself_leaves_no_temporary_name(store, tmp_path):
    """``add_file_link(replace=True)`` of a file that is the object already (one inode):
    the rename does nothing, and its temporary name stayed in the store's tmp folder."""
    f = tmp_path / "f"
    f.write_bytes(b"bytes")
    oid = hash_bytes(b"bytes")
    assert store.add_file_link(f, oid)
    assert store.add_file_link(store.path(oid), oid, replace=True)
    assert store.path(oid).read_bytes() == b"bytes"
    assert not list(store.tmp_dir.iterdir())
