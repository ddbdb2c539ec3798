"""``mlvc install``: git hooks that keep the data in step with git (SPEC 3), as ``dvc
install`` does: ``post-checkout`` runs ``mlvc checkout`` after a branch checkout,
``pre-commit`` shows ``mlvc status --no-updates`` (imports' sources are not asked: no
network at each commit), ``pre-push`` runs ``mlvc push``.

A hook file that is not mlvc's is never overwritten: install refuses, naming it, and says
which line to add. Installing again rewrites mlvc's own hooks (a moved project, another
Python). Hooks go where git looks for them (``core.hooksPath`` included).
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import MlvcError, ScmError
from mlvc.fsutil import atomic_write
from mlvc.repo import Repo

MARK = "# installed by `mlvc install`"
# (hook, the mlvc command it runs, a shell condition for running it)
HOOKS = (
    ("post-checkout", "checkout", '[ "$3" = 1 ]'),  # a branch checkout, not of files
    ("pre-commit", "status --no-updates", "true"),  # (no network at every commit)
    ("pre-push", "push", "true"),
)


@dataclass(frozen=True, slots=True)
class InstallResult:
    hooks: tuple[str, ...]  # the hook files written, as absolute paths
    replaced: tuple[str, ...] = ()  # of those, mlvc's own hooks written again

    def to_json(self) -> dict:
        return {"hooks": list(self.hooks), "replaced": list(self.replaced)}


def install(repo: Repo) -> InstallResult:
    if repo.scm is None:
        raise ScmError("git hooks need git, and this project has none",
                       hint="use git (`git init`, then `mlvc init --force`)")
    hooks_dir = Path(repo.scm.hooks_dir())
    top = Path(os.path.realpath(repo.scm.top()))
    rel = os.path.relpath(repo.root, top)
    project = '"$(git rev-parse --show-toplevel)"' + ("" if rel == "." else
                                                     "/" + shlex.quote(rel))
    theirs = [hooks_dir / name for name, _, _ in HOOKS
              if (hooks_dir / name).exists() and MARK not in _read(hooks_dir / name)]
    if theirs:
        raise MlvcError(
            f"{', '.join(str(p) for p in theirs)} exist{'s' if len(theirs) == 1 else ''} "
            "already and mlvc did not write it: not overwritten",
            hint="add mlvc's command to it yourself, e.g. `mlvc -C PROJECT checkout` in "
                 "post-checkout, `mlvc -C PROJECT status` in pre-commit, `mlvc -C PROJECT push`"
                 " in pre-push; or move it aside and run `mlvc install` again")
    written, replaced = [], []
    hooks_dir.mkdir(parents=True, exist_ok=True)
    for name, command, condition in HOOKS:
        path = hooks_dir / name
        if path.exists():
            replaced.append(str(path))
        atomic_write(path, _script(command, condition, project), 0o755)
        written.append(str(path))
    return InstallResult(tuple(written), tuple(replaced))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _script(command: str, condition: str, project: str) -> str:
    python = shlex.quote(sys.executable)
    return (f"#!/bin/sh\n{MARK}: runs `mlvc {command}` (delete this file to stop it)\n"
            f"{condition} || exit 0\n"
            "if command -v mlvc >/dev/null 2>&1; then\n"
            f"  exec mlvc -C {project} {command}\n"
            "fi\n"
            f"exec {python} -m mlvc -C {project} {command}\n")


def uninstall(repo: Repo) -> tuple[str, ...]:
    """Delete the hooks ``install`` wrote (a hook file mlvc did not write stays); returns
    their paths."""
    if repo.scm is None:
        return ()
    hooks_dir = Path(repo.scm.hooks_dir())
    gone = []
    for name, _, _ in HOOKS:
        path = hooks_dir / name
        if path.is_file() and MARK in _read(path):
            path.unlink()
            gone.append(str(path))
    return tuple(gone)
