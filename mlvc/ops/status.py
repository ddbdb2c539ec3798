"""``mlvc status``: how the workspace and cache differ from what pointers record."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from mlvc.errors import FormatError, MlvcError
from mlvc.ops import user_targets
from mlvc.paths import RelPath, to_fs
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace.index import Index, Selected
from mlvc.workspace.marks import make_mark, scan_by_marks
from mlvc.workspace.pointer import POINTER_SUFFIX
from mlvc.workspace.scan import Listing
from mlvc.workspace.state import StatKey

if TYPE_CHECKING:
    from mlvc.ops.imports import SourceCheck
    from mlvc.pipeline.status import Reason

# The full comparison's modules (recorded trees, hashing, object checks) are imported by
# ``_compare`` when an output needs it: a no-op status, every output clean by its mark,
# starts ~15 ms sooner without them.


@dataclass(frozen=True, slots=True)
class OutStatus:
    pointer: RelPath
    path: RelPath
    added: tuple[RelPath, ...] = ()
    deleted: tuple[RelPath, ...] = ()
    modified: tuple[RelPath, ...] = ()
    not_in_cache: tuple[RelPath, ...] = ()
    corrupt_in_cache: tuple[RelPath, ...] = ()
    # Recorded folders that hold another mlvc project now (``mlvc init --force``): left alone.
    other_projects: tuple[RelPath, ...] = ()
    problem: str | None = None  # the recorded tree itself could not be read
    missing: bool = False  # nothing at all in the workspace
    # With a recorded tree not in the cache: whether the workspace holds that very data (as
    # after `add --no-commit`; `mlvc commit` stores it), None when not known.
    holds_recorded: bool | None = None
    # Recorded paths still there that .mlvcignore leaves out now: not "deleted".
    ignored: tuple[RelPath, ...] = ()

    @property
    def clean(self) -> bool:
        return not (self.added or self.deleted or self.modified or self.not_in_cache
                    or self.corrupt_in_cache or self.other_projects or self.problem
                    or self.missing or self.ignored)

    @property
    def restorable(self) -> bool:
        """Whether ``checkout`` could put back some of what changed: not when the cache
        lacks the recorded data (a fresh clone before its pull)."""
        if self.problem:
            return False
        lacking = set(self.not_in_cache)
        return bool(self.added or (self.missing and not lacking)
                    or any(p not in lacking for p in (*self.modified, *self.deleted)))

    @property
    def committable(self) -> bool:
        """Whether ``commit`` has workspace changes to record."""
        return bool(self.modified or self.added or self.deleted) and not self.missing

    def to_json(self) -> dict:
        doc: dict = {"pointer": self.pointer, "path": self.path}
        for key in ("added", "deleted", "modified", "not_in_cache", "corrupt_in_cache",
                    "other_projects", "ignored"):
            if getattr(self, key):
                doc[key] = list(getattr(self, key))
        if self.problem:
            doc["problem"] = self.problem
        if self.missing:
            doc["missing"] = True
        if self.holds_recorded is not None:
            doc["holds_recorded"] = self.holds_recorded
        return doc


@dataclass(frozen=True, slots=True)
class StageStatus:
    stage: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class StatusResult:
    outs: tuple[OutStatus, ...] = field(default_factory=tuple)
    stages: tuple[StageStatus, ...] = ()  # stages that are out of date, and why
    # With nothing tracked: pointer files git tracks that .mlvcignore leaves out, so that
    # mlvc passes them by (their outputs are then in no command's sight).
    hidden_pointers: tuple[RelPath, ...] = ()
    # Why what was learned (hashes, marks) could not be remembered: a full disk, say.
    unsaved: str | None = None
    # Imported outputs' sources asked whether they moved (``sources=True``).
    sources: tuple[SourceCheck, ...] = ()
    # Imports recorded without their data (``--no-download``, ``--no-exec``).
    pending: tuple[PendingImport, ...] = ()

    @property
    def clean(self) -> bool:
        return all(o.clean for o in self.outs) and not self.stages and not any(
            c.moved for c in self.sources) and not self.pending

    @property
    def changed(self) -> tuple[OutStatus, ...]:
        return tuple(o for o in self.outs if not o.clean)

    def to_json(self) -> dict:
        doc = {"clean": self.clean, "tracked": len(self.outs),
               "changed": [o.to_json() for o in self.changed],
               "stages": [{"stage": s.stage, "reasons": [str(r) for r in s.reasons]}
                          for s in self.stages]}
        if self.hidden_pointers:
            doc["hidden_pointers"] = list(self.hidden_pointers)
        if self.unsaved:
            doc["unsaved"] = self.unsaved
        if self.sources:
            doc["imports"] = [c.to_json() for c in self.sources]
        if self.pending:
            doc["pending"] = [p.to_json() for p in self.pending]
        return doc


@dataclass(frozen=True, slots=True)
class PendingImport:
    """An import recorded without its data: ``pull`` gets it from its source (as recorded;
    ``read`` is False with ``--no-exec``: as the source is then)."""

    pointer: RelPath
    path: RelPath
    read: bool

    def to_json(self) -> dict:
        return {"pointer": self.pointer, "path": self.path, "source_read": self.read}


def status(repo: Repo, targets: list[str] | None = None, *, cwd: Path | None = None,
           jobs: int | None = None, progress: Progress = NULL_PROGRESS,
           sources: bool = False, with_deps: bool = False) -> StatusResult:
    """How the workspace and cache differ from what is recorded. A reader: what it learns
    (hashes, marks) is remembered when the state DB can be written, and dropped (said in
    ``unsaved``) when it cannot, as on a full disk. With ``sources``, imported outputs'
    sources are asked whether they moved (network: see ``imports.check_sources``)."""
    state = repo.state
    was, state.best_effort = state.best_effort, True
    try:
        return _status(repo, targets, cwd, jobs, progress, sources, with_deps)
    finally:
        state.best_effort = was


def _status(repo: Repo, targets: list[str] | None, cwd: Path | None, jobs: int | None,
            progress: Progress, sources: bool, with_deps: bool = False) -> StatusResult:
    jobs = jobs or repo.jobs
    started = time.time_ns()
    paths, here = user_targets(repo, targets or [], cwd, with_deps=with_deps)
    index = Index.load(repo.root, repo.ignore, here=here)
    rest, pending = index.split_pending(paths)
    selected = index.select(rest, here) if rest is not None else []

    # A whole output that still matches its clean mark needs nothing more (see marks.py).
    stats: dict = {}  # the stat of marked objects, taken during the scan
    marked: dict = {}  # of those, the objects whose marks' digest holds (sound)
    listings, clean = scan_by_marks(
        repo.scanner, repo.state, str(repo.cache.objects_dir),
        [(s.within, None) if s.within else (s.tracked.out.path, s.tracked.out.oid)
         for s in selected], stats=stats, sound=marked)
    results = {i: OutStatus(s.tracked.pointer, s.tracked.out.path)
               for i, s in enumerate(selected) if clean[i]}
    rest = [i for i in range(len(selected)) if i not in results]
    if rest:
        results.update(_compare(repo, selected, listings, rest, started, jobs, progress,
                                stats, marked, here))
    stages: tuple[StageStatus, ...] = ()
    if not targets and (repo.root / "mlvc.yaml").is_file():
        from mlvc.ops.repro import pipeline_status

        # A stage's dep or output that is a tracked output just found clean is as recorded.
        known = {s.tracked.out.path: s.tracked.out for i, s in enumerate(selected)
                 if not s.within and results[i].clean}
        stages = tuple(StageStatus(n, r) for n, r in pipeline_status(repo, jobs, known))
    hidden: tuple[RelPath, ...] = ()
    if not selected and not stages and not pending and repo.scm is not None:
        # "Nothing is tracked" with pointer files in git: .mlvcignore hides them. (Asked
        # of git only here: a status with outputs would pay a git command for it.)
        hidden = tuple(p for p in repo.scm.tracked_like(f"*{POINTER_SUFFIX}")
                       if repo.ignore.is_ignored(p))
    checks: tuple[SourceCheck, ...] = ()
    if sources:
        imported = {s.tracked.pointer: index.pointers[s.tracked.pointer] for s in selected
                    if s.tracked.pointer in index.pointers
                    and index.pointers[s.tracked.pointer].source is not None}
        if imported:
            from mlvc.ops.imports import check_sources

            checks = check_sources(repo, list(imported.values()))
    return StatusResult(_merged([results[i] for i in range(len(selected))]), stages, hidden,
                        repo.state.unsaved, checks,
                        tuple(PendingImport(p.path, p.imported_path, p.source.read)
                              for p in pending if p.source is not None))


def _merged(outs: list[OutStatus]) -> tuple[OutStatus, ...]:
    """One status per output: parts of one output that several targets chose (listed next
    to each other, see ``Index.select``) are told as one."""
    merged: list[OutStatus] = []
    for out in outs:
        last = merged[-1] if merged else None
        if last is None or (last.pointer, last.path) != (out.pointer, out.path):
            merged.append(out)
            continue
        merged[-1] = OutStatus(out.pointer, out.path, *(
            tuple(sorted({*getattr(last, name), *getattr(out, name)}))
            for name in ("added", "deleted", "modified", "not_in_cache", "corrupt_in_cache",
                         "other_projects")), problem=last.problem or out.problem)
    return tuple(merged)


def _compare(repo: Repo, selected: list[Selected], listings: list[Listing], rest: list[int],
             started: int, jobs: int, progress: Progress,
             stats: dict[str, tuple[int, int, int]],
             marked: dict[str, StatKey], here: RelPath | None = None) -> dict[int, OutStatus]:
    """The full comparison, for the outputs in ``rest``: recorded trees, state rows, hashing
    where needed, and object checks. Sub-folders still clean by their own marks are left
    out (see ``marks.chunks``). Outputs and sub-folders found clean are marked.

    ``stats`` holds objects' stat taken during the scan, which sub-folder marks may use;
    ``marked``, those of them that are sound by their output's mark (see scan_by_marks).
    ``here`` is the user's folder, for the paths an error shows.
    """
    from mlvc.ops._outputs import (
        Parts,
        holds_recorded,
        load_recorded,
        refuse_unknown_parts,
        resolve,
    )
    from mlvc.workspace.compare import diff, leave_out, other_projects, view
    from mlvc.workspace.verify import ObjectChecker

    results: dict[int, OutStatus] = {}
    objects_dir = str(repo.cache.objects_dir)
    loaded = load_recorded(repo, [selected[i] for i in rest])
    parts = [Parts.of(repo, item.whole, listings[i], stats) for i, item in zip(rest, loaded)]
    nodes = {i: part.rest_of(listings[i]).tree() for i, part in zip(rest, parts)}
    views = [view(nodes[i], selected[i].within) for i in rest]
    refuse_unknown_parts(list(zip(loaded, views)), here)
    recs = [part.leave_out_recorded(item.recorded) for item, part in zip(loaded, parts)]
    others = [() if rec is None else other_projects(repo.root, rec, ws)
              for rec, ws in zip(recs, views)]
    recs = [None if rec is None else leave_out(rec, o) for rec, o in zip(recs, others)]

    # Only files that are recorded too need an oid: the rest are simply "added".
    need = [f for rec, ws in zip(recs, views) if rec is not None
            for p, f in ws.files.items() if p in rec.files]
    proven: dict[str, StatKey] = {}  # objects that hard links proved sound (known_oids)
    resolve(repo, need, [i.selected.within or i.selected.tracked.out.path for i in loaded],
            jobs, progress, proven)

    checker = ObjectChecker(repo.cache, repo.state)
    oids = set()
    for rec in recs:
        if rec is not None:
            oids |= rec.objects() | rec.trees
    # A hard-linked workspace file is its cache object: its stat from the scan will do.
    # (With a second link to the inode: if the object's name was deleted, it is missing.)
    linked = {f.oid: f.key for f in need
              if f.link == "hardlink" and f.nlink > 1 and f.oid is not None}
    held = oids & (marked.keys() | proven.keys())
    check = checker.check(oids - held, jobs, progress, seen=linked)
    keys = {}  # the stat of every object found sound: by a mark, a hard link, or checked
    for part in parts:
        keys.update(part.keys)
    keys.update((o, marked[o] if o in marked else proven[o]) for o in held)
    keys.update(check.keys)

    new_marks = []
    kept = {}  # the chunks of each output compared whole: other marks below it are stale
    unread = []  # whole outputs there whose recorded tree the cache lacks
    for i, item, ws, rec, part, elsewhere in zip(rest, loaded, views, recs, parts, others):
        t = item.selected.tracked
        if item.whole is not None and item.whole.type == "dir":  # (a file has none below)
            kept[t.out.path] = {c.path for c in part.chunks}
        # (``missing`` is about the whole output: a part of it gone lists its files.)
        whole = not item.selected.within
        if rec is None:
            results[i] = OutStatus(t.pointer, t.out.path, problem=item.problem,
                                   missing=whole and not ws.files and not ws.dirs)
            if whole and (ws.files or ws.dirs) and item.tree_missing:
                unread.append((i, item))
            continue
        changes = diff(rec, ws)
        gone = not ws.files and not ws.dirs
        ignored = () if gone else ignored_now(repo, changes.deleted)
        files = rec.files
        bad_trees = [t.out.path + "/"] if rec.trees & check.corrupt else []
        not_in_cache = tuple(sorted(p for p, w in files.items() if w.oid in check.missing))
        corrupt = tuple(sorted(p for p, w in files.items() if w.oid in check.corrupt))
        deleted = tuple(p for p in changes.deleted if p not in ignored) if ignored else \
            changes.deleted
        results[i] = result = OutStatus(
            t.pointer, t.out.path, changes.added, deleted, changes.modified,
            not_in_cache, corrupt + tuple(bad_trees), elsewhere,
            missing=whole and gone and bool(files or rec.dirs), ignored=ignored,
        )
        if not whole:
            continue
        if result.clean:
            mark = make_mark(t.out.path, t.out.oid, listings[i], nodes[i], objects_dir, keys,
                             rec.objects() | rec.trees | part.objects, started)
            if mark is not None:
                new_marks.append(mark)
        dirty = [*changes.added, *changes.deleted, *changes.modified, *not_in_cache, *corrupt,
                 *elsewhere]
        new_marks += part.new_marks(listings[i], nodes[i], dirty, objects_dir, keys, started,
                                    rec)
    repo.state.put_marks(new_marks)
    repo.state.prune_marks(kept)
    answers = holds_recorded(repo, [item for _, item in unread], jobs, progress)
    for (i, _), held in zip(unread, answers):
        results[i] = replace(results[i], holds_recorded=held)
    return results


def ignored_now(repo: Repo, missing: tuple[RelPath, ...]) -> tuple[RelPath, ...]:
    """Of recorded paths the scan did not find, those still there that .mlvcignore leaves
    out (a rule added after they were recorded). One lstat per path not found."""
    out = []
    for p in missing:
        path = p.rstrip("/")
        if os.path.lexists(to_fs(repo.root, path)) and repo.ignore.is_ignored(
                path, p.endswith("/")):
            out.append(p)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class CloudEntry:
    path: RelPath  # a folder's manifest is shown as "folder/"
    oid: str
    state: str  # "not on remote" | "not in cache" | "missing" (in neither)


@dataclass(frozen=True, slots=True)
class CloudStatusResult:
    remote: str
    objects: int
    entries: tuple[CloudEntry, ...]

    @property
    def clean(self) -> bool:
        return not self.entries

    def of(self, state: str) -> tuple[RelPath, ...]:
        return tuple(e.path for e in self.entries if e.state == state)

    def to_json(self) -> dict:
        return {"remote": self.remote, "clean": self.clean, "objects": self.objects,
                "not_on_remote": list(self.of("not on remote")),
                "not_in_cache": list(self.of("not in cache")),
                "missing": list(self.of("missing"))}


def cloud_status(repo: Repo, targets: list[str] | None = None, *, cwd: Path | None = None,
                 remote: str | None = None, jobs: int | None = None,
                 all_branches: bool = False, all_tags: bool = False,
                 all_commits: bool = False, with_deps: bool = False,
                 refresh: bool = True, progress: Progress = NULL_PROGRESS
                 ) -> CloudStatusResult:
    """Which objects of the tracked outputs the remote lacks, and which the cache lacks
    (of the workspace, and of every branch, tag or commit with ``all_*``, as ``push`` and
    ``fetch`` take them).

    The remote is asked, not its local index, so the answer is current; what it has is then
    remembered in the index, and what it lacks forgotten there. Folder listings the cache
    lacks are read from the remote (and checked), without storing them.

    Without ``refresh`` (DVC's ``--no-remote-refresh``), the remote is not asked at all: the
    local index of what it was last seen to have answers (what the index does not know is
    "not on remote"), and a folder whose listing the cache lacks is "missing".
    """
    from mlvc.objects.tree import Tree
    from mlvc.ops._objects import collect_sources, expand
    from mlvc.ops._remote import connect, unreachable
    from mlvc.parallel import threaded

    jobs = jobs or repo.jobs
    sources, _, here = collect_sources(repo, targets, cwd, all_branches=all_branches,
                                       all_tags=all_tags, all_commits=all_commits,
                                       traveling=True, with_deps=with_deps)
    rem, index = connect(repo, remote)
    try:
        def read_trees(oids: list[str]) -> dict:
            if not refresh:  # (the remote is not asked)
                return {oid: FileNotFoundError(oid) for oid in oids}
            out: dict = {}
            for oid, data in threaded(oids, rem.read_object, jobs):
                if isinstance(data, Exception):
                    out[oid] = data
                elif isinstance(data, BaseException):
                    raise data
                else:
                    try:
                        out[oid] = Tree.from_bytes(data, oid)
                    except FormatError as exc:
                        out[oid] = exc
            return out

        try:
            if refresh:
                index.sync_epoch(rem.epoch())
            objs = expand(repo, sources, read_trees, here=here)
            on_remote = rem.contains(objs.all_oids(), jobs, progress) if refresh else \
                index.known(objs.all_oids())
        except MlvcError:
            raise
        except Exception as exc:  # noqa: BLE001 - one clear error
            raise unreachable(rem, exc) from exc
        if refresh:
            index.add(on_remote)
            # What the index said the remote has but it lacks (deleted by hand): forgotten,
            # so that the `mlvc push` this suggests uploads it.
            index.forget(index.known(objs.all_oids() - on_remote), objs.trees)
        entries = []
        for oid, (obj, _why) in objs.unreadable.items():
            entries.append(CloudEntry(obj.path + "/", oid, "missing"))
        # Of a part of a folder, its own manifests: the folder's others, on the way to it or
        # beside it, are sent once the whole folder is (see docs/remotes.md).
        asked = objs.trees if objs.asked_trees is None else {
            oid: obj for oid, obj in objs.trees.items() if oid in objs.asked_trees}
        for kind, table in (("file", objs.files), ("tree", asked)):
            for oid, obj in table.items():
                local, remote_has = repo.cache.has(oid), oid in on_remote
                if local and remote_has:
                    continue
                state = "not on remote" if local else "not in cache" if remote_has else "missing"
                entries.append(CloudEntry(obj.path + ("/" if kind == "tree" else ""), oid, state))
        return CloudStatusResult(rem.name, len(objs.files) + len(asked),
                                 tuple(sorted(entries, key=lambda e: (e.path, e.oid))))
    finally:
        index.close()
