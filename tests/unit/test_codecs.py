"""The codecs that carry forked workers' results as plain tuples give back equal values of
the same types."""

from hypothesis import given
from hypothesis import strategies as st

from mlvc.remote.fs import _OUTCOME
from mlvc.workspace.importer import IMPORTED, Imported
from mlvc.workspace.state import FileState, StatKey

oids = st.text("0123456789abcdef", min_size=32, max_size=32)
keys = st.builds(StatKey, st.integers(0, 2**64 - 1), st.integers(-2**63, 2**63 - 1),
                 st.integers(0, 2**50))
states = st.builds(FileState, keys, oids, st.sampled_from([None, "copy", "hardlink", "symlink"]))


def same(a, b) -> bool:
    """Equal, with the same NamedTuple types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@given(st.builds(Imported, oids, states, st.none() | keys, st.none() | st.integers(1, 9)))
def test_imported_round_trips(value):
    assert same(IMPORTED.unpack(IMPORTED.pack(value)), value)


@given(st.none() | keys)
def test_outcomes_round_trip(value):
    assert same(_OUTCOME.unpack(_OUTCOME.pack(value)), value)


def test_an_error_outcome_round_trips():
    error = OSError(5, "Input/output error")
    assert _OUTCOME.unpack(_OUTCOME.pack(error)) is error
