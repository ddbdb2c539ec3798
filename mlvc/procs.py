"""Commands that one mlvc operation starts (a pipeline's stages, a queue's runs), and how a
stop reaches them.

Where a signal lands depends on where mlvc runs. On a terminal, in the foreground, Ctrl-C
(and Ctrl-Z, and a hang-up) goes to the terminal's whole process group: mlvc and every
command it started in that group, which can also read the terminal. Everywhere else (no
terminal, in the background, a CI job, an IDE's stop button, ``docker stop``, ``kill``) a
signal goes to mlvc alone, and commands in its group never hear of it: mlvc waits for them
to end by themselves. So :class:`Commands` can start each command in a process group of
its own and pass a stop on to those groups; and SIGTERM, which nothing sends to a whole
group, is passed on to commands in mlvc's group too (to each one's process tree).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess


# Set by a parent that signals this process's whole process group (``queue start`` for its
# runs: Ctrl-C, then SIGKILL after a grace): commands then stay in that group, to go with it.
SIGNALLED_BY_GROUP = "MLVC_SIGNALLED_BY_GROUP"


def own_groups_here() -> bool:
    """Whether commands started now should run in process groups of their own: unless a
    terminal (mlvc in its foreground) or a parent (``SIGNALLED_BY_GROUP``) signals this
    process's whole group, which then reaches them as it is."""
    return not (in_terminal_foreground() or os.environ.get(SIGNALLED_BY_GROUP) == "1")


class Terminated(KeyboardInterrupt):
    """SIGTERM reached mlvc: it stops as on Ctrl-C (cleaning up, exit code 143)."""


def raise_terminated(signum: int, frame: object) -> None:
    """The CLI's SIGTERM handler."""
    raise Terminated


def in_terminal_foreground() -> bool:
    """Whether this process is in the foreground process group of its terminal (so that a
    Ctrl-C typed there reaches the commands it starts in its group as well)."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp():
                return True
        except OSError:
            continue
    return False


def signal_group(pgid: int | None, sig: int) -> None:
    if pgid is not None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def signal_tree(pid: int, sig: int) -> None:
    """Send ``sig`` to ``pid`` and, where /proc tells them, to its descendants (a shell
    that got a signal while starting its command may hold it back from that command)."""
    for target in [pid, *descendants(pid)]:
        try:
            os.kill(target, sig)
        except (ProcessLookupError, PermissionError):
            pass


def descendants(pid: int) -> list[int]:
    """The processes below ``pid``, parents before children (none where /proc is not)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid …: comm may hold spaces and parentheses
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(0), ()):
            found.append(child)
            todo.append(child)
    return found


class Commands:
    """The commands one operation has going. Once :meth:`stop` is called none starts, and
    the signal is passed on to those running where they cannot have had it (see the module's
    docstring): with ``own_groups`` each runs in a process group of its own, and gets every
    stop; otherwise they share this process's group, and get SIGTERM (a Ctrl-C reached them
    from the terminal)."""

    def __init__(self, own_groups: bool, new_session: bool = False) -> None:
        self.own_groups = own_groups or new_session
        self.new_session = new_session  # (off the terminal: a hang-up there does not reach it)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen] = set()

    def popen(self, cmd, **kwargs) -> subprocess.Popen | None:
        """Start ``cmd`` (as :class:`subprocess.Popen`), or None once stopping."""
        import subprocess

        with self._lock:
            if self.stopping.is_set():
                return None
            if self.new_session:
                kwargs["start_new_session"] = True
            elif self.own_groups:
                if sys.version_info >= (3, 11):
                    kwargs["process_group"] = 0  # (still on the terminal, if there is one)
                else:  # pragma: no cover - Python 3.10
                    kwargs["start_new_session"] = True
            proc = subprocess.Popen(cmd, **kwargs)  # noqa: S603
            self._procs.add(proc)
            return proc

    def done(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.discard(proc)

    def stop(self, sig: int | None = signal.SIGINT) -> None:
        """No command starts from now on; ``sig`` (None: none) is passed on to those going
        on that cannot have had it."""
        with self._lock:
            self.stopping.set()
            if sig is not None and (self.own_groups or sig != signal.SIGINT):
                self._signal(sig)

    def kill(self) -> None:
        with self._lock:
            self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        for proc in self._procs:
            if self.own_groups:
                signal_group(proc.pid, sig)
            elif proc.poll() is None:
                signal_tree(proc.pid, sig)
