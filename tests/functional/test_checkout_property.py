"""SPEC 4.3 as a property: checking out any recorded tree reproduces it exactly."""

import shutil

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Project, snapshot, write_tree

names = st.sampled_from(["a", "b", "c.csv", "d d", "é", "x.bin"])
leaves = st.one_of(st.binary(max_size=20), st.sampled_from(["same", "other"]))
trees = st.recursive(
    st.dictionaries(names, leaves, max_size=4),
    lambda children: st.dictionaries(names, st.one_of(leaves, children), max_size=4),
    max_leaves=12,
)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=trees, second=trees)
def test_checkout_reproduces_each_revision(project: Project, first, second):
    data = project.root / "data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    write_tree(data, first)
    project.run("add", "data")
    want_first = snapshot(data)
    first_pointer = project.read("data.mlvc")

    shutil.rmtree(data)
    data.mkdir()
    write_tree(data, second)
    project.run("add", "data")
    want_second = snapshot(data)
    second_pointer = project.read("data.mlvc")

    (project.root / "data.mlvc").write_text(first_pointer)
    project.run("checkout")
    assert snapshot(data) == want_first
    (project.root / "data.mlvc").write_text(second_pointer)
    project.run("checkout")
    assert snapshot(data) == want_second
