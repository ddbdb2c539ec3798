"""Data out of a DVC project (a data registry kept with DVC), for ``mlvc get`` and
``mlvc import`` — read as DVC's own files say, without DVC.

A path DVC tracks is found in the ``.dvc`` file of it or of a folder above it, or among the
outputs ``dvc.lock`` records. Its bytes come from the DVC cache of the repository when that
is a folder on this machine, else from the DVC project's default remote (``.dvc/config``;
credentials from the environment, as DVC's remotes take them): ``files/md5/ab/cdef…`` (DVC
3) or ``ab/cdef…`` (DVC 2). A folder's listing (``….dir``: JSON of ``{"md5", "relpath"}``)
is read first, its names checked as mlvc checks manifests'. Every file is checked against
its md5 before it is kept; then mlvc hashes it as its own (``store_tree``)."""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import posixpath
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from mlvc.errors import CorruptObjectError, MlvcError, RemoteError, TargetError
from mlvc.paths import is_valid_name, is_within, normalize_rel

if TYPE_CHECKING:
    from mlvc.pipeline.model import ArtifactDef
from mlvc.progress import NULL_PROGRESS, Progress


def is_dvc_project(root: Path) -> bool:
    return (root / ".dvc").is_dir()


def dvc_record(root: Path, rel: str) -> tuple[str, str] | None:
    """``(md5, output path)`` of the DVC output that holds ``rel`` in the DVC project at
    ``root`` (a git work tree: its .dvc files, or its dvc.lock), or None when DVC does not
    track it."""
    return next(((md5, path) for _, path, md5, _, _ in dvc_outputs(root)
                 if is_within(rel, path)), None)


class _Store:
    """Where a DVC project's objects are: its cache here, or its default remote."""

    def __init__(self, clone: Path, local: Path | None) -> None:
        self.places: list[tuple[object, str]] = []  # (fsspec filesystem, root)
        if local is not None and (local / ".dvc" / "cache").is_dir():
            from fsspec.implementations.local import LocalFileSystem

            self.places.append((LocalFileSystem(), str(local / ".dvc" / "cache")))
        self.remote = _default_remote(clone, local)  # (fs, root), or None
        if self.remote is not None:
            self.places.append(self.remote)
        if not self.places:
            raise TargetError("that DVC project has no default remote (.dvc/config) and no "
                              "cache here to read its data from",
                              hint="`dvc remote default` there, or name a folder that has "
                                   "its data")

    def get(self, md5: str, dest: Path) -> None:
        """The object ``md5`` (``….dir`` for a folder's listing) at ``dest``, checked."""
        name = md5.removesuffix(".dir")
        if len(name) != 32 or not all(c in "0123456789abcdef" for c in name):
            raise CorruptObjectError(f"'{md5}' is not an md5 DVC writes")
        suffix = ".dir" if md5.endswith(".dir") else ""
        tried = []
        for fs, root in self.places:
            for layout in (f"files/md5/{name[:2]}/{name[2:]}{suffix}",
                           f"{name[:2]}/{name[2:]}{suffix}"):
                path = f"{root.rstrip('/')}/{layout}"
                try:
                    fs.get_file(path, str(dest))  # type: ignore[attr-defined]
                except (FileNotFoundError, OSError) as exc:
                    tried.append(f"{path}: {exc.__class__.__name__}")
                    continue
                if dvc_md5_matches(dest, name):
                    return
                tried.append(f"{path}: does not hash to {name}")
        dest.unlink(missing_ok=True)
        raise RemoteError(f"DVC object {md5} is in none of the DVC project's stores, whole "
                          f"({'; '.join(tried[:4])})",
                          hint="push it there with `dvc push` in that project")


