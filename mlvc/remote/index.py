"""What a remote is known to have, kept locally so that a push of nothing new is nearly free.

The index only ever says "the remote has this object" (learned from an upload or a listing),
never "it lacks it". It also keeps, for folder manifests, how many objects the whole folder
holds: a manifest reaches a remote only after everything below it, so a manifest the remote
has stands for its complete folder, and a push need not look below it at all. Objects can
leave a remote only through ``gc``, and ``gc`` first writes a new *epoch* token to the remote.
The index remembers the epoch it was built under and is dropped whole as soon as the remote's
token differs, or is gone (a wiped remote). So a stale index costs one small read per command,
not a wrong answer. Objects deleted by hand, without a new epoch, stay in the index until
``status -c``, which asks the remote about every object, finds them gone (``forget``).

One SQLite file per remote URL, under ``.mlvc/tmp/remotes/``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

import xxhash

from mlvc.workspace.state import LOOKUP_LIMIT, select_keys, transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (oid TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trees (oid TEXT PRIMARY KEY, objects INTEGER NOT NULL) WITHOUT ROWID;
"""


def index_path(tmp_dir: Path, url: str) -> Path:
    return tmp_dir / "remotes" / f"{xxhash.xxh3_64_hexdigest(url.encode())}.db"


class RemoteIndex:
    def __init__(self, path: Path, url: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, timeout=30, check_same_thread=False,
                                     isolation_level=None)
        self._lock = threading.Lock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self.url = url

    def close(self) -> None:
        self._conn.close()

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def sync_epoch(self, epoch: str | None) -> bool:
        """Keep the index only if it was built under the remote's current ``epoch``.

        Returns whether the old contents were kept. ``None`` (the remote has no epoch) empties
        the index and keeps it empty until an epoch exists.
        """
        current = self._meta("epoch")
        if epoch is not None and current == epoch and self._meta("url") == self.url:
            return True
        with transaction(self._conn, self._lock) as conn:
            conn.execute("DELETE FROM objects")
            conn.execute("DELETE FROM trees")
            conn.execute("DELETE FROM meta")
            if epoch is not None:
                conn.executemany("INSERT INTO meta VALUES (?, ?)",
                                 [("epoch", epoch), ("url", self.url)])
        return False

    @property
    def usable(self) -> bool:
        return self._meta("epoch") is not None

    def known(self, oids: Iterable[str]) -> set[str]:
        """Which of ``oids`` the remote is known to have."""
        if not self.usable:
            return set()
        wanted = set(oids)
        if len(wanted) > LOOKUP_LIMIT:
            return {o for (o,) in self._conn.execute("SELECT oid FROM objects") if o in wanted}
        return {o for (o,) in select_keys(self._conn, "SELECT oid FROM objects WHERE oid IN ({})",
                                          wanted)}

    def add(self, oids: Iterable[str]) -> None:
        self._insert("INSERT OR IGNORE INTO objects VALUES (?)", [(o,) for o in oids])

    def complete(self, trees: Iterable[str]) -> dict[str, int]:
        """Of these folder manifests, those the remote has, each with how many objects its
        folder holds (the manifest, and every file and manifest below it)."""
        if not self.usable:
            return {}
        return dict(select_keys(self._conn, "SELECT oid, objects FROM trees WHERE oid IN ({})",
                                set(trees)))

    def add_complete(self, counts: dict[str, int]) -> None:
        """Record manifests the remote has, with the object count of each one's folder."""
        self._insert("INSERT OR REPLACE INTO trees VALUES (?, ?)", list(counts.items()))
        self.add(counts)

    def forget(self, oids: Iterable[str], trees: Iterable[str]) -> None:
        """The remote was asked and lacks ``oids`` (deleted by hand, without a new epoch):
        drop them, and the folder counts of ``trees`` (those that may hold them), so the
        next push asks again and looks inside those folders."""
        gone = [(o,) for o in oids]
        if not gone or not self.usable:
            return
        with transaction(self._conn, self._lock) as conn:
            conn.executemany("DELETE FROM objects WHERE oid = ?", gone)
            conn.executemany("DELETE FROM trees WHERE oid = ?", [(t,) for t in trees])

    def _insert(self, sql: str, data: list[tuple]) -> None:
        if not data or not self.usable:
            return
        with transaction(self._conn, self._lock) as conn:
            conn.executemany(sql, data)
