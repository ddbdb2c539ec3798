"""Which objects the tracked outputs need: of the workspace, and of other git revisions.

Shared by push, fetch, pull and ``status --cloud``. Pointer files of other revisions are read
from git objects, without checking anything out. Trees are walked level by level: from the
local cache, or (for fetch) from the remote, so that a fresh clone can learn what a folder
holds one level at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from mlvc.errors import CorruptObjectError, FormatError, ObjectMissingError, TargetError
from mlvc.objects.tree import Tree
from mlvc.ops import user_targets
from mlvc.paths import RelPath, is_within, seen_from, typed_in
from mlvc.pipeline.model import LOCK_FILE
from mlvc.repo import Repo
from mlvc.workspace.index import Index
from mlvc.workspace.pointer import POINTER_SUFFIX, ImportSource, Out, UrlSource, parse_pointer

WORKSPACE = "workspace"


@dataclass(frozen=True, slots=True)
class Source:
    """One tracked output as some revision (or the workspace) records it."""

    rev: str
    pointer: RelPath
    out: Out
    within: RelPath = ""  # only this part of a folder output
    origin: ImportSource | UrlSource | None = None  # an imported output's (the workspace's)


class Obj(NamedTuple):
    path: RelPath  # where the object is checked out (a folder for a tree)
    size: int
    pointer: RelPath


@dataclass(slots=True)
class Objects:
    files: dict[str, Obj] = field(default_factory=dict)
    trees: dict[str, Obj] = field(default_factory=dict)
    children: dict[str, tuple[str, ...]] = field(default_factory=dict)  # tree -> entry oids
    unreadable: dict[str, tuple[Obj, str]] = field(default_factory=dict)  # trees: why
    # Trees not looked into (see ``expand``'s ``prune``): how many objects each folder holds.
    pruned: dict[str, int] = field(default_factory=dict)
    # When parts of folders were asked for: the trees at or below those parts, and all those
    # of whole outputs (``trees`` keeps every tree: push's completeness rule needs them).
    asked_trees: set[str] | None = None

    def all_oids(self) -> set[str]:
        return set(self.files) | set(self.trees)

    def where(self, oid: str) -> Obj | None:
        return self.files.get(oid) or self.trees.get(oid) or (
            self.unreadable[oid][0] if oid in self.unreadable else None)

    def object_count(self) -> int:
        """How many objects the sources need, counting each pruned folder's whole contents."""
        return len(self.files) + len(self.trees) + sum(n - 1 for n in self.pruned.values())

    def folder_counts(self, trees: Iterable[str]) -> dict[str, int]:
        """For each of ``trees``, how many distinct objects its folder holds (its manifest
        included); trees with an unreadable manifest below them are left out."""
        out: dict[str, int] = {}
        for root in trees:
            if root in self.pruned:
                continue
            count = 1
            for child in self.below(root):
                if child in self.unreadable:
                    break
                count += self.pruned.get(child, 1)
            else:
                out[root] = count
        return out

    def below(self, root: str) -> Iterator[str]:
        """Each distinct object below the tree ``root`` (at any depth, once), as far as
        expanding went (a pruned or unreadable folder has nothing below it here)."""
        seen = {root}
        stack = [root]
        while stack:
            for child in self.children.get(stack.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    yield child
                    stack.append(child)


def collect_sources(repo: Repo, targets: list[str] | None = None, cwd: Path | None = None, *,
                    all_branches: bool = False, all_tags: bool = False,
                    all_commits: bool = False, in_git: bool = False,
                    all_experiments: bool = False, revs: Sequence[str] = (),
                    workspace: bool = True, with_deps: bool = False,
                    traveling: bool = False
                    ) -> tuple[list[Source], list[str], RelPath | None]:
    """Tracked outputs of the workspace (unless not ``workspace``) and of the chosen
    revisions (``revs``: commit shas, besides); plus warnings, and the user's folder as a
    project path (for :func:`expand`'s messages). With ``in_git``, the chosen revisions'
    ``cache: false`` files too (see :func:`revision_outs`). ``traveling`` (push, fetch,
    ``status -c``): without the stage outputs a lock marks ``push: false``."""
    paths, here = user_targets(repo, targets or [], cwd, with_deps=with_deps)
    sources: list[Source] = []
    if workspace:
        index = Index.load(repo.root, repo.ignore, here=here)
        sources = [Source(WORKSPACE, s.tracked.pointer, s.tracked.out, s.within,
                          ptr.source if (ptr := index.pointers.get(s.tracked.pointer)) else None)
                   for s in index.select(paths, here) if s.tracked.pushed or not traveling]
    warnings: list[str] = []
    if not (all_branches or all_tags or all_commits or all_experiments or revs):
        return sources, warnings, here
    if repo.scm is None:
        raise FormatError("-a, -T and -A read other git revisions, and this project has no git",
                          hint="run without them")
    parsed: dict[str, list | None] = {}  # blob sha -> (out, cached, pushed, source)s, once
    seen = {(s.pointer, s.out, s.within) for s in sources}
    chosen = repo.scm.revisions(all_branches, all_tags, all_commits, all_experiments)
    for rev in dict.fromkeys([*chosen, *revs]):
        for path, out, origin in revision_outs(repo, rev, rev[:8], parsed, warnings,
                                               in_git=in_git, traveling=traveling):
            # A target inside a folder output asks for that part of it, in every revision.
            if not paths or any(is_within(out.path, t) for t in paths):
                parts = [""]
            else:
                parts = [t for t in paths if is_within(t, out.path)]
            for part in parts:
                if (path, out, part) not in seen:
                    seen.add((path, out, part))
                    # An import at another revision comes from its source at the commit
                    # recorded there too; a URL holds only what it holds now: the remote.
                    sources.append(Source(rev[:8], path, out, part, origin if isinstance(
                        origin, ImportSource) else None))
    return sources, warnings, here


def revision_outs(repo: Repo, rev: str, label: str, parsed: dict, warnings: list[str], *,
                  locks: bool = True, in_git: bool = False, traveling: bool = False
                  ) -> Iterator[tuple[RelPath, Out, ImportSource | UrlSource | None]]:
    """``(pointer file or mlvc.lock, output, its import source)`` of each output the commit
    ``rev`` records,
    read from git without a checkout: its pointer files', and with ``locks`` the cached
    outputs of its ``mlvc.lock`` (with ``in_git`` too, its files kept in git: ``cache:
    false``). ``parsed`` keeps each blob's reading across calls; a file that does not parse
    is left out, with a warning naming it as ``label:path``."""
    for path, blob in repo.scm.files_at(rev, (POINTER_SUFFIX, LOCK_FILE)):  # type: ignore[union-attr]
        is_lock = path.endswith(LOCK_FILE)
        if path.startswith(".mlvc/") or "/.mlvc/" in path or (is_lock and (
                path != LOCK_FILE or not locks)):
            continue
        if blob not in parsed:
            try:
                text = repo.scm.read_blob(blob).decode("utf-8")  # type: ignore[union-attr]
                if is_lock:
                    parsed[blob] = [(o, cached, pushed, None)
                                    for o, cached, pushed in _lock_outs(text)]
                else:
                    pointer = parse_pointer(text, path)
                    parsed[blob] = [(o, True, True, pointer.source) for o in pointer.outs]
            except (FormatError, UnicodeDecodeError) as exc:
                warnings.append(f"{label}:{path}: {getattr(exc, 'message', exc)} (skipped)")
                parsed[blob] = None
        for out, cached, pushed, origin in parsed[blob] or ():
            if traveling and not pushed:
                continue
            if cached or (in_git and out.type == "file"):
                yield path, out, origin


def _lock_outs(text: str) -> list[tuple[Out, bool, bool]]:
    """Each output a revision's ``mlvc.lock`` records, whether the cache keeps it (not an
    output kept in git, ``cache: false``), and whether it travels (not ``push: false``)."""
    from mlvc.pipeline.lockfile import parse_lock

    return [(o, o.path not in e.uncached, o.path not in e.unpushed)
            for e in parse_lock(text).values() for o in e.outs]


TreeGetter = Callable[[list[str]], dict[str, Tree | Exception]]


def expand(repo: Repo, sources: list[Source], get_trees: TreeGetter | None = None,
           prune: Callable[[Iterable[str]], dict[str, int]] | None = None,
           here: RelPath | None = None) -> Objects:
    """Every object the sources need: files, and the tree manifests of folders.

    A manifest missing from the cache is asked of ``get_trees`` (many at once); without one,
    or when that fails, the tree is *unreadable* and what lies below it is unknown.
    ``prune`` names, of a level's trees, those not to look into, each with how many objects
    its folder holds (push: folders the remote is known to have whole). A pruned tree is in
    ``trees`` with no children, and in ``pruned``. ``here``: the user's folder, for the
    paths an error shows.
    """
    objs = Objects()
    frontier: list[tuple[str, Obj]] = []
    valid: set[str] = set()
    for s in sources:
        if s.out.type == "file":
            objs.files.setdefault(s.out.oid, Obj(s.out.path, s.out.size, s.pointer))
        else:
            frontier.append((s.out.oid, Obj(s.out.path, s.out.size, s.pointer)))
    newly_valid: set[str] = set()
    narrowing = any(s.within for s in sources)
    listed: dict[str, Tree] = {}  # the manifests read, when parts are asked for (_restrict)
    while frontier:
        unique = {oid: obj for oid, obj in frontier if oid not in objs.trees
                  and oid not in objs.unreadable}
        frontier = []
        if prune is not None:
            for oid, count in prune(list(unique)).items():
                objs.trees[oid] = unique.pop(oid)
                objs.children[oid] = ()
                objs.pruned[oid] = count
        # Manifests validated before need only their hash checked: ask for a level at once.
        valid |= repo.state.valid_trees(oid for oid in unique if oid not in valid)
        trees: dict[str, Tree | Exception] = {}
        remote_wanted = []
        for oid in unique:
            if repo.cache.has(oid):
                try:
                    trees[oid] = repo.cache.read_tree(oid, validated=oid in valid)
                    newly_valid.add(oid)
                except (CorruptObjectError, ObjectMissingError) as exc:
                    trees[oid] = exc
            else:
                remote_wanted.append(oid)
        if remote_wanted:
            if get_trees is None:
                trees.update({o: ObjectMissingError("not in the cache") for o in remote_wanted})
            else:
                trees.update(get_trees(remote_wanted))
        for oid, obj in unique.items():
            tree = trees[oid]
            if isinstance(tree, Exception):
                objs.unreadable[oid] = (obj, _why(tree))
                continue
            objs.trees[oid] = obj
            objs.children[oid] = tuple(e.oid for e in tree.entries)
            if narrowing:
                listed[oid] = tree
            for e in tree.entries:
                path = f"{obj.path}/{e.name}"
                if e.is_dir:
                    frontier.append((e.oid, Obj(path, e.size, obj.pointer)))
                else:
                    objs.files.setdefault(e.oid, Obj(path, e.size, obj.pointer))
    repo.state.put_valid_trees(newly_valid - valid)
    if narrowing:
        _restrict(repo, objs, sources, listed, here)
    return objs


def _restrict(repo: Repo, objs: Objects, sources: list[Source],
              listed: dict[str, Tree], here: RelPath | None) -> None:
    """Narrow file objects to the ``within`` parts asked for (trees are kept, and those of the
    parts named in ``asked_trees``).

    Objects are met once per oid, under the first path that holds them, so a part is found
    by its names (``listed``: the manifests read, by oid), not by the paths in ``objs``: a
    part whose bytes are also elsewhere in the output needs them too. A part that its
    output's recorded tree does not hold is refused (a typo would push or fetch nothing,
    and say the remote has everything); one below a folder whose manifest is in neither
    place is let be (what lies there is unknown: fetch reports that folder).
    """
    keep: set[str] = set()
    for s in sources:
        if s.out.type == "file":
            keep.add(s.out.oid)
            continue
        oid: str | None = s.out.oid
        if s.within:
            oid = _part_oid(repo, s, listed, here)
        if oid is not None:
            keep.update((oid, *objs.below(oid)))
    objs.asked_trees = keep & objs.trees.keys()
    objs.files = {o: obj for o, obj in objs.files.items() if o in keep}


def _part_oid(repo: Repo, s: Source, listed: dict[str, Tree], here: RelPath | None
              ) -> str | None:
    """The oid of the part ``s.within`` of the folder output ``s.out``: a file's, or its
    folder's manifest; None when a manifest on the way can be read neither from what was
    read nor from the cache, or the revision's tree lacks it. Raises :class:`TargetError` when
    the workspace's recorded tree lacks it."""
    oid = s.out.oid
    names = s.within[len(s.out.path) + 1:].split("/")
    for depth, name in enumerate(names):
        tree = listed.get(oid)
        if tree is None:
            if not repo.cache.has(oid):
                return None
            try:
                tree = repo.cache.read_tree(oid)
            except (CorruptObjectError, ObjectMissingError):
                return None
        entry = next((e for e in tree.entries if e.name == name), None)
        if entry is None or (not entry.is_dir and depth < len(names) - 1):
            if s.rev != WORKSPACE:
                return None  # (a revision that lacks the part: nothing of it)
            raise TargetError(f"'{seen_from(s.within, here)}' is not recorded in "
                              f"{seen_from(s.pointer, here)}",
                              hint=f"`mlvc status {typed_in(s.out.path, here)}` shows what is "
                                   "there and what is recorded")
        oid = entry.oid
    return oid


def _why(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError | ObjectMissingError):
        return "missing"
    if isinstance(exc, CorruptObjectError):
        return "corrupt"
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__
