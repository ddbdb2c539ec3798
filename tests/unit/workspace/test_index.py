import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlvc.errors import TargetError
from mlvc.paths import is_within
from mlvc.workspace.ignore import IgnoreRules
from mlvc.workspace.index import Index, Selected, Tracked
from mlvc.workspace.pointer import Out, Pointer, write_pointer

OID = "0123456789abcdef" * 2


def _pointer(root, target: str, kind: str = "file") -> None:
    write_pointer(root, Pointer(target + ".mlvc", (Out(target, OID, kind, 1, 1),)))


@pytest.fixture
def project(tmp_path):
    """Pointers at every depth, in folders with and without subfolders."""
    root = tmp_path
    for folder in ["raw", "nested/deep/leaf", "skip", "tracked/inner", "mixed/sub"]:
        (root / folder).mkdir(parents=True)
    for i in range(30):
        (root / "raw" / f"{i}.bin").write_bytes(b"x")
    _pointer(root, "model.bin")  # top level
    _pointer(root, "raw/labels.csv")  # a folder with no subfolder
    _pointer(root, "nested/deep/leaf/w.pt")
    _pointer(root, "mixed/a.txt")  # a folder with a subfolder
    _pointer(root, "mixed/sub/b.txt")
    _pointer(root, "skip/hidden.bin")  # ignored below
    _pointer(root, "tracked", "dir")
    _pointer(root, "tracked/inner/x")  # inside a tracked folder: never looked at
    (root / "raw" / ".mlvc").write_text("not a pointer")  # an always-ignored name
    (root / "raw" / "dir.mlvc").mkdir()  # a folder named like a pointer: raw has one now
    (root / "nested/deep/leaf" / "gone.mlvc").symlink_to("nowhere")  # broken: not a file
    (root / ".mlvcignore").write_text("skip/hidden.bin.mlvc\n")
    return root


EXPECTED = ["mixed/a.txt.mlvc", "mixed/sub/b.txt.mlvc", "model.bin.mlvc",
            "nested/deep/leaf/w.pt.mlvc", "raw/labels.csv.mlvc", "tracked.mlvc"]


def test_finds_every_pointer_and_skips_ignored_and_tracked_folders(project):
    index = Index.load(project, IgnoreRules(project))
    assert list(index.pointers) == EXPECTED


def test_folders_without_subfolders_are_listed_by_name_only(project, monkeypatch):
    """A folder with no subfolder needs no type of each entry: it is never scandir'ed."""
    (project / "raw" / "dir.mlvc").rmdir()  # raw has no subfolder now
    scanned = []
    real = os.scandir

    def spy(path):
        scanned.append(os.path.relpath(path, project))
        return real(path)

    monkeypatch.setattr(os, "scandir", spy)
    index = Index.load(project, IgnoreRules(project))
    assert list(index.pointers) == EXPECTED
    assert sorted(scanned) == [".", "mixed", "nested", "nested/deep"]


def _select_by_comparing(index: Index, targets):
    """The selection rule, target by target against every output (the reference)."""
    chosen = {}
    for target in targets:
        hits = []
        for t in index.tracked():
            if target == t.pointer or is_within(t.out.path, target):
                hits.append(Selected(t, ""))
            elif is_within(target, t.out.path):
                hits.append(Selected(t, target))
        if not hits:
            return None
        for s in hits:
            chosen.setdefault((s.tracked.pointer, s.tracked.out.path), []).append(s)
    # An output chosen whole by one target is whole; else each part not inside another.
    out = []
    for found in chosen.values():
        parts = {s.within for s in found}
        if "" in parts:
            out.append(Selected(found[0].tracked, ""))
            continue
        out += [Selected(found[0].tracked, p) for p in sorted(parts)
                if not any(q != p and is_within(p, q) for q in parts)]
    return out


_parts = st.sampled_from(["a", "b", "a-b", "a.b", "é"])
_paths = st.lists(_parts, min_size=1, max_size=3).map("/".join)


@given(outs=st.lists(st.tuples(_paths, _paths), max_size=8),
       targets=st.lists(_paths | st.just("") | _paths.map(lambda p: p + ".mlvc"), min_size=1,
                        max_size=6))
def test_select_answers_as_comparing_each_target_with_every_output(outs, targets):
    # Pointers named freely (several outputs in one, outputs inside others) as hand edits
    # could make them; stage outputs have mlvc.lock as their pointer.
    pointers: dict = {}
    for ptr, out in outs:
        old = pointers.get(ptr + ".mlvc")
        new = Out(out, OID, "dir", 1, 1)
        pointers[ptr + ".mlvc"] = Pointer(ptr + ".mlvc", (old.outs if old else ()) + (new,))
    index = Index(pointers, (Tracked("mlvc.lock", Out("a/b", OID, "dir", 1, 1), "s"),))
    expected = _select_by_comparing(index, targets)
    if expected is None:
        with pytest.raises(TargetError):
            index.select(targets)
    else:
        assert index.select(targets) == expected
