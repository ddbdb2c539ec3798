"""Progress reporting without printing.

Long operations take a :class:`Progress`. They open a *phase* with a description and an
optional total, then call the returned ``advance`` function as work gets done. The core
never prints: the default :data:`NULL_PROGRESS` discards everything, and the CLI passes an
implementation that draws tqdm bars on a terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

Advance = Callable[[int], None]


def _ignore(_n: int = 1) -> None:
    return None


class Progress:
    """Base progress sink: does nothing. Subclass and override :meth:`phase`."""

    @contextmanager
    def phase(self, desc: str, total: int | None = None, unit: str = "file") -> Iterator[Advance]:
        yield _ignore


NULL_PROGRESS = Progress()
