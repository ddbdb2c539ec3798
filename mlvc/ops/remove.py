"""``mlvc remove``: stop tracking an output (keeping the cache)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import ConfirmationRequired, MlvcError, TargetError
from mlvc.fsutil import atomic_write
from mlvc.ops import inside_hint, record_in_git, user_paths
from mlvc.ops.commit import store_paths
from mlvc.ops.stage import without_stages
from mlvc.ops.status import status
from mlvc.paths import Nested, RelPath, to_fs
from mlvc.pipeline.loader import load_pipeline
from mlvc.pipeline.lockfile import load_lock, write_lock
from mlvc.pipeline.model import LOCK_FILE, PIPELINE_FILE, Pipeline
from mlvc.repo import Repo
from mlvc.workspace import gitignore
from mlvc.workspace.index import Index
from mlvc.workspace.pointer import Pointer


@dataclass(frozen=True, slots=True)
class Removed:
    pointer: RelPath  # the pointer file, or mlvc.yaml for a stage
    outs: tuple[RelPath, ...]
    stage: str | None = None  # a stage (or foreach/matrix group) taken out of mlvc.yaml


@dataclass(frozen=True, slots=True)
class RemoveResult:
    removed: tuple[Removed, ...]
    deleted_outs: bool
    git_files: tuple[RelPath, ...]
    staged: bool = False
    # (stage, dep) of each remaining stage dep on data that --outs deleted
    stale_deps: tuple[tuple[str, RelPath], ...] = ()
    # Files of the outputs kept (without --outs) that were links to the cache: private
    # copies now, so that they outlive the cache's copy and an edit cannot reach it.
    unprotected: int = 0

    def to_json(self) -> dict:
        return {"removed": [{"pointer": r.pointer, "outs": list(r.outs), "stage": r.stage}
                            for r in self.removed],
                "deleted_outs": self.deleted_outs, "git_files": list(self.git_files),
                "staged": self.staged,
                "stale_deps": [{"stage": s, "dep": d} for s, d in self.stale_deps],
                "unprotected": self.unprotected}


def remove(repo: Repo, targets: list[str], *, cwd: Path | None = None, outs: bool = False,
           force: bool = False) -> RemoveResult:
    """Stop tracking each target (a pointer file or an output), or take a stage (or a
    foreach/matrix group) out of mlvc.yaml and mlvc.lock, as ``dvc remove`` does. Every
    target is checked before anything is removed."""
    if not targets:
        raise TargetError("nothing to remove", hint="name the pointer files or outputs")
    index = Index.load(repo.root, repo.ignore, strict=False)  # remove is how overlaps go
    pipeline = load_pipeline(repo.root)
    # A stage is named by its entry in mlvc.yaml: a foreach/matrix group, not one copy.
    stages = [t for t in targets if "@" not in t and pipeline.named(t)
              and not _tracked_path(repo, index, t, cwd)]
    if stages:
        if len(stages) < len(targets):
            raise TargetError("name either stages or tracked data, not both in one remove",
                              hint="run `mlvc remove` once for each")
        return _remove_stages(repo, index, pipeline, list(dict.fromkeys(stages)), outs=outs,
                              force=force)
    by_out: dict[RelPath, list[RelPath]] = {}
    for t in index.tracked():
        if t.stage is None:
            by_out.setdefault(t.out.path, []).append(t.pointer)
    for p in index.pending():  # (an import recorded without its data: named by its path)
        by_out.setdefault(p.imported_path, []).append(p.path)
    pointers: dict[RelPath, Pointer] = {}
    paths, here = user_paths(repo, targets, cwd)
    for target, path in zip(targets, paths):
        _refuse_stage_output(index, path)
        owners = [path] if path in index.pointers else by_out.get(path, [])
        if not owners:
            group = target.split("@", 1)[0]
            if "@" in target and pipeline.named(group):
                raise TargetError(f"'{target}' is one of the stages that '{group}' makes "
                                  "(foreach/matrix)",
                                  hint=f"`mlvc remove {group}` removes them all; or take "
                                       f"its key out of the list in {PIPELINE_FILE}")
            raise TargetError(f"'{target}' is neither a pointer file, a tracked output nor "
                              "a stage",
                              hint=inside_hint(index, path, "remove {}", here)
                              or "`mlvc status` lists what is tracked; `mlvc stage list` "
                                 "the stages")
        if len(set(owners)) > 1:
            raise TargetError(f"'{target}' is tracked by {' and '.join(owners)}",
                              hint="name the pointer file to remove")
        found = owners[0]
        pointers[found] = index.pointers[found]
    # An output that another pointer file or a stage also tracks (or holds) stays tracked:
    # its data, .gitignore line and state stay too (see Index.load on such overlaps).
    kept = Nested([*(o.path for p in index.pointers.values() if p.path not in pointers
                     for o in p.outs), *(t.out.path for t in index.stage_outs)])
    out_paths = [o.path for p in pointers.values() for o in p.outs
                 if not kept.holding(o.path)]
    for out in out_paths:
        gitignore.check_writable(repo.root, out, new=False, here=here)
    with repo.lock():
        if outs and not force and out_paths:
            _refuse_unsaved(repo, list(pointers), out_paths)
        if outs:
            _delete(repo, out_paths)
        unprotected = 0 if outs else _keep_private(repo, out_paths)
        repo.state.delete_marks(out_paths)  # no longer tracked: nothing to be clean against
        for pointer in pointers:
            to_fs(repo.root, pointer).unlink()
        # (a pending import's .gitignore line goes too; what is at its path, recorded
        # nowhere, is left where it is)
        pending = [p.pending for p in pointers.values()
                   if p.pending is not None and not kept.holding(p.pending)]
        changed = gitignore.remove_many(repo.root, [*out_paths, *pending])
    git = record_in_git(repo, [*pointers, *changed])
    return RemoveResult(tuple(Removed(p.path, tuple(o.path for o in p.outs) + (
        (p.pending,) if p.pending is not None else ()))
                              for p in pointers.values()), outs and bool(out_paths), git.files,
                        git.staged, pipeline.deps_within(out_paths) if outs else (),
                        unprotected)


def _keep_private(repo: Repo, out_paths: list[RelPath]) -> int:
    """Make the files of outputs that stop being tracked, but stay, private copies where
    they are links to the cache (as ``dvc remove`` unprotects them): a symlink would break,
    and a hard link keep the cache's bytes read-only and in reach of an edit, once the
    cache's copy is not theirs to keep."""
    from mlvc.ops.unprotect import unprotect_paths

    present = [p for p in out_paths if os.path.lexists(to_fs(repo.root, p))]
    return len(unprotect_paths(repo, present)) if present else 0


