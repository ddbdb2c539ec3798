"""The object check: sound, missing and corrupt objects, whether the stats run here or are
split with a forked child."""

import os

import pytest

from mlvc.objects.store import ObjectStore, stat_objects
from mlvc.workspace import verify
from mlvc.workspace.state import StateDB, stat_key
from mlvc.workspace.verify import ObjectChecker


@pytest.mark.parametrize("forked", [False, True])
def test_check_finds_missing_and_corrupt_objects(tmp_path, monkeypatch, forked):
    if forked:
        monkeypatch.setattr(verify, "PROCESS_MIN_ITEMS", 2)
    store = ObjectStore(tmp_path / "cache")
    state = StateDB(tmp_path / "state.db")
    oids = [store.add_bytes(f"object {i}".encode()) for i in range(40)]
    checker = ObjectChecker(store, state)
    checker.record((o, stat_key(os.stat(store.path(o)))) for o in oids)

    gone, bad, touched = oids[3], oids[17], oids[30]
    os.unlink(store.path(gone))
    os.chmod(store.path(bad), 0o644)
    store.path(bad).write_bytes(b"not what it was")
    os.utime(store.path(touched), ns=(1, 1))  # a new stat, the same bytes: re-verified
    absent = "ff" * 16  # not even its fan-out folder exists

    check = checker.check(oids + [absent])
    assert check.missing == {gone, absent}
    assert check.corrupt == {bad}
    assert set(check.keys) == set(oids) - {gone, bad}
    assert check.keys[touched] == stat_key(os.stat(store.path(touched)))
    assert state.verified_objects([touched])[touched] == check.keys[touched]


def test_stat_objects_is_flat_with_nones_for_the_missing(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    one = store.add_bytes(b"one")
    missing = "00" * 16
    keys = stat_objects(str(store.objects_dir), sorted([one, missing]))
    expected = {one: list(stat_key(os.stat(store.path(one)))), missing: [None] * 3}
    assert keys == [n for o in sorted([one, missing]) for n in expected[o]]
