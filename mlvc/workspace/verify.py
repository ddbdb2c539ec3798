"""Checking cache objects before they are trusted.

An object whose (inode, mtime, size) matches the record made when its bytes were last
verified is trusted; any other is re-hashed once and the result recorded. So a corrupted
object is found without rehashing the whole cache on every ``status``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mlvc.objects.oid import hash_file
from mlvc.objects.store import ObjectStore, stat_objects
from mlvc.parallel import PROCESS_MIN_ITEMS, in_background, run_batched
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.workspace.state import StateDB, StatKey, stat_key

CORRUPT = "is corrupt in the cache"  # the problem the Inspector gives a corrupt object


@dataclass(frozen=True, slots=True)
class ObjectCheck:
    missing: frozenset[str]
    corrupt: frozenset[str]
    keys: Mapping[str, StatKey]  # the stat of each object found sound

    @property
    def bad(self) -> frozenset[str]:
        return self.missing | self.corrupt


@dataclass(frozen=True, slots=True)
class Inspector:
    """Checks one object where it is about to be used (in a checkout's workers): the same
    rule as :meth:`ObjectChecker.check`, one object at a time, with no database access."""

    store: ObjectStore
    verified: Mapping[str, StatKey]  # verification records of the objects it may be asked

    def __call__(self, oid: str) -> tuple[StatKey | None, str | None, bool]:
        """``(stat key, None, rehashed)`` for a sound object; ``(None, problem, False)``."""
        path = self.store.path_str(oid)
        try:
            key = stat_key(os.stat(path))
        except FileNotFoundError:
            return None, "is not in the cache", False
        if self.verified.get(oid) == key:
            return key, None, False
        if hash_file(path) != oid:
            return None, CORRUPT, False
        return key, None, True

    def link_verified(self, oid: str, dest: str) -> bool:
        """Hard-link object ``oid`` at ``dest`` if its stat matches its verification record
        and nothing is at ``dest``: two system calls. False, with nothing changed, when the
        general path must decide (no record or a different stat, something in the way, an
        error), which then looks again and reports."""
        src = self.store.path_str(oid)
        try:
            st = os.stat(src)
            if self.verified.get(oid) != (st.st_ino, st.st_mtime_ns, st.st_size):
                return False
            os.link(src, dest)
        except OSError:
            return False
        return True


class ObjectChecker:
    def __init__(self, store: ObjectStore, state: StateDB) -> None:
        self.store = store
        self.state = state

    def inspector(self, oids: Iterable[str]) -> Inspector:
        """An :class:`Inspector` for ``oids``, with their verification records loaded."""
        return Inspector(self.store, self.state.verified_objects(oids))

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
        seen = seen or {}
        keys: dict[str, StatKey] = {}
        to_stat = []
        for oid in oids:
            known = seen.get(oid)
            if known is not None and verified.get(oid) == known:
                keys[oid] = known
            else:
                to_stat.append(oid)
        to_stat.sort()
        stats = stat_objects_split(str(self.store.objects_dir), to_stat)
        missing, suspect = set(), []
        new = tuple.__new__
        for i, oid in enumerate(to_stat):
            if stats[3 * i] is None:
                missing.add(oid)
                continue
            key = new(StatKey, stats[3 * i:3 * i + 3])
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
        self.state.put_corrupt(corrupt)
        return ObjectCheck(frozenset(missing), corrupt, keys)


def stat_objects_split(objects_dir: str, oids: Sequence[str]) -> list[int | None]:
    """:func:`~mlvc.objects.store.stat_objects` of sorted ``oids``; many are split with a
    forked child, so the two halves run on two cores."""
    half = len(oids) // 2 if len(oids) >= PROCESS_MIN_ITEMS else 0
    with in_background(stat_objects, objects_dir, oids[half:], fork=half > 0) as rest:
        keys = stat_objects(objects_dir, oids[:half])
        keys += rest()
    return keys
