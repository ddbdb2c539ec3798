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
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from itertools import chain

import xxhash

from mlvc.objects.store import stat_objects
from mlvc.parallel import PROCESS_MIN_ITEMS, in_background
from mlvc.paths import RelPath
from mlvc.workspace.scan import Listing, Scanner, WsDir, WsFile, iter_files
from mlvc.workspace.state import RACY_NS, Mark, StateDB, StatKey
from mlvc.workspace.verify import stat_objects_split


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


def current_objects_digest(objects_dir: str, oids: Sequence[str], *,
                           split: bool = False) -> bytes | None:
    """``objects_digest`` of the objects as they are now; None if one is missing. With
    ``split``, many stats are split over two cores (see ``verify.stat_objects_split``)."""
    keys = (stat_objects_split if split else stat_objects)(objects_dir, oids)
    if None in keys:
        return None
    return objects_digest(objects_dir, oids, keys)  # type: ignore[arg-type]


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
    ws, newest = scan_digest(listing)
    if newest >= started - RACY_NS:
        return None
    linked = {f.oid for f in iter_files(node) if f.link == "hardlink" and f.nlink > 1
              and f.oid is not None and object_keys.get(f.oid) == f.key}
    objects = sorted(set(needed) - linked)
    if any(o not in object_keys for o in objects):
        return None
    keys = list(chain.from_iterable([object_keys[o] for o in objects]))
    return Mark(path, oid, ws, tuple(objects), objects_digest(objects_dir, objects, keys))


def objects_now(objects_dir: str, marks: Iterable[Mark]) -> dict[RelPath, bytes | None]:
    """``current_objects_digest`` of each mark's objects, by output path."""
    return {m.path: current_objects_digest(objects_dir, m.objects) for m in marks}


def still_clean(mark: Mark | None, oid: str, listing: Listing,
                objects_now: Callable[[], Mapping[RelPath, bytes | None]]) -> bool:
    """Whether ``listing`` (a fresh scan of the output) and the cache still match ``mark``.

    ``objects_now()`` gives the digest of the cache objects as they are now (see
    :func:`objects_now`); it is only asked for when the scan matches.
    """
    if mark is None or mark.oid != oid or listing.kind is None:
        return False
    if scan_digest(listing)[0] != mark.ws:
        return False
    return objects_now().get(mark.path) == mark.cache


def scan_by_marks(scanner: Scanner, state: StateDB, objects_dir: str,
                  items: Sequence[tuple[RelPath, str | None]], *, overlap: bool = True
                  ) -> tuple[list[Listing], list[bool]]:
    """Scan each ``(path, oid)`` and say whether it is clean by its mark: as it was when last
    found clean with the recorded ``oid`` (None: no mark to try, e.g. part of a folder).

    With ``overlap`` (when clean is the likely answer), the marked cache objects are stat'ed
    in a forked child while this process scans the workspace: the two bursts of system calls
    overlap on two cores. When the child has little to stat (hard-linked files are their own
    objects), or without ``overlap``, a big folder's scan may split over the two cores
    instead; without ``overlap`` the objects are stat'ed only for a scan that matches.
    """
    wanted = {path: oid for path, oid in items if oid is not None}
    marks = state.marks(wanted)
    current = [m for m in marks.values() if m.oid == wanted[m.path]]
    busy = overlap and sum(len(m.objects) for m in current) >= PROCESS_MIN_ITEMS
    if overlap:
        work = in_background(objects_now, objects_dir, current, fork=busy)
    else:
        later = _ObjectsLater(objects_dir, current)
        work = nullcontext(lambda: later)
    with work as objects:
        listings = [scanner.listing(path, split=not busy) for path, _ in items]
        clean = [oid is not None and still_clean(marks.get(path), oid, listing, objects)
                 for (path, oid), listing in zip(items, listings)]
    return listings, clean


class _ObjectsLater(Mapping[RelPath, "bytes | None"]):
    """:func:`objects_now` of each mark, worked out when first asked for, with the stats
    split over two cores."""

    def __init__(self, objects_dir: str, marks: Iterable[Mark]) -> None:
        self._dir = objects_dir
        self._marks = {m.path: m for m in marks}
        self._done: dict[RelPath, bytes | None] = {}

    def __getitem__(self, path: RelPath) -> bytes | None:
        if path not in self._done:
            self._done[path] = current_objects_digest(self._dir, self._marks[path].objects,
                                                      split=True)
        return self._done[path]

    def __iter__(self):
        return iter(self._marks)

    def __len__(self) -> int:
        return len(self._marks)
