"""``mlvc ls``: the data mlvc tracks, as a git revision records it (or the workspace's
pointer files and ``mlvc.lock``), read from git and the cache's manifests: nothing is checked
out, hashed or downloaded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import MlvcError, PathError, TargetError
from mlvc.objects.tree import TreeEntry
from mlvc.ops.diff import Side, SideView, TreeReader, side_of
from mlvc.paths import RelPath, from_user, is_within, normalize_rel
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace.compare import flatten
from mlvc.workspace.pointer import ITS_DEFAULT, Out, SourceRemote


@dataclass(frozen=True, slots=True)
class Entry:
    path: RelPath
    type: str  # "file" | "dir"
    oid: str
    size: int | None  # (None: not recorded, as for the files of a DVC folder)
    nfiles: int | None = None  # folders only
    exec: bool = False
    pointer: RelPath | None = None  # a tracked output's pointer file (or mlvc.lock)
    hash: str = "xxh128"  # of ``oid``: "md5" for a DVC project's data (ls --repo), "git"
    # for a file git keeps (its blob's id; ls --git), "" for a folder only named (ls --git)
    # or an import recorded without its data (``pending``: no oid, no size; a folder only
    # when what was read of its source says so)
    pending: bool = False

    def to_json(self) -> dict:
        doc: dict = {"path": self.path, "type": self.type, "oid": self.oid, "size": self.size}
        if self.pending:
            doc["pending"] = True
        if self.hash != "xxh128":
            doc["hash"] = self.hash
        if self.nfiles is not None:
            doc["nfiles"] = self.nfiles
        if self.exec:
            doc["exec"] = True
        if self.pointer is not None:
            doc["pointer"] = self.pointer
        return doc


@dataclass(frozen=True, slots=True)
class LsResult:
    side: Side
    path: RelPath  # what was listed ("" for the whole project)
    entries: tuple[Entry, ...]

    def to_json(self) -> dict:
        return {"rev": self.side.to_json(), "path": self.path,
                "entries": [e.to_json() for e in self.entries]}


def ls(repo: Repo, path: str | None = None, *, rev: str | None = None,
       recursive: bool = False, git: bool = False, cwd: Path | None = None,
       level: int | None = None) -> LsResult:
    """The tracked outputs at or below ``path`` (default: the current folder), or, for a path
    that is a tracked folder or lies inside one, its entries; with ``recursive``, every file
    instead of the first level. ``rev``: a git revision (default: the workspace's pointer
    files and lock, as recorded). ``git``: the files git keeps too (see :func:`_with_git`).
    ``level`` (DVC's ``-L``): every file (as ``recursive``) down to that many folders below
    ``path``, deeper ones counted in their folder at that depth (see :func:`within_level`)."""
    side = side_of(repo, rev)
    try:
        target = from_user(repo.root, path or ".", cwd)
    except PathError as exc:
        raise TargetError(exc.message, hint=exc.hint) from None
    view = SideView(repo, side)
    pending = _pending(view, target) if side.sha is None else []
    result = _listed(view, TreeReader(repo), target, path, recursive or level is not None,
                     git=git, also=pending)
    return result if level is None else within_level(result, level)


def _pending(view: SideView, target: RelPath) -> list[Entry]:
    """The workspace's imports recorded without their data at or below ``target`` (or the
    one holding it), as entries (see :attr:`Entry.pending`); from the pointer files the
    workspace's view found."""
    from mlvc.workspace.pointer import UrlSource

    found = []
    for p in view.workspace_index.pending([target]):
        src = p.source
        folder = isinstance(src, UrlSource) and (src.fingerprint.startswith("dir:") or any(
            rel for rel, _ in src.versions))
        found.append(Entry(p.imported_path, "dir" if folder else "file", "", None,
                           pointer=p.path, hash="", pending=True))
    return sorted(found, key=lambda e: e.path)


def within_level(result: LsResult, level: int) -> LsResult:
    """``result`` (a recursive listing) with what lies more than ``level`` folders below
    its path folded into one ``dir`` entry per folder at that depth: its files' count and
    total size (None when one is not recorded), and no oid (``hash`` "": only named)."""
    def folder(path: RelPath, inside: list[Entry]) -> Entry:
        return Entry(path, "dir", "", total_size(inside), sum(e.nfiles or 1 for e in inside),
                     hash="")

    return LsResult(result.side, result.path,
                    tuple(fold_below(list(result.entries), result.path, level, folder)))


