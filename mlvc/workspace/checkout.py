"""Checkout in two steps: :func:`plan` compares and decides, :func:`apply` carries it out.

A workspace file is replaced or deleted only when its content is saved in the cache (mlvc
placed it, or it matches a recorded object), or with ``force``. Anything else is a user's
unsaved work: it is kept and reported as a conflict.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from mlvc.errors import NO_SPACE, is_no_space
from mlvc.parallel import run_batched
from mlvc.paths import RelPath, is_within, to_fs
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.workspace.compare import Recorded, Want, WsView
from mlvc.workspace.links import UMASK, Linker
from mlvc.workspace.state import FileState, StatKey
from mlvc.workspace.verify import CORRUPT, Inspector


class Action(NamedTuple):
    """One file's step of a plan (a NamedTuple: one per file, and a checkout of 50,000
    files makes 50,000; a frozen dataclass took twice as long to build)."""

    kind: str  # create | replace | relink | chmod | delete
    path: RelPath
    want: Want | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[Action, ...]
    mkdirs: tuple[RelPath, ...]
    rmdirs: tuple[RelPath, ...]
    conflicts: tuple[RelPath, ...]  # unsaved user files that were kept
    leftovers: tuple[RelPath, ...] = ()  # temporary files of a killed run, to delete

    @property
    def empty(self) -> bool:
        return not (self.actions or self.mkdirs or self.rmdirs or self.leftovers)


def plan(rec: Recorded, ws: WsView, is_saved: Callable[[str], bool], *, force: bool = False,
         relink: bool = False, relink_needed: Callable[[RelPath], bool] | None = None) -> Plan:
    """Decide what to do. Workspace files that matter must have their oids resolved."""
    actions: list[Action] = []
    conflicts: list[RelPath] = []

    def safe(path: RelPath) -> bool:
        f = ws.files[path]
        return force or (f.oid is not None and is_saved(f.oid))

    kept: list[RelPath] = []
    for path in ws.files:
        if path not in rec.files and not safe(path):
            conflicts.append(path)
            kept.append(path)
        elif path not in rec.files:
            actions.append(Action("delete", path))

    def blocked(path: RelPath) -> bool:
        """A kept file sits where ``path`` or one of its folders should go, or inside it."""
        return any(is_within(path, k) or is_within(k, path) for k in kept)

    for path, want in rec.files.items():
        f = ws.files.get(path)
        if f is None:
            if kept and blocked(path):
                continue
            actions.append(Action("create", path, want))
        elif f.oid == want.oid:
            if relink and (relink_needed is None or relink_needed(path)):
                actions.append(Action("relink", path, want))
            elif f.exec != want.exec:
                actions.append(Action("chmod", path, want))
        elif safe(path):
            actions.append(Action("replace", path, want))
        else:
            conflicts.append(path)

    mkdirs = sorted(d for d in rec.dirs if d not in ws.dirs and not (kept and blocked(d)))
    # Deepest first; a folder that still holds kept or ignored files stays (rmdir fails).
    rmdirs = sorted(ws.dirs - rec.dirs, key=lambda d: d.count("/"), reverse=True)
    return Plan(tuple(actions), tuple(mkdirs), tuple(rmdirs), tuple(sorted(conflicts)),
                ws.leftovers)


@dataclass(frozen=True, slots=True)
class Applied:
    placed: tuple[RelPath, ...]
    rows: tuple[tuple[RelPath, FileState], ...]  # state rows of the placed files that need one
    deleted: tuple[RelPath, ...]
    failed: tuple[tuple[RelPath, str], ...]
    verified: tuple[tuple[str, StatKey], ...] = ()  # objects re-hashed and found sound
    corrupt: tuple[str, ...] = ()  # objects re-hashed and found corrupt (not placed)
    # Files that replaced others as hard links: they need no row, and the old one (of a
    # copy, or of a symlink, which has its object's stat) would say how it was placed.
    unrowed: tuple[RelPath, ...] = ()


def prepare(root: Path, plans: list[Plan]) -> None:
    """Clear the way for plans' placements: delete the files and folders they remove and
    make the folders they need. Idempotent: a second call does nothing more."""
    for the_plan in plans:
        for leftover in the_plan.leftovers:
            _remove(to_fs(root, leftover))
        for act in the_plan.actions:
            if act.kind == "delete":
                _remove(to_fs(root, act.path))
        for d in the_plan.rmdirs:
            try:
                os.rmdir(to_fs(root, d))
            except FileNotFoundError:
                pass
            except OSError:
                pass  # not empty: it holds something ignored or kept
        for d in the_plan.mkdirs:  # parents first: one mkdir each, as a rule
            fs = to_fs(root, d)
            try:
                os.mkdir(fs)
            except FileExistsError:
                if not os.path.isdir(fs):  # a file in the way
                    _remove(fs)
                    os.mkdir(fs)
            except FileNotFoundError:  # a parent outside the output
                os.makedirs(fs, exist_ok=True)
        # A stage's file output may live in a folder that nothing else creates.
        for folder in {a.path.rpartition("/")[0] for a in the_plan.actions
                       if a.kind == "create"}:
            if folder and not os.path.isdir(to_fs(root, folder)):
                os.makedirs(to_fs(root, folder), exist_ok=True)


def prepare_size(plans: list[Plan]) -> int:
    """About how many system calls :func:`prepare` makes."""
    return sum(len(p.mkdirs) + len(p.rmdirs) + len(p.leftovers)
               + sum(1 for a in p.actions if a.kind == "delete") for p in plans)


def apply(root: Path, the_plan: Plan, linker: Linker, jobs: int,
          progress: Progress = NULL_PROGRESS,
          inspect: Inspector | None = None) -> Applied:
    """Carry out a plan that :func:`prepare` has cleared the way for. ``inspect`` checks
    each object just before it is placed, in the workers: a missing or corrupt one is not
    placed, and what was at its path stays.

    A hard link is its object, whose verification record answers for it (``known_oids``),
    so it gets no state row: :attr:`Applied.rows` holds the others.
    """
    deleted = [a.path for a in the_plan.actions if a.kind == "delete"]
    todo = [a for a in the_plan.actions if a.kind in ("create", "replace", "relink")]

    # Folders are made before the workers start (prepare): made by the workers as their
    # files needed them, a copy checkout of 50,000 files in 500 new folders took 27 s instead
    # of 8 s on ext4 (open with O_CREAT 390 us instead of 60 us).
    base = str(root)

    def place(act: Action) -> tuple:
        assert act.want is not None
        oid = act.want.oid
        dest = f"{base}/{act.path}"
        key, rehashed = None, False
        try:
            if inspect is not None:
                key, problem, rehashed = inspect(oid)
                if problem is not None:
                    return (f"object {oid} {problem}",)
            if act.kind != "create" and os.path.isdir(dest) and not os.path.islink(dest):
                return (_IN_THE_WAY,)
            # (A path found free by the scan that is taken by now holds something new.)
            kind, placed = linker.place(oid, dest, act.want.exec, key,
                                        replace=act.kind != "create")
            return (*placed, kind, *(key if rehashed and key is not None else _NO_KEY))
        except IsADirectoryError:
            return (_IN_THE_WAY,)
        except FileExistsError:
            return (APPEARED,)
        except OSError as exc:
            if is_no_space(exc):
                return (NO_SPACE,)
            return (exc.strerror or str(exc),)

    fn = place
    if inspect is not None and linker.first_choice() == "hardlink":
        # The common case of a hard-linked checkout takes two system calls and no objects;
        # anything else (a stat that differs from the record, something in the way, an
        # error, an executable file) takes the general path, which decides and reports.
        link_verified, ruled_out = inspect.link_verified, linker.ruled_out

        def fn(act: Action):
            want = act.want
            if (act.kind == "create" and not want.exec and not ruled_out("hardlink")
                    and link_verified(want.oid, f"{base}/{act.path}")):
                return _LINKED
            return place(act)

    # A worker's result is a plain tuple (see _LINKED), which crosses from a forked worker as
    # it is; the path and the oid are the action's own (not copies that came back pickled).
    results = run_batched(todo, fn, jobs, progress, "Checking out", processes=True,
                          size=_want_size)
    placed, rows, failed, verified, unrowed = [], [], [], [], []
    new = tuple.__new__
    for act, r in zip(todo, results):
        if not r:  # _LINKED
            placed.append(act.path)
            continue
        if len(r) == 1:
            failed.append((act.path, r[0]))
            continue
        assert act.want is not None
        placed.append(act.path)
        ino, mtime, size, link, *rehashed = r
        if link != "hardlink":
            rows.append((act.path, new(FileState, (new(StatKey, (ino, mtime, size)),
                                                   act.want.oid, link))))
        elif act.kind != "create":
            unrowed.append(act.path)
        if rehashed[0] is not None:
            verified.append((act.want.oid, new(StatKey, rehashed)))
    bad = {p for p, err in failed if err.endswith(CORRUPT)}
    corrupt = tuple(a.want.oid for a in todo if a.path in bad and a.want) if bad else ()
    for act in the_plan.actions:
        if act.kind == "chmod":
            assert act.want is not None
            fs = to_fs(root, act.path)
            mode = os.stat(fs).st_mode & 0o777
            os.chmod(fs, (mode | 0o111 & ~UMASK) if act.want.exec else mode & ~0o111)
    return Applied(tuple(placed), tuple(rows), tuple(deleted), tuple(failed), tuple(verified),
                   corrupt, tuple(unrowed))


# What became of one action, from a worker (plain values, so that it pickles in C):
# ``()`` a verified object hard-linked where nothing was (no state row, no stat taken);
# ``(error,)`` not placed, and why; else ``(inode, mtime_ns, size, link type, *the object's
# stat if it was just re-hashed, else three Nones)``.
_LINKED = ()
_NO_KEY = (None, None, None)
_IN_THE_WAY = "a folder that is not empty is in the way"
APPEARED = "something was made there during the checkout: it was kept"


def _want_size(act: Action) -> int:
    """The bytes an action places (for progress in bytes)."""
    return act.want.size if act.want is not None else 0


def _remove(fs: Path) -> None:
    try:
        os.unlink(fs)
    except FileNotFoundError:
        pass
