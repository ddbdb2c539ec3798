"""``mlvc doctor``: versions, settings, and which link types work on this machine."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from mlvc import __version__
from mlvc.errors import MlvcError, NotAProjectError
from mlvc.repo import Repo, find_root
from mlvc.workspace.links import SHARED_TYPES, probe_link_types

DEPENDENCIES = ("click", "gitpython", "fsspec", "s3fs", "xxhash", "pyyaml", "tqdm", "pathspec",
                "ruamel.yaml", "tomlkit")


@dataclass(frozen=True, slots=True)
class DoctorReport:
    mlvc: str
    python: str
    platform: str
    packages: tuple[tuple[str, str], ...]
    root: str | None
    cache_dir: str | None
    cache_type: tuple[str, ...]
    link_types: tuple[tuple[str, bool], ...]
    filesystems: tuple[tuple[str, str], ...]  # (what, filesystem type)
    remotes: tuple[tuple[str, str], ...]
    # Why the project found here cannot be used (a malformed config, a refused cache.dir):
    # the rest of its report is then empty.
    problem: str | None = None
    problem_hint: str | None = None
    as_root: bool = False  # the read-only bit of cache objects does not stop root

    @property
    def placed_as(self) -> str | None:
        """The link type checkout places files with here: cache.type's first that works."""
        works = {k for k, ok in self.link_types if ok}
        return next((k for k in self.cache_type if k in works), None)

    @property
    def root_writes_links(self) -> bool:
        """Whether files placed here would be links to the cache that root can write in
        place, changing the cache object too."""
        return self.as_root and self.placed_as in SHARED_TYPES

    @property
    def cache_type_works(self) -> bool | None:
        """Whether one link type of cache.type works between the cache and the workspace
        (None outside a project): else checkout cannot place files."""
        if self.root is None or self.problem is not None:
            return None
        return self.placed_as is not None

    def to_json(self) -> dict:
        return {
            "mlvc": self.mlvc, "python": self.python, "platform": self.platform,
            "packages": dict(self.packages), "root": self.root, "cache_dir": self.cache_dir,
            "cache_type": list(self.cache_type), "cache_type_works": self.cache_type_works,
            "link_types": dict(self.link_types),
            "filesystems": dict(self.filesystems), "remotes": dict(self.remotes),
            "problem": self.problem, "root_writes_links": self.root_writes_links,
        }


def _fs_type(path: Path) -> str:
    """The filesystem type of the mount that holds ``path`` (Linux; else 'unknown')."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "unknown"
    real = os.path.realpath(path)
    best, kind = "", "unknown"
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3:
            mount = parts[1].replace("\\040", " ")
            if (real == mount or real.startswith(mount.rstrip("/") + "/")) and len(mount) > len(best):
                best, kind = mount, parts[2]
    return kind


def _clean_url(url: str) -> str:
    """A URL without credentials in it."""
    parts = urlsplit(url)
    if parts.password or parts.username:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


def doctor(cwd: Path) -> DoctorReport:
    packages = []
    for name in DEPENDENCIES:
        try:
            packages.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            packages.append((name, "not installed"))
    root = cache_dir = None
    cache_type: tuple[str, ...] = ()
    links: tuple[tuple[str, bool], ...] = ()
    filesystems: list[tuple[str, str]] = []
    remotes: list[tuple[str, str]] = []
    problem = problem_hint = None
    try:
        repo = Repo.find(cwd)
    except NotAProjectError:  # doctor reports what it can outside a project
        repo = None
    except MlvcError as exc:  # a project is here, but its settings are refused
        repo = None
        root, problem, problem_hint = str(find_root(cwd)), exc.message, exc.hint
    if repo is not None:
        with repo:
            root, cache_dir = str(repo.root), str(repo.cache_dir)
            cache_type = repo.link_types
            links = tuple(probe_link_types(repo.cache.tmp_dir, repo.root).items())
            filesystems = [("workspace", _fs_type(repo.root)), ("cache", _fs_type(repo.cache_dir))]
            for remote, options in sorted(repo.config.remotes().items()):
                url = str(options.get("url", ""))
                remotes.append((remote, _clean_url(url)))
    return DoctorReport(__version__, sys.version.split()[0], platform.platform(), tuple(packages),
                        root, cache_dir, cache_type, links, tuple(filesystems), tuple(remotes),
                        problem, problem_hint,
                        hasattr(os, "geteuid") and os.geteuid() == 0)
