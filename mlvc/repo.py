"""``Repo``: the context every operation works in. It has no verb methods."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import cached_property
from pathlib import Path

from mlvc.config import Config, ConfigFiles, default_jobs
from mlvc.errors import ConfigError, NotAProjectError
from mlvc.lock import repo_lock
from mlvc.objects.store import ObjectStore
from mlvc.paths import MLVC_DIR, real_inside
from mlvc.scm import Git, find_git_root
from mlvc.workspace.ignore import IgnoreRules
from mlvc.workspace.links import DEFAULT_LINK_TYPES, Linker
from mlvc.workspace.scan import Scanner
from mlvc.workspace.state import StateDB
from mlvc.yamlio import ParsedMemo, use_memo


def find_root(start: Path) -> Path:
    start = Path(os.path.realpath(start))
    for folder in (start, *start.parents):
        if (folder / MLVC_DIR).is_dir():
            return folder
    hint = "run `mlvc init` in the project's top folder"
    for folder in (start, *start.parents):  # (only on the way to an error)
        left = sorted(folder.glob(f"{MLVC_DIR}-destroyed.*"))
        if left:
            hint = (f"`mlvc destroy` was cut short in {folder}: the project is gone but "
                    f"{left[0].name} is left; delete it (`rm -rf {left[0]}`)")
            break
    raise NotAProjectError(f"not an mlvc project (no {MLVC_DIR}/ in {start} or above)",
                           hint=hint)


def resolve_cache_dir(dot: Path, configured: str) -> Path:
    """The real folder that a ``cache.dir`` value names (relative ones start at ``dot``,
    the project's ``.mlvc``)."""
    return (dot / os.path.expanduser(configured)).resolve()


def _in_workspace(root: Path, path: Path) -> str | None:
    """Where the real folder ``path`` is in the project's workspace (anywhere in the
    project but ``.mlvc/cache``), as the user should read it; None when it is not there."""
    real, top = str(path), str(root)
    if not real_inside(real, (top,)) or real_inside(real, (str(root / MLVC_DIR / "cache"),)):
        return None
    where = os.path.relpath(real, top)
    return "the project's top folder" if where == "." else where


def check_cache_dir(root: Path, path: Path, configured: str, level: str) -> None:
    """Refuse a cache folder inside the project's workspace (anywhere but the default
    ``.mlvc/cache``): mlvc would scan its objects as data, a checkout of an output around
    it would delete them as files the recorded tree lacks, and git would see them all.

    ``root`` and ``path`` are real paths; ``configured`` is the value as written, at
    ``level`` (project, local or global)."""
    shown = _in_workspace(root, path)
    if shown is None:
        return
    option = "" if level == "project" else f" --{level}"
    raise ConfigError(
        f"cache.dir '{configured}' is inside the project ({shown}; relative paths start "
        f"at {MLVC_DIR}/): mlvc would take the cache's objects for data, and git would see "
        "them",
        hint=f"keep the cache outside the project (`mlvc config{option} cache.dir "
             f"/path/outside`), or `mlvc config{option} --unset cache.dir` for the default "
             f"{MLVC_DIR}/cache")


class Repo:
    def __init__(self, root: Path, on_lock_wait: Callable[[], None] | None = None) -> None:
        self.root = Path(os.path.realpath(root))
        self.dot = self.root / MLVC_DIR
        self.tmp_dir = self.dot / "tmp"
        self.config_files = ConfigFiles.for_root(self.root)
        self.on_lock_wait = on_lock_wait
        # YAML this project's files hold, as parsed before (see yamlio.ParsedMemo).
        self.parsed = ParsedMemo(self.tmp_dir / "parsed-yaml")
        use_memo(self.parsed)

    @classmethod
    def find(cls, start: Path | None = None, **kwargs) -> Repo:
        """The project that holds ``start``; its config is read (and validated) at once."""
        repo = cls(find_root(start or Path.cwd()), **kwargs)
        repo.config  # noqa: B018 - a malformed config fails here, before any work
        repo.cache_dir  # noqa: B018 - and so does a cache folder that may not be used
        return repo

    @cached_property
    def config(self) -> Config:
        return Config.load(self.config_files)

    @property
    def jobs(self) -> int:
        return int(self.config.get("core.jobs") or default_jobs())

    @cached_property
    def cache_dir(self) -> Path:
        configured = self.config.get("cache.dir")
        if configured:
            path = resolve_cache_dir(self.dot, str(configured))
            check_cache_dir(self.root, path, str(configured),
                            self.config.origins.get("cache.dir", "project"))
            return path
        default = self.dot / "cache"
        if default.is_symlink():  # (moved to a bigger disk, say): it must lead out too
            shown = _in_workspace(self.root, default.resolve())
            if shown is not None:
                raise ConfigError(
                    f"{MLVC_DIR}/cache is a symlink to {shown}, inside the project: mlvc "
                    "would take the cache's objects for data, and git would see them",
                    hint=f"point {MLVC_DIR}/cache at a folder outside the project, or set "
                         "`mlvc config cache.dir /path/outside`")
        return default

    @cached_property
    def cache(self) -> ObjectStore:
        return ObjectStore(self.cache_dir)

    @cached_property
    def state(self) -> StateDB:
        return StateDB(self.tmp_dir / "state.db")

    @cached_property
    def ignore(self) -> IgnoreRules:
        return IgnoreRules(self.root)

    @cached_property
    def scanner(self) -> Scanner:
        return Scanner(self.root, self.ignore, (self.root, self.cache_dir))

    @property
    def link_types(self) -> tuple[str, ...]:
        return tuple(self.config.get("cache.type") or DEFAULT_LINK_TYPES)

    @cached_property
    def linker(self) -> Linker:
        return Linker(self.cache, self.link_types)

    @cached_property
    def git_root(self) -> Path | None:
        if self.config.get("core.no_scm"):
            return None
        return find_git_root(self.root)

    @cached_property
    def scm(self) -> Git | None:
        return Git(self.root) if self.git_root is not None else None

    def lock(self) -> AbstractContextManager[None]:
        return repo_lock(self.tmp_dir / "lock", on_wait=self.on_lock_wait)

    def close(self, *, failed: bool = False) -> None:
        if not failed:  # a command that fails writes nothing, not even what it parsed
            self.parsed.save()
        if "state" in self.__dict__:  # (popped: closing twice is closing once)
            self.__dict__.pop("state").close()

    def __enter__(self) -> Repo:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(failed=exc_type is not None)
