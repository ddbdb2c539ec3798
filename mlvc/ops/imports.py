"""``mlvc import REPO PATH`` and ``mlvc update``: data of another mlvc project, tracked here
with where it came from (as ``dvc import`` / ``dvc update``; a data registry's use).

``import`` reads PATH as REV of REPO records it (as :mod:`mlvc.ops.get` does: REPO is cloned
into a temporary folder; its objects come from its own cache when it is a folder here, else
from its default remote, each verified; files git keeps there are hashed from the clone),
stores those objects in this cache, and writes
``OUT.mlvc`` — an ordinary pointer file with an ``import`` section (REPO, PATH, REV as asked,
and ``rev_lock``, the commit read) — then checks OUT out. From then on OUT is tracked data
like any other: ``status``, ``checkout``, ``push`` (to this project's remote) and ``pull``.
``update`` reads the source again (at its recorded REV, or a new ``--rev``) and, when it
moved, records and checks out the new version (changes of yours in OUT are kept, as
``checkout`` keeps them, unless ``force``).
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass, field
from pathlib import Path

from mlvc.errors import MlvcError, PathError, TargetError
from mlvc.objects.store import ObjectStore
from mlvc.objects.tree import Tree, TreeEntry
from mlvc.ops import GitChange, record_in_git, user_paths
from mlvc.ops.add import check_pointers_kept
from mlvc.ops.checkout import CheckoutResult, checkout_selected
from mlvc.ops.diff import SideView, TreeReader, side_of
from mlvc.ops.get import cloned, fetch_into_clone
from mlvc.ops.ls import entry_at
from mlvc.paths import (
    RelPath,
    from_user,
    has_reserved_part,
    is_within,
    normalize_rel,
    overlaps,
    real_inside,
    to_fs,
)
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.remote import scheme
from mlvc.repo import Repo
from mlvc.workspace import gitignore
from mlvc.workspace.compare import flatten
from mlvc.workspace.index import Index
from mlvc.workspace.pointer import (
    ITS_DEFAULT,
    POINTER_SUFFIX,
    DbSource,
    ImportSource,
    Out,
    Pointer,
    Source,
    SourceRemote,
    UrlSource,
    check_pointer_name,
    pointer_path_for,
    write_pointer,
)
from mlvc.workspace.state import StatKey


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What ``import``, ``import-url`` or ``update`` did to one imported output."""

    pointer: RelPath
    out: Out | None  # (None: recorded without its data, pending: see Pointer.pending)
    source: Source
    changed: bool  # a new version was recorded (always, for `import`)
    checkout: CheckoutResult | None = None  # (placed by checkout: repository imports)
    git_files: tuple[RelPath, ...] = ()
    staged: bool = False

    @property
    def path(self) -> RelPath:
        return self.pointer[:-len(POINTER_SUFFIX)]

    def to_json(self) -> dict:
        out = self.out
        return {"pointer": self.pointer, "path": self.path,
                **({"oid": out.oid, "type": out.type, "size": out.size, "files": out.nfiles}
                   if out is not None else {"oid": None, "pending": True}),
                "source": self.source.to_json(), "changed": self.changed,
                "kept": [] if self.checkout is None else list(self.checkout.conflicts),
                "git_files": list(self.git_files), "staged": self.staged}


