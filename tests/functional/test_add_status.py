"""SPEC 4.1 and 4.2: add, status, and the state DB answering for unchanged files."""

import contextlib
import json
import os
import shutil
import time

from mlvc.workspace.state import RACY_NS
from tests.helpers.spies import RecordedPhases

DATA = {"data": {"a.csv": "x,y\n1,2\n", "sub": {"b.txt": "bee", "deeper": {"c": "sea"}},
                 "empty": {}, "ünïcødé ✓.txt": "unicode"}}


def test_add_writes_pointer_gitignore_and_cache(project):
    project.gen(DATA)
    r = project.run("add", "data")
    assert "Added data (4 files" in r.stdout
    assert "git add data.mlvc .gitignore" in r.stdout
    pointer = project.read("data.mlvc")
    assert "type: dir" in pointer and "nfiles: 4" in pointer and "hash: xxh128" in pointer
    assert project.read(".gitignore").splitlines() == ["/data"]
    objects = list((project.root / ".mlvc/cache/objects").rglob("*"))
    files = [o for o in objects if o.is_file()]
    # 4 file objects + 4 tree manifests (data, sub, deeper, empty)
    assert len(files) == 8
    assert all(oct(o.stat().st_mode & 0o777) == "0o444" for o in files)


def test_add_glob_expands_patterns_from_the_current_folder(project):
    project.gen({"raw": {"a.jpg": "a", "b.txt": "b", "deep": {"c.jpg": "c"}}})
    project.run("add", "--glob", "*.jpg", cwd=project.root / "raw")
    assert (project.root / "raw/a.jpg.mlvc").exists()
    assert not (project.root / "raw/deep/c.jpg.mlvc").exists()  # (* stays in a folder)
    project.run("add", "--glob", "raw/**/*.jpg")
    assert (project.root / "raw/deep/c.jpg.mlvc").exists()
    assert not (project.root / "raw/b.txt.mlvc").exists()
    r = project.run("add", "--glob", "raw/*.png", code=1)
    assert "'raw/*.png' matches no file or folder here" in r.stderr


def settle_timestamps():
    """Wait out the racy window: a file changed within it of being hashed is hashed again."""
    time.sleep(RACY_NS / 1e9 * 2)


def test_add_then_status_is_clean_and_hashes_nothing(project, count_hashes):
    project.gen(DATA)
    settle_timestamps()
    project.run("add", "data")
    count_hashes.clear()
    r = project.run("status")
    assert "up to date" in r.stdout
    assert count_hashes == []
    project.run("status", "-q")


def test_status_shows_edits_deletions_and_additions(project):
    project.gen(DATA)
    project.run("add", "data")
    (project.root / "data/a.csv").write_text("changed")
    (project.root / "data/sub/b.txt").unlink()
    (project.root / "data/new.txt").write_text("new")
    (project.root / "data/empty").rmdir()
    r = project.run("status", "--json")
    doc = json.loads(r.stdout)
    assert doc["clean"] is False
    (out,) = doc["changed"]
    assert out["modified"] == ["data/a.csv"]
    assert out["deleted"] == ["data/empty/", "data/sub/b.txt"]
    assert out["added"] == ["data/new.txt"]
    assert project.run("status", "-q", code=1).stdout == ""
    text = project.run("status").stdout
    assert "modified:" in text and "data/a.csv" in text


def test_only_changed_files_are_rehashed(project, count_hashes):
    project.gen({"data": {f"f{i}.txt": str(i) for i in range(20)}})
    settle_timestamps()
    project.run("add", "data")
    count_hashes.clear()
    (project.root / "data/f3.txt").write_text("changed!")
    settle_timestamps()
    r = project.run("add", "data", "--json")
    assert json.loads(r.stdout)["saved"][0]["hashed"] == 1
    count_hashes.clear()
    (project.root / "data/f4.txt").write_text("changed too")
    settle_timestamps()
    project.run("status")
    assert [os.path.basename(p) for p in count_hashes] == ["f4.txt"]


def test_status_of_a_deleted_output(project):
    project.gen({"model.bin": "weights"})
    project.run("add", "model.bin")
    (project.root / "model.bin").unlink()
    doc = json.loads(project.run("status", "--json").stdout)
    assert doc["changed"][0]["missing"] is True


