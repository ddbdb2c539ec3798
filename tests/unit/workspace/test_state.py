import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlvc.workspace.state import FileState, StateDB, StatKey


def test_put_and_range_scan(tmp_path):
    db = StateDB(tmp_path / "state.db")
    rows = [(p, FileState(StatKey(i, i * 10, i), f"{i:032x}")) for i, p in enumerate(
        ["data", "data/a", "data/sub/b", "data0", "data-x", "datb", "other"])]
    db.put_files(rows)
    under = db.files_under("data")
    assert sorted(under) == ["data", "data/a", "data/sub/b"]
    assert under["data/a"] == FileState(StatKey(1, 10, 1), f"{1:032x}")
    assert len(db.files_under("")) == 7
    db.delete_files(["data/a"])
    assert sorted(db.files_under("data")) == ["data", "data/sub/b"]
    db.close()
    assert sorted(StateDB(tmp_path / "state.db").files_under("data")) == ["data", "data/sub/b"]


def test_verified_objects(tmp_path):
    db = StateDB(tmp_path / "state.db")
    db.put_objects([("a" * 32, StatKey(1, 2, 3)), ("b" * 32, StatKey(4, 5, 6))])
    assert db.verified_objects(["a" * 32, "c" * 32]) == {"a" * 32: StatKey(1, 2, 3)}


def test_verified_objects_by_scan_and_in_chunks(tmp_path, monkeypatch):
    """Over the lookup limit a table scan answers; under it, keyed lookups in chunks. Same answer."""
    from mlvc.workspace import state

    db = StateDB(tmp_path / "state.db")
    rows = [(f"{i:032x}", StatKey(i, i, i)) for i in range(1200)]
    db.put_objects(rows)
    asked = [f"{i:032x}" for i in range(0, 2400, 2)]  # half of them are not recorded
    expected = {o: k for o, k in rows if o in set(asked)}
    assert db.verified_objects(asked) == expected  # 1200 keys: three chunks of lookups
    monkeypatch.setattr(state, "LOOKUP_LIMIT", 10)
    assert db.verified_objects(asked) == expected  # table scan


def test_objects_by_inode_by_lookup_and_by_scan(tmp_path, monkeypatch):
    """Verified objects are found by their recorded inode, keyed or by a table scan alike;
    inodes with no record are left out."""
    from mlvc.workspace import state

    db = StateDB(tmp_path / "state.db")
    rows = [(f"{i:032x}", StatKey(1000 + i, i * 7, i)) for i in range(1200)]
    db.put_objects(rows)
    asked = list(range(1000, 3400, 2))  # half of them are no object's
    expected = {k: o for o, k in rows if k.inode in set(asked)}
    assert len(expected) == 600
    assert db.objects_by_inode(asked) == expected
    monkeypatch.setattr(state, "LOOKUP_LIMIT", 10)
    assert db.objects_by_inode(iter(asked)) == expected
    assert db.objects_by_inode([]) == {}


def test_objects_by_inode_follows_rewritten_and_reused_records(tmp_path):
    db = StateDB(tmp_path / "state.db")
    db.put_objects([("a" * 32, StatKey(5, 1, 1))])
    db.put_objects([("a" * 32, StatKey(6, 2, 1))])  # the object was verified again, new inode
    assert db.objects_by_inode([5, 6]) == {StatKey(6, 2, 1): "a" * 32}
    # a stale record and a new object on the same (reused) inode: each answers for its stat
    db.put_objects([("b" * 32, StatKey(6, 9, 4))])
    assert db.objects_by_inode([6]) == {StatKey(6, 2, 1): "a" * 32, StatKey(6, 9, 4): "b" * 32}


def test_valid_trees(tmp_path):
    db = StateDB(tmp_path / "state.db")
    db.put_valid_trees(["a" * 32, "b" * 32])
    db.put_valid_trees(["a" * 32])  # again: no error
    assert db.valid_trees(["a" * 32, "c" * 32]) == {"a" * 32}
    assert db.valid_trees([]) == set()


def test_racy_rows_are_not_trusted(tmp_path):
    """A file whose mtime is as new as its row could change again unseen: hash it again."""
    import time

    db = StateDB(tmp_path / "state.db")
    now = time.time_ns()
    db.put_files([("fresh", FileState(StatKey(1, now, 1), "a" * 32)),
                  ("old", FileState(StatKey(2, now - 10**9, 1), "b" * 32))])
    assert sorted(db.files_under("")) == ["old"]


def test_the_last_row_for_a_key_in_one_batch_wins(tmp_path):
    # Rows are written in key order; the order among rows of one key is kept.
    db = StateDB(tmp_path / "state.db")
    db.put_files([("z", FileState(StatKey(1, 1, 1), "1" * 32)),
                  ("a", FileState(StatKey(9, 9, 9), "9" * 32)),
                  ("z", FileState(StatKey(2, 2, 2), "2" * 32)),
                  ("z", FileState(StatKey(0, 0, 0), "0" * 32))])
    assert db.files_under("z")["z"].oid == "0" * 32
    db.put_objects([("b" * 32, StatKey(5, 5, 5)), ("a" * 32, StatKey(1, 1, 1)),
                    ("b" * 32, StatKey(3, 3, 3))])
    assert db.verified_objects(["b" * 32]) == {"b" * 32: StatKey(3, 3, 3)}


