"""``mlvc unprotect``: make linked workspace files private, writable copies."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import TargetError
from mlvc.ops import user_paths
from mlvc.parallel import run_batched
from mlvc.paths import RelPath, seen_from, to_fs
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace.index import Index
from mlvc.workspace.links import unprotect_file
from mlvc.workspace.scan import iter_files, iter_leftovers, known_oids, stat_key
from mlvc.workspace.state import FileState, StatKey


@dataclass(frozen=True, slots=True)
class UnprotectResult:
    unprotected: tuple[RelPath, ...]

    def to_json(self) -> dict:
        return {"unprotected": list(self.unprotected)}


def unprotect(repo: Repo, targets: list[str], *, cwd: Path | None = None,
              jobs: int | None = None, progress: Progress = NULL_PROGRESS) -> UnprotectResult:
    paths, here = user_paths(repo, targets, cwd)
    # Every target must be tracked, and there (a typo would unprotect nothing, silently).
    Index.load(repo.root, repo.ignore, here=here).select(paths, here)
    for path in paths:
        if not os.path.lexists(to_fs(repo.root, path)):
            raise TargetError(f"'{seen_from(path, here)}' is not in the workspace",
                              hint="`mlvc checkout` puts tracked data back first")
    with repo.lock():
        done = unprotect_paths(repo, paths, jobs, progress)
    return UnprotectResult(tuple(sorted(done)))


def unprotect_paths(repo: Repo, paths: list[RelPath], jobs: int | None = None,
                    progress: Progress = NULL_PROGRESS) -> list[RelPath]:
    """Make every file at or below ``paths`` that is a link to the cache (or read-only) a
    private, writable copy; returns those it changed. The caller holds the repo lock."""
    done: list[RelPath] = []
    rows = []
    files = []
    for path in paths:
        node = repo.scanner.scan(path)
        found = list(iter_files(node))
        known_oids(repo.state, found, [path])
        files += found
        # (copies an unprotect killed part way left beside their files: not the user's)
        for leftover in iter_leftovers(node):
            with contextlib.suppress(FileNotFoundError):
                to_fs(repo.root, leftover).unlink()
    # A copy per file: two forked workers, as checkout's (50,000 files took 20 s in one).
    root = str(repo.root)
    keys = run_batched([f"{root}/{f.path}" for f in files], _unprotect_one,
                       jobs or repo.jobs, progress, "Unprotecting", processes=True)
    for f, key in zip(files, keys):
        if key is not None:
            done.append(f.path)
            if f.oid is not None:
                rows.append((f.path, FileState(StatKey(*key), f.oid, None)))
    repo.state.put_files(rows)
    return done


def _unprotect_one(fs: str) -> tuple[int, int, int] | None:
    """Unprotect one file (in a worker): its new stat, or None if it was private already."""
    if not unprotect_file(Path(fs)):
        return None
    return tuple(stat_key(os.stat(fs)))
