"""SPEC 4.2 and 4.3: checkout restores, keeps unsaved work, and travels with git."""

import json
import os
import shutil
import stat

import pytest

from mlvc.workspace.state import StatKey
from tests.conftest import snapshot

V1 = {"data": {"a.csv": "v1-a", "gone.csv": "only in v1", "sub": {"b": "v1-b"},
               "empty1": {}, "run.sh": "#!/bin/sh\n"}}


def test_checkout_restores_deleted_and_edited_files(project):
    project.gen(V1)
    os.chmod(project.root / "data/run.sh", 0o755)
    project.run("add", "data")
    before = snapshot(project.root / "data")
    (project.root / "data/a.csv").unlink()
    (project.root / "data/sub/b").write_text("edited")
    r = project.run("checkout", code=1)  # the edit is unsaved: kept, reported
    assert "Kept 1 file with unsaved changes:\n  data/sub/b\n" in r.stderr
    assert project.read("data/a.csv") == "v1-a"
    assert project.read("data/sub/b") == "edited"
    project.run("checkout", "--force")
    assert snapshot(project.root / "data") == before
    assert "Nothing to do" in project.run("checkout").stdout


def test_a_long_list_of_kept_files_says_how_many_it_leaves_out(project):
    project.gen({"data": {f"f{n:02}": str(n) for n in range(25)}})
    project.run("add", "data")
    project.gen({"data": {f"f{n:02}": f"mine {n}" for n in range(25)}})
    r = project.run("checkout", code=1)
    assert "Kept 25 files with unsaved changes:" in r.stderr
    assert "  data/f19\n  … and 5 more; `--json` lists them all\n" in r.stderr
    assert "data/f20" not in r.stderr
    assert len(json.loads(project.run("checkout", "--json", code=1).stdout)["conflicts"]) == 25


def test_recorded_files_that_mlvcignore_leaves_out_now_are_named_and_left_alone(project):
    """A rule added after the data was recorded: status said "deleted" for files that were
    there, and checkout failed on each with "something was made there during the
    checkout" (and reported their folder as made)."""
    project.gen({"data": {"a": "1", "x.tmp": "t", "cache": {"c": "c"}}})
    project.run("add", "data")
    project.gen({".mlvcignore": "*.tmp\ncache/\n"})
    (project.root / "data/x.tmp").chmod(0o644)
    (project.root / "data/x.tmp").write_text("mine")  # (ignored: not looked at)
    out = project.run("status").stdout
    assert "  ignored now:      data/cache/c\n  ignored now:      data/x.tmp\n" in out
    assert "deleted" not in out and "`mlvc commit` records the outputs without them" in out
    doc = json.loads(project.run("status", "--json").stdout)
    assert doc["changed"][0]["ignored"] == ["data/cache/c", "data/x.tmp"]
    assert "deleted" not in doc["changed"][0]
    for args in (["checkout"], ["checkout", "--force"]):
        r = project.run(*args)
        assert r.stdout == ""
        assert "warning: data/x.tmp: left alone: .mlvcignore leaves it out now" in r.stderr
    assert project.read("data/x.tmp") == "mine"
    doc = json.loads(project.run("checkout", "--json").stdout)
    assert doc["ignored"] == ["data/cache/c", "data/x.tmp"] and doc["failed"] == []
    assert doc["dirs_made"] == []
    # Gone from disk, a recorded file is put back (status then names it again).
    (project.root / "data/x.tmp").unlink()
    project.run("checkout")
    assert project.read("data/x.tmp") == "t"
    project.run("commit")  # recorded without them
    assert json.loads(project.run("status", "--json").stdout)["clean"] is True


def test_unsaved_edit_is_reported_not_overwritten(project):
    project.gen(V1)
    project.run("add", "data")
    (project.root / "data/a.csv").write_text("my unsaved work")
    (project.root / "data/notes.txt").write_text("mine")
    r = project.run("checkout", "--json", code=1)
    doc = json.loads(r.stdout)
    assert doc["conflicts"] == ["data/a.csv", "data/notes.txt"]
    assert "Kept 2 files with unsaved changes:" in project.run("checkout", code=1).stderr
    assert project.read("data/a.csv") == "my unsaved work"
    assert project.read("data/notes.txt") == "mine"