def fold_below(entries: list, base: str, level: int, folder: Callable[[str, list], object]
               ) -> list:
    """``entries`` (each with a ``path`` at or below ``base``) with those more than ``level``
    folders below ``base`` replaced by ``folder(path, entries inside)`` for each folder at
    that depth; sorted by path. (For ``ls -L`` and ``ls-url -L``.)"""
    kept: list = []
    folded: dict[str, list] = {}
    for e in entries:
        rel = e.path[len(base) + 1:] if base else e.path
        parts = rel.split("/") if rel and e.path != base else []
        if len(parts) <= level:
            kept.append(e)
            continue
        at = "/".join(parts[:level])
        folded.setdefault(f"{base}/{at}" if base else at, []).append(e)
    kept += [folder(path, inside) for path, inside in folded.items()]
    return sorted(kept, key=lambda e: e.path)


def total_size(entries: list) -> int | None:
    """The sum of the entries' sizes; None when one is not known."""
    sizes = [e.size for e in entries]
    return None if None in sizes else sum(sizes)


def ls_repo(url: str, path: str | None = None, *, rev: str | None = None,
            recursive: bool = False, git: bool = False, cwd: Path | None = None,
            via: SourceRemote = ITS_DEFAULT, level: int | None = None,
            progress: Progress = NULL_PROGRESS) -> LsResult:
    """:func:`ls` of another mlvc project, before ``get`` or ``import`` of its data (as
    ``dvc list URL``): ``url`` (a git URL, or a folder here) is cloned at ``rev`` into a
    temporary folder, and ``path`` is taken from its top. Folders' manifests come from its
    cache when it is a folder here, else from its default remote (only those asked for).
    ``level``: as :func:`ls`'s."""
    if level is not None:
        return within_level(ls_repo(url, path, rev=rev, recursive=True, git=git, cwd=cwd,
                                    via=via, progress=progress), level)
    from mlvc.ops.get import cloned

    target = _repo_target(path)
    from mlvc.ops.dvc_source import is_dvc_project
    from mlvc.ops.get import local_repo

    with cloned(url, rev, cwd or Path.cwd(), via=via) as (src, src_cache, commit):
        view = SideView(src, side_of(src, None))
        if is_dvc_project(src.root) and not view.outputs:  # (a DVC project's clone)
            entries = _dvc_listed(src.root, local_repo(url, cwd or Path.cwd()), target,
                                  path, recursive, git)
            if git:
                entries = _with_git(view, entries, target, path, recursive, commit)
            return LsResult(Side(rev or "HEAD", commit), target, tuple(entries))
        trees = _clone_trees(src, src_cache, target, progress)
        result = _listed(view, trees, target, path, recursive, remember=False, git=git,
                         git_rev=commit)
    return LsResult(Side(rev or "HEAD", commit), result.path, result.entries)


def _unreadable(exc: MlvcError, verb: str, path: str | None) -> TargetError:
    """The error of a listing that failed: a TargetError as it is, else (a manifest the
    cache lacks, or corrupt) one that says what to fetch."""
    if isinstance(exc, TargetError):
        return exc
    return TargetError(f"cannot {verb} '{path or '.'}': {exc.message}",
                       hint="`mlvc fetch` (with -a, -T or -A for other revisions) gets the "
                            "folders' manifests from a remote")


def _repo_target(path: str | None) -> RelPath:
    """``path`` of another project, from its top ("" for the whole project)."""
    try:
        return normalize_rel(path or ".") if path not in (None, ".", "") else ""
    except PathError as exc:
        raise TargetError(exc.message, hint=exc.hint) from None


def _clone_trees(src: Repo, src_cache, target: RelPath, progress: Progress) -> TreeReader:
    """The manifests of a clone's folders, each fetched from its stores when first read."""
    from mlvc.ops.get import fetch_into_clone

    return TreeReader(src, fetch=lambda oid: fetch_into_clone(
        src, [(oid, None)], src_cache, target, progress))