def _config(folder: Path) -> configparser.ConfigParser | None:
    """A DVC project's settings: ``.dvc/config``, then ``.dvc/config.local`` over it (as DVC
    merges them); None when they cannot be read."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read([folder / ".dvc" / "config", folder / ".dvc" / "config.local"],
                    encoding="utf-8")
    except configparser.Error:
        return None
    return parser


def _value(raw: str) -> str:
    return raw.strip().strip('"')


def _remote_of(section: str) -> str | None:
    """The remote a section of DVC's config is about, however DVC quoted it
    (``'remote "x"'``); None for another section."""
    bare = section.strip("'\"").replace('"', "")
    return bare[len("remote "):] if bare.startswith("remote ") else None


def dvc_settings(text: str, origin: str) -> dict[str, str]:
    """The settings of a DVC config file's ``text``, flat as mlvc names them:
    ``core.remote``, ``remotes.NAME.OPTION`` (from ``['remote "NAME"']``), ``SECTION.KEY``;
    values unquoted. Raises TargetError when it is not such a file."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, origin)
    except configparser.Error as exc:
        raise TargetError(f"{origin}: not a config file ({exc})") from None
    flat: dict[str, str] = {}
    for section in parser.sections():
        remote = _remote_of(section)
        where = f"remotes.{remote}" if remote is not None else section.strip().strip("'\"")
        flat.update({f"{where}.{k}": _value(v) for k, v in parser[section].items()})
    return flat


def _section(parser: configparser.ConfigParser, name: str) -> str | None:
    """The section of remote ``name``."""
    return next((s for s in parser.sections() if _remote_of(s) == name), None)


def _remote_names(parser: configparser.ConfigParser) -> list[str]:
    return sorted(n for s in parser.sections() if (n := _remote_of(s)) is not None)


def choose_dvc_remote(clone: Path, url: str, name: str | None,
                      options: tuple[tuple[str, str], ...]) -> None:
    """Have the DVC project cloned at ``clone`` read its data from its remote ``name``
    (default: its default one) with ``options`` over that remote's own, in DVC's names:
    written in the clone's ``.dvc/config.local``, as DVC keeps a clone's own settings (gone
    with the clone)."""
    if name is None and not options:
        return
    parser = _config(clone)
    if parser is None:
        raise TargetError(f"{url}: its .dvc/config cannot be read")
    chosen = name or _value(parser.get("core", "remote", fallback="")) or None
    section = None if chosen is None else _section(parser, chosen)
    if section is None:
        names = _remote_names(parser)
        said = "no default remote" if chosen is None else f"no remote named '{chosen}'"
        raise TargetError(f"{url} (a DVC project) has {said}",
                          hint=f"--remote names one of its remotes: {', '.join(names)}"
                          if names else "that project has no DVC remote")
    local = configparser.ConfigParser(interpolation=None)
    if name is not None:
        local["core"] = {"remote": name}
    if options:
        local[section] = dict(options)
    with open(clone / ".dvc" / "config.local", "w", encoding="utf-8") as f:
        local.write(f)


def _default_remote(clone: Path, local: Path | None) -> tuple[object, str] | None:
    """The DVC project's default remote, opened (a relative folder is from its .dvc/)."""
    import fsspec

    from mlvc.remote import fs_options, fsspec_url, scheme

    parser: configparser.ConfigParser | None = None
    for folder in (clone, local):
        if folder is not None and (folder / ".dvc" / "config").is_file():
            parser = _config(folder)
            break
    if parser is None:
        return None
    name = _value(parser.get("core", "remote", fallback=""))
    section = _section(parser, name)
    if not name or section is None:
        return None
    options = {k: _value(v) for k, v in parser[section].items()}
    url = options.pop("url", "")
    if scheme(url) in (None, "file", "local"):
        path = url.split("://", 1)[1] if scheme(url) else url
        base = local if local is not None else clone
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem(), os.path.normpath(os.path.join(base, ".dvc", path))
    try:
        fs, root = fsspec.core.url_to_fs(fsspec_url(url), **fs_options(url, options))
    except (ImportError, ValueError, TypeError) as exc:
        raise RemoteError(f"the DVC project's remote {url} cannot be opened: {exc}") from None
    return fs, root