def test_git_checkout_then_mlvc_checkout_travels_in_time(project):
    project.gen(V1)
    os.chmod(project.root / "data/run.sh", 0o755)
    project.run("add", "data")
    project.commit_all("v1")
    v1 = snapshot(project.root / "data")

    (project.root / "data/gone.csv").unlink()
    (project.root / "data/empty1").rmdir()
    project.gen({"data": {"a.csv": "v2-a", "new": {"c": "v2-c"}, "empty2": {}}})
    os.chmod(project.root / "data/run.sh", 0o644)
    project.run("add", "data")
    project.commit_all("v2")
    v2 = snapshot(project.root / "data")
    assert v1 != v2

    project.git("checkout", "-q", "HEAD~1")
    r = project.run("checkout", "--json")
    doc = json.loads(r.stdout)
    assert "data/gone.csv" in doc["added"] and "data/new/c" in doc["deleted"]
    assert snapshot(project.root / "data") == v1
    assert os.stat(project.root / "data/run.sh").st_mode & stat.S_IXUSR

    project.git("checkout", "-q", "main")
    project.run("checkout")
    assert snapshot(project.root / "data") == v2
    assert "up to date" in project.run("status").stdout


def test_granular_checkout_of_one_file_in_a_folder(project):
    project.gen(V1)
    project.run("add", "data")
    (project.root / "data/a.csv").unlink()
    (project.root / "data/sub/b").unlink()
    project.run("checkout", "data/a.csv")
    assert (project.root / "data/a.csv").exists()
    assert not (project.root / "data/sub/b").exists()


def test_file_replaced_by_folder_and_back(project):
    project.gen({"m": "a file"})
    project.run("add", "m")
    project.commit_all("file")
    (project.root / "m").unlink()
    project.gen({"m": {"inner": "now a folder"}})
    project.run("add", "m")
    project.commit_all("folder")
    project.git("checkout", "-q", "HEAD~1")
    project.run("checkout")
    assert project.read("m") == "a file"
    project.git("checkout", "-q", "main")
    project.run("checkout")
    assert project.read("m/inner") == "now a folder"


def test_hardlink_checkout_is_read_only_until_unprotect(project):
    project.run("config", "cache.type", "hardlink,copy")
    project.gen({"data": {"a": "1", "b": "2"}})
    project.run("add", "data")
    a = project.root / "data/a"
    assert a.stat().st_nlink == 2
    assert stat.S_IMODE(a.stat().st_mode) == 0o444
    a.unlink()
    project.run("checkout")
    assert a.stat().st_nlink == 2 and stat.S_IMODE(a.stat().st_mode) == 0o444
    r = project.run("unprotect", "data/typo", code=1)  # (nothing there: not a silent no-op)
    assert r.stderr.splitlines()[0] == "error: 'data/typo' is not in the workspace"
    project.run("unprotect", "data/a")
    assert a.stat().st_nlink == 1 and a.stat().st_mode & stat.S_IWUSR
    assert "up to date" in project.run("status").stdout
    a.write_text("edited")
    assert project.read(".mlvc/cache/objects/" + _oid_path(project, "1")) == "1"


def _oid_path(project, content):
    from mlvc.objects.oid import hash_bytes

    oid = hash_bytes(content.encode())
    return f"{oid[:2]}/{oid[2:]}"


def test_symlink_checkout_and_relink(project):
    project.gen({"data": {"a": "1", "x": "2"}})
    project.run("add", "data")
    assert not (project.root / "data/a").is_symlink()
    project.run("config", "cache.type", "symlink")
    project.run("checkout", "--relink")
    assert (project.root / "data/a").is_symlink()
    assert project.read("data/a") == "1"
    assert "up to date" in project.run("status").stdout
    project.run("config", "cache.type", "copy")
    project.run("checkout", "--relink")
    assert not (project.root / "data/a").is_symlink() and project.read("data/a") == "1"


def test_executable_files_keep_their_bit_with_hardlinks(project):
    project.run("config", "cache.type", "hardlink")
    project.gen({"tool.sh": "#!/bin/sh\n"})
    os.chmod(project.root / "tool.sh", 0o755)
    project.run("add", "tool.sh")
    (project.root / "tool.sh").unlink()
    project.run("checkout")
    assert os.stat(project.root / "tool.sh").st_mode & stat.S_IXUSR


