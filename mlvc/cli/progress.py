"""tqdm progress bars for the core's progress callbacks (terminal only)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from mlvc.progress import NULL_PROGRESS, Advance, Progress


class TqdmProgress(Progress):
    @contextmanager
    def phase(self, desc: str, total: int | None = None, unit: str = "file") -> Iterator[Advance]:
        from tqdm import tqdm

        scaled = {"unit_scale": True, "unit_divisor": 1024} if unit == "B" else {}
        # A terminal that reports no size (a pseudo-terminal nobody sized: `script`, some
        # container shells) would get no bar at all from tqdm: it gets an 80x24 one.
        size = {} if _sized() else {"ncols": 80, "nrows": 24}
        with tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False,
                  dynamic_ncols=not size, mininterval=0.2, **scaled, **size) as bar:
            yield bar.update


def _sized() -> bool:
    """False when stderr is a terminal that reports 0 columns or 0 rows."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # (no descriptor: a test's fake)
        return True
    return size.columns > 0 and size.lines > 0


def progress_for(quiet: bool) -> Progress:
    """Bars on an interactive terminal; silence under -q and in pipes."""
    if quiet or not sys.stderr.isatty():
        return NULL_PROGRESS
    return TqdmProgress()
