"""``mlvc add``: start tracking files and folders."""

from __future__ import annotations

import os
from pathlib import Path

from mlvc.errors import TargetError
from mlvc.ops import user_paths
from mlvc.ops.commit import CommitResult, save_outputs
from mlvc.paths import Nested, RelPath, is_within, overlaps, to_fs
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace import gitignore
from mlvc.workspace.index import Index
from mlvc.workspace.pointer import POINTER_SUFFIX, check_pointer_name, pointer_path_for


def add(repo: Repo, targets: list[str], *, cwd: Path | None = None, no_commit: bool = False,
        jobs: int | None = None, progress: Progress = NULL_PROGRESS) -> CommitResult:
    if not targets:
        raise TargetError("nothing to add", hint="name the files or folders to track")
    paths = list(dict.fromkeys(user_paths(repo, targets, cwd)))
    index = Index.load(repo.root, repo.ignore)
    _validate(repo, index, paths)
    items = [(pointer_path_for(p), p) for p in paths]
    with repo.lock():
        return save_outputs(repo, items, index.pointers, save=not no_commit, jobs=jobs,
                            progress=progress)


def _validate(repo: Repo, index: Index, paths: list[RelPath]) -> None:
    overlapping = index.overlap_finder()
    chosen = Nested(paths)
    for path in paths:
        if not path:
            raise TargetError("cannot track the whole project folder",
                              hint="name the data folders or files inside it")
        if not os.path.lexists(to_fs(repo.root, path)):
            raise TargetError(f"'{path}' does not exist")
        if path.endswith(POINTER_SUFFIX):
            raise TargetError(f"'{path}' is an mlvc pointer file; it cannot be tracked itself")
        check_pointer_name(path)
        gitignore.check_ignorable(path)
        if repo.ignore.is_ignored(path, os.path.isdir(to_fs(repo.root, path))):
            raise TargetError(f"'{path}' is ignored by .mlvcignore",
                              hint="remove the matching rule from .mlvcignore to track it")
        for d in index.declared:
            if overlaps(path, d.path):
                what = "is" if path == d.path else f"overlaps '{d.path}',"
                raise TargetError(f"'{path}' {what} an output of stage '{d.stage}'",
                                  hint=d.hint())
        for t in overlapping(path):  # stage outputs among them are refused above
            if t.out.path == path:
                continue  # re-adding a tracked output records its new state
            if is_within(path, t.out.path):
                raise TargetError(
                    f"'{path}' is inside '{t.out.path}', which {t.pointer} tracks already",
                    hint=f"run `mlvc add {t.out.path}` (or `mlvc commit`) to record its changes")
            raise TargetError(f"'{path}' contains '{t.out.path}', which {t.pointer} tracks",
                              hint=f"`mlvc remove {t.pointer}` first, then track the folder")
        inner = chosen.inside(path)
        if inner:
            raise TargetError(f"'{inner[0]}' and '{path}' overlap; track one of them")
    if repo.scm is not None:
        tracked = repo.scm.tracked(paths)
        if tracked:
            shown = tracked[0]
            raise TargetError(f"'{shown}' is tracked by git already",
                              hint=f"stop tracking it in git first: git rm -r --cached '{shown}'")
