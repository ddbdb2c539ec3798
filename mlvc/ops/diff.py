"""``mlvc diff``: what changed between two revisions, and why each metric moved (SPEC 3).

Two *sides* are compared: git revisions, or the workspace. A revision's pointer files,
``mlvc.yaml``, ``mlvc.lock``, params and metrics files are read from git without checking it
out; its folders' manifests come from the cache. The workspace side is what is on disk now:
tracked outputs are hashed (the state DB answers for unchanged files, as in ``status``), and
params and metrics files are read as they are.

Five answers come out: the data (files added, modified, deleted and renamed under each
tracked output; equal sub-folders are skipped by their oids), the params and metrics whose
values differ, the stages whose ``mlvc.lock`` entries differ, and for each changed metrics
file a *trace*: the stage that wrote it, which of its recorded inputs changed, and through
the stages that made those inputs, back to the data, code and params that changed.

Also here: ``params``/``metrics`` ``show`` and ``diff`` (:func:`show_values`,
:func:`diff_values`), and the reading of a side that ``ls``, ``get`` and ``mlvc.api`` share
(:class:`SideView`, :func:`side_of`, :func:`tracked_outputs`, :class:`TreeReader`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from mlvc.errors import FormatError, MlvcError, PathError, ScmError, TargetError
from mlvc.objects.tree import Tree, TreeEntry
from mlvc.ops import user_paths
from mlvc.ops._outputs import valid_trees
from mlvc.paths import RelPath, check_inside, from_user, is_within, to_fs
from mlvc.pipeline import LOCK_FILE, PIPELINE_FILE
from mlvc.pipeline.lockfile import LockEntry, parse_lock
from mlvc.pipeline.model import DEFAULT_PARAMS, Pipeline
from mlvc.pipeline.params import flatten, parse_params
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace.compare import flatten as flatten_tree
from mlvc.workspace.ignore import IGNORE_FILE, IgnoreRules
from mlvc.workspace.pointer import Out

WORKSPACE = "workspace"


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a diff: a git revision (``sha``), or the workspace (``sha`` None)."""

    name: str  # as the user named it: ``HEAD``, ``v1.0``, ``workspace``
    sha: str | None = None

    @property
    def label(self) -> str:
        if self.sha is None:
            return "the workspace"
        if self.sha.startswith(self.name):  # (a sha as given, or every commit's with -A)
            return self.name[:12]
        return f"{self.name} ({self.sha[:8]})"

    def to_json(self) -> dict:
        return {"rev": self.name, "sha": self.sha}


@dataclass(frozen=True, slots=True)
class Renamed:
    old: RelPath
    new: RelPath


@dataclass(frozen=True, slots=True)
class DataChange:
    """How one tracked output differs. ``unknown``: why its files could not be compared (a
    manifest not in the cache); its oids still tell that it changed."""

    path: RelPath
    pointer: RelPath  # the pointer file or mlvc.lock of the newer side (else the older)
    old_oid: str | None
    new_oid: str | None
    added: tuple[RelPath, ...] = ()
    modified: tuple[RelPath, ...] = ()
    deleted: tuple[RelPath, ...] = ()
    renamed: tuple[Renamed, ...] = ()
    unknown: str | None = None
    # (path, old oid, new oid) of each file listed above, in their order (a renamed file
    # by its new path, with its one oid on both sides): ``diff --show-hash``
    oids: tuple[tuple[RelPath, str | None, str | None], ...] = ()

    def oids_of(self) -> dict[RelPath, tuple[str | None, str | None]]:
        return {p: (a, b) for p, a, b in self.oids}

    @property
    def summary(self) -> str:
        """``2 modified, 1 added`` (or ``added``, ``deleted``, ``modified`` for the whole)."""
        if self.old_oid is None:
            return "added"
        if self.new_oid is None:
            return "deleted"
        if self.modified == (self.path,):  # (an output that is one file)
            return "modified"
        parts = [f"{len(v)} {k}" for k, v in (("modified", self.modified),
                                              ("added", self.added), ("deleted", self.deleted),
                                              ("renamed", self.renamed)) if v]
        return ", ".join(parts) or "modified"

    def to_json(self, hashes: bool = False) -> dict:
        """With ``hashes``: ``oids``, each listed file's ``{"old", "new"}`` oids by path."""
        doc: dict = {"path": self.path, "pointer": self.pointer, "old_oid": self.old_oid,
                     "new_oid": self.new_oid}
        for key in ("added", "modified", "deleted"):
            doc[key] = list(getattr(self, key))
        doc["renamed"] = [{"old": r.old, "new": r.new} for r in self.renamed]
        if self.unknown:
            doc["unknown"] = self.unknown
        if hashes:
            doc["oids"] = {p: {"old": a, "new": b} for p, a, b in self.oids}
        return doc


@dataclass(frozen=True, slots=True)
class ValueChange:
    """A param or metric whose value differs (None: absent on that side)."""

    file: RelPath
    key: str
    old: object
    new: object

    @property
    def delta(self) -> float | int | None:
        if _number(self.old) and _number(self.new):
            d = self.new - self.old  # type: ignore[operator]
            return round(d, 10) if isinstance(d, float) else d
        return None

    def to_json(self) -> dict:
        doc = {"file": self.file, "key": self.key, "old": self.old, "new": self.new}
        if self.delta is not None:
            doc["delta"] = self.delta
        return doc


