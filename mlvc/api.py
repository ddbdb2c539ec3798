"""Reading versioned data from Python (SPEC 1): ``mlvc.api.open``, ``read``, ``params_show``,
``metrics_show``.

    import mlvc.api
    with mlvc.api.open("data/train.csv", rev="v1.0") as f:   # as v1.0 recorded it
        header = f.readline()
    model = mlvc.api.read("models/model.pkl", mode="rb")     # the workspace's
    lr = mlvc.api.params_show()["train"]["lr"]
    acc = mlvc.api.metrics_show(rev="v1.0")["accuracy"]

``path`` is relative to the project folder (``repo``, default: the one holding the current
folder; or a git URL of another project, as ``dvc.api`` takes one: it is cloned into a
temporary folder at ``rev``, and its data comes from its default remote). Without ``rev``, a file present in the workspace is read as it is; one absent is
read as the workspace's pointer files and ``mlvc.lock`` record it. With ``rev`` (a git
revision), as that revision records it. Data mlvc tracks comes from the cache, or, when the
cache lacks it, from the default remote (``remote`` for another): downloaded into the cache
and verified by hash first. Files that git keeps (code, params) are read from git. Errors are
``mlvc.errors.MlvcError``s with a message and a hint, as the CLI shows them.
"""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from mlvc.errors import CorruptObjectError, PathError, TargetError

__all__ = ["open", "read", "params_show", "metrics_show", "get_url", "artifacts_show"]


@contextmanager
def open(path: str, repo: str | os.PathLike[str] | None = None, rev: str | None = None,
         remote: str | None = None, mode: str = "r", encoding: str | None = None,
         remote_config: dict[str, Any] | None = None) -> Iterator[IO[Any]]:
    """A file object on ``path`` as ``rev`` (default: the workspace) has it; ``mode`` is
    ``"r"`` (text, ``encoding``) or ``"rb"``. ``remote_config``: options over those of the
    remote (as ``remote modify`` takes them: ``{"endpoint_url": …, "profile": …}``, or
    credentials), for a ``repo`` given by its git URL (or a DVC project's folder)."""
    if mode not in ("r", "rb"):
        raise ValueError(f"mode must be 'r' or 'rb', not {mode!r}")
    # (a clone lives until the file is closed)
    with _project(repo, rev, via=_via(remote, remote_config)) as (project, at):
        where = _locate(project, path, at, remote, _folder(repo, None))
        with builtins.open(where, "rb") if isinstance(where, str) else io.BytesIO(where) as f:
            yield f if mode == "rb" else io.TextIOWrapper(f, encoding=encoding)


def read(path: str, repo: str | os.PathLike[str] | None = None, rev: str | None = None,
         remote: str | None = None, mode: str = "r", encoding: str | None = None,
         remote_config: dict[str, Any] | None = None) -> str | bytes:
    """The whole content of ``path`` (see :func:`open`)."""
    with open(path, repo, rev, remote, mode, encoding, remote_config) as f:
        return f.read()


def _via(remote: str | None, remote_config: dict[str, Any] | None):
    """The remote of a cloned project to read, as :func:`mlvc.ops.get.cloned` takes it."""
    from mlvc.config import as_text
    from mlvc.workspace.pointer import SourceRemote

    return SourceRemote(remote, tuple(sorted((str(k), as_text(v))
                                             for k, v in (remote_config or {}).items())))


def params_show(repo: str | os.PathLike[str] | None = None, rev: str | None = None
                ) -> dict[str, Any]:
    """The params the pipeline's stages declare, with their values (of ``rev``, default the
    workspace), nested as in the params files: ``{"train": {"lr": 0.1, …}, …}``. Keys of
    several params files are merged (a later file's key wins, files in name order)."""
    return _shown("params", repo, rev)


def metrics_show(repo: str | os.PathLike[str] | None = None, rev: str | None = None
                 ) -> dict[str, Any]:
    """The metrics of the files the stages declare under ``metrics:`` (of ``rev``, default
    the workspace; a cached metrics file of a revision is read from the cache), nested as in
    the files and merged as :func:`params_show` merges params (as ``dvc.api.metrics_show``).
    """
    return _shown("metrics", repo, rev)


def _shown(kind: str, repo: str | os.PathLike[str] | None, rev: str | None) -> dict[str, Any]:
    from mlvc.ops.diff import show_values

    with _project(repo, rev) as (project, at):
        shown = show_values(project, kind, [at] if at else None)
    nested: dict[str, Any] = {}
    for value in shown.sides[0].values:
        node = nested
        *parents, last = value.key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value.value
    return nested


