"""``mlvc data status``: the tracked data as ``git status`` shows files (as ``dvc data
status``): what the cache lacks, what is recorded but not committed to git, what the
workspace changed since it was recorded, and (when asked) files nobody tracks, outputs
unchanged, and data the remote lacks.

Nothing is hashed that ``mlvc status`` would not hash, nothing is written, and the remote
is asked only with ``not_in_remote``."""

from __future__ import annotations

from dataclasses import dataclass, replace

from mlvc.paths import RelPath, is_within
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo

CHANGES = ("added", "modified", "deleted", "renamed")


@dataclass(frozen=True, slots=True)
class Change:
    """One changed path: an output (its folder ends with "/"), or with ``granular`` a file
    in it; ``old`` for a rename."""

    kind: str  # one of CHANGES
    path: RelPath
    old: RelPath | None = None

    def to_json(self) -> dict:
        doc = {"change": self.kind, "path": self.path}
        if self.old is not None:
            doc["old"] = self.old
        return doc


@dataclass(frozen=True, slots=True)
class DataStatus:
    not_in_cache: tuple[RelPath, ...] = ()
    committed: tuple[Change, ...] = ()  # recorded (pointer files, mlvc.lock), not in HEAD
    uncommitted: tuple[Change, ...] = ()  # the workspace differs from the record
    untracked: tuple[RelPath, ...] | None = None  # (asked for) neither git's nor mlvc's
    unchanged: tuple[RelPath, ...] | None = None  # (asked for)
    not_in_remote: tuple[RelPath, ...] | None = None  # (asked for)
    remote: str | None = None
    unknown: tuple[str, ...] = ()  # why some committed changes could not be told file by file

    @property
    def clean(self) -> bool:
        return not (self.not_in_cache or self.committed or self.uncommitted
                    or self.untracked or self.not_in_remote)

    def to_json(self) -> dict:
        doc: dict = {"not_in_cache": list(self.not_in_cache),
                     "committed": [c.to_json() for c in self.committed],
                     "uncommitted": [c.to_json() for c in self.uncommitted]}
        for key in ("untracked", "unchanged", "not_in_remote"):
            if getattr(self, key) is not None:
                doc[key] = list(getattr(self, key))
        if self.remote is not None:
            doc["remote"] = self.remote
        if self.unknown:
            doc["unknown"] = list(self.unknown)
        doc["clean"] = self.clean
        return doc


def data_status(repo: Repo, *, granular: bool = False, untracked: bool = False,
                unchanged: bool = False, not_in_remote: bool = False,
                remote: str | None = None, jobs: int | None = None, refresh: bool = True,
                progress: Progress = NULL_PROGRESS) -> DataStatus:
    """What :class:`DataStatus` holds. ``granular``: the files inside changed folders
    rather than the folders (``data/`` modified becomes ``data/a.csv`` modified, …).
    ``refresh``: see :func:`mlvc.ops.status.cloud_status`."""
    from mlvc.ops.diff import (
        WORKSPACE,
        Side,
        SideView,
        TreeReader,
        data_changes,
        side_of,
    )
    from mlvc.ops.status import status

    recorded = SideView(repo, Side(WORKSPACE)).outputs
    # Recorded, not committed to git: HEAD's records against the workspace's.
    head = None
    if repo.scm is not None and repo.scm.resolve("HEAD") is not None:
        head = SideView(repo, side_of(repo, "HEAD")).outputs
    folders = {p for outs in (recorded, head or {}) for p, (_, out) in outs.items()
               if out.type == "dir"}

    def shown(path: RelPath) -> RelPath:
        return path + "/" if path in folders else path

    committed: list[Change] = []
    unknown: list[str] = []
    trees = TreeReader(repo)
    for change in data_changes(trees, head or {}, recorded, None):
        whole = change.unknown or change.path not in folders and (
            change.old_oid is None or change.new_oid is None or change.modified)
        if not granular or whole:
            kind = ("added" if change.old_oid is None else
                    "deleted" if change.new_oid is None else "modified")
            committed.append(Change(kind, shown(change.path)))
            if change.unknown and granular:
                unknown.append(f"{change.path}: {change.unknown}")
            continue
        committed += [Change(k, p) for k in ("added", "modified", "deleted")
                      for p in getattr(change, k)]
        committed += [Change("renamed", r.new, r.old) for r in change.renamed]

    # The workspace against the records.
    now = status(repo, jobs=jobs, progress=progress)
    lacking: list[RelPath] = []
    uncommitted: list[Change] = []
    for out in now.outs:
        if out.not_in_cache or out.problem:
            lacking += list(out.not_in_cache) if granular and out.not_in_cache \
                else [shown(out.path)]
        if out.missing:
            uncommitted.append(Change("deleted", shown(out.path)))
        elif out.added or out.modified or out.deleted:
            if granular or out.modified == (out.path,):
                uncommitted += [Change(k, p) for k in ("added", "modified", "deleted")
                                for p in getattr(out, k)]
            else:
                uncommitted.append(Change("modified", shown(out.path)))
    lacking += [p.path for p in now.pending]  # (imports recorded without their data)
    changed = {c.path.rstrip("/") for c in committed} | {
        o.path for o in now.outs if not o.clean} | {p.path for p in now.pending}

    result = DataStatus(tuple(dict.fromkeys(lacking)), tuple(committed),
                        tuple(uncommitted), unknown=tuple(unknown))
    extra: dict = {}
    if untracked and repo.scm is not None:
        extra["untracked"] = tuple(p for p in repo.scm.untracked()
                                   if not any(is_within(p, o) for o in recorded))
    if unchanged:
        extra["unchanged"] = tuple(shown(p) for p in sorted(recorded)
                                   if not any(is_within(c, p) or is_within(p, c)
                                              for c in changed))
    if not_in_remote:
        from mlvc.ops.status import cloud_status

        cloud = cloud_status(repo, remote=remote, jobs=jobs, refresh=refresh,
                             progress=progress)
        lacks = cloud.of("not on remote")
        if not granular:
            lacks = tuple(shown(next((o for o in recorded if is_within(p, o)), p))
                          for p in lacks)
        extra["not_in_remote"] = tuple(dict.fromkeys(lacks))
        extra["remote"] = cloud.remote
    if extra:
        result = replace(result, **extra)
    return result
