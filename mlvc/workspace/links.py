"""Placing cache objects into the workspace: reflink, hardlink, symlink or copy.

Link types are tried in the configured order and fall back per file. A type that the
filesystem does not support at all is remembered and not tried again. Hardlinks and symlinks
share the read-only cache object, so they cannot carry an exec bit: executable files fall
back to the next type. Every placement goes through a temporary name in the destination
folder and an atomic rename, so a killed checkout never leaves a half-written file.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import threading
from pathlib import Path

from mlvc.errors import ConfigError
from mlvc.fsutil import copy_fd, tmp_name, write_all
from mlvc.objects.store import ObjectStore
from mlvc.workspace.state import StatKey, stat_key

LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")
DEFAULT_LINK_TYPES = ("reflink", "copy")
SHARED_TYPES = frozenset({"hardlink", "symlink"})  # the workspace file *is* the cache object
FICLONE = 0x40049409
SMALL_FILE = 1 << 20
_UNSUPPORTED = {errno.EXDEV, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOTTY,
                errno.EPERM, errno.ENOSYS}
NO_LINK_TYPE = "no link type in cache.type works between the cache and this folder"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _umask()


def file_mode(executable: bool) -> int:
    return (0o777 if executable else 0o666) & ~UMASK


def validate_link_types(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):  # YAML's flow form: [hardlink, copy]
            text = text[1:-1]
        items = text.split(",") if text.strip() else []
    else:
        items = value
    if not isinstance(items, (list, tuple)) or not items:
        raise ConfigError(f"cache.type must be a list of link types, got {value!r}",
                          hint=f"choose from {', '.join(LINK_TYPES)}, e.g. 'hardlink,copy'")
    out = []
    for item in items:
        item = str(item).strip()
        if item not in LINK_TYPES:
            raise ConfigError(f"unknown link type {item!r} in cache.type",
                              hint=f"choose from {', '.join(LINK_TYPES)}")
        out.append(item)
    return tuple(out)


def tmp_sibling(dest: str | Path) -> str:
    """A temporary name next to ``dest`` (the scanner recognises and skips such names)."""
    folder, name = os.path.split(dest)
    return tmp_name(folder, name)


def reflink(src: str | Path, dst: str | Path, mode: int) -> StatKey:
    """Clone ``src`` as a new file ``dst`` (sharing its blocks); return ``src``'s stat key
    as it was just before."""
    if not sys.platform.startswith("linux"):
        raise OSError(errno.ENOTSUP, "reflink is only implemented on Linux")
    import fcntl

    with open(src, "rb") as fin:
        key = stat_key(os.fstat(fin.fileno()))
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            fcntl.ioctl(fd, FICLONE, fin.fileno())
        except BaseException:
            os.close(fd)
            os.unlink(dst)
            raise
        os.close(fd)
    return key


def copy_file(src: str | Path, dst: str | Path, mode: int) -> StatKey:
    """Copy ``src`` to a new file ``dst``; return the new file's (inode, mtime, size)."""
    sfd = os.open(src, os.O_RDONLY)
    try:
        size = os.fstat(sfd).st_size
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            if size <= SMALL_FILE:
                write_all(fd, os.read(sfd, size + 1))
            else:
                copy_fd(sfd, fd, size)
            st = os.fstat(fd)
        except BaseException:
            os.close(fd)
            os.unlink(dst)
            raise
        os.close(fd)
    finally:
        os.close(sfd)
    return stat_key(st)


