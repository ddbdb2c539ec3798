"""The scan digest of clean marks (equal digests only for equal scans), and the listing's
tree."""

import os

from hypothesis import given
from hypothesis import strategies as st

from mlvc.workspace.marks import objects_digest, objects_now, scan_digest, unpack_stat
from mlvc.workspace.scan import Listing, WsDir, WsFile
from mlvc.workspace.state import Mark, StatKey, stat_key

names = st.text(st.characters(blacklist_characters="\0/", blacklist_categories=("Cs",)),
                min_size=1, max_size=6)
keys = st.builds(StatKey, st.integers(0, 2**64 - 1), st.integers(-2**62, 2**62),
                 st.integers(0, 2**40))
files = st.dictionaries(names, st.tuples(keys, st.booleans(), st.integers(1, 3)), max_size=4)
trees = st.recursive(st.fixed_dictionaries({"files": files, "dirs": st.just({})}),
                     lambda kids: st.fixed_dictionaries(
                         {"files": files, "dirs": st.dictionaries(names, kids, max_size=3)}),
                     max_leaves=8)


def build(spec: dict, path: str = "out") -> WsDir:
    node = WsDir(path)
    for name, (key, exe, nlink) in spec["files"].items():
        node.files[name] = WsFile(f"{path}/{name}", key, exe, nlink=nlink)
    for name, sub in spec["dirs"].items():
        node.dirs[name] = build(sub, f"{path}/{name}")
    return node


def listing(spec: dict, path: str = "out") -> Listing:
    return Listing.of(build(spec, path))


def flat(spec: dict, path: str = "out") -> tuple:
    out = [("D", path)]
    for name, value in spec["files"].items():
        out.append(("F", f"{path}/{name}", *value))
    for name, sub in spec["dirs"].items():
        out.extend(flat(sub, f"{path}/{name}"))
    return tuple(sorted(out, key=repr))


@given(trees, trees)
def test_equal_digests_only_for_equal_scans(a, b):
    assert scan_digest(listing(a))[0] == scan_digest(listing(a))[0]
    if scan_digest(listing(a))[0] == scan_digest(listing(b))[0]:
        assert flat(a) == flat(b)


@given(trees, st.sampled_from(["inode", "mtime", "size", "exec", "nlink", "name"]))
def test_any_change_to_a_file_changes_the_digest(spec, field):
    scan = listing(spec)
    if not scan.paths:
        scan.add_file(WsFile("out/f", StatKey(1, 2, 3), False))
        scan.ends[0] = 1
    before = scan_digest(scan)[0]
    if field == "exec":
        scan.execs[0] = not scan.execs[0]
    elif field == "nlink":
        scan.nlinks[0] += 1
    elif field == "name":
        scan.paths[0] += "~"
    else:
        scan.keys[["inode", "mtime", "size"].index(field)] += 1
    assert scan_digest(scan)[0] != before


@given(trees)
def test_newest_is_the_largest_mtime(spec):
    mtimes = [f[2] for f in flat(spec) if f[0] == "F"]
    assert scan_digest(listing(spec))[1] == max([k[1] for k in mtimes], default=0)


def test_a_file_moving_between_folders_changes_the_digest():
    key = StatKey(1, 2, 3)
    one = listing({"files": {"x": (key, False, 1)}, "dirs": {"d": {"files": {}, "dirs": {}}}})
    two = listing({"files": {}, "dirs": {"d": {"files": {"x": (key, False, 1)}, "dirs": {}}}})
    assert scan_digest(one)[0] != scan_digest(two)[0]


@given(trees)
def test_the_listing_tree_is_the_scanned_tree(spec):
    assert listing(spec).tree() == build(spec)


def test_a_file_listing_is_not_a_folder_listing():
    key = StatKey(1, 2, 3)
    one = Listing("file").add_file(WsFile("out", key, False))
    two = Listing("dir", ["out"], [-1], [0], [0])
    assert one.tree() == WsFile("out", key, False)
    assert two.tree() == WsDir("out")
    assert Listing(None).tree() is None
    assert scan_digest(one)[0] != scan_digest(two)[0]


