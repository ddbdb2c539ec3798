"""Pointer files (``<path>.mlvc``, SPEC 2.3): parse, validate, serialise.

Inside mlvc an :class:`Out` holds a project-relative path. In the file, paths are relative to
the pointer file's folder and must resolve inside the project.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from mlvc.config import NAME, as_text, first_secret
from mlvc.errors import FormatError, PathError, TargetError
from mlvc.fsutil import NAME_MAX, atomic_write, atomic_write_many
from mlvc.objects.oid import HASH_NAME, is_oid
from mlvc.paths import RelPath, has_reserved_part, normalize_rel, parent, real_inside, to_fs
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.workspace.ignore import IGNORE_FILE
from mlvc.yamlio import dump_yaml, parse_yaml

POINTER_SUFFIX = ".mlvc"
# For a file named *.mlvc that is not a pointer file at all: it may be data named so.
DATA_HINT = f"if it is data, rename it or leave it out with a line in {IGNORE_FILE}"
SCHEMA = 1


@dataclass(frozen=True, slots=True)
class Out:
    path: RelPath
    oid: str
    type: str  # "file" | "dir"
    size: int
    nfiles: int = 1
    exec: bool = False


@dataclass(frozen=True, slots=True)
class SourceRemote:
    """Which remote of another project its data is read from (``--remote``; None: its
    default one), with options over that remote's own (``--remote-config``)."""

    name: str | None = None
    config: tuple[tuple[str, str], ...] = ()

    @property
    def secret(self) -> str | None:
        """The first of the options that is a secret (a pointer file must hold none)."""
        return first_secret(self.config)

    def to_json(self) -> dict:
        return {**({"remote": self.name} if self.name is not None else {}),
                **({"remote_config": dict(self.config)} if self.config else {})}


ITS_DEFAULT = SourceRemote()  # (its default remote, its own options)


@dataclass(frozen=True, slots=True)
class ImportSource:
    """Where an imported output comes from (``mlvc import``): ``path`` of the mlvc project
    that git can clone from ``url``, at ``rev`` (as asked; None: its default branch), last
    read at commit ``rev_lock``; its data through ``via`` (never with a secret: the pointer
    file is in git)."""

    url: str
    path: str
    rev: str | None
    rev_lock: str | None  # (None: not read yet, ``import --no-exec``)
    via: SourceRemote = ITS_DEFAULT

    def to_json(self) -> dict:
        return {"url": self.url, "path": self.path, "rev": self.rev,
                "rev_lock": self.rev_lock, **self.via.to_json()}

    @property
    def read(self) -> bool:
        """Whether what it held was read (a commit recorded; not with ``--no-exec``)."""
        return self.rev_lock is not None


@dataclass(frozen=True, slots=True)
class UrlSource:
    """Where an output imported from a URL comes from (``mlvc import-url``): ``url`` (any
    fsspec URL, or a path on this machine), as it was when read: ``fingerprint``, from its
    ETag, checksum or size and modification time (a folder's: of every file's)."""

    url: str
    fingerprint: str  # ("": not read yet, ``import-url --no-exec``)
    # options of the URL's filesystem (``--fs-config``), over those a remote lends; never
    # a secret: the pointer file is in git
    fs_config: tuple[tuple[str, str], ...] = ()
    # ``--version-aware``: the version id of each file read ((path in the folder, id); a
    # file URL's path is ""), so that exactly those versions are read again
    versions: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict:
        versions = dict(self.versions)
        return {"url": self.url,
                **({"fingerprint": self.fingerprint} if self.fingerprint else {}),
                **({"fs_config": dict(self.fs_config)} if self.fs_config else {}),
                **({"version_id": versions[""]} if list(versions) == [""] else
                   {"versions": versions} if versions else {})}

    @property
    def read(self) -> bool:
        """Whether what it held was read (a fingerprint recorded; not with ``--no-exec``)."""
        return bool(self.fingerprint)


