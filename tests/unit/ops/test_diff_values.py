"""The comparison of params and metrics values behind ``mlvc diff`` (no files, no git)."""

import math

from hypothesis import given
from hypothesis import strategies as st

from mlvc.ops.diff import ValueChange, _value_changes

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5),
                    st.floats(allow_infinity=False), st.sampled_from(["a", "b"]))
keys = st.sampled_from(["lr", "train.lr", "train.epochs", "eval.acc", "x"])
values = st.dictionaries(keys, scalars, max_size=5)


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b and (type(a) is type(b) or all(isinstance(v, (int, float)) for v in (a, b)))


@given(old=values, new=values)
def test_exactly_the_keys_whose_values_differ(old, new):
    changes = _value_changes(old, new, "p.yaml", None)
    want = sorted(k for k in old.keys() | new.keys()
                  if k not in old or k not in new or not same(old[k], new[k]))
    assert [c.key for c in changes] == want
    for c in changes:
        assert c.file == "p.yaml"
        assert c.old == old.get(c.key) or (c.old != c.old and math.isnan(old[c.key]))
    everything = _value_changes(old, new, "p.yaml", None, everything=True)
    assert [c.key for c in everything] == sorted(old.keys() | new.keys())


@given(old=values, new=values)
def test_declared_keys_and_sections(old, new):
    """``train`` stands for every key below it; ``lr`` for itself only."""
    for c in _value_changes(old, new, "p.yaml", {"train", "lr"}):
        assert c.key == "lr" or c.key.startswith("train.")


def test_delta_is_for_numbers_only():
    assert ValueChange("m", "acc", 0.5, 0.75).delta == 0.25
    assert ValueChange("m", "n", 3, 1).delta == -2
    assert ValueChange("m", "n", None, 1).delta is None
    assert ValueChange("m", "flag", True, False).delta is None
    assert ValueChange("m", "loss", float("nan"), 1.0).delta is None
    assert ValueChange("m", "acc", 0.1, 0.3).delta == 0.2  # (rounded: not 0.19999999999999998)
    assert _value_changes({"loss": float("nan")}, {"loss": float("nan")}, "m", None) == []
    assert [c.key for c in _value_changes({"a": 1}, {"a": 1.0}, "m", None)] == []
    assert [c.key for c in _value_changes({"a": 1}, {"a": True}, "m", None)] == ["a"]