def test_objects_digest_depends_on_every_field_and_the_folder():
    one, two = "ab" * 16, "cd" * 16
    base = objects_digest("/c", [one], [1, 2, 3])
    assert base != objects_digest("/d", [one], [1, 2, 3])
    for other in ([9, 2, 3], [1, 9, 3], [1, 2, 9]):
        assert base != objects_digest("/c", [one], other)
    assert base != objects_digest("/c", [two], [1, 2, 3])
    assert objects_digest("/c", [one, two], [1, 2, 3, 4, 5, 6]) != \
        objects_digest("/c", [two, one], [1, 2, 3, 4, 5, 6])


def test_objects_now_is_the_stat_that_marks_digest(tmp_path):
    oids = sorted(["ab" + "0" * 30, "ab" + "1" * 30, "cd" + "2" * 30])
    for i, oid in enumerate(oids):
        (tmp_path / oid[:2]).mkdir(exist_ok=True)
        (tmp_path / oid[:2] / oid[2:]).write_bytes(b"x" * i)
    keys = [n for o in oids for n in stat_key(os.stat(tmp_path / o[:2] / o[2:]))]
    mark = Mark("out", "0" * 32, b"", tuple(oids), b"")
    digest, packed = objects_now(str(tmp_path), [mark])["out"]
    assert digest == objects_digest(str(tmp_path), oids, keys)
    assert unpack_stat(packed) == keys
    (tmp_path / "cd" / oids[2][2:]).unlink()
    assert objects_now(str(tmp_path), [mark]) == {"out": None}


def test_numbers_too_big_for_64_bits_still_count():
    scan = listing({"files": {"x": (StatKey(2**63, -5, 3), False, 1)}, "dirs": {}})
    before = scan_digest(scan)[0]
    scan.keys[0] += 1
    assert scan_digest(scan)[0] != before
    small = listing({"files": {"x": (StatKey(1, -5, 3), False, 1)}, "dirs": {}})
    assert scan_digest(small)[0] != before
    assert objects_digest("/c", ["ab" * 16], [2**64 - 1, 2, 3]) != \
        objects_digest("/c", ["ab" * 16], [2**64 - 2, 2, 3])


def _counts(spec: dict, path: str = "out", out: dict | None = None) -> dict:
    """Files at and below each folder of ``spec``."""
    out = {} if out is None else out
    n = len(spec["files"])
    for name, sub in spec["dirs"].items():
        _counts(sub, f"{path}/{name}", out)
        n += out[f"{path}/{name}"]
    out[path] = n
    return out


def _own_files(spec: dict, path: str = "out", out: dict | None = None) -> dict:
    """The files directly in each folder of ``spec``."""
    out = {} if out is None else out
    out[path] = len(spec["files"])
    for name, sub in spec["dirs"].items():
        _own_files(sub, f"{path}/{name}", out)
    return out


def _chunked(spec: dict, low: int, high: int, every: int = 1000) -> tuple:
    """The listing of ``spec`` and its chunks, with the chunks' bounds set to these."""
    from mlvc.workspace import marks

    old = marks.CHUNK_MIN, marks.CHUNK_MAX, marks.RUN_EVERY
    marks.CHUNK_MIN, marks.CHUNK_MAX, marks.RUN_EVERY = low, high, every
    try:
        scan = listing(spec)
        return scan, marks.chunks(scan)
    finally:
        marks.CHUNK_MIN, marks.CHUNK_MAX, marks.RUN_EVERY = old