def import_(repo: Repo, url: str, path: str, *, out: str | None = None,
            rev: str | None = None, force: bool = False, cwd: Path | None = None,
            download: bool = True, execute: bool = True, via: SourceRemote = ITS_DEFAULT,
            jobs: int | None = None, progress: Progress = NULL_PROGRESS) -> ImportResult:
    """Track PATH of the mlvc project at ``url`` (at ``rev``) here, at ``out`` (default:
    PATH's name in the current folder). Without ``download`` (as ``dvc import
    --no-download``) only what the source records is written (the pointer file, and the
    folders' manifests read on the way): ``pull`` gets the data later, from the source;
    where the data's oids are known only by hashing it (a DVC project, a folder git keeps
    there), the output is pending (the commit recorded, no oid). Without ``execute``
    (``--no-exec``) the source is not read at all: pending, with no commit; ``pull`` or
    ``update`` reads it.
    ``via``: which of its remotes, with which options (recorded: never a secret)."""
    if via.secret is not None:
        raise TargetError(f"--remote-config {via.secret}=… is a secret, and the pointer file "
                          "that records an import's remote options is kept in git",
                          hint="give credentials through the environment (AWS_ACCESS_KEY_ID, "
                               "…) or a credentials file (--remote-config profile=NAME); "
                               "`mlvc get` takes secrets, as it records nothing")
    try:
        rel = normalize_rel(path)
    except PathError as exc:
        raise TargetError(exc.message, hint=exc.hint) from None
    if not rel:
        raise TargetError("name a file or folder of that project, not its top folder")
    cwd = cwd or Path.cwd()
    dest = from_user(repo.root, out or posixpath.basename(rel), cwd)
    pointer = pointer_path_for(dest)
    check_destination(repo, dest, pointer, force)
    recorded_url = recorded_location(repo, url, cwd)
    # (a folder named by its url option: recorded relative to the project, as REPO is)
    via = SourceRemote(via.name, tuple((k, recorded_location(repo, v, cwd) if k == "url"
                                        else v) for k, v in via.config))
    if not execute:
        return record_pending(repo, Pointer(pointer, (), ImportSource(
            recorded_url, rel, rev, None, via), dest), changed=True, force=force)
    try:
        new, source, _ = _read_source(repo, recorded_url, rel, rev, dest, progress,
                                      download=download, via=via, jobs=jobs)
    except OnlyByDownloading as exc:
        return record_pending(repo, Pointer(pointer, (), exc.source, dest), changed=True,
                              force=force)
    return record_import(repo, Pointer(pointer, (new,), source), changed=True, force=force,
                         progress=progress, checkout=download)


class OnlyByDownloading(TargetError):
    """What an import's source holds is known only by downloading and hashing it (not with
    ``--no-download``): the import is recorded pending, at ``source``'s commit."""

    def __init__(self, message: str, source: ImportSource) -> None:
        super().__init__(message)
        self.source = source


def update(repo: Repo, targets: list[str] | None = None, *, rev: str | None = None,
           force: bool = False, cwd: Path | None = None, download: bool = True,
           to_remote: bool = False, remote: str | None = None, jobs: int | None = None,
           recursive: bool = False, progress: Progress = NULL_PROGRESS) -> list[ImportResult]:
    """Bring each imported output (of ``targets``: pointer files or outputs, or with
    ``recursive`` folders, for the imports within them; default: all)
    up to its source's latest commit at its revision (or at ``rev``, recorded from then on);
    an output imported from a URL, to what the URL holds now (see :mod:`.import_url`).
    Without ``download``, only the new record is written (see :func:`import_`).
    ``to_remote`` (URL imports alone): what the URL holds now goes to ``remote``, not here
    (see :func:`.import_url.update_url`)."""
    index = Index.load(repo.root, repo.ignore, stages=False)
    imported = [p for p in index.pointers.values() if p.source is not None]
    if targets:
        wanted = []
        for t, path in zip(targets, user_paths(repo, targets, cwd)[0]):
            hits = [p for p in imported if path in (p.path, p.imported_path) or recursive
                    and is_within(p.path, path)]
            if not hits and not recursive and any(is_within(p.path, path) for p in imported):
                raise TargetError(f"'{t}' is a folder of imported outputs, not one",
                                  hint=f"`mlvc update -R {t}` updates those within it")
            if not hits:
                raise TargetError(f"'{t}' is not an imported output"
                                  + (" and holds none" if recursive else ""),
                                  hint="`mlvc import REPO PATH` imports one")
            wanted += hits
        imported = list({p.path: p for p in wanted}.values())
    if to_remote and not all(isinstance(p.source, UrlSource) for p in imported):
        other = next(p for p in imported if not isinstance(p.source, UrlSource))
        kind = "a database" if isinstance(other.source, DbSource) else "a repository"
        raise TargetError(f"'{other.imported_path}' comes from {kind}: --to-remote "
                          "updates imports from URLs",
                          hint="name the URL imports as TARGETS, or use --no-download "
                               "for a repository's (`mlvc pull` then gets it from there)")
    results: list[ImportResult] = []
    for pointer in imported:
        src = pointer.source
        if isinstance(src, DbSource):
            if not download:
                raise TargetError(f"'{pointer.imported_path}' is a database's snapshot: what "
                                  "it holds now is known only by taking it again",
                                  hint="update it without --no-download")
            from mlvc.ops.import_db import update_db

            results.append(update_db(repo, pointer, force=force, progress=progress))
            continue
        if isinstance(src, UrlSource):
            from mlvc.ops.import_url import update_url

            results.append(update_url(repo, pointer, force=force, to_remote=to_remote,
                                      remote_name=remote, jobs=jobs, download=download,
                                      progress=progress))
            continue
        assert src is not None
        asked = rev if rev is not None else src.rev
        out = pointer.outs[0] if pointer.outs else None
        path = pointer.imported_path
        try:  # (a pending one is read even at the same commit, when downloading)
            new, source, _ = _read_source(
                repo, src.url, src.path, asked, path, progress,
                since=src.rev_lock if out is not None or not download else None,
                download=download, via=src.via, jobs=jobs)
        except OnlyByDownloading as exc:
            results.append(record_pending(repo, Pointer(pointer.path, (), exc.source, path),
                                          changed=exc.source != src, force=True))
            continue
        if new is None:  # (the same commit: nothing to read again)
            placed = _checkout(repo, path, force=True, progress=progress) \
                if force and download and out is not None else None  # (--force: as the
            results.append(ImportResult(pointer.path, out, src, False, placed))  # source has it)
            continue
        changed = new != out or source != src
        results.append(record_import(repo, Pointer(pointer.path, (new,), source),
                                     changed=changed, force=force, progress=progress,
                                     checkout=download))
    return results


