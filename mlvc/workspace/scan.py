"""Walking the workspace, resolving file oids through the state DB, and building trees.

``Scanner.scan`` lists a tracked path (one ``lstat`` per entry, honouring ``.mlvcignore``).
``apply_state`` fills in oids from the state DB where (inode, mtime, size) still match;
the rest are hashed with ``mlvc.parallel.run_batched``. ``build`` then computes the tree
manifests bottom-up.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mlvc.errors import PathError, TargetError
from mlvc.objects.oid import hash_bytes
from mlvc.objects.tree import Tree, TreeEntry
from mlvc.paths import RelPath, to_fs
from mlvc.workspace.ignore import ALWAYS_IGNORED, IgnoreRules
from mlvc.workspace.state import FileState, StatKey, stat_key

_S_IFMT, _S_IFREG = 0o170000, stat.S_IFREG
TMP_MARK = ".mlvc-tmp."
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


def _inside(real: str, roots: tuple[str, ...]) -> bool:
    return any(real == r or real.startswith(r + os.sep) for r in roots)


class Scanner:
    """Lists workspace paths. ``allowed`` are the real folders a symlink may lead into."""

    def __init__(self, root: Path, ignore: IgnoreRules, allowed: tuple[Path, ...]) -> None:
        self.root = root
        self.ignore = ignore
        self.allowed = tuple(os.path.realpath(p) for p in allowed)

    def scan(self, path: RelPath) -> WsFile | WsDir | None:
        """The file or directory at ``path``, or None when nothing is there."""
        fs_path = to_fs(self.root, path)
        try:
            st = os.lstat(fs_path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISLNK(st.st_mode):
            return self._symlink(path, str(fs_path))
        if stat.S_ISDIR(st.st_mode):
            return self._scan_dir(path)
        if stat.S_ISREG(st.st_mode):
            return WsFile(path, stat_key(st), bool(st.st_mode & stat.S_IXUSR), nlink=st.st_nlink)
        raise TargetError(f"'{path}' is not a regular file or directory")

    def _symlink(self, path: RelPath, fs_path: str) -> WsFile:
        real = os.path.realpath(fs_path)
        if not _inside(real, self.allowed):
            raise PathError(f"'{path}' is a symlink that leads outside the project ({real})",
                            hint="replace the link with the file itself, or move the target in")
        try:
            st = os.stat(fs_path)
        except FileNotFoundError:
            raise TargetError(f"'{path}' is a broken symlink") from None
        if not stat.S_ISREG(st.st_mode):
            raise TargetError(f"'{path}' is a symlink to a directory, which mlvc does not follow",
                              hint="track the directory it points to instead")
        return WsFile(path, stat_key(st), bool(st.st_mode & stat.S_IXUSR), nlink=st.st_nlink)

    def _scan_dir(self, path: RelPath) -> WsDir:
        top = WsDir(path)
        stack = [top]
        new = tuple.__new__
        while stack:
            node = stack.pop()
            active = self.ignore.active_for(node.path)
            folder = str(to_fs(self.root, node.path))
            # Listing through a descriptor makes each entry's stat relative to it (fstatat):
            # a shorter path walk per file than the full path.
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                with os.scandir(fd) as it:
                    entries = list(it)
                for entry in entries:
                    name = entry.name
                    if name in ALWAYS_IGNORED:
                        continue
                    child = f"{node.path}/{name}" if node.path else name
                    if TMP_MARK in name and is_leftover(name):
                        node.leftovers.append(child)
                        continue
                    if entry.is_symlink():
                        if active and IgnoreRules.matches(active, child, False):
                            continue
                        node.files[name] = self._symlink(child, f"{folder}/{name}")
                        continue
                    is_dir = entry.is_dir(follow_symlinks=False)
                    if active and IgnoreRules.matches(active, child, is_dir):
                        continue
                    if is_dir:
                        sub = WsDir(child)
                        node.dirs[name] = sub
                        stack.append(sub)
                        continue
                    st = entry.stat(follow_symlinks=False)
                    if st.st_mode & _S_IFMT != _S_IFREG:
                        raise TargetError(f"'{child}' is not a regular file or directory")
                    node.files[name] = WsFile(
                        child, new(StatKey, (st.st_ino, st.st_mtime_ns, st.st_size)),
                        bool(st.st_mode & 0o100), None, None, st.st_nlink)
            finally:
                os.close(fd)
        return top


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
    """Fill oids from the state DB; return the files that still need hashing."""
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


@dataclass(frozen=True, slots=True)
class Built:
    """The result of building a tracked path: its root entry and every tree made."""

    oid: str
    type: str
    size: int
    nfiles: int
    exec: bool
    trees: tuple[tuple[str, bytes], ...]  # (oid, manifest bytes), children first


def build(node: WsFile | WsDir) -> Built:
    """Compute tree manifests bottom-up (every file must have an oid)."""
    if isinstance(node, WsFile):
        assert node.oid is not None
        return Built(node.oid, "file", node.key[2], 1, node.exec, ())
    trees: list[tuple[str, bytes]] = []
    entry = _build_dir(node, trees)
    return Built(entry.oid, "dir", entry.size, entry.nfiles, False, tuple(trees))


def _build_dir(node: WsDir, trees: list[tuple[str, bytes]]) -> TreeEntry:
    entries = [TreeEntry(name, "file", f.oid or "", f.key[2], exec=f.exec)
               for name, f in node.files.items()]
    entries.extend(_build_dir(sub, trees) for sub in node.dirs.values())
    tree = Tree.build(entries)
    data = tree.to_bytes()
    oid = hash_bytes(data)
    trees.append((oid, data))
    name = node.path.rsplit("/", 1)[-1]
    return TreeEntry(name, "dir", oid, tree.size, nfiles=tree.nfiles)