@given(trees, st.integers(0, 3), st.integers(1, 6), st.sampled_from([1, 2, 3, 1000]))
def test_chunks_are_the_largest_folders_within_the_bounds(spec, low, high, every):
    from mlvc.workspace import marks

    scan, found = _chunked(spec, low, high, every)
    counts = _counts(spec)
    if counts["out"] <= high:
        assert found == []
        return
    flat = [c for c in found if c.flat]
    found = [c for c in found if not c.flat]
    # A folder too big to be a chunk, not below one, has its own files cut into runs: they
    # are all of its files, in order, each run of at most ``high`` and (but the last) at
    # least ``low``, named by the folder and the run's first file.
    own = _own_files(spec)
    big = {p for p, n in counts.items() if n > high and own[p] >= max(low, 1)}
    assert {scan.dirs[c.dirs[0]] for c in flat} == big
    tree = build(spec)
    for folder in big:
        i = scan.dirs.index(folder)
        runs = [c for c in flat if c.dirs == (i,)]
        assert [(c.start, c.end) for c in runs] == list(zip(
            [scan.starts[i], *(c.end for c in runs[:-1])],
            [*(c.start for c in runs[1:]), scan.ends[i]]))
        if low <= high:
            assert all(c.end - c.start <= high for c in runs)
            assert all(c.end - c.start >= low for c in runs[:-1])
        for c in runs:
            assert c.path == f"{folder}//{scan.paths[c.start].rpartition('/')[2]}"
            assert c.folder(scan) == folder
            # Its part of the listing is the listing of the folder with only its files.
            alone = build(spec)
            node = marks.node_at(alone, folder)
            node.dirs = {}
            node.files = {n: f for n, f in node.files.items()
                          if f.path in scan.paths[c.start:c.end]}
            assert marks.sub_listing(scan, c) == Listing.of(node)

    def ancestors(p):
        while "/" in p:
            p = p.rpartition("/")[0]
            yield p

    # Exactly the folders within the bounds whose every ancestor but the output is above.
    expected = {p for p, n in counts.items() if p != "out" and low <= n <= high
                and all(counts[a] > high for a in ancestors(p) if a != "out")}
    assert {c.path for c in found} == expected
    tree = build(spec)
    for c in found:
        assert scan.dirs[c.dirs[0]] == c.path and c.end - c.start == counts[c.path]
        # A chunk's part of the listing is the listing of that folder on its own.
        assert marks.sub_listing(scan, c) == Listing.of(marks.node_at(tree, c.path))


@given(trees, st.integers(0, 2), st.integers(1, 5), st.sampled_from([1, 2, 1000]), st.data())
def test_a_listing_without_chunks_is_the_listing_of_the_tree_without_them(spec, low, high,
                                                                         every, data):
    from mlvc.workspace import marks

    scan, found = _chunked(spec, low, high, every)
    gone = data.draw(st.lists(st.sampled_from(found), unique_by=lambda c: c.path)
                     if found else st.just([]))
    tree = build(spec)
    for c in gone:
        if c.flat:  # its files go; the folder keeps the rest
            node = marks.node_at(tree, c.folder(scan))
            run = set(scan.paths[c.start:c.end])
            node.files = {n: f for n, f in node.files.items() if f.path not in run}
            continue
        emptied = marks.node_at(tree, c.path)  # the folders stay, empty
        emptied.files, emptied.dirs = {}, {}
    assert marks.without(scan, gone) == (Listing.of(tree) if gone else scan)


def test_leftovers_below_a_chunk_move_up_to_its_folder():
    from mlvc.workspace import marks

    spec = {"files": {}, "dirs": {"c": {"files": {"f": (StatKey(1, 2, 3), False, 1)},
                                        "dirs": {"d": {"files": {}, "dirs": {}}}}}}
    scan = listing(spec)
    scan.leftovers.append((scan.dirs.index("out/c/d"), "out/c/d/x.mlvc-tmp.1"))
    chunk = marks.Chunk("out/c", (scan.dirs.index("out/c"), scan.dirs.index("out/c/d")),
                        0, 1)
    rest = marks.without(scan, [chunk])
    assert rest.dirs == ["out", "out/c"] and rest.paths == []
    assert rest.leftovers == [(1, "out/c/d/x.mlvc-tmp.1")]


def test_packed_stat_keeps_numbers_too_big_for_64_bits():
    from mlvc.workspace.marks import _taken

    mark = Mark("out", "0" * 32, b"", ("ab" * 16,), b"")
    keys = [2**63, 5, 3]
    digest, packed = _taken("/c", mark, keys)
    assert unpack_stat(packed) == keys and digest == objects_digest("/c", mark.objects, keys)
