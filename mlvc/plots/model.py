"""Plots as values: one chart (a Vega-Lite spec holding every revision's rows) or one set of
images (one per revision) for each plot file."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def finite(value):
    """``value`` with NaN and infinities as null: JSON has none (a page's parser, or a
    script's, would refuse the whole document)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Image:
    rev: str
    mime: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Plot:
    id: str  # the plot file's project path
    revs: tuple[str, ...]  # the revisions it has data from
    spec: dict | None = None  # Vega-Lite, for a data file
    images: tuple[Image, ...] = ()  # for an image file

    @property
    def kind(self) -> str:
        return "vega" if self.spec is not None else "image"

    def to_json(self) -> dict:
        doc: dict = {"id": self.id, "type": self.kind, "revisions": list(self.revs)}
        if self.spec is not None:
            doc["spec"] = finite(self.spec)
        else:
            doc["images"] = [{"rev": i.rev, "mime": i.mime, "size": len(i.data)}
                             for i in self.images]
        return doc
