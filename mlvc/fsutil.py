"""Small filesystem helpers: atomic writes of small files, and new files that appear whole."""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from mlvc.progress import meter

COPY_CHUNK = 1 << 26  # bytes per copy_file_range call: the progress meter moves this often
WRITE_MANY_MIN = 16  # from this many files, atomic_write_many uses threads
WRITE_MANY_THREADS = 8
_TMP_NUMBERS = itertools.count()  # temporary names are never reused, even by a reused pid


def atomic_write(path: Path, data: str | bytes, mode: int = 0o666) -> None:
    """Write a file so that readers see the old or the new content, never a mix: its bytes
    are on disk before it has its name (see :class:`NewFile`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_whole(path, data, mode)


def atomic_write_many(items: Sequence[tuple[Path, str | bytes]], mode: int = 0o666,
                      advance: Callable[[int], None] | None = None) -> None:
    """:func:`atomic_write` of each ``(path, data)``, for many small files at once (``mlvc
    add`` of 10,000 targets writes 10,000 pointer files).

    From ``WRITE_MANY_MIN`` files, threads overlap the ``fsync`` waits: 10,000 pointers in
    a folder of 10,000 files took 2.2 s instead of 4.1-4.5 s. The first failure is raised
    once the files already started are done; on Ctrl-C the ones not started are left
    alone. ``advance(1)`` is called as each file is written.
    """
    advance = advance or (lambda n: None)
    for folder in {p.parent for p, _ in items}:
        folder.mkdir(parents=True, exist_ok=True)
    if len(items) < WRITE_MANY_MIN:
        for path, data in items:
            _write_whole(path, data, mode)
            advance(1)
        return
    from mlvc.parallel import threaded

    failed = []
    for _, result in threaded(items, lambda item: _write_whole(*item, mode),
                              WRITE_MANY_THREADS):
        if isinstance(result, BaseException):
            failed.append(result)
        else:
            advance(1)
    if failed:
        raise failed[0]


NAME_MAX = 255  # bytes in one file name (Linux filesystems)


def tmp_name(folder: str, name: str) -> str:
    """A temporary name in ``folder`` for a file to be named ``name``: hidden, marked as
    mlvc's (see ``scan.is_leftover``) and never reused. A long ``name`` is cut so that the
    temporary name still fits in ``NAME_MAX`` bytes: a file whose own name is 250 bytes
    long must still be placeable."""
    suffix = f".mlvc-tmp.{os.getpid()}.{next(_TMP_NUMBERS)}"
    room = NAME_MAX - 1 - len(suffix)
    raw = os.fsencode(name)
    if len(raw) > room:
        name = os.fsdecode(raw[:room])  # (a cut UTF-8 sequence stays as its bytes)
    return f"{folder}/.{name}{suffix}"


def _write_whole(path: Path, data: str | bytes, mode: int) -> None:
    """Write ``path`` through a :class:`NewFile` in its (existing) folder, synced to disk
    before it is published: unnamed where the filesystem allows, so one name is made
    instead of a temporary one renamed."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    folder = str(path.parent)
    tmp = tmp_name(folder, path.name)
    with NewFile(folder, tmp, mode) as new:
        write_all(new.fd, raw)
        os.fsync(new.fd)
        new.publish(str(path))


def rmtree(path: Path | str) -> None:
    """Delete a folder and everything in it, read-only files (hard-linked cache objects)
    and folders (of a cache) included."""
    import shutil

    def writable(func, p, _exc):
        os.chmod(os.path.dirname(p), 0o755)
        if not os.path.islink(p):
            os.chmod(p, 0o755 if os.path.isdir(p) else 0o644)
        func(p)

    shutil.rmtree(path, onerror=writable)


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write all of ``data`` to ``fd`` (``os.write`` may write less than it was given)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def copy_fd(src: int, dst: int, size: int) -> None:
    """Copy ``size`` bytes from ``src`` to ``dst``, both at offset 0: in the kernel
    (``copy_file_range``) where it can, else through memory. The bytes go to the progress
    meter as they are copied (``mlvc.progress.meter``), 64 MiB at a time."""
    copied = 0
    try:
        while copied < size:
            n = os.copy_file_range(src, dst, min(size - copied, COPY_CHUNK))
            if n == 0:
                break
            copied += n
            meter(n)
        if copied == size:
            return
    except (AttributeError, OSError):
        pass
    os.lseek(src, copied, os.SEEK_SET)
    os.lseek(dst, copied, os.SEEK_SET)
    while chunk := os.read(src, 1 << 20):
        write_all(dst, chunk)
        meter(len(chunk))