@dataclass(frozen=True, slots=True)
class DbSource:
    """Where an output imported from a database comes from (``mlvc import-db``): the rows
    of ``query``, or of all of ``table``, through connection ``connection`` of the config
    (``db.NAME``: never its password, which the pointer file does not hold), written as
    ``file_format`` ("csv" or "json")."""

    connection: str
    query: str | None = None
    table: str | None = None
    file_format: str = "csv"

    @property
    def read(self) -> bool:
        return True  # (an import-db is always recorded with its data)

    @property
    def url(self) -> str:
        """What messages name it by."""
        return f"db://{self.connection}"

    def to_json(self) -> dict:
        return {"connection": self.connection,
                **({"query": self.query} if self.query is not None else {}),
                **({"table": self.table} if self.table is not None else {}),
                "file_format": self.file_format}


DB_FORMATS = ("csv", "json")
Source = ImportSource | UrlSource | DbSource


@dataclass(frozen=True, slots=True)
class Pointer:
    path: RelPath  # the .mlvc file itself
    outs: tuple[Out, ...]
    source: Source | None = None  # an imported output's origin
    # An import recorded without its data (``--no-download``, ``--no-exec``): its output's
    # path, whose oid is not known yet (``outs`` is then empty); ``pull`` or ``update`` gets
    # the data and records it.
    pending: RelPath | None = None

    @property
    def imported_path(self) -> RelPath:
        """The one output of an imported pointer file (known or pending)."""
        return self.pending if self.pending is not None else self.outs[0].path


def pointer_path_for(target: RelPath) -> RelPath:
    return target + POINTER_SUFFIX


def check_pointer_name(target: RelPath) -> None:
    """Refuse an output whose pointer file's name would not fit in one file name (its own
    name is within ``len(POINTER_SUFFIX)`` bytes of the limit), before anything is written."""
    name = posixpath.basename(pointer_path_for(target))
    size = len(os.fsencode(name))
    if size > NAME_MAX:
        raise TargetError(
            f"'{target}' has too long a name for a pointer file beside it ('{name}' would be "
            f"{size} bytes; a file name holds {NAME_MAX})",
            hint=f"rename it to at most {NAME_MAX - len(POINTER_SUFFIX)} bytes, or track "
                 "the folder it is in")


def parse_pointer(text: str, path: RelPath) -> Pointer:
    origin = path

    def bad(why: str, data: bool = False) -> FormatError:
        also = f"; {DATA_HINT}" if data else ""
        return FormatError(f"{origin}: {why}", hint=f"fix {origin} or restore it from git{also}")

    doc = parse_yaml(text, origin)
    if not isinstance(doc, dict) or "schema" not in doc:
        raise bad("not a pointer file (expected a mapping with 'schema' and 'outs')", True)
    if doc.get("schema") != SCHEMA:
        raise bad(f"unsupported schema {doc.get('schema')!r} (expected {SCHEMA})")
    extra = set(doc) - {"schema", "outs", "import", "import_url", "import_db"}
    if extra:
        raise bad(f"unknown keys {sorted(extra)}")
    raw_outs = doc.get("outs")
    if not isinstance(raw_outs, list) or not raw_outs:
        raise bad("'outs' must be a non-empty list")
    base = parent(path)
    outs = []
    pending: list[RelPath] = []
    for i, raw in enumerate(raw_outs):
        where = f"outs[{i}]"
        if not isinstance(raw, dict):
            raise bad(f"{where} is not a mapping")
        allowed = {"path", "hash", "oid", "type", "size", "nfiles", "exec"}
        if set(raw) - allowed:
            raise bad(f"{where} has unknown keys {sorted(set(raw) - allowed)}")
        rel = raw.get("path")
        if not isinstance(rel, str) or not rel:
            raise bad(f"{where}.path is missing")
        try:
            full = normalize_rel(posixpath.join(base, rel) if base else rel, origin=origin)
        except PathError as exc:
            raise PathError(f"{exc.message} ({where}.path)") from None
        if not full:
            raise bad(f"{where}.path points at the project root")
        if has_reserved_part(full):
            raise bad(f"{where}.path {full!r} is inside a .git or .mlvc folder, which mlvc "
                      "never tracks")
        if raw.get("hash") != HASH_NAME:
            raise bad(f"{where}.hash must be {HASH_NAME!r}, got {raw.get('hash')!r}")
        if set(raw) == {"path", "hash"} and any(k in doc for k in ("import", "import_url",
                                                                   "import_db")):
            # (an import's output not downloaded yet)
            pending.append(full)
            continue
        if not is_oid(raw.get("oid")):
            raise bad(f"{where}.oid is not a 32-digit lowercase hex oid")
        kind = raw.get("type")
        if kind not in ("file", "dir"):
            raise bad(f"{where}.type must be 'file' or 'dir'")
        size = raw.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise bad(f"{where}.size must be a non-negative integer")
        nfiles = raw.get("nfiles", 1)
        if kind == "dir" and (not isinstance(nfiles, int) or isinstance(nfiles, bool)
                              or nfiles < 0 or "nfiles" not in raw):
            raise bad(f"{where}.nfiles must be a non-negative integer")
        executable = raw.get("exec", False)
        if not isinstance(executable, bool):
            raise bad(f"{where}.exec must be true or false")
        outs.append(Out(full, raw["oid"], kind, size, nfiles if kind == "dir" else 1,
                        executable and kind == "file"))
    source: Source | None = None
    if sum(k in doc for k in ("import", "import_url", "import_db")) > 1:
        raise bad("one of 'import', 'import_url' and 'import_db' at most")
    if "import_db" in doc:
        source = _db_source(doc["import_db"], bad)
    elif "import" in doc:
        source = _import_source(doc["import"], bad)
    elif "import_url" in doc:
        raw = doc["import_url"]
        if not isinstance(raw, dict) or set(raw) - {"fs_config", "fingerprint", "version_id",
                                                    "versions"} != {"url"} \
                or not all(isinstance(raw[k], str) and raw[k] for k in ("url", "fingerprint")
                           if k in raw):
            raise bad("'import_url' must be a mapping of url and fingerprint (and fs_config "
                      "where given)")
        config = _options(raw.get("fs_config", {}), "import_url.fs_config", bad)
        source = UrlSource(raw["url"], raw.get("fingerprint", ""), config,
                           _versions(raw, bad))
    if source is not None and len(outs) + len(pending) != 1:
        raise bad("an imported pointer file records one output")
    if source is not None and not source.read and not pending:
        raise bad("an import whose source was not read yet ('rev_lock' or 'fingerprint' "
                  "missing) records no oid")
    return Pointer(path, tuple(outs), source, pending[0] if pending else None)