@contextmanager
def _project(where: str | os.PathLike[str] | None, rev: str | None,
             cwd: Path | None = None, via=None):
    """(the project, the revision to read in it): a folder's project (default: the one
    holding the current folder; relative to ``cwd``) and ``rev``; or, for a git URL
    (``https://…``, ``ssh://…``, ``git@host:path``, ``file://…``) or a DVC project's folder,
    a temporary clone of it at ``rev``, read as checked out (its data from its default
    remote, or through ``via``), as ``dvc.api`` reads a repository URL."""
    from mlvc.repo import Repo

    cwd = cwd or Path.cwd()
    dvc_folder = where is not None and not _is_git_url(os.fspath(where)) and \
        (Path(cwd, where) / ".dvc").is_dir() and not (Path(cwd, where) / ".mlvc").is_dir()
    if where is not None and (dvc_folder or _is_git_url(os.fspath(where))):
        from mlvc.ops.get import cloned

        with cloned(os.fspath(where), rev, cwd, via=via or _via(None, None)) as (
                project, _, _):
            yield project, None
        return
    with Repo.find(Path(cwd, where) if where is not None else cwd) as project:
        if via is not None and via.config:
            _with_options(project, via.name, via.config)
        yield project, rev


def _with_options(project, name: str | None, options: tuple[tuple[str, str], ...]) -> None:
    """``project`` read with ``options`` over those of its remote ``name`` (default: its
    default remote), in memory alone (``remote_config`` of a project read in place: its
    config files are not written)."""
    from mlvc.config import Config

    config = project.config
    name = name or config.get("core.remote")
    if not name or name not in config.remotes():
        raise TargetError(f"remote_config: {'no remote named ' + repr(name) if name else 'no remote given and no default remote is set'} in {project.root}",
                          hint="name one of its remotes (remote=NAME); `mlvc remote list` "
                               "there lists them")
    values = dict(config.values)
    values.update({f"remotes.{name}.{k}": v for k, v in options})
    project.__dict__["config"] = Config(values, {**config.origins, **{
        f"remotes.{name}.{k}": "api" for k, _ in options}})


def _is_git_url(where: str) -> bool:
    """A URL git clones (not a folder here): a scheme, or scp-like ``user@host:path``."""
    import re

    return "://" in where or re.match(r"^[\w.-]+@[\w.-]+:", where) is not None


def _recorded(repo, rel: str, rev: str | None, remote: str | None):
    """The manifest entry of the file ``rel`` as ``rev`` (default: the workspace's pointer
    files and lock) records it; or, for a file git keeps at ``rev``, its bytes."""
    from mlvc.ops._remote import fetch_objects
    from mlvc.ops.diff import SideView, TreeReader, side_of
    from mlvc.ops.ls import entry_at

    view = SideView(repo, side_of(repo, rev))
    held = view.holding(rel)
    where = "the workspace" if rev is None else rev
    if held is None:
        data = view.read(rel)  # (a file git keeps, or any untracked one in the workspace)
        if data is None:
            raise TargetError(f"'{rel}' is neither tracked by mlvc nor in git at {where}",
                              hint="`mlvc ls` lists what mlvc tracks")
        return data
    # (a folder's manifest the cache lacks comes from the remote too)
    trees = TreeReader(repo, fetch=lambda oid: fetch_objects(repo, [(oid, None)], rel, remote))
    entry = entry_at(trees, held[1], rel)
    if entry.type == "dir":
        raise TargetError(f"'{rel}' is a folder at {where}: name one of its files",
                          hint=f"`mlvc ls {rel}{'' if rev is None else ' --rev ' + rev}` "
                               "lists them")
    return entry