_PROC_FD: list[int] = []  # a descriptor of /proc, opened once (forked children share it)
_PROC_LOCK = threading.Lock()
_UNNAMED: dict[str, bool] = {}  # folder -> whether unnamed files can be made and linked there
_UNNAMED_ON: dict[int, bool] = {}  # filesystem (st_dev) -> the answer its first folder gave


def _link_fd(fd: int, dst: str) -> None:
    """Give the open file ``fd`` the name ``dst`` (linkat through /proc/self/fd)."""
    if not _PROC_FD:
        with _PROC_LOCK:
            if not _PROC_FD:
                _PROC_FD.append(os.open("/proc", os.O_RDONLY | os.O_DIRECTORY))
    os.link(f"self/fd/{fd}", dst, src_dir_fd=_PROC_FD[0], follow_symlinks=True)


def unnamed_files_work(folder: str) -> bool:
    """Whether :class:`NewFile` can start unnamed files in ``folder``: tried once per
    filesystem (pointer files of 5,000 targets may lie in 5,000 folders)."""
    ok = _UNNAMED.get(folder)
    if ok is None:
        try:
            device: int | None = os.stat(folder).st_dev
        except OSError:
            device = None
        ok = _UNNAMED_ON.get(device) if device is not None else None
        if ok is None:
            ok = _probe_unnamed(folder)
            if device is not None:
                _UNNAMED_ON[device] = ok
        _UNNAMED[folder] = ok
    return ok


def _probe_unnamed(folder: str) -> bool:
    """Make an unnamed file in ``folder``, link it into place, and delete it again."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not sys.platform.startswith("linux"):
        return False
    try:
        fd = os.open(folder, os.O_WRONLY | flag, 0o600)
    except OSError:
        return False
    probe = f"{folder}/.mlvc-probe.{os.getpid()}.{os.urandom(4).hex()}"
    try:
        _link_fd(fd, probe)
        os.unlink(probe)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


class NewFile:
    """A file that appears under its final name only once it is whole.

    Where the filesystem allows (Linux, O_TMPFILE), the file starts without a name in
    ``folder`` and is linked into place: no temporary name, nothing left behind if the
    process dies, and no rename (the kernel serialises renames between folders across the
    whole filesystem, so many writers renaming out of one temporary folder queue up).
    Elsewhere it is written under ``tmp`` and renamed into place. ``fd`` is open for writing
    inside the ``with`` block; call :meth:`publish` before leaving it, or nothing is kept.
    """

    def __init__(self, folder: str, tmp: str, mode: int) -> None:
        self.tmp = tmp
        self._named = not unnamed_files_work(folder)
        if self._named:
            self.fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        else:
            self.fd = os.open(folder, os.O_WRONLY | os.O_TMPFILE, mode)
        self._done = False

    def __enter__(self) -> NewFile:
        return self

    def publish(self, final: str) -> None:
        """Put the file at ``final``, replacing what is there."""
        if self._named:
            os.replace(self.tmp, final)
        else:
            try:
                _link_fd(self.fd, final)
            except FileExistsError:  # replace it: a name first, then an atomic rename
                _link_fd(self.fd, self.tmp)
                self._named = True
                os.replace(self.tmp, final)
        self._done = True

    def __exit__(self, *exc) -> None:
        os.close(self.fd)
        if self._named and not self._done:
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass
