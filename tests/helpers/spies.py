"""Spies on the state DB, for tests that check what a command looked up; and a progress
sink that records the phases a command opened."""

from __future__ import annotations

from contextlib import contextmanager

from mlvc.progress import Progress
from mlvc.workspace.state import StateDB


def asked_records(monkeypatch) -> set:
    """The oids whose verification records are read from now on."""
    asked: set = set()
    real = StateDB.verified_objects

    def spy(self, oids):
        oids = set(oids)
        asked.update(oids)
        return real(self, oids)

    monkeypatch.setattr(StateDB, "verified_objects", spy)
    return asked


class RecordedPhases(Progress):
    """A progress sink that remembers each phase: ``phases[desc] = [total, advanced]``,
    and ``order``, the descriptions as phases opened."""

    def __init__(self) -> None:
        self.phases: dict[str, list] = {}
        self.order: list[str] = []

    @contextmanager
    def phase(self, desc, total=None, unit="file"):
        self.phases[desc] = counts = [total, 0]
        self.order.append(desc)

        def advance(n: int = 1) -> None:
            counts[1] += n

        yield advance
