"""``mlvc get-url URL [OUT]`` and ``mlvc import-url URL [OUT]``: a file or folder at any fsspec
URL (``s3://…``, ``https://…``, a path on this machine) copied here, or copied and tracked
with where it came from (as ``dvc get-url`` / ``dvc import-url``); ``mlvc update`` reads it
again when it changed.

A URL under a configured remote's URL is opened with that remote's options (credentials,
endpoint); any other with fsspec's defaults (the environment's credentials). What the URL
held is known by its *fingerprint*: each file's ETag or checksum where the filesystem gives
one, else its size and modification time. The download goes to a hidden folder beside OUT and
is renamed into place whole; ``import-url`` then tracks OUT as ``add`` does, and its pointer
file records the URL and the fingerprint (``import_url``).
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlvc.config import first_secret
from mlvc.errors import MlvcError, RemoteError, TargetError
from mlvc.objects.oid import hash_bytes
from mlvc.ops.imports import (
    ImportResult,
    check_destination,
    recorded_location,
    store_tree,
    track_import,
)
from mlvc.parallel import threaded
from mlvc.paths import RelPath, from_user, real_inside, to_fs
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace.pointer import Out, Pointer, UrlSource, pointer_path_for

FsConfig = tuple[tuple[str, str], ...]  # options of a URL's filesystem (``--fs-config``)


@dataclass(frozen=True, slots=True)
class Remote:
    """A URL opened: its filesystem, its path there, and what it holds."""

    fs: object
    path: str
    is_dir: bool
    files: tuple[tuple[str, int], ...]  # (path relative to ``path`` ("" for a file), size)
    fingerprint: str
    # on a version-aware filesystem (``--version-aware``): (path as in ``files``, version
    # id) of each file; downloads read those versions
    versions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class GetUrlResult:
    out: str
    files: int
    nbytes: int

    def to_json(self) -> dict:
        return {"out": self.out, "files": self.files, "bytes": self.nbytes}


def get_url(url: str, out: str | None = None, *, cwd: Path | None = None,
            force: bool = False, fs_config: FsConfig = (),
            progress: Progress = NULL_PROGRESS) -> GetUrlResult:
    """Copy what ``url`` holds to ``out`` (default: its name, here). Inside a project, its
    remotes lend their options (see :func:`open_url`); outside one, fsspec's defaults;
    ``fs_config`` over them."""
    cwd = cwd or Path.cwd()
    with project_at(cwd) as repo:  # (a copy may come from anywhere: outside=False)
        remote = open_url(url, cwd, repo, outside=False, fs_config=fs_config)
    dest = (cwd / (out or _name(url, remote))).absolute()
    if os.path.lexists(dest) and not force:
        raise TargetError(f"'{out or _name(url, remote)}' exists already",
                          hint="name another place; --force replaces it")
    nbytes = _download(remote, dest, progress)
    return GetUrlResult(str(dest), len(remote.files), nbytes)


def import_url(repo: Repo, url: str, out: str | None = None, *, cwd: Path | None = None,
               force: bool = False, to_remote: bool = False, remote: str | None = None,
               jobs: int | None = None, fs_config: FsConfig = (), download: bool = True,
               execute: bool = True, version_aware: bool = False,
               progress: Progress = NULL_PROGRESS) -> ImportResult:
    """Copy what ``url`` holds into the project at ``out`` and track it with its source.
    Without ``download`` (``dvc import-url --no-download``), only its fingerprint is
    recorded; without ``execute`` (``--no-exec``), only the URL, which is not asked: the
    output is pending either way, and ``pull`` (or ``update``) gets the data and records it.

    ``to_remote`` (``dvc import-url --to-remote``): sent to the remote instead, for data
    larger than this disk: neither the cache nor the workspace gets a copy (see
    :func:`_send`); the pointer file is written once all of it is there. ``fs_config``:
    options of the URL's filesystem, recorded with it (no secret: git keeps the pointer).
    ``version_aware`` (``--version-aware``, as DVC's): the version id of each file is
    recorded too (``version_aware=true`` in ``fs_config``), and ``fetch``/``pull`` read
    exactly those versions later, whatever the URL holds then."""
    from mlvc.remote import scheme

    cwd = cwd or Path.cwd()
    if version_aware:
        if scheme(url) in (None, "file", "local"):
            raise TargetError(f"--version-aware: '{url}' is a path on this machine, which "
                              "keeps no versions")
        fs_config = (*[(k, v) for k, v in fs_config if k != "version_aware"],
                     ("version_aware", "true"))
    fs_config = tuple(sorted(fs_config))
    secret = first_secret(fs_config)
    if secret is not None:
        raise TargetError(f"--fs-config {secret}: a secret, and the pointer file that records "
                          "the options is kept in git",
                          hint="give credentials to a remote on that bucket or host (`mlvc "
                               "remote add NAME URL`, then `mlvc remote modify --local NAME "
                               f"{secret} …`): a URL under a remote's URL is opened with its "
                               "options")
    if not execute:  # (the URL is not asked: its filesystem and path only checked)
        _, path = _filesystem(url, cwd, repo, True, fs_config)
        src = Remote(None, path, False, (), "")
    else:
        src = open_url(url, cwd, repo, fs_config=fs_config)
    dest = from_user(repo.root, out or _name(url, src), cwd)
    pointer = pointer_path_for(dest)
    check_destination(repo, dest, pointer, force)
    source = UrlSource(recorded_location(repo, url, cwd), src.fingerprint, fs_config,
                       src.versions)
    if not (download and execute):
        from mlvc.ops.imports import record_pending

        return record_pending(repo, Pointer(pointer, (), source, dest), changed=True,
                              force=force)
    if to_remote:
        return _record_sent(repo, pointer, _send(repo, src, dest, remote, jobs, progress),
                            source, True, force, progress)
    _download(src, to_fs(repo.root, dest), progress)
    return track_import(repo, dest, source, True, progress)


def update_url(repo: Repo, pointer: Pointer, *, force: bool = False, to_remote: bool = False,
               remote_name: str | None = None, jobs: int | None = None, download: bool = True,
               progress: Progress = NULL_PROGRESS) -> ImportResult:
    """Read the URL ``pointer`` imported from again when its fingerprint moved. Changes of
    yours in the output are refused unless ``force`` (they would be overwritten).
    ``to_remote``: what it holds now goes to the remote, not here (the workspace's copy, if
    any, is then older than the record: `mlvc pull` brings the new one). Without
    ``download`` (``dvc update --no-download``), a new fingerprint alone is recorded: the
    output is then pending, and ``pull`` gets its data. A pending output is read whole
    (see :func:`read_url`), and checked out as ``checkout`` would."""
    from mlvc.ops.imports import record_import, record_pending, refuse_unsaved

    src = pointer.source
    assert isinstance(src, UrlSource)
    out = pointer.outs[0] if pointer.outs else None
    path = pointer.imported_path
    if out is None and download and not to_remote:
        new, now, _, _ = read_url(repo, src, path, progress=progress)
        return record_import(repo, Pointer(pointer.path, (new,), now), changed=True,
                             force=force, progress=progress)
    remote = open_url(src.url, repo.root, repo, fs_config=src.fs_config)
    now = UrlSource(src.url, remote.fingerprint, src.fs_config, remote.versions)
    if remote.fingerprint == src.fingerprint and not force and (out is not None
                                                                 or not download):
        return ImportResult(pointer.path, out, src, False)
    if not download:
        return record_pending(repo, Pointer(pointer.path, (), now, path),
                              changed=now != src, force=True)
    if to_remote:
        sent = _send(repo, remote, path, remote_name, jobs, progress)
        return _record_sent(repo, pointer.path, sent, now,
                            out is None or sent.oid != out.oid
                            or remote.fingerprint != src.fingerprint, True, progress)
    assert out is not None
    if not force:
        refuse_unsaved(repo, out.path)
    _download(remote, to_fs(repo.root, out.path), progress)
    return track_import(repo, out.path, now, remote.fingerprint != src.fingerprint, progress)


def fetch_url_import(repo: Repo, pointer: RelPath, out: Out, source: UrlSource,
                     progress: Progress = NULL_PROGRESS) -> tuple[int, int]:
    """Store in this cache the objects of ``out``, imported from ``source``, by downloading
    the URL again (``fetch`` of an import-url output the cache lacks; see
    :func:`read_url`). What the URL holds now must be what ``out`` records, else nothing is
    kept of it; with recorded versions (``--version-aware``), those versions are read. How
    many objects came, and their bytes."""
    now, _, objects, nbytes = read_url(repo, source, out.path, pinned=bool(source.versions),
                                       progress=progress)
    if now.oid != out.oid:
        raise TargetError(f"{pointer}: {source.url} holds other data now than {pointer} "
                          "records", hint="`mlvc update` records what it holds now")
    return objects, nbytes


def read_url(repo: Repo, source: UrlSource, dest: RelPath, *, pinned: bool = False,
             progress: Progress = NULL_PROGRESS) -> tuple[Out, UrlSource, int, int]:
    """What ``source``'s URL holds, stored in this cache as ``dest``'s objects: downloaded
    into a temporary folder, each file hashed into the cache and each folder's manifest
    built. ``pinned``: it must still be what ``source``'s fingerprint records (a pending
    import's data fetched), else nothing is downloaded. The output, the source as read,
    how many objects came, and their bytes."""
    import tempfile

    if pinned and source.versions:  # (those versions, whatever the URL holds now)
        fs, path = _filesystem(source.url, repo.root, repo, True, source.fs_config)
        remote = Remote(fs, path, source.versions[0][0] != "",
                        tuple((rel, 0) for rel, _ in source.versions), source.fingerprint,
                        source.versions)
    else:
        remote = open_url(source.url, repo.root, repo, fs_config=source.fs_config)
    if pinned and source.read and remote.fingerprint != source.fingerprint:
        raise TargetError(f"{source.url} holds other data now than was recorded of it",
                          hint="`mlvc update` records what it holds now")
    repo.tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="import-url-", dir=repo.tmp_dir) as tmp:
        landed = Path(tmp) / "data"
        nbytes = _download(remote, landed, progress)
        stored = store_tree(repo.cache, landed, progress=progress)
    return (stored.out(dest), UrlSource(source.url, remote.fingerprint, source.fs_config,
                                        remote.versions),
            stored.objects, nbytes)


# -- straight to the remote ------------------------------------------------------------------

SEND_BATCH_BYTES = 256 * 1024 * 1024  # downloaded at a time by --to-remote (or one file)


def _send(repo: Repo, src: Remote, dest: RelPath, remote: str | None, jobs: int | None,
          progress: Progress) -> Out:
    """What ``src`` holds, sent to the remote as ``dest``'s objects with no copy in the cache
    or the workspace: its files downloaded into ``.mlvc/tmp`` a batch at a time (about
    ``SEND_BATCH_BYTES``, 8 files at once), hashed, sent and deleted, then its folders'
    manifests built (in the cache) and sent, each once all below it is there. Disk used:
    a batch. A transfer that fails raises, and nothing is recorded."""
    import tempfile

    from mlvc.objects.oid import hash_file
    from mlvc.ops.imports import StoredTree, build_trees
    from mlvc.workspace.state import stat_key

    batches: list[list[tuple[str, int]]] = [[]]
    held = 0
    for rel, size in src.files:
        if batches[-1] and held + size > SEND_BATCH_BYTES:
            batches.append([])
            held = 0
        batches[-1].append((rel, size))
        held += size
    got: dict[str, tuple[str, int, bool]] = {}
    repo.tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="import-url-", dir=repo.tmp_dir) as tmp, \
            progress.phase("Sending", total=len(src.files), unit="file") as advance:
        for batch in batches:
            landed = [(rel, os.path.join(tmp, str(i))) for i, (rel, _) in enumerate(batch)]

            def fetch_one(item: tuple[str, str]) -> tuple[str, int, object]:
                rel, local = item
                with _reading(src.path):
                    src.fs.get_file(  # type: ignore[attr-defined]
                        f"{src.path.rstrip('/')}/{rel}" if src.is_dir else src.path, local)
                st = os.stat(local)
                return hash_file(local), st.st_size, stat_key(st)

            files, stats = [], {}
            for (rel, local), outcome in threaded(landed, fetch_one, 8):
                if isinstance(outcome, BaseException):
                    if isinstance(outcome, MlvcError):
                        raise outcome
                    raise RemoteError(f"downloading {src.path} failed: {outcome}")
                oid, size, key = outcome
                got[rel] = (oid, size, False)
                files.append((oid, local, size))
                stats[local] = key
            _push(repo, StoredTree("", "dir", 0, 0, False, 0, tuple(files), stats),
                  dest, remote, jobs)
            for _, local in landed:
                os.unlink(local)
            advance(len(batch))
    if not src.is_dir:
        (oid, size, _), = got.values()
        return Out(dest, oid, "file", size, 1, False)
    folders: set[str] = set()
    for rel in got:
        f = posixpath.dirname(rel)
        while f and f not in folders:
            folders.add(f)
            f = posixpath.dirname(f)
    top, trees = build_trees(repo.cache, sorted(folders), got)
    _push(repo, StoredTree(top.oid, "dir", 0, 0, False, 0, (), {}, tuple(dict.fromkeys(trees))),
          dest, remote, jobs, sent_before=[oid for oid, _, _ in got.values()])
    return Out(dest, top.oid, "dir", top.size, top.nfiles, False)


def _push(repo: Repo, stored, dest: RelPath, remote: str | None, jobs: int | None,
          sent_before: list[str] = ()) -> None:
    """``stored``'s objects sent (by ``push_outside``; the caller draws the progress)."""
    from mlvc.ops import push
    from mlvc.ops._remote import transfer_hint

    sent = push.push_outside(repo, stored, remote=remote, jobs=jobs, sent_before=sent_before)
    if not sent.ok:
        first = sent.failed[0]
        raise RemoteError(f"{len(sent.failed)} object(s) of {dest} did not reach remote "
                          f"'{sent.remote}' ({first.reason}): nothing recorded",
                          hint=transfer_hint(sent.failed))


def _record_sent(repo: Repo, pointer: RelPath, out: Out, source: UrlSource, changed: bool,
                 force: bool, progress: Progress) -> ImportResult:
    """The pointer file of an import sent to the remote (no checkout: the data is there)."""
    from mlvc.ops.imports import record_pointer

    _, git = record_pointer(repo, Pointer(pointer, (out,), source), force=force,
                            progress=progress, checkout=False)
    return ImportResult(pointer, out, source, changed, None, git.files, git.staged)


# -- the URL --------------------------------------------------------------------------------

def open_url(url: str, cwd: Path, repo: Repo | None, outside: bool = True,
             fs_config: FsConfig = ()) -> Remote:
    """``url`` opened, and listed; a path on this machine is taken from ``cwd`` (and, with
    ``outside``, must not be inside ``repo``: to be tracked, it would be there twice).
    ``fs_config``: options of its filesystem, over those a remote lends."""
    fs, path = _filesystem(url, cwd, repo, outside, fs_config)
    versioned = bool(getattr(fs, "version_aware", False))
    with _reading(url):
        info = fs.info(path)  # type: ignore[attr-defined]
        if info.get("type") == "directory":
            found = fs.find(path, detail=True)  # type: ignore[attr-defined]
            base = path.rstrip("/") + "/"
            entries = sorted((p[len(base):], i) for p, i in found.items()
                             if i.get("type") != "directory" and p.startswith(base))
            if not entries:
                raise TargetError(f"{url} is an empty folder")
            fp = folder_fingerprint([(rel, _fingerprint(i, versioned)) for rel, i in entries])
            remote = Remote(fs, path, True, tuple((r, int(i.get("size") or 0))
                                                   for r, i in entries), fp)
        else:
            entries = [("", info)]
            remote = Remote(fs, path, False, (("", int(info.get("size") or 0)),),
                            _fingerprint(info, versioned))
    if not versioned:
        return remote
    versions = tuple((rel, str(i.get("VersionId") or "")) for rel, i in entries)
    unversioned = next((rel for rel, v in versions if v in ("", "null")), None)
    if unversioned is not None:
        raise TargetError(f"{url} has no version id for "
                          f"{unversioned or posixpath.basename(path)}: its bucket keeps no "
                          "versions", hint="turn versioning on for the bucket, or import it "
                                           "without --version-aware")
    return Remote(fs, path, remote.is_dir, remote.files, remote.fingerprint, versions)


@dataclass(frozen=True, slots=True)
class UrlEntry:
    path: str  # relative to the URL's folder (a file URL: its name)
    type: str  # "file" | "dir"
    size: int | None  # (a folder's: None; one that -L folds: its files' total)

    def to_json(self) -> dict:
        return {"path": self.path, "type": self.type, "size": self.size}


def ls_url(url: str, *, cwd: Path | None = None, recursive: bool = False,
           fs_config: FsConfig = (), level: int | None = None) -> tuple[UrlEntry, ...]:
    """What the file or folder at ``url`` holds (as ``dvc ls-url``): a folder's entries, or
    with ``recursive`` every file below it; a file, itself. Inside a project its remotes
    lend their options (see :func:`open_url`); ``fs_config`` over them. ``level`` (``-L``):
    every file down to that many folders, a deeper folder one entry with its files' total
    size."""
    if level is not None:
        from mlvc.ops.ls import fold_below, total_size

        every = ls_url(url, cwd=cwd, recursive=True, fs_config=fs_config)
        return tuple(fold_below(list(every), "", level,
                                lambda path, inside: UrlEntry(path, "dir", total_size(inside))))
    cwd = cwd or Path.cwd()
    with project_at(cwd) as repo:
        fs, path = _filesystem(url, cwd, repo, False, fs_config)
    with _reading(url):
        info = fs.info(path)  # type: ignore[attr-defined]
        if info.get("type") != "directory":
            return (UrlEntry(posixpath.basename(path.rstrip("/")), "file",
                             int(info.get("size") or 0)),)
        base = path.rstrip("/") + "/"
        if recursive:
            found = fs.find(path, detail=True)  # type: ignore[attr-defined]
        else:
            found = {i["name"]: i for i in fs.ls(path, detail=True)}  # type: ignore[attr-defined]
        entries = []
        for name, i in found.items():
            rel = name.rstrip("/")[len(base):] if name.startswith(base) else ""
            if not rel:
                continue  # (the folder itself, as some filesystems list it)
            kind = "dir" if i.get("type") == "directory" else "file"
            entries.append(UrlEntry(rel, kind, None if kind == "dir" else
                                    int(i.get("size") or 0)))
    return tuple(sorted(entries, key=lambda e: e.path))


@contextmanager
def project_at(cwd: Path) -> Iterator[Repo | None]:
    """The project ``cwd`` is in, whose remotes lend their options to URLs; None outside
    one (``get-url``, ``ls-url`` and ``test-db`` work anywhere)."""
    from mlvc.errors import NotAProjectError
    from mlvc.repo import find_root

    try:
        find_root(cwd)
    except NotAProjectError:
        yield None
        return
    with Repo.find(cwd) as repo:
        yield repo


def _filesystem(url: str, cwd: Path, repo: Repo | None, outside: bool,
                fs_config: FsConfig = ()) -> tuple[object, str]:
    """The fsspec filesystem ``url`` is on, and its path there (see :func:`open_url`)."""
    from mlvc.remote import fs_options, fsspec_url, scheme

    proto = scheme(url)
    if proto in (None, "file", "local"):
        if fs_config:
            raise TargetError(f"--fs-config {fs_config[0][0]}: '{url}' is a path on this "
                              "machine, which takes no options")
        from fsspec.implementations.local import LocalFileSystem

        local = Path(cwd, url.split("://", 1)[1] if proto else url).resolve()
        if outside and repo is not None and \
                real_inside(str(local), (str(repo.root.resolve()),)):
            raise TargetError(f"'{url}' is inside this project",
                              hint="`mlvc add` tracks it where it is")
        return LocalFileSystem(), str(local)
    import fsspec

    url, options = _with_remote(repo, url)
    options.update(fs_config)
    try:
        fs, path = fsspec.core.url_to_fs(fsspec_url(url), **fs_options(url, options))
    except ImportError as exc:
        raise RemoteError(f"{url} needs a package that is not installed: {exc}",
                          hint="install the fsspec filesystem for it (s3: "
                               "pip install 'mlvc[s3]')") from None
    except (ValueError, TypeError) as exc:
        raise RemoteError(f"{url} cannot be opened: {exc}") from None
    # fsspec keeps one filesystem per options in a process, with the listings it read: a
    # long-lived process (mlvc.api, a test) must not see what the URL held before.
    with _reading(url):
        fs.invalidate_cache(path)
    return fs, path


@contextmanager
def _reading(url: str) -> Iterator[None]:
    """Failures reading ``url`` as one clear error each: missing, credentials, network."""
    try:
        yield
    except FileNotFoundError:
        raise TargetError(f"{url} does not exist") from None
    except (TargetError, RemoteError):
        raise
    except Exception as exc:  # noqa: BLE001 - credentials, network: one clear error
        raise RemoteError(f"{url} cannot be read: {type(exc).__name__}: {exc}",
                          hint=_CREDENTIALS) from None


_CREDENTIALS = ("check the credentials: a URL on a remote's bucket or host is opened with "
                "that remote's options (`mlvc remote modify NAME endpoint_url …`), and "
                "remote://NAME/PATH names a path of remote NAME")


def _with_remote(repo: Repo | None, url: str) -> tuple[str, dict[str, object]]:
    """``url`` (``remote://NAME/PATH`` made remote NAME's URL + PATH) and the options to open
    it with: those of remote NAME, else of the remote on the same bucket or host (the one
    whose URL it is under first), else none (fsspec's defaults)."""
    from urllib.parse import urlsplit

    remotes = repo.config.remotes() if repo is not None else {}
    if url.startswith("remote://"):
        name, _, rest = url[len("remote://"):].partition("/")
        if name not in remotes:
            raise RemoteError(f"no remote named '{name}' ({url})",
                              hint="`mlvc remote list` shows the remotes")
        options = dict(remotes[name])
        base = str(options.get("url", "")).rstrip("/")
        return (f"{base}/{rest}" if rest else base), options
    where = urlsplit(url)
    best: tuple[int, dict] = (-1, {})
    for options in remotes.values():
        base = str(options.get("url", "")).rstrip("/")
        there = urlsplit(base)
        if (there.scheme, there.netloc) != (where.scheme, where.netloc) or not there.netloc:
            continue
        under = len(base) if url == base or url.startswith(base + "/") else 0
        if under > best[0]:
            best = (under, dict(options))
    return url, best[1]


def folder_fingerprint(files: list[tuple[str, str]]) -> str:
    """A folder's fingerprint, of its files' (path, fingerprint), sorted by path."""
    return "dir:" + hash_bytes(json.dumps(sorted(files)).encode())


def versions_fingerprint(versions: tuple[tuple[str, str], ...]) -> str:
    """The fingerprint :func:`open_url` gives what ``versions`` (of a version-aware URL;
    a file's path is "") name."""
    if [rel for rel, _ in versions] == [""]:
        return f"version:{versions[0][1]}"
    return folder_fingerprint([(rel, f"version:{v}") for rel, v in versions])


def _fingerprint(info: dict, versioned: bool = False) -> str:
    """What ``info`` says of a file's content; ``versioned`` (a version-aware filesystem):
    its version id (s3fs gives one for a file of a versioned bucket either way: it is not
    taken then, so that a fingerprint stays what it was)."""
    if versioned and info.get("VersionId") not in (None, "", "null"):
        return f"version:{info['VersionId']}"
    for key in ("ETag", "etag", "md5", "checksum", "sha256"):
        if info.get(key):
            return f"{key.lower()}:{str(info[key]).strip(chr(34))}"
    when = next((info[k] for k in ("mtime", "LastModified", "last_modified", "created")
                 if info.get(k) is not None), "")
    return f"size:{info.get('size')}:mtime:{when}"


def _name(url: str, remote: Remote) -> str:
    return posixpath.basename(remote.path.rstrip("/")) or "download"


def _download(remote: Remote, dest: Path, progress: Progress) -> int:
    """What ``remote`` holds, written beside ``dest`` and renamed into place whole (what was
    at ``dest`` replaced); its bytes."""
    staged = dest.parent / f".{dest.name}.mlvc-download.{os.getpid()}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    fs = remote.fs
    at = {rel: f"?versionId={v}" for rel, v in remote.versions}  # (exactly those versions)
    try:
        if remote.is_dir:
            pairs = [(f"{remote.path.rstrip('/')}/{rel}{at.get(rel, '')}", staged / rel)
                     for rel, _ in remote.files]
            for _, target in pairs:
                target.parent.mkdir(parents=True, exist_ok=True)
        else:
            pairs = [(remote.path + at.get("", ""), staged)]
        total = sum(n for _, n in remote.files)
        with progress.phase("Downloading", total=len(pairs)) as advance:
            for (_, _), outcome in threaded(
                    pairs, lambda p: fs.get_file(p[0], str(p[1])), 8):  # type: ignore
                if isinstance(outcome, BaseException):
                    raise RemoteError(f"downloading {remote.path} failed: {outcome}")
                advance(1)
        if os.path.lexists(dest):
            _remove(dest)
        os.replace(staged, dest)
    finally:
        if os.path.lexists(staged):
            _remove(staged)
    return total


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for sub, _, _ in os.walk(path):  # (tracked files may be read-only)
            os.chmod(sub, 0o755)
        shutil.rmtree(path)
    else:
        path.unlink()
