"""The scanner's flat listing: its tree is the folder on disk, and ``Listing.of`` gives back
the same listing from that tree (the order marks are digested in)."""

import os
import shutil
import tempfile
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlvc.workspace.scan as scan
from mlvc.errors import TargetError
from mlvc.workspace.ignore import IgnoreRules
from mlvc.workspace.scan import Listing, Scanner, WsDir, WsFile, iter_dirs, iter_files

names = st.text(st.sampled_from("abcxyzé_-. "), min_size=1, max_size=5).filter(
    lambda n: n not in (".", "..") and not n.startswith(".mlvc"))
files = st.dictionaries(names, st.tuples(st.binary(max_size=8), st.booleans()), max_size=4)
trees = st.recursive(st.fixed_dictionaries({"files": files, "dirs": st.just({})}),
                     lambda kids: st.fixed_dictionaries(
                         {"files": files, "dirs": st.dictionaries(names, kids, max_size=3)}),
                     max_leaves=10)


def write(spec: dict, folder: Path) -> None:
    folder.mkdir()
    for name, (data, exe) in spec["files"].items():
        if name in spec["dirs"]:
            continue
        (folder / name).write_bytes(data)
        os.chmod(folder / name, 0o755 if exe else 0o644)
    for name, sub in spec["dirs"].items():
        write(sub, folder / name)


def expected(spec: dict, path: str = "out") -> tuple[set, set]:
    dirs, found = {path}, set()
    for name, (data, exe) in spec["files"].items():
        if name not in spec["dirs"]:
            found.add((f"{path}/{name}", len(data), exe))
    for name, sub in spec["dirs"].items():
        d, f = expected(sub, f"{path}/{name}")
        dirs |= d
        found |= f
    return dirs, found


@settings(max_examples=40, deadline=None)
@given(trees)
def test_the_listing_is_the_folder_and_round_trips_through_its_tree(spec):
    root = Path(tempfile.mkdtemp())
    try:
        write(spec, root / "out")
        scanner = Scanner(root, IgnoreRules(root), (root,))
        listing = scanner.listing("out")
        node = listing.tree()
        assert isinstance(node, WsDir)
        dirs, found = expected(spec)
        assert {d.path for d in iter_dirs(node)} == dirs
        assert {(f.path, f.key.size, f.exec) for f in iter_files(node)} == found
        assert Listing.of(node) == listing
        assert scanner.scan("out") == node
    finally:
        shutil.rmtree(root)


def test_single_files_missing_paths_and_leftovers(tmp_path):
    (tmp_path / "one").write_bytes(b"1")
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / ".x.mlvc-tmp.12").write_bytes(b"partial")
    (tmp_path / "d" / "keep").write_bytes(b"k")
    scanner = Scanner(tmp_path, IgnoreRules(tmp_path), (tmp_path,))

    one = scanner.listing("one")
    assert one.kind == "file" and one.paths == ["one"]
    assert Listing.of(one.tree()) == one
    assert scanner.listing("nothing") == Listing(None)
    assert scanner.scan("nothing") is None

    d = scanner.listing("d")
    node = d.tree()
    assert node.dirs["e"].leftovers == ["d/e/.x.mlvc-tmp.12"]
    assert list(node.files) == ["keep"] and not node.dirs["e"].files
    assert Listing.of(node) == d


def test_the_scan_reads_only_rule_files_that_exist_below_it(tmp_path, monkeypatch):
    for folder in ("out/a/b", "out/a/c", "out/d"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "x.tmp").write_bytes(b"t")
        (tmp_path / folder / "y.csv").write_bytes(b"y")
    (tmp_path / "out" / "a" / ".mlvcignore").write_text("*.tmp\n")
    read = []
    real = IgnoreRules._read
    monkeypatch.setattr(IgnoreRules, "_read",
                        lambda self, folder: read.append(folder) or real(self, folder))
    scanner = Scanner(tmp_path, IgnoreRules(tmp_path), (tmp_path,))
    found = {f.path for f in iter_files(scanner.scan("out"))}
    assert found == {"out/a/b/y.csv", "out/a/c/y.csv", "out/d/x.tmp", "out/d/y.csv",
                     "out/a/.mlvcignore"}
    # The folders above the scanned one are looked up; from it down, only the one file.
    assert sorted(read) == ["", "out/a"]


