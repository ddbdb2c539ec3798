"""Marks never change an answer: after any sequence of edits, commits and checkouts,
``status`` with the marks it and the other commands left (whole outputs, sub-folders and
runs of a folder's files, made by status, add, commit and checkout) says exactly what it
says when it may not use any mark."""

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlvc.ops._placed as placed_mod
import mlvc.workspace.marks as marks_mod
from mlvc.workspace.state import StateDB
from tests.conftest import Project

TREE = {"data": {"f0": "zero", "f1": "one", "a": {"x": "ax", "y": "ay"},
                 "b": {"x": "bx", "y": "by", "z": "bz"},
                 "c": {"d": {"p": "cdp", "q": "cdq"}, "e": {"r": "cer", "s": "ces"}},
                 "g": {f"g{i}": f"flat {i}" for i in range(8)}}}
FILES = ["data/f0", "data/f1", "data/a/x", "data/a/y", "data/b/x", "data/b/y", "data/b/z",
         "data/c/d/p", "data/c/d/q", "data/c/e/r", "data/c/e/s", "data/g/g0", "data/g/g3",
         "data/g/g5", "data/g/g7"]
FOLDERS = ["data", "data/a", "data/b", "data/c", "data/c/d", "data/c/e", "data/g"]
PAST = time.time_ns() - 3600 * 1_000_000_000

ops = st.one_of(
    st.tuples(st.just("edit"), st.sampled_from(FILES), st.sampled_from(["ax", "zzz", "new!"])),
    st.tuples(st.just("delete"), st.sampled_from(FILES)),
    st.tuples(st.just("new"), st.sampled_from(FOLDERS), st.sampled_from(["n", "m"])),
    st.tuples(st.just("exec"), st.sampled_from(FILES)),
    st.tuples(st.just("mkdir"), st.sampled_from(FOLDERS)),
    st.tuples(st.just("status")),
    st.tuples(st.just("commit")),
    st.tuples(st.just("checkout")),
    st.tuples(st.just("wipe")),  # the whole folder deleted and checked out: all placed
    st.tuples(st.just("object"), st.sampled_from(FILES)),
    st.tuples(st.just("manifest gone"), st.sampled_from(FOLDERS)),
    st.tuples(st.just("move"), st.sampled_from(FOLDERS[1:])),
    st.tuples(st.just("ignore"), st.sampled_from(["", "x\n", "p\n", "d/\n"])),
    st.tuples(st.just("git commit")),
    st.tuples(st.just("git revert")),  # the pointer as last committed to git
)


class NoMarks:
    """While in effect, the state DB has no marks and keeps none."""

    def __enter__(self):
        self.saved = StateDB.marks, StateDB.put_marks
        StateDB.marks = lambda self, paths: {}
        StateDB.put_marks = lambda self, marks: None

    def __exit__(self, *exc):
        StateDB.marks, StateDB.put_marks = self.saved


