"""Configuration: global, project and local YAML files, merged in that order (SPEC 2.2).

Keys are dotted (``core.remote``, ``cache.type``, ``remotes.store.url``). Known keys are
validated and typed; a remote takes any fsspec option. Files are written atomically.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mlvc import MAX_JOBS
from mlvc.errors import ConfigError, FormatError
from mlvc.fsutil import atomic_write
from mlvc.yamlio import dump_yaml, load_yaml

LEVELS = ("system", "global", "project", "local")  # (each over the one before)
USER_LEVELS = ("system", "global")  # (files outside any project)
SECRET_WORDS = ("secret", "password", "token", "key_id", "access_key", "credential")


def _jobs(value: object) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise ConfigError(f"expected a whole number, got {value!r}") from None
    if not 1 <= number <= MAX_JOBS:
        raise ConfigError(f"expected a number from 1 to {MAX_JOBS}, got {number}")
    return number


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise ConfigError(f"expected true or false, got {value!r}")


def _string(value: object) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ConfigError(f"expected a string, got {value!r}")
    return str(value)


def _link_types(value: object) -> list[str]:
    from mlvc.workspace.links import validate_link_types

    return list(validate_link_types(value))


KNOWN: dict[str, tuple[Callable[[object], object], str]] = {
    "core.remote": (_string, "name of the default remote"),
    "core.jobs": (_jobs, "default number of threads for I/O"),
    "core.autostage": (_boolean, "git-add the files mlvc changes"),
    "core.no_scm": (_boolean, "the project is not in a git repository"),
    "cache.dir": (_string, "folder of the local cache (relative to .mlvc/)"),
    "cache.type": (_link_types, "ordered link types: reflink, hardlink, symlink, copy"),
    "plots.out_dir": (_string, "folder `plots show/diff` write their page into, from the "
                               "current folder (as -o)"),
    "plots.html_template": (_string, "HTML template of plots pages (relative to .mlvc/), "
                                     "as --html-template"),
    "plots.auto_open": (_boolean, "open plots pages in a browser (as --open)"),
}


def default_jobs() -> int:
    """``core.jobs`` when it is not set: four threads per core, at most 16."""
    return min(16, (os.cpu_count() or 2) * 4)


def default_of(key: str) -> str | None:
    """What mlvc does when the known ``key`` is not set, told for people; None when nothing
    takes its place (no default remote, say)."""
    from mlvc.workspace.links import DEFAULT_LINK_TYPES

    return {
        "core.jobs": f"{default_jobs()} (four per core, at most 16)",
        "core.autostage": "false",
        "core.no_scm": "false",
        "cache.dir": "cache (that is .mlvc/cache)",
        "cache.type": ", ".join(DEFAULT_LINK_TYPES),
        "plots.out_dir": "mlvc_plots",
        "plots.auto_open": "false",
    }.get(key)


NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")  # a remote's name, or one of its options


def as_text(value: object) -> str:
    """An option's value as the text ``remote modify`` would have been given."""
    return str(value).lower() if isinstance(value, bool) else str(value)


# A database connection's options (``db.NAME.…``, as DVC's ``import-db`` takes them): a
# SQLAlchemy URL, and the user and password over the URL's own.
DB_OPTIONS = ("url", "username", "password")


def is_secret(key: str) -> bool:
    last = key.rsplit(".", 1)[-1].lower()
    return any(word in last for word in SECRET_WORDS)


def first_secret(options: Iterable[tuple[str, object]]) -> str | None:
    """The first key of ``options`` (key, value pairs) that names a secret; None if none."""
    return next((k for k, _ in options if is_secret(k)), None)


def validate_key(key: str) -> Callable[[object], object]:
    if key in KNOWN:
        return KNOWN[key][0]
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "remotes" and parts[1] and parts[2]:
        return _string if parts[2] == "url" else (lambda v: v)
    if len(parts) == 3 and parts[0] == "db" and NAME.fullmatch(parts[1]):
        if parts[2] in DB_OPTIONS:
            return _string
        raise ConfigError(f"unknown option '{parts[2]}' of database connection "
                          f"'{parts[1]}'", hint="a connection takes " + ", ".join(DB_OPTIONS))
    raise ConfigError(f"unknown config key '{key}'",
                      hint="known keys: " + ", ".join(sorted(KNOWN)) + ", remotes.<name>.<option>"
                           ", db.<name>.url/username/password")


