"""``mlvc install``: git hooks that keep the data in step with git (SPEC 3), as ``dvc
install`` does: ``post-checkout`` runs ``mlvc checkout`` after a branch checkout,
``pre-commit`` shows ``mlvc status --no-updates`` (imports' sources are not asked: no
network at each commit), ``pre-push`` runs ``mlvc push``.

A hook file that is not mlvc's is never overwritten: install refuses, naming it, and says
which line to add. Installing again rewrites mlvc's own hooks (a moved project, another
Python). Hooks go where git looks for them (``core.hooksPath`` included).

With the pre-commit framework (``--use-pre-commit-tool``, as DVC's), the same three hooks are
``repo: local`` entries of ``.pre-commit-config.yaml`` instead (the file's other entries and
comments kept), and ``pre-commit install`` installs them for those hook types.
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


PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"
HOOK_ID = "mlvc-{}"  # the id of each hook in .pre-commit-config.yaml


@dataclass(frozen=True, slots=True)
class InstallResult:
    hooks: tuple[str, ...]  # the hook files written, as absolute paths
    replaced: tuple[str, ...] = ()  # of those, mlvc's own hooks written again
    pre_commit_config: str | None = None  # with the pre-commit tool: the file edited
    pre_commit_ran: bool = False  # ...and whether `pre-commit install` ran (else: not found)

    def to_json(self) -> dict:
        doc = {"hooks": list(self.hooks), "replaced": list(self.replaced)}
        if self.pre_commit_config is not None:
            doc.update(pre_commit_config=self.pre_commit_config,
                       pre_commit_ran=self.pre_commit_ran)
        return doc


def install(repo: Repo, *, pre_commit_tool: bool = False) -> InstallResult:
    """The git hooks; with ``pre_commit_tool``, as entries of the pre-commit framework's
    config, which ``pre-commit install`` (when it is installed) then installs."""
    if repo.scm is None:
        raise ScmError("git hooks need git, and this project has none",
                       hint="use git (`git init`, then `mlvc init --force`)")
    hooks_dir = Path(repo.scm.hooks_dir())
    top = Path(os.path.realpath(repo.scm.top()))
    rel = os.path.relpath(repo.root, top)
    if pre_commit_tool:
        return _pre_commit_tool(top, rel)
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


def _pre_commit_tool(top: Path, rel: str) -> InstallResult:
    """mlvc's hooks as ``repo: local`` entries of the ``.pre-commit-config.yaml`` at the top
    of the git work tree (written again when there: found by their ids), then ``pre-commit
    install`` for the three hook types. ``rel``: the project's folder from the top."""
    import shutil
    import subprocess

    from ruamel.yaml.comments import CommentedMap

    from mlvc.errors import FormatError
    from mlvc.yamlio import round_trip_yaml

    path = top / PRE_COMMIT_CONFIG
    text = _read(path) if path.exists() else ""
    yaml = round_trip_yaml(text)
    try:
        doc = yaml.load(text) if text.strip() else CommentedMap()
    except Exception as exc:  # noqa: BLE001 - ruamel's errors: one clear message
        raise FormatError(f"{path}: not YAML ({exc})", hint=f"fix {path}") from None
    if not isinstance(doc, dict) or not isinstance(doc.setdefault("repos", []), list):
        raise FormatError(f"{path}: not a pre-commit config (no list of `repos`)",
                          hint=f"fix {path}")
    ours = {HOOK_ID.format(name) for name, _, _ in HOOKS}
    for entry in doc["repos"]:  # (mlvc's hooks of an earlier install go)
        if isinstance(entry, dict) and isinstance(entry.get("hooks"), list):
            entry["hooks"] = [h for h in entry["hooks"]
                              if not (isinstance(h, dict) and h.get("id") in ours)]
    doc["repos"] = [e for e in doc["repos"]
                    if not (isinstance(e, dict) and e.get("repo") == "local"
                            and e.get("hooks") == [])]
    at = "" if rel == "." else f" -C {shlex.quote(rel)}"
    hooks = []
    for name, command, condition in HOOKS:
        hook = CommentedMap()
        hook["id"] = HOOK_ID.format(name)
        hook["name"] = f"mlvc {command}"
        # (post-checkout: pre-commit tells a branch checkout by $PRE_COMMIT_CHECKOUT_TYPE)
        check = condition.replace('"$3"', '"$PRE_COMMIT_CHECKOUT_TYPE"')
        hook["entry"] = "sh -c " + shlex.quote(f"{check} || exit 0; exec mlvc{at} {command}")
        hook["language"] = "system"
        hook["pass_filenames"] = False
        hook["always_run"] = True
        hook["stages"] = [name]
        hooks.append(hook)
    local = CommentedMap()
    local["repo"] = "local"
    local["hooks"] = hooks
    doc["repos"].append(local)
    import io

    out = io.StringIO()
    yaml.dump(doc, out)
    atomic_write(path, out.getvalue())
    tool = shutil.which("pre-commit")
    ran = False
    if tool is not None:
        types = [a for name, _, _ in HOOKS for a in ("--hook-type", name)]
        done = subprocess.run([tool, "install", *types], cwd=top, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise MlvcError(f"`pre-commit install` failed: {(done.stderr or done.stdout).strip()}",
                            hint=f"{PRE_COMMIT_CONFIG} has mlvc's hooks: run `pre-commit "
                                 "install " + " ".join(types) + "` once it works")
        ran = True
    return InstallResult((), (), str(path), ran)


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
