"""tqdm progress bars for the core's progress callbacks (terminal only)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from mlvc.progress import NULL_PROGRESS, Advance, Progress


class TqdmProgress(Progress):
    @contextmanager
    def phase(self, desc: str, total: int | None = None, unit: str = "file") -> Iterator[Advance]:
        from tqdm import tqdm

        scaled = {"unit_scale": True, "unit_divisor": 1024} if unit == "B" else {}
        with tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False,
                  dynamic_ncols=True, mininterval=0.2, **scaled) as bar:
            yield bar.update


def progress_for(quiet: bool) -> Progress:
    """Bars on an interactive terminal; silence under -q and in pipes."""
    if quiet or not sys.stderr.isatty():
        return NULL_PROGRESS
    return TqdmProgress()
