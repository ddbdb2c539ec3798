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
