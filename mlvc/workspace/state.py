"""The state database: ``.mlvc/tmp/state.db`` (SPEC 2.5).

``files`` maps a workspace path and its (inode, mtime_ns, size) to the oid it had when mlvc
last hashed or placed it, and how mlvc placed it (``link``: the link type, or NULL when mlvc
only hashed a file the user made). A hard link to a verified cache object needs no row: it
has the object's inode and stat, so ``objects`` answers for it (``objects_by_inode``).

A row is trusted only if the file's mtime is older than the row by more than the clock's
granularity (``RACY_NS``), as git does with its index: a file changed again within the same
timestamp tick as it was hashed would otherwise look unchanged. An untrusted ("racy") row
is simply not returned, so the file is hashed once more and its row rewritten. ``objects`` records the stat of cache objects whose bytes
were verified, so a corrupted object is noticed without rehashing the cache every time.
``marks`` are digests of whole outputs found clean (``mlvc.workspace.marks``).
Reads are bulk range scans; writes are batched into one transaction.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from mlvc.paths import RelPath

LOOKUP_LIMIT = 20_000  # above this many keys, scan a table instead of looking each one up
RACY_NS = 20_000_000  # file timestamps come from a coarse clock: up to 10 ms per tick
# Flattened listings kept: the most recently used, up to this many bytes in all (about 3 MB
# for 50,000 files; every commit of a changed folder makes one)…
LISTINGS_BYTES = 64 << 20
LISTINGS_MIN = 4  # …but always this many, whatever their size
BUSY_MS = 30_000  # how long a writer waits for another one
# ``listings`` and ``marks`` hold rows of megabytes (a listing of 50,000 files: 3 MB; a mark's
# objects: 1.6 MB). They are rowid tables, whose key is looked up in an index of its own: in
# a WITHOUT ROWID table the row is the key, and every row that a lookup's binary search
# compares against is read whole from its overflow pages (6 ms per lookup among 22 listings,
# against 0.01 ms). Databases made before are changed over once, when opened (see
# ``_rowid_tables``); the columns are the same, so an older mlvc reads and writes them as
# before.
_BIG_ROWS = {
    "listings": "CREATE TABLE {} (oid TEXT PRIMARY KEY, data BLOB NOT NULL)",
    "marks": "CREATE TABLE {} (path TEXT PRIMARY KEY, oid TEXT NOT NULL, ws BLOB NOT NULL, "
             "objects BLOB NOT NULL, cache BLOB NOT NULL)",
}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, inode INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL, oid TEXT NOT NULL, link TEXT, written_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
    oid TEXT PRIMARY KEY, inode INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_inode ON objects (inode);
CREATE TABLE IF NOT EXISTS valid_trees (oid TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS listings_used (
    oid TEXT PRIMARY KEY, used_ns INTEGER NOT NULL, size INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS corrupt (oid TEXT PRIMARY KEY) WITHOUT ROWID;
""" + "".join(sql.format(f"IF NOT EXISTS {name}") + ";\n" for name, sql in _BIG_ROWS.items())


# Per-file records are NamedTuples, not dataclasses: they are built and compared once per
# file on every status, and tuples are several times cheaper at both.
class StatKey(NamedTuple):
    inode: int
    mtime_ns: int
    size: int


def stat_key(st: os.stat_result) -> StatKey:
    """The (inode, mtime_ns, size) of a stat result, cheaply (no NamedTuple ``__new__``)."""
    return tuple.__new__(StatKey, (st.st_ino, st.st_mtime_ns, st.st_size))


@dataclass(frozen=True, slots=True)
class Mark:
    """How a whole output looked when last found clean (see ``mlvc.workspace.marks``)."""

    path: RelPath  # the output
    oid: str  # its recorded oid then
    ws: bytes  # digest of its scan
    objects: tuple[str, ...]  # the cache objects to stat, sorted
    cache: bytes  # digest of their stat


class FileState(NamedTuple):
    key: StatKey
    oid: str
    link: str | None = None


@contextmanager
def transaction(conn: sqlite3.Connection, lock: threading.Lock) -> Iterator[sqlite3.Connection]:
    """One write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``), rolled back on any error."""
    with lock:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


# SQLite's names for a database that cannot be written now (full disk, read-only, I/O error)
_UNWRITABLE = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")


