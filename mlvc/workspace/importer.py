"""Hashing workspace files into the cache, reading each file once.

The import method follows ``cache.type``: ``reflink`` clones the file into the cache,
``hardlink`` makes the workspace file itself the (read-only) cache object, ``copy`` writes a
copy while hashing, and ``symlink`` copies then replaces the workspace file with a link.
A method the filesystem refuses is dropped for the rest of the run.
"""

from __future__ import annotations

import errno
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import xxhash

from mlvc.objects.oid import CHUNK_SIZE, hash_bytes
from mlvc.objects.store import OBJECT_MODE, ObjectStore
from mlvc.paths import to_fs
from mlvc.workspace.links import SHARED_TYPES, SMALL_FILE, Linker, reflink
from mlvc.workspace.scan import WsFile, stat_key
from mlvc.workspace.state import FileState, StatKey

_UNSUPPORTED = {errno.EXDEV, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOTTY,
                errno.EPERM, errno.ENOSYS, errno.EMLINK}


@dataclass(frozen=True, slots=True)
class Imported:
    oid: str
    state: FileState  # the workspace file's new state row
    verified: StatKey | None  # stat of a cache object just written


class Importer:
    def __init__(self, root: Path, store: ObjectStore, linker: Linker, *, save: bool) -> None:
        self.root = root
        self.store = store
        self.linker = linker
        self.save = save
        self._refused: set[str] = set()
        self._lock = threading.Lock()

    def _methods(self, executable: bool) -> list[str]:
        methods = []
        for kind in self.linker.order:
            if kind in self._refused or (executable and kind in SHARED_TYPES):
                continue
            methods.append(kind)
        return methods or ["copy"]

    def run(self, f: WsFile) -> Imported:
        fs = to_fs(self.root, f.path)
        methods = self._methods(f.exec)
        method = methods[0]
        if not self.save:
            oid, key = _hash(fs)
            return Imported(oid, FileState(key, oid, f.link), None)
        if method in ("copy", "symlink"):
            oid, key, verified = self._copy_in(fs)
            if method == "symlink":
                return self._relink(f, fs, oid, verified)
            return Imported(oid, FileState(key, oid), verified)
        oid, key = _hash(fs)
        if self.store.exists(oid):
            if method == "hardlink":
                return self._relink(f, fs, oid, None)
            return Imported(oid, FileState(key, oid), None)
        try:
            if method == "hardlink":
                self.store.add_file_link(fs, oid)
                st = stat_key(os.stat(fs))
                return Imported(oid, FileState(st, oid, "hardlink"), st)
            tmp = self.store.tmp_path(oid)
            os.makedirs(self.store.tmp_dir, exist_ok=True)
            reflink(fs, tmp, OBJECT_MODE)
            self.store._ensure_dirs(oid)
            self.store.commit_tmp(tmp, oid)
            return Imported(oid, FileState(key, oid), stat_key(os.stat(self.store.path(oid))))
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED:
                raise
            with self._lock:
                self._refused.add(method)
            return self.run(f)

    def _copy_in(self, fs: Path) -> tuple[str, StatKey, StatKey | None]:
        """Copy into the cache while hashing; returns (oid, workspace key, object key)."""
        with open(fs, "rb", buffering=0) as fin:
            key = stat_key(os.fstat(fin.fileno()))
            if key.size <= SMALL_FILE:
                data = fin.read()
                oid = hash_bytes(data)
                if self.store.exists(oid):
                    return oid, key, None
                self.store.add_bytes(data, oid)
                return oid, key, stat_key(os.stat(self.store.path(oid)))
        oid = self.store.add_file_copy(fs)
        return oid, key, stat_key(os.stat(self.store.path(oid)))

    def _relink(self, f: WsFile, fs: Path, oid: str, verified: StatKey | None) -> Imported:
        """Replace the workspace file by a link to its cache object."""
        kind = self.linker.place(oid, fs, f.exec)
        st = stat_key(os.stat(fs))
        return Imported(oid, FileState(st, oid, kind), verified)


def _hash(fs: Path) -> tuple[str, StatKey]:
    with open(fs, "rb", buffering=0) as fin:
        key = stat_key(os.fstat(fin.fileno()))
        if key.size <= SMALL_FILE:
            return hash_bytes(fin.read()), key
        hasher = xxhash.xxh3_128()
        while chunk := fin.read(CHUNK_SIZE):
            hasher.update(chunk)
        return hasher.hexdigest(), key
