"""``mlvc pull``: fetch, then check out what was fetched."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from mlvc.ops import with_deps_targets
from mlvc.ops._remote import FailedObject, TransferResult
from mlvc.ops.checkout import CheckoutResult, checkout
from mlvc.ops.fetch import fetch, not_pending
from mlvc.paths import RelPath
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo


@dataclass(frozen=True, slots=True)
class PullResult:
    fetched: TransferResult
    checkout: CheckoutResult
    # with ``allow_missing``: objects the remote lacks, and the paths left out for want of them
    missing: tuple[FailedObject, ...] = ()
    skipped: tuple[tuple[RelPath, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.fetched.ok and self.checkout.ok

    def to_json(self) -> dict:
        return {"fetch": self.fetched.to_json(), "checkout": self.checkout.to_json(),
                "missing": [f.to_json() for f in self.missing],
                "skipped": [{"path": p, "reason": r} for p, r in self.skipped]}


def pull(repo: Repo, targets: list[str] | None = None, *, cwd: Path | None = None,
         remote: str | None = None, jobs: int | None = None, force: bool = False,
         all_branches: bool = False, all_tags: bool = False, all_commits: bool = False,
         run_cache: bool = False, with_deps: bool = False, allow_missing: bool = False,
         progress: Progress = NULL_PROGRESS) -> PullResult:
    """Objects of the chosen revisions are fetched; the workspace's are checked out.

    Whatever did arrive is checked out even when some objects failed, so a re-run only has
    the rest to do. ``allow_missing`` (as ``dvc pull --allow-missing``): objects the remote
    lacks, and the files that could not be checked out for want of them, are not failures
    (they are told apart: ``missing``, ``skipped``); a transfer that failed still is.
    """
    if with_deps:
        targets = with_deps_targets(repo, targets or [], cwd)
    fetched = fetch(repo, targets, cwd=cwd, remote=remote, jobs=jobs,
                    all_branches=all_branches, all_tags=all_tags, all_commits=all_commits,
                    run_cache=run_cache, progress=progress)
    nothing = False  # (the targets named only imports still without their data)
    if targets and any(f.lacks == "source" for f in fetched.failed):
        targets = not_pending(repo, targets, cwd)
        nothing = not targets
    done = CheckoutResult((), (), (), (), (), ()) if nothing else checkout(
        repo, targets, cwd=cwd, force=force, jobs=jobs, traveled=True, progress=progress)
    if not allow_missing:
        return PullResult(fetched, done)
    missing = tuple(f for f in fetched.failed  # (not one corrupt there: that is an error)
                    if f.lacks == "remote" and "corrupt" not in f.reason)
    done, skipped = done.missing_allowed()
    return PullResult(replace(fetched, failed=tuple(f for f in fetched.failed
                                                    if f not in missing)),
                      done, missing, skipped)

