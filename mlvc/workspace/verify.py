"""Checking cache objects before they are trusted.

An object whose (inode, mtime, size) matches the record made when its bytes were last
verified is trusted; any other is re-hashed once and the result recorded. So a corrupted
object is found without rehashing the whole cache on every ``status``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mlvc.objects.oid import hash_file
from mlvc.objects.store import ObjectStore
from mlvc.parallel import run_batched
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.workspace.state import StateDB, StatKey, stat_key


@dataclass(frozen=True, slots=True)
class ObjectCheck:
    missing: frozenset[str]
    corrupt: frozenset[str]
    keys: Mapping[str, StatKey]  # the stat of each object found sound

    @property
    def bad(self) -> frozenset[str]:
        return self.missing | self.corrupt


class ObjectChecker:
    def __init__(self, store: ObjectStore, state: StateDB) -> None:
        self.store = store
        self.state = state

    def record(self, rows: Iterable[tuple[str, StatKey]]) -> None:
        self.state.put_objects(list(rows))

    def check(self, oids: Iterable[str], jobs: int = 8, progress: Progress = NULL_PROGRESS,
              seen: dict[str, StatKey] | None = None) -> ObjectCheck:
        """Find missing and corrupt objects among ``oids``.

        ``seen`` maps oids to a stat already taken of the very same inode (a workspace file
        hard-linked to its object): when it matches the verified record, no stat is needed.
        """
        oids = set(oids)
        verified = self.state.verified_objects(oids)
        base = str(self.store.objects_dir)
        missing, suspect = set(), []
        seen = seen or {}
        keys: dict[str, StatKey] = {}
        # One stat per object in a plain loop: cheaper than a thread pool for stat calls.
        for oid in oids:
            known = seen.get(oid)
            if known is not None and verified.get(oid) == known:
                keys[oid] = known
                continue
            try:
                st = os.stat(f"{base}/{oid[:2]}/{oid[2:]}")
            except FileNotFoundError:
                missing.add(oid)
                continue
            key = stat_key(st)
            if verified.get(oid) != key:
                suspect.append((oid, key))
            else:
                keys[oid] = key

        def rehash(item: tuple[str, StatKey]) -> bool:
            return hash_file(self.store.path(item[0])) == item[0]

        results = run_batched(suspect, rehash, jobs, progress, "Verifying cache", unit="obj")
        sound = [item for item, ok in zip(suspect, results) if ok]
        self.record(sound)
        keys.update(sound)
        corrupt = frozenset(item[0] for item, ok in zip(suspect, results) if not ok)
        return ObjectCheck(frozenset(missing), corrupt, keys)