def _dvc_listed(root: Path, local: Path | None, target: RelPath, path: str | None,
                recursive: bool, git: bool = False) -> list[Entry]:
    """:func:`ls_repo` of a DVC project: its outputs (md5 as DVC records them), a folder's
    files read from its listing on the DVC project's stores."""
    from mlvc.ops.dvc_source import dvc_folder_files, dvc_outputs

    outputs = dvc_outputs(root)
    holder = next((o for o in outputs if is_within(target, o[1]) and target), None)
    below = [o for o in outputs if is_within(o[1], target)] if holder is None else [holder]
    if not below:
        if git:  # (git may keep it: told by _with_git when it does not)
            return []
        raise TargetError(f"'{path}' is not tracked by DVC there",
                          hint="`mlvc ls --repo URL` lists what is tracked")
    entries: list[Entry] = []
    for pointer, out, md5, size, nfiles in below:
        is_dir = md5.endswith(".dir")
        if not is_dir or (not recursive and holder is None):
            entries.append(Entry(out, "dir" if is_dir else "file", md5.removesuffix(".dir"),
                                 None if size is None else int(size),
                                 int(nfiles or 0) if is_dir else None, pointer=pointer,
                                 hash="md5"))
            continue
        files = dvc_folder_files(root, local, md5, root / ".mlvc" / "tmp-dvc-listing")
        inside = target if holder is not None and target != out else out
        for rel, want in files:
            full = f"{out}/{rel}"
            if not is_within(full, inside):
                continue
            if not recursive and holder is not None:
                rest = full[len(inside) + 1:]
                if "/" in rest:  # (a folder of the first level, said once)
                    name = f"{inside}/{rest.split('/', 1)[0]}"
                    if not entries or entries[-1].path != name:
                        entries.append(Entry(name, "dir", "", None, None, hash="md5"))
                    continue
            entries.append(Entry(full, "file", want, None, None, hash="md5"))
    return entries


def _listed(view: SideView, trees: TreeReader, target: RelPath, path: str | None,
            recursive: bool, remember: bool = True, git: bool = False,
            git_rev: str | None = None, also: list[Entry] = ()) -> LsResult:
    """``also``: entries listed beside the outputs (the workspace's pending imports)."""
    side = view.side
    try:
        held = view.holding(target)
        if held is not None:
            entries = _inside(trees, held[1], target, recursive)
        else:
            below = sorted(p for p in view.outputs if is_within(p, target))
            if not below and not git and not also:
                where = "" if side.sha is None else f" at {side.name}"
                raise TargetError(f"'{path}' is not tracked by mlvc{where}",
                                  hint="`mlvc ls` lists what is tracked; `mlvc ls --git` "
                                       "what git keeps too")
            entries = []
            for p in below:
                pointer, out = view.outputs[p]
                if recursive and out.type == "dir":
                    entries += _inside(trees, out, p, True)
                else:
                    entries.append(_entry(out, pointer))
            entries = sorted([*entries, *also], key=lambda e: e.path) if also else entries
    except MlvcError as exc:
        raise _unreadable(exc, "list", path) from None
    if remember:
        trees.remember()
    if git and held is None:
        entries = _with_git(view, entries, target, path, recursive, git_rev or side.sha)
    return LsResult(side, target, tuple(entries))


def _with_git(view: SideView, data: list[Entry], target: RelPath, path: str | None,
              recursive: bool, rev: str | None) -> list[Entry]:
    """``data`` (what mlvc or DVC tracks at ``target``) with the files git keeps there at
    ``rev`` (None: in its index), as ``dvc list`` shows a repository: the first level of the
    folder ``target`` (a folder holding files or outputs deeper down is one ``dir`` entry),
    or with ``recursive`` every file; mlvc's and DVC's own folders are left out (as ``dvc
    list`` leaves ``.dvc/`` out). Sorted by path."""
    scm = view.repo.scm
    found = [] if scm is None else [
        Entry(p, "file", sha, size, None, mode == "100755", hash="git")
        for p, mode, sha, size in scm.listed(rev)
        if is_within(p, target) and p.split("/", 1)[0] not in (".mlvc", ".dvc")]
    if not found and not data:
        where = "" if view.side.sha is None else f" at {view.side.name}"
        raise TargetError(f"'{path or '.'}' is neither tracked nor in git{where}",
                          hint="`mlvc ls --git` lists what there is")
    merged: dict[str, Entry] = {}
    for e in [*found, *data]:  # (data last: a folder it tracks is listed as such)
        rest = e.path[len(target) + 1:] if target and e.path != target else \
            ("" if e.path == target else e.path)
        if not recursive and "/" in rest:
            name = f"{target}/{rest.split('/', 1)[0]}" if target else rest.split("/", 1)[0]
            merged.setdefault(name, Entry(name, "dir", "", None, hash=""))
        else:
            merged[e.path] = e
    return [merged[p] for p in sorted(merged)]


