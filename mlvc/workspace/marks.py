"""Clean marks: how a whole tracked output looked the last time it was found clean.

A mark holds two digests. ``ws`` covers the scan of the output (every folder; every file's
path, inode, mtime, size, executable bit and link count) and ``cache`` covers the stat of
every cache object the output needs, except those that are hard links of its workspace files
(their stat is part of ``ws`` already). If a new scan and new stats give the same digests, nothing
that the state DB and the object checks rely on has changed since the output was found
clean, so ``status`` may say "clean" without reading state rows, listings or verification
records: the same trust as the state DB's, taken in one step instead of 50,000.

A mark is written only when the newest file is older than the state DB's racy window (a file
changed again in the same timestamp tick must not be taken as unchanged), and it names the
output's recorded oid, so a changed pointer never matches an old mark.

Big outputs' sub-folders have marks of their own (see ``chunks``), each naming the folder's
recorded tree oid. They stand in for the folder's files, their objects and the folder's
manifests when the output's own mark fails. So do runs of the files of a folder too big to
be one such sub-folder, each mark naming that folder's recorded tree oid; a run stands in
for its files and their objects only.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import xxhash

from mlvc.objects.store import stat_objects
from mlvc.parallel import PROCESS_MIN_ITEMS, in_background
from mlvc.paths import RelPath
from mlvc.workspace.scan import Listing, Scanner, WsDir, WsFile, iter_files
from mlvc.workspace.state import RACY_NS, Mark, StateDB, StatKey


def scan_digest(listing: Listing) -> tuple[bytes, int]:
    """The digest of a scan and its newest file mtime.

    Paths never contain NUL and the counts come first, so the text is unambiguous; the stat
    numbers, exec bits and link counts follow as packed numbers.
    """
    keys = listing.keys
    text = "\0".join([f"{listing.kind}\0{len(listing.dirs)}\0{len(listing.paths)}",
                       *listing.dirs, *listing.paths])
    newest = max(keys[1::3], default=0)
    return _digest(text.encode("utf-8", "surrogateescape"), _numbers(keys),
                   bytes(listing.execs), _numbers(listing.nlinks)), newest


def objects_digest(objects_dir: str, oids: Sequence[str], keys: list[int]) -> bytes:
    """The digest of the objects ``oids`` and their stat ``keys``: (inode, mtime_ns, size)
    of each, three numbers per object."""
    text = "\0".join([objects_dir, str(len(oids)), *oids])
    return _digest(text.encode("utf-8", "surrogateescape"), _numbers(keys))


def _numbers(values: list[int]) -> bytes:
    """``values`` packed 8 bytes each (in C: ~3x faster than their decimal text), or as
    decimal text when one does not fit in a signed 64-bit number (an inode above 2**63)."""
    try:
        return b"q" + array("q", values).tobytes()
    except OverflowError:
        return b"r" + repr(values).encode()


def _digest(*parts: bytes) -> bytes:
    hasher = xxhash.xxh3_128()
    for part in parts:
        hasher.update(len(part).to_bytes(8, "little"))
        hasher.update(part)
    return hasher.digest()


def make_mark(path: RelPath, oid: str, listing: Listing, node: WsFile | WsDir | None,
              objects_dir: str, object_keys: Mapping[str, StatKey], needed: Iterable[str],
              started: int) -> Mark | None:
    """A mark for an output just found clean, or None when one would not be safe.

    ``node`` is ``listing.tree()`` with the state DB's link types filled in.
    ``object_keys`` must hold the verified stat of every ``needed`` object (files and
    manifests); files placed as hard links whose key equals their object's key are that
    object. ``started`` is when the operation began, before anything was read: a file
    whose mtime is not clearly older could have changed again within the same tick.
    """
    linked = {f.oid for f in iter_files(node) if f.link == "hardlink" and f.nlink > 1
              and f.oid is not None and object_keys.get(f.oid) == f.key}
    objects = sorted(set(needed) - linked)
    if any(o not in object_keys for o in objects):
        return None
    ws, newest = scan_digest(listing)
    if newest >= started - RACY_NS:
        return None
    keys = list(chain.from_iterable([object_keys[o] for o in objects]))
    return Mark(path, oid, ws, tuple(objects), objects_digest(objects_dir, objects, keys))


# Sub-folder marks. A mark is a statement about a path and the tree oid recorded for it,
# not about an output: "this folder, scanned like this, matched tree T, and its objects were
# sound". So a big output's sub-folders are marked too, each against its own recorded tree.
# When the output's own mark fails (one file edited among 50,000), the sub-folders whose
# marks still hold are clean and only the rest takes the full comparison; and a sub-folder's
# mark outlives a commit of a change elsewhere in the output, whose tree oid it keeps.
CHUNK_MAX = 4000  # a sub-folder is marked when it holds at most this many files…
CHUNK_MIN = 100  # …and at least this many (so a big output has at most ~1/100 as many marks)
# A folder too big to be a chunk has its own files cut into runs ("flat" chunks) of about
# this many, at names whose hash is a multiple of it: a file added or deleted moves no
# boundary but its own, so the other runs keep their marks.
RUN_EVERY = 1000


@dataclass(frozen=True, slots=True)
class Chunk:
    """A part of a listed output that gets a mark of its own (see ``chunks``): a sub-folder
    and everything below it, or (``flat``) a run of the files directly in one folder."""

    path: RelPath  # the mark's key: the sub-folder, or "<folder>//<first file's name>"
    dirs: tuple[int, ...]  # the positions in ``listing.dirs`` of it and every folder below
    start: int  # its files (and all below it) are ``listing.paths[start:end]``
    end: int
    flat: bool = False  # a run of files of the folder ``dirs[0]``, without its sub-folders

    def folder(self, listing: Listing) -> RelPath:
        """The folder whose recorded tree the chunk's mark names."""
        return listing.dirs[self.dirs[0]]


