"""Progress reporting without printing.

Long operations take a :class:`Progress`. They open a *phase* with a description and an
optional total, then call the returned ``advance`` function as work gets done. The core
never prints: the default :data:`NULL_PROGRESS` discards everything, and the CLI passes an
implementation that draws tqdm bars on a terminal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Advance = Callable[[int], None]


def _ignore(_n: int = 1) -> None:
    return None


class Progress:
    """Base progress sink: does nothing. Subclass and override :meth:`phase`."""

    @contextmanager
    def phase(self, desc: str, total: int | None = None, unit: str = "file") -> Iterator[Advance]:
        yield _ignore


NULL_PROGRESS = Progress()


class ByteMeter:
    """A bytes bar that moves inside big files, not only once each is done.

    Work on one file runs through :meth:`run`; the long pass over its bytes (hashing it,
    copying it into place) calls :func:`meter` as it goes. When the file is done, whatever
    of its size was not metered (a small file read at once, a reflink) is added, so the bar
    ends at the total. Threads are counted apart, and only a thread inside :meth:`run`
    counts (not a helper thread it started: add's copy beside the hashing). In forked
    workers there is no meter (see :func:`drop_meter`): their files count as they come back.
    """

    def __init__(self, advance: Advance) -> None:
        self._advance = advance
        self._lock = threading.Lock()
        self._local = threading.local()

    def __call__(self, n: int) -> None:
        left = getattr(self._local, "left", None)
        if left is None:
            return  # not a thread doing a file's work
        n = min(n, left)  # (a file that grew counts at the size it was listed at)
        self._local.left = left - n
        with self._lock:
            self._advance(n)

    def run(self, fn: Callable[[Any], Any], item: Any, size: int) -> Any:
        self._local.left = size
        try:
            return fn(item)
        finally:
            rest, self._local.left = self._local.left, None
            if rest > 0:
                with self._lock:
                    self._advance(rest)


_METERS: list[ByteMeter] = []


@contextmanager
def metering(meter_: ByteMeter) -> Iterator[ByteMeter]:
    """Within the block, :func:`meter` reports to ``meter_``."""
    _METERS.append(meter_)
    try:
        yield meter_
    finally:
        _METERS.remove(meter_)


def meter(n: int) -> None:
    """``n`` more bytes of the file in hand were read or copied (nothing without a meter)."""
    if _METERS:
        _METERS[-1](n)


def drop_meter() -> None:
    """In a forked worker: the parent's meter is not this process's to draw."""
    _METERS.clear()
