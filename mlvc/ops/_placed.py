"""Marks for outputs that a checkout has just placed (see ``mlvc.workspace.marks``).

A checkout that places most of a big output (a fresh clone's ``pull``, a far ``git
checkout``) leaves files that no mark describes: copies are new inodes. The next ``status``
would take the full comparison (50,000 files: about 1.3 s against 0.3 s by a mark) and only
then mark the output. The checkout knows everything that comparison would find, so it marks
the output itself, after one more scan: what it placed (each file's stat just after it was
written), what it found already right (the stat its oid was resolved with) and the objects'
stat (checked where each was placed, the others checked here).

The scan is needed for the order of the listing, which a mark's digest covers and which the
file system decides for new files. Scan and marks cost about half what the comparison they
save costs for as many files (on 50,000 copies: 0.6-0.9 s against 1.2-1.9 s), so an output
is marked only when the checkout placed ``MARK_AFTER_PLACED`` of its files or more, and the
next status would compare at least half of them (the rest lie in chunks still clean by their
marks, which status leaves out anyway).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from mlvc.errors import MlvcError
from mlvc.ops._outputs import Loaded, Parts
from mlvc.paths import RelPath
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace import checkout as co
from mlvc.workspace.compare import WsView
from mlvc.workspace.marks import output_marks
from mlvc.workspace.scan import Listing, WsDir, iter_files
from mlvc.workspace.state import RACY_NS, FileState, Mark, StatKey
from mlvc.workspace.verify import Inspector, ObjectChecker

MARK_AFTER_PLACED = 10_000  # files placed in one output before the checkout marks it
PLACING = ("create", "replace", "relink")


@dataclass(frozen=True, slots=True)
class Checked:
    """One output as a checkout compared it: its recorded tree, the scan before the checkout,
    its chunks clean by their marks, the files compared (oids resolved) and the plan."""

    item: Loaded
    listing: Listing
    part: Parts
    ws: WsView
    plan: co.Plan


def mark_placed(repo: Repo, checked: list[Checked], applied: co.Applied,
                inspect: Inspector, started: int, stats: Mapping[str, tuple[int, int, int]],
                jobs: int, progress: Progress = NULL_PROGRESS) -> None:
    """Mark each whole folder output of ``checked`` that the checkout placed in bulk and
    that now matches its recorded tree; ``started`` is when the checkout began, before its
    scan. An output that does not match, for any reason, is simply left unmarked."""
    failed = {p for p, _ in applied.failed}
    rows = dict(applied.rows)
    todo = []
    for c in checked:
        out = c.item.whole
        if out is None or out.type != "dir" or c.plan.conflicts or c.plan.leftovers:
            continue
        placed = {a.path for a in c.plan.actions if a.kind in PLACING}
        if len(placed) < MARK_AFTER_PLACED or not placed.isdisjoint(failed):
            continue
        assert c.item.recorded is not None  # (a whole output was read)
        files, left_out = c.item.recorded.files, c.part.left_out
        if 2 * sum(1 for p in files if p not in left_out) < len(files):
            continue
        # Hard links are their objects, with their objects' stat: a mark made before still
        # holds when the scan lists them in the same order.
        marked = repo.state.mark_oids([out.path]).get(out.path)
        if not any(p in rows for p in placed) and marked == out.oid:
            continue
        todo.append((c, placed))
    if not todo:
        return
    # The objects' stat, as checked where they were placed (a record, or a hash just made).
    placed_oids = {a.want.oid for c, _ in todo for a in c.plan.actions
                   if a.want is not None and a.kind in PLACING}
    keys: dict[str, StatKey] = {o: k for o, k in inspect.verified.items() if o in placed_oids}
    keys.update(applied.verified)
    marks: list[Mark] = []
    pruned = {}
    with progress.phase("Scanning what was placed", total=len(todo), unit="output") as advance:
        for c, placed in todo:
            try:
                found = _marks(repo, c, placed, rows, keys, started, stats, jobs)
            except (MlvcError, OSError):  # (the scan met something new: a mark is only a
                found = []  # shortcut, and the checkout is done; status will say what)
            if found:
                marks += found
                pruned[c.item.selected.tracked.out.path] = {m.path for m in found}
            advance(1)
    repo.state.put_marks(marks)
    repo.state.prune_marks(pruned)


def _marks(repo: Repo, c: Checked, placed: Collection[RelPath],
           rows: Mapping[RelPath, FileState],
           keys: Mapping[str, StatKey], started: int, stats: Mapping[str, tuple[int, int, int]],
           jobs: int) -> list[Mark]:
    """The marks of one output placed by a checkout, or none when its scan now is not
    exactly what was recorded, ``placed`` and found."""
    out = c.item.selected.tracked.out
    rec = c.item.recorded
    if rec is None or rec.dir_oids is None:  # (no folders' tree oids: no chunk marks)
        return []
    # What was there and stays must have been found after its last clock tick, as status
    # requires (RACY_NS); what was placed is as written, as its state row is.
    found = c.ws.files
    if any(f.key[1] >= started - RACY_NS for p, f in found.items() if p not in placed):
        return []
    # The files of the chunks clean by their marks are as recorded, with the scan's stat.
    kept: dict[RelPath, StatKey] = {}
    if c.part.left_out:
        old, left_out = c.listing, c.part.left_out
        kept = {p: StatKey(*old.keys[3 * n:3 * n + 3]) for n, p in enumerate(old.paths)
                if p in left_out}

    listing = repo.scanner.listing(out.path, split=True)
    if listing.kind != "dir" or listing.leftovers or len(listing.paths) != len(rec.files) \
            or set(listing.dirs) != rec.dirs:
        return []
    needed = rec.objects() | rec.trees
    have = {**keys, **c.part.keys}
    rest = needed - have.keys()
    if rest:
        # (one missing or corrupt has no key: make_mark then makes no mark)
        have.update(ObjectChecker(repo.cache, repo.state).check(
            rest, jobs, seen={o: StatKey(*stats[o]) for o in rest if o in stats}).keys)
    node = listing.tree()
    assert isinstance(node, WsDir)
    files = rec.files
    for f in iter_files(node):
        want = files.get(f.path)
        if want is None or f.exec != want.exec:
            return []
        path, oid = f.path, want.oid
        if f.nlink > 1 and have.get(oid) == f.key:  # a hard link of its object
            f.link = "hardlink"
        elif path in placed:
            row = rows.get(path)
            if row is None or row.key != f.key or row.oid != oid:
                return []
        elif path in kept:
            if kept[path] != f.key:
                return []
        else:
            was = found.get(path)
            if was is None or was.key != f.key or was.oid != oid:
                return []
        f.oid = oid
    # A file written within a clock tick of now could change again unseen: the mark waits
    # that tick out (the scan took longer, as a rule).
    newest = max(listing.keys[1::3], default=0)
    wait = newest + RACY_NS - time.time_ns()
    if wait >= 0:
        time.sleep(wait / 1e9 + 0.001)
    return output_marks(out.path, out.oid, listing, node, rec.dir_oids,
                        str(repo.cache.objects_dir), have, needed, time.time_ns())