def test_paths_relative_to_current_folder(project):
    project.gen({"sub": {"data": {"x": "1"}}})
    project.run("add", "data", cwd=project.root / "sub")
    assert (project.root / "sub/data.mlvc").exists()
    assert project.read("sub/.gitignore") == "/data\n"
    project.run("status", "data", cwd=project.root / "sub")


def test_mlvcignore_is_honoured(project):
    project.gen({".mlvcignore": "*.tmp\n", "data": {"keep.csv": "1", "skip.tmp": "2"}})
    project.run("add", "data")
    assert "nfiles: 1" in project.read("data.mlvc")
    (project.root / "data/other.tmp").write_text("3")
    assert "up to date" in project.run("status").stdout


def test_readd_records_new_version(project):
    project.gen({"data": {"a": "1"}})
    project.run("add", "data")
    first = project.read("data.mlvc")
    (project.root / "data/a").write_text("2")
    project.run("commit")
    assert project.read("data.mlvc") != first
    assert "up to date" in project.run("status").stdout


def test_autostage(project):
    project.run("config", "core.autostage", "true")
    project.gen({"m.bin": "w"})
    project.run("add", "m.bin")
    staged = project.git("diff", "--cached", "--name-only").split()
    assert {"m.bin.mlvc", ".gitignore"} <= set(staged)


def test_no_commit_writes_pointer_without_caching(project):
    project.gen({"m.bin": "w"})
    project.run("add", "--no-commit", "m.bin")
    assert (project.root / "m.bin.mlvc").exists()
    doc = json.loads(project.run("status", "--json").stdout)
    assert doc["changed"][0]["not_in_cache"] == ["m.bin"]
    project.run("commit")
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True


def test_commit_of_a_part_of_a_tracked_folder_is_refused(project):
    """`mlvc commit data/s` recorded the whole of data, changes beside data/s included."""
    project.gen({"data": {"s": {"a": "1"}, "t": {"b": "2"}}})
    project.run("add", "data")
    project.gen({"data": {"s": {"a": "edited"}, "t": {"b": "edited too"}}})
    pointer = project.read("data.mlvc")
    r = project.run("commit", "data/s", code=1)
    assert "error: 'data/s' is a part of a tracked folder: commit records whole outputs" \
        in r.stderr
    assert "`mlvc commit data` names all of it" in r.stderr
    r = project.run("commit", "s/a", cwd=project.root / "data", code=1)
    assert "error: 's/a' is a part" in r.stderr and "`mlvc commit .`" in r.stderr
    assert project.read("data.mlvc") == pointer
    project.run("commit", "data")
    modified = json.loads(project.run("status", "--json").stdout)
    assert modified["clean"] is True and project.read("data.mlvc") != pointer


def test_change_within_the_same_timestamp_tick_is_seen(project):
    """The racy-git case: same size, same mtime, new content, right after hashing."""
    project.gen({"data": {"a.csv": "1,2,3"}})
    path = project.root / "data/a.csv"
    # A tick no older than the moment add records the file, however long add takes.
    tick = time.time_ns() + 5 * 10**9
    os.utime(path, ns=(tick, tick))
    project.run("add", "data")
    path.write_text("9,9,9")  # same size…
    os.utime(path, ns=(tick, tick))  # …and the same timestamp tick
    doc = json.loads(project.run("status", "--json").stdout)
    assert doc["changed"][0]["modified"] == ["data/a.csv"]


def test_large_files_are_cached_whole_and_deduplicated(project):
    big = os.urandom(3 * 1024 * 1024 + 5)  # above the small-file limit: the kernel-copy path
    project.gen({"data": {"a.bin": big, "b.bin": big}, "model.bin": big})
    project.run("add", "data", "model.bin")
    from mlvc.objects.oid import hash_bytes

    oid = hash_bytes(big)
    obj = project.root / ".mlvc/cache/objects" / oid[:2] / oid[2:]
    assert obj.read_bytes() == big and oct(obj.stat().st_mode & 0o777) == "0o444"
    assert not list((project.root / ".mlvc/cache/tmp").iterdir())
    (project.root / "data/a.bin").unlink()
    (project.root / "model.bin").unlink()
    project.run("checkout")
    assert (project.root / "data/a.bin").read_bytes() == big
    assert (project.root / "model.bin").read_bytes() == big
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True


