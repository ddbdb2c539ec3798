"""``mlvc repro``: run the stages whose inputs changed, in dependency order.

Each stage is judged just before it would run, after the stages it depends on have
finished, so a stage whose upstream re-ran but produced the same bytes is not run again.
Before running a command, the run cache is asked whether these exact inputs ran before;
if so, the outputs are restored from the cache instead. A stage's lock entry is written
(atomically, the whole lock) only after it succeeded, so the lock is valid after each stage.
With ``jobs > 1`` independent stages run at the same time, their output captured and handed
to ``on_event`` line by line.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from mlvc.errors import (
    ConfirmationRequired,
    CorruptObjectError,
    MlvcError,
    ObjectMissingError,
    PipelineError,
)
from mlvc.fsutil import rmtree
from mlvc.ops import GLOB_CHARS, record_in_git, refuse_git_tracked_outputs
from mlvc.ops.commit import Saved, Stored, relink, store_paths
from mlvc.paths import (
    RelPath,
    folder_in,
    from_user,
    is_within,
    overlaps,
    seen_from,
    to_fs,
    typed_in,
)
from mlvc.pipeline.graph import Graph, build_graph
from mlvc.pipeline.loader import load_pipeline
from mlvc.pipeline.lockfile import LockEntry, load_lock, write_lock
from mlvc.pipeline.model import LOCK_FILE, PIPELINE_FILE, Pipeline, Stage
from mlvc.pipeline.params import read_params, select
from mlvc.pipeline.runcache import RunCache, run_key
from mlvc.pipeline.runner import run_stage
from mlvc.pipeline.status import Current, Reason, input_changes, missing_data, reasons
from mlvc.procs import Commands, Terminated, own_groups_here
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace import gitignore
from mlvc.workspace.compare import flatten
from mlvc.workspace.index import Index, Selected, Tracked
from mlvc.workspace.links import unprotect_file
from mlvc.workspace.pointer import Out

if TYPE_CHECKING:
    from mlvc.ops._remote import TransferResult

LOCK_WRITE_EVERY = 0.5  # least seconds between rewrites of mlvc.lock while stages finish


@dataclass(frozen=True, slots=True)
class StageEvent:
    stage: str
    kind: str  # start | output | kept | restored | done | failed | unchanged | frozen | skipped
    #            | would run
    text: str = ""
    reasons: tuple[Reason, ...] = ()
    hint: str = ""  # of a failed stage: what the user can do about it
    kept: tuple[KeptFile, ...] = ()  # of a "kept" event


@dataclass(frozen=True, slots=True)
class KeptFile:
    """A file of a stage output, about to be replaced or removed, whose bytes mlvc.lock did
    not record: kept in the cache as ``oid`` (at ``object_path``) before it went."""

    path: RelPath
    oid: str
    object_path: str

    def to_json(self) -> dict:
        return {"path": self.path, "oid": self.oid, "object": self.object_path}


@dataclass(frozen=True, slots=True)
class StageResult:
    name: str
    state: str  # ran | restored | unchanged | frozen | would run | failed | skipped
    reasons: tuple[Reason, ...] = ()
    error: str | None = None
    seconds: float = 0.0
    hint: str | None = None
    kept: tuple[KeptFile, ...] = ()  # the user's bytes the stage replaced, kept in the cache

    def to_json(self) -> dict:
        doc: dict = {"stage": self.name, "state": self.state,
                     "reasons": [str(r) for r in self.reasons]}
        if self.kept:
            doc["kept"] = [k.to_json() for k in self.kept]
        if self.error:
            doc["error"] = self.error
        if self.hint:
            doc["hint"] = self.hint
        if self.state in ("ran", "failed"):
            doc["seconds"] = round(self.seconds, 3)
        return doc


@dataclass(frozen=True, slots=True)
class ReproResult:
    stages: tuple[StageResult, ...]
    dry: bool = False
    git_files: tuple[RelPath, ...] = ()
    staged: bool = False
    fetched: TransferResult | None = None  # with ``pull``

    @property
    def ok(self) -> bool:
        return not any(s.state in ("failed", "skipped") for s in self.stages)

    def of(self, *states: str) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages if s.state in states)

    def to_json(self) -> dict:
        doc = {"ok": self.ok, "dry": self.dry, "stages": [s.to_json() for s in self.stages],
               "git_files": list(self.git_files), "staged": self.staged}
        if self.fetched is not None:
            doc["fetched"] = self.fetched.to_json()
        return doc


@dataclass(frozen=True, slots=True)
class Project:
    """The pipeline of a project, with its graph and lock."""

    pipeline: Pipeline
    graph: Graph
    lock: dict[str, LockEntry] = field(default_factory=dict)


def load_project(repo: Repo, here: RelPath | None = None) -> Project:
    """The pipeline, its graph and lock; errors name pointer files as seen from ``here``."""
    pipeline = load_pipeline(repo.root)
    index = Index.load(repo.root, repo.ignore, stages=False, here=here)
    graph = build_graph(pipeline, [(t.pointer, t.out.path) for t in index.tracked()], here)
    return Project(pipeline, graph, load_lock(repo.root))


def resolve_targets(repo: Repo, pipeline: Pipeline, targets: list[str],
                    cwd: Path | None = None, *, glob: bool = False,
                    recursive: bool = False) -> list[str]:
    """Stage names chosen by targets: a name, a foreach/matrix group (``name`` or ``name@``),
    ``mlvc.yaml`` for all, or a path that a stage outputs. With ``glob``, a target may be a
    shell-style pattern of stage names (``train-*``); one that matches none is an error.
    With ``recursive`` (DVC's ``-R``), a folder also chooses every stage whose working
    folder (``wdir``) is in it: the stages "defined in" that folder."""
    import fnmatch

    names: list[str] = []
    for t in targets:
        named = pipeline.named(t)
        if not named and glob and any(c in t for c in GLOB_CHARS):
            named = [n for n in pipeline.stages if fnmatch.fnmatchcase(n, t)]
            if not named:
                raise PipelineError(f"no stage matches '{t}'",
                                    hint="`mlvc stage list` shows the stages")
        if named:
            names.extend(named)
            continue
        if os.path.basename(t) == PIPELINE_FILE:
            names.extend(pipeline.stages)
            continue
        hits: list[str] = []
        try:
            path = from_user(repo.root, t, cwd)
            hits = [s.name for s in pipeline for o in s.outs
                    if is_within(path, o.path) or (path and is_within(o.path, path))]
            if recursive and os.path.isdir(to_fs(repo.root, path)):
                hits += [s.name for s in pipeline if is_within(s.wdir, path)]
        except MlvcError:
            pass
        if not hits:
            raise PipelineError(
                f"'{t}' is neither a stage nor an output of one"
                + (", and no stage works in it" if recursive else ""),
                hint="`mlvc stage list` shows the stages" + (
                    "" if recursive else "; with -R, a folder chooses the stages whose "
                                         "wdir is in it"))
        names.extend(hits)
    return list(dict.fromkeys(names))


def choose(project: Project, names: list[str], *, single_item: bool = False,
           downstream: bool = False, whole_pipelines: bool = False) -> list[str]:
    """The stages a repro of ``names`` covers, in a topological order. ``whole_pipelines``:
    every stage of the pipelines (connected parts of the graph) that hold them."""
    graph = project.graph
    if not names:
        return list(graph.order)
    if whole_pipelines:
        chosen = graph.connected(names)
    elif single_item:
        chosen = set(names)
    elif downstream:
        chosen = graph.descendants(names)
    else:
        chosen = graph.ancestors(names)
    return graph.sort(chosen)


def current_state(repo: Repo, stage: Stage, jobs: int | None = None,
                  entry: LockEntry | None = None,
                  known: Mapping[RelPath, Out] | None = None, *, outs: bool = True,
                  progress: Progress = NULL_PROGRESS) -> Current:
    """Hash the stage's deps and outputs (the state DB answers for unchanged files) and read
    its params. A dep or output that still matches its clean mark for the oid ``entry`` (the
    stage's lock entry) records is as recorded, and is not looked at further; one in
    ``known`` (tracked outputs just found clean) is as ``known`` says. Without ``outs``, the
    outputs are left out (``Current.outs`` is empty)."""
    known = known or {}
    paths = list(dict.fromkeys([d.path for d in stage.deps]
                               + ([o.path for o in stage.outs] if outs else [])))
    recorded = {o.path: o for o in (*entry.deps, *entry.outs)} if entry is not None else None
    stored: dict[RelPath, Out | None] = {p: known[p] for p in paths if p in known}
    stored.update((s.path, s.out) for s in store_paths(
        repo, [p for p in paths if p not in known], save=False, missing_ok=True, jobs=jobs,
        recorded=recorded, progress=progress))
    params: dict[RelPath, dict[str, object]] = {}
    for ref in stage.params:
        params[ref.file] = select(read_params(repo.root, ref.file), ref.file, ref.keys,
                                  stage.name)
    return Current({d.path: stored[d.path] for d in stage.deps}, params,
                   {o.path: stored[o.path] for o in stage.outs} if outs else {})


class _Engine:
    def __init__(self, repo: Repo, project: Project, *, force: bool, dry: bool,
                 keep_going: bool, no_commit: bool, jobs: int, run_cache: bool,
                 capture: bool, on_event: Callable[[StageEvent], None],
                 here: RelPath | None = None, progress: Progress = NULL_PROGRESS,
                 allow_missing: bool = False, force_downstream: bool = False,
                 confirm: Callable[[str], bool] | None = None) -> None:
        self.repo = repo
        self.confirm = confirm  # asked before each stage starts (`repro -i`)
        self.allow_missing = allow_missing
        self.force_downstream = force_downstream
        # Bars for hashing deps and storing outputs, one stage at a time (stages running
        # at once would draw over each other).
        self.progress = progress if jobs <= 1 else NULL_PROGRESS
        self.here = here  # the user's folder: errors name paths as seen from there
        self.project = project
        self.force = force
        self.dry = dry
        self.keep_going = keep_going
        self.no_commit = no_commit
        self.jobs = jobs
        self.use_run_cache = run_cache and not force
        self.capture = capture or jobs > 1
        self.emit = on_event
        self.mutex = threading.RLock()
        # The stages' commands. Stopped on Ctrl-C, SIGTERM (or any error) in the scheduling
        # thread: no stage starts after it, and the signal reaches those running (mlvc.procs).
        self.commands = Commands(own_groups=own_groups_here())
        self.entries = dict(project.lock)
        self._lock_dirty = False  # a stage was recorded since mlvc.lock was last written
        self._lock_written = -math.inf
        self._lock_interval = LOCK_WRITE_EVERY
        self.results: dict[str, StageResult] = {}
        self.git_files: list[RelPath] = []
        self.run_cache = RunCache(repo.cache_dir)
        self.kept: dict[str, list[KeptFile]] = {}  # by stage
        self._safe: set[tuple[str, RelPath]] = set()  # (stage, output) stored by _keep_unsaved

    # -- scheduling ------------------------------------------------------------------------

    def run(self, order: list[str]) -> list[StageResult]:
        try:
            return self._run(order)
        finally:
            self.flush_lock()

    def _run(self, order: list[str]) -> list[StageResult]:
        chosen = set(order)
        pending = list(order)
        running: dict = {}
        stop_reason: str | None = None
        graph = self.project.graph
        with ThreadPoolExecutor(max_workers=max(1, self.jobs)) as pool:
            try:
                while pending or running:
                    for name in list(pending):
                        ups = [u for u in graph.upstream[name] if u in chosen]
                        if any(u not in self.results for u in ups):
                            continue
                        bad = [u for u in ups if self.results[u].state in ("failed", "skipped")]
                        if bad or stop_reason:
                            why = (f"upstream stage '{bad[0]}' did not succeed" if bad
                                   else stop_reason)
                            self._finish(StageResult(name, "skipped", error=why))
                            pending.remove(name)
                            continue
                        if len(running) >= max(1, self.jobs):
                            break
                        pending.remove(name)
                        if self.confirm is not None and not self.project.pipeline[name].frozen \
                                and not self.confirm(name):
                            self._finish(StageResult(name, "skipped", error="declined"))
                            stop_reason = f"not started: stage '{name}' was declined"
                            continue
                        running[pool.submit(self._process, name)] = name
                    if not running:
                        continue
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        name = running.pop(fut)
                        try:
                            result = fut.result()
                        except MlvcError as exc:
                            # (said of this stage already: "stage 'x': …" would say it twice)
                            error = exc.message.removeprefix(f"stage '{name}': ")
                            result = StageResult(name, "failed", error=error, hint=exc.hint)
                        self._finish(result)
                        if result.state == "failed" and not self.keep_going:
                            stop_reason = f"not started: stage '{name}' failed"
            except BaseException as exc:
                # (first: a stage being prepared must not start now)
                self.commands.stop(signal.SIGTERM if isinstance(exc, Terminated) else
                                   signal.SIGINT if isinstance(exc, KeyboardInterrupt) else None)
                for fut in running:
                    fut.cancel()
                raise
        return [self.results[n] for n in order]

    def _finish(self, result: StageResult) -> None:
        kept = self.kept.get(result.name)
        if kept:
            result = replace(result, kept=tuple(kept))
        self.results[result.name] = result
        if result.state in ("failed", "skipped"):
            self.emit(StageEvent(result.name, result.state, result.error or "", result.reasons,
                                 result.hint or ""))

    # -- one stage -------------------------------------------------------------------------

    def _process(self, name: str) -> StageResult:
        stage = self.project.pipeline[name]
        with self.mutex:
            if stage.frozen:
                self.emit(StageEvent(name, "frozen"))
                return StageResult(name, "frozen")
            entry = self.entries.get(name)
            cur = current_state(self.repo, stage, entry=entry, progress=self.progress)
            why = reasons(stage, entry, cur)
            if self.allow_missing:  # (only its data is missing: as recorded, as far as known)
                why = [r for r in why if not missing_data(r)]
            if self.dry:
                why += [Reason(f"upstream stage '{u}' would run")
                        for u in sorted(self.project.graph.upstream[name])
                        if u in self.results and self.results[u].state == "would run"]
            forced = self.force
            if self.force_downstream and not why and not self.dry:
                why = [Reason(f"upstream stage '{u}' ran (--force-downstream)")
                       for u in sorted(self.project.graph.upstream[name])
                       if u in self.results and self.results[u].state in ("ran", "restored")]
                forced = forced or bool(why)
            if self.force and not why:
                why = [Reason("forced")]
            if not why:
                self.emit(StageEvent(name, "unchanged"))
                return StageResult(name, "unchanged")
            if self.dry:
                self.emit(StageEvent(name, "would run", reasons=tuple(why)))
                return StageResult(name, "would run", tuple(why))
            missing = [p for p, o in cur.deps.items() if o is None]
            if missing:
                gone = seen_from(missing[0], self.here)
                maker = next((st.name for st in self.project.pipeline for o in st.outs
                              if is_within(missing[0], o.path)), None)
                pending = None if maker is not None else \
                    _pending_import(self.repo, missing[0])
                if maker is not None:  # (not chosen: `repro -s`, or a target downstream)
                    hint = (f"stage '{maker}' makes it: `mlvc repro {maker}`, or "
                            f"`mlvc checkout {typed_in(missing[0], self.here)}` for the "
                            "version mlvc.lock records")
                elif pending is not None:
                    hint = (f"{seen_from(pending, self.here)} records an import without its "
                            f"data: `mlvc pull {typed_in(pending, self.here)}` gets it")
                else:
                    hint = (f"create {gone}, or add the stage that makes it (`mlvc stage add "
                            f"... -o {typed_in(missing[0], self.here)} ...`)")
                raise PipelineError(f"stage '{name}': dep {gone} does not exist", hint=hint)
            deps = [o for o in cur.deps.values() if o is not None]
            key = run_key(stage, deps, cur.params)
            if self.use_run_cache and not forced and _run_cacheable(stage):
                restored = self._restore(stage, key, cur, entry)
                if restored is not None:
                    self._record(stage, cur, restored)
                    self.emit(StageEvent(name, "restored", reasons=tuple(why)))
                    return StageResult(name, "restored", tuple(why))
            if self.commands.stopping.is_set():  # (interrupted: its outputs stay as they are)
                return StageResult(name, "skipped", tuple(why), "interrupted")
            self._keep_unsaved(stage, entry, cur, [o.path for o in stage.outs if not o.persist])
            self._clear_outs(stage)
            wdir = to_fs(self.repo.root, stage.wdir)
            if not wdir.is_dir():
                folder = seen_from(stage.wdir, self.here) or "."
                raise PipelineError(f"stage '{name}': wdir {folder} is not a folder")
        self.emit(StageEvent(name, "start", "\n".join(stage.cmd), tuple(why)))
        started = time.monotonic()
        output = (lambda line: self.emit(StageEvent(name, "output", line))) if self.capture \
            else None
        outcome = run_stage(self.repo.root, stage, output, self.commands)
        seconds = time.monotonic() - started
        if outcome.returncode != 0:
            return StageResult(name, "failed", tuple(why),
                               f"command failed with exit code {outcome.returncode}: "
                               f"{outcome.failed_cmd}", seconds)
        with self.mutex:
            absent = [o.path for o in stage.outs
                      if not os.path.lexists(to_fs(self.repo.root, o.path))]
            if absent:
                return StageResult(name, "failed", tuple(why),
                                   f"the command did not create output {absent[0]}", seconds)
            outs = tuple(s.out for s in self._commit_outs(stage))
            self._record(stage, cur, outs)
            if not self.no_commit and _run_cacheable(stage) and all(
                    o.type == "file" or stage.out(o.path).cache for o in outs):
                self.run_cache.put(key, list(outs))
        self.emit(StageEvent(name, "done", f"{seconds:.1f}s"))
        return StageResult(name, "ran", tuple(why), seconds=seconds)

    def _keep_unsaved(self, stage: Stage, entry: LockEntry | None, cur: Current,
                      paths: list[RelPath]) -> None:
        """Before the outputs at ``paths`` are removed or replaced: store in the cache those
        whose bytes it lacks, so that nothing is lost. Bytes that mlvc.lock records are
        stored quietly (after ``repro --no-commit``, say); the files whose bytes it does not
        record (edited by hand, or made before the stage first ran) are reported with a
        "kept" event, naming where their copies are, when the cache lacked some of them."""
        recorded = {o.path: o for o in entry.outs} if entry is not None else {}
        cache = self.repo.cache
        risky = []
        for path in paths:
            now = cur.outs.get(path)
            if now is None or (stage.name, path) in self._safe:
                continue
            was = recorded.get(path)
            if was is not None and was.oid == now.oid and cache.exists(now.oid):
                continue  # recorded, and in the cache (a folder's files with its manifest)
            risky.append(path)
        if not risky:
            return
        kept: list[KeptFile] = []
        for stored in store_paths(self.repo, risky, missing_ok=True, progress=self.progress):
            self._safe.add((stage.name, stored.path))
            now, was = stored.out, recorded.get(stored.path)
            if now is None or (was is not None and was.oid == now.oid):
                continue
            if not stored.newly_stored and not stored.repaired:
                continue  # every byte was in the cache already (a stage renamed, say)
            try:
                before = flatten(cache, was).files if was is not None else {}
            except (ObjectMissingError, CorruptObjectError):
                before = {}
            kept += [KeptFile(p, w.oid, cache.path_str(w.oid))
                     for p, w in sorted(flatten(cache, now).files.items())
                     if p not in before or before[p].oid != w.oid]
        if kept:
            self.kept.setdefault(stage.name, []).extend(kept)
            self.emit(StageEvent(stage.name, "kept", kept=tuple(kept)))

    def _clear_outs(self, stage: Stage) -> None:
        """Outputs are made afresh by the command (persistent ones are kept); what is removed
        here is a stage output, whose bytes the cache holds (see ``_keep_unsaved``)."""
        for out in stage.outs:
            fs = to_fs(self.repo.root, out.path)
            if out.persist:
                # The command changes it where it is: a hard link (or symlink) to the cache
                # would take the change into the cache object itself, corrupting it (root
                # ignores the read-only bit; others could not write at all). DVC unprotects
                # persistent outputs too.
                _unprotect_tree(fs)
                continue
            if fs.is_dir() and not fs.is_symlink():
                rmtree(fs)
            elif os.path.lexists(fs):
                fs.unlink()
            self.repo.state.delete_files(self.repo.state.files_under(out.path))

    def _commit_outs(self, stage: Stage, link: bool = True) -> tuple[Stored, ...]:
        """Hash (and cache) the stage's outputs, in the stage's order; their folders'
        .gitignore lines go to ``git_files``. (``link``: see :func:`store_paths`.)"""
        cached = [o.path for o in stage.outs if o.cache]
        plain = [o.path for o in stage.outs if not o.cache]
        stored = {s.path: s for s in store_paths(self.repo, cached, save=not self.no_commit,
                                                 progress=self.progress, link=link)}
        stored.update({s.path: s for s in store_paths(self.repo, plain, save=False,
                                                      progress=self.progress)})
        for path in plain:  # kept in git, and in the cache too, for the run cache
            out = stored[path].out
            if out is not None and out.type == "file" and not self.no_commit:
                data = to_fs(self.repo.root, path).read_bytes()
                self.repo.cache.add_bytes(data, out.oid)
        for path in cached:
            changed = gitignore.add(self.repo.root, path)
            if changed:
                self.git_files.append(changed)
        return tuple(stored[o.path] for o in stage.outs)

    def _record(self, stage: Stage, cur: Current, outs) -> None:
        entry = LockEntry(stage.name, stage.cmd, tuple(o for o in cur.deps.values() if o),
                          cur.params, tuple(outs),
                          frozenset(o.path for o in stage.outs if not o.cache),
                          frozenset(o.path for o in stage.outs if not o.push))
        with self.mutex:
            if self.entries.get(stage.name) == entry:
                return  # (restored as recorded: the lock says so already)
            self.entries[stage.name] = entry
            self._lock_dirty = True
            self.flush_lock(force=False)
            if LOCK_FILE not in self.git_files:
                self.git_files.append(LOCK_FILE)

    def flush_lock(self, force: bool = True) -> None:
        """Write mlvc.lock if a stage was recorded since it was last written: at once with
        ``force``, else when ``LOCK_WRITE_EVERY`` seconds have passed, and ten times as long
        as the last write took (a lock of 2,000 stages takes 0.16 s to write). Rewriting the
        whole lock after each stage cost the square of their number: 25 s of a 28 s repro of
        500 quick stages. :meth:`run` writes what is left when it ends, however it ends; a
        killed run loses at most that interval's records, whose stages then run (or come
        back from the run cache) again."""
        with self.mutex:
            if not self._lock_dirty:
                return
            now = time.monotonic()
            if not force and now - self._lock_written < self._lock_interval:
                return
            write_lock(self.repo.root, [self.entries[n] for n in self.project.pipeline.stages
                                        if n in self.entries])
            self._lock_dirty = False
            self._lock_written = time.monotonic()
            self._lock_interval = max(LOCK_WRITE_EVERY, 10 * (self._lock_written - now))

    def _restore(self, stage: Stage, key: str, cur: Current, entry: LockEntry | None):
        from mlvc.ops.checkout import checkout_selected

        outs = self.run_cache.get(key)
        if outs is None or sorted(o.path for o in outs) != sorted(o.path for o in stage.outs):
            return None
        cache = self.repo.cache
        try:
            for out in outs:
                rec = flatten(cache, out)
                if not all(cache.exists(oid) for oid in rec.objects()):
                    return None
        except (ObjectMissingError, CorruptObjectError):
            return None
        by_path = {o.path: o for o in outs}
        self._keep_unsaved(stage, entry, cur, [
            p for p, o in by_path.items() if (now := cur.outs.get(p)) and now.oid != o.oid])
        selected = []
        for declared in stage.outs:
            out = by_path[declared.path]
            now = cur.outs.get(out.path)
            if now is not None and now.oid == out.oid:
                continue
            if not declared.cache and out.type == "file":
                from mlvc.fsutil import atomic_write

                fs = to_fs(self.repo.root, out.path)
                if fs.is_dir() and not fs.is_symlink():
                    rmtree(fs)
                atomic_write(fs, cache.read_bytes(out.oid), 0o777 if out.exec else 0o666)
                continue
            selected.append(Selected(Tracked(LOCK_FILE, out, stage.name), ""))
        if selected:
            result = checkout_selected(self.repo, selected, force=True, jobs=self.jobs)
            if result.failed:
                return None
        for declared in stage.outs:
            if declared.cache:
                changed = gitignore.add(self.repo.root, declared.path)
                if changed:
                    self.git_files.append(changed)
        return tuple(by_path[o.path] for o in stage.outs)


def _unprotect_tree(fs: Path) -> None:
    """Make the file ``fs``, or every file below the folder ``fs``, a private writable copy
    if it is linked to the cache."""
    if fs.is_symlink() or fs.is_file():
        unprotect_file(fs)
    elif fs.is_dir():
        for folder, _dirs, files in os.walk(fs):
            for f in files:
                unprotect_file(Path(folder, f))


def _run_cacheable(stage: Stage) -> bool:
    """Whether the run cache may stand in for running ``stage`` (as in DVC): not for one
    that must run every time (``always_changed``, or a callback stage), nor for one with a
    persistent output, which its last run made (the same inputs would not give the same
    bytes)."""
    return not (stage.always_changed or stage.callback or any(o.persist for o in stage.outs))


def _checkout_missing(repo: Repo, stages: list[Stage], progress: Progress) -> None:
    """For ``repro --pull`` (a fresh clone in CI, say): put in place the tracked data that
    the stages read or make and that the workspace lacks entirely, from the cache the fetch
    filled. A stage whose inputs did not change then finds its outputs and does not run, and
    one that runs finds its deps. Nothing that is there is replaced: a dep the user changed
    (even to a version the cache has) stays as it is. What the cache still lacks is left to
    the stages (they report a missing dep, or run)."""
    from mlvc.ops.checkout import checkout_selected

    wanted = [p for st in stages for p in (*(d.path for d in st.deps),
                                           *(o.path for o in st.outs))]
    chosen = [Selected(t, "") for t in Index.load(repo.root, repo.ignore).tracked()
              if not os.path.lexists(to_fs(repo.root, t.out.path))
              and any(overlaps(t.out.path, p) for p in wanted)]
    if chosen:
        with repo.lock():
            checkout_selected(repo, chosen, jobs=repo.jobs, progress=progress)


def repro(repo: Repo, targets: list[str] | None = None, *, cwd: Path | None = None,
          force: bool = False, single_item: bool = False, downstream: bool = False,
          dry: bool = False, keep_going: bool = False, no_commit: bool = False,
          jobs: int = 1, pull: bool = False, run_cache: bool = True, capture: bool = False,
          allow_missing: bool = False, force_downstream: bool = False,
          whole_pipelines: bool = False, glob: bool = False, recursive: bool = False,
          confirm: Callable[[str], bool] | None = None,
          on_event: Callable[[StageEvent], None] = lambda e: None,
          on_fetched: Callable[[TransferResult], None] = lambda r: None,
          progress: Progress = NULL_PROGRESS) -> ReproResult:
    """``on_fetched`` hears what ``pull`` fetched, before any stage runs. ``allow_missing``:
    a stage whose only change is that deps or outputs are not in the workspace does not run
    (as ``dvc repro --allow-missing``: with ``dry``, a CI check that needs no data).
    ``force_downstream``: a stage downstream of one that ran runs too, even when that run
    changed none of its deps. ``whole_pipelines``: the targets' whole pipelines (``-p``).
    ``glob``: targets may be patterns of stage names; ``recursive``: a folder target chooses
    the stages whose ``wdir`` is in it too (``-R``). ``confirm`` (``repro -i``) is asked
    before each stage that is not frozen starts, in this thread; a stage it declines stops
    the run there (as DVC's: the stages after it do not start)."""
    here = folder_in(repo.root, cwd)
    project = load_project(repo, here)
    if not len(project.pipeline):
        raise PipelineError(f"there are no stages: {PIPELINE_FILE} is missing or empty",
                            hint="add one with `mlvc stage add -n NAME -d DEP -o OUT CMD`")
    names = resolve_targets(repo, project.pipeline, targets or [], cwd, glob=glob,
                            recursive=recursive)
    order = choose(project, names, single_item=single_item, downstream=downstream,
                   whole_pipelines=whole_pipelines)
    refuse_git_tracked_outputs(repo, [project.pipeline[n] for n in order], here)
    fetched: TransferResult | None = None
    if pull and not dry:
        from mlvc.ops.fetch import fetch

        fetched = fetch(repo, run_cache=True, progress=progress)
        on_fetched(fetched)
        _checkout_missing(repo, [project.pipeline[n] for n in order], progress)
    engine = _Engine(repo, project, force=force, dry=dry, keep_going=keep_going,
                     no_commit=no_commit, jobs=1 if dry else max(1, jobs), run_cache=run_cache,
                     capture=capture, on_event=on_event, here=here, progress=progress,
                     allow_missing=allow_missing, force_downstream=force_downstream,
                     confirm=confirm)
    if dry:
        return ReproResult(tuple(engine.run(order)), True)
    with repo.lock():
        results = engine.run(order)
        git = record_in_git(repo, engine.git_files)
    return ReproResult(tuple(results), False, git.files, git.staged, fetched)


def pipeline_status(repo: Repo, jobs: int | None = None,
                    known: Mapping[RelPath, Out] | None = None
                    ) -> list[tuple[str, tuple[Reason, ...]]]:
    """Each out-of-date stage (frozen ones aside) with the reasons it would run. ``known``:
    tracked outputs just found clean, as recorded (see :func:`current_state`)."""
    project = load_project(repo)
    out = []
    for name in project.graph.order:
        stage = project.pipeline[name]
        if stage.frozen:
            continue
        try:
            entry = project.lock.get(name)
            why = reasons(stage, entry, current_state(repo, stage, jobs, entry, known))
        except PipelineError as exc:  # (listed under the stage's name: not said twice)
            why = [Reason(exc.message.removeprefix(f"stage '{name}': "))]
        if why:
            out.append((name, tuple(why)))
    return out


def check_committable(repo: Repo, names: list[str], *, force: bool = False,
                      jobs: int | None = None, here: RelPath | None = None
                      ) -> dict[str, Current]:
    """Refuse, before anything is written, an ``mlvc commit`` of stages that cannot or
    should not be recorded as they are: a dep or output is missing (PipelineError), or,
    unless ``force``, a stage's cmd, deps or params differ from what it last ran with
    (ConfirmationRequired: its outputs were not made from them, as far as mlvc knows).

    Returns the current deps and params of each stage, in graph order, for
    :func:`commit_stages` (which hashes the outputs as it stores them). Errors name paths
    as seen from the user's folder ``here``.
    """
    project = load_project(repo, here)
    current: dict[str, Current] = {}
    changed = []
    for name in project.graph.sort(names):
        stage = project.pipeline[name]
        # The outputs are hashed once, when committed: here they are only scanned, which
        # refuses what cannot be recorded (a broken symlink, a name mlvc cannot record...)
        # before anything is written.
        cur = current[name] = current_state(repo, stage, jobs, project.lock.get(name),
                                            outs=False)
        missing = [p for p, o in cur.deps.items() if o is None]
        missing += [o.path for o in stage.outs if o.path not in cur.deps
                    and repo.scanner.listing(o.path).kind is None]
        if missing:
            raise PipelineError(f"stage '{name}': {seen_from(missing[0], here)} does not exist",
                                hint="run `mlvc repro` to produce it")
        entry = project.lock.get(name)
        if entry is not None and (why := input_changes(stage, entry, cur)):
            changed.append((name, why))
    if changed and not force:
        detail = "; ".join(f"'{n}': {', '.join(r.seen(here) for r in why)}"
                           for n, why in changed)
        one = len(changed) == 1
        raise ConfirmationRequired(
            f"{'stage' if one else 'stages'} {detail} since {'it' if one else 'they'} last "
            f"ran, so {'its' if one else 'their'} outputs were not made from these inputs",
            hint=f"`mlvc repro {' '.join(n for n, _ in changed)}` rebuilds the outputs; "
                 "`mlvc commit --force` records them as they are; naming other outputs "
                 "(`mlvc commit PATH`) commits only those")
    return current


def commit_stages(repo: Repo, current: dict[str, Current], *, jobs: int | None = None,
                  link: bool = True, progress: Progress = NULL_PROGRESS
                  ) -> tuple[list[Saved], list[RelPath]]:
    """``mlvc commit`` of stage outputs: record the stages as if they had just run (deps,
    params and outputs as they are now: ``current``, from :func:`check_committable`). The
    caller holds the repository lock. Returns what was saved and the .gitignore files
    changed (mlvc.lock is the caller's to record)."""
    project = load_project(repo)
    engine = _Engine(repo, project, force=False, dry=False, keep_going=False, no_commit=False,
                     jobs=jobs or repo.jobs, run_cache=False, capture=True,
                     on_event=lambda e: None)
    saved = []
    unlinked: dict[RelPath, tuple[RelPath, ...]] = {}
    for name, cur in current.items():
        stage = project.pipeline[name]
        before = project.lock.get(name)
        stored = engine._commit_outs(stage, link)
        engine._record(stage, cur, tuple(s.out for s in stored))
        for s in stored:
            old = next((o for o in before.outs if o.path == s.path), None) if before else None
            saved.append(Saved(LOCK_FILE, s.out, old != s.out, s.hashed, s.repaired,
                               s.newly_stored))
            if s.unlinked:
                unlinked[s.path] = s.unlinked
    engine.flush_lock()
    if unlinked:  # (after `unprotect`: linked again, as for pointer outputs)
        saved = relink(repo, saved, unlinked, jobs, progress)
    return saved, [f for f in engine.git_files if f != LOCK_FILE]


def _pending_import(repo: Repo, path: RelPath) -> RelPath | None:
    """The pointer file of an import recorded without its data (``--no-download``) that
    holds ``path``, a missing dep; None when none does."""
    from mlvc.workspace.index import Index

    found = Index.load(repo.root, repo.ignore, stages=False).pending([path])
    return found[0].path if found else None
