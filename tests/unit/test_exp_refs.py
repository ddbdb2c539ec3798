"""Experiment refs: refs/mlvc/exps/<baseline[:2]>/<baseline[2:]>/<name>."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlvc.errors import TargetError
from mlvc.ops.exp import NAME_RE, check_name, parse_ref, ref_of

shas = st.binary(min_size=20, max_size=20).map(bytes.hex)
names = st.from_regex(NAME_RE, fullmatch=True).filter(
    lambda n: not n.endswith((".lock", ".")) and ".." not in n)


@given(shas, names)
def test_refs_round_trip(baseline, name):
    check_name(name)
    ref = ref_of(baseline, name)
    assert ref.startswith("refs/mlvc/exps/") and parse_ref(ref) == (baseline, name)


@given(st.text(max_size=60))
def test_parse_ref_takes_only_experiment_refs(ref):
    parsed = parse_ref(ref)
    if parsed is not None:
        assert ref_of(*parsed) == ref


@pytest.mark.parametrize("name", ["", "a/b", "-x", ".hidden", "a..b", "x.lock", "end.",
                                  "sp ace", "a" * 101, "ü"])
def test_bad_names_are_refused(name):
    with pytest.raises(TargetError, match="not a valid experiment name"):
        check_name(name)


def test_other_refs_are_not_experiments():
    sha = "ab" * 20
    assert parse_ref(f"refs/heads/{sha}") is None
    assert parse_ref(f"refs/mlvc/exps/{sha[:2]}/{sha[2:]}/a/b") is None
    assert parse_ref(f"refs/mlvc/exps/zz/{sha[2:]}/a") is None
