"""``mlvc remove``: stop tracking an output (keeping the cache)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import ConfirmationRequired, TargetError
from mlvc.ops import inside_hint, record_in_git, user_paths
from mlvc.ops.status import status
from mlvc.paths import Nested, RelPath, to_fs
from mlvc.repo import Repo
from mlvc.workspace import gitignore
from mlvc.workspace.index import Index
from mlvc.workspace.pointer import Pointer


@dataclass(frozen=True, slots=True)
class Removed:
    pointer: RelPath
    outs: tuple[RelPath, ...]


@dataclass(frozen=True, slots=True)
class RemoveResult:
    removed: tuple[Removed, ...]
    deleted_outs: bool
    git_files: tuple[RelPath, ...]
    staged: bool = False

    def to_json(self) -> dict:
        return {"removed": [{"pointer": r.pointer, "outs": list(r.outs)} for r in self.removed],
                "deleted_outs": self.deleted_outs, "git_files": list(self.git_files),
                "staged": self.staged}


def remove(repo: Repo, targets: list[str], *, cwd: Path | None = None, outs: bool = False,
           force: bool = False) -> RemoveResult:
    """Stop tracking each target (a pointer file or an output). Every target is checked
    before anything is removed."""
    if not targets:
        raise TargetError("nothing to remove", hint="name the pointer files or outputs")
    index = Index.load(repo.root, repo.ignore, strict=False)  # remove is how overlaps go
    by_out: dict[RelPath, list[RelPath]] = {}
    for t in index.tracked():
        if t.stage is None:
            by_out.setdefault(t.out.path, []).append(t.pointer)
    pointers: dict[RelPath, Pointer] = {}
    paths, here = user_paths(repo, targets, cwd)
    for target, path in zip(targets, paths):
        _refuse_stage_output(index, path, "remove it from the stage in mlvc.yaml instead")
        owners = [path] if path in index.pointers else by_out.get(path, [])
        if not owners:
            raise TargetError(f"'{target}' is neither a pointer file nor a tracked output",
                              hint=inside_hint(index, path, "remove {}", here)
                              or "`mlvc status` lists what is tracked")
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
            dirty = status(repo, list(pointers), cwd=repo.root).changed
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
                    hint="`mlvc commit` stores it in the cache, or use --force to delete it "
                         "anyway")
            # Files in a tracked folder that mlvc passes by (.mlvcignore, a .git folder,
            # another project) are in no cache: deleting the folder would lose them.
            for out in out_paths:
                untracked = _untracked(repo, out)
                if untracked:
                    raise ConfirmationRequired(
                        f"'{untracked[0]}' is in '{out}' but not tracked (.mlvcignore, a "
                        ".git folder or another project leaves it out): deleting the folder "
                        "would lose it"
                        + (f" and {len(untracked) - 1} more" if len(untracked) > 1 else ""),
                        hint="move it out of the folder first, or use --force to delete it "
                             "anyway")
        if outs:
            for out in out_paths:
                fs = to_fs(repo.root, out)
                if fs.is_dir() and not fs.is_symlink():
                    shutil.rmtree(fs)
                elif os.path.lexists(fs):
                    fs.unlink()
            for out in out_paths:
                repo.state.delete_files(repo.state.files_under(out))
        repo.state.delete_marks(out_paths)  # no longer tracked: nothing to be clean against
        for pointer in pointers:
            to_fs(repo.root, pointer).unlink()
        changed = gitignore.remove_many(repo.root, out_paths)
    git = record_in_git(repo, [*pointers, *changed])
    return RemoveResult(tuple(Removed(p.path, tuple(o.path for o in p.outs))
                              for p in pointers.values()), outs and bool(out_paths), git.files,
                        git.staged)


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


def _refuse_stage_output(index: Index, path: RelPath, what: str) -> None:
    for t in index.stage_outs:
        if t.out.path == path:
            raise TargetError(f"'{path}' is an output of stage '{t.stage}'", hint=what)
