"""The CLI makes the cyclic collector rare: holding a scan's worth of small objects costs no
full-heap collection."""

import gc

from mlvc.cli.main import _tune_gc


def full_collections() -> int:
    return gc.get_stats()[2]["collections"]


def test_a_scan_worth_of_objects_triggers_no_full_collection():
    old = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)  # CPython's defaults: the same load does collect
        before = full_collections()
        held = [(i, str(i), [i]) for i in range(150_000)]
        assert full_collections() > before
        del held

        _tune_gc()
        before = full_collections()
        held = [(i, str(i), [i]) for i in range(150_000)]
        assert full_collections() == before
        del held
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
