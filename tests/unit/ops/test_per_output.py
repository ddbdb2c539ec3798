"""Counting files per output in one pass (commit's repaired and newly stored counts)."""

from hypothesis import given
from hypothesis import strategies as st

from mlvc.ops.commit import _per_output
from mlvc.paths import is_within

names = st.sampled_from(["a", "b", "ab", "a.b", "c"])
paths = st.lists(names, min_size=1, max_size=4).map("/".join)


@given(st.sets(paths, max_size=30), st.lists(paths, max_size=6))
def test_per_output_counts_as_the_path_rule_does(files, outputs):
    # Outputs never overlap (one inside another is refused): keep the outermost.
    outs = [o for o in dict.fromkeys(outputs)
            if not any(x != o and is_within(o, x) for x in outputs)]
    expected = {o: n for o in outs if (n := sum(1 for p in files if is_within(p, o)))}
    assert _per_output(files, outs) == expected