def _tracked_path(repo: Repo, index: Index, target: str, cwd: Path | None) -> bool:
    """Whether ``target`` names a pointer file or an output (which wins over a stage of the
    same name, as a path)."""
    try:
        [path], _ = user_paths(repo, [target], cwd)
    except MlvcError:
        return False
    return path in index.pointers or any(t.out.path == path for t in index.tracked())


def _remove_stages(repo: Repo, index: Index, before: Pipeline, keys: list[str], *,
                   outs: bool, force: bool) -> RemoveResult:
    """Take the stages ``keys`` out of mlvc.yaml and their entries out of mlvc.lock, and
    their cached outputs out of .gitignore; with ``outs``, delete the outputs too (not
    unsaved data, unless ``force``). The outputs' bytes stay in the cache, and the run
    cache keeps its records."""
    names = {n for k in keys for n in before.named(k)}
    outs_of = {k: [o for n in before.named(k) for o in before[n].outs] for k in keys}
    out_paths = [o.path for k in keys for o in outs_of[k]]
    cached = [o.path for k in keys for o in outs_of[k] if o.cache]
    for out in cached:
        gitignore.check_writable(repo.root, out, new=False)
    tracked = {t.out.path for t in index.stage_outs if t.stage in names}  # cached, recorded
    with repo.lock():
        text, pipeline = without_stages(repo, keys)
        lock = load_lock(repo.root)
        present = [p for p in out_paths if os.path.lexists(to_fs(repo.root, p))]
        if outs and not force:
            # Outputs kept in git (cache: false) are in the cache too once recorded, files
            # at least (for the run cache); one never recorded, or changed since, is in
            # neither. (So is a cached output of a stage that never ran.)
            unrecorded = [p for p in present if p not in tracked]
            record = {o.path: o for n in names if n in lock for o in lock[n].outs}
            for stored in store_paths(repo, unrecorded, save=False):
                was, now = record.get(stored.path), stored.out
                if was is None or now is None or now.oid != was.oid or (
                        now.type == "file" and not repo.cache.exists(was.oid)):
                    raise ConfirmationRequired(
                        f"'{stored.path}' has bytes that {LOCK_FILE} does not record (or its "
                        "stage has not run through mlvc): they are in no cache",
                        hint="`mlvc commit` records them first, or use --force to delete "
                             "them anyway")
            if tracked & set(present):
                recorded = [p for p in present if p in tracked]
                _refuse_unsaved(repo, recorded, recorded)
        atomic_write(to_fs(repo.root, PIPELINE_FILE), text)
        lock_changed = any(n in lock for n in names)
        if lock_changed:
            write_lock(repo.root, [e for n, e in lock.items() if n in pipeline])
        # Deleted outputs that git tracks (cache: false) are a change for git to record.
        in_git = []
        if outs:
            uncached = [p for p in present if p not in cached]
            in_git = repo.scm.tracked(uncached) if uncached and repo.scm is not None else []
            _delete(repo, present)
        unprotected = 0 if outs else _keep_private(repo, [p for p in present if p in cached])
        repo.state.delete_marks(out_paths)  # no longer tracked: nothing to be clean against
        changed = gitignore.remove_many(repo.root, cached)
    git = record_in_git(repo, [PIPELINE_FILE, *([LOCK_FILE] if lock_changed else []),
                               *changed, *in_git])
    return RemoveResult(tuple(Removed(PIPELINE_FILE, tuple(o.path for o in outs_of[k]), k)
                              for k in keys), outs and bool(present), git.files, git.staged,
                        pipeline.deps_within(present) if outs else (), unprotected)