def flatten(doc: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and not key.count(".") >= 2:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def read_file(path: Path, origin: str, validate: bool = True) -> dict[str, object]:
    """Read one config file into flat key → value (missing file: empty), each value
    validated and typed unless ``validate`` is false: ``mlvc config`` reads the files as
    they are, so that it can mend a value that every other command refuses."""
    if path == Path() or not path.exists():  # (Path(): no project, ConfigFiles.outside)
        return {}
    doc = load_yaml(path, origin)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise FormatError(f"{origin}: expected a mapping of settings", hint=f"fix {origin}")
    flat = flatten(doc)
    return {key: checked(key, value, origin) for key, value in flat.items()} if validate \
        else flat


def checked(key: str, value: object, origin: str) -> object:
    """``value`` of ``key`` as read from ``origin``, typed; a ConfigError naming both and
    how to mend it when it is not valid."""
    try:
        return validate_key(key)(value)
    except ConfigError as exc:
        mend = f"`mlvc config --unset {key}` removes it"
        hint = f"{exc.hint}; {mend}" if exc.hint else \
            f"`mlvc config {key} VALUE` sets a valid one; {mend}"
        raise ConfigError(f"{origin}: {key}: {exc.message}", hint=hint) from None


def nest(flat: dict[str, object]) -> dict:
    doc: dict = {}
    for key, value in flat.items():
        parts = key.split(".")
        if parts[0] == "remotes" and len(parts) > 3:
            parts = parts[:2] + [".".join(parts[2:])]
        node = doc
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return doc


def global_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "mlvc" / "config.yaml"


def system_config_path() -> Path:
    """The machine's config, for every user (as DVC's ``--system``): ``mlvc/config.yaml`` in
    the first folder of ``$XDG_CONFIG_DIRS`` (default ``/etc/xdg``)."""
    dirs = [d for d in os.environ.get("XDG_CONFIG_DIRS", "").split(os.pathsep) if d]
    return Path(dirs[0] if dirs else "/etc/xdg") / "mlvc" / "config.yaml"


@dataclass(frozen=True, slots=True)
class ConfigFiles:
    project: Path
    local: Path
    global_: Path
    system: Path = field(default_factory=system_config_path)

    def path(self, level: str) -> Path:
        return {"project": self.project, "local": self.local, "global": self.global_,
                "system": self.system}[level]

    @classmethod
    def for_root(cls, root: Path) -> ConfigFiles:
        return cls(root / ".mlvc" / "config.yaml", root / ".mlvc" / "config.local.yaml",
                   global_config_path())

    @classmethod
    def outside(cls) -> ConfigFiles:
        """The user's and the machine's files alone (no project's)."""
        return cls(Path(), Path(), global_config_path())


@dataclass(frozen=True, slots=True)
class Config:
    """The merged settings; ``origins`` says which level each key came from."""

    values: dict[str, object]
    origins: dict[str, str]

    @classmethod
    def load(cls, files: ConfigFiles, validate: bool = True) -> Config:
        values: dict[str, object] = {}
        origins: dict[str, str] = {}
        for level in LEVELS:
            path = files.path(level)
            for key, value in read_file(path, display(path, level), validate).items():
                values[key] = value
                origins[key] = level
        return cls(values, origins)

    def get(self, key: str, default: object = None) -> object:
        return self.values.get(key, default)

    def databases(self) -> dict[str, dict[str, str]]:
        """Database connections (``db.NAME.url`` …): name -> options."""
        out: dict[str, dict[str, str]] = {}
        for key, value in self.values.items():
            if key.startswith("db."):
                _, name, option = key.split(".", 2)
                out.setdefault(name, {})[option] = str(value)
        return out

    def remotes(self) -> dict[str, dict[str, object]]:
        out: dict[str, dict[str, object]] = {}
        for key, value in self.values.items():
            if key.startswith("remotes."):
                _, name, option = key.split(".", 2)
                out.setdefault(name, {})[option] = value
        return out


def display(path: Path, level: str) -> str:
    """How messages name the config file of ``level``."""
    return {"project": ".mlvc/config.yaml", "local": ".mlvc/config.local.yaml"}.get(level, str(path))


def set_value(path: Path, level: str, key: str, value: object) -> object:
    """Set ``key`` in one config file; returns the typed value stored."""
    typed = validate_key(key)(value)
    flat = read_file(path, display(path, level), validate=False)
    flat[key] = typed
    atomic_write(path, dump_yaml(nest(flat)))
    return typed


def unset_value(path: Path, level: str, key: str) -> bool:
    flat = read_file(path, display(path, level), validate=False)
    removed = [k for k in flat if k == key or k.startswith(key + ".")]
    if not removed:
        return False
    for k in removed:
        del flat[k]
    atomic_write(path, dump_yaml(nest(flat)) if flat else "")
    return True


def shown(key: str, value: object) -> object:
    """A value as it may be printed: secrets are masked, and a URL's password."""
    if is_secret(key):
        return "***"
    if url_password(key, value):
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(str(value))
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return value


def url_password(key: str, value: object) -> bool:
    """Whether ``value`` of ``key`` (a ``….url``) is a URL holding a password
    (``postgresql://me:pw@host/db``): a secret, as a password key is."""
    from urllib.parse import urlsplit

    if not key.endswith(".url") or not isinstance(value, str) or "@" not in value:
        return False
    try:
        return bool(urlsplit(value).password)
    except ValueError:
        return False