wide = st.fixed_dictionaries({"files": files, "dirs": st.dictionaries(
    names, trees.filter(lambda t: t["dirs"]), min_size=2, max_size=4)})


@settings(max_examples=40, deadline=None)
@given(wide, st.integers(0, 4), st.booleans())
def test_a_split_walk_gives_the_very_same_listing(spec, after, fork):
    """Once ``after`` files are listed, half of the folders left are listed by a forked child
    (or, with one core, by this process afterwards) and appended as a tail: the same
    columns in the same order."""
    root = Path(tempfile.mkdtemp())
    try:
        write(spec, root / "out")
        for i, sub in enumerate(sorted(spec["dirs"])):  # a leftover below the top, too
            (root / "out" / sub / f".f.mlvc-tmp.{i}").write_bytes(b"x")
        scanner = Scanner(root, IgnoreRules(root), (root,))
        serial = scanner.listing("out")
        with patch.object(scan, "SPLIT_AFTER", after):
            if fork:
                split = scanner.listing("out", split=True)
            else:
                with patch("mlvc.parallel.os.cpu_count", return_value=1):
                    split = scanner.listing("out", split=True)
        assert split == serial
    finally:
        shutil.rmtree(root)


def test_a_split_walk_raises_what_the_child_found(tmp_path):
    for i in range(4):
        (tmp_path / "out" / f"d{i}").mkdir(parents=True)
        (tmp_path / "out" / f"d{i}" / "f").write_bytes(b"f")
    os.mkfifo(tmp_path / "out" / "d0" / "pipe")  # in the child's half (listed last)
    scanner = Scanner(tmp_path, IgnoreRules(tmp_path), (tmp_path,))
    for split in (False, True):
        with patch.object(scan, "SPLIT_AFTER", 0), \
                pytest.raises(TargetError, match="out/d0/pipe"):
            scanner.listing("out", split=split)


def test_known_oids_rows_first_then_hard_links_to_verified_objects(tmp_path):
    """A row for the path with the file's stat gives its oid. Without one, a file with other
    names takes the oid of the verified object with the same inode, mtime and size; a file
    with one name, or whose stat differs from the object's record, is left to be hashed."""
    from mlvc.workspace.state import FileState, StateDB, StatKey

    db = StateDB(tmp_path / "state.db")
    o1, o2, o3 = "1" * 32, "2" * 32, "3" * 32
    db.put_objects([(o1, StatKey(10, 100, 5)), (o2, StatKey(20, 200, 5)),
                    (o3, StatKey(30, 300, 5))])
    db.put_files([("d/row", FileState(StatKey(40, 1, 5), "4" * 32, None)),
                  ("d/stale", FileState(StatKey(99, 1, 5), "9" * 32, None)),
                  ("e/linked", FileState(StatKey(10, 100, 5), "5" * 32, "copy"))])
    files = {
        "row": WsFile("d/row", StatKey(40, 1, 5), False),
        "linked": WsFile("d/linked", StatKey(10, 100, 5), False, nlink=2),
        "stale": WsFile("d/stale", StatKey(20, 200, 5), False, nlink=3),
        "touched": WsFile("d/touched", StatKey(30, 301, 5), False, nlink=2),
        "single": WsFile("d/single", StatKey(10, 100, 5), False, nlink=1),
        "unknown": WsFile("d/unknown", StatKey(77, 1, 5), False, nlink=2),
    }
    linked = {}
    todo = scan.known_oids(db, list(files.values()), ["d"], linked)
    assert [f.path for f in todo] == ["d/touched", "d/single", "d/unknown"]
    assert (files["row"].oid, files["row"].link) == ("4" * 32, None)
    assert (files["linked"].oid, files["linked"].link) == (o1, "hardlink")
    assert (files["stale"].oid, files["stale"].link) == (o2, "hardlink")
    assert all(files[n].oid is None for n in ("touched", "single", "unknown"))
    # The objects the hard links proved: their records are the files' stat (not the row's)
    assert linked == {o1: StatKey(10, 100, 5), o2: StatKey(20, 200, 5)}
