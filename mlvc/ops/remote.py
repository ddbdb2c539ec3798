"""``mlvc remote add/list/remove/default/modify``: the ``remotes.*`` and ``core.remote`` settings.

Credentials (any option whose name says key, secret, password or token) go to the git-ignored
``.mlvc/config.local.yaml`` unless a level is given, and are never shown. The user's
(``global``) and the machine's (``system``) files can be written outside a project too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlvc import config as cfg
from mlvc.errors import NotAProjectError, RemoteError
from mlvc.remote import check_place, scheme
from mlvc.repo import Repo, find_root

WRITABLE = ("project", "local")


@dataclass(frozen=True, slots=True)
class RemoteInfo:
    name: str
    url: str
    default: bool
    options: tuple[tuple[str, object], ...]  # secrets masked

    def to_json(self) -> dict:
        return {"name": self.name, "url": self.url, "default": self.default,
                "options": dict(self.options)}


def _files(cwd: Path, level: str | None = None) -> tuple[Path | None, cfg.ConfigFiles]:
    """The project's root and config files; for the user's or the machine's level, no root
    (None) outside a project."""
    try:
        root = find_root(cwd)
    except NotAProjectError:
        if level not in cfg.USER_LEVELS:
            raise
        return None, cfg.ConfigFiles.outside()
    return root, cfg.ConfigFiles.for_root(root)


def _touched(files: cfg.ConfigFiles, name: str, level: str | None) -> list[str]:
    """The levels whose files define remote ``name`` that remove and rename change: the
    one asked for, else the project's two."""
    found = _levels_with(files, name)
    levels = [level] if level in found else [] if level is not None else \
        [lv for lv in found if lv in WRITABLE]
    if not levels:
        where = f"the {level} config" if level is not None else "this project"
        raise RemoteError(f"no remote named '{name}' in {where}",
                          hint="`mlvc remote list` shows the remotes" + (
                              f" (those of the {', '.join(found)} config: give --"
                              f"{found[0]})" if found and level is None else ""))
    return levels


def _read(files: cfg.ConfigFiles, level: str) -> dict[str, object]:
    """One level's settings as written (unvalidated: a bad value elsewhere in the file must
    not stop `remote remove` or `modify` from mending it)."""
    path = files.path(level)
    return cfg.read_file(path, str(path), validate=False)


def _levels_with(files: cfg.ConfigFiles, name: str) -> list[str]:
    prefix = f"remotes.{name}."
    return [lv for lv in cfg.LEVELS if any(k.startswith(prefix) for k in _read(files, lv))]


def _check_name(name: str) -> None:
    if not cfg.NAME.fullmatch(name):
        raise RemoteError(f"'{name}' is not a valid remote name",
                          hint="use letters, digits, '_' and '-' (no dots or spaces)")


def _store_url(root: Path | None, cwd: Path, url: str, level: str = "project") -> str:
    """A local path given relative to the current folder is stored relative to the project;
    in the user's or the machine's file, absolute (they serve every project)."""
    if scheme(url) is not None or os.path.isabs(os.path.expanduser(url)):
        return url
    full = os.path.normpath(os.path.join(cwd, url))
    return full if root is None or level in cfg.USER_LEVELS else os.path.relpath(full, root)


def _check_place(name: str, url: str, root: Path | None) -> None:
    if root is not None:  # (a remote may not be inside the project or its cache)
        check_place(name, url, root, Repo(root).cache_dir)


def add_remote(cwd: Path, name: str, url: str, *, default: bool = False,
               level: str = "project", force: bool = False) -> RemoteInfo:
    _check_name(name)
    root, files = _files(cwd, level)
    existing = _levels_with(files, name)
    if existing and not force:
        raise RemoteError(f"remote '{name}' exists already ({', '.join(existing)} config)",
                          hint=f"change it with `mlvc remote modify {name} url URL`, "
                               "or replace it with -f")
    if force:
        for lv in existing:
            if lv in WRITABLE or lv == level:
                cfg.unset_value(files.path(lv), lv, f"remotes.{name}")
    stored = _store_url(root, cwd, url, level)
    _check_place(name, stored, root)
    cfg.set_value(files.path(level), level, f"remotes.{name}.url", stored)
    if default:
        cfg.set_value(files.path(level), level, "core.remote", name)
    return _info(files, name)


