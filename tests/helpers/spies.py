"""Spies on the state DB, for tests that check what a command looked up."""

from __future__ import annotations

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