def test_many_outputs_are_checked_out_in_one_batch(project, monkeypatch):
    from mlvc.workspace import checkout as co

    files = {f"f{i}.pt": f"model {i}" for i in range(30)}
    project.gen({"m": files, "data": {"a": "1", "sub": {"b": "2"}}})
    project.run("add", "data", *[f"m/{f}" for f in files])
    for f in files:
        (project.root / "m" / f).unlink()
    (project.root / "data/sub/b").unlink()
    batches = []
    real = co.run_batched
    monkeypatch.setattr(co, "run_batched",
                        lambda items, *a, **k: batches.append(len(items)) or real(items, *a, **k))
    doc = json.loads(project.run("checkout", "--json").stdout)
    assert batches == [31]  # one pool of workers (and one progress bar) for all outputs
    assert doc["added"] == ["data/sub/b", *sorted(f"m/{f}" for f in files)]
    assert all(project.read(f"m/{f}") == text for f, text in files.items())
    assert json.loads(project.run("status", "--json").stdout)["clean"]


def test_folders_nested_deeper_than_the_python_stack(project):
    import sys

    depth = sys.getrecursionlimit() + 100
    deep = str(project.root / "data")
    os.mkdir(deep)
    try:
        for _ in range(depth):  # pathlib's and os.makedirs' own recursion would not get there
            deep += "/d"
            os.mkdir(deep)
        leaf = os.path.relpath(f"{deep}/leaf.txt", project.root)
        project.gen({leaf: "deep", "data/top.txt": "top"})
        doc = json.loads(project.run("add", "--json", "data").stdout)
        assert doc["saved"][0]["nfiles"] == 2
        assert json.loads(project.run("status", "--json").stdout)["clean"]
        project.gen({leaf: "changed"})
        [changed] = json.loads(project.run("status", "--json").stdout)["changed"]
        assert changed["modified"] == [leaf]
        project.run("checkout", "--force")
        assert project.read(leaf) == "deep" and project.read("data/top.txt") == "top"
        os.unlink(project.root / leaf)
        assert json.loads(project.run("checkout", "--json").stdout)["added"] == [leaf]
        assert project.read(leaf) == "deep"
    finally:
        _remove_tree(str(project.root / "data"))  # pytest's own clean-up recurses


def _remove_tree(top: str) -> None:
    """shutil.rmtree without recursion."""
    folders, stack = [], [top]
    while stack:
        folder = stack.pop()
        folders.append(folder)
        for entry in os.scandir(folder):
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            else:
                os.unlink(entry.path)
    for folder in reversed(folders):
        os.rmdir(folder)


def test_state_rows_hold_the_plans_own_paths_and_oids(project, monkeypatch):
    """Forked workers send back only what they found (the stat and link type of each file
    placed), as plain values: the state rows hold the plan's path and oid strings, not
    copies unpickled from the workers (200,000 files: 30 MB)."""
    import mlvc.parallel as parallel
    from mlvc.workspace import checkout as co

    if (os.cpu_count() or 1) < 2:
        pytest.skip("forked workers need two cores")
    monkeypatch.setattr(parallel, "PROCESS_MIN_ITEMS", 1)
    project.run("config", "cache.type", "copy")
    project.run("config", "core.jobs", "2")
    project.gen({"data": {f"f{i}": f"text {i}" for i in range(40)}})
    project.run("add", "data")
    shutil.rmtree(project.root / "data")
    seen = []
    real = co.apply

    def spy(root, the_plan, *args, **kwargs):
        applied = real(root, the_plan, *args, **kwargs)
        seen.append((the_plan, applied))
        return applied

    monkeypatch.setattr(co, "apply", spy)
    project.run("checkout")
    [(the_plan, applied)] = seen
    actions = {a.path: a for a in the_plan.actions}
    assert len(applied.rows) == len(applied.placed) == 40 and not applied.failed
    for path, state in applied.rows:
        assert path is actions[path].path and state.oid is actions[path].want.oid
        assert state.link == "copy" and state.key == _key(project.root / path)
    assert json.loads(project.run("status", "--json").stdout)["clean"]


