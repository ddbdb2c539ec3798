"""Plots as values: one chart (a Vega-Lite spec holding every revision's rows) or one set of
images (one per revision) for each plot file."""

from __future__ import annotations

from dataclasses import dataclass, field


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
            doc["spec"] = self.spec
        else:
            doc["images"] = [{"rev": i.rev, "mime": i.mime, "size": len(i.data)}
                             for i in self.images]
        return doc
