from mlvc.remote.index import RemoteIndex, index_path


def test_index_is_kept_only_under_the_same_epoch(tmp_path):
    path = index_path(tmp_path, "s3://b/x")
    idx = RemoteIndex(path, "s3://b/x")
    assert idx.known(["a" * 32]) == set()  # no epoch yet: knows nothing
    idx.add(["a" * 32])
    assert idx.known(["a" * 32]) == set()  # and learns nothing without an epoch
    assert idx.sync_epoch("e1") is False
    idx.add(["a" * 32, "b" * 32])
    assert idx.known(["a" * 32, "c" * 32]) == {"a" * 32}
    idx.close()

    idx = RemoteIndex(path, "s3://b/x")
    assert idx.sync_epoch("e1") is True
    assert idx.known(["b" * 32]) == {"b" * 32}
    assert idx.sync_epoch("e2") is False  # a gc renewed the epoch: start again
    assert idx.known(["a" * 32, "b" * 32]) == set()
    idx.add(["c" * 32])
    assert idx.sync_epoch(None) is False  # the remote was wiped
    assert idx.known(["c" * 32]) == set()


def test_each_url_has_its_own_index(tmp_path):
    assert index_path(tmp_path, "s3://b/x") != index_path(tmp_path, "s3://b/y")


def test_large_questions_scan(tmp_path, monkeypatch):
    from mlvc.remote import index as index_mod

    idx = RemoteIndex(index_path(tmp_path, "u"), "u")
    idx.sync_epoch("e")
    oids = [f"{i:032x}" for i in range(100)]
    idx.add(oids[::2])
    monkeypatch.setattr(index_mod, "LOOKUP_LIMIT", 10)
    assert idx.known(oids) == set(oids[::2])


def test_complete_folders_are_kept_with_their_counts_and_dropped_with_the_epoch(tmp_path):
    t, u = "1" * 32, "2" * 32
    idx = RemoteIndex(index_path(tmp_path, "u"), "u")
    idx.add_complete({t: 7})
    assert idx.complete([t]) == {}  # no epoch: nothing is recorded
    idx.sync_epoch("e1")
    idx.add_complete({t: 7, u: 1})
    assert idx.complete([t, "3" * 32]) == {t: 7}
    assert idx.complete([t, u]) == {t: 7, u: 1}
    assert idx.known([t, u]) == {t, u}  # a complete folder's manifest is an object it has
    assert idx.sync_epoch("e1") is True and idx.complete([t]) == {t: 7}
    assert idx.sync_epoch("e2") is False  # a gc renewed the epoch
    assert idx.complete([t, u]) == {} and idx.known([t, u]) == set()
