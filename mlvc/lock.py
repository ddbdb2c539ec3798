"""The repository lock: writers take it, and wait for it (readers never do)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mlvc.errors import LockError

# Descriptors of locks this process holds: a forked worker closes its copies, so that the
# lock is released when this process ends, whatever becomes of the worker.
HELD_FDS: set[int] = set()


@contextmanager
def repo_lock(path: Path, on_wait: Callable[[], None] | None = None,
              timeout: float | None = None) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _refuse_inside_a_stage(fd)
            if on_wait is not None:
                on_wait()
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() > deadline:
                        raise LockError(
                            "another mlvc process holds the repository lock",
                            hint="wait for it to finish; if none is running, try again",
                        ) from None
                    time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        HELD_FDS.add(fd)
        yield
    finally:
        HELD_FDS.discard(fd)
        os.close(fd)


def _refuse_inside_a_stage(fd: int) -> None:
    """A command run by a stage of ``mlvc repro`` (its cmd calls mlvc) would wait for the
    lock that repro holds until repro ends, which waits for the command: refused at once."""
    repro = os.environ.get("MLVC_REPRO_PID")
    if not repro:
        return
    try:
        holder = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return
    if holder == repro:
        stage = os.environ.get("MLVC_STAGE", "?")
        raise LockError(
            f"this command runs inside stage '{stage}' of `mlvc repro` (process {repro}), "
            "which holds the repository lock: it would wait for repro, and repro for it",
            hint="run mlvc commands that change the repository before or after `mlvc repro`, "
                 "not in a stage's cmd (reading ones, such as `mlvc status`, work there)")