def complete_pending(repo: Repo, pointer: Pointer, *, jobs: int | None = None,
                     progress: Progress = NULL_PROGRESS) -> Pointer:
    """The pending import ``pointer`` (see :attr:`Pointer.pending`) read from its source as
    it records it — the commit read, the URL's fingerprint (which must still hold) — or,
    when nothing was read (``--no-exec``), as the source is now; its objects stored in this
    cache. The pointer recording them, not written (``fetch`` writes it)."""
    from mlvc.ops.import_url import read_url

    src, path = pointer.source, pointer.imported_path
    if isinstance(src, DbSource):  # (nothing was recorded of it: a snapshot taken now)
        from mlvc.ops.import_db import snapshot_stored

        return Pointer(pointer.path, (snapshot_stored(repo, src, path, progress),), src)
    if isinstance(src, UrlSource):
        new, now, _, _ = read_url(repo, src, path, pinned=True, progress=progress)
        return Pointer(pointer.path, (new,), now)
    assert src is not None
    got, source, _ = _read_source(repo, src.url, src.path, src.rev_lock or src.rev, path,
                                  progress, via=src.via, jobs=jobs)
    assert got is not None
    return Pointer(pointer.path, (got,), ImportSource(src.url, src.path, src.rev,
                                                      source.rev_lock, src.via))


# -- steps ----------------------------------------------------------------------------------

def check_destination(repo: Repo, dest: RelPath, pointer: RelPath, force: bool) -> None:
    if not dest:
        raise TargetError("cannot import into the whole project folder",
                          hint="-o names a file or folder inside it")
    if dest.endswith(POINTER_SUFFIX):
        raise TargetError(f"'{dest}' would be named like a pointer file",
                          hint="-o names another place")
    check_pointer_name(dest)
    if not force:
        for what in (dest, pointer):
            if os.path.lexists(to_fs(repo.root, what)):
                raise TargetError(f"'{what}' exists already",
                                  hint="-o names another place; --force replaces it")
    gitignore.check_writable(repo.root, dest)
    if repo.ignore.is_ignored(dest):
        raise TargetError(f"'{dest}' is ignored by .mlvcignore",
                          hint="-o names another place")
    index = Index.load(repo.root, repo.ignore)
    for d in index.declared:
        if overlaps(dest, d.path):
            raise TargetError(f"'{dest}' overlaps '{d.path}', an output of stage '{d.stage}'")
    for t in index.tracked():
        if t.pointer != pointer and overlaps(dest, t.out.path):
            raise TargetError(f"'{dest}' overlaps '{t.out.path}', which {t.pointer} tracks")
    for p in index.pending([dest]):
        if p.path != pointer:
            raise TargetError(f"'{dest}' overlaps '{p.imported_path}', which {p.path} records "
                              "(an import not downloaded yet)")
    if repo.scm is not None:
        if repo.scm.tracked([dest]):
            raise TargetError(f"'{dest}' is tracked by git", hint="-o names another place")
        check_pointers_kept(repo, [pointer], None)


