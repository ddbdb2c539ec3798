"""``mlvc unprotect``: make linked workspace files private, writable copies."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import TargetError
from mlvc.ops import user_paths
from mlvc.paths import RelPath, seen_from, to_fs
from mlvc.repo import Repo
from mlvc.workspace.index import Index
from mlvc.workspace.links import unprotect_file
from mlvc.workspace.scan import iter_files, known_oids, stat_key
from mlvc.workspace.state import FileState


@dataclass(frozen=True, slots=True)
class UnprotectResult:
    unprotected: tuple[RelPath, ...]

    def to_json(self) -> dict:
        return {"unprotected": list(self.unprotected)}


def unprotect(repo: Repo, targets: list[str], *, cwd: Path | None = None) -> UnprotectResult:
    paths, here = user_paths(repo, targets, cwd)
    # Every target must be tracked, and there (a typo would unprotect nothing, silently).
    Index.load(repo.root, repo.ignore, here=here).select(paths, here)
    for path in paths:
        if not os.path.lexists(to_fs(repo.root, path)):
            raise TargetError(f"'{seen_from(path, here)}' is not in the workspace",
                              hint="`mlvc checkout` puts tracked data back first")
    done: list[RelPath] = []
    rows = []
    with repo.lock():
        for path in paths:
            files = list(iter_files(repo.scanner.scan(path)))
            known_oids(repo.state, files, [path])
            for f in files:
                fs = to_fs(repo.root, f.path)
                if unprotect_file(fs):
                    done.append(f.path)
                    if f.oid is not None:
                        rows.append((f.path, FileState(stat_key(os.stat(fs)), f.oid, None)))
        repo.state.put_files(rows)
    return UnprotectResult(tuple(sorted(done)))
