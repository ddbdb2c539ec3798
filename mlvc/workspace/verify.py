"""Checking cache objects before they are trusted.

An object whose (inode, mtime, size) matches the record made when its bytes were last
verified is trusted; any other is re-hashed once and the result recorded. So a corrupted
object is found without rehashing the whole cache on every ``status``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from mlvc.objects.oid import hash_file
from mlvc.objects.store import ObjectStore
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.workspace.scan import run_batched, stat_key
from mlvc.workspace.state import StateDB, StatKey


@dataclass(frozen=True, slots=True)
class ObjectCheck:
    missing: frozenset[str]
    corrupt: frozenset[str]

    @property
    def bad(self) -> frozenset[str]:
        return self.missing | self.corrupt


class ObjectChecker:
    def __init__(self, store: ObjectStore, state: StateDB) -> None:
        self.store = store
        self.state = state
        self._verified: dict[str, StatKey] | None = None

    @property
    def verified(self) -> dict[str, StatKey]:
        if self._verified is None:
            self._verified = self.state.verified_objects()
        return self._verified

    def record(self, rows: Iterable[tuple[str, StatKey]]) -> None:
        rows = list(rows)
        self.state.put_objects(rows)
        self.verified.update(rows)

    def check(self, oids: Iterable[str], jobs: int = 8,
              progress: Progress = NULL_PROGRESS) -> ObjectCheck:
        verified = self.verified
        unique = sorted(set(oids))

        def one(oid: str) -> tuple[str, str, StatKey | None]:
            try:
                key = stat_key(os.stat(self.store.path(oid)))
            except FileNotFoundError:
                return oid, "missing", None
            if verified.get(oid) == key:
                return oid, "ok", None
            return oid, ("ok" if hash_file(self.store.path(oid)) == oid else "corrupt"), key

        results = run_batched(unique, one, jobs, progress, "Checking cache", unit="obj")
        self.record((oid, key) for oid, status, key in results if status == "ok" and key)
        return ObjectCheck(
            frozenset(o for o, s, _ in results if s == "missing"),
            frozenset(o for o, s, _ in results if s == "corrupt"),
        )