def recorded_location(repo: Repo, url: str, cwd: Path) -> str:
    """``url`` as a pointer file records it: a path on this machine relative to the project
    (so that clones of both side by side work anywhere), any other URL as given."""
    if scheme(url) is not None or not os.path.lexists(Path(cwd, url)):
        return url
    return Path(os.path.relpath(Path(cwd, url).resolve(), repo.root.resolve())).as_posix()


def _read_source(repo: Repo, url: str, rel: str, rev: str | None, dest: RelPath,
                 progress: Progress, since: str | None = None, download: bool = True,
                 via: SourceRemote = ITS_DEFAULT, jobs: int | None = None
                 ) -> tuple[Out | None, ImportSource, tuple[int, int]]:
    """The output ``dest`` as ``rel`` of ``url`` at ``rev`` records it, its objects stored
    in this cache (how many were new; without ``download``, only the folders' manifests on
    the way to ``rel``), read through ``via``; (None, …) when that is still commit
    ``since``."""
    # (the clone's cache is this one: what it fetches, verified, is stored here once)
    with cloned(where(repo, url), rev, repo.root, repo.cache_dir, via, jobs or repo.jobs) as (
            src_repo, src_cache, commit):
        if commit is None:
            raise TargetError(f"{url} has no git commit to import from")
        source = ImportSource(url, rel, rev, commit, via)
        if since is not None and commit == since:
            return None, source, (0, 0)
        held = SideView(src_repo, side_of(src_repo, None)).holding(rel)
        if held is None and not os.path.lexists(to_fs(src_repo.root, rel)):
            dvc = _from_dvc(repo, src_repo.root, rel, url, dest, download, progress, source)
            if dvc is not None:  # (a DVC project: its data, checked by md5, hashed here)
                return dvc, source, (dvc.nfiles, dvc.size)
        if held is None:  # (a file or folder git keeps there: hashed into this cache)
            there = to_fs(src_repo.root, rel)
            if has_reserved_part(rel) or (os.path.lexists(there) and not real_inside(
                    os.path.realpath(there), (os.path.realpath(src_repo.root),))):
                raise TargetError(f"'{rel}' of {url} leads out of that project (a symbolic "
                                  "link) or into its .git or .mlvc folder: not imported")
            if not os.path.lexists(there) and Index.load(
                    src_repo.root, src_repo.ignore, stages=False).pending([rel]):
                raise TargetError(f"'{rel}' is an import recorded without its data in {url}"
                                  + (f" at {rev}" if rev else "") + ": it records no oid",
                                  hint="`mlvc pull` it there, commit its pointer file and "
                                       "push it, then import it; or import from its own "
                                       "source")
            if not os.path.lexists(there):
                raise TargetError(f"'{rel}' is neither tracked by mlvc nor in git in {url}"
                                  + (f" at {rev}" if rev else ""),
                                  hint="`mlvc ls` there lists what mlvc tracks")
            if not _holds_data(src_repo, rel):
                stored = store_tree(repo.cache, there, progress=progress)
                return stored.out(dest), source, (stored.objects, stored.size)
            if not download:
                raise OnlyByDownloading(f"'{rel}' of {url} is a folder git keeps with "
                                        "tracked data inside", source)
            from mlvc.ops.get import copy_out, local_repo

            # (a folder git keeps, with the data tracked inside it, as `get` copies it)
            stored = _landed(repo, lambda landed: copy_out(
                src_repo, rel, landed, src_cache, progress,
                local_repo(where(repo, url), repo.root)), progress)
            return stored.out(dest), source, (stored.objects, stored.size)
        trees = TreeReader(src_repo, fetch=lambda oid: fetch_into_clone(
            src_repo, [(oid, None)], src_cache, rel, progress))
        entry = entry_at(trees, held[1], rel)
        if not download:
            return (Out(dest, entry.oid, entry.type, entry.size,
                        entry.nfiles if entry.type == "dir" else 1, entry.exec), source, (0, 0))
        if entry.type == "dir":
            rec = flatten(trees, Out(rel, entry.oid, "dir", entry.size, entry.nfiles))
            files = [(w.oid, w.size) for w in rec.files.values()]
        else:
            files = [(entry.oid, entry.size)]
        new = {o: n for o, n in files if not repo.cache.exists(o)}
        fetch_into_clone(src_repo, files, src_cache, rel, progress)
        stored = (len(new), sum(n or 0 for n in new.values()))
    out = Out(dest, entry.oid, entry.type, entry.size,
              entry.nfiles if entry.type == "dir" else 1, entry.exec)
    return out, source, stored


