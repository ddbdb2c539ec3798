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