_TEXT = bytes(range(32, 127)) + b"\n\r\t\f\b"
CHUNK = 1 << 20  # read at a time


def dvc_md5_matches(path: Path | str, md5: str) -> bool:
    """Whether the file at ``path`` is what DVC recorded as ``md5``: DVC 3 hashes its bytes;
    DVC 2 hashed a text file with its CRLF line ends made LF (see :func:`dos2unix_md5`)."""
    return file_md5(path) == md5 or dos2unix_md5(path) == md5


def dos2unix_md5(path: Path | str) -> str | None:
    """DVC 2's "md5-dos2unix" of a text file (its first 512 bytes without NUL and at most 30%
    other than text): the md5 of its bytes with CRLF line ends made LF; None for a file
    DVC 2 took for binary (it hashed its bytes)."""
    with open(path, "rb") as f:
        block = f.read(512)
    if not block or b"\x00" in block or len(block.translate(None, _TEXT)) > 0.3 * len(block):
        return None
    digest = hashlib.md5(usedforsecurity=False)
    carry = b""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            data = carry + chunk
            carry = b"\r" if data.endswith(b"\r") else b""
            digest.update((data[:-1] if carry else data).replace(b"\r\n", b"\n"))
    digest.update(carry)
    return digest.hexdigest()


def file_md5(path: Path | str) -> str:
    """A file's md5, as DVC 3 records it."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _listing(store: _Store, md5: str, scratch: Path) -> list[tuple[str, str]]:
    """``(relative path, md5)`` of the files of the DVC folder ``md5`` (its ``.dir``
    object, read through ``scratch``), each path checked to stay inside the folder."""
    store.get(md5, scratch)
    try:
        entries = json.loads(scratch.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptObjectError(f"DVC folder listing {md5} is not JSON: {exc}") from None
    finally:
        scratch.unlink(missing_ok=True)
    files = []
    for e in entries if isinstance(entries, list) else []:
        path = str(e.get("relpath", "")) if isinstance(e, dict) else ""
        try:
            sound = path == normalize_rel(path) and all(is_valid_name(p)
                                                       for p in path.split("/"))
        except MlvcError:
            sound = False
        if not sound:
            raise CorruptObjectError(f"DVC folder listing {md5} names '{path}': not a path "
                                     "inside the folder (nothing written)")
        files.append((path, str(e.get("md5"))))
    return files


def dvc_outputs(root: Path) -> list[tuple[str, str, str, int | None, int | None]]:
    """Every output of the DVC project at ``root``: ``(pointer file or dvc.lock, path, md5,
    size, nfiles)``, sorted by path."""
    import yaml

    found: dict[str, tuple[str, str, str, int | None, int | None]] = {}
    names = subprocess.run(["git", "ls-files", "-z", "--", "*.dvc"], cwd=root,
                           capture_output=True, text=True, check=False).stdout.split("\0")
    for name in filter(None, names):
        try:
            doc = yaml.safe_load((root / name).read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError, OSError):
            continue
        for out in (doc.get("outs") or []) if isinstance(doc, dict) else []:
            try:
                path = normalize_rel(posixpath.join(posixpath.dirname(name), str(out["path"])))
                found[path] = (name, path, str(out["md5"]), out.get("size"), out.get("nfiles"))
            except (MlvcError, KeyError, TypeError, AttributeError):
                continue
    locks = subprocess.run(["git", "ls-files", "-z", "--", "dvc.lock", "*/dvc.lock"],
                           cwd=root, capture_output=True, text=True, check=False
                           ).stdout.split("\0")
    for lock in filter(None, locks):  # (the top's, and those of dvc.yaml files below it)
        folder = posixpath.dirname(lock)
        wdirs = _wdirs(root / folder / "dvc.yaml")
        try:
            stages = (yaml.safe_load((root / lock).read_text(encoding="utf-8")) or {}
                      ).get("stages")
        except (yaml.YAMLError, UnicodeDecodeError, AttributeError, OSError):
            stages = None
        for name, entry in stages.items() if isinstance(stages, dict) else ():
            wdir = posixpath.join(folder, wdirs.get(str(name).split("@", 1)[0], "."))
            for out in ((entry or {}).get("outs") or []) if isinstance(entry, dict) else []:
                try:  # (a lock's paths are from its stage's wdir)
                    path = normalize_rel(posixpath.join(wdir, str(out["path"])))
                    found.setdefault(path, (lock, path, str(out["md5"]),
                                            out.get("size"), out.get("nfiles")))
                except (MlvcError, KeyError, TypeError, AttributeError):
                    continue
    return [found[p] for p in sorted(found)]


def dvc_artifacts(root: Path) -> list[ArtifactDef]:
    """The artifacts the ``dvc.yaml`` files of the DVC project at ``root`` declare (DVC's
    model registry), named as DVC names them: ``NAME`` for the top one's, ``DIR:NAME`` for
    those of ``DIR/dvc.yaml``; each path from the top. One whose name or path does not
    hold (a path leading out of the project) is left out."""
    import yaml

    from mlvc.pipeline.loader import ARTIFACT_NAME
    from mlvc.pipeline.model import ArtifactDef

    found = []
    names = subprocess.run(["git", "ls-files", "-z", "--", "dvc.yaml", "*/dvc.yaml"],
                           cwd=root, capture_output=True, text=True, check=False
                           ).stdout.split("\0")
    for name in sorted(filter(None, names)):
        folder = posixpath.dirname(name)
        try:
            doc = yaml.safe_load((root / name).read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError, OSError):
            continue
        declared = doc.get("artifacts") if isinstance(doc, dict) else None
        for art, body in declared.items() if isinstance(declared, dict) else ():
            if not isinstance(art, str) or not ARTIFACT_NAME.fullmatch(art) or \
                    not isinstance(body, dict) or not isinstance(body.get("path"), str):
                continue
            try:
                path = normalize_rel(posixpath.join(folder, body["path"]))
            except MlvcError:
                continue
            labels = body.get("labels") if isinstance(body.get("labels"), list) else []
            found.append(ArtifactDef(
                f"{folder}:{art}" if folder else art, path,
                *(str(body[k]) if body.get(k) is not None else None for k in ("type", "desc")),
                tuple(str(t) for t in labels)))
    return found


def _wdirs(pipeline: Path) -> dict[str, str]:
    """The ``wdir`` of each stage of a ``dvc.yaml`` that has one (a foreach's in its ``do``)."""
    import yaml

    try:
        stages = (yaml.safe_load(pipeline.read_text(encoding="utf-8")) or {}).get("stages")
    except (yaml.YAMLError, UnicodeDecodeError, AttributeError, OSError):
        return {}
    wdirs = {}
    for name, stage in (stages or {}).items() if isinstance(stages, dict) else ():
        body = stage.get("do", stage) if isinstance(stage, dict) else None
        if isinstance(body, dict) and isinstance(body.get("wdir"), str):
            wdirs[str(name)] = body["wdir"]
    return wdirs


def dvc_folder_files(clone: Path, local: Path | None, md5: str, scratch: Path
                     ) -> list[tuple[str, str]]:
    """The files of the DVC folder ``md5`` (see :func:`_listing`), from the project's
    stores."""
    return _listing(_Store(clone, local), md5, scratch)


def fetch_dvc(clone: Path, rel: str, dest: Path, local: Path | None,
              progress: Progress = NULL_PROGRESS) -> bool:
    """Write ``rel`` of the DVC project cloned at ``clone`` (``local``: the repository, when
    it is a folder here) at ``dest``, every file checked against its md5. False when DVC
    does not track ``rel`` there."""
    found = dvc_record(clone, rel)
    if found is None:
        return False
    md5, out = found
    _write(_Store(clone, local), md5, out, rel, dest, progress)
    return True


def fetch_dvc_outputs(clone: Path, outputs: list[tuple[str, str, Path]], local: Path | None,
                      progress: Progress = NULL_PROGRESS) -> None:
    """Each ``(output path, md5, dest)`` of the DVC project cloned at ``clone`` (as
    :func:`dvc_outputs` gives them) written at ``dest``, from one opening of its stores."""
    if not outputs:
        return
    store = _Store(clone, local)
    for out, md5, dest in outputs:
        _write(store, md5, out, out, dest, progress)


def _write(store: _Store, md5: str, out: str, rel: str, dest: Path,
           progress: Progress) -> None:
    """``rel`` (``out`` itself, or a path inside the folder ``out``, recorded as ``md5``)
    written at ``dest`` from ``store``, every file checked against its md5."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not md5.endswith(".dir"):
        if rel != out:
            raise TargetError(f"'{rel}' is inside '{out}', which DVC tracks as one file")
        store.get(md5, dest)
        return
    files = []
    for path, want in _listing(store, md5, dest.parent / f".{dest.name}.dvc-dir"):
        full = f"{out}/{path}"
        if is_within(full, rel):
            files.append((full[len(rel) + 1:] if full != rel else "", want))
    if not files:
        raise TargetError(f"'{rel}' is not in '{out}' as DVC recorded it")
    if files == [("", files[0][1])]:  # (a file inside the folder)
        store.get(files[0][1], dest)
        return
    from mlvc.parallel import threaded

    for folder in sorted({posixpath.dirname(path) for path, _ in files}):
        (dest / folder).mkdir(parents=True, exist_ok=True)
    with progress.phase("Downloading", total=len(files), unit="file") as advance:
        # (8 at a time, as import-url's downloads: each is a request to the remote)
        for _, outcome in threaded(files, lambda f: store.get(f[1], dest / f[0]), 8):
            if isinstance(outcome, BaseException):
                raise outcome
            advance(1)


def dvc_url(clone: Path, rel: str, local: Path | None) -> str | None:
    """The URL of the object of file ``rel`` on the default remote of the DVC project cloned
    at ``clone`` (as ``dvc.api.get_url``; a path for a folder remote), asked whether it is
    there; None when DVC does not track ``rel`` there."""
    found = dvc_record(clone, rel)
    if found is None:
        return None
    md5, out = found
    store = _Store(clone, local)
    if md5.endswith(".dir"):
        if rel == out:
            raise TargetError(f"'{rel}' is a folder DVC tracks: name one of its files",
                              hint=f"`mlvc ls --repo URL {rel}` lists them")
        import tempfile

        with tempfile.TemporaryDirectory(prefix="mlvc-dvc-url-") as tmp:
            inside = dict(_listing(store, md5, Path(tmp) / "listing"))
        md5 = inside.get(rel[len(out) + 1:], "")
        if not md5:
            raise TargetError(f"'{rel}' is not a file of '{out}' as DVC recorded it")
    elif rel != out:
        raise TargetError(f"'{rel}' is inside '{out}', which DVC tracks as one file")
    if store.remote is None:
        raise TargetError("that DVC project has no default remote (.dvc/config)",
                          hint="--remote names one of its remotes")
    fs, root = store.remote
    for layout in (f"files/md5/{md5[:2]}/{md5[2:]}", f"{md5[:2]}/{md5[2:]}"):
        path = f"{root.rstrip('/')}/{layout}"
        if fs.exists(path):  # type: ignore[attr-defined]
            from fsspec.implementations.local import LocalFileSystem

            return path if isinstance(fs, LocalFileSystem) \
                else fs.unstrip_protocol(path)  # type: ignore[attr-defined]
    raise TargetError(f"'{rel}' (md5 {md5}) is not on the DVC project's remote",
                      hint="`dvc push` it in that project")
