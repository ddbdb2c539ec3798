"""Walking the workspace, resolving file oids through the state DB, and building trees.

``Scanner.listing`` lists a tracked path (one ``lstat`` per entry, honouring
``.mlvcignore``) as flat columns, which is all a clean mark needs; ``Scanner.scan`` gives
the same as a tree of ``WsDir``/``WsFile``. ``known_oids`` fills in oids from the state DB
where (inode, mtime, size) still match; the rest are hashed with
``mlvc.parallel.run_batched``. ``build`` then computes the tree manifests bottom-up.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat
from pathlib import Path

from mlvc.errors import PathError, TargetError
from mlvc.objects.oid import hash_bytes
from mlvc.objects.tree import Tree, TreeEntry
from mlvc.parallel import in_background
from mlvc.paths import Projects, RelPath, is_reserved, real_inside, to_fs, unrecordable
from mlvc.workspace.ignore import IgnoreRules
from mlvc.workspace.state import FileState, StateDB, StatKey, stat_key

_S_IFMT, _S_IFREG = 0o170000, stat.S_IFREG
TMP_MARK = ".mlvc-tmp."
SPLIT_AFTER = 1000  # files listed before a walk may split in two (see Scanner.listing)
FEW_FILES = 5000  # up to this many, known_oids looks rows up by path, not by range
_TMP_RE = re.compile(r"\.mlvc-tmp\.\d+(\.\d+)?$")


@dataclass(slots=True)
class WsFile:
    path: RelPath
    key: StatKey
    exec: bool
    oid: str | None = None
    link: str | None = None  # how mlvc placed it, from the state DB
    nlink: int = 1  # hard links to its inode (a hard-linked file's object is one of them)


@dataclass(slots=True)
class WsDir:
    path: RelPath
    files: dict[str, WsFile] = field(default_factory=dict)
    dirs: dict[str, WsDir] = field(default_factory=dict)
    leftovers: list[RelPath] = field(default_factory=list)  # temporary files of a killed run


def is_leftover(name: str) -> bool:
    """Whether ``name`` is a temporary file that mlvc writes before renaming into place."""
    return TMP_MARK in name and _TMP_RE.search(name) is not None


def check_name(path: RelPath, name: str) -> None:
    """Refuse a name found by the walk that cannot be recorded (see ``unrecordable``),
    before anything is stored."""
    why = unrecordable(name)
    if why:
        raise TargetError(f"'{path}' has a name that mlvc cannot record: {why}",
                          hint="rename it, or leave it out with a line in .mlvcignore")


# A pipe, socket or device file has no bytes to version.
SPECIAL_HINT = "leave it out with a line in .mlvcignore, or move it out of the data"


class Scanner:
    """Lists workspace paths. ``allowed`` are the real folders a symlink may lead into."""

    def __init__(self, root: Path, ignore: IgnoreRules, allowed: tuple[Path, ...]) -> None:
        self.root = root
        self.ignore = ignore
        self.allowed = tuple(os.path.realpath(p) for p in allowed)

    def scan(self, path: RelPath, split: bool = False) -> WsFile | WsDir | None:
        """The file or directory at ``path``, or None when nothing is there."""
        return self.listing(path, split).tree()

    def listing(self, path: RelPath, split: bool = False) -> Listing:
        """The scan of ``path`` as flat columns (see :class:`Listing`).

        With ``split``, once ``SPLIT_AFTER`` files are listed and at least two folders are
        still to list, a forked child lists half of those while this process lists the
        others: a walk is one ``stat`` per file, and two cores make twice as many. The result
        is the same listing, in the same order, as without it.
        """
        fs_path = to_fs(self.root, path)
        try:
            st = os.lstat(fs_path)
        except (FileNotFoundError, NotADirectoryError):
            return Listing(None)
        if stat.S_ISLNK(st.st_mode):
            return Listing("file").add_file(self._symlink(path, str(fs_path)))
        if stat.S_ISDIR(st.st_mode):
            return self._list_dir(path, split)
        if stat.S_ISREG(st.st_mode):
            return Listing("file").add_file(
                WsFile(path, stat_key(st), bool(st.st_mode & stat.S_IXUSR), nlink=st.st_nlink))
        raise TargetError(f"'{path}' is not a regular file or directory", hint=SPECIAL_HINT)

    def _symlink(self, path: RelPath, fs_path: str) -> WsFile:
        real = os.path.realpath(fs_path)
        if not real_inside(real, self.allowed):
            raise PathError(f"'{path}' is a symlink that leads outside the project ({real})",
                            hint="replace the link with the file itself, or move the target in")
        try:
            st = os.stat(fs_path)
        except FileNotFoundError:
            raise TargetError(f"'{path}' is a broken symlink",
                              hint="delete it, or restore what it points to (a link into the "
                                   "cache: `mlvc fetch`, then `mlvc checkout`)") from None
        if not stat.S_ISREG(st.st_mode):
            raise TargetError(f"'{path}' is a symlink to a directory, which mlvc does not follow",
                              hint="track the directory it points to instead")
        return WsFile(path, stat_key(st), bool(st.st_mode & stat.S_IXUSR), nlink=st.st_nlink)

    def _list_dir(self, path: RelPath, split: bool) -> Listing:
        out = Listing.folder(path)
        stack = self._walk(out, [0], SPLIT_AFTER if split else None)
        if stack:
            # The walk pops its stack from the end, listing each folder and everything below
            # it before the next: this process lists the last half, and the child lists the
            # first half as the tail that the walk would have appended after them.
            half = len(stack) // 2
            with in_background(self._tail, out, stack[:half]) as tail:
                self._walk(out, stack[half:])
                out.append_tail(tail())
        return out

    def _tail(self, head: Listing, stack: list[int]) -> tuple:
        """What walking ``stack`` appends to ``head`` (untouched): see ``append_tail``."""
        part = Listing("dir", head.dirs[:], head.parents[:], head.starts[:], head.ends[:])
        self._walk(part, stack[:])
        n = len(head.dirs)
        return (n, stack, part.dirs[n:], part.parents[n:], part.starts, part.ends, part.paths,
                part.keys, part.execs, part.nlinks, part.leftovers)

    def _walk(self, out: Listing, stack: list[int], stop_after: int | None = None
              ) -> list[int]:
        """List the folders ``out.dirs[i]`` for ``i`` in ``stack`` and everything below them.

        With ``stop_after``, stop once ``out`` holds that many files and at least two
        folders are left, and return those (the walk's stack); else return an empty list.
        """
        paths, keys, execs, nlinks = out.paths, out.keys, out.execs, out.nlinks
        add_path, add_key = paths.append, keys.extend
        add_exec, add_nlink = execs.append, nlinks.append
        holds_project = Projects.test
        while stack:
            if stop_after is not None and len(paths) >= stop_after and len(stack) > 1:
                return stack
            index = stack.pop()
            dir_path = out.dirs[index]
            out.starts[index] = len(paths)
            folder = str(to_fs(self.root, dir_path))
            prefix = f"{dir_path}/" if dir_path else ""
            # Listing through a descriptor makes each entry's stat relative to it (fstatat):
            # a shorter path walk per file than the full path.
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                with os.scandir(fd) as it:
                    entries = list(it)
                self.ignore.listed(dir_path, [entry.name for entry in entries])
                active = self.ignore.active_for(dir_path)
                for entry in entries:
                    name = entry.name
                    if name[0] == "." and is_reserved(name):  # (most names: no call)
                        continue
                    child = prefix + name
                    if TMP_MARK in name and is_leftover(name):
                        out.leftovers.append((index, child))
                        continue
                    if entry.is_symlink():
                        if active and IgnoreRules.matches(active, child, False):
                            continue
                        check_name(child, name)
                        out.add_file(self._symlink(child, f"{folder}/{name}"))
                        continue
                    is_dir = entry.is_dir(follow_symlinks=False)
                    if active and IgnoreRules.matches(active, child, is_dir):
                        continue
                    if "\\" in name or not name.isascii():
                        check_name(child, name)
                    if is_dir:
                        # A folder that holds another project (mlvc init --force) is that
                        # project's, not this one's. (One stat per folder, not per file.)
                        if not holds_project(f"{folder}/{name}"):
                            stack.append(out.add_dir(index, child))
                        continue
                    st = entry.stat(follow_symlinks=False)
                    if st.st_mode & _S_IFMT != _S_IFREG:
                        raise TargetError(f"'{child}' is not a regular file or directory",
                                          hint=SPECIAL_HINT)
                    add_path(child)
                    add_key((st.st_ino, st.st_mtime_ns, st.st_size))
                    add_exec(bool(st.st_mode & 0o100))
                    add_nlink(st.st_nlink)
            finally:
                os.close(fd)
            out.ends[index] = len(paths)
        return stack


@dataclass(slots=True)
class Listing:
    """A scan as flat columns in walk order, cheap to digest (see ``marks.scan_digest``).

    ``kind`` is "file", "dir" or None (nothing there). For a folder, ``dirs[0]`` is the
    folder itself; ``parents[i]`` is the index of ``dirs[i]``'s parent (-1 for the top) and
    the files directly in ``dirs[i]`` are ``paths[starts[i]:ends[i]]``. ``keys`` holds each
    file's (inode, mtime_ns, size), three numbers per file. :meth:`tree` gives the nodes.
    """

    kind: str | None
    dirs: list[RelPath] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    paths: list[RelPath] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)
    execs: list[bool] = field(default_factory=list)
    nlinks: list[int] = field(default_factory=list)
    leftovers: list[tuple[int, RelPath]] = field(default_factory=list)  # (folder index, path)

    @classmethod
    def folder(cls, path: RelPath) -> Listing:
        """The listing of folder ``path`` before anything in it is listed."""
        return cls("dir", [path], [-1], [0], [0])

    @classmethod
    def of(cls, node: WsFile | WsDir | None) -> Listing:
        """The listing whose :meth:`tree` is ``node``, in the order a scan lists it (files
        changed in place since the scan are listed as they are now)."""
        if node is None:
            return cls(None)
        if isinstance(node, WsFile):
            return cls("file").add_file(node)
        out = cls.folder(node.path)
        nodes, stack = [node], [0]
        while stack:
            index = stack.pop()
            folder = nodes[index]
            out.starts[index] = len(out.paths)
            for f in folder.files.values():
                out.add_file(f)
            out.ends[index] = len(out.paths)
            for sub in folder.dirs.values():
                stack.append(out.add_dir(index, sub.path))
                nodes.append(sub)
            out.leftovers.extend((index, path) for path in folder.leftovers)
        return out

    def add_dir(self, parent: int, path: RelPath) -> int:
        """Add a folder below ``dirs[parent]``; its files follow once it is listed."""
        self.dirs.append(path)
        self.parents.append(parent)
        self.starts.append(0)
        self.ends.append(0)
        return len(self.dirs) - 1

    def add_file(self, f: WsFile) -> Listing:
        self.paths.append(f.path)
        self.keys.extend(f.key)
        self.execs.append(f.exec)
        self.nlinks.append(f.nlink)
        return self

    def append_tail(self, tail: tuple) -> None:
        """Append what a walk of another copy of this listing added (``Scanner._tail``),
        as if this listing's walk had gone on: folder indices and file positions shift by
        what this one holds now."""
        (n, listed, dirs, parents, starts, ends, paths, keys, execs, nlinks,
         leftovers) = tail
        shift_dir, shift_file = len(self.dirs) - n, len(self.paths)
        for i in listed:
            self.starts[i] = starts[i] + shift_file
            self.ends[i] = ends[i] + shift_file
        self.dirs.extend(dirs)
        self.parents.extend(p if p < n else p + shift_dir for p in parents)
        self.starts.extend(s + shift_file for s in starts[n:])
        self.ends.extend(e + shift_file for e in ends[n:])
        self.paths.extend(paths)
        self.keys.extend(keys)
        self.execs.extend(execs)
        self.nlinks.extend(nlinks)
        self.leftovers.extend((i if i < n else i + shift_dir, p) for i, p in leftovers)

    def tree(self) -> WsFile | WsDir | None:
        if self.kind is None:
            return None
        keys, new = self.keys, tuple.__new__
        if self.kind == "file":
            return WsFile(self.paths[0], new(StatKey, keys[:3]), self.execs[0], None, None,
                          self.nlinks[0])
        nodes = [WsDir(p) for p in self.dirs]
        for i in range(1, len(nodes)):
            parent = nodes[self.parents[i]]
            parent.dirs[self.dirs[i][len(parent.path) + 1 if parent.path else 0:]] = nodes[i]
        it = iter(keys)
        stat_keys = list(map(partial(new, StatKey), zip(it, it, it)))
        paths, execs, nlinks, nothing = self.paths, self.execs, self.nlinks, repeat(None)
        for node, start, end in zip(nodes, self.starts, self.ends):
            if start == end:
                continue
            cut = len(node.path) + 1 if node.path else 0
            here = paths[start:end]
            node.files = dict(zip([p[cut:] for p in here], map(
                WsFile, here, stat_keys[start:end], execs[start:end], nothing, nothing,
                nlinks[start:end])))
        for index, path in self.leftovers:
            nodes[index].leftovers.append(path)
        return nodes[0]


def file_size(f: WsFile) -> int:
    """The size of ``f`` when it was listed (for progress in bytes)."""
    return f.key[2]


def iter_leftovers(node: WsFile | WsDir | None) -> Iterator[RelPath]:
    """The temporary files of a killed mlvc run found below ``node``."""
    stack = [node] if isinstance(node, WsDir) else []
    while stack:
        d = stack.pop()
        yield from d.leftovers
        stack.extend(d.dirs.values())


def iter_files(node: WsFile | WsDir | None) -> Iterator[WsFile]:
    if node is None:
        return
    if isinstance(node, WsFile):
        yield node
        return
    stack = [node]
    while stack:
        d = stack.pop()
        yield from d.files.values()
        stack.extend(d.dirs.values())


def iter_dirs(node: WsFile | WsDir | None) -> Iterator[WsDir]:
    if not isinstance(node, WsDir):
        return
    stack = [node]
    while stack:
        d = stack.pop()
        yield d
        stack.extend(d.dirs.values())


def apply_state(files: list[WsFile], known: dict[RelPath, FileState]) -> list[WsFile]:
    """Fill oids from the state DB's rows; return the files that still need hashing."""
    todo = []
    get = known.get
    for f in files:
        rec = get(f.path)
        if rec is not None and rec[0] == f.key:
            f.oid = rec[1]
            f.link = rec[2]
        else:
            todo.append(f)
    return todo


def known_oids(state: StateDB, files: list[WsFile], under: Iterable[RelPath],
               linked: dict[str, StatKey] | None = None) -> list[WsFile]:
    """Fill oids from the state DB for ``files`` (all at or below the ``under`` paths);
    return the files that still need hashing.

    A file takes the oid of its path's row when (inode, mtime, size) match. One without such
    a row that has other names (a hard link) takes the oid of the verified cache object with
    its inode and stat: it is that object, so mlvc writes no row for the hard links it makes.
    ``linked``, when given, receives the oid and stat of each such file: its object's stat
    is its verification record, so the object is sound without another look (the object
    check would compare the same two keys, after loading every record again).
    """
    known: dict[RelPath, FileState] = {}
    if len(files) <= FEW_FILES:
        known = state.files_at(f.path for f in files)
    else:
        for path in under:
            known.update(state.files_under(path))
    todo = apply_state(files, known)
    shared = [f.key[0] for f in todo if f.nlink > 1]
    if not shared:
        return todo
    objects = state.objects_by_inode(shared)
    rest = []
    for f in todo:
        oid = objects.get(f.key) if f.nlink > 1 else None
        if oid is None:
            rest.append(f)
        else:
            f.oid, f.link = oid, "hardlink"
            if linked is not None:
                linked[oid] = f.key
    return rest


@dataclass(frozen=True, slots=True)
class Built:
    """The result of building a tracked path: its root entry and every tree made."""

    oid: str
    type: str
    size: int
    nfiles: int
    exec: bool
    trees: tuple[tuple[str, bytes], ...]  # (oid, manifest bytes), children first
    folders: tuple[tuple[RelPath, str], ...] = ()  # (path, tree oid) of each, in that order


def build(node: WsFile | WsDir, known: Mapping[RelPath, TreeEntry] | None = None) -> Built:
    """Compute tree manifests bottom-up (every file must have an oid).

    ``known`` are entries of sub-folders (by path) that are not in ``node`` but belong in
    it, as recorded before: their manifests are stored already, so none is made for them.
    """
    if isinstance(node, WsFile):
        assert node.oid is not None
        return Built(node.oid, "file", node.key[2], 1, node.exec, ())
    trees: list[tuple[str, bytes]] = []
    folders: list[tuple[RelPath, str]] = []
    entry = _build_dir(node, trees, folders, known or {})
    return Built(entry.oid, "dir", entry.size, entry.nfiles, False, tuple(trees),
                 tuple(folders))


def _build_dir(top: WsDir, trees: list[tuple[str, bytes]], folders: list[tuple[RelPath, str]],
               known: Mapping[RelPath, TreeEntry]) -> TreeEntry:
    """The entry of ``top``, its manifests (and every sub-folder's) appended to ``trees``
    and their paths to ``folders``, children first. A loop, not recursion: folders may nest
    deeper than Python's stack."""
    extra: dict[RelPath, list[TreeEntry]] = {}
    for path, entry in known.items():
        extra.setdefault(path.rpartition("/")[0], []).append(entry)
    built: dict[int, TreeEntry] = {}  # id of a folder -> its entry in its parent
    new = tuple.__new__  # (50,000 entries made without TreeEntry.__new__: 0.02-0.03 s less)
    stack: list[tuple[WsDir, bool]] = [(top, False)]
    while stack:
        node, children_done = stack.pop()
        if not children_done:
            stack.append((node, True))
            stack.extend((sub, False) for sub in reversed(node.dirs.values()))
            continue
        entries = [new(TreeEntry, (name, "file", f.oid or "", f.key[2], f.exec, 0))
                   for name, f in node.files.items()]
        entries.extend(built.pop(id(sub)) for sub in node.dirs.values())
        entries.extend(extra.get(node.path, ()))
        tree = Tree.build(entries)
        data = tree.to_bytes()
        oid = hash_bytes(data)
        trees.append((oid, data))
        folders.append((node.path, oid))
        name = node.path.rsplit("/", 1)[-1]
        built[id(node)] = TreeEntry(name, "dir", oid, tree.size, nfiles=tree.nfiles)
    return built[id(top)]