def list_remotes(cwd: Path, level: str | None = None) -> tuple[RemoteInfo, ...]:
    """The remotes in effect (all levels merged), or those one level's file defines."""
    _, files = _files(cwd, level)
    if level is not None:
        values = _read(files, level)
        merged = cfg.Config(values, dict.fromkeys(values, level))
        return tuple(_info(files, n, merged) for n in sorted(merged.remotes()))
    merged = cfg.Config.load(files)
    return tuple(_info(files, n, merged) for n in sorted(merged.remotes()))


def _info(files: cfg.ConfigFiles, name: str, merged: cfg.Config | None = None) -> RemoteInfo:
    merged = merged or cfg.Config.load(files)
    options = merged.remotes().get(name, {})
    shown = tuple((k, cfg.shown(k, v)) for k, v in sorted(options.items()) if k != "url")
    return RemoteInfo(name, str(options.get("url", "")), merged.get("core.remote") == name, shown)


def remove_remote(cwd: Path, name: str, level: str | None = None) -> RemoteInfo:
    """Remove remote ``name`` from the project's files that define it (or from ``level``'s
    alone), and as their default remote."""
    _, files = _files(cwd, level)
    levels = _touched(files, name, level)
    info = _info(files, name, cfg.Config.load(files, validate=False))
    for lv in levels:
        cfg.unset_value(files.path(lv), lv, f"remotes.{name}")
    for lv in levels if level is not None else WRITABLE:
        if _read(files, lv).get("core.remote") == name:
            cfg.unset_value(files.path(lv), lv, "core.remote")
    return info


def default_remote(cwd: Path, name: str | None = None, *, unset: bool = False,
                   level: str = "project") -> str | None:
    """Show (no name), set, or unset the default remote; returns the default in effect."""
    _, files = _files(cwd, level)
    if unset:
        cfg.unset_value(files.path(level), level, "core.remote")
    elif name is not None:
        if name not in cfg.Config.load(files).remotes():
            raise RemoteError(f"no remote named '{name}'",
                              hint="add it first with `mlvc remote add NAME URL`")
        cfg.set_value(files.path(level), level, "core.remote", name)
    value = cfg.Config.load(files).get("core.remote")
    return str(value) if value is not None else None


def modify_remote(cwd: Path, name: str, key: str, value: str | None = None, *,
                  unset: bool = False, level: str | None = None) -> tuple[str, object]:
    """Set or unset one option of a remote; returns (level written, value as shown)."""
    _check_name(name)
    if not key or "." in key or key != key.strip():
        raise RemoteError(f"'{key}' is not a remote option name")
    root, files = _files(cwd, level)
    if name not in cfg.Config.load(files, validate=False).remotes():
        raise RemoteError(f"no remote named '{name}'",
                          hint="`mlvc remote list` shows the remotes; `mlvc remote add` adds one")
    level = level or ("local" if cfg.is_secret(key) else "project")
    full = f"remotes.{name}.{key}"
    if unset:
        if not cfg.unset_value(files.path(level), level, full):
            raise RemoteError(f"'{key}' is not set for remote '{name}' in the {level} config")
        return level, None
    if value is None:
        raise RemoteError("a value is needed", hint=f"mlvc remote modify {name} {key} VALUE")
    if key == "url":
        value = _store_url(root, cwd, value, level)
        _check_place(name, value, root)
    typed = cfg.set_value(files.path(level), level, full, value)
    return level, cfg.shown(full, typed)


def rename_remote(cwd: Path, old: str, new: str, level: str | None = None) -> RemoteInfo:
    """Rename remote ``old`` to ``new`` in each config file that defines it (project, local;
    or ``level``'s alone), the default remote too."""
    _check_name(new)
    _, files = _files(cwd, level)
    levels = _touched(files, old, level)
    if taken := _levels_with(files, new):
        raise RemoteError(f"remote '{new}' exists already ({', '.join(taken)} config)",
                          hint=f"`mlvc remote remove {new}` first, or choose another name")
    prefix = f"remotes.{old}."
    for lv in levels:
        for key, value in _read(files, lv).items():
            if key.startswith(prefix):
                cfg.set_value(files.path(lv), lv, f"remotes.{new}.{key[len(prefix):]}", value)
        cfg.unset_value(files.path(lv), lv, f"remotes.{old}")
    for lv in levels if level is not None else WRITABLE:
        if _read(files, lv).get("core.remote") == old:
            cfg.set_value(files.path(lv), lv, "core.remote", new)
    return _info(files, new)
