"""Counting the objects of folders, for push's record of complete folders on a remote."""

from hypothesis import given
from hypothesis import strategies as st

from mlvc.ops._objects import Obj, Objects

OBJ = Obj("x", 0, "x.mlvc")


def _objects(children: dict[str, tuple[str, ...]]) -> Objects:
    objs = Objects()
    for tree, entries in children.items():
        objs.trees[tree] = OBJ
        objs.children[tree] = entries
        for e in entries:
            if e not in children:
                objs.files[e] = OBJ
    return objs


@st.composite
def dags(draw):
    """Trees t0..tn, each listing files f* and trees of higher numbers (a DAG, with sharing)."""
    n = draw(st.integers(1, 6))
    children = {}
    for i in range(n):
        files = draw(st.lists(st.sampled_from([f"f{k}" for k in range(8)]), max_size=4))
        subs = draw(st.lists(st.sampled_from([f"t{k}" for k in range(i + 1, n)] or ["f0"]),
                             max_size=3))
        children[f"t{i}"] = tuple(files + subs)
    return children


def _reachable(children, root):
    seen, stack = {root}, [root]
    while stack:
        for c in children.get(stack.pop(), ()):
            if c not in seen:
                seen.add(c)
                stack.append(c)
    return seen


@given(dags())
def test_a_folder_counts_each_distinct_object_below_it_once(children):
    counts = _objects(children).folder_counts(children)
    assert counts == {t: len(_reachable(children, t)) for t in children}


def test_pruned_folders_add_their_count_and_unreadable_ones_leave_the_folder_out():
    objs = _objects({"top": ("f1", "sub", "p", "f1"), "sub": ("f1", "f2"),
                     "bad": ("f3", "lost"), "p": ()})  # p as expand leaves a pruned folder
    objs.pruned["p"] = 10  # p and 9 objects below it
    del objs.files["lost"]
    objs.unreadable["lost"] = (OBJ, "missing")
    assert objs.folder_counts(["top", "sub", "bad", "p"]) == {"top": 5 + 9, "sub": 3}
    assert objs.object_count() == 3 + 4 + 9  # f1-f3; top, sub, bad, p; below p
