from mlvc.errors import NO_SPACE, NO_SPACE_HINT
from mlvc.ops._remote import FailedObject, transfer_hint

DROPPED = FailedObject("data/a", "a" * 32, "ConnectionError: reset")
REMOTE = FailedObject("data/b", "b" * 32, "corrupt on the remote (not stored)", "remote")
CACHE = FailedObject("data/c", "c" * 32, "not in the cache", "cache")


def test_only_failed_transfers_are_worth_running_again():
    assert transfer_hint([DROPPED]) == "what did arrive is kept; run the command again to finish"
    assert transfer_hint([REMOTE]).startswith("the remote has no sound copy of some: `mlvc push`")
    assert transfer_hint([CACHE]).startswith("the cache has no sound copy of some: `mlvc fetch`")
    every = transfer_hint([CACHE, DROPPED, REMOTE])
    at = [every.index(start) for start in ("the remote has no", "; the cache has no",
                                          "; what did arrive is kept")]
    assert at[0] == 0 and at == sorted(at)
    assert transfer_hint([REMOTE, FailedObject("x", "d" * 32, NO_SPACE)]) == NO_SPACE_HINT
