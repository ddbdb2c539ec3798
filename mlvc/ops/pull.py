"""``mlvc pull``: fetch, then check out what was fetched."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlvc.ops import with_deps_targets
from mlvc.ops._remote import TransferResult
from mlvc.ops.checkout import CheckoutResult, checkout
from mlvc.ops.fetch import fetch
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo


@dataclass(frozen=True, slots=True)
class PullResult:
    fetched: TransferResult
    checkout: CheckoutResult

    @property
    def ok(self) -> bool:
        return self.fetched.ok and self.checkout.ok

    def to_json(self) -> dict:
        return {"fetch": self.fetched.to_json(), "checkout": self.checkout.to_json()}


def pull(repo: Repo, targets: list[str] | None = None, *, cwd: Path | None = None,
         remote: str | None = None, jobs: int | None = None, force: bool = False,
         all_branches: bool = False, all_tags: bool = False, all_commits: bool = False,
         run_cache: bool = False, with_deps: bool = False,
         progress: Progress = NULL_PROGRESS) -> PullResult:
    """Objects of the chosen revisions are fetched; the workspace's are checked out.

    Whatever did arrive is checked out even when some objects failed, so a re-run only has
    the rest to do.
    """
    if with_deps:
        targets = with_deps_targets(repo, targets or [], cwd)
    fetched = fetch(repo, targets, cwd=cwd, remote=remote, jobs=jobs,
                    all_branches=all_branches, all_tags=all_tags, all_commits=all_commits,
                    run_cache=run_cache, progress=progress)
    done = checkout(repo, targets, cwd=cwd, force=force, jobs=jobs, traveled=True,
                    progress=progress)
    return PullResult(fetched, done)
