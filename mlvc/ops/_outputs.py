"""Steps shared by status and checkout: read what was recorded, look at the workspace."""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

from mlvc.errors import CorruptObjectError, MlvcError, ObjectMissingError, TargetError
from mlvc.objects.tree import TreeEntry
from mlvc.parallel import run_batched
from mlvc.paths import RelPath, seen_from, typed_in
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace.compare import (
    Recorded,
    WsView,
    ancestors,
    decode_listing,
    encode_listing,
    flatten,
    restrict_many,
    tree_entries_at,
)
from mlvc.workspace.importer import Importer
from mlvc.workspace.index import Selected
from mlvc.workspace.marks import (
    Chunk,
    chunk_marks,
    chunks,
    objects_digest,
    scan_digest,
    sub_listing,
    without,
)
from mlvc.workspace.pointer import Out
from mlvc.workspace.scan import Listing, WsDir, WsFile, file_size, known_oids
from mlvc.workspace.state import Mark, StatKey
from mlvc.workspace.verify import stat_objects_split


@dataclass(frozen=True, slots=True)
class Loaded:
    selected: Selected
    recorded: Recorded | None
    problem: str | None  # why the recorded tree could not be read
    tree_missing: bool = False  # that is, its manifest is not in the cache

    @property
    def whole(self) -> Out | None:
        """The recorded output, when it was read and is selected whole (not a part)."""
        if self.recorded is None or self.selected.within:
            return None
        return self.selected.tracked.out


class _ValidTrees:
    """``oid in valid`` asks the state DB about that one manifest (lazily, as trees are read)."""

    def __init__(self, repo: Repo) -> None:
        self.state = repo.state

    def __contains__(self, oid: object) -> bool:
        return isinstance(oid, str) and bool(self.state.valid_trees([oid]))


def valid_trees(repo: Repo) -> Container[str]:
    """The manifests that passed validation before, asked of the state DB one by one."""
    return _ValidTrees(repo)


def load_recorded(repo: Repo, selected: list[Selected]) -> list[Loaded]:
    """The recorded tree of each selection, restricted to its part. Parts of one output
    (several targets inside one folder) share one reading of its tree."""
    validated = _ValidTrees(repo)
    read: set[str] = set()
    groups: dict[tuple[RelPath, RelPath, str], list[int]] = {}
    for i, s in enumerate(selected):
        out = s.tracked.out
        groups.setdefault((s.tracked.pointer, out.path, out.oid), []).append(i)
    loaded: dict[int, Loaded] = {}
    for members in groups.values():
        first = selected[members[0]]
        try:
            full = _flatten_cached(repo, first, validated)
        except ObjectMissingError as exc:
            problem, missing = f"not in cache ({exc.message.split(' is ')[0]})", True
        except CorruptObjectError as exc:
            problem, missing = f"corrupt in cache ({exc.message})", False
        else:
            read |= full.trees
            parts = restrict_many(full, [selected[i].within for i in members])
            loaded.update((i, Loaded(selected[i], part, None)) for i, part in zip(members, parts))
            continue
        loaded.update((i, Loaded(selected[i], None, problem, missing)) for i in members)
    repo.state.put_valid_trees(read)  # every manifest read has passed validation by now
    return [loaded[i] for i in range(len(selected))]


def holds_recorded(repo: Repo, unread: list[Loaded], jobs: int,
                   progress: Progress = NULL_PROGRESS) -> list[bool]:
    """For whole outputs whose recorded tree the cache lacks and whose workspace is there:
    whether the workspace holds that very data (as after ``add --no-commit``). Found by the
    workspace's own oid, hashing what the state DB does not know; nothing is stored."""
    if not unread:
        return []
    from mlvc.ops.commit import store_paths

    now = store_paths(repo, [i.selected.tracked.out.path for i in unread], save=False,
                      jobs=jobs, progress=progress)
    return [st.out is not None and st.out.oid == i.selected.tracked.out.oid
            for i, st in zip(unread, now)]


def refuse_unknown_parts(compared: Sequence[tuple[Loaded, WsView]],
                         here: RelPath | None) -> None:
    """Refuse a target inside a tracked folder that is neither in the workspace nor
    recorded there: a typo would otherwise be "up to date", or a checkout with nothing to
    do. (``here``: the user's folder, for the paths shown.)"""
    for item, ws in compared:
        s, rec = item.selected, item.recorded
        if s.within and rec is not None and not (rec.files or rec.dirs or ws.files or ws.dirs):
            pointer = seen_from(s.tracked.pointer, here)
            raise TargetError(f"'{seen_from(s.within, here)}' is neither in the workspace nor "
                              f"recorded in {pointer}",
                              hint=f"`mlvc status {typed_in(s.tracked.out.path, here)}` shows "
                                   "what is there and what is recorded")


def _flatten_cached(repo: Repo, s: Selected, validated: Container[str]) -> Recorded:
    """Flatten an output's recorded tree, through the state DB's cache of listings.

    A listing is keyed by the tree's oid, so it can never be stale. The manifests' bytes are
    still required to be in the cache: a listing never stands in for a missing object.
    """
    out = s.tracked.out
    if out.type != "dir":
        return flatten(repo.cache, out, validated)
    cached = repo.state.listing(out.oid)
    if cached is not None:
        rec = decode_listing(cached, out.path)
        if all(repo.cache.exists(t) for t in rec.trees):
            return rec
    rec = flatten(repo.cache, out, validated)
    repo.state.put_listing(out.oid, encode_listing(rec, out.path))
    return rec


