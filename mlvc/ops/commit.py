"""``mlvc commit``: record the workspace state of tracked outputs (also the core of ``add``)."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from mlvc.errors import TargetError
from mlvc.objects.tree import TreeEntry
from mlvc.ops import inside_hint, record_in_git, user_targets
from mlvc.parallel import in_background, run_batched
from mlvc.paths import RelPath, seen_from, to_fs
from mlvc.pipeline import LOCK_FILE
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace import gitignore
from mlvc.workspace.importer import Imported, Importer
from mlvc.workspace.index import Declared, Index, Selected, Tracked
from mlvc.workspace.links import SHARED_TYPES
from mlvc.workspace.marks import node_at, output_marks, scan_by_marks
from mlvc.workspace.pointer import Out, Pointer, write_pointers
from mlvc.workspace.scan import (
    Built,
    Listing,
    WsDir,
    WsFile,
    build,
    file_size,
    iter_files,
    known_oids,
)
from mlvc.workspace.state import RACY_NS, Mark, StatKey, stat_key
from mlvc.workspace.verify import ObjectCheck, ObjectChecker

if TYPE_CHECKING:
    from mlvc.ops._outputs import Parts

TREE_FORK_MIN = 64  # from this many new manifests, a forked child writes them


@dataclass(frozen=True, slots=True)
class Saved:
    pointer: RelPath
    out: Out
    changed: bool  # the recorded oid is new
    hashed: int  # files read (the rest came from the state DB)
    repaired: int = 0  # files stored again: their cache object was lost or corrupt
    # Files whose bytes the cache did not have (new files, or added with --no-commit),
    # stored now; the repaired ones aside.
    newly_stored: int = 0
    relinked: int = 0  # unchanged files that were private copies, linked to the cache again


@dataclass(frozen=True, slots=True)
class CommitResult:
    saved: tuple[Saved, ...]
    git_files: tuple[RelPath, ...]  # what to `git add` to record this in git
    staged: bool
    # Outputs on disk of stages that never ran, left alone because no target named them.
    not_run: tuple[Declared, ...] = ()

    def to_json(self) -> dict:
        return {
            "saved": [{"pointer": s.pointer, "path": s.out.path, "oid": s.out.oid,
                       "type": s.out.type, "size": s.out.size, "nfiles": s.out.nfiles,
                       "changed": s.changed, "hashed": s.hashed, "repaired": s.repaired,
                       "newly_stored": s.newly_stored, "relinked": s.relinked}
                      for s in self.saved],
            "git_files": list(self.git_files),
            "staged": self.staged,
            "not_run": [{"path": d.path, "stage": d.stage} for d in self.not_run],
        }


@dataclass(frozen=True, slots=True)
class Stored:
    path: RelPath
    out: Out | None  # None: the path does not exist (only with ``missing_ok``)
    hashed: int  # files read (the rest came from the state DB)
    repaired: int = 0  # of those, files whose object was lost or corrupt: stored again
    newly_stored: int = 0  # files whose objects were written here, the repaired ones aside
    # Unchanged files that are private copies where cache.type links (after `unprotect`,
    # say): the caller links them again (see ``relink``).
    unlinked: tuple[RelPath, ...] = ()


def store_paths(repo: Repo, paths: list[RelPath], *, save: bool = True, jobs: int | None = None,
                progress: Progress = NULL_PROGRESS, missing_ok: bool = False,
                recorded: Mapping[RelPath, Out] | None = None,
                trees: dict[str, bytes] | None = None, link: bool = True) -> list[Stored]:
    """Hash each path (state DB first) and, when ``save``, copy it into the cache.

    Without ``link`` (``--no-relink``), the workspace's files stay as they are: objects are
    copied (or cloned) into the cache, never made hard or symbolic links of the files, and
    private copies are not told as ``unlinked``.

    ``trees``, when given and ``save`` is false, gets the manifests built (oid -> bytes),
    which are then not written to the cache (``mlvc diff`` reads the workspace's folders from
    them; sub-folders still clean by their marks are not built: the cache has theirs).

    A path whose ``recorded`` output still matches its clean mark (see marks.py) is that
    output, stored and unchanged: nothing more is read or written for it. Everything is
    scanned before anything is written. Returns one record per path, in order.
    """
    started = time.time_ns()
    recorded = recorded or {}
    # The marked objects are stat'ed beside the scan: if a mark fails, the objects of the
    # files found unchanged are checked with that stat (see _store).
    stats: dict[str, tuple[int, int, int]] = {}
    marked: dict[str, StatKey] = {}  # of those, the objects whose marks' digest holds
    listings, clean = scan_by_marks(
        repo.scanner, repo.state, str(repo.cache.objects_dir),
        [(p, recorded[p].oid if p in recorded else None) for p in paths], stats=stats,
        sound=marked)
    unchanged = {p: Stored(p, recorded[p], 0) for p, ok in zip(paths, clean) if ok}
    rest = [(p, li) for p, li in zip(paths, listings) if p not in unchanged]
    stored = iter(_store(repo, rest, save=save, jobs=jobs or repo.jobs, progress=progress,
                         missing_ok=missing_ok, started=started, recorded=recorded,
                         stats=stats, marked=marked, trees=trees, link=link)
                  if rest else [])
    return [unchanged[p] if p in unchanged else next(stored) for p in paths]


def _store(repo: Repo, scanned: list[tuple[RelPath, Listing]], *, save: bool, jobs: int,
           progress: Progress, missing_ok: bool, started: int,
           recorded: Mapping[RelPath, Out],
           stats: dict[str, tuple[int, int, int]],
           marked: Mapping[str, StatKey],
           trees: dict[str, bytes] | None = None, link: bool = True) -> list[Stored]:
    """:func:`store_paths` of each scanned ``(path, listing)``; ``stats`` holds objects'
    stat taken during the scan, ``marked`` those of them found sound by their marks."""
    from mlvc.ops._outputs import Parts

    paths = [p for p, _ in scanned]
    unlinked: list[RelPath] = []
    nodes: list[WsFile | WsDir | None] = []
    # Sub-folders still clean by their own marks are as recorded: their files need no oid,
    # and their recorded entries (and manifests, already stored) stand in for them.
    reused: dict[RelPath, dict[RelPath, TreeEntry]] = {}
    taken: dict[RelPath, tuple[Parts, list[tuple[WsDir, dict[str, WsDir]]]]] = {}
    for out_path, listing in scanned:
        node = listing.tree()
        if node is None and not missing_ok:
            raise TargetError(f"'{out_path}' does not exist",
                              hint="`mlvc checkout` restores tracked data from the cache")
        if isinstance(node, WsDir):
            # (Runs of a big folder's own files are not reused: its manifest is made again
            # anyway, and their recorded oids cost more to read than their state rows.)
            part = Parts.of(repo, recorded.get(out_path), listing, stats, flat=False)
            if part.clean:
                reused[out_path] = {p: part.entries[p] for p in part.clean}
                holders: dict[int, tuple[WsDir, dict[str, WsDir]]] = {}
                for p in part.clean:  # out of the tree: not hashed, not built again
                    parent, _, name = p.rpartition("/")
                    holder = node_at(node, parent)
                    holders.setdefault(id(holder), (holder, dict(holder.dirs)))
                    del holder.dirs[name]
                taken[out_path] = (part, list(holders.values()))
        nodes.append(node)

    files = [f for node in nodes for f in iter_files(node)]
    proven: dict[str, StatKey] = {}  # objects known sound: hard links whose stat is theirs
    todo = known_oids(repo.state, files, paths, linked=proven)
    corrupt = frozenset(repo.state.corrupt_objects()) if save else frozenset()
    checker = ObjectChecker(repo.cache, repo.state)
    sound: Mapping[str, StatKey] = {}  # the stat of objects found sound here
    restored: set[RelPath] = set()  # files stored again: their object was lost or bad
    if save:
        # The objects of the files known unchanged are checked as status checks them (a
        # stat against the verification record; a mismatch is hashed). One that is missing
        # or went bad is stored again from the file, while its good bytes are at hand; and
        # with every object's stat known, what is stored can be marked clean.
        hashing = {id(f) for f in todo}
        known = [f for f in files if id(f) not in hashing and f.oid is not None]
        seen = {**stats, **{f.oid: f.key for f in known
                            if f.link == "hardlink" and f.nlink > 1}}
        # (Those of a mark whose objects' digest holds are as sound as when it was made, and
        # those of a hard link found by its stat in the records, as when they were made.)
        oids = {f.oid for f in known}
        held = ((oids & marked.keys()) | proven.keys()) - corrupt
        check = checker.check(oids - held, jobs, progress, seen=seen)
        corrupt |= check.corrupt
        again = [f for f in known if f.oid in check.bad or f.oid in corrupt]
        todo += again
        # A missing object that was once verified was lost; one never verified was never
        # stored (the files were added with --no-commit, or hashed as a stage's dep).
        lost = repo.state.verified_objects(check.missing).keys() if check.missing else set()
        restored = {f.path for f in again if f.oid not in check.missing or f.oid in lost}
        sound = {o: marked[o] if o in marked else proven[o] for o in held}
        sound.update(check.keys)
        unlinked = _copies_to_link(repo, known, again, sound) if link else []
    hashed_paths = {f.path for f in todo}
    importer = Importer(repo.root, repo.cache, repo.linker, save=save, corrupt=corrupt,
                        link=link)
    results = run_batched(todo, importer.run, jobs, progress, "Adding" if save else "Hashing",
                          processes=True, codec=importer.codec, size=file_size)
    if save:
        # An object found stored before was not written here: it is checked like those
        # of the unchanged files, and one missing or gone bad is stored again from the file.
        found = _check_found(repo, checker, todo, results, sound, jobs, progress)
        corrupt |= found.bad
        restored |= {f.path for f, imp in zip(todo, results) if imp.oid in found.bad}
        sound = {**sound, **found.keys}
    filled = _newly_stored(paths, todo, results, restored) if save else {}
    rows, verified = [], []
    # A file linked to its object has one more name now: the worker counted it, unless other
    # files with the same content were linked to the same inode in this run too.
    shared = Counter(imp.oid for imp in results if imp.nlink is not None)
    racy = started - RACY_NS
    for f, imp in zip(todo, results):
        f.oid = imp.oid
        f.key, f.link = imp.state.key, imp.state.link  # as the file is now
        if imp.nlink is not None:
            f.nlink = imp.nlink if shared[imp.oid] == 1 else \
                os.lstat(f"{repo.root}/{f.path}").st_nlink
        # A file linked into the cache became its object, whose verification record answers
        # for it (known_oids): it needs no row. Unless it was modified within a clock tick of
        # being read: a write since may have kept its mtime, so it gets a row that will not
        # be trusted and its object no record (both are hashed again when next looked at).
        linked = imp.verified is not None and imp.state.link == "hardlink"
        if linked and imp.state.key[1] < racy:
            verified.append((imp.oid, imp.verified))
            continue
        rows.append((f.path, imp.state))
        if imp.verified is not None and not linked:
            verified.append((imp.oid, imp.verified))

    verified = _settle_twins(repo, verified)

    # The listings are encoded by whichever process has less to do: the child, unless this
    # one has few rows to write (a re-add of a few changed files: its child took 0.5 s, and
    # this process waited for it with nothing to do). With the listings, the child builds
    # the trees too, while this process writes the rows (a first add of 50,000 files: the
    # build took 0.13-0.18 s, and the rows 0.4 s beside the child's 0.25 s).
    listings_here = not save or len(rows) + len(verified) < len(files) // 4
    # (Sub-folders reused by their marks are put back from their recorded listing.)
    backs = {p: repo.state.listing(recorded[p].oid) for p in taken} if save else {}
    building = _Building(paths, nodes, reused, taken, backs, hashed_paths, save, trees)
    # A forked child writes the manifests, encodes the listings and makes the clean marks,
    # while this process writes the state DB. Threads would not do: SQLite lets go of the
    # GIL for every row, so next to busy threads 50,000 state rows took 1.2 s, not 0.2 s.
    if listings_here:
        built: _BuiltAll | None = building.run()
        job = partial(_finish_trees, repo, built, verified, started, None, sound)
        fork = len(built.trees) >= TREE_FORK_MIN
    else:
        built = None
        job = partial(_build_and_finish, repo, building, verified, started, sound)
        fork = sum(len(listing.dirs) for _, listing in scanned) >= TREE_FORK_MIN
    with in_background(job, fork=fork) as finished:
        if built is not None:
            repo.state.put_valid_trees(built.trees)
        repo.state.put_files(rows)
        # Rows of files gone since (deleted, renamed: a folder made again under new names)
        # would pile up with each new version of the folder. (Folders only: `add` of
        # 10,000 files is not 10,000 more queries.)
        for out_path, listing in scanned:
            if listing.kind == "dir":
                repo.state.prune_files(out_path, listing.paths)
        checker.record(verified)
        listings = []
        if built is not None and save:
            # A tree stored before (a re-add of an unchanged folder) has its listing already.
            listed = repo.state.have_listings(b.oid for _, _, b, _ in built.nodes
                                              if b.type == "dir")
            listings = _listings(built.nodes, listed)
        done = finished()
    if built is None:
        assert done.stored is not None
        repo.state.put_valid_trees(done.trees)
        listed = repo.state.have_listings(oid for oid, _ in done.listings)
        listings = [(oid, data) for oid, data in done.listings if oid not in listed]
    checker.record(done.written)
    repo.state.clear_corrupt(oid for oid, _ in verified if oid in corrupt)
    for oid, data in listings:
        repo.state.put_listing(oid, data)
    repo.state.put_marks(done.marks)
    stored = list(done.stored if built is None else built.stored)
    if restored or filled:
        repaired = _per_output(restored, paths)
        stored = [replace(s, repaired=repaired.get(s.path, 0),
                          newly_stored=filled.get(s.path, 0)) for s in stored]
    if unlinked:
        by_output = _by_output(unlinked, paths)
        stored = [replace(s, unlinked=tuple(by_output.get(s.path, ()))) for s in stored]
    return stored


def _copies_to_link(repo: Repo, known: list[WsFile], again: list[WsFile],
                    sound: Mapping[str, StatKey]) -> list[RelPath]:
    """Of the files found unchanged, those that are not links to their objects although
    ``cache.type`` links: private copies that ``unprotect`` made, say. A hard link, and a
    symlink (whose stat is its target's), has its object's inode; ``sound`` holds the
    objects' stat. (Executable files are never shared links.)"""
    if _link_kind(repo) not in SHARED_TYPES:
        return []
    redo = {id(f) for f in again}
    # (Empty files are left as they are: they take no space, and they are the files whose
    # object reaches the most names a file can have, 65,000 on ext4, past which a link
    # would be a copy again at every add.)
    return [f.path for f in known if not f.exec and f.key[2] and id(f) not in redo
            and (key := sound.get(f.oid)) is not None and key[0] != f.key[0]]


def _link_kind(repo: Repo) -> str | None:
    """The link type a placement would use: cache.type's first that works, where a hard
    link cannot cross filesystems (with the cache on another disk, relinking copies would
    only copy them again, at every add)."""
    usable = [k for k in repo.linker.order if not repo.linker.ruled_out(k)]
    if "hardlink" in usable:  # (two stats, only where hard links are asked for)
        try:
            if os.stat(repo.cache_dir).st_dev != os.stat(repo.root).st_dev:
                usable.remove("hardlink")
        except OSError:
            return None
    return usable[0] if usable else None


def _by_output(files: Iterable[RelPath], outputs: list[RelPath]
               ) -> dict[RelPath, list[RelPath]]:
    """``files`` grouped by the output that holds each (by their paths: the output's own,
    or one of its folders'), in one pass."""
    outs = set(outputs)
    groups: dict[RelPath, list[RelPath]] = {}
    for path in files:
        at = path
        while at not in outs and "/" in at:
            at = at.rpartition("/")[0]
        if at in outs:
            groups.setdefault(at, []).append(path)
    return groups


def _newly_stored(outputs: list[RelPath], todo: list[WsFile], results: list[Imported],
                  restored: set[RelPath]) -> dict[RelPath, int]:
    """Per output, the files whose objects were written here, the repaired ones aside: their
    bytes are new to the cache (or were added with --no-commit). One output's count takes
    no paths (50,000 files: 3 ms, not 40)."""
    if len(outputs) == 1:
        n = sum(1 for imp in results if imp.verified is not None)
        if restored:
            n -= sum(1 for f, imp in zip(todo, results)
                     if imp.verified is not None and f.path in restored)
        return {outputs[0]: n} if n else {}
    return _per_output({f.path for f, imp in zip(todo, results)
                        if imp.verified is not None and f.path not in restored}, outputs)


def _per_output(files: set[RelPath], outputs: list[RelPath]) -> dict[RelPath, int]:
    """How many of ``files`` each output holds (by their paths: the output's own, or one
    of its folders'), in one pass (20,000 outputs would make a pass each quadratic)."""
    return {out: len(held) for out, held in _by_output(files, outputs).items()}


def _check_found(repo: Repo, checker: ObjectChecker, todo: list[WsFile],
                 results: list[Imported], sound: Mapping[str, StatKey], jobs: int,
                 progress: Progress) -> ObjectCheck:
    """Check the objects that files just hashed found stored (any but those written in this
    run or checked before it); the files of one missing or corrupt are stored again, their
    ``results`` replaced."""
    written = {imp.oid for imp in results if imp.verified is not None}
    oids = {imp.oid for imp in results if imp.verified is None} - written - sound.keys()
    if not oids:
        return ObjectCheck(frozenset(), frozenset(), {})
    # A file just made a hard link of its object has that object's stat.
    seen = {imp.oid: imp.state.key for imp in results
            if imp.verified is None and imp.state.link == "hardlink"}
    check = checker.check(oids, jobs, progress, seen=seen)
    if check.bad:
        again = [n for n, imp in enumerate(results) if imp.oid in check.bad]
        importer = Importer(repo.root, repo.cache, repo.linker, save=True, corrupt=check.bad)
        redone = run_batched([todo[n] for n in again], importer.run, jobs, progress, "Adding",
                             processes=True, codec=importer.codec, size=file_size)
        for n, imp in zip(again, redone):
            results[n] = imp
    return check


def _settle_twins(repo: Repo, verified: list[tuple[str, StatKey]]) -> list[tuple[str, StatKey]]:
    """``verified`` with one stat per object. Two forked workers may each store an object
    of the same bytes (each listed its folder before the other wrote it): the later write
    replaced the earlier, so the object's stat is taken again here."""
    seen: dict[str, StatKey] = {}
    twice = set()
    for oid, key in verified:
        if seen.setdefault(oid, key) != key:
            twice.add(oid)
    if not twice:
        return verified
    return [(oid, key) for oid, key in verified if oid not in twice] + [
        (oid, stat_key(os.stat(repo.cache.path_str(oid)))) for oid in sorted(twice)]


def save_outputs(repo: Repo, items: list[tuple[RelPath, RelPath]], pointers: dict[RelPath, Pointer],
                 *, save: bool = True, jobs: int | None = None, link: bool = True,
                 progress: Progress = NULL_PROGRESS) -> CommitResult:
    """Hash (and cache, when ``save``) each (pointer, output path); rewrite the pointers;
    record the change in git (see ``record_in_git``).

    Everything is scanned and validated before anything is written.
    """
    saved, git_files = _save_pointers(repo, items, pointers, save=save, jobs=jobs,
                                      progress=progress, link=link)
    git = record_in_git(repo, git_files)
    return CommitResult(tuple(saved), git.files, git.staged)


def _save_pointers(repo: Repo, items: list[tuple[RelPath, RelPath]],
                   pointers: dict[RelPath, Pointer], *, save: bool, jobs: int | None,
                   progress: Progress, link: bool = True
                   ) -> tuple[list[Saved], list[RelPath]]:
    """:func:`save_outputs` up to git: what was saved, and the files it changed."""
    for ptr_path, out_path in items:
        if (ptr := pointers.get(ptr_path)) is not None and ptr.pending is not None:
            raise TargetError(f"'{out_path}' is an import recorded without its data "
                              f"({ptr_path}): what is there is not what it records",
                              hint=f"`mlvc pull {out_path}` gets its data; `mlvc remove "
                                   f"{ptr_path}` first to track a file of yours there")
    recorded = {o.path: o for ptr_path, out_path in items if (ptr := pointers.get(ptr_path))
                for o in ptr.outs if o.path == out_path}
    stored = store_paths(repo, [p for _, p in items], save=save, jobs=jobs, progress=progress,
                         recorded=recorded, link=link)
    saved: list[Saved] = []
    git_files: list[RelPath] = []
    updated = dict(pointers)
    for (pointer_path, out_path), rec in zip(items, stored):
        out = rec.out
        assert out is not None
        old = updated.get(pointer_path)
        previous = next((o for o in old.outs if o.path == out_path), None) if old else None
        outs = tuple(out if o.path == out_path else o for o in old.outs) if previous else (
            (*old.outs, out) if old else (out,))
        updated[pointer_path] = Pointer(pointer_path, outs, old.source if old else None)
        saved.append(Saved(pointer_path, out, previous is None or previous != out, rec.hashed,
                           rec.repaired, rec.newly_stored))

    changed = [p for p in dict.fromkeys(p for p, _ in items) if updated[p] != pointers.get(p)]
    write_pointers(repo.root, [updated[p] for p in changed], progress)
    git_files += changed
    git_files += gitignore.add_many(repo.root, [out_path for _, out_path in items])
    unlinked = {s.out.path: rec.unlinked for s, rec in zip(saved, stored) if rec.unlinked}
    if unlinked:
        saved = relink(repo, saved, unlinked, jobs, progress)
    return saved, git_files


def relink(repo: Repo, saved: list[Saved], unlinked: dict[RelPath, tuple[RelPath, ...]],
            jobs: int | None, progress: Progress) -> list[Saved]:
    """Link the ``unlinked`` files of the outputs just saved to their objects, as
    ``cache.type`` asks (DVC does so too): after ``unprotect`` and an edit of a few files,
    the rest would stay private copies, taking the space again. Their outputs' records are
    new, so it is a checkout of those files."""
    from mlvc.ops.checkout import checkout_selected

    # The marks just made describe the copies; a copy made again later (unprotect) could
    # take a freed inode with the same stat and match them, and would not be linked again.
    # (Dropped first: the checkout marks what it placed in bulk.)
    repo.state.delete_marks(unlinked)
    chosen = [Selected(Tracked(s.pointer, s.out), "") for s in saved if s.out.path in unlinked]
    result = checkout_selected(repo, chosen, relink=True, jobs=jobs, progress=progress,
                               relink_only={p for files in unlinked.values() for p in files})
    counts = _per_output(set(result.relinked), list(unlinked))
    return [replace(s, relinked=counts.get(s.out.path, 0)) for s in saved]


@dataclass(frozen=True, slots=True)
class _Finished:
    written: list[tuple[str, StatKey]]  # the manifests and their stat
    listings: list[tuple[str, bytes]]  # (tree oid, encoded listing) of each folder stored
    marks: list[Mark]
    # When the child built the trees too (_build_and_finish): what building gave.
    stored: list[Stored] | None = None
    trees: list[str] = field(default_factory=list)  # the oids of the manifests


_Node = tuple[RelPath, WsDir | WsFile, Built, "_Back | None"]


@dataclass(frozen=True, slots=True)
class _BuiltAll:
    stored: list[Stored]
    trees: dict[str, bytes]  # each manifest made, by oid
    nodes: list[_Node]  # (path, node, built, what was put back) of each output to finish


@dataclass(frozen=True, slots=True)
class _Building:
    """Building the trees of the outputs stored by ``_store`` (see :meth:`run`)."""

    paths: list[RelPath]
    nodes: list[WsFile | WsDir | None]
    reused: dict[RelPath, dict[RelPath, TreeEntry]]
    taken: dict[RelPath, tuple[Parts, list[tuple[WsDir, dict[str, WsDir]]]]]
    backs: dict[RelPath, bytes | None]  # each reused output's recorded listing
    hashed: set[RelPath]  # the files read
    save: bool
    collect: dict[str, bytes] | None = None  # gets every manifest built (see store_paths)

    def run(self) -> _BuiltAll:
        """Each output's tree, around its sub-folders that were reused (then put back in
        it, from its recorded listing, for its listing and marks)."""
        stored: list[Stored] = []
        nodes: list[_Node] = []
        trees: dict[str, bytes] = {}
        for out_path, node in zip(self.paths, self.nodes):
            if node is None:
                stored.append(Stored(out_path, None, 0))
                continue
            built = build(node, self.reused.get(out_path, {}))
            if self.collect is not None:
                self.collect.update(built.trees)
            if self.save:
                trees.update(built.trees)
                if out_path not in self.reused:
                    nodes.append((out_path, node, built, None))
                elif (back := _put_back(self.backs[out_path], out_path,
                                            *self.taken[out_path])) \
                        is not None:
                    nodes.append((out_path, node, built, back))
            out = Out(out_path, built.oid, built.type, built.size, built.nfiles, built.exec)
            stored.append(Stored(out_path, out,
                                 sum(1 for f in iter_files(node) if f.path in self.hashed)))
        return _BuiltAll(stored, trees, nodes)


def _build_and_finish(repo: Repo, building: _Building, verified: list[tuple[str, StatKey]],
                      started: int, sound: Mapping[str, StatKey]) -> _Finished:
    """:meth:`_Building.run`, then :func:`_finish_trees` with every listing (the caller
    drops those it has). Runs in a forked child: it must not use the state DB."""
    built = building.run()
    done = _finish_trees(repo, built, verified, started, set(), sound)
    return replace(done, stored=built.stored, trees=list(built.trees))


def _trees_of(built: Built, back: _Back | None
              ) -> tuple[list[str], list[tuple[RelPath, str]]]:
    """The manifests of a built output, and the (path, tree oid) of its folders, with those
    of the sub-folders put back in it."""
    trees = [oid for oid, _ in built.trees]
    folders = list(built.folders)
    if back is not None:
        trees += [oid for _, oid in back.folders]
        folders += back.folders
    return trees, folders


def _listings(built_nodes: list[tuple[RelPath, WsDir | WsFile, Built, _Back | None]],
              listed: set[str]) -> list[tuple[str, bytes]]:
    """The flattened listing of each built folder whose tree is not in ``listed``: what the
    next status would otherwise work out again from the manifests."""
    from mlvc.workspace.compare import encode_parts
    from mlvc.workspace.scan import iter_dirs

    listings = []
    for out_path, node, built, back in built_nodes:
        if built.type == "dir" and built.oid not in listed:
            trees, folders = _trees_of(built, back)
            files = ((f.path, f.oid or "", f.exec, f.key[2]) for f in iter_files(node))
            dirs = [d.path for d in iter_dirs(node)]
            listings.append((built.oid, encode_parts(out_path, files, dirs, set(trees),
                                                     folders)))
    return listings


def _finish_trees(repo: Repo, built_all: _BuiltAll, verified: list[tuple[str, StatKey]],
                  started: int, listed: set[str] | None, sound: Mapping[str, StatKey]
                  ) -> _Finished:
    """Write the manifests; encode the listings of the trees not in ``listed`` (none when it
    is None: the caller does); mark what was just stored as clean, when every object's stat
    is known from here (``verified``, the manifests written, and ``sound``: those found
    sound before; for sub-folders put back, what their marks had).
    Runs in a forked child: it must not use the state DB.
    """
    built_nodes = built_all.nodes
    written = [(oid, StatKey(*key))
               for oid, key in repo.cache.ensure_many(list(built_all.trees.items()))]
    keys = dict(sound)
    keys.update(verified)
    keys.update(written)
    objects_dir = str(repo.cache.objects_dir)
    listings = [] if listed is None else _listings(built_nodes, listed)
    marks = []
    for out_path, node, built, back in built_nodes:
        trees, folders = _trees_of(built, back)
        known = keys if back is None else {**keys, **back.keys}
        needed = [f.oid or "" for f in iter_files(node)] + trees
        # A mark needs the stat of every object, a hard-linked file's too (it is its object's
        # key). Without them (a re-add of what was stored before) the scan is not digested.
        if all(o in known for o in needed):
            # (the reused sub-folders' marks hold for the new tree: theirs is the same)
            marks += output_marks(out_path, built.oid, Listing.of(node), node, dict(folders),
                                  objects_dir, known, needed, started,
                                  back.subs if back is not None else ())
    return _Finished(written, listings, marks)


@dataclass(frozen=True, slots=True)
class _Back:
    """What sub-folders reused by a commit add to the new tree (see ``_put_back``)."""

    subs: frozenset[RelPath]  # the reused sub-folders
    folders: list[tuple[RelPath, str]]  # (path, tree oid) of each folder in them
    keys: dict[str, StatKey]  # the stat of their objects, as their marks have it


def _put_back(data: bytes | None, out_path: RelPath, part: Parts,
              holders: list[tuple[WsDir, dict[str, WsDir]]]) -> _Back | None:
    """Put the reused sub-folders back in the tree built around them, where the scan listed
    them, with their files' oids from the output's recorded listing (``data``); None (and
    nothing put back) without that listing.

    They are clean by their marks: as recorded, and their objects (manifests too) with the
    stat the marks hold. A file with other names whose object the mark does not list was
    marked as a hard link of that object: the object's stat is the file's."""
    from mlvc.workspace.compare import decode_listing
    from mlvc.workspace.scan import iter_dirs

    if data is None:
        return None
    rec = decode_listing(data, out_path)
    if rec.dir_oids is None:
        return None
    keys = part.keys
    linked: dict[str, StatKey] = {}
    folders: list[tuple[RelPath, str]] = []
    subs = [sub for holder, before in holders for name, sub in before.items()
            if name not in holder.dirs]
    for sub in subs:
        for f in iter_files(sub):
            want = rec.files.get(f.path)
            if want is None:
                return None
            f.oid = want.oid
            if f.nlink > 1 and f.oid not in keys:
                f.link = "hardlink"
                linked[f.oid] = f.key
        for d in iter_dirs(sub):
            if d.path not in rec.dir_oids:
                return None
            folders.append((d.path, rec.dir_oids[d.path]))
    for holder, before in holders:  # in the order the scan listed them
        holder.dirs.clear()
        holder.dirs.update(before)
    return _Back(frozenset(part.clean), folders, {**keys, **linked})


def commit(repo: Repo, targets: list[str] | None = None, *, cwd: Path | None = None,
           force: bool = False, jobs: int | None = None, with_deps: bool = False,
           link: bool = True, progress: Progress = NULL_PROGRESS) -> CommitResult:
    """Record tracked outputs as they are now. A stage whose cmd, deps or params changed
    since it last ran needs ``force`` (ConfirmationRequired otherwise, nothing written).
    ``with_deps``: see :func:`mlvc.ops.with_deps_targets`. Without ``link``, the files stay
    as they are (see :func:`store_paths`)."""
    paths, here = user_targets(repo, targets or [], cwd, with_deps=with_deps)
    index = Index.load(repo.root, repo.ignore, here=here)
    # A stage that has not run yet is recorded when one of its outputs is named: its
    # command was run by hand.
    unrun, paths = index.unrecorded_stages(paths)
    selected = index.select(paths, here) if paths or not unrun else []
    # A part of a tracked folder cannot be recorded alone: the whole output's new tree
    # would take in the changes beside it too, which were not asked for.
    for s in selected:
        if s.within:
            raise TargetError(f"'{seen_from(s.within, here)}' is a part of a tracked folder: "
                              "commit records whole outputs",
                              hint=inside_hint(index, s.within, "commit {}", here))
    # With no target (or the whole project), such a stage is left alone: say so when its
    # outputs are on disk, since `status` calls them "never ran" and nothing here would.
    not_run = () if unrun or any(paths) else tuple(
        d for d in index.declared
        if not d.recorded and os.path.lexists(to_fs(repo.root, d.path)))
    items = list(dict.fromkeys((s.tracked.pointer, s.tracked.out.path) for s in selected
                               if s.tracked.stage is None))
    stages = list(dict.fromkeys([*(s.tracked.stage for s in selected if s.tracked.stage),
                                 *unrun]))
    with repo.lock():
        if not stages:
            result = save_outputs(repo, items, index.pointers, jobs=jobs, link=link,
                                  progress=progress)
            return replace(result, not_run=not_run)
        from mlvc.ops.repro import check_committable, commit_stages

        current = check_committable(repo, stages, force=force, jobs=jobs, here=here)
        saved, git_files = _save_pointers(repo, items, index.pointers, save=True, jobs=jobs,
                                          progress=progress, link=link)
        stage_saved, ignored = commit_stages(repo, current, jobs=jobs, link=link,
                                             progress=progress)
        git_files += [f for f in ignored if f not in git_files]
        if any(s.changed for s in stage_saved):
            git_files.append(LOCK_FILE)
        # One record in git for the pointers, .gitignore files and mlvc.lock
        # (core.autostage stages them all).
        git = record_in_git(repo, git_files)
        return CommitResult(tuple(saved + stage_saved), git.files, git.staged, not_run)
