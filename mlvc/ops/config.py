"""``mlvc config``: read and write settings at one level (project, local, global or
system)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlvc import config as cfg
from mlvc.errors import ConfigError
from mlvc.paths import MLVC_DIR
from mlvc.remote import check_place
from mlvc.repo import Repo, check_cache_dir, find_root, resolve_cache_dir


@dataclass(frozen=True, slots=True)
class ConfigEntry:
    key: str
    value: object  # secrets already masked
    level: str
    warnings: tuple[str, ...] = ()


def _files(cwd: Path, level: str | None) -> cfg.ConfigFiles:
    if level in cfg.USER_LEVELS:  # (works outside a project)
        return cfg.ConfigFiles.outside()
    return cfg.ConfigFiles.for_root(find_root(cwd))


def list_config(cwd: Path, level: str | None = None) -> tuple[ConfigEntry, ...]:
    """The values set (at ``level``, or merged), as written: one that other commands would
    refuse is listed with a warning saying why, so that `mlvc config` can mend it."""
    files = _files(cwd, level)
    if level is not None:
        path = files.path(level)
        values = cfg.read_file(path, str(path), validate=False)
        return tuple(_entry(files, k, v, level) for k, v in sorted(values.items()))
    merged = cfg.Config.load(files, validate=False)
    return tuple(_entry(files, k, v, merged.origins[k]) for k, v in sorted(merged.values.items()))


def _entry(files: cfg.ConfigFiles, key: str, value: object, level: str) -> ConfigEntry:
    try:
        value = cfg.checked(key, value, cfg.display(files.path(level), level))
    except ConfigError as exc:
        return ConfigEntry(key, cfg.shown(key, value), level, (exc.message,))
    return ConfigEntry(key, cfg.shown(key, value), level)


def get_config(cwd: Path, key: str, level: str | None = None) -> ConfigEntry:
    cfg.validate_key(key)
    for entry in list_config(cwd, level):
        if entry.key == key:
            return entry
    default = cfg.default_of(key) if level is None else None
    raise ConfigError(f"'{key}' is not set" + (f" (the default is in effect: {default})"
                                               if default is not None else ""),
                      hint=f"set it with `mlvc config {key} VALUE`")


def _default_level(key: str, value: str = "") -> str:
    """Where a write goes unless told: credentials to the git-ignored local file (SPEC 2.2),
    a URL holding a password among them (``postgresql://me:pw@host/db``), anything else to
    the committed project config."""
    return "local" if cfg.is_secret(key) or cfg.url_password(key, value) else "project"


def set_config(cwd: Path, key: str, value: str, level: str | None = None) -> ConfigEntry:
    level = level or _default_level(key, value)
    files = _files(cwd, level)
    # A cache or folder remote inside the project is refused before it is written (not a
    # global one: relative to each project, it is checked where it is used).
    parts = key.split(".")
    if key == "cache.dir" and level not in cfg.USER_LEVELS:
        root = find_root(cwd)
        check_cache_dir(root, resolve_cache_dir(root / MLVC_DIR, value), value, level)
    elif (len(parts) == 3 and parts[0] == "remotes" and parts[2] == "url"
          and level not in cfg.USER_LEVELS):
        root = find_root(cwd)
        check_place(parts[1], value, root, Repo(root).cache_dir)
    typed = cfg.set_value(files.path(level), level, key, value)
    return ConfigEntry(key, cfg.shown(key, typed), level,
                       _remote_warnings(files, key, level, typed))


def _remote_warnings(files: cfg.ConfigFiles, key: str, level: str, value: object
                     ) -> tuple[str, ...]:
    """A remote option set for a remote that has no url, or a default remote that has none:
    written as asked (credentials may come before the url, or be shared from the global
    config), but it may be a misspelt remote name, which would otherwise show only when the
    remote is used."""
    parts = key.split(".", 2)
    if level in cfg.USER_LEVELS:
        return ()
    if key == "core.remote":  # (`mlvc remote default` refuses one; this writes it as asked)
        name = str(value)
    elif len(parts) == 3 and parts[0] == "remotes" and parts[2] != "url":
        name = parts[1]
    else:
        return ()
    remotes = cfg.Config.load(files, validate=False).remotes()
    if remotes.get(name, {}).get("url"):
        return ()
    named = sorted(n for n, options in remotes.items() if options.get("url"))
    if key == "core.remote":
        known = f" (remotes: {', '.join(named)})" if named else ""
        return (f"no remote named '{name}' yet{known}: push and pull will fail until "
                f"`mlvc remote add {name} URL` adds it; or check the name",)
    known = f" (remotes with one: {', '.join(named)})" if named else ""
    return (f"remote '{name}' has no url yet{known}: add it with "
            f"`mlvc remote add {name} URL`, or check the name",)


def unset_config(cwd: Path, key: str, level: str | None = None) -> ConfigEntry:
    """Remove ``key`` from ``level``; with no level, from the project or local file that has
    it (the default level of the key first)."""
    if level is not None:
        tried = [level]
    else:
        first = _default_level(key)
        tried = [first, "project" if first == "local" else "local"]
    files = _files(cwd, tried[0])
    for where in tried:
        if cfg.unset_value(files.path(where), where, key):
            return ConfigEntry(key, None, where)
    raise ConfigError(f"'{key}' is not set in the {' or '.join(tried)} config",
                      hint="`mlvc config --list --show-origin` shows where each value is set")


def set_cache_dir(cwd: Path, path: str, level: str | None = None) -> ConfigEntry:
    """``mlvc cache dir PATH``: ``cache.dir`` set to PATH as the user means it, relative to
    ``cwd`` (as ``dvc cache dir`` takes it): written relative to ``.mlvc/`` (where relative
    values start) in the project's files, so that it moves with the project; absolute in
    the global and system files. Objects in the cache used before stay there (a warning says
    so)."""
    import os

    target = Path(os.path.abspath(Path(cwd, os.path.expanduser(path))))
    level = level or "project"
    root = find_root(cwd) if level not in cfg.USER_LEVELS else None
    if root is None or os.path.isabs(os.path.expanduser(path)):
        value = str(target)
    else:
        value = Path(os.path.relpath(target, root / MLVC_DIR)).as_posix()
    before = Repo(root).cache_dir if root is not None else None
    entry = set_config(cwd, "cache.dir", value, level)
    if before is not None and (before / "objects").is_dir() and \
            os.path.realpath(before) != os.path.realpath(target) and any(
                (before / "objects").iterdir()):
        warning = (f"the objects in the cache used until now ({before}) stay there: move "
                   f"them into {target} (`mv {before}/* {target}/`), or `mlvc fetch` and "
                   "`mlvc commit` fill the new one")
        entry = ConfigEntry(entry.key, entry.value, entry.level, (*entry.warnings, warning))
    return entry
