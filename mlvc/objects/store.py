"""The content-addressed object store on a local filesystem (the cache).

Layout: ``<root>/objects/<oid[:2]>/<oid[2:]>``. A new object appears under its final name only
once it is whole: it is written unnamed and linked into place where the filesystem allows
(``mlvc.fsutil.NewFile``), else written in ``<root>/tmp/`` and renamed.
Objects are read-only (0444). File objects hold raw bytes, so they can be linked straight
into the workspace.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import xxhash

from mlvc.errors import CorruptObjectError, ObjectMissingError
from mlvc.fsutil import NewFile, write_all
from mlvc.objects.oid import CHUNK_SIZE, hash_bytes, hash_file, is_oid
from mlvc.objects.tree import Tree

OBJECT_MODE = 0o444
_counter = itertools.count()


class ObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects_dir = root / "objects"
        self.tmp_dir = root / "tmp"
        # String forms: the per-object hot paths avoid pathlib.
        self._objects = str(self.objects_dir)
        self._tmp = str(self.tmp_dir)
        self._made_dirs: set[str] = set()
        self._listed: dict[str, set[str]] = {}  # prefix -> names, for has()
        self._lock = threading.Lock()
        self._trees: dict[str, Tree] = {}

    # -- locations -------------------------------------------------------------------------
    def path(self, oid: str) -> Path:
        return Path(self.path_str(oid))

    def path_str(self, oid: str) -> str:
        return f"{self._objects}/{oid[:2]}/{oid[2:]}"

    def exists(self, oid: str) -> bool:
        return os.path.exists(self.path_str(oid))

    def has(self, oid: str) -> bool:
        """Like :meth:`exists`, for many oids in a row: each prefix folder is listed once.

        One directory listing costs far less than a stat per object. Objects written by this
        store are added as they are written; an object another process adds meanwhile may be
        missed, which only means writing the same bytes again, atomically.
        """
        prefix = oid[:2]
        names = self._listed.get(prefix)
        if names is None:
            try:
                names = set(os.listdir(f"{self._objects}/{prefix}"))
            except FileNotFoundError:
                names = set()
            with self._lock:
                names = self._listed.setdefault(prefix, names)
        return oid[2:] in names

    def iter_oids(self) -> Iterator[str]:
        """Every object in the store, in oid order (a stray file among them, not named as
        an object is, is not one)."""
        if not self.objects_dir.is_dir():
            return
        for prefix in sorted(os.listdir(self.objects_dir)):
            folder = self.objects_dir / prefix
            if len(prefix) != 2 or not folder.is_dir():
                continue
            for rest in sorted(os.listdir(folder)):
                if is_oid(prefix + rest):
                    yield prefix + rest

    def _ensure_dirs(self, oid: str) -> None:
        prefix = oid[:2]
        if prefix in self._made_dirs:
            return
        os.makedirs(f"{self._objects}/{prefix}", exist_ok=True)
        self._ensure_tmp()
        with self._lock:
            self._made_dirs.add(prefix)

    def _ensure_tmp(self) -> None:
        """Make the temporary folder (once per store; ``objects/`` is made with it)."""
        if "" not in self._made_dirs:
            os.makedirs(self._tmp, exist_ok=True)
            os.makedirs(self._objects, exist_ok=True)
            with self._lock:
                self._made_dirs.add("")

    def tmp_path(self, oid: str) -> str:
        return f"{self._tmp}/{oid}.{os.getpid()}.{next(_counter)}"

    # -- writing ---------------------------------------------------------------------------
    def commit_tmp(self, tmp: str | Path, oid: str) -> None:
        """Make a finished temporary file the object ``oid`` (read-only, atomic rename)."""
        os.chmod(tmp, OBJECT_MODE)
        os.replace(tmp, self.path_str(oid))
        self._remember(oid)

    def add_bytes(self, data: bytes, oid: str | None = None) -> str:
        """Store ``data`` (whose oid may be given when already known)."""
        oid = oid or hash_bytes(data)
        if not self.exists(oid):
            self.write(data, oid)
        return oid

    def ensure(self, data: bytes, oid: str) -> tuple[int, int, int]:
        """Make object ``oid`` hold ``data`` and return its (inode, mtime, size).

        An object already there is read and compared, so the stat returned is always that
        of verified bytes; one that differs (corrupted) is replaced atomically.
        """
        try:
            fd = os.open(self.path_str(oid), os.O_RDONLY)
        except FileNotFoundError:
            return self.write(data, oid)
        try:
            st = os.fstat(fd)
            same = st.st_size == len(data) and os.read(fd, len(data) + 1) == data
        finally:
            os.close(fd)
        if not same:
            return self.write(data, oid)
        return st.st_ino, st.st_mtime_ns, st.st_size

    def ensure_many(self, items: list[tuple[str, bytes]], threads: int = 4
                    ) -> list[tuple[str, tuple[int, int, int]]]:
        """:meth:`ensure` each ``(oid, data)``, in ``threads`` threads; ``(oid, stat)`` each.

        Creating a file right after thousands of links waits on the filesystem's journal
        (~1 ms each on ext4 here): the waits overlap.
        """
        from mlvc.parallel import run_batched
        from mlvc.progress import NULL_PROGRESS

        return run_batched(items, lambda item: (item[0], self.ensure(item[1], item[0])),
                           threads, NULL_PROGRESS, "Writing manifests")

    def write(self, data: bytes | memoryview, oid: str) -> tuple[int, int, int]:
        """Write object ``oid`` unconditionally and atomically; return its (inode, mtime, size)."""
        self._ensure_dirs(oid)
        with NewFile(self._objects, self.tmp_path(oid), OBJECT_MODE) as new:
            write_all(new.fd, data)
            st = os.fstat(new.fd)
            new.publish(self.path_str(oid))
        self._remember(oid)
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _remember(self, oid: str) -> None:
        names = self._listed.get(oid[:2])
        if names is not None:
            names.add(oid[2:])

    def add_file_copy(self, src: str | os.PathLike[str], expected: str | None = None) -> str:
        """Copy a file into the store in one pass, hashing as it goes.

        If ``expected`` is given and the bytes read do not match it (the file changed under
        us), nothing is stored and :class:`CorruptObjectError` is raised.
        """
        hasher = xxhash.xxh3_128()
        self._ensure_tmp()
        with NewFile(self._objects, self.tmp_path(expected or "import"), OBJECT_MODE) as new, \
                open(src, "rb", buffering=0) as fin:
            while chunk := fin.read(CHUNK_SIZE):
                hasher.update(chunk)
                write_all(new.fd, chunk)
            oid = hasher.hexdigest()
            if expected is not None and oid != expected:
                raise CorruptObjectError(expected, f"{src} changed while it was being stored")
            self._ensure_dirs(oid)
            new.publish(self.path_str(oid))
        self._remember(oid)
        return oid

    def add_file_link(self, src: str | os.PathLike[str], oid: str, *,
                      replace: bool = False) -> bool:
        """Hardlink an already hashed file into the store; raises OSError if links fail.

        A hard link appears whole, under its final name, in one step: no temporary name is
        needed. The file becomes read-only: it *is* the cache object now. With ``replace``
        (the object there is corrupt), it is linked under a temporary name and renamed
        over the old object. Returns False, and leaves ``src`` alone, when the object was
        there already (another writer stored the same bytes since :meth:`has` was asked):
        ``src`` is not that object.
        """
        self._ensure_dirs(oid)
        final = self.path_str(oid)
        if replace:
            tmp = self.tmp_path(oid)
            os.link(src, tmp)
            try:
                os.replace(tmp, final)
            finally:
                if os.path.lexists(tmp):  # (failed, or ``final`` was ``src`` already)
                    os.unlink(tmp)
        else:
            try:
                os.link(src, final)
            except FileExistsError:
                self._remember(oid)
                return False
        os.chmod(final, OBJECT_MODE)
        self._remember(oid)
        return True

    def link_new(self, src: str, oid: str) -> bool:
        """:meth:`add_file_link` of a file whose object :meth:`has` does not list: False,
        and ``src`` left alone, when it does (the hot path of a hard-linked add)."""
        return not self.has(oid) and self.add_file_link(src, oid)

    def add_tree(self, tree: Tree) -> str:
        data = tree.to_bytes()
        oid = hash_bytes(data)
        self._trees[oid] = tree
        return self.add_bytes(data, oid)

    # -- reading ---------------------------------------------------------------------------
    def read_bytes(self, oid: str) -> bytes:
        try:
            with open(self.path(oid), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise ObjectMissingError(
                f"object {oid} is not in the cache at {self.root}",
                hint="fetch it from a remote, or re-add the data it belongs to",
            ) from None

    def read_tree(self, oid: str, validated: bool = False) -> Tree:
        """Load a tree manifest, verifying its hash and its shape (cached in memory).

        ``validated``: this oid's manifest passed validation before, so once its bytes hash
        to the oid, its shape need not be checked again.
        """
        tree = self._trees.get(oid)
        if tree is not None:
            return tree
        data = self.read_bytes(oid)
        if hash_bytes(data) != oid:
            raise CorruptObjectError(
                oid, hint="`mlvc fetch` gets it again from a remote; or re-add the data")
        tree = Tree.from_trusted_bytes(data) if validated else Tree.from_bytes(data, oid)
        self._trees[oid] = tree
        return tree

    def verify(self, oid: str) -> bool:
        """Whether the stored bytes of ``oid`` hash to ``oid`` (False when missing)."""
        try:
            return hash_file(self.path(oid)) == oid
        except FileNotFoundError:
            return False


def stat_objects(objects_dir: str, oids: Sequence[str]) -> list[int | None]:
    """(inode, mtime_ns, size) of each object, three numbers per oid in one flat list
    (three Nones for a missing one).

    Sorted ``oids`` open each fan-out folder once and stat its objects relative to it: a
    shorter path walk per object than a full path.
    """
    keys: list[int | None] = []
    add = keys.extend
    fd, prefix = -1, ""
    stat = os.stat
    try:
        for oid in oids:
            if oid[:2] != prefix:
                if fd >= 0:
                    os.close(fd)
                    fd = -1
                prefix = oid[:2]
                try:
                    fd = os.open(f"{objects_dir}/{prefix}", os.O_RDONLY | os.O_DIRECTORY)
                except (FileNotFoundError, NotADirectoryError):
                    pass  # the whole fan-out folder is missing
            try:
                st = stat(oid[2:], dir_fd=fd) if fd >= 0 else None
            except (FileNotFoundError, NotADirectoryError):
                st = None
            add((None, None, None) if st is None else (st.st_ino, st.st_mtime_ns, st.st_size))
    finally:
        if fd >= 0:
            os.close(fd)
    return keys
