"""``mlvc remove``: stop tracking an output (keeping the cache)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import ConfirmationRequired, TargetError
from mlvc.ops import record_in_git, user_paths
from mlvc.ops.status import status
from mlvc.paths import RelPath, to_fs
from mlvc.repo import Repo
from mlvc.workspace import gitignore
from mlvc.workspace.index import Index


@dataclass(frozen=True, slots=True)
class RemoveResult:
    pointer: RelPath
    outs: tuple[RelPath, ...]
    deleted_outs: bool
    git_files: tuple[RelPath, ...]
    staged: bool = False

    def to_json(self) -> dict:
        return {"pointer": self.pointer, "outs": list(self.outs),
                "deleted_outs": self.deleted_outs, "git_files": list(self.git_files),
                "staged": self.staged}


def remove(repo: Repo, target: str, *, cwd: Path | None = None, outs: bool = False,
           force: bool = False) -> RemoveResult:
    path = user_paths(repo, [target], cwd)[0]
    index = Index.load(repo.root, repo.ignore)
    pointer = index.pointers.get(path)
    _refuse_stage_output(index, path, "remove it from the stage in mlvc.yaml instead")
    if pointer is None:
        pointer = next((index.pointers[t.pointer] for t in index.tracked() if t.out.path == path),
                       None)
    if pointer is None:
        raise TargetError(f"'{target}' is neither a pointer file nor a tracked output",
                          hint="`mlvc status` lists what is tracked")
    out_paths = tuple(o.path for o in pointer.outs)
    with repo.lock():
        if outs and not force:
            dirty = status(repo, [pointer.path], cwd=repo.root).changed
            unsaved = [o.path for o in dirty if o.added or o.modified]
            if unsaved:
                raise ConfirmationRequired(
                    f"'{unsaved[0]}' has changes that are not in the cache",
                    hint="`mlvc commit` them first, or use --force to delete them anyway")
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
        to_fs(repo.root, pointer.path).unlink()
        changed = [gi for out in out_paths if (gi := gitignore.remove(repo.root, out))]
    git = record_in_git(repo, [pointer.path, *changed])
    return RemoveResult(pointer.path, out_paths, outs, git.files, git.staged)


def _refuse_stage_output(index: Index, path: RelPath, what: str) -> None:
    for t in index.stage_outs:
        if t.out.path == path:
            raise TargetError(f"'{path}' is an output of stage '{t.stage}'", hint=what)