def _status(p: Project) -> dict:
    r = p.run("status", "--json", code=None)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def _apply(p: Project, op: tuple, step: int) -> None:
    """Carry out one step. Every file it writes gets an mtime of its own, well in the past,
    so marks may be made (past the racy window) and no two writes share one."""
    when = PAST + step * 1_000_000_000
    kind, *args = op
    path = p.root / args[0] if args and kind in ("edit", "delete", "new", "exec", "mkdir",
                                                  "move") else None
    if kind == "edit" and path.is_file():
        path.unlink()  # a new file: a hard link's object stays as it was
        path.write_text(args[1])
        os.utime(path, ns=(when, when))
    elif kind == "delete" and path.is_file():
        path.unlink()
    elif kind == "new" and path.is_dir():
        new = path / args[1]
        if not new.exists():
            new.write_text(f"new {step}")
            os.utime(new, ns=(when, when))
    elif kind == "exec" and path.is_file():
        if path.stat().st_nlink > 1:  # a hard link: the object's mode is not ours to change
            return
        os.chmod(path, path.stat().st_mode ^ 0o100)
    elif kind == "mkdir" and path.is_dir():
        (path / f"empty{step}").mkdir(exist_ok=True)
    elif kind == "status":
        p.run("status", code=None)
    elif kind == "commit":
        p.run("commit", "--force", code=None)
    elif kind == "checkout":
        p.run("checkout", "--force", code=None)
    elif kind == "wipe":
        if (p.root / "data").is_dir():
            shutil.rmtree(p.root / "data")
        p.run("checkout", "--force", code=None)
    elif kind == "move" and path.is_dir() and not path.with_name(path.name + "m").exists():
        path.rename(path.with_name(path.name + "m"))  # a folder renamed: marks are by path
    elif kind == "ignore":
        (p.root / ".mlvcignore").write_text(args[0])
    elif kind == "git commit":
        p.git("add", "-A")
        p.git("commit", "-q", "--allow-empty", "-m", f"step {step}")
    elif kind == "git revert":
        p.git("checkout", "HEAD", "--", "data.mlvc")
    elif kind == "manifest gone":
        oid = _recorded_oid(p, args[0])
        obj = p.root / ".mlvc/cache/objects" / oid[:2] / oid[2:] if oid else None
        if obj is not None and obj.exists():
            obj.unlink()
    elif kind == "object":
        oid = _recorded_oid(p, args[0])
        obj = p.root / ".mlvc/cache/objects" / oid[:2] / oid[2:] if oid else None
        if obj is not None and obj.exists() and obj.stat().st_nlink == 1:
            os.chmod(obj, 0o644)
            obj.write_bytes(b"rotten")
            os.utime(obj, ns=(when, when))
    if kind in ("checkout", "wipe"):
        return  # its files keep the time they were placed at: the marks it made may hold
    for dirpath, _dirs, files in os.walk(p.root / "data"):
        for name in files:  # checkout and commit wrote files with the time of now
            f = Path(dirpath) / name
            if f.stat().st_mtime_ns > PAST + 10**12 and f.stat().st_nlink == 1:
                os.utime(f, ns=(when, when))


def _recorded_oid(p: Project, path: str) -> str | None:
    from mlvc.objects.store import ObjectStore

    top = next(ln.split()[1] for ln in p.read("data.mlvc").splitlines()
               if ln.strip().startswith("oid:"))
    store = ObjectStore(p.root / ".mlvc/cache")
    oid = top
    try:
        for name in path.split("/")[1:]:
            entry = {e.name: e for e in store.read_tree(oid).entries}.get(name)
            if entry is None:
                return None
            oid = entry.oid
    except Exception:  # noqa: BLE001 - a corrupt manifest: no object to spoil
        return None
    return oid


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["copy", "hardlink"]), st.lists(ops, min_size=1, max_size=8))
def test_status_with_marks_says_what_status_without_them_says(link, steps):
    old = (marks_mod.CHUNK_MIN, marks_mod.CHUNK_MAX, marks_mod.RUN_EVERY,
           placed_mod.MARK_AFTER_PLACED)
    # a, b, c/d and c/e are chunks; the files of g, and data's own, are cut into runs; a
    # checkout that places a file marks the output (mlvc.ops._placed)
    (marks_mod.CHUNK_MIN, marks_mod.CHUNK_MAX, marks_mod.RUN_EVERY,
     placed_mod.MARK_AFTER_PLACED) = 1, 3, 2, 1
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "proj"
            root.mkdir()
            subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
            p = Project(root)
            p.run("init")
            p.run("config", "cache.type", link)
            p.gen(TREE)
            _apply(p, ("none",), 0)
            p.run("add", "data")
            p.commit_all("v1")
            p.run("status")  # marks everything
            for step, op in enumerate(steps, start=1):
                _apply(p, op, step)
                with NoMarks():
                    truth = _status(p)
                if op[0] == "commit" and (root / "data").exists():  # it recorded
                    # everything, reusing clean sub-folders, and stored again what went bad
                    # in the cache (checked as status would); with no data, it failed
                    assert truth["clean"], f"after {steps[:step]}: {truth}"
                assert _status(p) == truth, f"after {steps[:step]}"
                assert _status(p) == truth, f"again, after {steps[:step]}"
    finally:
        (marks_mod.CHUNK_MIN, marks_mod.CHUNK_MAX, marks_mod.RUN_EVERY,
         placed_mod.MARK_AFTER_PLACED) = old