def _entry(out: Out, pointer: RelPath | None) -> Entry:
    return Entry(out.path, out.type, out.oid, out.size,
                 out.nfiles if out.type == "dir" else None, out.exec, pointer)


def _inside(trees: TreeReader, out: Out, target: RelPath, recursive: bool) -> list[Entry]:
    """The entries of ``target``, inside the output ``out`` (or ``target`` itself when it
    is a file), from the manifests; with ``recursive``, every file below it."""
    if out.type == "file":
        return [_entry(out, None)]
    node = entry_at(trees, out, target)
    if node.type != "dir":
        return [Entry(target, "file", node.oid, node.size, None, node.exec)]
    if recursive:
        files = flatten(trees, Out(target, node.oid, "dir", node.size, node.nfiles)).files
        return [Entry(p, "file", w.oid, w.size, None, w.exec) for p, w in sorted(files.items())]
    return [Entry(f"{target}/{e.name}", e.type, e.oid, e.size, e.nfiles if e.is_dir else None,
                  e.exec) for e in trees.read_tree(node.oid).entries]


def entry_at(trees: TreeReader, out: Out, target: RelPath) -> TreeEntry:
    """The manifest entry of ``target``, at or inside the recorded output ``out``."""
    node = TreeEntry("", out.type, out.oid, out.size, out.exec,
                     out.nfiles if out.type == "dir" else 0)
    rest = target[len(out.path):].lstrip("/")
    for name in rest.split("/") if rest else ():
        found = None if node.type != "dir" else next(
            (e for e in trees.read_tree(node.oid).entries if e.name == name), None)
        if found is None:
            raise TargetError(f"'{target}' is not in the recorded '{out.path}'",
                              hint=f"`mlvc ls {out.path}` lists what it holds")
        node = found
    return node


@dataclass(frozen=True, slots=True)
class Usage:
    path: RelPath
    type: str  # "file" | "dir"
    size: int | None  # bytes; None: not all of it recorded (a DVC folder's files)

    def to_json(self) -> dict:
        return {"path": self.path, "type": self.type, "size": self.size}


@dataclass(frozen=True, slots=True)
class DuResult:
    side: Side
    path: RelPath  # what was measured ("" for the whole project)
    type: str
    size: int | None
    entries: tuple[Usage, ...]  # its first level (a file: itself)

    def to_json(self) -> dict:
        return {"rev": self.side.to_json(), "path": self.path, "type": self.type,
                "size": self.size, "entries": [e.to_json() for e in self.entries]}


def du(repo: Repo, path: str | None = None, *, rev: str | None = None,
       cwd: Path | None = None) -> DuResult:
    """The size of ``path`` (default: the current folder) and of each entry of its first
    level, as ``dvc du`` gives them: the files git keeps and the data mlvc tracks, counted
    as recorded (git's sizes, and those of the pointer files, the lock and the manifests;
    nothing is read from the data). ``rev``: as for :func:`ls`."""
    side = side_of(repo, rev)
    try:
        target = from_user(repo.root, path or ".", cwd)
    except PathError as exc:
        raise TargetError(exc.message, hint=exc.hint) from None
    return _usage(SideView(repo, side), TreeReader(repo), target, path, side.sha)


