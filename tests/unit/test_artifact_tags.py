"""Reading GTO's git tags: versions by number, a stage's highest assignment."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mlvc.ops.artifacts import registry

version = st.tuples(*[st.integers(0, 30)] * 3)


@given(versions=st.lists(version, min_size=1, max_size=8, unique=True),
       noise=st.lists(st.sampled_from(["other@v1.0.0", "clf@latest", "clf", "clfx@v2.0.0",
                                       "clf#", "clf@v1.x"]), max_size=4))
def test_versions_are_ordered_by_number_and_others_ignored(versions, noise):
    tags = {f"clf@v{a}.{b}.{c}": f"sha-{a}-{b}-{c}" for a, b, c in versions}
    tags |= {n: "noise" for n in noise}
    found = registry(tags, "clf")
    assert [v for v, _ in found.versions] == [f"v{a}.{b}.{c}" for a, b, c in sorted(versions)]
    a, b, c = max(versions)
    assert found.latest == (f"v{a}.{b}.{c}", f"sha-{a}-{b}-{c}")


@given(events=st.lists(st.tuples(st.integers(1, 50), st.booleans()), min_size=1, max_size=8,
                       unique_by=lambda e: e[0]))
def test_a_stage_is_its_highest_assignment_unless_that_took_it_away(events):
    tags = {f"clf#prod{'!' if gone else ''}#{n}": f"sha{n}" for n, gone in events}
    n, gone = max(events)
    assert dict(registry(tags, "clf").stages).get("prod") == (None if gone else f"sha{n}")


@given(versions=st.lists(version, min_size=2, max_size=6, unique=True), data=st.data())
def test_a_deregistered_version_is_no_version_any_more(versions, data):
    # `gto deregister` tags NAME@vX.Y.Z! (with a counter, #N, in newer GTO)
    tags = {f"clf@v{a}.{b}.{c}": f"sha-{a}-{b}-{c}" for a, b, c in versions}
    dropped = data.draw(st.sampled_from(versions))
    a, b, c = dropped
    tags[f"clf@v{a}.{b}.{c}!" + data.draw(st.sampled_from(["", "#1", "#7"]))] = "x"
    kept = sorted(v for v in versions if v != dropped)
    assert [v for v, _ in registry(tags, "clf").versions] == [
        f"v{a}.{b}.{c}" for a, b, c in kept]
