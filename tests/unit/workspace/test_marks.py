"""The scan digest of clean marks: equal digests only for equal scans."""

from hypothesis import given
from hypothesis import strategies as st

from mlvc.workspace.marks import objects_digest, scan_digest
from mlvc.workspace.scan import WsDir, WsFile
from mlvc.workspace.state import StatKey

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


def flat(spec: dict, path: str = "out") -> tuple:
    out = [("D", path)]
    for name, value in spec["files"].items():
        out.append(("F", f"{path}/{name}", *value))
    for name, sub in spec["dirs"].items():
        out.extend(flat(sub, f"{path}/{name}"))
    return tuple(sorted(out, key=repr))


@given(trees, trees)
def test_equal_digests_only_for_equal_scans(a, b):
    assert scan_digest(build(a))[0] == scan_digest(build(a))[0]
    if scan_digest(build(a))[0] == scan_digest(build(b))[0]:
        assert flat(a) == flat(b)


@given(trees, st.sampled_from(["inode", "mtime", "size", "exec", "nlink", "name"]))
def test_any_change_to_a_file_changes_the_digest(spec, field):
    node = build(spec)
    files = list(node.files.values())
    if not files:
        files = [WsFile("out/f", StatKey(1, 2, 3), False)]
        node.files["f"] = files[0]
    before = scan_digest(node)[0]
    f = files[0]
    if field == "exec":
        f.exec = not f.exec
    elif field == "nlink":
        f.nlink += 1
    elif field == "name":
        f.path += "~"
    else:
        k = list(f.key)
        k[["inode", "mtime", "size"].index(field)] += 1
        f.key = StatKey(*k)
    assert scan_digest(node)[0] != before


@given(trees)
def test_newest_is_the_largest_mtime(spec):
    mtimes = [f[2] for f in flat(spec) if f[0] == "F"]
    assert scan_digest(build(spec))[1] == max([k[1] for k in mtimes], default=0)


def test_a_file_moving_between_folders_changes_the_digest():
    key = StatKey(1, 2, 3)
    one = build({"files": {"x": (key, False, 1)}, "dirs": {"d": {"files": {}, "dirs": {}}}})
    two = build({"files": {}, "dirs": {"d": {"files": {"x": (key, False, 1)}, "dirs": {}}}})
    assert scan_digest(one)[0] != scan_digest(two)[0]


def test_objects_digest_depends_on_every_field_and_the_folder():
    base = objects_digest("/c", [("ab" * 16, StatKey(1, 2, 3))])
    assert base != objects_digest("/d", [("ab" * 16, StatKey(1, 2, 3))])
    for other in (StatKey(9, 2, 3), StatKey(1, 9, 3), StatKey(1, 2, 9)):
        assert base != objects_digest("/c", [("ab" * 16, other)])
    assert base != objects_digest("/c", [("cd" * 16, StatKey(1, 2, 3))])
