import os

import pytest

from mlvc.workspace.ignore import IgnoreRules
from mlvc.workspace.index import Index
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
