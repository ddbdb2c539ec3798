"""``mlvc destroy``: take mlvc out of a project, keeping the workspace's data, as ``dvc
destroy`` does.

Deleted: every pointer file, ``mlvc.yaml``, ``mlvc.lock``, the top ``.mlvcignore``, the git
hooks ``mlvc install`` wrote, and ``.mlvc/`` with the cache in it (a cache elsewhere, set by
``cache.dir`` or a ``.mlvc/cache`` symlink, is kept: other projects may share it). Tracked
files that are links to the cache become private copies first, so the data in the workspace
outlives the cache; if that fails, nothing is deleted. The ``.gitignore`` entries of tracked
data stay, so that git does not pick up the data, and experiments' git refs stay.

Order, for an interrupted run: copies first, then the files that describe the data, then
``.mlvc/`` (renamed aside at once, then deleted): until ``.mlvc/`` goes, the folder is still
a project and ``mlvc destroy`` can finish the work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mlvc.errors import ConfirmationRequired, MlvcError
from mlvc.fsutil import rmtree
from mlvc.ops import record_in_git
from mlvc.ops.install import uninstall
from mlvc.ops.unprotect import unprotect_paths
from mlvc.paths import MLVC_DIR, RelPath, real_inside, to_fs
from mlvc.pipeline.model import LOCK_FILE, PIPELINE_FILE
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace.ignore import IGNORE_FILE
from mlvc.workspace.index import Index


@dataclass(frozen=True, slots=True)
class DestroyResult:
    removed: tuple[RelPath, ...]  # pointer files, mlvc.yaml, mlvc.lock, .mlvcignore, .mlvc
    unprotected: int  # tracked files that were links to the cache: private copies now
    cache: str  # the cache folder (a real path)
    cache_removed: bool  # False: it is outside .mlvc/ and was kept
    hooks: tuple[str, ...] = ()  # git hooks of `mlvc install`, deleted
    git_files: tuple[RelPath, ...] = ()  # deletions for git to record
    staged: bool = False

    def to_json(self) -> dict:
        return {"removed": list(self.removed), "unprotected": self.unprotected,
                "cache": self.cache, "cache_removed": self.cache_removed,
                "hooks": list(self.hooks), "git_files": list(self.git_files),
                "staged": self.staged}


def destroy(repo: Repo, *, force: bool = False, jobs: int | None = None,
            progress: Progress = NULL_PROGRESS) -> DestroyResult:
    """Take mlvc out of ``repo`` (see the module's text). Without ``force`` it raises
    ConfirmationRequired, naming what would go, and deletes nothing."""
    from mlvc.ops.exp_queue import workers

    index = Index.load(repo.root, repo.ignore, strict=False)
    pointers = sorted(index.pointers)
    described = [p for p in (*pointers, PIPELINE_FILE, LOCK_FILE, IGNORE_FILE)
                 if os.path.lexists(to_fs(repo.root, p))]
    cache = os.path.realpath(repo.cache_dir)
    cache_removed = real_inside(cache, (os.path.realpath(repo.dot),))
    running = workers(repo)
    if running:
        raise MlvcError(f"the experiment queue has a worker running (process {running[0]})",
                        hint="`mlvc queue stop` first, or wait for its runs to end")
    if not force:
        named = [*([f"{len(pointers)} pointer file{'' if len(pointers) == 1 else 's'}"]
                   if pointers else []), *described[len(pointers):]]
        files = ", ".join(named) + " and " if named else ""
        raise ConfirmationRequired(
            f"this deletes {files}{MLVC_DIR}/"
            + (" with the cache: versions of the data that the workspace does not hold are "
               "lost unless a remote has them" if cache_removed else
               f" (the cache at {cache} is kept)")
            + "; the workspace's data stays",
            hint="`mlvc push` first keeps every version on the remote; --force destroys "
                 "without asking")
    with repo.lock():
        outs = sorted({t.out.path for t in index.tracked()
                       if os.path.lexists(to_fs(repo.root, t.out.path))})
        # Copies first: a link left to a deleted cache would lose the data it shows.
        unprotected = len(unprotect_paths(repo, outs, jobs, progress)) if outs else 0
        for path in described:
            to_fs(repo.root, path).unlink()
        hooks = uninstall(repo)
        in_git = repo.scm.tracked([MLVC_DIR]) if repo.scm is not None else []
        _remove_worktrees(repo)
        repo.close()
        # Renamed aside first: from here on the folder is no project (and no half-deleted
        # one); what is left of the rename, if deleting it is cut short, is plain files.
        aside = repo.root / f".{MLVC_DIR.lstrip('.')}-destroyed.{os.getpid()}"
        os.replace(repo.dot, aside)
    rmtree(aside)
    git = record_in_git(repo, [*described, *in_git])
    return DestroyResult(tuple([*described, MLVC_DIR]), unprotected, cache, cache_removed,
                         hooks, git.files, git.staged)


def _remove_worktrees(repo: Repo) -> None:
    """Work trees an interrupted queue run left in ``.mlvc/tmp/exps``: git's records of
    them go too (else ``git worktree list`` keeps them)."""
    folder = repo.tmp_dir / "exps"
    if repo.scm is None or not folder.is_dir():
        return
    for tree in sorted(folder.iterdir()):
        if tree.is_dir():
            repo.scm.remove_worktree(str(tree))