@dataclass(frozen=True, slots=True)
class StageChange:
    """A stage whose ``mlvc.lock`` entry differs: ``added``, ``removed`` or ``modified``
    (with the reasons), or, on the workspace side, ``out of date`` (changed since
    mlvc.lock was written: ``mlvc repro`` would run it)."""

    stage: str
    change: str
    reasons: tuple[str, ...] = ()
    deps: tuple[RelPath, ...] = ()  # the recorded deps whose oid differs
    params: tuple[ValueChange, ...] = ()  # the recorded param values that differ
    cmd: bool = False  # the recorded command differs

    def to_json(self) -> dict:
        return {"stage": self.stage, "change": self.change, "reasons": list(self.reasons)}


@dataclass(frozen=True, slots=True)
class TraceNode:
    """One step of a metric's trace. ``kind``: ``stage`` (with why it changed, and its
    children: the inputs that did), ``data`` (a tracked output, not made by a stage),
    ``file`` (a dep mlvc does not track: code, say), ``param``, ``cmd``, or ``note``."""

    kind: str
    name: str
    detail: str = ""
    children: tuple[TraceNode, ...] = ()

    def to_json(self) -> dict:
        doc: dict = {"kind": self.kind, "name": self.name}
        if self.detail:
            doc["detail"] = self.detail
        if self.children:
            doc["children"] = [c.to_json() for c in self.children]
        return doc


@dataclass(frozen=True, slots=True)
class Trace:
    metric: RelPath  # the metrics file
    changes: tuple[ValueChange, ...]
    root: TraceNode

    def to_json(self) -> dict:
        return {"metric": self.metric, "keys": [c.key for c in self.changes],
                "trace": self.root.to_json()}


