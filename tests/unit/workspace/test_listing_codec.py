"""The cached form of a flattened tree (``encode_listing``/``decode_listing``) round-trips,
with the folders' tree oids or without them (listings cached by older versions)."""

import marshal

from hypothesis import given
from hypothesis import strategies as st

from mlvc.workspace.compare import Recorded, Want, decode_listing, encode_listing

names = st.text(st.characters(blacklist_characters="\0/", blacklist_categories=("Cs",)),
                min_size=1, max_size=5)
oids = st.text("0123456789abcdef", min_size=32, max_size=32)


@st.composite
def recorded(draw, root="out"):
    folders = [root] + [f"{root}/{p}" for p in draw(st.lists(names, max_size=4, unique=True))]
    files = {f"{draw(st.sampled_from(folders))}/f{i}": Want(draw(oids), draw(st.booleans()),
                                                           draw(st.integers(0, 2**40)))
             for i in range(draw(st.integers(0, 6)))}
    dir_oids = {d: draw(oids) for d in folders}
    with_oids = draw(st.booleans())
    return Recorded(files, frozenset(folders), frozenset(dir_oids.values()),
                    dir_oids if with_oids else None)


@given(recorded())
def test_a_listing_round_trips(rec):
    assert decode_listing(encode_listing(rec, "out"), "out") == rec


def test_a_listing_cached_without_folder_oids_still_decodes():
    old = marshal.dumps(([("a/f", "1" * 32, False, 3)], ["a"], ["2" * 32, "3" * 32]))
    rec = decode_listing(old, "data")
    assert rec == Recorded({"data/a/f": Want("1" * 32, False, 3)},
                           frozenset(["data", "data/a"]), frozenset(["2" * 32, "3" * 32]))
    assert rec.dir_oids is None


_names = st.sampled_from(["a", "b", "a-b", "a.b", "a0", "é"])
_rel = st.lists(_names, min_size=1, max_size=3).map(lambda parts: "d/" + "/".join(parts))


@given(files=st.sets(_rel, max_size=30), parts=st.lists(_rel, min_size=1, max_size=20))
def test_restrict_many_is_restrict_of_each_part(files, parts):
    """Sorted and bisected (many parts) or not, each part gets what ``restrict`` gives."""
    from mlvc.workspace.compare import restrict, restrict_many

    dirs = {"d"} | {f.rsplit("/", 1)[0] for f in files}
    rec = Recorded({f: Want("0" * 32, False, 1) for f in files}, frozenset(dirs),
                   frozenset(), None)
    assert restrict_many(rec, parts) == [restrict(rec, p) for p in parts]