def _listings(db: StateDB) -> set[str]:
    return {o for (o,) in db._conn.execute("SELECT oid FROM listings")}


def test_listings_beyond_the_budget_are_dropped_least_recently_used_first(tmp_path,
                                                                          monkeypatch):
    import mlvc.workspace.state as state_mod

    monkeypatch.setattr(state_mod, "LISTINGS_BYTES", 250)
    monkeypatch.setattr(state_mod, "LISTINGS_MIN", 1)
    db = StateDB(tmp_path / "s.db")
    for oid in "abc":
        db.put_listing(oid, oid.encode() * 100)
    assert db.have_listings("abc") == {"b", "c"}  # 300 bytes would be over
    assert db.listing("b") == b"b" * 100  # used now: c is the oldest
    db.put_listing("d", b"d" * 100)
    assert db.have_listings("abcd") == {"b", "d"}
    assert db.listing("a") is None and db.listing("c") is None
    rows = db._conn.execute("SELECT oid, size FROM listings_used").fetchall()
    assert sorted(rows) == [("b+dirs", 100), ("d+dirs", 100)]  # records go with them


def test_the_last_listings_are_kept_whatever_their_size(tmp_path, monkeypatch):
    import mlvc.workspace.state as state_mod

    monkeypatch.setattr(state_mod, "LISTINGS_BYTES", 10)
    monkeypatch.setattr(state_mod, "LISTINGS_MIN", 2)
    db = StateDB(tmp_path / "s.db")
    for oid in "abc":
        db.put_listing(oid, b"x" * 1000)
    assert db.have_listings("abc") == {"b", "c"}


def test_listings_without_a_record_of_use_go_first(tmp_path, monkeypatch):
    """Those of an older mlvc (under the plain oid) or of one that kept no records."""
    import mlvc.workspace.state as state_mod

    monkeypatch.setattr(state_mod, "LISTINGS_BYTES", 250)
    monkeypatch.setattr(state_mod, "LISTINGS_MIN", 1)
    db = StateDB(tmp_path / "s.db")
    db.put_listing("a", b"a" * 100)
    with db._conn:
        db._conn.execute("INSERT INTO listings VALUES ('old', ?)", (b"o" * 100,))
    db.put_listing("b", b"b" * 100)
    assert _listings(db) == {"a+dirs", "b+dirs"}
    db.put_listing("c", b"c" * 100)
    assert _listings(db) == {"b+dirs", "c+dirs"}


def test_a_new_database_gives_back_the_room_of_dropped_listings(tmp_path, monkeypatch):
    import mlvc.workspace.state as state_mod

    monkeypatch.setattr(state_mod, "LISTINGS_BYTES", 1 << 20)
    monkeypatch.setattr(state_mod, "LISTINGS_MIN", 1)
    db = StateDB(tmp_path / "s.db")
    db.put_listing("a", b"a" * (1 << 20))
    pages = db._conn.execute("PRAGMA page_count").fetchone()[0]
    db.put_listing("b", b"b" * 1000)  # a goes
    assert _listings(db) == {"b+dirs"}
    assert db._conn.execute("PRAGMA page_count").fetchone()[0] < pages // 10


def test_mark_oids_gives_each_marks_oid_without_its_objects(tmp_path):
    from mlvc.workspace.state import Mark

    db = StateDB(tmp_path / "state.db")
    db.put_marks([Mark("data", "a" * 32, b"w", ("1" * 32, "2" * 32), b"c"),
                  Mark("data/sub", "b" * 32, b"w", (), b"c")])
    assert db.mark_oids(["data", "data/sub", "other"]) == {"data": "a" * 32,
                                                            "data/sub": "b" * 32}
    assert db.mark_oids([f"x{i}" for i in range(1200)] + ["data"]) == {"data": "a" * 32}
    assert db.marks(["data"])["data"].objects == ("1" * 32, "2" * 32)


def _table_sql(db_path) -> dict[str, str]:
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    finally:
        conn.close()


def test_big_rows_live_in_rowid_tables(tmp_path):
    """A lookup in a WITHOUT ROWID table reads every row its search meets whole: listings
    and marks, rows of megabytes, are rowid tables."""
    StateDB(tmp_path / "state.db").close()
    tables = _table_sql(tmp_path / "state.db")
    assert "WITHOUT ROWID" not in tables["listings"].upper()
    assert "WITHOUT ROWID" not in tables["marks"].upper()
    assert "WITHOUT ROWID" in tables["files"].upper()  # (small rows stay as they were)