@dataclass(frozen=True, slots=True)
class DiffResult:
    a: Side
    b: Side
    data: tuple[DataChange, ...] = ()
    params: tuple[ValueChange, ...] = ()
    metrics: tuple[ValueChange, ...] = ()
    stages: tuple[StageChange, ...] = ()
    traces: tuple[Trace, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def clean(self) -> bool:
        return not (self.data or self.params or self.metrics or self.stages)

    def to_json(self, hashes: bool = False) -> dict:
        """``hashes``: each data change gives the oids of its files (``--show-hash``)."""
        return {"a": self.a.to_json(), "b": self.b.to_json(), "clean": self.clean,
                "data": [d.to_json(hashes) for d in self.data],
                "params": [p.to_json() for p in self.params],
                "metrics": [m.to_json() for m in self.metrics],
                "stages": [s.to_json() for s in self.stages],
                "traces": [t.to_json() for t in self.traces],
                "warnings": list(self.warnings)}


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (
        isinstance(v, float) and math.isnan(v))


# -- reading a side -------------------------------------------------------------------------

# (project, mlvc.yaml text) -> its pipeline, the most recently used last (see
# SideView.pipeline); at most _PARSED_MAX, so that a long-lived process (mlvc.api) stays small.
_PARSED: OrderedDict[tuple[str, str], Pipeline] = OrderedDict()
_PARSED_MAX = 64


class SideView:
    """The files of one side that a diff reads, each read once."""

    def __init__(self, repo: Repo, side: Side) -> None:
        self.repo = repo
        self.side = side
        self._texts: dict[RelPath, bytes | None] = {}
        self.warnings: list[str] = []

    def read(self, path: RelPath) -> bytes | None:
        if path not in self._texts:
            self._texts[path] = self._read(path)
        return self._texts[path]

    def _read(self, path: RelPath) -> bytes | None:
        if self.side.sha is not None:
            return self.repo.scm.show(self.side.sha, path)  # type: ignore[union-attr]
        check_inside(self.repo.root, path)
        try:
            return to_fs(self.repo.root, path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def prefetch(self, paths: list[RelPath], fetched: dict) -> None:
        """Take the texts of ``paths`` from ``fetched`` (:meth:`Git.show_many`'s answer)."""
        for path in paths:
            if path not in self._texts and (self.side.sha, path) in fetched:
                self._texts[path] = fetched[(self.side.sha, path)]

    def text(self, path: RelPath) -> str | None:
        data = self.read(path)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(f"{self.where(path)}: not UTF-8 text") from None

    def where(self, path: RelPath) -> str:
        return path if self.side.sha is None else f"{self.side.name}:{path}"

    @cached_property
    def lock(self) -> dict[str, LockEntry]:
        text = self.text(LOCK_FILE)
        if text is None:
            return {}
        try:
            return parse_lock(text, self.where(LOCK_FILE))
        except MlvcError as exc:
            if self.side.sha is None:  # (the workspace's: as every other command says)
                raise
            self.warnings.append(f"{exc.message} (its stages and their outputs are left out)")
            return {}

    @cached_property
    def pipeline(self) -> Pipeline | None:
        from mlvc.pipeline.loader import parse_pipeline

        text = self.text(PIPELINE_FILE)
        if text is None:
            return None
        # A pipeline that takes nothing from params files (no ${…}, no vars) is the same at
        # every revision that has the same text: parsed once (exp show reads hundreds).
        plain = self.side.sha is not None and "${" not in text and "vars" not in text
        key = (str(self.repo.root), text)
        if plain and key in _PARSED:
            _PARSED.move_to_end(key)
            return _PARSED[key]
        try:
            pipeline = parse_pipeline(text, self.repo.root, self.where(PIPELINE_FILE),
                                      None if self.side.sha is None else self._params_doc)
        except MlvcError as exc:  # (an old revision's pipeline may not load today)
            self.warnings.append(f"{exc.message} (its params, metrics and stages are left out)")
            return None
        if plain:
            _PARSED[key] = pipeline
            if len(_PARSED) > _PARSED_MAX:
                _PARSED.popitem(last=False)
        return pipeline

    def _params_doc(self, path: RelPath) -> dict | None:
        """A params file of this revision, parsed (for its pipeline's ``vars``)."""
        text = self.text(path)
        return None if text is None else parse_params(text, self.where(path))

    @cached_property
    def ignore(self) -> IgnoreRules:
        """The ``.mlvcignore`` rules of this side: a revision's own files, not today's."""
        if self.side.sha is None:
            return self.repo.ignore
        return IgnoreRules(self.repo.root, reader=lambda folder: self.text(
            f"{folder}/{IGNORE_FILE}" if folder else IGNORE_FILE))

    @cached_property
    def outputs(self) -> dict[RelPath, tuple[RelPath, Out]]:
        """Every tracked output this side records (see :func:`tracked_outputs`)."""
        return tracked_outputs(self, self.lock)

    def holding(self, path: RelPath) -> tuple[RelPath, Out] | None:
        """(pointer file, recorded output) of the tracked output that is ``path`` or holds
        it; None when ``path`` is in none."""
        owner = next((p for p in self.outputs if is_within(path, p)), None)
        return None if owner is None else self.outputs[owner]

    @cached_property
    def workspace_index(self):
        """The workspace's pointer files (this side being the workspace), found once."""
        from mlvc.workspace.index import Index

        return Index.load(self.repo.root, self.repo.ignore, stages=False)

    def pointer_outs(self) -> dict[RelPath, tuple[RelPath, Out]]:
        """Output path -> (pointer file, recorded out), of this side's pointer files."""
        found: dict[RelPath, tuple[RelPath, Out]] = {}
        if self.side.sha is None:
            for pointer in self.workspace_index.pointers.values():
                for out in pointer.outs:
                    found[out.path] = (pointer.path, out)
            return found
        from mlvc.ops._objects import revision_outs

        for path, out, _ in revision_outs(self.repo, self.side.sha, self.side.name, {},
                                          self.warnings, locks=False):
            if not self.ignore.is_ignored(path):
                found[out.path] = (path, out)
        return found


def sides_of(repo: Repo, revs: list[str | None]) -> list[Side]:
    """:func:`side_of` of each of ``revs``, the revisions resolved by one git process."""
    named = [r for r in revs if r is not None]
    if not named:
        return [Side(WORKSPACE) for _ in revs]
    if repo.scm is None:
        return [side_of(repo, r) for r in revs]  # (the error it raises)
    shas = repo.scm.resolve_many(named)
    return [Side(WORKSPACE) if r is None else
            Side(r, shas[r]) if shas.get(r) else side_of(repo, r) for r in revs]


def prefetch_texts(repo: Repo, views: list[SideView],
                   paths: Callable[[SideView], list[RelPath]]) -> None:
    """The files ``paths`` names of each revision's view, read by one git process for all
    of them (each view then answers from them)."""
    pairs = {v: paths(v) for v in views if v.side.sha is not None}
    if not pairs or repo.scm is None:
        return
    fetched = repo.scm.show_many([(v.side.sha, p) for v, ps in pairs.items() for p in ps])
    for view, ps in pairs.items():
        view.prefetch(ps, fetched)


def side_of(repo: Repo, rev: str | None) -> Side:
    if rev is None:
        return Side(WORKSPACE)
    if repo.scm is None:
        raise ScmError("comparing revisions needs git, and this project has none",
                       hint="`mlvc status` tells what changed in the workspace")
    sha = repo.scm.resolve(rev)
    if sha is None:
        raise TargetError(f"unknown revision '{rev}'",
                          hint="git has no commit yet: commit first" if rev == "HEAD" else
                          "name a commit, branch or tag (`git log --oneline` lists them)")
    return Side(rev, sha)


# -- data ------------------------------------------------------------------------------------

def tracked_outputs(view: SideView, lock: dict[str, LockEntry]
             ) -> dict[RelPath, tuple[RelPath, Out]]:
    """Every tracked output of a side: pointer outputs and the stages' cached outputs."""
    outs = view.pointer_outs()
    for entry in lock.values():
        for out in entry.cached_outs():
            outs.setdefault(out.path, (LOCK_FILE, out))
    return outs


def _workspace_now(repo: Repo, outs: dict[RelPath, tuple[RelPath, Out]], jobs: int | None,
                   progress: Progress, trees: dict[str, bytes]
                   ) -> dict[RelPath, tuple[RelPath, Out]]:
    """The workspace's tracked outputs as they are on disk (hashed where the state DB does
    not know a file), their folders' manifests into ``trees``: nothing enters the cache."""
    from mlvc.ops.commit import store_paths

    paths = sorted(outs)
    stored = store_paths(repo, paths, save=False, jobs=jobs, progress=progress,
                         missing_ok=True, recorded={p: outs[p][1] for p in paths}, trees=trees)
    return {s.path: (outs[s.path][0], s.out) for s in stored if s.out is not None}


class TreeReader:
    """Manifests by oid, read as :meth:`ObjectStore.read_tree` reads them (so that
    :func:`~mlvc.workspace.compare.flatten` takes it): those built from the workspace
    (``built``) as they are, else the cache's, each one's shape checked once (the state DB's
    ``valid_trees``, as for checkout); ``fetch`` first gets one the cache lacks (from a
    remote)."""

    def __init__(self, repo: Repo, built: dict[str, bytes] | None = None,
                 fetch: Callable[[str], None] | None = None) -> None:
        self.repo = repo
        self.built = built or {}
        self.fetch = fetch
        self.valid = valid_trees(repo)
        self.read: set[str] = set()

    def read_tree(self, oid: str, validated: bool = False) -> Tree:
        data = self.built.get(oid)
        if data is not None:
            return Tree.from_trusted_bytes(data)
        if self.fetch is not None and not self.repo.cache.exists(oid):
            self.fetch(oid)
        tree = self.repo.cache.read_tree(oid, validated=validated or oid in self.valid)
        self.read.add(oid)
        return tree

    def remember(self) -> None:
        """Record the manifests read as valid (they passed, or they would have raised)."""
        self.repo.state.put_valid_trees(self.read)


def data_changes(trees: TreeReader, old: dict[RelPath, tuple[RelPath, Out]],
                 new: dict[RelPath, tuple[RelPath, Out]], targets: list[RelPath] | None
                 ) -> list[DataChange]:
    """How each tracked output of ``new`` differs from ``old`` (path -> (pointer, out)),
    file by file where the manifests can be read; ``targets``: only those paths."""
    changes = []
    for path in sorted(old.keys() | new.keys()):
        if targets is not None and not any(is_within(path, t) or is_within(t, path)
                                           for t in targets):
            continue
        a, b = old.get(path), new.get(path)
        if a is not None and b is not None and a[1].oid == b[1].oid and a[1].exec == b[1].exec:
            continue
        pointer = (b or a)[0]  # type: ignore[index]
        change = _compare_out(trees, path, pointer, a[1] if a else None, b[1] if b else None)
        if targets is not None:
            change = _restricted(change, targets)
        if change is not None:
            changes.append(change)
    return changes


def _compare_out(trees: TreeReader, path: RelPath, pointer: RelPath, a: Out | None,
                 b: Out | None) -> DataChange:
    found = _Found()
    try:
        if a is not None and b is not None and a.type == b.type == "dir":
            _compare_trees(trees, a.oid, b.oid, path, found)
        elif a is not None and b is not None and a.type == b.type == "file":
            found.modified.append((path, a.oid, b.oid))
        else:
            if a is not None:
                found.deleted += _files_of(trees, a)
            if b is not None:
                found.added += _files_of(trees, b)
    except MlvcError as exc:
        return DataChange(path, pointer, a and a.oid, b and b.oid,
                          unknown=f"{exc.message}; `mlvc fetch` (with -a, -T or -A for other "
                                  "revisions) gets it from a remote")
    return found.change(path, pointer, a, b)


@dataclass
class _Found:
    added: list[tuple[RelPath, str]] = field(default_factory=list)
    deleted: list[tuple[RelPath, str]] = field(default_factory=list)
    modified: list[tuple[RelPath, str, str]] = field(default_factory=list)

    def change(self, path: RelPath, pointer: RelPath, a: Out | None, b: Out | None
               ) -> DataChange:
        # A file deleted in one place and added with the same bytes elsewhere was renamed.
        gone: dict[str, list[RelPath]] = {}
        for p, oid in sorted(self.deleted):
            gone.setdefault(oid, []).append(p)
        renamed, added = [], []
        for p, oid in sorted(self.added):
            if gone.get(oid):
                renamed.append(Renamed(gone[oid].pop(0), p))
            else:
                added.append(p)
        moved = {r.old for r in renamed}
        deleted = sorted((p, oid) for p, oid in self.deleted if p not in moved)
        new_oid = dict(self.added)
        modified = sorted(self.modified)
        oids = ([(p, x, y) for p, x, y in modified] + [(p, None, new_oid[p]) for p in added]
                + [(p, oid, None) for p, oid in deleted]
                + [(r.new, new_oid[r.new], new_oid[r.new]) for r in renamed])
        return DataChange(
            path, pointer, a and a.oid, b and b.oid, tuple(added),
            tuple(p for p, _, _ in modified), tuple(p for p, _ in deleted), tuple(renamed),
            oids=tuple(oids))


def _compare_trees(trees: TreeReader, a_oid: str, b_oid: str, prefix: RelPath,
                   found: _Found) -> None:
    a = {e.name: e for e in trees.read_tree(a_oid).entries}
    b = {e.name: e for e in trees.read_tree(b_oid).entries}
    for name in sorted(a.keys() | b.keys()):
        x, y = a.get(name), b.get(name)
        path = f"{prefix}/{name}"
        if x is not None and y is not None:
            if x.oid == y.oid and x.type == y.type and x.exec == y.exec:
                continue
            if x.is_dir and y.is_dir:
                _compare_trees(trees, x.oid, y.oid, path, found)
                continue
            if not x.is_dir and not y.is_dir:
                found.modified.append((path, x.oid, y.oid))
                continue
        if x is not None:
            found.deleted += _files_of(trees, _as_out(path, x))
        if y is not None:
            found.added += _files_of(trees, _as_out(path, y))


def _files_of(trees: TreeReader, out: Out) -> list[tuple[RelPath, str]]:
    """(path, oid) of every file of the output (or folder entry) ``out``."""
    return [(p, w.oid) for p, w in flatten_tree(trees, out).files.items()]


def _as_out(path: RelPath, entry: TreeEntry) -> Out:
    return Out(path, entry.oid, entry.type, entry.size, entry.nfiles or 1, entry.exec)


def _restricted(change: DataChange, targets: list[RelPath]) -> DataChange | None:
    """``change`` told only for the files inside ``targets`` (None when none changed)."""
    def keep(p: RelPath) -> bool:
        return any(is_within(p, t) for t in targets)

    if any(is_within(change.path, t) for t in targets):
        return change
    if change.unknown:
        return change
    renamed = tuple(r for r in change.renamed if keep(r.old) or keep(r.new))
    listed = {r.new for r in renamed}
    kept = DataChange(change.path, change.pointer, change.old_oid, change.new_oid,
                      tuple(filter(keep, change.added)), tuple(filter(keep, change.modified)),
                      tuple(filter(keep, change.deleted)), renamed,
                      oids=tuple(o for o in change.oids if keep(o[0]) or o[0] in listed))
    return kept if (kept.added or kept.modified or kept.deleted or kept.renamed) else None


# -- params and metrics ----------------------------------------------------------------------

def _declared_params(pipelines: list[Pipeline | None], top: bool = True
                     ) -> dict[RelPath, set[str] | None]:
    """Params file -> the keys stages declare (None: the whole file); with ``top``, the
    files of the top-level ``params:`` too."""
    files: dict[RelPath, set[str] | None] = {}
    for pipeline in pipelines:
        for file in pipeline.params if pipeline is not None and top else ():
            files[file] = None  # (the top-level ``params:``: whole files)
        for stage in pipeline or ():
            for ref in stage.params:
                if not ref.keys:
                    files[ref.file] = None
                elif files.get(ref.file, set()) is not None:
                    files.setdefault(ref.file, set()).update(ref.keys)
    return files


def _values(view: SideView, path: RelPath, lock: dict[str, LockEntry] | None = None
            ) -> dict[str, object] | None:
    """The flattened values of a params or metrics file on a side (None: not there). A
    cached metrics file absent from git is read from the cache, by the oid the lock records
    (or that the manifest of a recorded folder holding it gives: a logger's file inside a
    stage's output folder, named by the top-level ``metrics:``)."""
    data = view.read(path)
    if data is None and lock is not None and view.side.sha is not None:
        oid = next((o.oid for e in lock.values() for o in e.outs if o.path == path), None)
        if oid is None:
            oid = _inside_recorded(view, path)
        if oid is not None and view.repo.cache.exists(oid):
            data = view.repo.cache.read_bytes(oid)
    if data is None:
        return None
    try:
        doc = parse_params(data.decode("utf-8"), view.where(path))
    except (MlvcError, UnicodeDecodeError) as exc:
        view.warnings.append(f"{getattr(exc, 'message', exc)} (left out)")
        return None
    return flatten(doc)


def _inside_recorded(view: SideView, path: RelPath) -> str | None:
    """The oid of file ``path`` inside a folder the side records (its manifests from the
    cache); None when none holds it, or a manifest is not here."""
    from mlvc.ops.ls import entry_at

    try:
        held = view.holding(path)
        if held is None or held[1].type != "dir":
            return None
        entry = entry_at(TreeReader(view.repo), held[1], path)
    except MlvcError:
        return None
    return entry.oid if entry.type == "file" else None


def _value_changes(old: dict[str, object] | None, new: dict[str, object] | None,
                   file: RelPath, keys: set[str] | None, everything: bool = False
                   ) -> list[ValueChange]:
    """The keys of ``file`` (those of ``keys``, or all) whose values differ; with
    ``everything``, the unchanged ones too."""
    old, new = old or {}, new or {}
    return [ValueChange(file, k, old.get(k), new.get(k))
            for k in sorted(old.keys() | new.keys())
            if _wanted(k, keys) and (everything or k not in old or k not in new
                                     or not _same(old[k], new[k]))]


def _wanted(key: str, keys: set[str] | None) -> bool:
    return keys is None or any(key == w or key.startswith(w + ".") for w in keys)


def _same(a: object, b: object) -> bool:
    """Equal values of one type (1 and 1.0 are the same number; ``true`` is not 1), a NaN
    metric left NaN included."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b) or (_number(a) and _number(b) and a == b)


def _metric_files(pipelines: list[Pipeline | None]) -> list[RelPath]:
    files: dict[RelPath, None] = {}
    for pipeline in pipelines:
        for stage in pipeline or ():
            for out in stage.outs:
                if out.kind == "metrics":
                    files[out.path] = None
        files.update(dict.fromkeys(pipeline.metrics if pipeline is not None else ()))
    return list(files)


# -- stages ------------------------------------------------------------------------------------

def _stage_changes(old: dict[str, LockEntry], new: dict[str, LockEntry]) -> list[StageChange]:
    changes = []
    for name in [*new, *(n for n in old if n not in new)]:
        a, b = old.get(name), new.get(name)
        if a is None:
            changes.append(StageChange(name, "added", ("not in the older mlvc.lock",)))
            continue
        if b is None:
            changes.append(StageChange(name, "removed", ("not in the newer mlvc.lock",)))
            continue
        a, b = a.normalized(), b.normalized()
        reasons: list[str] = []
        cmd = a.cmd != b.cmd
        if cmd:
            reasons.append("cmd changed")
        deps = _out_changes(a.deps, b.deps)
        reasons += [f"dep {p} {how}" for p, how in deps]
        params = []
        for file in sorted(a.params.keys() | b.params.keys()):
            params += _value_changes(a.params.get(file), b.params.get(file), file, None)
        reasons += [f"param {p.key} {_shown(p.old)} -> {_shown(p.new)}" for p in params]
        reasons += [f"out {p} {how}" for p, how in _out_changes(a.outs, b.outs)]
        if reasons:
            changes.append(StageChange(name, "modified", tuple(reasons),
                                       tuple(p for p, _ in deps), tuple(params), cmd))
    return changes


def _out_changes(a: tuple[Out, ...], b: tuple[Out, ...]) -> list[tuple[RelPath, str]]:
    old = {o.path: o for o in a}
    new = {o.path: o for o in b}
    out = []
    for path in sorted(old.keys() | new.keys()):
        x, y = old.get(path), new.get(path)
        if x is None:
            out.append((path, "added"))
        elif y is None:
            out.append((path, "removed"))
        elif x.oid != y.oid or x.exec != y.exec:
            out.append((path, "modified"))
    return out


def _joined(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _shown(value: object) -> str:
    return "(none)" if value is None else str(value)


# -- traces ------------------------------------------------------------------------------------

class _Tracer:
    def __init__(self, locks: list[dict[str, LockEntry]], stages: dict[str, StageChange],
                 data: list[DataChange], outputs: dict[RelPath, tuple[RelPath, Out]]) -> None:
        self.locks = locks  # newer first
        self.stages = stages
        self.data = data
        self.outputs = outputs
        self.expanded: set[str] = set()

    def producers(self, path: RelPath) -> list[str]:
        """The stages whose recorded outputs are ``path``, hold it, or lie inside it (a
        folder dep may hold the outputs of many), from the newer lock, else the older."""
        for lock in self.locks:
            names = [name for name, entry in lock.items()
                     if any(is_within(path, o.path) or is_within(o.path, path)
                            for o in entry.outs)]
            if names:
                return names
        return []

    def stage(self, name: str, made: str = "") -> TraceNode:
        """The node of stage ``name`` (which ``made`` the dep its caller needs), with its
        changed inputs as children; a stage met before in this trace is not told again."""
        change = self.stages.get(name)
        detail = f"makes {made}" if made else ""
        if change is None:
            return TraceNode("stage", name, _joined(
                detail, "its recorded cmd, deps and params did not change"))
        if change.change != "modified":
            return TraceNode("stage", name, _joined(detail, f"stage {change.change}"))
        if name in self.expanded:
            return TraceNode("stage", name, _joined(detail, "see above"))
        self.expanded.add(name)
        children: list[TraceNode] = []
        if change.cmd:
            children.append(TraceNode("cmd", name, "changed"))
        for dep in change.deps:
            # (of the stages that make a part of a folder dep, those that changed)
            makers = [m for m in self.producers(dep) if m != name and m in self.stages]
            children += [self.stage(m, dep) for m in makers] or [self.input(dep)]
        for p in change.params:
            children.append(TraceNode("param", f"{p.file}:{p.key}",
                                      f"{_shown(p.old)} -> {_shown(p.new)}"))
        if not children:
            detail = _joined(detail, "only its outputs changed")
        return TraceNode("stage", name, detail, tuple(children))

    def input(self, dep: RelPath) -> TraceNode:
        for d in self.data:
            if is_within(dep, d.path) or is_within(d.path, dep):
                return TraceNode("data", dep, f"{d.summary} ({d.pointer})")
        if any(is_within(dep, p) for p in self.outputs):
            return TraceNode("data", dep, "modified")
        return TraceNode("file", dep, "modified")

    def metric(self, path: RelPath, changes: list[ValueChange]) -> Trace:
        makers = self.producers(path)
        if not makers:
            root = TraceNode("note", path, "no stage records it as an output")
        else:
            self.expanded = set()
            root = self.stage(makers[0])
        return Trace(path, tuple(changes), root)


# -- the diff ----------------------------------------------------------------------------------

def diff(repo: Repo, a: str | None = None, b: str | None = None, *,
         targets: list[str] | None = None, cwd: Path | None = None, jobs: int | None = None,
         progress: Progress = NULL_PROGRESS) -> DiffResult:
    """Compare revision ``a`` (default ``HEAD``) with ``b`` (default: the workspace)."""
    if a is None and repo.scm is None:
        raise ScmError("`mlvc diff` compares with a git revision, and this project has no git",
                       hint="use git to have revisions to compare")
    old_side = side_of(repo, a or "HEAD")
    new_side = side_of(repo, b)
    old, new = SideView(repo, old_side), SideView(repo, new_side)
    wanted = None
    if targets:
        wanted = []
        for t in targets:
            try:
                wanted.append(from_user(repo.root, t, cwd))
            except PathError as exc:
                raise TargetError(exc.message, hint=exc.hint) from None

    old_lock, new_lock = old.lock, new.lock
    old_outs, new_outs = old.outputs, new.outputs
    built: dict[str, bytes] = {}
    if new_side.sha is None:
        new_outs = _workspace_now(repo, new_outs, jobs, progress, built)
    trees = TreeReader(repo, built)
    data = data_changes(trees, old_outs, new_outs, wanted)
    trees.remember()

    params = _compared("params", old, new)
    metrics = _compared("metrics", old, new)
    by_file: dict[RelPath, list[ValueChange]] = {}
    for change in metrics:
        by_file.setdefault(change.file, []).append(change)

    stages = _stage_changes(old_lock, new_lock)
    if new_side.sha is None and (repo.root / PIPELINE_FILE).is_file():
        from mlvc.ops.repro import pipeline_status

        try:
            stale = pipeline_status(repo, jobs)
        except MlvcError as exc:
            new.warnings.append(f"{exc.message} (out-of-date stages are not shown)")
            stale = []
        stages += [StageChange(name, "out of date", tuple(str(r) for r in why))
                   for name, why in stale]
    tracer = _Tracer([new_lock, old_lock],
                     {s.stage: s for s in stages if s.change != "out of date"}, data,
                     {**old_outs, **new_outs})
    traces = [tracer.metric(file, found) for file, found in by_file.items()]
    return DiffResult(old_side, new_side, tuple(data), tuple(params), tuple(metrics),
                      tuple(stages), tuple(traces), tuple(old.warnings + new.warnings))


# -- params and metrics alone (`mlvc params show/diff`, `mlvc metrics show/diff`) ---------------

@dataclass(frozen=True, slots=True)
class Value:
    file: RelPath
    key: str
    value: object


@dataclass(frozen=True, slots=True)
class SideValues:
    """The params or metrics of one side; ``missing``: declared files not there."""

    side: Side
    values: tuple[Value, ...]
    missing: tuple[RelPath, ...] = ()


@dataclass(frozen=True, slots=True)
class ShowResult:
    kind: str
    sides: tuple[SideValues, ...]
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict:
        """``{rev: {file: {key: value}}}``, as ``dvc metrics show --json`` nests them."""
        doc: dict = {}
        for sv in self.sides:
            files: dict = {f: {} for f in sv.missing}
            for v in sv.values:
                files.setdefault(v.file, {})[v.key] = v.value
            doc[sv.side.name] = files
        return doc


@dataclass(frozen=True, slots=True)
class ValuesDiff:
    kind: str
    a: Side
    b: Side
    changes: tuple[ValueChange, ...]  # with ``everything``, unchanged values too
    warnings: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return all(_same(c.old, c.new) for c in self.changes)

    def to_json(self) -> dict:
        return {"a": self.a.to_json(), "b": self.b.to_json(),
                "changes": [c.to_json() for c in self.changes]}


def _declared(kind: str, pipelines: list[Pipeline | None],
              targets: list[RelPath] | None = None, param_deps: bool = False
              ) -> dict[RelPath, set[str] | None]:
    """The params files (with the keys stages declare; None: all) or metrics files of the
    pipelines; with ``targets``, those files instead, declared or not (as DVC's
    ``--targets``: an undeclared file's keys all). ``param_deps``: only the params stages
    depend on (not the top-level ``params:``)."""
    found = _declared_params(pipelines, top=not param_deps) if kind == "params" else {
        f: None for f in _metric_files(pipelines)}
    if targets is None:
        return found
    return {t: found.get(t) for t in targets}


def _inside(targets: list[RelPath] | None, kind: str, pipelines: list[Pipeline | None],
            param_deps: bool = False) -> list[RelPath] | None:
    """``targets`` with each folder replaced by the files of ``kind`` that ``pipelines``
    declare inside it (DVC's ``-R``); a target holding none stays as it is."""
    if targets is None:
        return None
    declared = _declared(kind, pipelines, None, param_deps)
    return list(dict.fromkeys(f for t in targets for f in (
        sorted(f for f in declared if is_within(f, t)) or [t])))


def _compared(kind: str, old: SideView, new: SideView, everything: bool = False,
              targets: list[RelPath] | None = None, param_deps: bool = False
              ) -> list[ValueChange]:
    """The params or metrics that differ between two sides (all, with ``everything``), of
    the files and keys either side's stages declare (or of ``targets``)."""
    locks = (old.lock, new.lock) if kind == "metrics" else (None, None)
    changes: list[ValueChange] = []
    declared = _declared(kind, [new.pipeline, old.pipeline], targets, param_deps)
    for file, keys in sorted(declared.items()):
        changes += _value_changes(_values(old, file, locks[0]), _values(new, file, locks[1]),
                                  file, keys, everything)
    return changes


def _side_values(view: SideView, kind: str, targets: list[RelPath] | None = None,
                 param_deps: bool = False) -> SideValues:
    lock = view.lock if kind == "metrics" else None
    values: list[Value] = []
    missing: list[RelPath] = []
    for file, keys in sorted(_declared(kind, [view.pipeline], targets, param_deps).items()):
        found = _values(view, file, lock)
        if found is None:
            missing.append(file)
            continue
        values += [Value(file, k, v) for k, v in sorted(found.items()) if _wanted(k, keys)]
    return SideValues(view.side, tuple(values), tuple(missing))


def show_values(repo: Repo, kind: str, revs: list[str] | None = None, *,
                all_commits: bool = False, targets: list[str] | None = None,
                cwd: Path | None = None, all_branches: bool = False,
                all_tags: bool = False, param_deps: bool = False,
                recursive: bool = False) -> ShowResult:
    """The params (the keys stages declare) or metrics (of the files stages declare under
    ``metrics:``) of the workspace, or of each of ``revs`` (``workspace`` names the
    workspace), or of every commit and the workspace with ``all_commits`` (``all_branches``,
    ``all_tags``: of every branch or tag, by name, besides). ``targets``: those files
    instead (as the user typed them, from ``cwd``), declared or not; with ``recursive``, a
    folder among them stands for the files declared inside it. ``param_deps``: only the
    params stages depend on."""
    return show_kinds(repo, (kind,), revs, all_commits=all_commits, targets=targets,
                      cwd=cwd, all_branches=all_branches, all_tags=all_tags,
                      param_deps=param_deps, recursive=recursive)[0]


def show_kinds(repo: Repo, kinds: tuple[str, ...], revs: list[str] | None = None, *,
               all_commits: bool = False, targets: list[str] | None = None,
               cwd: Path | None = None, all_branches: bool = False,
               all_tags: bool = False, param_deps: bool = False,
               recursive: bool = False) -> list[ShowResult]:
    """:func:`show_values` of each of ``kinds`` ("params", "metrics"), each revision read
    once for all of them; its warnings go with the first kind. ``param_deps``: only the
    params stages depend on. ``recursive``: a folder target stands for the files of each
    kind declared inside it."""
    files = user_paths(repo, targets, cwd)[0] if targets else None
    names: list[str | None] = [None if r == WORKSPACE else r for r in revs or []] or [None]
    if all_commits or all_branches or all_tags:
        if repo.scm is None:
            raise ScmError("-a, -T and -A read git's revisions, and this project has no git")
        named = [ref.removeprefix(prefix) for prefix, on in (("refs/heads/", all_branches),
                                                              ("refs/tags/", all_tags)) if on
                 for ref, _ in repo.scm.refs(prefix.rstrip("/"))]
        names = [*names, *named, *(repo.scm.revisions(commits=True) if all_commits else [])]
    sides: dict[str, list[SideValues]] = {k: [] for k in kinds}
    warnings: list[str] = []
    views = [SideView(repo, side) for side in sides_of(repo, list(dict.fromkeys(names)))]
    # Each revision's files are read in two batches (one git process each), not one by one:
    # the pipeline, lock and params.yaml, then the files each pipeline declares.
    prefetch_texts(repo, views, lambda v: [PIPELINE_FILE, LOCK_FILE, DEFAULT_PARAMS])
    chosen = {k: _inside(files, k, [v.pipeline for v in views], param_deps) if recursive
              else files for k in kinds}
    prefetch_texts(repo, views, lambda v: [f for k in kinds for f in _declared(
        k, [v.pipeline], chosen[k], param_deps)])
    for view in views:
        shown = {k: _side_values(view, k, chosen[k], param_deps) for k in kinds}
        if (all_commits or all_branches or all_tags) and view.side.sha is not None and \
                not any(v.values or v.missing for v in shown.values()):
            continue  # (a commit from before the pipeline: nothing to say of it)
        for k in kinds:
            sides[k].append(shown[k])
        warnings += view.warnings
    return [ShowResult(k, tuple(sides[k]), tuple(warnings) if i == 0 else ())
            for i, k in enumerate(kinds)]


def diff_values(repo: Repo, kind: str, a: str | None = None, b: str | None = None, *,
                everything: bool = False, targets: list[str] | None = None,
                cwd: Path | None = None, param_deps: bool = False,
                recursive: bool = False) -> ValuesDiff:
    """The params or metrics whose values differ between ``a`` (default HEAD) and ``b``
    (default: the workspace); with ``everything``, the unchanged ones too; ``targets``:
    of those files (as typed, from ``cwd``) instead of the declared ones; with
    ``recursive``, a folder among them stands for the files declared inside it."""
    if a is None and repo.scm is None:
        raise ScmError(f"`mlvc {kind} diff` compares with a git revision, and this project "
                       "has no git", hint=f"`mlvc {kind} show` shows the workspace's")
    old_side, new_side = side_of(repo, a or "HEAD"), side_of(repo, b)
    old, new = SideView(repo, old_side), SideView(repo, new_side)
    files = user_paths(repo, targets, cwd)[0] if targets else None
    if recursive:
        files = _inside(files, kind, [old.pipeline, new.pipeline], param_deps)
    changes = _compared(kind, old, new, everything, files, param_deps)
    return ValuesDiff(kind, old_side, new_side, tuple(changes),
                      tuple(old.warnings + new.warnings))