def _key(path) -> StatKey:
    st = os.stat(path)
    return StatKey(st.st_ino, st.st_mtime_ns, st.st_size)


def test_links_that_cannot_reach_the_cache_fail_every_file_the_same_way(project,
                                                                      monkeypatch):
    """cache.type holds only hardlink, and the cache is on another filesystem (here: every
    link fails with EXDEV). add stores copies and leaves the files; checkout places none
    (not the first failing and the rest copied), says why for each, and hints at the fix;
    doctor warns."""
    import errno

    project.run("config", "cache.type", "hardlink")
    project.gen({"data": {f"f{i}": f"content {i}" for i in range(4)}, "run.sh": "#!/bin/sh\n"})
    os.chmod(project.root / "run.sh", 0o755)

    real_link = os.link

    def in_cache(path) -> bool:
        return "/.mlvc/cache/" in str(path)

    def cross_device(src, dst, *args, **kwargs):
        # (An unnamed new file is named as /proc/self/fd/N, on its own filesystem.)
        if not str(src).startswith("self/fd/") and in_cache(src) != in_cache(dst):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "link", cross_device)
    project.run("add", "data", "run.sh")
    assert "up to date" in project.run("status").stdout
    project.run("add", "data")  # again, the objects stored: the files stay (no error)
    shutil.rmtree(project.root / "data")
    (project.root / "run.sh").unlink()
    r = project.run("checkout", code=1)
    failures = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(failures) == 4 and failures == sorted(failures) and all(
        "no link type in cache.type works" in line and "Invalid cross-device link" in line
        for line in failures)
    assert "`mlvc config cache.type hardlink,copy`" in r.stderr
    assert not (project.root / "data").exists() or not os.listdir(project.root / "data")
    assert os.access(project.root / "run.sh", os.X_OK)  # an executable file is a copy anyway
    doc = json.loads(project.run("doctor", "--json").stdout)
    assert doc["link_types"]["hardlink"] is False and doc["cache_type_works"] is False
    assert "warning: no link type in cache.type works here" in project.run("doctor").stderr
    project.run("config", "cache.type", "hardlink,copy")
    project.run("checkout")
    assert (project.root / "data/f3").read_text() == "content 3"
    assert json.loads(project.run("doctor", "--json").stdout)["cache_type_works"] is True


def test_an_object_with_all_the_names_it_can_have_is_copied_and_links_go_on(project,
                                                                             monkeypatch):
    """ext4 gives an inode at most 65,000 names: many files of the same bytes (empty ones,
    say) fill their object. cache.type holds only hardlink: add and checkout copy the files
    whose object is full (EMLINK), and link every other file, before and after them."""
    import errno

    from mlvc.objects.oid import hash_bytes

    project.run("config", "cache.type", "hardlink")
    files = {f"e{i}": "" for i in range(4)} | {f"f{i}": f"content {i}" for i in range(4)}
    project.gen({"data": files})
    full = hash_bytes(b"")
    real_link = os.link

    def emlink(src, dst, *args, **kwargs):
        name = os.path.basename(str(src if "/.mlvc/cache/" in str(src) else dst))
        # The empty file's object, once it has a name in the workspace besides its own:
        if name == full[2:] and os.stat(src).st_nlink >= 2:
            raise OSError(errno.EMLINK, os.strerror(errno.EMLINK))
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "link", emlink)
    project.run("add", "data")
    data = project.root / "data"

    def links() -> dict[str, int]:
        return {p.name: p.stat().st_nlink for p in sorted(data.iterdir())}

    def check() -> None:
        got = links()
        assert all(got[f"f{i}"] == 2 for i in range(4)), got  # linked to their objects
        # The empty object took one more name; the other empty files are copies.
        assert sorted(got[f"e{i}"] for i in range(4)) == [1, 1, 1, 2], got
        assert "up to date" in project.run("status").stdout

    check()
    shutil.rmtree(data)
    project.run("checkout")
    check()


