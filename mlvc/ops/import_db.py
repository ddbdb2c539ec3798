"""``mlvc import-db`` and ``mlvc test-db``: a snapshot of a database table or query, written
as CSV or JSON and tracked with where it came from (as ``dvc import-db``); ``mlvc update``
takes the snapshot again and records it when it changed.

Connections are in the config, as DVC's: ``db.NAME.url`` (a SQLAlchemy URL:
``postgresql://host/db``, ``sqlite:///path.db``…), with ``db.NAME.username`` and
``db.NAME.password`` over the URL's own (a password goes to the local config, as every
secret does). SQLAlchemy is the ``db`` extra (``pip install 'mlvc[db]'``), and each database
its driver (psycopg2, pymysql…). The pointer file records the connection's name, the query
or table and the format (``import_db``), never the URL or the password. Rows are streamed, a
batch at a time, into a file beside OUT that is renamed into place whole.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import MlvcError, RemoteError, TargetError
from mlvc.ops.imports import ImportResult, check_destination, refuse_unsaved, track_import
from mlvc.paths import RelPath, from_user, to_fs
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace.pointer import DB_FORMATS, DbSource, Out, Pointer, pointer_path_for

BATCH_ROWS = 10_000  # rows fetched and written at a time


@dataclass(frozen=True, slots=True)
class Snapshot:
    rows: int
    columns: tuple[str, ...]


def import_db(repo: Repo, connection: str, *, query: str | None = None,
              table: str | None = None, file_format: str = "csv", out: str | None = None,
              cwd: Path | None = None, force: bool = False,
              progress: Progress = NULL_PROGRESS) -> tuple[ImportResult, Snapshot]:
    """The rows of ``query`` (or all of ``table``) through ``connection``, written at
    ``out`` (default: ``results.csv``/``.json`` for a query, TABLE.csv for a table, here)
    and tracked with their source."""
    if (query is None) == (table is None):
        raise TargetError("give a query (--sql) or a table (--table): one of them")
    if file_format not in DB_FORMATS:
        raise TargetError(f"unknown format '{file_format}'",
                          hint="--output-format " + " or ".join(DB_FORMATS))
    source = DbSource(connection, query, table, file_format)
    cwd = cwd or Path.cwd()
    name = out or f"{table if table is not None else 'results'}.{file_format}"
    dest = from_user(repo.root, name, cwd)
    pointer = pointer_path_for(dest)
    check_destination(repo, dest, pointer, force)
    snap = _write(repo, source, to_fs(repo.root, dest), progress)
    return track_import(repo, dest, source, True, progress), snap


def update_db(repo: Repo, pointer: Pointer, *, force: bool = False,
              progress: Progress = NULL_PROGRESS) -> ImportResult:
    """Take ``pointer``'s snapshot again (its source cannot say whether it changed) and
    record it when its bytes did; changes of yours in the output are refused unless
    ``force`` (they would be overwritten)."""
    from mlvc.ops.imports import record_import

    src = pointer.source
    assert isinstance(src, DbSource) and pointer.outs
    out = pointer.outs[0]
    new = snapshot_stored(repo, src, out.path, progress)
    if new.oid == out.oid and not force:
        return ImportResult(pointer.path, out, src, False)
    if not force:
        refuse_unsaved(repo, out.path)
    return record_import(repo, Pointer(pointer.path, (new,), src), changed=new != out,
                         force=True, progress=progress)


def snapshot_stored(repo: Repo, source: DbSource, dest: RelPath,
                    progress: Progress = NULL_PROGRESS) -> Out:
    """``source``'s snapshot taken now, stored in this cache as ``dest``'s object (written in
    a temporary folder, not the workspace)."""
    import tempfile

    from mlvc.ops.imports import store_tree

    repo.tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="import-db-", dir=repo.tmp_dir) as tmp:
        landed = Path(tmp) / "data"
        _write(repo, source, landed, progress)
        return store_tree(repo.cache, landed, progress=progress).out(dest)


def check_connection(repo: Repo | None, connection: str, *, url: str | None = None,
            username: str | None = None, password: str | None = None) -> str:
    """Connect through ``connection`` (its options, or those given over them) and run
    ``select 1``; the URL connected to, its password hidden."""
    options = _options(repo, connection, required=url is None)
    options.update({k: v for k, v in (("url", url), ("username", username),
                                      ("password", password)) if v is not None})
    with _engine(connection, options) as (engine, shown), _querying(connection, shown), \
            engine.connect() as conn:
        conn.exec_driver_sql("select 1")
    return shown


# -- the snapshot ---------------------------------------------------------------------------

def _write(repo: Repo, source: DbSource, dest: Path, progress: Progress) -> Snapshot:
    """The rows of ``source`` written at ``dest`` (through a file beside it, renamed into
    place whole)."""
    staged = dest.parent / f".{dest.name}.mlvc-db.{os.getpid()}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _engine(source.connection, _options(repo, source.connection)) as (engine, shown):
        try:
            with _querying(source.connection, shown), engine.connect() as conn, \
                    open(staged, "w", encoding="utf-8", newline="") as f, \
                    progress.phase("Saving rows", unit="row") as advance:
                conn = conn.execution_options(stream_results=True)  # (server-side cursors)
                result = conn.execute(_statement(source))
                columns = tuple(map(str, result.keys()))  # (iterating result reads rows)
                writer = _CsvWriter(f, columns) if source.file_format == "csv" else \
                    _JsonWriter(f, columns)
                rows = 0
                for batch in result.partitions(BATCH_ROWS):
                    writer.write(batch)
                    rows += len(batch)
                    advance(len(batch))
                writer.close()
            if os.path.isdir(dest) and not os.path.islink(dest):
                raise TargetError(f"'{dest.name}' is a folder")
            os.replace(staged, dest)
        finally:
            if os.path.lexists(staged):
                os.unlink(staged)
    return Snapshot(rows, columns)


def _statement(source: DbSource):
    from sqlalchemy import literal_column, select, table, text

    if source.query is not None:
        return text(source.query)
    assert source.table is not None
    schema, _, name = source.table.rpartition(".")
    return select(literal_column("*")).select_from(table(name, schema=schema or None))


class _CsvWriter:
    """Rows as CSV, a header first (empty for NULL, as DVC's pandas writes it)."""

    def __init__(self, f, columns: tuple[str, ...]) -> None:
        self.writer = csv.writer(f, lineterminator="\n")
        self.writer.writerow(columns)

    def write(self, rows) -> None:
        self.writer.writerows(tuple(_csv_value(v) for v in row) for row in rows)

    def close(self) -> None:
        pass


class _JsonWriter:
    """Rows as a JSON list of records (column -> value), as DVC's ``orient="records"``;
    dates and times in ISO 8601, decimals as numbers, bytes as text where they decode."""

    def __init__(self, f, columns: tuple[str, ...]) -> None:
        self.f, self.columns, self.first = f, columns, True
        f.write("[")

    def write(self, rows) -> None:
        for row in rows:
            self.f.write(("" if self.first else ",\n") + json.dumps(
                dict(zip(self.columns, row)), default=_json_value, ensure_ascii=False))
            self.first = False

    def close(self) -> None:
        self.f.write("]\n")


def _csv_value(value: object) -> object:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _text(bytes(value))
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else \
            value.isoformat()
    return value


def _json_value(value: object) -> object:
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _text(bytes(value))
    return str(value)


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.hex()


# -- the connection -------------------------------------------------------------------------

def _options(repo: Repo | None, name: str, required: bool = True) -> dict[str, str]:
    """Connection ``name``'s options from the config (``db.NAME.…``)."""
    from mlvc.config import Config, ConfigFiles

    config = repo.config if repo is not None else Config.load(ConfigFiles.outside())
    options = dict(config.databases().get(name, {}))
    if required and "url" not in options:
        raise TargetError(f"no database connection named '{name}' in the config",
                          hint=f"`mlvc config db.{name}.url URL` sets one (a SQLAlchemy URL: "
                               "postgresql://host/db, sqlite:///file.db…)")
    return options


@contextmanager
def _engine(name: str, options: dict[str, str]) -> Iterator[tuple[object, str]]:
    """A SQLAlchemy engine for ``options`` (its URL, with username and password over the
    URL's own), and the URL as messages show it (no password)."""
    try:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    except ImportError:
        raise MlvcError("databases are read through SQLAlchemy, which is not installed",
                        hint="pip install 'mlvc[db]' (and the database's driver)") from None
    try:
        url = make_url(options["url"])
    except ArgumentError as exc:
        raise TargetError(f"db.{name}.url is not a database URL: {exc}",
                          hint="a SQLAlchemy URL: postgresql://host/db, "
                               "sqlite:///file.db…") from None
    given = {k: options[k] for k in ("username", "password") if options.get(k)}
    url = url.set(**given)
    shown = url.render_as_string(hide_password=True)
    try:
        engine = create_engine(url)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise RemoteError(f"the database driver for '{url.drivername}' is not installed "
                          f"({exc})", hint="install it (psycopg2 for PostgreSQL, pymysql for "
                                           "MySQL…)") from None
    except ArgumentError as exc:
        raise TargetError(f"database connection '{name}' ({shown}): {_first_line(exc)}",
                          hint=f"`mlvc config db.{name}.url URL` (and username, password) "
                               "mends it") from None
    try:
        yield engine, shown
    finally:
        engine.dispose()


@contextmanager
def _querying(name: str, shown: str) -> Iterator[None]:
    """A database's failures as one clear error: the connection's, or the query's."""
    from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

    try:
        yield
    except OperationalError as exc:
        raise RemoteError(f"database '{name}' ({shown}): {_first_line(exc)}",
                          hint=f"`mlvc test-db --conn {name}` checks the connection") from None
    except (DBAPIError, SQLAlchemyError) as exc:
        raise RemoteError(f"database '{name}' ({shown}): {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]