def _unwritable(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite failed because the database cannot be written now."""
    return (getattr(exc, "sqlite_errorname", "") or "").startswith(_UNWRITABLE)


def select_keys(conn: sqlite3.Connection, sql: str, keys: Iterable[str | int]) -> Iterator[tuple]:
    """Run ``sql`` (with ``IN ({})``) for ``keys``, 500 bound parameters at a time."""
    keys_list = list(keys)
    for start in range(0, len(keys_list), 500):
        chunk = keys_list[start:start + 500]
        yield from conn.execute(sql.format(",".join("?" * len(chunk))), chunk)


def _file_states(rows: Iterable[tuple]) -> dict[RelPath, FileState]:
    """``files`` rows by path. Rows become NamedTuples through ``tuple.__new__``, which
    skips the generated ``__new__`` and is what keeps 50,000 rows cheap."""
    new = tuple.__new__
    return {p: new(FileState, (new(StatKey, (i, m, s)), o, lk)) for p, i, m, s, o, lk in rows}


class StateDB:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, timeout=BUSY_MS / 1000, check_same_thread=False,
                                     isolation_level=None)
        self._lock = threading.Lock()
        self._used: dict[str, tuple[int, int]] = {}  # listings read: (when, size), unwritten
        # Commands that only read the data (status, diff…) set ``best_effort``: what they
        # would remember (hashes, marks) is then dropped, not an error, when the database
        # cannot be written (a full disk, a read-only .mlvc/tmp); ``unsaved`` says why.
        self.best_effort = False
        self.unsaved: str | None = None
        # (A new database takes it at once: pages freed by dropping listings go back to the
        # file system. An older one takes it when rewritten: see _vacuum_once.)
        try:
            self._conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            self._rowid_tables()
            self._vacuum_once()
        except sqlite3.OperationalError as exc:
            # A database made before that cannot be written now (a full disk) can still be
            # read: readers go on (see best_effort), and the first write fails as it would.
            if not _unwritable(exc) or not self._has_schema():
                raise
            self.unsaved = str(exc)

    def _has_schema(self) -> bool:
        try:
            names = {n for (n,) in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.Error:
            return False
        return {"files", "objects", "marks", "listings"} <= names

    def _without_rowid(self) -> list[str]:
        return [name for name, sql in self._conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)",
            tuple(_BIG_ROWS)) if "WITHOUT ROWID" in sql.upper()]

    def _rowid_tables(self) -> None:
        """Make ``listings`` and ``marks`` of a database made before rowid tables (see
        ``_BIG_ROWS``), once. Listings are a cache of what manifests give: they are dropped
        (each is made again when next needed). Marks are copied over."""
        if not self._without_rowid():
            return
        with transaction(self._conn, self._lock) as conn:
            for name in self._without_rowid():  # (again: another process may have done it)
                if name == "listings":
                    conn.execute("DROP TABLE listings")
                    conn.execute(_BIG_ROWS[name].format(name))
                    conn.execute("DELETE FROM listings_used")
                else:
                    conn.execute(_BIG_ROWS[name].format(f"{name}_new"))
                    conn.execute(f"INSERT INTO {name}_new SELECT * FROM {name}")
                    conn.execute(f"DROP TABLE {name}")
                    conn.execute(f"ALTER TABLE {name}_new RENAME TO {name}")

    def _vacuum_once(self) -> None:
        """Rewrite (``VACUUM``) a database made before incremental auto-vacuum, once a
        quarter of its pages or more are free (listings dropped): it gives them back, and
        from then on the pages of every listing dropped (134 MB -> 42 MB for one that had
        kept every listing). Only a saving: when another process is writing, it is not
        waited for, and any failure leaves it for another time."""
        conn = self._conn
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 0:
            return
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        if 4 * free < conn.execute("PRAGMA page_count").fetchone()[0]:
            return
        with self._lock:
            conn.execute("PRAGMA busy_timeout = 0")
            try:
                conn.execute("VACUUM")  # (takes the auto_vacuum mode set when opened)
            except sqlite3.Error:
                pass
            finally:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")

    def _in_transaction(self, work: Callable[[sqlite3.Connection], object]) -> object:
        """``work(conn)`` in one :func:`transaction`; with ``best_effort``, a database that
        cannot be written is left as it was (None returned) and why noted in ``unsaved``."""
        try:
            with transaction(self._conn, self._lock) as conn:
                return work(conn)
        except sqlite3.OperationalError as exc:
            if not (self.best_effort and _unwritable(exc)):
                raise
            self.unsaved = str(exc)
            return None

    def close(self) -> None:
        if self._used:
            try:
                with transaction(self._conn, self._lock) as conn:
                    self._write_used(conn)
            except sqlite3.Error:
                pass  # (a record of use only orders which listings are dropped first)
        self._conn.close()

    # -- files -----------------------------------------------------------------------------
    # Rows whose file was not changed again within a clock tick of being recorded.
    _TRUSTED_FILES = ("SELECT path, inode, mtime_ns, size, oid, link FROM files "
                      f"WHERE mtime_ns < written_ns - {RACY_NS}")

    def files_under(self, prefix: RelPath) -> dict[RelPath, FileState]:
        """Every recorded path equal to ``prefix`` or below it, in one range scan."""
        if not prefix:
            return _file_states(self._conn.execute(self._TRUSTED_FILES))
        # '/' is 0x2f and '0' is 0x30: [prefix + '/', prefix + '0') is everything below.
        return _file_states(self._conn.execute(
            self._TRUSTED_FILES + " AND (path = ? OR (path >= ? AND path < ?))",
            (prefix, prefix + "/", prefix + "0")))

    def files_at(self, paths: Iterable[RelPath]) -> dict[RelPath, FileState]:
        """The trusted rows of ``paths`` (see ``files_under``), looked up one by one: for a
        few files of a big output, cheaper than a range scan of all its rows."""
        return _file_states(select_keys(self._conn, self._TRUSTED_FILES + " AND path IN ({})",
                                        set(paths)))

    def put_files(self, rows: Iterable[tuple[RelPath, FileState]]) -> None:
        # Keys may be StatKeys or plain (inode, mtime, size) tuples: index, don't name.
        now = time.time_ns()
        self._insert("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                     [(p, f[0][0], f[0][1], f[0][2], f[1], f[2], now) for p, f in rows])

    def delete_files(self, paths: Iterable[RelPath]) -> None:
        self._write("DELETE FROM files WHERE path = ?", [(p,) for p in paths])

    def prune_files(self, prefix: RelPath, present: Collection[RelPath]) -> int:
        """Drop the rows at or below ``prefix`` whose path is not in ``present`` (the files a
        scan of ``prefix`` just listed): files deleted or renamed since they were recorded,
        which nothing would look up again. Returns how many.

        The rows are counted first (50,000: ~7 ms) and read only when they outnumber the
        files: then some must be stale. (A hard-linked file has no row, so a few stale rows
        can wait beside hard links; they never grow in number, as hard links write none.)
        """
        where, args = ("1", ()) if not prefix else (
            "path = ? OR (path >= ? AND path < ?)", (prefix, prefix + "/", prefix + "0"))
        (count,) = self._conn.execute(f"SELECT count(*) FROM files WHERE {where}",
                                      args).fetchone()
        if count <= len(present):
            return 0
        keep = present if isinstance(present, (set, frozenset, dict)) else set(present)
        gone = [(p,) for (p,) in self._conn.execute(f"SELECT path FROM files WHERE {where}",
                                                   args) if p not in keep]
        self._write("DELETE FROM files WHERE path = ?", gone)
        return len(gone)

    # -- verified cache objects ------------------------------------------------------------
    def verified_objects(self, oids: Iterable[str]) -> dict[str, StatKey]:
        """Verification records of ``oids`` (those that have one)."""
        new = tuple.__new__
        return {o: new(StatKey, (i, m, s)) for o, i, m, s in self._object_rows("oid", oids)}

    def objects_by_inode(self, inodes: Iterable[int]) -> dict[StatKey, str]:
        """The verified objects whose recorded inode is one of ``inodes``, by their stat key.

        A workspace file whose (inode, mtime, size) is a verified object's is a hard link to
        it, unchanged since it was verified: its oid is the object's. (Keyed by the whole
        stat, a stale record whose inode was reused cannot hide the current one.)
        """
        new = tuple.__new__
        return {new(StatKey, (i, m, s)): o for o, i, m, s in self._object_rows("inode", inodes)}

    def _object_rows(self, column: str, keys: Iterable[str | int]) -> Iterator[tuple]:
        """``(oid, inode, mtime_ns, size)`` of the objects whose ``column`` is in ``keys``.

        A few keys are looked up by index; for many, one scan of the table is cheaper than
        thousands of lookups. Either way the cost follows the question, not the cache size,
        except when the question covers a large part of the cache anyway.
        """
        wanted = set(keys)
        sql = "SELECT oid, inode, mtime_ns, size FROM objects"
        if len(wanted) <= LOOKUP_LIMIT:
            yield from select_keys(self._conn, f"{sql} WHERE {column} IN ({{}})", wanted)
            return
        at = 0 if column == "oid" else 1
        yield from (row for row in self._conn.execute(sql) if row[at] in wanted)

    def put_objects(self, rows: Iterable[tuple[str, StatKey]]) -> None:
        self._insert("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)",
                     [(o, k[0], k[1], k[2]) for o, k in rows])

    # -- cache objects found corrupt (re-hashed, bytes not matching the oid) -----------------
    def put_corrupt(self, oids: Iterable[str]) -> None:
        self._insert("INSERT OR IGNORE INTO corrupt VALUES (?)", [(o,) for o in oids])

    def corrupt_objects(self) -> set[str]:
        """Objects found corrupt when last checked: ``fetch`` checks them again and
        downloads the ones still bad; ``add`` stores their bytes again. A row may be stale
        (the object was replaced since), which costs only that check or that write."""
        return {o for (o,) in self._conn.execute("SELECT oid FROM corrupt")}

    def clear_corrupt(self, oids: Iterable[str]) -> None:
        self._write("DELETE FROM corrupt WHERE oid = ?", [(o,) for o in oids])

    def forget_objects(self, oids: Iterable[str]) -> None:
        """Drop what is known of cache objects just deleted (``gc``): their verification
        records and corrupt marks, and the listings of those that were folders."""
        rows = [(o,) for o in oids]
        with transaction(self._conn, self._lock) as conn:
            conn.executemany("DELETE FROM objects WHERE oid = ?", rows)
            conn.executemany("DELETE FROM corrupt WHERE oid = ?", rows)
            conn.executemany("DELETE FROM listings WHERE oid = ?",
                             [(o + self.LISTING_V2,) for (o,) in rows])
            conn.executemany("DELETE FROM listings_used WHERE oid = ?",
                             [(o + self.LISTING_V2,) for (o,) in rows])

    # -- tree manifests whose shape was validated once (their oid fixes their bytes) ---------
    def valid_trees(self, oids: Iterable[str]) -> set[str]:
        """Which of ``oids`` are manifests that passed validation before."""
        sql = "SELECT oid FROM valid_trees WHERE oid IN ({})"
        return {o for (o,) in select_keys(self._conn, sql, set(oids))}

    def put_valid_trees(self, oids: Iterable[str]) -> None:
        self._write("INSERT OR IGNORE INTO valid_trees VALUES (?)", [(o,) for o in oids])

    # -- flattened listings of whole trees, keyed by the tree's oid (so never stale) ---------
    # Listings that hold the folders' tree oids are kept under the tree's oid plus this: an
    # older mlvc, which reads only the plain oid and would not decode them, never sees them.
    LISTING_V2 = "+dirs"

    def listing(self, oid: str) -> bytes | None:
        """The listing of tree ``oid`` (of the newer form: one of an older mlvc, without the
        folders' oids, is made again), remembered as just used (written with the next
        listing kept, or on :meth:`close`: one write for all the listings read)."""
        key = oid + self.LISTING_V2
        row = self._conn.execute("SELECT data FROM listings WHERE oid = ?", (key,)).fetchone()
        if row is None:
            return None
        self._used[key] = (time.time_ns(), len(row[0]))
        return row[0]

    def have_listings(self, oids: Iterable[str]) -> set[str]:
        """Which of the trees ``oids`` have a listing of the newer form."""
        sql = "SELECT oid FROM listings WHERE oid IN ({})"
        cut = len(self.LISTING_V2)
        return {o[:-cut] for (o,) in select_keys(self._conn, sql,
                                                 {o + self.LISTING_V2 for o in oids})}

    def put_listing(self, oid: str, data: bytes) -> None:
        """Keep the listing of tree ``oid`` (in the newer form, with its folders' oids), and
        drop the least recently used beyond ``LISTINGS_BYTES`` (see :meth:`_prune_listings`).
        """
        key = oid + self.LISTING_V2
        self._used[key] = (time.time_ns(), len(data))
        def work(conn: sqlite3.Connection) -> int:
            conn.execute("INSERT OR REPLACE INTO listings VALUES (?, ?)", (key, data))
            self._write_used(conn)
            return self._prune_listings(conn)

        dropped = self._in_transaction(work)
        if dropped:
            # (sqlite3_exec runs it to the end; a cursor would free one page per call)
            with self._lock:
                self._conn.executescript("PRAGMA incremental_vacuum;")

    def _write_used(self, conn: sqlite3.Connection) -> None:
        conn.executemany("INSERT OR REPLACE INTO listings_used VALUES (?, ?, ?)",
                         [(key, when, size) for key, (when, size) in self._used.items()])
        self._used.clear()

    @staticmethod
    def _prune_listings(conn: sqlite3.Connection) -> bool:
        """Drop listings, least recently used first, until those left hold at most
        ``LISTINGS_BYTES`` (but keep ``LISTINGS_MIN``); whether any was. One without a record
        of its use (of an older mlvc, or of one before records were kept) counts as used long
        ago."""
        rows = conn.execute(
            "SELECT l.oid, COALESCE(u.used_ns, 0), COALESCE(u.size, length(l.data)) "
            "FROM listings AS l LEFT JOIN listings_used AS u ON u.oid = l.oid").fetchall()
        rows.sort(key=itemgetter(1), reverse=True)
        total, gone = 0, []
        for n, (key, _used, size) in enumerate(rows):
            total += size
            if n >= LISTINGS_MIN and total > LISTINGS_BYTES:
                gone.append((key,))
        conn.executemany("DELETE FROM listings WHERE oid = ?", gone)
        conn.executemany("DELETE FROM listings_used WHERE oid = ?", gone)
        return bool(gone)

    # -- clean marks of whole outputs (mlvc.workspace.marks) ----------------------------------
    def marks(self, paths: Iterable[RelPath]) -> dict[RelPath, Mark]:
        """The marks of those ``paths`` that have one."""
        sql = "SELECT path, oid, ws, objects, cache FROM marks WHERE path IN ({})"
        return {p: Mark(p, o, ws, tuple(objs.decode().split()), cache)
                for p, o, ws, objs, cache in select_keys(self._conn, sql, set(paths))}

    def mark_oids(self, paths: Iterable[RelPath]) -> dict[RelPath, str]:
        """The recorded oid of each mark of ``paths`` (its objects are not read: for a big
        output they are most of the mark)."""
        sql = "SELECT path, oid FROM marks WHERE path IN ({})"
        return dict(select_keys(self._conn, sql, set(paths)))

    def put_marks(self, marks: Iterable[Mark]) -> None:
        self._write("INSERT OR REPLACE INTO marks VALUES (?, ?, ?, ?, ?)",
                    [(m.path, m.oid, m.ws, " ".join(m.objects).encode(), m.cache) for m in marks])

    def prune_marks(self, kept: Mapping[RelPath, Collection[RelPath]]) -> None:
        """For each output path, drop the marks below it that are not among its ``kept``
        (chunks that are no more: a folder renamed, a run whose first file changed)."""
        gone = []
        for path, keep in kept.items():
            below = self._conn.execute("SELECT path FROM marks WHERE path >= ? AND path < ?",
                                       (path + "/", path + "0")).fetchall()
            gone += [(p,) for (p,) in below if p not in keep]
        self._write("DELETE FROM marks WHERE path = ?", gone)

    def delete_marks(self, paths: Iterable[RelPath]) -> None:
        """Drop the marks of ``paths`` and of the folders below them (``marks.chunks``)."""
        self._write("DELETE FROM marks WHERE path = ? OR (path >= ? AND path < ?)",
                    [(p, p + "/", p + "0") for p in paths])

    def _insert(self, sql: str, data: list[tuple]) -> None:
        """``_write`` of rows keyed by their first column, in key order: the B-tree then
        grows at one edge instead of splitting pages all over (50,000 paths in scan order:
        0.30-0.38 s; sorted: 0.17-0.18 s). The sort is stable, so the last row for a key
        still wins."""
        data.sort(key=itemgetter(0))
        self._write(sql, data)

    def _write(self, sql: str, data: list[tuple]) -> None:
        """Run ``sql`` for every row of ``data`` in one transaction (none when empty)."""
        if not data:
            return
        self._in_transaction(lambda conn: conn.executemany(sql, data))