class Linker:
    """Places objects of one store with the configured link types (thread-safe)."""

    def __init__(self, store: ObjectStore, order: tuple[str, ...]) -> None:
        self.store = store
        self.order = order
        self._unsupported: dict[str, str] = {}  # link type -> why the filesystem refused it
        self._lock = threading.Lock()

    def first_choice(self) -> str | None:
        """The link type tried first for a file that is not executable."""
        return next((k for k in self.order if k not in self._unsupported), None)

    def ruled_out(self, kind: str) -> bool:
        """Whether ``kind`` was found unsupported here (it is not tried again)."""
        return kind in self._unsupported

    def place(self, oid: str, dest: str | Path, executable: bool,
              known: StatKey | None = None, *, replace: bool = True) -> tuple[str, StatKey]:
        """Put object ``oid`` at ``dest`` (replacing what is there atomically).

        Returns the link type used and the (inode, mtime, size) that ``os.stat(dest)`` gives.
        ``known`` is the object's own stat, when the caller has just taken it: a hard link
        is the same inode, so its stat is not taken again. Without ``replace``, something
        found at ``dest`` stays and ``FileExistsError`` is raised (a path that was free when
        the caller looked may not be by now).
        """
        src = self.store.path_str(oid)
        last_error: OSError | None = None
        kinds = [k for k in self.order
                 if k not in self._unsupported and not (executable and k in SHARED_TYPES)]
        fallback = not kinds and executable and SHARED_TYPES.issuperset(self.order)
        if fallback:  # only shared link types are configured and the file is executable
            kinds = ["copy"]
        elif not kinds:  # every configured type was refused here: never another (copy)
            raise self._none_works()
        for kind in kinds:
            if kind in SHARED_TYPES:
                # A link appears whole in one step, so where nothing is in the way it is made
                # under its final name; else it replaces the old file through a rename.
                try:
                    return kind, self._make(kind, src, str(dest), executable, known)
                except FileExistsError:
                    if not replace:
                        raise
                except OSError as exc:
                    if exc.errno == errno.EMLINK:
                        # This object has all the names a file can have (65,000 on ext4:
                        # many files of the same bytes, empty ones say). Hard links still
                        # work for other objects; this file is copied.
                        last_error = exc
                        if "copy" not in kinds:
                            kinds.append("copy")
                        continue
                    if exc.errno in _UNSUPPORTED:
                        last_error = exc
                        self._rule_out(kind, exc)
                        continue
                    if not os.path.exists(src):
                        raise FileNotFoundError(errno.ENOENT,
                                                f"object {oid} is not in the cache", src) from None
                    raise
            tmp = tmp_sibling(dest)
            try:
                key = self._make(kind, src, tmp, executable, known)
            except FileNotFoundError as exc:
                if not os.path.exists(src):
                    raise FileNotFoundError(errno.ENOENT, f"object {oid} is not in the cache",
                                            src) from None
                raise exc
            except OSError as exc:
                last_error = exc
                if exc.errno == errno.EMLINK and "copy" not in kinds:
                    kinds.append("copy")  # (see above)
                elif exc.errno in _UNSUPPORTED:
                    self._rule_out(kind, exc)
                continue
            try:
                if not replace and os.path.lexists(dest):
                    raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dest))
                os.replace(tmp, dest)
                if kind == "hardlink" and os.path.lexists(tmp):
                    # ``dest`` was this object already, and a rename between two names of
                    # one file does nothing (POSIX): the temporary name stayed behind.
                    os.unlink(tmp)
            except BaseException:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
                raise
            return kind, key
        assert last_error is not None
        if not fallback and all(k in self._unsupported or (executable and k in SHARED_TYPES)
                                for k in self.order):
            raise self._none_works()
        raise last_error

    def _rule_out(self, kind: str, exc: OSError) -> None:
        with self._lock:
            self._unsupported[kind] = exc.strerror or str(exc)

    def _none_works(self) -> OSError:
        """The error for a file when the filesystem refused every configured link type: it
        is not placed (never by a type that is not configured, such as copy)."""
        why = "; ".join(f"{k}: {self._unsupported.get(k, 'not for an executable file')}"
                        for k in self.order)
        return OSError(errno.EOPNOTSUPP, f"{NO_LINK_TYPE} ({why})")

    @staticmethod
    def _make(kind: str, src: str, tmp: str, executable: bool,
              known: StatKey | None = None) -> StatKey:
        """Make ``tmp`` from ``src``; return its stat key (``known``: ``src``'s, if taken)."""
        if kind == "copy":
            return copy_file(src, tmp, file_mode(executable))
        if kind == "reflink":
            reflink(src, tmp, file_mode(executable))
        elif kind == "hardlink":
            os.link(src, tmp)
            if known is not None:  # the same inode: its stat was just taken
                return known
        elif kind == "symlink":
            os.symlink(os.path.abspath(src), tmp)
        else:  # pragma: no cover - validated in config
            raise ValueError(kind)
        st = os.stat(tmp)
        return stat_key(st)


def unprotect_file(path: Path) -> bool:
    """Turn a hardlink or symlink to the cache into a private, writable copy (same mtime).

    Returns True when something changed.
    """
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or st.st_nlink > 1:
        real = os.path.realpath(path)
        src = os.stat(real)
        tmp = tmp_sibling(path)
        copy_file(real, tmp, file_mode(bool(src.st_mode & 0o111)))
        # Same bytes, same mtime: the copy's state row is trusted at once (no racy window).
        os.utime(tmp, ns=(src.st_atime_ns, src.st_mtime_ns))
        os.replace(tmp, path)
        return True
    if not st.st_mode & stat.S_IWUSR:
        os.chmod(path, st.st_mode | (0o666 & ~UMASK))
        return True
    return False


def probe_link_types(src_dir: Path, dst_dir: Path) -> dict[str, bool]:
    """Which link types work between two folders (used by ``doctor``)."""
    import tempfile

    results: dict[str, bool] = {}
    src_dir.mkdir(parents=True, exist_ok=True)
    fd, src_name = tempfile.mkstemp(dir=src_dir, prefix=".mlvc-probe-")
    os.write(fd, b"probe")
    os.close(fd)
    src = Path(src_name)
    try:
        for kind in LINK_TYPES:
            dst = str(dst_dir / f".mlvc-probe-{kind}-{os.getpid()}")
            try:
                Linker._make(kind, str(src), dst, False)
                results[kind] = True
            except OSError:
                results[kind] = False
            finally:
                if os.path.lexists(dst):
                    os.unlink(dst)
    finally:
        os.unlink(src)
    return results