def _holds_data(src: Repo, rel: RelPath) -> bool:
    """Whether the folder ``rel`` git keeps in the clone ``src`` has data tracked inside it
    (by mlvc, or by DVC in a DVC project)."""
    from mlvc.ops.dvc_source import dvc_outputs, is_dvc_project

    inside = [p for p in SideView(src, side_of(src, None)).outputs if is_within(p, rel)]
    return bool(inside) or is_dvc_project(src.root) and any(
        is_within(o[1], rel) for o in dvc_outputs(src.root))


def _from_dvc(repo: Repo, clone: Path, rel: str, url: str, dest: RelPath, download: bool,
              progress: Progress, source: ImportSource) -> Out | None:
    """``rel`` of the DVC project cloned at ``clone``, stored in this cache as mlvc records
    it (see :mod:`mlvc.ops.dvc_source`); None when DVC does not track it there. Its mlvc
    hashes are known only from its bytes: without ``download``, OnlyByDownloading (the
    import is recorded pending, at ``source``'s commit)."""
    from mlvc.ops.dvc_source import dvc_record, fetch_dvc, is_dvc_project
    from mlvc.ops.get import local_repo

    if not is_dvc_project(clone) or dvc_record(clone, rel) is None:
        return None
    if not download:
        raise OnlyByDownloading(f"{url} is a DVC project", source)
    return _landed(repo, lambda landed: fetch_dvc(
        clone, rel, landed, local_repo(where(repo, url), repo.root), progress),
        progress).out(dest)


def _landed(repo: Repo, write, progress: Progress):
    """What ``write(path)`` writes at a path in this project's scratch folder, stored in
    this cache (see :func:`store_tree`), the scratch copy deleted."""
    import tempfile

    repo.tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="import-", dir=repo.tmp_dir) as tmp:
        landed = Path(tmp) / "data"
        write(landed)
        return store_tree(repo.cache, landed, progress=progress)


@dataclass(frozen=True, slots=True)
class SourceCheck:
    """Whether the source of an imported output moved since it was read (``status``)."""

    pointer: RelPath
    path: RelPath
    url: str
    moved: bool  # `mlvc update` would record a new version
    error: str | None = None  # the source could not be asked (moved is then False)

    def to_json(self) -> dict:
        return {"pointer": self.pointer, "path": self.path, "url": self.url,
                "update_available": self.moved, "error": self.error}


def check_sources(repo: Repo, pointers: list[Pointer], jobs: int = 8
                  ) -> tuple[SourceCheck, ...]:
    """Ask each imported output's source whether it moved since it was read, as ``dvc
    status`` does, a few at a time: a repository's revision by ``git ls-remote`` (no clone;
    a revision naming a commit, or one relative to another, cannot move and is not asked),
    a URL's fingerprint as ``update`` takes it. A source that cannot be asked (offline, no
    credentials) is said in ``error``."""
    from mlvc.parallel import threaded

    def ask(pointer: Pointer) -> bool:
        src = pointer.source
        if isinstance(src, UrlSource):
            from mlvc.ops.import_url import open_url

            return open_url(src.url, repo.root, repo,
                            fs_config=src.fs_config).fingerprint != src.fingerprint
        assert src is not None
        latest = latest_commit(where(repo, src.url), src.rev)
        return latest is not None and latest != src.rev_lock

    checks = []
    # (a database cannot say whether a query's rows changed without running it: not asked)
    pointers = [p for p in pointers if p.source is not None and p.source.read
                and not isinstance(p.source, DbSource)]
    for pointer, outcome in threaded(pointers, ask, jobs):
        assert pointer.source is not None
        if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
            raise outcome
        moved, error = (False, _why(outcome)) if isinstance(outcome, Exception) else \
            (bool(outcome), None)
        checks.append(SourceCheck(pointer.path, pointer.imported_path, pointer.source.url,
                                  moved, error))
    return tuple(sorted(checks, key=lambda c: c.pointer))


