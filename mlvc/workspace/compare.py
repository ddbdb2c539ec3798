"""What a tracked output should look like (from its recorded tree) against the workspace."""

from __future__ import annotations

import marshal
from bisect import bisect_left
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from mlvc.objects.store import ObjectStore
from mlvc.objects.tree import Tree, TreeEntry
from mlvc.paths import Projects, RelPath, is_within, to_fs
from mlvc.workspace.pointer import Out
from mlvc.workspace.scan import WsDir, WsFile, iter_dirs, iter_files


class Want(NamedTuple):
    """What one recorded file should be (a NamedTuple: one per file)."""

    oid: str
    exec: bool
    size: int


@dataclass(frozen=True, slots=True)
class Recorded:
    """The flattened recorded state of one output."""

    files: dict[RelPath, Want]
    dirs: frozenset[RelPath]
    trees: frozenset[str]  # oids of the manifests read
    # The tree oid of each folder (None for a single file).
    dir_oids: Mapping[RelPath, str] | None = None

    def objects(self) -> set[str]:
        return {w.oid for w in self.files.values()}


def encode_listing(rec: Recorded, root: RelPath) -> bytes:
    """A compact form of a flattened tree, with paths relative to the tree's folder."""
    return encode_parts(root, ((p, w.oid, w.exec, w.size) for p, w in rec.files.items()),
                        rec.dirs, rec.trees,
                        None if rec.dir_oids is None else rec.dir_oids.items())


def encode_parts(root: RelPath, files: Iterable[tuple[RelPath, str, bool, int]],
                 dirs: Iterable[RelPath], trees: Iterable[str],
                 dir_oids: Iterable[tuple[RelPath, str]] | None = None) -> bytes:
    """:func:`encode_listing` of a tree given as ``(path, oid, exec, size)`` of each file,
    its folders (``root`` among them), its manifests' oids and, when given, each folder's
    ``(path, tree oid)``."""
    cut = len(root) + 1
    parts: tuple = (
        [(p[cut:], oid, x, size) for p, oid, x, size in files],
        [d[cut:] for d in dirs if d != root],
        sorted(trees),
    )
    if dir_oids is not None:
        parts += ([(d[cut:], oid) for d, oid in dir_oids],)
    return marshal.dumps(parts)


def decode_listing(data: bytes, root: RelPath) -> Recorded:
    files, dirs, trees, *more = marshal.loads(data)
    prefix = root + "/"
    new = tuple.__new__
    dir_oids = {prefix + d if d else root: oid for d, oid in more[0]} if more else None
    return Recorded({prefix + p: new(Want, (o, x, s)) for p, o, x, s in files},
                    frozenset([root, *(prefix + d for d in dirs)]), frozenset(trees),
                    dir_oids)


class TreeSource(Protocol):
    """Where manifests come from: the cache (:class:`ObjectStore`), or a reader that also
    has the workspace's or a remote's (``mlvc.ops.diff.TreeReader``)."""

    def read_tree(self, oid: str, validated: bool = False) -> Tree: ...


def flatten(store: TreeSource, out: Out, validated: Container[str] = frozenset()) -> Recorded:
    """Read the recorded tree of ``out`` (raises when a manifest is missing or corrupt).

    ``validated`` are tree oids whose manifests passed validation before.
    """
    if out.type == "file":
        return Recorded({out.path: Want(out.oid, out.exec, out.size)}, frozenset(), frozenset())
    files: dict[RelPath, Want] = {}
    dir_oids = {out.path: out.oid}
    stack = [(out.path, out.oid)]
    while stack:
        path, oid = stack.pop()
        for entry in store.read_tree(oid, oid in validated).entries:
            child = f"{path}/{entry.name}"
            if entry.is_dir:
                dir_oids[child] = entry.oid
                stack.append((child, entry.oid))
            else:
                files[child] = Want(entry.oid, entry.exec, entry.size)
    return Recorded(files, frozenset(dir_oids), frozenset(dir_oids.values()), dir_oids)


def tree_entries_at(store: ObjectStore, top: RelPath, top_oid: str, paths: Iterable[RelPath],
                    validated: Container[str] = frozenset()) -> dict[RelPath, TreeEntry]:
    """The entry (name, tree oid, size, file count) of each of ``paths``, folders below
    ``top`` whose tree is ``top_oid``, that the tree has as a folder. Only the manifests on
    the way to them are read."""
    wanted = set(paths)
    on_the_way = ancestors(wanted)
    found: dict[RelPath, TreeEntry] = {}
    stack = [(top, top_oid)]
    while stack:
        path, oid = stack.pop()
        for entry in store.read_tree(oid, oid in validated).entries:
            if not entry.is_dir:
                continue
            child = f"{path}/{entry.name}"
            if child in wanted:
                found[child] = entry
            if child in on_the_way:
                stack.append((child, entry.oid))
    return found