def chunks(listing: Listing) -> list[Chunk]:
    """The largest sub-folders of a listed folder that hold at most ``CHUNK_MAX`` files
    (counting everything below them), of those that hold at least ``CHUNK_MIN``.

    The walk lists a folder's files and then everything below it before anything else, so a
    sub-folder's files are one run of ``listing.paths``; and a folder comes after its parent
    in ``listing.dirs``. Two passes over the folders, whatever their number.
    """
    if listing.kind != "dir" or len(listing.paths) <= CHUNK_MAX:
        return []
    dirs, parents, starts = listing.dirs, listing.parents, listing.starts
    end = list(listing.ends)  # becomes the end of each folder's whole run
    for i in range(len(dirs) - 1, 0, -1):
        p = parents[i]
        if end[i] > end[p]:
            end[p] = end[i]
    # Each folder's chunk (its position in ``found``), -2 inside a folder too small to mark,
    # -1 in none (a folder holding more than CHUNK_MAX).
    owner = [-1] * len(dirs)
    found: list[list[int]] = []
    for i in range(1, len(dirs)):
        above = owner[parents[i]]
        if above != -1:
            owner[i] = above
            if above >= 0:
                found[above].append(i)
        elif end[i] - starts[i] <= CHUNK_MAX:
            if end[i] - starts[i] >= CHUNK_MIN:
                owner[i] = len(found)
                found.append([i])
            else:
                owner[i] = -2
    out = [Chunk(dirs[k[0]], tuple(k), starts[k[0]], end[k[0]]) for k in found]
    for i in range(len(dirs)):
        if owner[i] == -1 and listing.ends[i] - starts[i] >= max(CHUNK_MIN, 1):
            out += _runs(listing, i)
    return out


def _runs(listing: Listing, i: int) -> list[Chunk]:
    """The files directly in the folder ``listing.dirs[i]`` as flat chunks: runs of at least
    ``CHUNK_MIN`` files (but the last) and at most ``CHUNK_MAX``, each starting at a name
    whose hash is a multiple of ``RUN_EVERY`` where it can."""
    folder, paths = listing.dirs[i], listing.paths
    cut = len(folder) + 1
    a, b = listing.starts[i], listing.ends[i]
    hash_of, every = xxhash.xxh3_64_intdigest, RUN_EVERY
    bounds = [a]
    for j in range(a + max(CHUNK_MIN, 1), b):
        if j - bounds[-1] >= CHUNK_MAX or (
                j - bounds[-1] >= CHUNK_MIN
                and not hash_of(paths[j][cut:].encode("utf-8", "surrogateescape")) % every):
            bounds.append(j)
    bounds.append(b)
    return [Chunk(f"{folder}//{paths[s][cut:]}", (i,), s, e, flat=True)
            for s, e in zip(bounds, bounds[1:])]


def sub_listing(listing: Listing, chunk: Chunk) -> Listing:
    """The part of ``listing`` at and below ``chunk``: what a scan of that folder gives (of
    a flat chunk: that scan with only the chunk's files)."""
    if chunk.flat:
        a, b = chunk.start, chunk.end
        return Listing("dir", [chunk.folder(listing)], [-1], [0], [b - a], listing.paths[a:b],
                       listing.keys[3 * a:3 * b], listing.execs[a:b], listing.nlinks[a:b])
    keep = chunk.dirs
    where = {old: new for new, old in enumerate(keep)}
    a, b = chunk.start, chunk.end
    return Listing("dir", [listing.dirs[i] for i in keep],
                   [where.get(listing.parents[i], -1) for i in keep],
                   [listing.starts[i] - a for i in keep], [listing.ends[i] - a for i in keep],
                   listing.paths[a:b], listing.keys[3 * a:3 * b], listing.execs[a:b],
                   listing.nlinks[a:b])


