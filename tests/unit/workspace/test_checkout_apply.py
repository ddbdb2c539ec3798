"""Applying a checkout plan: folders for new files are made by the workers that place them."""

import os

from mlvc.objects.oid import hash_bytes
from mlvc.objects.store import ObjectStore
from mlvc.workspace.checkout import apply, plan
from mlvc.workspace.compare import Recorded, Want, WsView
from mlvc.workspace.links import Linker


class RacingLinker(Linker):
    """The first placement into each folder fails as if the folder were missing, while
    another worker makes it in the meantime (the folder exists once the error is seen)."""

    def __init__(self, store, order):
        super().__init__(store, order)
        self.raced = set()

    def place(self, oid, dest, executable, known=None):
        folder = os.path.dirname(dest)
        if folder not in self.raced:
            self.raced.add(folder)
            os.makedirs(folder, exist_ok=True)
            raise FileNotFoundError(2, "No such file or directory", dest)
        return super().place(oid, dest, executable, known)


def test_a_folder_made_by_another_worker_meanwhile_is_used(tmp_path):
    store = ObjectStore(tmp_path / "cache")
    oid = hash_bytes(b"x")
    obj = store.path(oid)
    obj.parent.mkdir(parents=True)
    obj.write_bytes(b"x")
    root = tmp_path / "ws"
    root.mkdir()
    rec = Recorded({"d/e/f": Want(oid, False, 1), "d/g": Want(oid, False, 1)},
                   frozenset({"d", "d/e"}), frozenset())
    the_plan = plan(rec, WsView({}, frozenset()), lambda o: True)
    applied = apply(root, the_plan, RacingLinker(store, ("copy",)), jobs=1)
    assert applied.failed == ()
    assert (root / "d/e/f").read_bytes() == b"x" and (root / "d/g").read_bytes() == b"x"