def test_empty_folders_made_or_removed_are_reported(project):
    """An empty folder is a change that status shows (``data/empty1/``): a checkout that
    only makes or removes one says so, instead of "Nothing to do"."""
    project.gen(V1)
    project.run("add", "data")
    os.rmdir(project.root / "data/empty1")
    (project.root / "data/new/deeper").mkdir(parents=True)
    (project.root / "data/sub/e2").mkdir()
    r = project.run("checkout")
    assert r.stdout.splitlines()[0] == "1 empty folder made, 2 empty folders removed"
    assert (project.root / "data/empty1").is_dir()
    assert not (project.root / "data/new").exists()
    os.rmdir(project.root / "data/empty1")
    (project.root / "data/new").mkdir()
    doc = json.loads(project.run("checkout", "--json").stdout)
    assert (doc["dirs_made"], doc["dirs_removed"]) == (["data/empty1"], ["data/new"])
    # Folders that files were placed in or deleted from are not listed: their files are.
    shutil.rmtree(project.root / "data")
    doc = json.loads(project.run("checkout", "--json").stdout)
    assert len(doc["added"]) == 4 and doc["dirs_made"] == ["data/empty1"]
    assert "Nothing to do" in project.run("checkout").stdout


def test_a_part_neither_there_nor_recorded_is_refused(project):
    """A typo inside a tracked folder is an error, not "up to date"; a part that is only
    in the workspace, or only recorded, is a change status and checkout deal with."""
    project.gen(V1)
    project.run("add", "data")
    for cmd in ("status", "checkout"):
        r = project.run(cmd, "data/sub/typo", code=1)
        assert r.stderr.splitlines() == [
            "error: 'data/sub/typo' is neither in the workspace nor recorded in data.mlvc",
            "hint: `mlvc status data` shows what is there and what is recorded"]
    r = project.run("status", "typo", code=1, cwd=project.root / "data/sub")
    assert "error: 'typo' is neither in the workspace nor recorded in ../../data.mlvc" \
        in r.stderr and "hint: `mlvc status ..` shows" in r.stderr
    (project.root / "data/sub/b").unlink()
    (project.root / "data/sub/new").write_text("n")
    doc = json.loads(project.run("status", "data/sub/b", "--json").stdout)
    assert doc["changed"][0]["deleted"] == ["data/sub/b"]
    doc = json.loads(project.run("status", "data/sub/new", "--json").stdout)
    assert doc["changed"][0]["added"] == ["data/sub/new"]
    project.run("checkout", "data/sub/b")
    assert project.read("data/sub/b") == "v1-b"


def test_several_parts_of_one_folder_are_each_taken(project):
    """`mlvc checkout data/a.csv data/sub/b` restores both (the first part alone was taken:
    the second was silently left as it was); status tells the parts as one output; a part
    inside another, or the whole, takes the lot."""
    project.gen(V1)
    project.run("add", "data")
    for name in ("a.csv", "sub/b", "gone.csv"):
        (project.root / "data" / name).unlink()
    doc = json.loads(project.run("status", "data/a.csv", "data/sub/b", "--json").stdout)
    assert doc["tracked"] == 1
    assert doc["changed"][0]["deleted"] == ["data/a.csv", "data/sub/b"]
    r = project.run("checkout", "data/sub/b", "data/a.csv", "data/sub")
    assert r.stdout.splitlines()[0] == "2 added"
    assert project.read("data/a.csv") == "v1-a" and project.read("data/sub/b") == "v1-b"
    assert not (project.root / "data/gone.csv").exists()
    r = project.run("checkout", "data/a.csv", "data")  # (the whole output)
    assert r.stdout.splitlines()[0] == "1 added" and project.read("data/gone.csv")


def test_relink_of_files_hard_linked_already_leaves_no_temporary_name(project):
    """Replacing a file by a hard link to the object it is already a name of: a rename
    between two names of one file does nothing, and left the temporary name in the data."""
    project.run("config", "cache.type", "hardlink")
    project.gen({"data": {"a": "1", "s": {"b": "2"}}})
    project.run("add", "data")
    before = sorted(p.name for p in (project.root / "data").rglob("*"))
    doc = json.loads(project.run("checkout", "--relink", "--json").stdout)
    assert sorted(doc["relinked"]) == ["data/a", "data/s/b"]
    assert sorted(p.name for p in (project.root / "data").rglob("*")) == before
    assert os.stat(project.root / "data/a").st_nlink == 2  # itself and its object