def without(listing: Listing, gone: Sequence[Chunk]) -> Listing:
    """``listing`` less the files and folders below the chunks ``gone``, whose folders
    stay, empty: what a full comparison still needs when those chunks are clean. Temporary
    files of a killed run below them move up to the chunk's folder, so that checkout still
    deletes them."""
    if not gone:
        return listing
    runs = sorted((c.start, c.end) for c in gone)
    ends, cut = [], [0]  # cut[k]: files in the first k runs
    for a, b in runs:
        ends.append(b)
        cut.append(cut[-1] + b - a)

    def shift(p: int) -> int:  # a file position outside the runs (or a run's start)
        return p - cut[bisect_right(ends, p)]

    owner = {}  # a dropped folder -> its chunk's folder
    for c in gone:
        owner.update(dict.fromkeys(c.dirs[1:], c.dirs[0]))
    roots = {c.dirs[0] for c in gone if not c.flat}  # folders left empty
    out = Listing("dir")
    new_index: dict[int, int] = {}
    for i, path in enumerate(listing.dirs):
        if i in owner:
            continue
        new_index[i] = len(out.dirs)
        out.dirs.append(path)
        out.parents.append(new_index[listing.parents[i]] if i else -1)
        start = shift(listing.starts[i])
        out.starts.append(start)
        out.ends.append(start if i in roots else shift(listing.ends[i]))
    pos = 0
    for a, b in [*runs, (len(listing.paths), len(listing.paths))]:
        out.paths += listing.paths[pos:a]
        out.keys += listing.keys[3 * pos:3 * a]
        out.execs += listing.execs[pos:a]
        out.nlinks += listing.nlinks[pos:a]
        pos = b
    out.leftovers = [(new_index[owner.get(i, i)], p) for i, p in listing.leftovers]
    return out


def node_at(node: WsDir, path: RelPath) -> WsDir:
    """The folder node at ``path``: ``node`` itself or a folder below it."""
    if path == node.path:
        return node
    for name in path[len(node.path) + 1:].split("/"):
        node = node.dirs[name]
    return node


def chunk_marks(listing: Listing, node: WsDir, todo: Iterable[Chunk],
                folder_oids: Mapping[RelPath, str], objects_dir: str,
                object_keys: Mapping[str, StatKey], started: int) -> list[Mark]:
    """Marks for the chunks ``todo`` of an output just found clean (or of the part of it
    that holds them), each against its tree oid in ``folder_oids`` (the tree oid of every
    folder of the output, as recorded): see :func:`make_mark`, whose conditions apply to
    each. ``node`` is ``listing.tree()`` with oids and link types filled in; a chunk with a
    file of unknown oid, or a folder of unknown tree, is left unmarked.

    A sub-folder's mark covers its manifests too (``object_keys`` must hold them), so that
    a commit that reuses the chunk's recorded tree (``build(known=…)``) finds them stored.
    A run's mark covers its files and their objects, and names its folder's tree oid."""
    out = []
    for c in todo:
        if c.flat:  # its files, without the folder's manifest (a commit makes that again)
            here = node_at(node, c.folder(listing))
            cut = len(here.path) + 1
            sub = WsDir(here.path, {p[cut:]: here.files[p[cut:]]
                                    for p in listing.paths[c.start:c.end]})
            needed = {f.oid for f in sub.files.values()}
            tree = folder_oids.get(here.path)
        else:
            sub = node_at(node, c.path)
            needed = {f.oid for f in iter_files(sub)}
            needed.update(folder_oids.get(listing.dirs[i]) for i in c.dirs)
            tree = folder_oids.get(c.path)
        if None in needed or tree is None:
            continue
        mark = make_mark(c.path, tree, sub_listing(listing, c), sub,
                         objects_dir, object_keys, needed, started)  # type: ignore[arg-type]
        if mark is not None:
            out.append(mark)
    return out


def output_marks(path: RelPath, oid: str, listing: Listing, node: WsDir,
                 folder_oids: Mapping[RelPath, str], objects_dir: str,
                 object_keys: Mapping[str, StatKey], needed: Iterable[str], started: int,
                 held: Collection[RelPath] = ()) -> list[Mark]:
    """The mark of a whole output just found clean (see :func:`make_mark`) and, when it is
    made, those of its chunks (see :func:`chunk_marks`) but the ``held`` ones, whose marks
    hold already."""
    mark = make_mark(path, oid, listing, node, objects_dir, object_keys, needed, started)
    if mark is None:
        return []
    todo = [c for c in chunks(listing) if c.path not in held]
    return [mark, *chunk_marks(listing, node, todo, folder_oids, objects_dir, object_keys,
                               started)]


