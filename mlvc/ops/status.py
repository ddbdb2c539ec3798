"""``mlvc status``: how the workspace and cache differ from what pointers record."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlvc.ops._outputs import load_recorded, resolve, workspace_view
from mlvc.ops.commit import user_paths
from mlvc.paths import RelPath
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace.compare import diff
from mlvc.workspace.index import Index
from mlvc.workspace.verify import ObjectChecker


@dataclass(frozen=True, slots=True)
class OutStatus:
    pointer: RelPath
    path: RelPath
    added: tuple[RelPath, ...] = ()
    deleted: tuple[RelPath, ...] = ()
    modified: tuple[RelPath, ...] = ()
    not_in_cache: tuple[RelPath, ...] = ()
    corrupt_in_cache: tuple[RelPath, ...] = ()
    problem: str | None = None  # the recorded tree itself could not be read
    missing: bool = False  # nothing at all in the workspace

    @property
    def clean(self) -> bool:
        return not (self.added or self.deleted or self.modified or self.not_in_cache
                    or self.corrupt_in_cache or self.problem or self.missing)

    def to_json(self) -> dict:
        doc: dict = {"pointer": self.pointer, "path": self.path}
        for key in ("added", "deleted", "modified", "not_in_cache", "corrupt_in_cache"):
            if getattr(self, key):
                doc[key] = list(getattr(self, key))
        if self.problem:
            doc["problem"] = self.problem
        if self.missing:
            doc["missing"] = True
        return doc


@dataclass(frozen=True, slots=True)
class StatusResult:
    outs: tuple[OutStatus, ...] = field(default_factory=tuple)

    @property
    def clean(self) -> bool:
        return all(o.clean for o in self.outs)

    @property
    def changed(self) -> tuple[OutStatus, ...]:
        return tuple(o for o in self.outs if not o.clean)

    def to_json(self) -> dict:
        return {"clean": self.clean, "tracked": len(self.outs),
                "changed": [o.to_json() for o in self.changed]}


def status(repo: Repo, targets: list[str] | None = None, *, cwd: Path | None = None,
           jobs: int | None = None, progress: Progress = NULL_PROGRESS) -> StatusResult:
    jobs = jobs or repo.jobs
    index = Index.load(repo.root, repo.ignore)
    loaded = load_recorded(repo, index.select(user_paths(repo, targets or [], cwd)))
    views = [workspace_view(repo, item.selected) for item in loaded]

    # Only files that are recorded too need an oid: the rest are simply "added".
    need = [f for item, ws in zip(loaded, views) if item.recorded is not None
            for p, f in ws.files.items() if p in item.recorded.files]
    resolve(repo, need, [i.selected.within or i.selected.tracked.out.path for i in loaded],
            jobs, progress)

    checker = ObjectChecker(repo.cache, repo.state)
    oids = set()
    for item in loaded:
        if item.recorded is not None:
            oids |= item.recorded.objects() | item.recorded.trees
    # A hard-linked workspace file is its cache object: its stat from the scan will do.
    linked = {f.oid: f.key for f in need if f.link == "hardlink" and f.oid is not None}
    check = checker.check(oids, jobs, progress, seen=linked)

    results = []
    for item, ws in zip(loaded, views):
        t = item.selected.tracked
        if item.recorded is None:
            results.append(OutStatus(t.pointer, t.out.path, problem=item.problem,
                                     missing=not ws.files and not ws.dirs))
            continue
        changes = diff(item.recorded, ws)
        files = item.recorded.files
        bad_trees = [t.out.path + "/"] if item.recorded.trees & check.corrupt else []
        results.append(OutStatus(
            t.pointer, t.out.path, changes.added, changes.deleted, changes.modified,
            tuple(sorted(p for p, w in files.items() if w.oid in check.missing)),
            tuple(sorted(p for p, w in files.items() if w.oid in check.corrupt)) + tuple(bad_trees),
            missing=not ws.files and not ws.dirs and bool(files or item.recorded.dirs),
        ))
    return StatusResult(tuple(results))