def test_a_database_made_before_gets_rowid_tables_keeps_its_marks_and_drops_listings(tmp_path):
    import sqlite3

    from mlvc.workspace.state import Mark

    path = tmp_path / "state.db"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE listings (oid TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE listings_used (
            oid TEXT PRIMARY KEY, used_ns INTEGER NOT NULL, size INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE marks (
            path TEXT PRIMARY KEY, oid TEXT NOT NULL, ws BLOB NOT NULL, objects BLOB NOT NULL,
            cache BLOB NOT NULL
        ) WITHOUT ROWID;
    """)
    key = "t" * 32 + StateDB.LISTING_V2
    old.execute("INSERT INTO listings VALUES (?, ?)", (key, b"x" * 100_000))
    old.execute("INSERT INTO listings_used VALUES (?, 1, 100000)", (key,))
    old.execute("INSERT INTO marks VALUES ('data', ?, ?, ?, ?)",
                ("a" * 32, b"ws", " ".join(["1" * 32, "2" * 32]).encode(), b"cache"))
    old.commit()
    old.close()

    db = StateDB(path)
    assert db.marks(["data"]) == {"data": Mark("data", "a" * 32, b"ws", ("1" * 32, "2" * 32),
                                              b"cache")}
    assert db.listing("t" * 32) is None  # a cache: made again when next needed
    db.put_listing("t" * 32, b"new")
    assert db.listing("t" * 32) == b"new"
    db.close()
    tables = _table_sql(path)
    assert "WITHOUT ROWID" not in tables["listings"].upper() + tables["marks"].upper()
    assert "marks_new" not in tables
    # Opening it again changes nothing; an older mlvc's statements still work.
    db = StateDB(path)
    assert db.listing("t" * 32) == b"new" and set(db.marks(["data"])) == {"data"}
    db.close()
    older = sqlite3.connect(path)
    older.execute("INSERT OR REPLACE INTO listings VALUES (?, ?)", ("plain", b"old form"))
    older.execute("INSERT OR REPLACE INTO marks VALUES ('m', 'o', x'00', x'', x'00')")
    older.commit()
    assert older.execute("SELECT data FROM listings WHERE oid = 'plain'").fetchone() == (
        b"old form",)
    older.close()


def _old_database_with_free_pages(path) -> int:
    """A state DB as an older mlvc left it: no auto-vacuum, most of its pages free (listings
    dropped); its size."""
    import sqlite3

    from mlvc.workspace import state

    old = sqlite3.connect(path)
    old.execute("PRAGMA journal_mode=WAL")
    old.executescript(state._SCHEMA)
    for i in range(8):
        old.execute("INSERT INTO listings VALUES (?, ?)", (f"{i}", os.urandom(200_000)))
    old.commit()
    old.execute("DELETE FROM listings")
    old.commit()
    old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert old.execute("PRAGMA auto_vacuum").fetchone() == (0,)
    old.close()
    return path.stat().st_size


def test_a_database_made_before_auto_vacuum_gives_its_free_pages_back_once(tmp_path):
    import sqlite3

    path = tmp_path / "state.db"
    before = _old_database_with_free_pages(path)
    StateDB(path).close()
    assert path.stat().st_size < before / 4
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # incremental from now on
    conn.close()


def test_the_rewrite_does_not_wait_for_another_writer(tmp_path):
    import sqlite3
    import time

    path = tmp_path / "state.db"
    before = _old_database_with_free_pages(path)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        StateDB(path).close()  # (its own tables exist: it needs no write)
        assert time.monotonic() - started < 5
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert path.stat().st_size >= before  # left for another time…
    StateDB(path).close()
    assert path.stat().st_size < before / 4  # …which came


def _paths(db: StateDB) -> set[str]:
    return {p for (p,) in db._conn.execute("SELECT path FROM files")}


def test_prune_files_drops_the_rows_of_files_gone_below_the_prefix(tmp_path):
    db = StateDB(tmp_path / "state.db")
    key = FileState(StatKey(1, 2, 3), "o" * 32)
    db.put_files([(p, key) for p in ("data", "data/a", "data/b", "data/s/c", "datax/d",
                                     "data-x", "other/e")])
    assert db.prune_files("data", ["data/b", "data/new"]) == 3  # data, data/a, data/s/c
    assert _paths(db) == {"data/b", "datax/d", "data-x", "other/e"}
    # As many rows as files (or fewer): nothing is read, nothing goes.
    assert db.prune_files("other", ["other/f"]) == 0
    assert "other/e" in _paths(db)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.sets(st.sampled_from(["d", "d/a", "d/b", "d/s/c", "d/s/e", "dx", "d-y", "e/f"])),
       present=st.sets(st.sampled_from(["d/a", "d/b", "d/s/c", "d/n", "d/s/m"])))
def test_prune_files_keeps_every_row_of_a_present_file_or_outside_the_prefix(tmp_path, rows,
                                                                             present):
    db = StateDB(tmp_path / "state.db")
    db._conn.execute("DELETE FROM files")
    db.put_files([(p, FileState(StatKey(1, 2, 3), "o" * 32)) for p in rows])
    below = {p for p in rows if p == "d" or p.startswith("d/")}
    gone = db.prune_files("d", present)
    left = _paths(db)
    assert left >= (rows - below) | (rows & present)  # nothing else is touched
    if len(below) > len(present):  # some rows must be stale: all of those go
        assert left == (rows - below) | (rows & present)
    assert gone == len(rows - left)
    db.close()