def test_add_records_the_listing_that_reading_the_manifests_gives(project):
    """add primes the state DB with the flattened tree, so the next status or checkout need
    not read the manifests: it must be exactly what reading them would give."""
    from mlvc.repo import Repo
    from mlvc.workspace.compare import decode_listing, flatten
    from mlvc.workspace.index import Index

    project.gen(DATA)
    (project.root / "data" / "sub" / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(project.root / "data" / "sub" / "run.sh", 0o755)
    project.run("add", "data")
    repo = Repo(project.root)
    out = Index.load(repo.root, repo.ignore).pointers["data.mlvc"].outs[0]
    primed = repo.state.listing(out.oid)
    assert primed is not None
    assert decode_listing(primed, "data") == flatten(repo.cache, out)
    assert flatten(repo.cache, out).files["data/sub/run.sh"].exec


def test_add_of_many_folders_records_each_manifest_as_verified(project, monkeypatch):
    """From TREE_FORK_MIN manifests on, a forked child writes them while the state DB is
    written: each must be in the cache, with its stat recorded as verified."""
    from mlvc.objects.oid import hash_file
    from mlvc.ops import commit
    from mlvc.repo import Repo
    from mlvc.workspace.compare import decode_listing
    from mlvc.workspace.index import Index

    monkeypatch.setattr(commit, "TREE_FORK_MIN", 8)
    project.gen({"data": {f"d{i}": {"f": str(i)} for i in range(12)}})
    project.run("add", "data")
    repo = Repo(project.root)
    out = Index.load(repo.root, repo.ignore).pointers["data.mlvc"].outs[0]
    listing = decode_listing(repo.state.listing(out.oid), "data")
    assert len(listing.trees) == 13
    records = repo.state.verified_objects(listing.trees)
    assert set(records) == listing.trees
    for oid, key in records.items():
        path = repo.cache.path(oid)
        assert hash_file(path) == oid
        st = os.stat(path)
        assert key == (st.st_ino, st.st_mtime_ns, st.st_size)
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True


def test_add_of_many_folders_marks_them_clean_from_the_child(project, monkeypatch,
                                                             count_hashes):
    """The forked child that writes the manifests also makes the clean mark and the listing:
    both must reach the state DB, and the next status must answer from the mark."""
    import sqlite3

    from mlvc.ops import commit
    from mlvc.repo import Repo
    from mlvc.workspace.compare import decode_listing, flatten
    from mlvc.workspace.index import Index

    monkeypatch.setattr(commit, "TREE_FORK_MIN", 8)
    project.gen({"data": {f"d{i}": {"f": str(i)} for i in range(12)}})
    for i in range(12):
        fs = project.root / f"data/d{i}/f"
        then = fs.stat().st_mtime_ns - 3600 * 10**9
        os.utime(fs, ns=(then, then))
    project.run("add", "data")
    conn = sqlite3.connect(project.root / ".mlvc/tmp/state.db")
    assert [p for (p,) in conn.execute("SELECT path FROM marks")] == ["data"]
    conn.close()
    repo = Repo(project.root)
    out = Index.load(repo.root, repo.ignore).pointers["data.mlvc"].outs[0]
    assert decode_listing(repo.state.listing(out.oid), "data") == flatten(repo.cache, out)
    count_hashes.clear()
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True
    assert count_hashes == []


def test_the_listing_is_encoded_by_the_process_with_less_to_do(project, monkeypatch,
                                                                tmp_path):
    """A first add has a state row and a record per file to write, so the forked child that
    writes the manifests encodes the listing; a re-add of one changed file has next to
    nothing to write, so this process encodes it while the child writes and marks."""
    from mlvc.ops import commit
    from mlvc.repo import Repo
    from mlvc.workspace.compare import decode_listing, flatten
    from mlvc.workspace.index import Index

    monkeypatch.setattr(commit, "TREE_FORK_MIN", 8)
    log = tmp_path / "encoded-by"
    real = commit._listings

    def listings(*args):
        with open(log, "a") as out:  # (a forked child's own memory would not come back)
            out.write(f"{os.getpid()}\n")
        return real(*args)

    monkeypatch.setattr(commit, "_listings", listings)
    project.gen({"data": {f"d{i}": {"f": str(i)} for i in range(12)}})
    settle_timestamps()
    project.run("add", "data")
    (project.root / "data/d3/f").write_text("changed")
    settle_timestamps()
    project.run("add", "data")
    first, second = log.read_text().split()
    assert int(first) != os.getpid() and int(second) == os.getpid()
    repo = Repo(project.root)
    out = Index.load(repo.root, repo.ignore).pointers["data.mlvc"].outs[0]
    assert decode_listing(repo.state.listing(out.oid), "data") == flatten(repo.cache, out)
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True


def test_re_add_of_an_unchanged_folder_keeps_its_listing_and_marks_it(
        project, monkeypatch, count_hashes):
    """A re-add that reads no file checks its objects (by their stat), so it can mark the
    folder clean; it does not encode again the listing the state DB has."""
    from mlvc.ops import commit
    from mlvc.workspace import compare, marks

    monkeypatch.setattr(commit, "TREE_FORK_MIN", 10**9)  # in this process, to count calls
    project.gen({"data": {f"d{i}": {"f": str(i)} for i in range(12)}})
    settle_timestamps()
    project.run("add", "data")
    drop_marks(project)  # else the mark answers first (see the next test)
    calls = []
    for module, name in ((marks, "scan_digest"), (compare, "encode_parts")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name,
                            lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    count_hashes.clear()
    assert "Added data" in project.run("add", "data").stdout
    assert calls == ["scan_digest"] and count_hashes == []
    assert "data" in marks_of(project)
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True
    drop_marks(project)
    # A changed folder is a new tree: its listing is made, and it is marked.
    (project.root / "data/d3/f").write_text("changed")
    settle_timestamps()
    calls.clear()
    project.run("add", "data")
    assert sorted(calls) == ["encode_parts", "scan_digest"]
    assert "data" in marks_of(project)
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True


def marks_of(project) -> set:
    import sqlite3

    with sqlite3.connect(project.root / ".mlvc/tmp/state.db") as conn:
        return {p for (p,) in conn.execute("SELECT path FROM marks")}


def drop_marks(project) -> None:
    import sqlite3

    conn = sqlite3.connect(project.root / ".mlvc/tmp/state.db")
    with conn:
        conn.execute("DELETE FROM marks")
    conn.close()


def test_re_add_of_an_output_clean_by_its_mark_reads_nothing_more(project, monkeypatch,
                                                                   count_hashes):
    from mlvc.ops import commit

    project.gen({"data": {f"d{i}": {"f": str(i)} for i in range(12)}, "one.bin": b"1"})
    settle_timestamps()
    project.run("add", "data", "one.bin")
    stores = []
    real = commit._store
    monkeypatch.setattr(commit, "_store", lambda repo, scanned, **kw: stores.append(
        [p for p, _ in scanned]) or real(repo, scanned, **kw))
    pointer = project.read("data.mlvc")
    count_hashes.clear()
    assert "Added data" in project.run("add", "data", "one.bin").stdout
    assert stores == [] and count_hashes == []
    assert project.read("data.mlvc") == pointer
    # One output changed: only that one goes the whole way, and only its file is read.
    (project.root / "one.bin").unlink()
    (project.root / "one.bin").write_bytes(b"2")
    project.run("add", "data", "one.bin")
    assert stores == [["one.bin"]]
    assert [os.path.basename(p) for p in count_hashes] == ["one.bin"]
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True
    # A cache object gone: the mark no longer holds, and the add stores the object again.
    from mlvc.repo import Repo
    from mlvc.workspace.compare import flatten
    from mlvc.workspace.index import Index

    repo = Repo(project.root)
    out = Index.load(repo.root, repo.ignore).pointers["data.mlvc"].outs[0]
    victim = sorted(flatten(repo.cache, out).objects())[0]
    repo.close()
    os.unlink(repo.cache.path(victim))
    stores.clear()
    project.run("add", "data")
    assert stores == [["data"]]
    assert repo.cache.path(victim).is_file()
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True


def test_a_full_disk_during_add_says_so_with_a_hint_and_writes_no_pointer(project, monkeypatch):
    import errno

    from mlvc.objects.store import ObjectStore

    project.run("config", "cache.type", "copy")
    project.gen({"data": {"a": "one", "b": "two"}})
    before = project.snapshot()

    def full(self, data, oid):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ObjectStore, "write", full)
    r = project.run("add", "data", code=1)
    assert f"error: {os.strerror(errno.ENOSPC)}" in r.stderr
    assert "hint: free some disk space, then run the command again" in r.stderr
    assert "Traceback" not in r.stderr
    after = project.snapshot()
    assert {k: v for k, v in after.items() if not k.startswith(".mlvc/")} == \
        {k: v for k, v in before.items() if not k.startswith(".mlvc/")}
    assert not (project.root / "data.mlvc").exists()


def test_names_with_control_characters_are_shown_quoted(project):
    # A dataset's file names must not drive the terminal (escape sequences) or break lines.
    project.gen({"data": {"a": "1"}})
    project.run("add", "data")
    project.gen({"data": {"new\nline": "2", "\x1b[31mred": "3", "plain é": "4"}})
    out = project.run("status").stdout
    assert "\x1b" not in out
    assert '  added:            "data/new\\nline"\n' in out
    assert '  added:            "data/\\x1b[31mred"\n' in out
    assert "  added:            data/plain é\n" in out
    doc = json.loads(project.run("status", "--json").stdout)
    assert "data/new\nline" in doc["changed"][0]["added"]  # JSON keeps the real name
    err = project.run("add", "gone\x1b[2J", code=1).stderr
    assert "\x1b" not in err and "gone\\x1b[2J" in err


def test_a_file_named_like_a_pattern_is_not_taken_for_the_files_it_matches(project):
    project.gen({"ab": "tracked by git"}, commit="ab in git")
    project.gen({"a*": "data", "[ab]": "mine"})
    r = project.run("add", "a*", "[ab]")
    assert "Added a* (4 B) -> a*.mlvc" in r.stdout
    assert project.read(".gitignore").splitlines() == ["/a\\*", "/\\[ab\\]"]


def test_add_of_many_targets_writes_each_gitignore_once(project, monkeypatch):
    from mlvc.workspace import gitignore

    files = {f"f{i}.pt": f"model {i}" for i in range(300)}
    project.gen({"m": files, "n": {"x.pt": "x"}})
    written = []
    real = gitignore.atomic_write
    monkeypatch.setattr(gitignore, "atomic_write",
                        lambda fs, data: written.append(fs.name) or real(fs, data))
    doc = json.loads(project.run("add", "--json", "n/x.pt", *[f"m/{f}" for f in files]).stdout)
    assert len(doc["saved"]) == 301
    assert written == [".gitignore", ".gitignore"]  # n/ and m/, once each
    assert sorted(project.read("m/.gitignore").splitlines()) == sorted(f"/{f}" for f in files)
    assert doc["git_files"][-2:] == ["n/.gitignore", "m/.gitignore"]
    assert json.loads(project.run("status", "--json").stdout)["clean"]


def test_long_lists_of_added_and_committed_outputs_are_cut_short(project):
    files = {f"f{i:02}.pt": "1234" for i in range(25)}
    project.gen({"m": files})
    lines = project.run("add", *[f"m/{f}" for f in files]).stdout.splitlines()
    assert [x for x in lines if x.startswith("Added m/")] == [
        f"Added m/f{i:02}.pt (4 B) -> m/f{i:02}.pt.mlvc" for i in range(20)]
    assert "Added 5 more outputs (20 B); `--json` lists them all" in lines
    for f in files:
        (project.root / "m" / f).write_text("12345")
    lines = project.run("commit").stdout.splitlines()
    assert len([x for x in lines if x.startswith("Committed m/")]) == 20
    assert "Committed 5 more outputs (25 B); `--json` lists them all" in lines


def test_writing_many_pointer_files_is_a_progress_phase(project):
    from mlvc.ops.add import add
    from mlvc.repo import Repo

    files = {f"f{i}.pt": str(i) for i in range(120)}
    project.gen({"m": files, "few": {"a": "1"}})
    seen = RecordedPhases()
    with Repo.find(project.root) as repo:
        add(repo, [f"m/{f}" for f in files], cwd=project.root, progress=seen)
        assert seen.phases["Writing pointer files"] == [120, 120]
        seen.phases.clear()
        add(repo, ["few/a"], cwd=project.root, progress=seen)  # one: no phase of its own
        assert "Writing pointer files" not in seen.phases


def test_a_folder_of_one_file_is_said_to_hold_one_file(project):
    project.gen({"one": {"a": "1"}, "none": {}})
    assert "Added one (1 file, 1 B) -> one.mlvc" in project.run("add", "one").stdout
    assert "Added none (0 files, 0 B) -> none.mlvc" in project.run("add", "none").stdout


def test_status_of_a_part_that_is_gone_names_that_part(project):
    project.gen(DATA)
    project.run("add", "data")
    (project.root / "data/sub/b.txt").unlink()
    r = project.run("status", "data/sub/b.txt")
    assert "deleted:          data/sub/b.txt" in r.stdout
    assert "deleted:          data\n" not in r.stdout  # not the whole output
    doc = json.loads(project.run("status", "data/sub", "--json").stdout)
    assert doc["changed"][0]["deleted"] == ["data/sub/b.txt"]
    assert "missing" not in doc["changed"][0]
    (project.root / "data/sub/deeper/c").unlink()
    (project.root / "data/sub/deeper").rmdir()
    r = project.run("status", "data/sub")
    assert "data/sub/b.txt" in r.stdout and "data/sub/deeper/c" in r.stdout
    shutil.rmtree(project.root / "data")  # the whole output gone: said in one line
    r = project.run("status")
    assert "deleted:          data\n" in r.stdout


def test_status_of_targets_says_they_are_up_to_date_not_the_pipelines(project):
    """With targets, status does not look at the pipeline: it names what it looked at."""
    project.gen(DATA)
    project.run("add", "data")
    assert project.run("status", "data/sub").stdout == "data/sub is up to date.\n"
    project.gen({"models": {"m.pt": "weights"}})
    project.run("add", "models")
    assert project.run("status", "data", "models").stdout == \
        "data, models are up to date.\n"
    assert project.run("status").stdout == "Data and pipelines are up to date.\n"
    # Many targets (a shell's data/*): counted, not each named.
    many = [f"data/{p.name}" for p in (project.root / "data").iterdir()] * 3
    assert len(many) > 5
    assert project.run("status", *many).stdout == f"All {len(many)} targets are up to date.\n"


def test_a_folder_made_again_under_new_names_leaves_no_rows_of_the_old_files(project):
    import sqlite3

    def rows() -> set[str]:
        with sqlite3.connect(project.root / ".mlvc/tmp/state.db") as conn:
            return {p for (p,) in conn.execute("SELECT path FROM files")}

    project.gen({"data": {"old": {f"f{i}": str(i) for i in range(6)}, "keep": "k"}})
    settle_timestamps()
    project.run("add", "data")
    assert rows() == {"data/keep", *(f"data/old/f{i}" for i in range(6))}
    shutil.rmtree(project.root / "data/old")
    project.gen({"data": {"new": {f"g{i}": str(i) for i in range(3)}}})
    settle_timestamps()
    project.run("add", "data")
    assert rows() == {"data/keep", *(f"data/new/g{i}" for i in range(3))}
    assert project.run("status").stdout.startswith("Data and pipelines are up to date")


def test_a_big_file_moves_a_bytes_bar_while_it_is_added_hashed_and_checked_out(project,
                                                                               monkeypatch):
    from contextlib import contextmanager

    from mlvc import fsutil, parallel
    from mlvc.ops.add import add
    from mlvc.ops.checkout import checkout
    from mlvc.ops.status import status
    from mlvc.progress import Progress
    from mlvc.repo import Repo

    class Phases(Progress):
        def __init__(self):
            self.bytes = {}

        @contextmanager
        def phase(self, desc, total=None, unit="file"):
            if unit != "B":
                yield lambda n=1: None
                return
            self.bytes[desc] = (total, [])
            yield self.bytes[desc][1].append

    monkeypatch.setattr(parallel, "BYTES_BAR_MIN", 1 << 20)
    monkeypatch.setattr(fsutil, "COPY_CHUNK", 1 << 20)
    size = 3 << 20
    big = project.root / "model.bin"
    big.write_bytes(os.urandom(size))
    seen = Phases()
    with Repo.find(project.root) as repo:
        add(repo, ["model.bin"], cwd=project.root, progress=seen)
        big.unlink()
        big.write_bytes(os.urandom(size))  # a new version: status hashes it
        settle_timestamps()
        status(repo, progress=seen)
        big.unlink()
        checkout(repo, force=True, progress=seen)
    # Each pass moved the bar a MiB at a time (the file's own pass: add's copy, status's
    # hashing, checkout's copy), and each bar ends at the file's size.
    for desc in ("Adding", "Hashing", "Checking out"):
        total, advances = seen.bytes[f"{desc} bytes"]
        assert total == size and advances == [1 << 20] * 3, desc


RESTORE = "`mlvc checkout` restores recorded data"
RECORD = "`mlvc commit` records changes"
PULL = "`mlvc pull` gets objects missing"


def test_status_hints_name_only_the_commands_that_would_help(project):
    """A fresh clone before its pull: checkout cannot restore what the cache lacks, and
    commit would record the deletion; only pull helps."""
    project.gen({"a.txt": "a", "b.txt": "b"})
    project.run("add", "a.txt", "b.txt")
    (project.root / "a.txt").write_text("edited")
    text = project.run("status").stdout
    assert f"{RESTORE}; {RECORD}." in text and PULL not in text

    shutil.rmtree(project.root / ".mlvc/cache")
    (project.root / "a.txt").unlink()
    (project.root / "b.txt").unlink()
    text = project.run("status").stdout
    assert "deleted:" in text and "not in cache:" in text
    assert RESTORE not in text and RECORD not in text and PULL in text

    (project.root / "b.txt").write_text("new b")  # commit records it; checkout has nothing
    text = project.run("status").stdout
    assert RECORD in text and RESTORE not in text


def test_status_says_when_mlvcignore_hides_every_pointer_file(project):
    """`data/` added to .mlvcignore after `mlvc add data` hid sub/x.mlvc: status said
    "Nothing is tracked yet"."""
    project.gen({"sub": {"x": "1"}})
    project.run("add", "sub/x")
    project.commit_all("track")
    assert project.run("status").stdout == "Data and pipelines are up to date.\n"
    with open(project.root / ".mlvcignore", "a") as f:
        f.write("sub/\n")
    r = project.run("status")
    assert "Nothing is tracked yet" not in r.stdout
    assert ("warning: 1 pointer file in git that .mlvcignore leaves out, so mlvc passes by: "
            "sub/x.mlvc") in r.stderr
    assert json.loads(project.run("status", "--json").stdout)["hidden_pointers"] == [
        "sub/x.mlvc"]


def test_status_on_a_full_disk_reports_and_says_it_remembered_nothing(project, monkeypatch):
    """A reader: its state DB writes are a cache of hashes; a full disk drops them (with a
    warning) instead of failing the status. Writers still fail on it."""
    import sqlite3

    from mlvc.workspace import state as state_mod

    project.gen({"d": {"a": "1"}})
    project.run("add", "d")
    project.gen({"d": {"a": "2"}})
    real = state_mod.transaction

    def full(conn, lock):
        exc = sqlite3.OperationalError("database or disk is full")
        exc.sqlite_errorname = "SQLITE_FULL"
        raise exc
        yield  # pragma: no cover

    monkeypatch.setattr(state_mod, "transaction", contextlib.contextmanager(full))
    r = project.run("status")
    assert "modified:         d/a" in r.stdout
    assert "warning: could not remember what this status learned" in r.stderr
    assert "database or disk is full" in r.stderr
    assert project.run("add", "d", code=1).stderr.startswith("error: ")
    monkeypatch.setattr(state_mod, "transaction", real)
    assert "modified:         d/a" in project.run("status").stdout
