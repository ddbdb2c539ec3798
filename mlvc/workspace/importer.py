"""Hashing workspace files into the cache, reading each file once.

The import method follows ``cache.type``: ``reflink`` clones the file into the cache,
``hardlink`` makes the workspace file itself the (read-only) cache object, ``copy`` writes a
copy while hashing, and ``symlink`` copies then replaces the workspace file with a link.
A method the filesystem refuses is dropped for the rest of the run.

This is the hot loop of ``add``: paths are strings and files are read with raw ``os`` calls.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import xxhash

from mlvc.errors import CorruptObjectError
from mlvc.objects.oid import CHUNK_SIZE, hash_bytes
from mlvc.objects.store import OBJECT_MODE, ObjectStore
from mlvc.parallel import Codec
from mlvc.progress import meter
from mlvc.workspace.links import SHARED_TYPES, SMALL_FILE, Linker, copy_file, reflink
from mlvc.workspace.scan import WsFile
from mlvc.workspace.state import FileState, StatKey, stat_key

_UNSUPPORTED = {errno.EXDEV, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOTTY,
                errno.EPERM, errno.ENOSYS}


class Imported(NamedTuple):
    oid: str
    state: FileState  # the workspace file's new state row
    verified: StatKey | None  # stat of a cache object just written
    nlink: int | None = None  # the workspace file's link count, when placing changed it


def _pack(r: Imported) -> tuple:
    return (r.oid, *r.state.key, r.state.oid, r.state.link,
            None if r.verified is None else tuple(r.verified), r.nlink)


def _unpack(t: tuple) -> Imported:
    new = tuple.__new__
    if len(t) == 5:  # (oid, inode, mtime, size, nlink): a file that became its new object
        oid, *key, nlink = t
        linked = new(StatKey, key)
        return new(Imported, (oid, new(FileState, (linked, oid, "hardlink")), linked, nlink))
    oid, ino, mtime, size, state_oid, link, verified, nlink = t
    state = new(FileState, (new(StatKey, (ino, mtime, size)), state_oid, link))
    return new(Imported, (oid, state, None if verified is None else new(StatKey, verified), nlink))


IMPORTED = Codec(_pack, _unpack)  # for Importer.run in forked workers


@contextmanager
def _removed_on_error(path: str) -> Iterator[None]:
    """Delete the temporary file ``path`` (if it is there) when the block fails."""
    try:
        yield
    except BaseException:
        if os.path.exists(path):
            os.unlink(path)
        raise


def read_small(fs: str) -> tuple[bytes | None, StatKey]:
    """The whole content of a small file (None for a large one) and its stat key."""
    fd = os.open(fs, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        if st.st_size > SMALL_FILE:
            return None, stat_key(st)
        # One read of size+1 returns the whole file and shows that it did not grow; a short
        # read (a file that shrank, or a pipe-like filesystem) falls back to a loop.
        data = os.read(fd, st.st_size + 1)
        if len(data) != st.st_size:
            chunks = [data]
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
            data = b"".join(chunks)
        return data, stat_key(st)
    finally:
        os.close(fd)


def hash_path(fs: str, metered: bool = True) -> tuple[str, StatKey]:
    """The oid and stat key of the file ``fs``; a big one's bytes go to the progress meter
    as they are read, unless not ``metered`` (a check beside the file's own pass)."""
    data, key = read_small(fs)
    if data is not None:
        return hash_bytes(data), key
    hasher = xxhash.xxh3_128()
    count = meter if metered else None
    with open(fs, "rb", buffering=0) as fin:
        key = stat_key(os.fstat(fin.fileno()))
        while chunk := fin.read(CHUNK_SIZE):
            hasher.update(chunk)
            if count is not None:
                count(len(chunk))
    return hasher.hexdigest(), key


class Importer:
    def __init__(self, root: Path, store: ObjectStore, linker: Linker, *, save: bool,
                 corrupt: frozenset[str] = frozenset(), link: bool = True) -> None:
        """Without ``link`` (``--no-relink``), a file is never made a link to its object
        (hard or symbolic): copied or cloned into the cache, it stays as it is."""
        self.root = str(root)
        self.store = store
        self.linker = linker
        self.save = save
        self.link = link
        # Objects found corrupt in the cache: stored again, replacing the bad bytes (once:
        # another file of the same bytes then finds the object sound).
        self.corrupt = set(corrupt)
        self._sound: set[str] = set()  # objects this worker stored, or read back whole
        self._refused: set[str] = set()
        self._lock = threading.Lock()
        # (Whether run_packed may link new small files inline: see there.)
        self._linking = save and self._method(False) == "hardlink"

    def _has(self, oid: str) -> bool:
        return self.store.has(oid) and oid not in self.corrupt

    def _has_sound(self, oid: str) -> bool:
        """:meth:`_has`, and the object's bytes read back are ``oid``'s. Asked before a
        workspace file is replaced by a link to an object stored before: linking to bytes
        gone bad would lose the good ones. One found bad is stored again from the file."""
        if not self._has(oid):
            return False
        if oid not in self._sound:
            try:
                sound = hash_path(self.store.path_str(oid), metered=False)[0] == oid
            except FileNotFoundError:
                sound = False
            if not sound:
                self.corrupt.add(oid)
                return False
            self._sound.add(oid)
        return True

    def _method(self, executable: bool) -> str:
        for kind in self.linker.order:
            if kind not in self._refused and not (
                    (executable or not self.link) and kind in SHARED_TYPES):
                return kind
        return "copy"

    @property
    def codec(self) -> Codec:
        """``IMPORTED``, with :meth:`run_packed` for forked workers."""
        return IMPORTED._replace(fused=self.run_packed)

    def run_packed(self, f: WsFile) -> tuple:
        """``_pack(self.run(f))``, with the common case of a hard-linked add done inline:
        a small file whose bytes the cache does not have becomes their object. (Its result
        is the short form that ``_unpack`` reads.) Any other case takes :meth:`run`.

        The hot loop of a first hard-linked add: 50,000 files took ~36 us each through
        :meth:`run`, of which the system calls are ~27 us (the link ~10).
        """
        if f.exec or not self._linking or self._refused:
            return _pack(self.run(f))
        fs = f"{self.root}/{f.path}"
        fd = os.open(fs, os.O_RDONLY)
        try:
            st = os.fstat(fd)
            size = st.st_size
            data = os.read(fd, size + 1) if size <= SMALL_FILE else None
        finally:
            os.close(fd)
        if data is None or len(data) != size:  # (big, or it changed size meanwhile)
            return _pack(self.run(f))
        oid = hash_bytes(data)
        try:
            if not self.store.link_new(fs, oid):  # (stored before, or meanwhile)
                return _pack(self.run(f))
        except OSError:  # (too many links, or refused: as run() does)
            return _pack(self.run(f))
        self._sound.add(oid)
        # (Linking and chmod leave the stat as read; the inode has one more name.)
        return (oid, st.st_ino, st.st_mtime_ns, size, st.st_nlink + 1)

    def run(self, f: WsFile) -> Imported:
        imp = self._import(f)
        if imp.verified is not None:  # stored (again) here: sound from now on
            self._sound.add(imp.oid)
            self.corrupt.discard(imp.oid)
        return imp

    def _import(self, f: WsFile) -> Imported:
        fs = f"{self.root}/{f.path}"
        if not self.save:
            oid, key = hash_path(fs)
            return Imported(oid, FileState(key, oid, f.link), None)
        method = self._method(f.exec)
        if method == "copy":
            return self._import_copy(fs)
        try:
            return self._import_by(method, f, fs)
        except OSError as exc:
            if exc.errno == errno.EMLINK:
                # The file has all the names it can have (65,000 on ext4): a copy of it is
                # stored, and it stays as it is. Links go on for the other files.
                return self._import_copy(fs)
            # The filesystem refuses this method (a link across filesystems, say): the next
            # one in cache.type is taken, or a copy into the cache (the file stays as it is).
            if exc.errno not in _UNSUPPORTED:
                raise
            with self._lock:
                self._refused.add(method)
            return self.run(f)

    def _import_copy(self, fs: str) -> Imported:
        oid, key, verified = self._copy_in(fs)
        return Imported(oid, FileState(key, oid), verified)

    def _import_by(self, method: str, f: WsFile, fs: str) -> Imported:
        """:meth:`_import` by ``method`` (reflink, hardlink or symlink)."""
        if method == "symlink":
            oid, key, verified = self._copy_in(fs, linking=True)
            return self._relink(f, fs, oid, verified)
        if method == "reflink":
            return self._reflink_in(fs)
        oid, key = hash_path(fs)  # (hardlink)
        if self._has_sound(oid):
            return self._relink(f, fs, oid, None)
        if not self.store.add_file_link(fs, oid, replace=oid in self.corrupt):
            # Stored meanwhile: by another worker of this run (a file of the same bytes,
            # whose worker had not listed it yet) or another writer. This file becomes a
            # link to that object, like one found stored before.
            return self._relink(f, fs, oid, None)
        # Linking and chmod leave (inode, mtime, size) as hashed, and add one name to the
        # inode: no stat needed. (A link made meanwhile by someone else only makes the next
        # status take its full path.)
        return Imported(oid, FileState(key, oid, "hardlink"), key, f.nlink + 1)

    def _reflink_in(self, fs: str) -> Imported:
        """Clone the file into the cache's temporary folder, then hash the clone. A
        filesystem that refuses clones says so before anything is read (the next type in
        cache.type takes the file: a big file is not read twice), and the object holds the
        very bytes hashed, whatever happens to the file meanwhile."""
        os.makedirs(self.store.tmp_dir, exist_ok=True)
        tmp = self.store.tmp_path("import")
        key = reflink(fs, tmp, OBJECT_MODE)
        with _removed_on_error(tmp):
            oid = hash_path(tmp)[0]
        return Imported(oid, FileState(key, oid), self._keep(tmp, oid, self._has))

    def _keep(self, tmp: str, oid: str, has: Callable[[str], bool],
              check: Callable[[], None] | None = None) -> StatKey | None:
        """Make the finished temporary file ``tmp`` the object ``oid`` and return its stat,
        or drop it when the cache has that object already (None). ``check`` may refuse
        first. Either way ``tmp`` does not stay."""
        with _removed_on_error(tmp):
            if has(oid):
                os.unlink(tmp)
                return None
            if check is not None:
                check()
            self.store._ensure_dirs(oid)
            self.store.commit_tmp(tmp, oid)
        return stat_key(os.stat(self.store.path_str(oid)))

    def _copy_in(self, fs: str, linking: bool = False) -> tuple[str, StatKey, StatKey | None]:
        """Copy into the cache; returns (oid, workspace key, object key or None if present).

        A small file is read once and written from memory. A large one is copied inside the
        kernel (``copy_file_range``) to a temporary file while this thread hashes it, so the
        two passes overlap instead of adding up; the copy is dropped if the cache turns out
        to have the object already. Its stat is compared before and after, so a file changed
        meanwhile is never stored under the old oid.
        """
        data, key = read_small(fs)
        has = self._has_sound if linking else self._has  # (the file is to become a link)
        if data is None:
            return self._copy_in_large(fs, key, has)
        oid = hash_bytes(data)
        if has(oid):
            return oid, key, None
        return oid, key, self.store.write(data, oid)

    def _copy_in_large(self, fs: str, before: StatKey, has: Callable[[str], bool]
                       ) -> tuple[str, StatKey, StatKey | None]:
        os.makedirs(self.store.tmp_dir, exist_ok=True)
        tmp = self.store.tmp_path("import")
        hashed: list = []

        def hash_it() -> None:
            try:
                hashed.append(hash_path(fs, metered=False))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                hashed.append(exc)

        # The copy is the longer pass (on ext4: 3.9 s against 0.7 s for 1.4 GB), so it is
        # the one that moves the progress meter, here; the hashing goes beside it.
        hasher = threading.Thread(target=hash_it, name="mlvc-hash-in", daemon=True)
        hasher.start()
        with _removed_on_error(tmp):
            try:
                copy_file(fs, tmp, OBJECT_MODE)
            finally:
                hasher.join()
            if isinstance(hashed[0], BaseException):
                raise hashed[0]
        oid, key = hashed[0]

        def unchanged() -> None:
            if not before == key == stat_key(os.stat(fs)):
                raise CorruptObjectError(oid, f"{fs} changed while it was being stored",
                                         hint="run the command again")

        return oid, key, self._keep(tmp, oid, has, unchanged)

    def _relink(self, f: WsFile, fs: str, oid: str, verified: StatKey | None) -> Imported:
        """Replace the workspace file by a link to its cache object."""
        kind, key = self.linker.place(oid, fs, f.exec)
        nlink = os.lstat(fs).st_nlink if kind == "hardlink" else None
        return Imported(oid, FileState(key, oid, kind), verified, nlink)