def _versions(raw: dict, bad) -> tuple[tuple[str, str], ...]:
    """An import-url's version ids (``version_id`` of a file, ``versions`` of a folder's
    files); a file's path must stay inside the folder."""
    if "version_id" in raw and "versions" in raw:
        raise bad("import_url has 'version_id' (a file's) or 'versions' (a folder's files'), "
                  "not both")
    if "version_id" in raw:
        if not isinstance(raw["version_id"], str) or not raw["version_id"]:
            raise bad("import_url.version_id must be a version id")
        return (("", raw["version_id"]),)
    found = raw.get("versions", {})
    if not isinstance(found, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in found.items()):
        raise bad("import_url.versions must map the folder's files to version ids")
    out = []
    for rel, vid in found.items():
        try:
            if not rel or normalize_rel(rel, origin="import_url.versions") != rel:
                raise PathError(f"{rel!r} is not a plain path")
        except PathError as exc:
            raise bad(f"import_url.versions: {exc.message}") from None
        out.append((rel, vid))
    return tuple(sorted(out))


def _db_source(raw: object, bad) -> DbSource:
    if not isinstance(raw, dict) or set(raw) - {"connection", "query", "table",
                                                "file_format"}:
        raise bad("'import_db' must be a mapping of connection, query or table, and "
                  "file_format")
    name = raw.get("connection")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise bad("import_db.connection must be a connection's name")
    given = [k for k in ("query", "table") if k in raw]
    if len(given) != 1 or not isinstance(raw[given[0]], str) or not raw[given[0]].strip():
        raise bad("import_db must have a query or a table (one of them)")
    form = raw.get("file_format", "csv")
    if form not in DB_FORMATS:
        raise bad(f"import_db.file_format must be one of {', '.join(DB_FORMATS)}")
    return DbSource(name, raw.get("query"), raw.get("table"), form)