@dataclass(frozen=True, slots=True)
class WsView:
    files: dict[RelPath, WsFile]
    dirs: frozenset[RelPath]
    leftovers: tuple[RelPath, ...] = ()  # temporary files of a killed mlvc run


def view(node: WsFile | WsDir | None, within: RelPath = "") -> WsView:
    files = {f.path: f for f in iter_files(node) if is_within(f.path, within)}
    dirs = [d for d in iter_dirs(node) if is_within(d.path, within)]
    leftovers = tuple(p for d in dirs for p in d.leftovers)
    return WsView(files, frozenset(d.path for d in dirs), leftovers)


def restrict(rec: Recorded, within: RelPath) -> Recorded:
    if not within:
        return rec
    return _kept(rec, lambda path: is_within(path, within))


def _kept(rec: Recorded, keep: Callable[[RelPath], bool]) -> Recorded:
    """``rec`` with only the files and folders whose path ``keep`` accepts."""
    return Recorded({p: w for p, w in rec.files.items() if keep(p)},
                    frozenset(d for d in rec.dirs if keep(d)), rec.trees, rec.dir_oids)


RESTRICT_SORTED = 8  # from this many parts of one tree, restrict_many sorts its paths once


def restrict_many(rec: Recorded, parts: list[RelPath]) -> list[Recorded]:
    """:func:`restrict` of ``rec`` to each of ``parts``. Many parts (``mlvc checkout
    data/*.jpg``) take one sort of the recorded paths and a bisection each, not a pass over
    every path each."""
    if len(parts) < RESTRICT_SORTED:
        return [restrict(rec, part) for part in parts]
    files, dirs = sorted(rec.files), sorted(rec.dirs)

    def below(paths: list[RelPath], part: RelPath) -> list[RelPath]:
        at = bisect_left(paths, part)
        found = [part] if at < len(paths) and paths[at] == part else []
        # (what is inside ``part/`` sorts from ``part/`` up to ``part0``: '0' follows '/')
        return found + paths[bisect_left(paths, part + "/"):bisect_left(paths, part + "0")]

    return [rec if not part else Recorded({p: rec.files[p] for p in below(files, part)},
                                          frozenset(below(dirs, part)), rec.trees,
                                          rec.dir_oids)
            for part in parts]


def other_projects(root: Path, rec: Recorded, ws: WsView) -> tuple[RelPath, ...]:
    """The recorded folders that the scan left out because each holds another mlvc project
    now (made there with ``mlvc init --force``): that project's, not this one's. Only a
    recorded folder missing from the scan whose parent was scanned is looked at (one stat).
    """
    if not ws.dirs:
        return ()
    return tuple(sorted(d for d in rec.dirs - ws.dirs
                        if d.rpartition("/")[0] in ws.dirs and Projects.test(str(to_fs(root, d)))))


def leave_out(rec: Recorded, folders: Iterable[RelPath]) -> Recorded:
    """``rec`` without what it records inside ``folders``."""
    folders = tuple(folders)
    if not folders:
        return rec
    return _kept(rec, lambda path: not any(is_within(path, f) for f in folders))


@dataclass(frozen=True, slots=True)
class Changes:
    added: tuple[RelPath, ...]
    deleted: tuple[RelPath, ...]
    modified: tuple[RelPath, ...]

    @property
    def clean(self) -> bool:
        return not (self.added or self.deleted or self.modified)


def diff(rec: Recorded, ws: WsView) -> Changes:
    """Compare; every workspace file that is also recorded must have its oid resolved.

    Empty directories count too and are shown with a trailing ``/``.
    """
    added = [p for p in ws.files if p not in rec.files]
    deleted = [p for p in rec.files if p not in ws.files]
    modified = []
    for p, want in rec.files.items():
        f = ws.files.get(p)
        if f is not None and (f.oid != want.oid or f.exec != want.exec):
            modified.append(p)
    # An empty folder is a change of its own; a folder with content shows through it.
    ws_inner = ancestors(ws.files) | ancestors(ws.dirs)
    rec_inner = ancestors(rec.files) | ancestors(rec.dirs)
    added += [d + "/" for d in ws.dirs - rec.dirs if d not in ws_inner]
    deleted += [d + "/" for d in rec.dirs - ws.dirs if d not in rec_inner]
    return Changes(tuple(sorted(added)), tuple(sorted(deleted)), tuple(sorted(modified)))


def ancestors(paths: Iterable[RelPath]) -> set[RelPath]:
    """Every folder that holds one of ``paths`` (the top-level ones included, not "")."""
    out: set[RelPath] = set()
    for p in paths:
        while "/" in p:
            p = p.rsplit("/", 1)[0]
            if p in out:
                break
            out.add(p)
    return out
