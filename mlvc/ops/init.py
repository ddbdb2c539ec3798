"""``mlvc init``: create ``.mlvc/`` and stage its files in git."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import MlvcError, NotAProjectError
from mlvc.fsutil import atomic_write
from mlvc.paths import MLVC_DIR
from mlvc.repo import Repo, find_root
from mlvc.scm import Git, find_git_root

DOT_GITIGNORE = "/config.local.yaml\n/tmp/\n/cache/\n"
MLVCIGNORE = (
    "# Paths mlvc never hashes, in .gitignore syntax.\n"
    "# Examples:\n"
    "#   *.tmp\n"
    "#   __pycache__/\n"
)


@dataclass(frozen=True, slots=True)
class InitResult:
    root: Path
    created: tuple[str, ...]
    staged: tuple[str, ...]
    not_staged: tuple[str, ...] = ()  # ignored by git here (in a folder git ignores, say)

    def to_json(self) -> dict:
        return {"root": str(self.root), "created": list(self.created),
                "staged": list(self.staged), "not_staged": list(self.not_staged)}


def init(path: Path, *, no_scm: bool = False, force: bool = False) -> InitResult:
    root = path.resolve()
    dot = root / MLVC_DIR
    if dot.exists() and not force:
        raise MlvcError(f"{root} is already an mlvc project",
                        hint="use `mlvc init --force` to re-create the project files")
    try:
        outer = find_root(root.parent) if root.parent != root else None
    except NotAProjectError:
        outer = None
    if outer is not None and not force:
        # Its pointer files would be the outer project's too, looking for their objects in
        # the other cache. (With --force it is a project of its own: the outer one's
        # commands leave its folder alone, see Index.load.)
        raise MlvcError(f"{root} is inside the mlvc project at {outer}",
                        hint="mlvc commands work from any folder of that project; `mlvc init "
                             "--force` makes a separate project here anyway")
    git_root = None if no_scm else find_git_root(root)
    if not no_scm and git_root is None:
        raise MlvcError(f"{root} is not inside a git repository",
                        hint="run `git init` first, or `mlvc init --no-scm` to use mlvc alone")
    made_dot = not dot.exists()
    created: list[str] = []
    try:
        (dot / "tmp").mkdir(parents=True, exist_ok=True)
        files = {
            dot / ".gitignore": DOT_GITIGNORE,
            dot / "config.yaml": "core:\n  no_scm: true\n" if no_scm else "",
        }
        if not (root / ".mlvcignore").exists():
            files[root / ".mlvcignore"] = MLVCIGNORE
        for fs, text in files.items():
            if fs.name == "config.yaml" and fs.exists() and not no_scm:
                continue
            atomic_write(fs, text)
            created.append(fs.relative_to(root).as_posix())
        staged: tuple[str, ...] = ()
        not_staged: tuple[str, ...] = ()
        if not no_scm:
            git = Git(root)
            wanted = [".mlvc/.gitignore", ".mlvc/config.yaml", ".mlvcignore"]
            # A project made inside a folder that git ignores (another project's tracked
            # folder, with init --force) has nothing git would stage: it is said, not failed.
            skipped = set(git.ignored(wanted))
            staged = tuple(p for p in wanted if p not in skipped)
            not_staged = tuple(p for p in wanted if p in skipped)
            if staged:
                git.add(list(staged))
        with Repo(root):
            pass
    except BaseException:
        # Nothing half-made stays: what this run created goes (a project there before,
        # re-initialised with --force, keeps its folder).
        if made_dot:
            shutil.rmtree(dot, ignore_errors=True)
        if ".mlvcignore" in created:
            (root / ".mlvcignore").unlink(missing_ok=True)
        raise
    return InitResult(root, tuple(created), staged, not_staged)