def _import_source(raw: object, bad) -> ImportSource:
    if not isinstance(raw, dict) or set(raw) - {"url", "path", "rev", "rev_lock", "remote",
                                                "remote_config"}:
        raise bad("'import' must be a mapping of url, path, rev, rev_lock, and remote and "
                  "remote_config where given")
    url, path, rev, lock = (raw.get(k) for k in ("url", "path", "rev", "rev_lock"))
    if not isinstance(url, str) or not url.strip():
        raise bad("import.url is missing")
    if url.startswith("-"):  # (git clone would take it for an option)
        raise bad("import.url must not start with '-'")
    if not isinstance(path, str) or not path:
        raise bad("import.path is missing")
    try:
        path = normalize_rel(path, origin="import.path")
    except PathError as exc:
        raise bad(exc.message) from None
    if rev is not None and (not isinstance(rev, str) or not rev or rev.startswith("-")):
        raise bad("import.rev must be a revision name")
    if lock is not None and (not isinstance(lock, str) or not _SHA.fullmatch(lock)):
        raise bad("import.rev_lock must be a full git commit sha")
    remote = raw.get("remote")
    if remote is not None and not (isinstance(remote, str) and NAME.fullmatch(remote)):
        raise bad("import.remote must be a remote's name")
    via = SourceRemote(remote, _options(raw.get("remote_config", {}), "import.remote_config",
                                        bad))
    return ImportSource(url, path, rev, lock, via)


def _options(raw: object, where: str, bad) -> tuple[tuple[str, str], ...]:
    """Options of a remote or filesystem that a pointer file records, sorted; a secret is
    refused (git keeps the file)."""
    if not isinstance(raw, dict) or not all(
            isinstance(k, str) and NAME.fullmatch(k) and isinstance(v, (str, int, float, bool))
            for k, v in raw.items()):
        raise bad(f"{where} must map option names to values")
    options = tuple(sorted((k, as_text(v)) for k, v in raw.items()))
    secret = first_secret(options)
    if secret is not None:
        raise bad(f"{where} holds '{secret}', a secret: git would keep it")
    return options


_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def dump_pointer(pointer: Pointer) -> str:
    base = parent(pointer.path)
    outs = []
    for out in pointer.outs:
        entry: dict[str, object] = {
            "path": posixpath.relpath(out.path, base or "."),
            "hash": HASH_NAME,
            "oid": out.oid,
            "type": out.type,
            "size": out.size,
        }
        if out.type == "dir":
            entry["nfiles"] = out.nfiles
        if out.exec:
            entry["exec"] = True
        outs.append(entry)
    if pointer.pending is not None:
        outs.append({"path": posixpath.relpath(pointer.pending, base or "."),
                     "hash": HASH_NAME})
    doc: dict[str, object] = {"schema": SCHEMA, "outs": outs}
    if isinstance(pointer.source, UrlSource):
        doc["import_url"] = pointer.source.to_json()
    elif isinstance(pointer.source, DbSource):
        doc["import_db"] = pointer.source.to_json()
    elif pointer.source is not None:
        src = pointer.source
        doc["import"] = {"url": src.url, "path": src.path,
                         **({"rev": src.rev} if src.rev is not None else {}),
                         **({"rev_lock": src.rev_lock} if src.rev_lock else {}),
                         **src.via.to_json()}
    return dump_yaml(doc)


def load_pointer(root: Path, path: RelPath) -> Pointer:
    fs = to_fs(root, path)
    if fs.is_symlink():
        # (git stores symlinks: one brought in could have mlvc read, and check out, what a
        # pointer file elsewhere on the machine records.)
        real = os.path.realpath(fs)
        if not real_inside(real, (os.path.realpath(root),)):
            raise PathError(f"{path} is a symlink that leads outside the project ({real})",
                            hint="replace the link with the pointer file itself")
    try:
        text = fs.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"{path}: not UTF-8 text, so not a pointer file",
                          hint=DATA_HINT) from None
    return parse_pointer(text, path)


POINTERS_PHASE_MIN = 100  # from this many pointer files, writing them is a progress phase


def write_pointer(root: Path, pointer: Pointer) -> None:
    atomic_write(to_fs(root, pointer.path), dump_pointer(pointer))


def write_pointers(root: Path, pointers: list[Pointer],
                   progress: Progress = NULL_PROGRESS) -> None:
    """:func:`write_pointer` of each, for many at once (a progress phase when they are)."""
    items = [(to_fs(root, p.path), dump_pointer(p)) for p in pointers]
    if len(items) < POINTERS_PHASE_MIN:
        atomic_write_many(items)
        return
    with progress.phase("Writing pointer files", total=len(items)) as advance:
        atomic_write_many(items, advance=advance)