def du_repo(url: str, path: str | None = None, *, rev: str | None = None,
            cwd: Path | None = None, via: SourceRemote = ITS_DEFAULT,
            progress: Progress = NULL_PROGRESS) -> DuResult:
    """:func:`du` of another mlvc or DVC project (as ``dvc du URL``), cloned as for
    :func:`ls_repo`; only the manifests of folders inside ``path``'s output are read."""
    from mlvc.ops.dvc_source import dvc_outputs, is_dvc_project
    from mlvc.ops.get import cloned, local_repo

    target = _repo_target(path)
    with cloned(url, rev, cwd or Path.cwd(), via=via) as (src, src_cache, commit):
        view = SideView(src, side_of(src, None))
        side = Side(rev or "HEAD", commit)
        if is_dvc_project(src.root) and not view.outputs:  # (a DVC project's clone)
            outputs = {out: (size, md5) for _, out, md5, size, _ in dvc_outputs(src.root)}
            holder = next((o for o in outputs if is_within(target, o) and target), None)
            if holder is None or holder == target and not outputs[holder][1].endswith(".dir"):
                return _grouped(side, target, path, _git_sizes(view, target, commit) | {
                    o: (s, "dir" if md5.endswith(".dir") else "file")
                    for o, (s, md5) in outputs.items() if is_within(o, target)})
            listed = _dvc_listed(src.root, local_repo(url, cwd or Path.cwd()), target, path,
                                 recursive=False)  # (a DVC folder records no file sizes)
            if not listed:
                raise TargetError(f"'{path}' is not in the DVC folder '{holder}'",
                                  hint=f"`mlvc ls --repo URL {holder}` lists what it holds")
            if [e.path for e in listed] == [target] and listed[0].type == "file":
                return DuResult(side, target, "file", None, (Usage(target, "file", None),))
            return DuResult(side, target, "dir", outputs[holder][0] if holder == target
                            else None, tuple(Usage(e.path, e.type, None) for e in listed))
        trees = _clone_trees(src, src_cache, target, progress)
        result = _usage(view, trees, target, path, commit)
    return DuResult(side, result.path, result.type, result.size, result.entries)


def _usage(view: SideView, trees: TreeReader, target: RelPath, path: str | None,
           git_rev: str | None) -> DuResult:
    held = view.holding(target)
    if held is None:
        return _grouped(view.side, target, path, _git_sizes(view, target, git_rev) | {
            p: (out.size, out.type) for p, (_, out) in view.outputs.items()
            if is_within(p, target)})
    out = held[1]
    try:
        node = entry_at(trees, out, target)
        if node.type != "dir":
            return DuResult(view.side, target, "file", node.size,
                            (Usage(target, "file", node.size),))
        inside = tuple(Usage(f"{target}/{e.name}", e.type, e.size)
                       for e in trees.read_tree(node.oid).entries)
    except MlvcError as exc:
        raise _unreadable(exc, "measure", path) from None
    return DuResult(view.side, target, "dir", node.size, inside)


def _git_sizes(view: SideView, target: RelPath, rev: str | None
               ) -> dict[RelPath, tuple[int | None, str]]:
    """Path -> (size, "file") of the files git keeps at or below ``target`` at ``rev`` (None: its
    index), mlvc's and DVC's own folders left out (as :func:`_with_git`)."""
    scm = view.repo.scm
    return {} if scm is None else {
        p: (size, "file") for p, _, _, size in scm.listed(rev)
        if is_within(p, target) and p.split("/", 1)[0] not in (".mlvc", ".dvc")}


def _grouped(side: Side, target: RelPath, path: str | None,
             sizes: dict[RelPath, tuple[int | None, str]]) -> DuResult:
    """The usage of ``target`` from the (size, type) of the files and whole outputs at or
    below it: each summed into the entry of ``target``'s first level that holds it."""
    if not sizes:
        where = "" if side.sha is None else f" at {side.name}"
        raise TargetError(f"'{path or '.'}' is neither tracked nor in git{where}",
                          hint="`mlvc ls --git` lists what there is")
    if target in sizes:  # (a file git keeps, or a whole file output of DVC's)
        size, kind = sizes[target]
        return DuResult(side, target, kind, size, (Usage(target, kind, size),))
    totals: dict[RelPath, int | None] = {}
    kinds: dict[RelPath, str] = {}
    for p, (size, kind) in sizes.items():
        rest = p[len(target) + 1:] if target else p
        name = f"{target}/{rest.split('/', 1)[0]}" if target else rest.split("/", 1)[0]
        kinds[name] = kind if name == p else "dir"
        before = totals.get(name, 0)
        totals[name] = None if before is None or size is None else before + size
    total: int | None = 0
    for size in totals.values():
        total = None if total is None or size is None else total + size
    return DuResult(side, target, "dir", total,
                    tuple(Usage(p, kinds[p], totals[p]) for p in sorted(totals)))
