"""Linker.place: a hard link placed with the object's known stat reports the right key."""

import os

import pytest

from mlvc.objects.store import ObjectStore
from mlvc.workspace.links import Linker
from mlvc.workspace.state import stat_key


@pytest.fixture
def store(tmp_path):
    return ObjectStore(tmp_path / "cache")


@pytest.mark.parametrize("existing", [False, True])
def test_hardlink_with_known_stat_needs_no_stat_of_its_own(store, tmp_path, monkeypatch,
                                                           existing):
    oid = store.add_bytes(b"payload")
    known = stat_key(os.stat(store.path(oid)))
    dest = tmp_path / "ws" / "f"
    dest.parent.mkdir()
    if existing:
        dest.write_bytes(b"old")  # replaced through a temporary name and a rename
    calls = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda *a, **k: calls.append(a) or real_stat(*a, **k))
    kind, key = Linker(store, ("hardlink", "copy")).place(oid, dest, False, known)
    monkeypatch.undo()
    assert kind == "hardlink" and calls == []
    assert key == stat_key(os.stat(dest)) == known
    assert dest.read_bytes() == b"payload"


def test_without_a_known_stat_the_link_is_stat_ed(store, tmp_path):
    oid = store.add_bytes(b"payload")
    dest = tmp_path / "f"
    kind, key = Linker(store, ("hardlink",)).place(oid, dest, False)
    assert (kind, key) == ("hardlink", stat_key(os.stat(dest)))


def test_first_choice_skips_a_type_found_unsupported(store, tmp_path, monkeypatch):
    import errno

    linker = Linker(store, ("hardlink", "copy"))
    assert linker.first_choice() == "hardlink" and not linker.ruled_out("hardlink")
    oid = store.add_bytes(b"payload")

    def cross_device(*args, **kwargs):
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "link", cross_device)
    assert linker.place(oid, tmp_path / "f", False)[0] == "copy"
    assert linker.first_choice() == "copy" and linker.ruled_out("hardlink")


def _cross_device(*args, **kwargs):
    import errno

    raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))


def test_when_every_configured_type_is_refused_no_file_is_placed_another_way(
        store, tmp_path, monkeypatch):
    """cache.type holds only hardlink and the cache is on another filesystem: each file
    fails with the same error, the first as the later ones, and none is copied instead."""
    from mlvc.workspace.links import NO_LINK_TYPE

    linker = Linker(store, ("hardlink",))
    oid = store.add_bytes(b"payload")
    monkeypatch.setattr(os, "link", _cross_device)
    for name in ("first", "second", "third"):
        with pytest.raises(OSError) as raised:
            linker.place(oid, tmp_path / name, False)
        assert raised.value.strerror.startswith(NO_LINK_TYPE)
        assert "hardlink: Invalid cross-device link" in raised.value.strerror
        assert not (tmp_path / name).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]  # no temporary file left


def test_an_executable_file_is_copied_when_only_shared_types_are_configured(store, tmp_path):
    """A hard link would share the read-only object's mode: an executable file is a copy."""
    oid = store.add_bytes(b"#!/bin/sh\n")
    kind, _ = Linker(store, ("hardlink",)).place(oid, tmp_path / "run.sh", True)
    assert kind == "copy" and os.access(tmp_path / "run.sh", os.X_OK)


def test_an_executable_file_names_why_no_configured_type_could_place_it(store, tmp_path,
                                                                        monkeypatch):
    """hardlink cannot carry an exec bit and reflink is refused: the error says both."""
    import fcntl

    def no_clone(*args, **kwargs):
        import errno

        raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))

    monkeypatch.setattr(fcntl, "ioctl", no_clone)
    oid = store.add_bytes(b"#!/bin/sh\n")
    linker = Linker(store, ("hardlink", "reflink"))
    for name in ("first", "second"):
        with pytest.raises(OSError) as raised:
            linker.place(oid, tmp_path / name, True)
        assert "hardlink: not for an executable file; reflink: " in raised.value.strerror
    assert linker.place(oid, tmp_path / "plain", False)[0] == "hardlink"


@pytest.mark.parametrize("order", [("hardlink",), ("copy",), ("symlink",)])
def test_without_replace_something_found_at_the_path_stays(store, tmp_path, order):
    """A path found free may be taken by the time a file is placed there: without
    ``replace`` what is there stays (and no temporary file is left beside it)."""
    oid = store.add_bytes(b"recorded")
    ws = tmp_path / "ws"
    ws.mkdir()
    dest = ws / "f"
    dest.write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        Linker(store, order).place(oid, dest, False, replace=False)
    assert dest.read_bytes() == b"mine" and os.listdir(ws) == ["f"]
    Linker(store, order).place(oid, dest, False)  # (replace, the default, replaces it)
    assert dest.read_bytes() == b"recorded"
    dest.unlink()
    assert Linker(store, order).place(oid, dest, False, replace=False)[0] == order[0]
    assert dest.read_bytes() == b"recorded"
