"""``mlvc get REPO PATH [--rev R] [-o OUT]``: copy a file or folder out of another mlvc
project, as any revision of it records it, without tracking it here (SPEC 3, as ``dvc get``).

REPO is anything ``git clone`` takes (a URL or a path). It is cloned into a temporary
folder; PATH is then read as REV (default: its default branch) records it: data mlvc
tracks from REPO's own cache when REPO is a folder on this machine (copied and verified),
else from REPO's default remote (downloaded and verified); files git keeps from the clone.
The result is built beside OUT and renamed into place whole; an existing OUT is refused
unless ``force``. Nothing of the clone stays.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import CorruptObjectError, PathError, ScmError, TargetError
from mlvc.objects.store import ObjectStore
from mlvc.ops._remote import fetch_objects
from mlvc.ops.diff import SideView, TreeReader, side_of
from mlvc.ops.ls import entry_at
from mlvc.paths import RelPath, is_within, normalize_rel
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace.compare import flatten
from mlvc.workspace.links import file_mode
from mlvc.workspace.pointer import ITS_DEFAULT, Out, SourceRemote


@dataclass(frozen=True, slots=True)
class GetResult:
    out: str  # where the copy went
    files: int
    nbytes: int
    rev: str | None  # the commit read

    def to_json(self) -> dict:
        return {"out": self.out, "files": self.files, "bytes": self.nbytes, "rev": self.rev}


def get(url: str, path: str, *, rev: str | None = None, out: str | None = None,
        cwd: Path | None = None, force: bool = False, via: SourceRemote = ITS_DEFAULT,
        jobs: int | None = None, progress: Progress = NULL_PROGRESS) -> GetResult:
    try:
        rel = normalize_rel(path)
    except PathError as exc:
        raise TargetError(exc.message, hint=exc.hint) from None
    cwd = cwd or Path.cwd()
    _destination(rel, out, cwd, force)  # (refused before anything is cloned)
    with cloned(url, rev, cwd, via=via, jobs=jobs) as (repo, source, _):
        return get_into(repo, source, rel, out, cwd, force, progress, local_repo(url, cwd))


def _destination(rel: str, out: str | None, cwd: Path, force: bool) -> Path:
    dest = (cwd / (out or os.path.basename(rel))).absolute()
    if os.path.lexists(dest) and not force:
        raise TargetError(f"'{out or os.path.basename(rel)}' exists already",
                          hint="-o names another place; --force replaces it")
    return dest


def get_into(repo: Repo, source: ObjectStore | None, rel: str, out: str | None, cwd: Path,
             force: bool, progress: Progress, local: Path | None = None) -> GetResult:
    """``rel`` of the clone ``repo`` copied to ``out`` (default: its name, in ``cwd``),
    built beside it and renamed into place whole."""
    dest = _destination(rel, out, cwd, force)
    commit = repo.scm.resolve("HEAD") if repo.scm is not None else None
    staged = dest.parent / f".{dest.name}.mlvc-get.{os.getpid()}"
    try:
        files, nbytes = copy_out(repo, rel, staged, source, progress, local)
        if os.path.lexists(dest):  # (--force)
            shutil.rmtree(dest) if dest.is_dir() and not dest.is_symlink() \
                else dest.unlink()
        os.replace(staged, dest)
    finally:
        if os.path.lexists(staged):
            shutil.rmtree(staged) if staged.is_dir() else staged.unlink()
    return GetResult(str(dest), files, nbytes, commit)


@contextmanager
def cloned(url: str, rev: str | None, cwd: Path, cache_dir: Path | None = None,
           via: SourceRemote = ITS_DEFAULT, jobs: int | None = None
           ) -> Iterator[tuple[Repo, ObjectStore | None, str | None]]:
    """The mlvc project git clones from ``url``, checked out at ``rev`` (default: its default
    branch) in a temporary folder: (its Repo, its own cache when ``url`` is a folder on this
    machine, the commit checked out). With ``cache_dir``, the clone's cache is that one (the
    objects it fetches land there once); ``via``: which of its remotes its data comes from,
    and options over that remote's own; ``jobs``: its transfers' threads. Nothing of the
    clone stays."""
    for what, value in (("repository", url), ("revision", rev or "")):
        if value.startswith("-"):  # (git would take it for an option: --upload-pack=…)
            raise TargetError(f"{what} '{value}' starts with '-'",
                              hint="name it another way (./-x for a folder)")
    local = local_repo(url, cwd)
    with tempfile.TemporaryDirectory(prefix="mlvc-get-") as tmp:
        clone = Path(tmp) / "repo"
        _git("clone", "-q", "--no-checkout", "--", str(local or url), str(clone))
        _git("checkout", "-q", rev or "HEAD", "--", cwd=clone)  # (a detached checkout)
        via = _anchored(via, cwd)
        if (clone / ".mlvc").is_dir():
            _choose_remote(clone, url, via)
        else:
            from mlvc.ops.dvc_source import choose_dvc_remote, is_dvc_project

            if not is_dvc_project(clone):
                raise TargetError(f"{url} is neither an mlvc project nor a DVC one (no .mlvc "
                                  "or .dvc folder at its top)",
                                  hint="`git clone` it, or name the project's repository")
            # A DVC project (a data registry kept with DVC): read through mlvc.ops.dvc_source,
            # in a project of the clone's own that tracks nothing.
            choose_dvc_remote(clone, url, via.name, via.config)
            from mlvc.ops.init import init

            init(clone, force=True)
        from mlvc.config import set_value

        for key, value in (("cache.dir", cache_dir), ("core.jobs", jobs)):
            if value is not None:
                set_value(clone / ".mlvc" / "config.local.yaml", "local", key, str(value))
        with Repo.find(clone) as repo:
            commit = repo.scm.resolve("HEAD") if repo.scm is not None else None
            yield repo, _source_cache(local), commit


def _anchored(via: SourceRemote, cwd: Path) -> SourceRemote:
    """``via`` with a ``url`` option naming a folder by a relative path made absolute from
    ``cwd`` (in the clone it would be read from the clone's top)."""
    from mlvc.remote import scheme

    return SourceRemote(via.name, tuple(
        (k, str(Path(cwd, v)) if k == "url" and scheme(v) is None and not os.path.isabs(v)
         else v) for k, v in via.config))


def _choose_remote(clone: Path, url: str, via: SourceRemote) -> None:
    """Have the mlvc project cloned at ``clone`` read its data through ``via``: written in
    the clone's own local config (secrets too: it is gone with the clone)."""
    if via.name is None and not via.config:
        return
    from mlvc.config import Config, ConfigFiles, set_value

    files = ConfigFiles.for_root(clone)
    config = Config.load(files, validate=False)
    name = via.name or config.get("core.remote")
    names = sorted(config.remotes())
    if name is None or name not in names:
        said = "no default remote" if name is None else f"no remote named '{name}'"
        raise TargetError(f"{url} has {said}",
                          hint=f"--remote names one of its remotes: {', '.join(names)}"
                          if names else "that project has no remote: push it somewhere first")
    if via.name is not None:
        set_value(files.local, "local", "core.remote", via.name)
    for key, value in via.config:
        set_value(files.local, "local", f"remotes.{name}.{key}", value)


def config_file_remote(path: Path, via: SourceRemote = ITS_DEFAULT) -> SourceRemote:
    """The remote a config file (DVC's ``--config FILE`` of get, import and list) has REPO
    read through: its ``core.remote`` (unless ``via`` names one) and that remote's options
    under ``via``'s own. The file is mlvc's config (YAML) or DVC's (``[core]``, ``['remote
    "NAME"']`` sections); anything else in it is refused, since only the remote applies to
    another project."""
    from mlvc.config import NAME, as_text
    from mlvc.config import flatten as flat_settings
    from mlvc.ops.dvc_source import dvc_settings
    from mlvc.yamlio import load_yaml

    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetError(f"--config {shown}: cannot be read ({exc})") from None
    if any(line.lstrip().startswith("[") for line in text.splitlines()):  # (DVC's INI)
        flat: dict[str, object] = dict(dvc_settings(text, f"--config {shown}"))
    else:
        doc = load_yaml(path, shown) or {}
        if not isinstance(doc, dict):
            raise TargetError(f"--config {shown}: not a mapping of settings")
        flat = flat_settings(doc)
    others = sorted(k for k in flat if k != "core.remote" and not k.startswith("remotes."))
    if others:
        raise TargetError(f"--config {shown}: {', '.join(others)} cannot apply to another "
                          "project: only core.remote and the remotes' options do")
    name = via.name or (str(flat["core.remote"]) if "core.remote" in flat else None)
    named = sorted({k.split(".")[1] for k in flat if k.startswith("remotes.")})
    if name is None and len(named) == 1:
        name = named[0]
    if name is None and named:
        raise TargetError(f"--config {shown}: options of several remotes ({', '.join(named)}) "
                          "and no core.remote", hint="--remote NAME chooses one")
    if name is not None and not NAME.fullmatch(name):
        raise TargetError(f"--config {shown}: '{name}' is not a remote's name")
    prefix = f"remotes.{name}."
    options = {k[len(prefix):]: as_text(v) for k, v in flat.items() if k.startswith(prefix)}
    bad = sorted(k for k in options if not NAME.fullmatch(k))
    if bad:
        raise TargetError(f"--config {shown}: '{bad[0]}' is not an option's name")
    options.update(via.config)  # (--remote-config over the file)
    return SourceRemote(name, tuple(sorted(options.items())))


def local_repo(url: str, cwd: Path) -> Path | None:
    """The repository ``url`` names, when it is a folder on this machine."""
    return Path(cwd, url) if "://" not in url and Path(cwd, url).is_dir() else None


def fetch_into_clone(repo: Repo, items: list[tuple[str, int | None]],
                     source: ObjectStore | None, rel: str, progress: Progress) -> None:
    """The objects ``items`` in the clone's cache: from REPO's cache when it has them whole,
    else all at once from REPO's remote."""
    wanted = [(oid, size) for oid, size in items if not repo.cache.exists(oid)]
    if source is not None:
        for oid, _ in wanted:
            if source.exists(oid):
                try:
                    repo.cache.add_file_copy(source.path_str(oid), expected=oid)
                except CorruptObjectError:
                    pass  # (bad there: the remote may have it whole)
    fetch_objects(repo, [(o, n) for o, n in wanted if not repo.cache.exists(o)], rel,
                  progress=progress)


def _git(*args: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        why = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
        raise ScmError(f"git {args[0]} failed: {why}",
                       hint="check the repository's url or path, and the revision")


def _source_cache(local: Path | None) -> ObjectStore | None:
    """REPO's own cache, when REPO is a folder on this machine with one (read only)."""
    if local is None:
        return None
    cache = local / ".mlvc" / "cache"
    return ObjectStore(cache) if (cache / "objects").is_dir() else None


def copy_out(repo: Repo, rel: str, staged: Path, source: ObjectStore | None,
             progress: Progress, local: Path | None = None) -> tuple[int, int]:
    """Write ``rel`` of the clone (its checked-out revision) at ``staged``: (files, bytes).
    A folder git keeps comes with the data tracked inside it (by mlvc, or by DVC in a DVC
    project), as ``dvc get`` of such a folder brings both. ``local``: the repository, when
    it is a folder here (a DVC project's cache is there)."""
    view = SideView(repo, side_of(repo, None))
    held = view.holding(rel)
    if held is not None:
        return _write_tracked(repo, [(rel, held[1], staged)], source, rel, progress)
    # a file or folder git keeps, or DVC tracks
    there = repo.root / rel
    from mlvc.ops.dvc_source import dvc_outputs, fetch_dvc, fetch_dvc_outputs, is_dvc_project

    dvc = is_dvc_project(repo.root)
    if not os.path.lexists(there) and dvc and fetch_dvc(repo.root, rel, staged, local,
                                                        progress):
        return _counted(staged)
    if not os.path.lexists(there):
        raise TargetError(f"'{rel}' is neither tracked by mlvc nor in git there",
                          hint="`mlvc ls` in that project lists what mlvc tracks")
    if not there.is_dir():
        shutil.copy2(there, staged)
        return 1, staged.stat().st_size
    top = os.path.realpath(repo.root)  # (git's and mlvc's own folders stay behind)
    shutil.copytree(there, staged, symlinks=True, ignore=lambda d, names: [
        n for n in names if n in (".git", ".mlvc") and os.path.realpath(d) == top])

    def inside(path: RelPath) -> Path:
        return staged / path[len(rel) + 1:] if rel else staged / path

    # (the data tracked inside it: mlvc's in one transfer, DVC's from one opening)
    _write_tracked(repo, [(p, view.outputs[p][1], inside(p)) for p in sorted(view.outputs)
                          if is_within(p, rel) and p != rel], source, rel, progress)
    if dvc:
        fetch_dvc_outputs(repo.root, [(p, md5, inside(p)) for _, p, md5, _, _
                                      in dvc_outputs(repo.root)
                                      if is_within(p, rel) and p != rel], local, progress)
    return _counted(staged)


def _write_tracked(repo: Repo, outputs: list[tuple[RelPath, Out, Path]],
                   source: ObjectStore | None, what: str, progress: Progress
                   ) -> tuple[int, int]:
    """Each ``(path, recorded output holding it, dest)`` written at ``dest`` from the
    clone's cache, the objects it lacks fetched first, all at once: (files, bytes)."""
    trees = TreeReader(repo, fetch=lambda oid: fetch_into_clone(repo, [(oid, None)], source,
                                                                what, progress))
    files: list[tuple[Path, str, int, bool]] = []  # (dest, oid, size, exec)
    folders: set[Path] = set()
    for path, out, dest in outputs:
        entry = entry_at(trees, out, path)
        if entry.type != "dir":
            files.append((dest, entry.oid, entry.size, entry.exec))
            folders.add(dest.parent)
            continue
        rec = flatten(trees, Out(path, entry.oid, "dir", entry.size, entry.nfiles))
        cut = len(path) + 1
        folders |= {dest / folder[cut:] for folder in rec.dirs}  # (empty ones too)
        files += [(dest / p[cut:], w.oid, w.size, w.exec) for p, w in rec.files.items()]
    fetch_into_clone(repo, [(oid, size) for _, oid, size, _ in files], source, what, progress)
    for folder in sorted(folders):
        folder.mkdir(parents=True, exist_ok=True)
    with progress.phase("Copying", total=len(files)) as advance:
        for dest, oid, _, exec_ in files:
            shutil.copyfile(repo.cache.path_str(oid), dest)
            os.chmod(dest, file_mode(exec_))
            advance(1)
    return len(files), sum(size for _, _, size, _ in files)


def _counted(staged: Path) -> tuple[int, int]:
    """(files, bytes) written at ``staged``."""
    files = [p for p in staged.rglob("*") if p.is_file()] if staged.is_dir() else [staged]
    return len(files), sum(p.stat().st_size for p in files)