def resolve(repo: Repo, files: list[WsFile], under: list[RelPath], jobs: int,
            progress: Progress = NULL_PROGRESS,
            linked: dict[str, StatKey] | None = None) -> None:
    """Give ``files`` oids (state DB first, then hashing) and remember what was hashed.
    ``linked`` receives the objects that hard-linked files proved sound (see known_oids)."""
    if not files:
        return
    todo = known_oids(repo.state, files, under, linked)
    hasher = Importer(repo.root, repo.cache, repo.linker, save=False)
    rows = []
    for f, imp in zip(todo, run_batched(todo, hasher.run, jobs, progress, "Hashing",
                                              size=file_size)):
        f.oid = imp.oid
        f.key = imp.state.key  # as it was when read (the scan may be older)
        rows.append((f.path, imp.state))
    repo.state.put_files(rows)


class Parts:
    """The sub-folders of one output that have marks of their own (``marks.chunks``): which
    are still clean by them, to be left out of a comparison (status) or a plan (checkout),
    and which to mark anew."""

    def __init__(self, chunks: Sequence[Chunk] = (),
                 entries: dict[RelPath, TreeEntry] | None = None,
                 clean: dict[RelPath, tuple[str, ...]] | None = None,
                 stats: dict[str, tuple[int, int, int]] | None = None,
                 left_out: set[RelPath] | None = None) -> None:
        self.chunks = list(chunks)
        self.entries = entries or {}  # each chunk's entry in the recorded tree
        # The chunks still clean by their marks, with the marks' objects.
        self.clean = clean or {}
        self._stats = stats or {}  # the objects' stat that the clean chunks were found with
        # The files and folders below the clean chunks: the same in the workspace and in
        # the recorded tree, since they are clean.
        self.left_out = left_out or set()

    @property
    def objects(self) -> set[str]:
        """The cache objects of the clean chunks' marks."""
        return {o for objs in self.clean.values() for o in objs}

    @property
    def keys(self) -> dict[str, tuple[int, int, int]]:
        """The stat of :attr:`objects`, as the clean chunks' marks have it (sound)."""
        return {o: self._stats[o] for o in self.objects}

    @classmethod
    def of(cls, repo: Repo, out: Out | None, listing: Listing,
           stats: dict[str, tuple[int, int, int]], flat: bool = True) -> Parts:
        """The chunks of the ``listing`` of a whole output recorded as ``out`` (None: no
        chunks), and which are clean by their marks; without ``flat``, only sub-folders.
        ``stats`` may hold the objects' stat taken during the scan (``scan_by_marks``)."""
        if out is None or out.type != "dir":
            return cls()
        found = [c for c in chunks(listing) if flat or not c.flat]
        if not found:
            return cls()
        folders = {c.folder(listing) for c in found} - {out.path}
        try:  # (the output's own runs need no manifest read: its tree oid is recorded)
            entries = tree_entries_at(repo.cache, out.path, out.oid, folders,
                                      valid_trees(repo)) if folders else {}
        except MlvcError:  # a manifest is missing or corrupt: the full comparison says so
            return cls(found)
        tree_oids = {p: e.oid for p, e in entries.items()}
        tree_oids[out.path] = out.oid
        trees = {c.path: tree_oids[f] for c in found if (f := c.folder(listing)) in tree_oids}
        marks = repo.state.marks(trees)
        maybe = []
        for c in found:
            m = marks.get(c.path)
            if m is not None and m.oid == trees[c.path]:
                sub = sub_listing(listing, c)
                if scan_digest(sub)[0] == m.ws:
                    maybe.append((c, m, sub))
        # The objects' stat: as the scan's child took it, or taken now.
        unknown = sorted({o for _, m, _ in maybe for o in m.objects if o not in stats})
        if unknown:
            taken = stat_objects_split(str(repo.cache.objects_dir), unknown)
            stats = {**stats, **{o: tuple(taken[3 * n:3 * n + 3])
                                 for n, o in enumerate(unknown) if taken[3 * n] is not None}}
        clean, left_out = {}, set()
        objects_dir = str(repo.cache.objects_dir)
        for c, m, sub in maybe:
            keys = list(map(stats.get, m.objects))
            if None not in keys and objects_digest(
                    objects_dir, m.objects, list(chain.from_iterable(keys))) == m.cache:
                clean[c.path] = m.objects
                left_out.update(sub.paths)
                left_out.update(sub.dirs[1:])
        return cls(found, entries, clean, stats, left_out)

    def rest_of(self, listing: Listing) -> Listing:
        """``listing`` without what lies in the clean chunks (their folders stay, empty)."""
        return without(listing, [c for c in self.chunks if c.path in self.clean])

    def leave_out_recorded(self, rec: Recorded | None) -> Recorded | None:
        """``rec`` without what lies in the clean chunks (their folders stay)."""
        if rec is None or not self.left_out:
            return rec
        out = self.left_out
        return Recorded({p: w for p, w in rec.files.items() if p not in out},
                        frozenset(d for d in rec.dirs if d not in out), rec.trees,
                        rec.dir_oids)

    def new_marks(self, listing: Listing, node: WsDir, dirty: list[RelPath],
                  objects_dir: str, keys: Mapping[str, StatKey], started: int,
                  rec: Recorded) -> list[Mark]:
        """Marks for the chunks that were compared and found clean against the recorded
        tree ``rec`` (none holds a path of ``dirty``: a change, or a file whose object is
        missing or corrupt)."""
        held = {p.rstrip("/") for p in dirty}
        spoilt = held | ancestors(held)
        # A flat chunk holds only its files: one that was deleted is not in it (and stays
        # outside every chunk, so the next comparison finds it missing again).
        todo = [c for c in self.chunks if c.path not in self.clean and (
            held.isdisjoint(listing.paths[c.start:c.end]) if c.flat else c.path not in spoilt)]
        if not todo or rec.dir_oids is None:
            return []
        return chunk_marks(listing, node, todo, rec.dir_oids, objects_dir, keys, started)