def _refuse_unsaved(repo: Repo, targets: list[RelPath], out_paths: list[RelPath]) -> None:
    """Before ``out_paths`` (the outputs that ``targets`` name) are deleted: refuse, asking
    for confirmation, when that would lose bytes that no cache holds."""
    dirty = status(repo, targets, cwd=repo.root).changed
    unsaved = [o.path for o in dirty if o.added or o.modified]
    if unsaved:
        raise ConfirmationRequired(
            f"'{unsaved[0]}' has changes that are not in the cache",
            hint="`mlvc commit` them first, or use --force to delete them anyway")
    # A file whose cache object is missing or went bad may be its last sound copy.
    # (An output whose recorded tree is not in the cache, as after `add --no-commit`,
    # says nothing of its files: the whole output counts.)
    lost = [p for o in dirty for p in (*o.corrupt_in_cache, *o.not_in_cache,
                                       *([o.path] if o.problem else ()))
            if not p.endswith("/") and os.path.lexists(to_fs(repo.root, p))]
    if lost:
        raise ConfirmationRequired(
            f"'{lost[0]}' is the only sound copy of its bytes: its cache object is "
            "missing or corrupt",
            hint="`mlvc commit` stores it in the cache, or use --force to delete it anyway")
    # Files in a tracked folder that mlvc passes by (.mlvcignore, a .git folder, another
    # project) are in no cache: deleting the folder would lose them.
    for out in out_paths:
        untracked = _untracked(repo, out)
        if untracked:
            raise ConfirmationRequired(
                f"'{untracked[0]}' is in '{out}' but not tracked (.mlvcignore, a .git folder "
                "or another project leaves it out): deleting the folder would lose it"
                + (f" and {len(untracked) - 1} more" if len(untracked) > 1 else ""),
                hint="move it out of the folder first, or use --force to delete it anyway")


def _delete(repo: Repo, out_paths: list[RelPath]) -> None:
    for out in out_paths:
        fs = to_fs(repo.root, out)
        if fs.is_dir() and not fs.is_symlink():
            shutil.rmtree(fs)
        elif os.path.lexists(fs):
            fs.unlink()
    for out in out_paths:
        repo.state.delete_files(repo.state.files_under(out))


def _untracked(repo: Repo, out: RelPath) -> list[RelPath]:
    """The files on disk in folder ``out`` that its scan does not list (mlvc's own leftover
    temporary files aside), in walk order."""
    fs = to_fs(repo.root, out)
    if not fs.is_dir() or fs.is_symlink():
        return []
    listing = repo.scanner.listing(out)
    seen = {*listing.paths, *(p for _, p in listing.leftovers)}
    found = []
    for folder, dirs, files in os.walk(fs):
        dirs.sort()
        rel = os.path.relpath(folder, repo.root).replace(os.sep, "/")
        found += [f"{rel}/{f}" for f in sorted(files) if f"{rel}/{f}" not in seen]
    return found


def _refuse_stage_output(index: Index, path: RelPath) -> None:
    for t in index.stage_outs:
        if t.out.path == path:
            raise TargetError(f"'{path}' is an output of stage '{t.stage}'",
                              hint=f"take it out of the stage in {PIPELINE_FILE}, or remove "
                                   f"the whole stage (`mlvc remove {t.stage.split('@')[0]}`)")
