"""``mlvc check-ignore``: which ``.mlvcignore`` rule leaves a path out (as
``git check-ignore`` / ``dvc check-ignore``)."""

from __future__ import annotations

from pathlib import Path

from mlvc.errors import TargetError
from mlvc.ops import user_paths
from mlvc.paths import to_fs
from mlvc.repo import Repo
from mlvc.workspace.ignore import IgnoreMatch


def check_ignore(repo: Repo, targets: list[str], cwd: Path | None = None
                 ) -> list[tuple[str, IgnoreMatch | None]]:
    """(project path, the rule that ignores it or None) of each target; a path need not
    exist (a folder is told by a trailing '/' or by being one)."""
    out = []
    for target, path in zip(targets, user_paths(repo, targets, cwd)[0]):
        if not path:
            raise TargetError("the project's top folder is never ignored")
        is_dir = target.endswith("/") or to_fs(repo.root, path).is_dir()
        out.append((path, repo.ignore.explain(path, is_dir)))
    return out
