"""The Python API: one module per verb, plain functions taking a Repo, frozen results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlvc.paths import RelPath, from_user

if TYPE_CHECKING:
    from mlvc.repo import Repo


def user_paths(repo: Repo, targets: list[str], cwd: Path | None) -> list[RelPath]:
    """Targets as the user typed them (relative to ``cwd``), as project paths."""
    return [from_user(repo.root, t, cwd) for t in targets]
