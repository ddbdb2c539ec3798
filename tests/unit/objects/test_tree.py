import json
import os

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mlvc.errors import CorruptObjectError
from mlvc.objects.oid import hash_bytes
from mlvc.objects.tree import Tree, TreeEntry
from mlvc.paths import is_reserved, is_valid_name, unrecordable

# (.git and .mlvc, in any case, are refused in a manifest: test_reserved_names_in_any_case_are_refused)
names = st.text(min_size=1, max_size=20).filter(lambda n: is_valid_name(n) and not is_reserved(n))
oids = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
sizes = st.integers(min_value=0, max_value=2**48)
file_entries = st.builds(lambda n, o, s, x: TreeEntry(n, "file", o, s, exec=x),
                         names, oids, sizes, st.booleans())
dir_entries = st.builds(lambda n, o, s, c: TreeEntry(n, "dir", o, s, nfiles=c),
                        names, oids, sizes, st.integers(0, 10**6))
trees = st.lists(st.one_of(file_entries, dir_entries), max_size=30,
                 unique_by=lambda e: e.name).map(Tree.build)


@given(trees)
def test_manifest_round_trips(tree):
    data = tree.to_bytes()
    assert Tree.from_bytes(data) == tree
    assert Tree.from_bytes(data).to_bytes() == data


@given(trees, st.randoms())
def test_manifest_bytes_do_not_depend_on_entry_order(tree, rnd):
    shuffled = list(tree.entries)
    rnd.shuffle(shuffled)
    assert Tree.build(shuffled).to_bytes() == tree.to_bytes()


@given(trees)
def test_manifest_bytes_are_the_canonical_json_of_the_spec(tree):
    # SPEC 2.1, computed independently: sorted keys, no spaces, UTF-8 (not \u escapes)
    entries = [{"name": e.name, "type": e.type, "oid": e.oid, "size": e.size,
                **({"nfiles": e.nfiles} if e.is_dir else {"exec": e.exec})}
               for e in sorted(tree.entries, key=lambda e: e.name)]
    assert tree.to_bytes() == json.dumps({"entries": entries}, sort_keys=True,
                                         separators=(",", ":"), ensure_ascii=False).encode()


def test_manifest_is_canonical_json():
    tree = Tree.build([TreeEntry("b", "dir", "1" * 32, 5, nfiles=2),
                       TreeEntry("a.csv", "file", "0" * 32, 12)])
    assert tree.to_bytes() == (
        b'{"entries":[{"exec":false,"name":"a.csv","oid":"' + b"0" * 32
        + b'","size":12,"type":"file"},{"name":"b","nfiles":2,"oid":"' + b"1" * 32
        + b'","size":5,"type":"dir"}]}')
    assert tree.oid == hash_bytes(tree.to_bytes())
    assert (tree.size, tree.nfiles) == (17, 3)


def _doc(name, **extra):
    entry = {"name": name, "type": "file", "oid": "0" * 32, "size": 1, "exec": False}
    entry.update(extra)
    return json.dumps({"entries": [entry]}).encode()


@pytest.mark.parametrize("bad", ["..", ".", "", "a/b", "a\\b", "a\x00b", "/etc"])
def test_manifest_with_unsafe_name_is_corrupt(bad):
    with pytest.raises(CorruptObjectError, match="safe path component"):
        Tree.from_bytes(_doc(bad))


@given(st.sampled_from([".git", ".mlvc"]).flatmap(
    lambda n: st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in n))).map("".join))
def test_reserved_names_in_any_case_are_refused(name):
    with pytest.raises(CorruptObjectError, match="is reserved"):
        Tree.from_bytes(_doc(name))


@pytest.mark.parametrize("data", [
    b"not json", b"[]", b'{"entries": {}}', b'{"entries": [], "x": 1}', b"\xff\xfe",
    _doc("a", size=-1), _doc("a", oid="xyz"), _doc("a", exec="no"), _doc("a", type="link"),
    _doc("a", extra=1), _doc("a", size=True),
    b'{"entries":[{"name":"a","type":"file","oid":"' + b"0" * 32 + b'","size":1,"exec":false},'
    b'{"name":"a","type":"file","oid":"' + b"0" * 32 + b'","size":1,"exec":false}]}',
])
def test_malformed_manifest_is_corrupt(data):
    with pytest.raises(CorruptObjectError):
        Tree.from_bytes(data)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_parser(data):
    try:
        tree = Tree.from_bytes(data)
    except CorruptObjectError:
        return
    assert all(is_valid_name(e.name) for e in tree.entries)


# Any name Linux allows: bytes without '/' or NUL, as Python decodes them (surrogateescape).
linux_names = st.binary(min_size=1, max_size=20).filter(
    lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b"..")).map(os.fsdecode)


@given(linux_names)
def test_every_name_the_walk_accepts_round_trips_through_a_manifest(name):
    assume(not is_reserved(name))  # the walk skips .git and .mlvc in any case
    why = unrecordable(name)
    if why is None:
        tree = Tree.build([TreeEntry(name, "file", "0" * 32, 1)])
        assert Tree.from_bytes(tree.to_bytes()) == tree
    else:
        assert "\\" in name or "UTF-8" in why