def get_url(path: str, repo: str | os.PathLike[str] | None = None, rev: str | None = None,
            remote: str | None = None, *, remote_config: dict[str, Any] | None = None,
            cwd: Path | None = None) -> str:
    """The URL of ``path``'s object on the remote (the default one, or ``remote``), as
    ``dvc.api.get_url``, for a tool that reads it there (``s3://bucket/…/objects/ab/cd…``;
    a path for a folder remote). The remote is asked whether it has it. A small file that
    travels in a pack has no URL of its own (TargetError: read it with :func:`open`); a
    file git keeps has none either. ``cwd``: where a folder ``repo`` is relative to (the
    CLI's ``-C``)."""
    from mlvc.ops._remote import connect
    from mlvc.remote.fs import LocalRemote

    rel = _rel(path)
    with _project(repo, rev, cwd, _via(remote, remote_config)) as (project, at):
        try:
            entry = _recorded(project, rel, at, remote)
        except TargetError:
            from mlvc.ops.dvc_source import dvc_url, is_dvc_project

            # (DVC tracks it: a DVC project's clone; its object on the DVC remote)
            if at is None and is_dvc_project(project.root) and (
                    url := dvc_url(project.root, rel, _folder(repo, cwd))) is not None:
                return url
            raise
        if isinstance(entry, bytes):
            raise TargetError(f"'{rel}' is kept in git, not on a remote",
                              hint="`mlvc.api.read` reads it")
        rem, index = connect(project, remote)
        try:
            if entry.oid in rem.packed():
                raise TargetError(f"'{rel}' travels in a pack on remote '{rem.name}' (a small "
                                  "file): it has no URL of its own",
                                  hint="`mlvc.api.open` reads it")
            if not rem.contains([entry.oid]):
                raise TargetError(f"'{rel}' is not on remote '{rem.name}'",
                                  hint="`mlvc push` sends it")
            where = rem.object_path(entry.oid)
            return where if isinstance(rem, LocalRemote) else rem.fs.unstrip_protocol(where)
        finally:
            index.close()


def artifacts_show(name: str, version: str | None = None, stage: str | None = None,
                   repo: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """``{"path": …, "rev": …}`` of artifact ``name`` (the top-level ``artifacts:`` of
    mlvc.yaml), as ``dvc.api.artifacts_show``: the commit of ``version``, of ``stage``, or of
    its latest version (git tags as GTO writes them: see :mod:`mlvc.ops.artifacts`), and
    the path that commit's mlvc.yaml gives it; ``repo``: a git URL or a folder (default:
    the project holding the current folder). Pass them to :func:`open`."""
    from mlvc.ops.artifacts import artifact_at

    artifact, sha = artifact_at(None if repo is None else os.fspath(repo), name, version,
                                stage)
    return {"path": artifact.path, "rev": sha or ""}


def _rel(path: str) -> str:
    """``path`` as a project path (from the project's top)."""
    from mlvc.paths import normalize_rel

    try:
        return normalize_rel(str(path))
    except PathError as exc:
        raise TargetError(exc.message, hint=exc.hint) from None


def _folder(repo: str | os.PathLike[str] | None, cwd: Path | None) -> Path | None:
    """``repo``, when it names a folder here (a DVC project's: its cache is read, and its
    remote's relative path is from there)."""
    from mlvc.ops.get import local_repo

    return None if repo is None else local_repo(os.fspath(repo), cwd or Path.cwd())


def _locate(repo, path: str, rev: str | None, remote: str | None,
            local: Path | None = None) -> str | bytes:
    """The cache object (or workspace file) to read, as a path; or the bytes git keeps.
    ``local``: the folder a DVC project's clone was made from."""
    from mlvc.ops._remote import fetch_objects
    from mlvc.paths import check_inside, to_fs
    from mlvc.workspace.verify import ObjectChecker

    rel = _rel(path)
    if rev is None:
        fs = to_fs(repo.root, rel)
        if fs.is_file():
            check_inside(repo.root, rel)
            return str(fs)
    try:
        entry = _recorded(repo, rel, rev, remote)
    except TargetError:
        from mlvc.ops.dvc_source import fetch_dvc, is_dvc_project

        # (DVC tracks it: a DVC project's clone, say; read as `mlvc get` reads it)
        landed = repo.tmp_dir / "dvc-read" / rel.replace("/", "%")
        if rev is None and is_dvc_project(repo.root) and fetch_dvc(repo.root, rel, landed,
                                                                    local):
            if landed.is_dir():
                raise TargetError(f"'{rel}' is a folder: name one of its files") from None
            return str(landed)
        raise
    if isinstance(entry, bytes):
        return entry
    if not repo.cache.exists(entry.oid):
        fetch_objects(repo, [(entry.oid, entry.size)], rel, remote)
    # Checked as status checks objects: by its verification record, else read and hashed.
    check = ObjectChecker(repo.cache, repo.state).check([entry.oid], jobs=1)
    if check.bad:
        raise CorruptObjectError(entry.oid, f"'{rel}': object {entry.oid} is corrupt in the "
                                            "cache",
                                 hint="`mlvc verify` sets it aside; then `mlvc fetch` or "
                                      "`mlvc.api` gets it again from a remote")
    return repo.cache.path_str(entry.oid)
