"""``mlvc add``: start tracking files and folders."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import TargetError
from mlvc.ops import user_paths
from mlvc.ops.commit import CommitResult, save_outputs
from mlvc.paths import (
    Nested,
    Projects,
    RelPath,
    from_user,
    has_reserved_part,
    is_within,
    name,
    overlaps,
    real_inside,
    seen_from,
    to_fs,
    typed_in,
)
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace import gitignore
from mlvc.workspace.index import Index
from mlvc.workspace.pointer import (
    POINTER_SUFFIX,
    Out,
    check_pointer_name,
    pointer_path_for,
)


def add(repo: Repo, targets: list[str], *, cwd: Path | None = None, no_commit: bool = False,
        jobs: int | None = None, link: bool = True,
        progress: Progress = NULL_PROGRESS) -> CommitResult:
    """Track ``targets``: store them in the cache and write their pointer files. Without
    ``link`` (``--no-relink``), the files stay as they are, not made links to the cache."""
    if not targets:
        raise TargetError("nothing to add", hint="name the files or folders to track")
    resolved, here = user_paths(repo, targets, cwd)
    paths = list(dict.fromkeys(resolved))
    index = Index.load(repo.root, repo.ignore, here=here)
    _validate(repo, index, paths, here)
    items = [(pointer_path_for(p), p) for p in paths]
    with repo.lock():
        return save_outputs(repo, items, index.pointers, save=not no_commit, jobs=jobs,
                            link=link, progress=progress)


@dataclass(frozen=True, slots=True)
class AddedFrom:
    """What ``add SRC -o OUT`` did: SRC (outside the project) stored and tracked at OUT."""

    source: str
    pointer: RelPath
    out: Out
    stored: int  # objects written to the cache (files and manifests)
    git_files: tuple[RelPath, ...] = ()
    staged: bool = False
    remote: str | None = None  # with to_remote: where it went, instead of the cache
    sent: int = 0  # objects sent there (the others were there already)

    def to_json(self) -> dict:
        return {"source": self.source, "pointer": self.pointer, "path": self.out.path,
                "oid": self.out.oid, "type": self.out.type, "size": self.out.size,
                "files": self.out.nfiles, "stored": self.stored, "remote": self.remote,
                "sent": self.sent, "git_files": list(self.git_files), "staged": self.staged}


def add_from(repo: Repo, src: str, out: str | None = None, *, cwd: Path | None = None,
             force: bool = False, jobs: int | None = None, to_remote: bool = False,
             remote: str | None = None, progress: Progress = NULL_PROGRESS) -> AddedFrom:
    """Track the file or folder ``src``, outside the project, at ``out`` (default: its name,
    here), as ``dvc add SRC -o OUT`` does: its files are copied straight into the cache
    (hashed on the way, a few at a time), then OUT is checked out from there (linked as
    ``cache.type`` says), and OUT.mlvc written; SRC is left as it is.

    ``to_remote`` (``dvc add --to-remote``): hashed where it is and sent straight to the
    remote, for data larger than this disk: neither the cache nor the workspace gets a copy
    (only the folders' small manifests go to the cache), and OUT.mlvc is written once all of
    it is there (`mlvc pull OUT` gets it). Nothing is written if a transfer fails."""
    from mlvc.ops.imports import check_destination, record_pointer, store_tree
    from mlvc.workspace.pointer import Pointer

    cwd = cwd or Path.cwd()
    source = Path(os.path.abspath(Path(cwd, os.path.expanduser(src))))
    if not os.path.lexists(source):
        raise TargetError(f"'{src}' does not exist")
    if real_inside(os.path.realpath(source), (str(repo.root),)):
        raise TargetError(f"'{src}' is inside the project",
                          hint="`mlvc add` tracks it where it is; `mlvc move` moves tracked "
                               "data")
    dest = from_user(repo.root, out or source.name, cwd)
    pointer = pointer_path_for(dest)
    check_destination(repo, dest, pointer, force)
    stored = store_tree(repo.cache, source, copy=not to_remote, jobs=jobs or repo.jobs,
                        progress=progress)
    sent = None
    if to_remote:
        from mlvc.errors import RemoteError
        from mlvc.ops._remote import transfer_hint
        from mlvc.ops.push import push_outside

        sent = push_outside(repo, stored, remote=remote, jobs=jobs, progress=progress)
        if not sent.ok:
            first = sent.failed[0]
            raise RemoteError(f"{len(sent.failed)} object(s) did not reach remote "
                              f"'{sent.remote}' ({first.path}: {first.reason}): "
                              f"{pointer} not written", hint=transfer_hint(sent.failed))
    _, git = record_pointer(repo, Pointer(pointer, (stored.out(dest),)), force=force,
                            progress=progress, checkout=not to_remote)
    return AddedFrom(str(source), pointer, stored.out(dest), stored.objects, git.files,
                     git.staged, sent.remote if sent else None,
                     sent.transferred if sent else 0)


def _validate(repo: Repo, index: Index, paths: list[RelPath], here: RelPath | None) -> None:
    """Refuse what cannot be added. Messages name paths as seen from the user's folder
    ``here``, and hints' commands as typed there."""

    def seen(path: RelPath) -> str:
        return seen_from(path, here)

    def typed(path: RelPath) -> str:
        return typed_in(path, here)
    overlapping = index.overlap_finder()
    chosen = Nested(paths)
    for path in paths:
        if not path:
            raise TargetError("cannot track the whole project folder",
                              hint="name the data folders or files inside it")
        if not os.path.lexists(to_fs(repo.root, path)):
            raise TargetError(f"'{seen(path)}' does not exist")
        if path.endswith(POINTER_SUFFIX):
            raise TargetError(f"'{seen(path)}' is an mlvc pointer file; it cannot be tracked "
                              "itself")
        check_pointer_name(path)
        gitignore.check_writable(repo.root, path, here=here)
        if repo.ignore.is_ignored(path, os.path.isdir(to_fs(repo.root, path))):
            raise TargetError(f"'{seen(path)}' is ignored by .mlvcignore",
                              hint="remove the matching rule from .mlvcignore to track it")
        for d in index.declared:
            if overlaps(path, d.path):
                what = "is" if path == d.path else f"overlaps '{seen(d.path)}',"
                raise TargetError(f"'{seen(path)}' {what} an output of stage '{d.stage}'",
                                  hint=d.hint(here))
        for t in overlapping(path):  # stage outputs among them are refused above
            if t.out.path == path:
                continue  # re-adding a tracked output records its new state
            if is_within(path, t.out.path):
                raise TargetError(
                    f"'{seen(path)}' is inside '{seen(t.out.path)}', which {seen(t.pointer)} "
                    "tracks already",
                    hint=f"run `mlvc add {typed(t.out.path)}` (or `mlvc commit`) to record "
                         "its changes")
            raise TargetError(f"'{seen(path)}' contains '{seen(t.out.path)}', which "
                              f"{seen(t.pointer)} tracks",
                              hint=f"`mlvc remove {typed(t.pointer)}` first, then track the folder")
        inner = chosen.inside(path)
        if inner:
            raise TargetError(f"'{seen(inner[0])}' and '{seen(path)}' overlap; track one of them")
    if repo.scm is not None:
        # (Files that mlvc leaves out may be git's: in .git or .mlvc folders, or in another
        # project's folder.)
        projects = Projects(repo.root)
        tracked = [p for p in repo.scm.tracked(paths) if not has_reserved_part(p)
                   and projects.along(posixpath.dirname(p)) is None]
        if tracked:
            shown = tracked[0]
            raise TargetError(f"'{seen(shown)}' is tracked by git already",
                              hint="stop tracking it in git first: "
                                 f"git rm -r --cached {typed(shown)}")
        check_pointers_kept(repo, [pointer_path_for(p) for p in paths], here)


def check_pointers_kept(repo: Repo, pointers: list[RelPath], here: RelPath | None) -> None:
    """Refuse pointer files that git would ignore: never committed, they would never reach
    the team (``git add`` refuses them), and the data would be tracked for nobody."""
    if repo.scm is None:
        return
    rules = repo.scm.ignore_rules(pointers)
    if rules:
        pointer, rule = next(iter(rules.items()))
        raise TargetError(f"'{seen_from(pointer, here)}' would be ignored by git ({rule}): "
                          "the pointer file could not be committed",
                          hint=f"change that rule, or add `!/{gitignore.escape(name(pointer))}`"
                               " below it in the .gitignore of the pointer's folder")