Taken = tuple[bytes, "bytes | list[int]"]  # (digest of objects' stat, that stat packed)


def objects_now(objects_dir: str, marks: Iterable[Mark]) -> dict[RelPath, Taken | None]:
    """For each mark (by output path), the digest of its objects' stat as they are now, to
    compare with ``Mark.cache``, and that stat, packed (see :func:`unpack_stat`); None for a
    mark one of whose objects is missing. The digest is worked out here, in the forked child
    that ``scan_by_marks`` runs this in, beside the scan."""
    out: dict[RelPath, Taken | None] = {}
    for m in marks:
        keys = stat_objects(objects_dir, m.objects)
        out[m.path] = None if None in keys else _taken(objects_dir, m, keys)  # type: ignore
    return out


def _taken(objects_dir: str, mark: Mark, keys: list[int]) -> Taken:
    try:
        packed: bytes | list[int] = array("q", keys).tobytes()
    except OverflowError:  # an inode above 2**63: kept as numbers
        packed = keys
    return objects_digest(objects_dir, mark.objects, keys), packed


def unpack_stat(packed: bytes | list[int]) -> list[int]:
    """The stat numbers that :func:`objects_now` packed."""
    if isinstance(packed, list):
        return packed
    numbers = array("q")
    numbers.frombytes(packed)
    return numbers.tolist()


def still_clean(mark: Mark | None, oid: str, listing: Listing,
                objects_now: Callable[[], Mapping[RelPath, Taken | None]]) -> bool:
    """Whether ``listing`` (a fresh scan of the output) and the cache still match ``mark``.

    ``objects_now()`` gives the digest of the cache objects' stat as it is now (see
    :func:`objects_now`); it is only asked for when the scan matches.
    """
    if mark is None or mark.oid != oid or listing.kind is None:
        return False
    if scan_digest(listing)[0] != mark.ws:
        return False
    now = objects_now().get(mark.path)
    return now is not None and now[0] == mark.cache


def scan_by_marks(scanner: Scanner, state: StateDB, objects_dir: str,
                  items: Sequence[tuple[RelPath, str | None]], *,
                  stats: dict[str, tuple[int, int, int]] | None = None,
                  sound: dict[str, StatKey] | None = None
                  ) -> tuple[list[Listing], list[bool]]:
    """Scan each ``(path, oid)`` and say whether it is clean by its mark: as it was when last
    found clean with the recorded ``oid`` (None: no mark to try, e.g. part of a folder).

    The marked cache objects are stat'ed in a forked child while this process scans the
    workspace: the two bursts of system calls overlap on two cores. When the child has
    little to stat (hard-linked files are their own objects), a big folder's scan may split
    over the two cores instead.

    ``stats``, when given and a path is not clean, receives the stat of the marked objects
    that the child took (oid -> (inode, mtime_ns, size)), for the full comparison to reuse:
    only when the outputs not clean hold ``PROCESS_MIN_ITEMS`` files or more. ``sound``
    then receives those of a mark whose objects' digest still holds (changed files in the
    workspace, the objects as they were): as sound as when the mark was made, they need no
    verification record read (50,000: 0.1 s).
    """
    wanted = {path: oid for path, oid in items if oid is not None}
    marks = state.marks(wanted)
    current = [m for m in marks.values() if m.oid == wanted[m.path]]
    busy = sum(len(m.objects) for m in current) >= PROCESS_MIN_ITEMS
    with in_background(objects_now, objects_dir, current, fork=busy) as objects:
        listings = [scanner.listing(path, split=not busy) for path, _ in items]
        clean = [oid is not None and still_clean(marks.get(path), oid, listing, objects)
                 for (path, oid), listing in zip(items, listings)]
        # The objects' stat saves stat calls for the files of a marked output that is there
        # but changed. One gone from the workspace (deleted before a checkout), or nearly,
        # has no use for it: the child is not waited for (on 50,000 objects: 0.25 s).
        held = {m.path for m in current}
        present = sum(len(listing.paths) for (path, _), listing, ok
                      in zip(items, listings, clean) if not ok and path in held)
        if stats is not None and busy and present >= PROCESS_MIN_ITEMS:
            taken = objects()
            new = tuple.__new__
            for m in current:
                now = taken.get(m.path)
                if now is not None:
                    numbers = unpack_stat(now[1])
                    keys = [new(StatKey, t) for t in zip(*[iter(numbers)] * 3)]
                    stats.update(zip(m.objects, keys))
                    if sound is not None and now[0] == m.cache:
                        sound.update(zip(m.objects, keys))
    return listings, clean