def _why(exc: Exception) -> str:
    return exc.message if isinstance(exc, MlvcError) else f"{type(exc).__name__}: {exc}"


def where(repo: Repo, url: str) -> str:
    """What git is given for an import's recorded ``url``: a folder (recorded relative to
    the project) as its path, anything else as it is."""
    return url if scheme(url) is not None or not Path(repo.root, url).is_dir() else \
        str(Path(repo.root, url))


def ls_remote(url: str, patterns: tuple[str, ...] = (), *, tags: bool = False,
              timeout: float = 60.0) -> list[tuple[str, str]]:
    """``(sha, ref)`` of what ``git ls-remote [--tags] URL [PATTERNS]`` lists (never waiting
    for a password; a repository that does not answer within ``timeout`` is an error)."""
    import subprocess

    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # (never wait for a password)
    flags = ["--tags"] if tags else []
    try:
        proc = subprocess.run(["git", "ls-remote", *flags, "--", url, *patterns],
                              capture_output=True, text=True, env=env, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        raise TargetError(f"{url} did not answer within {timeout:.0f} s") from None
    if proc.returncode != 0:
        why = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
        raise TargetError(f"git ls-remote {url} failed: {why}")
    return [(sha, ref) for sha, _, ref in (line.partition("\t")
                                           for line in proc.stdout.splitlines())]


def latest_commit(url: str, rev: str | None, timeout: float = 60.0) -> str | None:
    """The commit that ``rev`` (default: the default branch) of the git repository at
    ``url`` names now, as a clone's checkout of it would find it: a branch before a tag.
    None when ``rev`` names no branch or tag (a commit: it cannot move)."""
    if url.startswith("-") or (rev or "").startswith("-"):
        raise TargetError(f"'{url if url.startswith('-') else rev}' starts with '-'")
    wanted = [rev, f"{rev}^{{}}"] if rev else ["HEAD"]  # (an annotated tag's commit too)
    refs = {ref: sha for sha, ref in ls_remote(url, tuple(wanted), timeout=timeout)}
    if rev is None:
        return refs.get("HEAD")
    for ref in (f"refs/heads/{rev}", f"refs/tags/{rev}^{{}}", f"refs/tags/{rev}", rev):
        if ref in refs:
            return refs[ref]
    return None


def fetch_imported(repo: Repo, pointer: RelPath, out: Out, source: ImportSource,
                   progress: Progress = NULL_PROGRESS, jobs: int | None = None
                   ) -> tuple[int, int]:
    """Store in this cache the objects of the imported ``out`` from its source, at the
    commit recorded (``fetch`` of an import, as ``dvc fetch`` does); how many were new, and
    their bytes."""
    got, _, stored = _read_source(repo, source.url, source.path, source.rev_lock, out.path,
                                  progress, via=source.via, jobs=jobs)
    if got is None or got.oid != out.oid:
        raise TargetError(f"{pointer}: {source.path} of {source.url} at "
                          f"{source.rev_lock[:8]} is not what {pointer} records",
                          hint="`mlvc update` records the source's data again")
    return stored


def complete(repo: Repo, out: Out) -> bool:
    """Whether this cache holds every object of ``out`` (its manifests and files)."""
    if out.type == "file":
        return repo.cache.exists(out.oid)
    try:
        rec = flatten(TreeReader(repo), out)
    except MlvcError:
        return False
    return all(repo.cache.exists(w.oid) for w in rec.files.values())


@dataclass(frozen=True, slots=True)
class StoredTree:
    """A file or folder outside the workspace, as ``add`` would record it."""

    oid: str
    type: str  # "file" | "dir"
    size: int
    nfiles: int
    executable: bool
    objects: int  # objects stored in the cache: files (unless only hashed) and manifests
    files: tuple[tuple[str, str, int], ...]  # (oid, path, size) of each file
    # the stat key of each file's path when it was hashed: unchanged since, its bytes are
    # still those of its oid
    stats: dict[str, StatKey] = field(default_factory=dict)
    trees: tuple[str, ...] = ()  # the folders' manifests, deepest first (a parent after all
    #                              its sub-folders)

    def out(self, path: RelPath) -> Out:
        return Out(path, self.oid, self.type, self.size, self.nfiles, self.executable)


def store_tree(cache: ObjectStore, path: Path, *, copy: bool = True, jobs: int = 8,
               progress: Progress = NULL_PROGRESS) -> StoredTree:
    """``path`` (a file or folder outside the workspace: a download, a clone's files, data
    added with ``add -o``) hashed into ``cache`` as ``add`` would record it, its files
    copied a few at a time (``copy``: else only hashed, and only the folders' manifests
    stored). A symlink anywhere is refused: what it leads to is not the source's to give."""
    from mlvc.objects.oid import hash_file
    from mlvc.parallel import threaded

    def refuse(at: Path) -> None:
        raise TargetError(f"'{at.name}' is a symbolic link in the source: not taken",
                          hint="name the file or folder it leads to")

    if path.is_symlink():
        refuse(path)
    from mlvc.workspace.state import stat_key as key

    # (relative path, path, executable, its stat key before it is read)
    found: list[tuple[str, Path, bool, StatKey]] = []
    folders: list[str] = [""]
    if path.is_dir():
        stack = [("", path)]
        while stack:
            rel, folder = stack.pop()
            for entry in os.scandir(folder):
                sub = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_symlink():
                    refuse(Path(entry.path))
                if entry.is_dir(follow_symlinks=False):
                    folders.append(sub)
                    stack.append((sub, Path(entry.path)))
                else:
                    st = entry.stat(follow_symlinks=False)
                    found.append((sub, Path(entry.path), bool(st.st_mode & stat.S_IXUSR),
                                  key(st)))
    else:
        st = path.stat()
        found.append(("", path, bool(st.st_mode & stat.S_IXUSR), key(st)))
    oids: dict[str, tuple[str, int]] = {}
    store = cache.add_file_copy if copy else hash_file
    with progress.phase("Storing" if copy else "Hashing", total=len(found),
                        unit="file") as advance:
        for (rel, fs, _, was), outcome in threaded(found, lambda f: store(f[1]), jobs):
            if isinstance(outcome, BaseException):
                raise outcome
            if key(fs.stat()) != was:  # (its oid may be of bytes it no longer holds)
                raise TargetError(f"'{fs}' changed while it was read",
                                  hint="run again once nothing writes to it")
            oids[rel] = (outcome, was.size)
            advance(1)
    files = tuple((oids[rel][0], str(fs), was.size) for rel, fs, _, was in found)
    stats = {str(fs): was for _, fs, _, was in found}
    if not path.is_dir():
        (oid, size), = oids.values()
        return StoredTree(oid, "file", size, 1, found[0][2], int(copy), files, stats)
    executable = {rel: x for rel, _, x, _ in found}
    top, trees = build_trees(cache, folders, {rel: (*oids[rel], executable[rel])
                                              for rel in oids})
    objects = (len(found) if copy else 0) + len(trees)
    return StoredTree(top.oid, "dir", top.size, top.nfiles, False, objects, files, stats,
                      tuple(dict.fromkeys(trees)))


def build_trees(cache: ObjectStore, folders: list[str],
                files: dict[str, tuple[str, int, bool]]) -> tuple[TreeEntry, list[str]]:
    """The manifests of a folder whose files (relative path -> (oid, size, executable)) are
    known, stored in ``cache``: its top entry, and every manifest's oid, deepest first (a
    parent after its sub-folders). ``folders``: its folders ("" the top), empty ones too."""
    folders = list(dict.fromkeys(["", *folders]))
    children: dict[str, list[str]] = {f: [] for f in folders}
    for rel in [*folders[1:], *files]:
        children[posixpath.dirname(rel)].append(rel)
    made: dict[str, TreeEntry] = {}
    trees: list[str] = []
    for folder in sorted(folders, key=lambda f: -f.count("/") - bool(f)):  # deepest first
        entries = []
        for rel in children[folder]:
            name = posixpath.basename(rel)
            if rel in made:
                e = made[rel]
                entries.append(TreeEntry(name, "dir", e.oid, e.size, False, e.nfiles))
            else:
                oid, size, executable = files[rel]
                entries.append(TreeEntry(name, "file", oid, size, executable))
        entries.sort(key=lambda e: e.name)
        oid = cache.add_tree(Tree.build(entries))
        trees.append(oid)
        made[folder] = TreeEntry(posixpath.basename(folder), "dir", oid,
                                 sum(e.size for e in entries),
                                 nfiles=sum(e.nfiles if e.type == "dir" else 1
                                            for e in entries))
    return made[""], trees


def record_import(repo: Repo, pointer: Pointer, *, changed: bool, force: bool,
                  progress: Progress = NULL_PROGRESS, checkout: bool = True) -> ImportResult:
    """Write the pointer file (and the .gitignore entry), then check the output out."""
    result, git = record_pointer(repo, pointer, force=force, progress=progress,
                                 checkout=checkout)
    assert pointer.source is not None
    return ImportResult(pointer.path, pointer.outs[0] if pointer.outs else None,
                        pointer.source, changed, result, git.files, git.staged)


def track_import(repo: Repo, dest: RelPath, source: Source, changed: bool,
                 progress: Progress = NULL_PROGRESS) -> ImportResult:
    """Track ``dest`` (written in the workspace) as ``add`` does, its pointer file recording
    ``source`` (``import-url``, ``import-db``)."""
    from mlvc.ops.add import add
    from mlvc.workspace.pointer import load_pointer, write_pointer

    added = add(repo, [dest], cwd=repo.root, progress=progress)
    pointer_path = pointer_path_for(dest)
    with repo.lock():
        pointer = load_pointer(repo.root, pointer_path)
        pointer = Pointer(pointer.path, pointer.outs, source)
        write_pointer(repo.root, pointer)
    git = record_in_git(repo, list(dict.fromkeys([*added.git_files, pointer_path])))
    return ImportResult(pointer_path, pointer.outs[0], source, changed, None, git.files,
                        git.staged)


def refuse_unsaved(repo: Repo, path: RelPath) -> None:
    """Refuse an update that would overwrite changes of yours in the output ``path``
    (stages out of date are not its concern)."""
    from mlvc.ops.status import status

    if not all(o.clean for o in status(repo, [path], cwd=repo.root).outs):
        raise TargetError(f"'{path}' has changes of yours that an update would overwrite",
                          hint="`mlvc status` shows them; --force replaces them")


def record_pending(repo: Repo, pointer: Pointer, *, changed: bool,
                   force: bool) -> ImportResult:
    """:func:`record_import` of an import recorded without its data (nothing checked out)."""
    return record_import(repo, pointer, changed=changed, force=force, checkout=False)


def record_pointer(repo: Repo, pointer: Pointer, *, force: bool, progress: Progress,
                   checkout: bool = True) -> tuple[CheckoutResult | None, GitChange]:
    """Write ``pointer`` (its objects in the cache) and the .gitignore entry of its output,
    then check the output out (``force``: over what is there; not without ``checkout``, nor
    for a pending output)."""
    path = pointer.imported_path
    with repo.lock():
        write_pointer(repo.root, pointer)
        git_files = [pointer.path]
        if ignored := gitignore.add(repo.root, path):
            git_files.append(ignored)
        result = _checkout(repo, path, force=force, progress=progress,
                           locked=True) if checkout and pointer.outs else None
    return result, record_in_git(repo, git_files)


def _checkout(repo: Repo, path: RelPath, *, force: bool, progress: Progress,
              locked: bool = False) -> CheckoutResult:
    if not locked:
        with repo.lock():
            return _checkout(repo, path, force=force, progress=progress, locked=True)
    index = Index.load(repo.root, repo.ignore, stages=False)
    return checkout_selected(repo, index.select([path], None), force=force, progress=progress)
