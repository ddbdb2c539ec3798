"""A remote object store on any fsspec filesystem (local folder, S3, memory, GCS, SSH…).

Layout as in SPEC 2.1: ``<root>/objects/<oid[:2]>/<oid[2:]>``, plus ``<root>/mlvc-epoch``, a
token that ``gc`` renews so that local indexes of the remote know to start again.

Callers see objects, never paths: :meth:`Remote.contains`, :meth:`Remote.upload`,
:meth:`Remote.download` and :meth:`Remote.read_object`. Packs (SPEC 2.1, see
:mod:`mlvc.remote.packs`) sit behind them: ``upload`` bundles small objects into packs, and
every reader finds an object loose or in a pack.

Every request goes through :func:`with_retries`. Uploads appear atomically: object stores
publish an upload whole; on filesystems (a local or NFS folder, SFTP) the bytes go to a
temporary name that is renamed into place. Every download is re-hashed before it enters the
cache; bytes that do not match their oid are dropped and reported.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import posixpath
import queue
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import xxhash

from mlvc.errors import NO_SPACE, CorruptObjectError, FormatError, is_no_space
from mlvc.fsutil import NewFile, atomic_write, copy_fd
from mlvc.objects.oid import CHUNK_SIZE, hash_bytes, hash_file, is_oid
from mlvc.objects.store import OBJECT_MODE, ObjectStore
from mlvc.parallel import PROCESS_MIN_ITEMS, Codec, run_batched, threaded
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.remote import packs as pk
from mlvc.remote.retry import with_retries, with_retries_async
from mlvc.workspace.links import SMALL_FILE
from mlvc.workspace.state import StatKey, stat_key

# Object stores publish an upload whole; anything else gets a temporary name and a rename.
WHOLE_UPLOAD_PROTOCOLS = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory", "oss"}
EPOCH_NAME = "mlvc-epoch"
DELETE_BATCH = 1000  # objects per delete request (S3's DeleteObjects takes at most 1000)
SMALL = 16 << 20  # objects up to this size are read in one request
# Larger objects are few, and each may buffer parts in memory: only this many move at once.
LARGE_IN_FLIGHT = 2
# S3 multipart uploads: part size and parts in flight per object (~200 MB resident at most,
# against ~1 GB with s3fs's defaults of 50 MiB x 10).
S3_PART = 16 << 20
S3_PARTS_IN_FLIGHT = 4
S3_MAX_PARTS = 10_000
PACK_READS_IN_FLIGHT = 4  # reads of packs at once: each holds up to packs.RANGE_BYTES
PACK_WRITES_IN_FLIGHT = 2  # packs built and sent at once: each holds up to packs.PACK_BYTES


@dataclass(frozen=True, slots=True)
class Failure:
    oid: str
    kind: str  # "missing" (not there), "corrupt" (bytes do not match the oid), "error"
    reason: str


@dataclass(frozen=True, slots=True)
class Transferred:
    done: tuple[str, ...]
    failed: tuple[Failure, ...]
    nbytes: int
    stored: tuple[tuple[str, StatKey], ...] = ()  # downloads: each new cache object's stat


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Remote:
    """Objects on one fsspec filesystem under ``root``."""

    def __init__(self, name: str, url: str, fs, root: str, write_packs: bool = True) -> None:
        self.name = name
        self.write_packs = write_packs  # (reading packs is always on)
        self.pack_cache: str | None = None  # a local folder keeping the pack indexes read
        self.pack_warnings: list[str] = []
        self._packed: dict[str, pk.Packed] | None = None
        self.packs_published = 0  # packs this object wrote (see auto_repack)
        self.url = url
        self.fs = fs
        self.root = root.rstrip("/") or "/"
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        self.protocol = protocol
        self.whole_uploads = protocol in WHOLE_UPLOAD_PROTOCOLS
        # s3fs (since 2024.12) asks for an object's size (a HEAD request) before every
        # whole-object read, to decide whether to split it into ranges, and buffers up to 10
        # parts of 50 MiB per transfer: these options ask for one request per read, and set
        # the part sizes (older s3fs has neither option, nor the behaviour).
        one = {"max_concurrency": 1}
        s3 = protocol in ("s3", "s3a")
        self._one_read = one if s3 and _accepts(fs, "_cat_file", "max_concurrency") else {}
        self._one_get = one if s3 and _accepts(fs, "_get_file", "max_concurrency") else {}
        self._s3_parts = s3 and _accepts(fs, "_put_file", "max_concurrency")
        self._tmp_counter = 0
        self._lock = threading.Lock()
        self._packs_lock = threading.Lock()

    # -- locations -------------------------------------------------------------------------
    def object_path(self, oid: str) -> str:
        return f"{self.root}/objects/{oid[:2]}/{oid[2:]}"

    def _prefix_path(self, prefix: str) -> str:
        return f"{self.root}/objects/{prefix}"

    def _tmp_path(self, oid: str) -> str:
        with self._lock:
            self._tmp_counter += 1
            n = self._tmp_counter
        return f"{self.root}/tmp/{oid}.{os.getpid()}.{os.urandom(4).hex()}.{n}"

    # -- the epoch token -------------------------------------------------------------------
    def epoch(self) -> str | None:
        """The remote's current epoch token, or None when it has none (new or wiped)."""
        def read() -> str | None:
            try:
                data = self.fs.cat_file(f"{self.root}/{EPOCH_NAME}", **self._one_read)
                return data.decode().strip() or None
            except FileNotFoundError:
                return None
        return with_retries(read)

    def ensure_epoch(self) -> str:
        current = self.epoch()
        return current if current is not None else self.renew_epoch()

    def renew_epoch(self) -> str:
        """Write a new epoch token: every local index of this remote starts again."""
        token = os.urandom(16).hex()
        self._write_bytes(f"{self.root}/{EPOCH_NAME}", token.encode(), token)
        return token

    def _write_bytes(self, final: str, data: bytes | bytearray, tag: str) -> None:
        def write() -> None:
            if self.whole_uploads:
                self.fs.pipe_file(final, data)
                return
            tmp = self._tmp_path(tag)
            self.fs.makedirs(posixpath.dirname(tmp), exist_ok=True)
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, final)
        with_retries(write)

    # -- run-cache records (runs/<key[:2]>/<key[2:]>), small JSON files --------------------
    def run_keys(self) -> set[str]:
        base = f"{self.root}/runs"

        def find() -> list[str]:
            try:
                return self.fs.find(base)
            except FileNotFoundError:
                return []
        keys = set()
        for path in with_retries(find):
            parts = path.rstrip("/").split("/")
            if len(parts) >= 2 and len(parts[-2]) == 2:
                key = parts[-2] + parts[-1]
                if len(key) == 32 and all(c in "0123456789abcdef" for c in key):
                    keys.add(key)
        return keys

    def read_run(self, key: str) -> bytes:
        return with_retries(lambda: self.fs.cat_file(f"{self.root}/runs/{key[:2]}/{key[2:]}",
                                                       **self._one_read))

    def write_run(self, key: str, data: bytes) -> None:
        final = f"{self.root}/runs/{key[:2]}/{key[2:]}"
        if not self.whole_uploads:
            self.fs.makedirs(posixpath.dirname(final), exist_ok=True)
        self._write_bytes(final, data, key)

    def delete_run(self, key: str) -> None:
        """Drop a run-cache record (``gc -c``: its outputs lost an object); gone is fine."""
        def rm() -> None:
            try:
                self.fs.rm_file(f"{self.root}/runs/{key[:2]}/{key[2:]}")
            except FileNotFoundError:
                pass
        with_retries(rm)

    # -- which objects are there -----------------------------------------------------------
    def contains(self, oids: Iterable[str], jobs: int = 8,
                 progress: Progress = NULL_PROGRESS) -> set[str]:
        """Which of ``oids`` the remote has.

        Many oids: list the ``objects/<prefix>`` folders they fall in, in parallel (one
        listing answers for every object in it). A few: ask about each object.
        """
        oids = set(oids)
        if not oids:
            return set()
        self.fs.invalidate_cache()
        in_packs = oids & self.packed().keys()
        return in_packs | self._loose_among(oids - in_packs, jobs, progress)

    def _loose_among(self, oids: set[str], jobs: int, progress: Progress) -> set[str]:
        if not oids:
            return set()
        prefixes = sorted({o[:2] for o in oids})
        if len(oids) > 2 * len(prefixes):
            return self._listed(prefixes, jobs, progress) & oids
        found = set()
        with progress.phase("Checking remote", total=len(oids), unit="object") as adv:
            for oid, there in threaded(sorted(oids), self._exists, jobs):
                if isinstance(there, BaseException):
                    raise there
                if there:
                    found.add(oid)
                adv(1)
        return found

    def list_objects(self, jobs: int = 8, progress: Progress = NULL_PROGRESS) -> set[str]:
        """Every object the remote holds (its 256 ``objects/<prefix>`` folders, listed in
        parallel)."""
        self.fs.invalidate_cache()
        packed = set(self.packed(refresh=True))
        return self._listed([f"{i:02x}" for i in range(256)], jobs, progress) | packed

    def _listed(self, prefixes: list[str], jobs: int, progress: Progress) -> set[str]:
        """The objects in the ``objects/<prefix>`` folders, listed in parallel (a name that
        is not an oid is not an object)."""
        found: set[str] = set()
        with progress.phase("Listing remote", total=len(prefixes), unit="folder") as adv:
            for prefix, names in threaded(prefixes, self._list_prefix, jobs):
                if isinstance(names, BaseException):
                    raise names
                found |= {prefix + n for n in names if is_oid(prefix + n)}
                adv(1)
        return found

    def delete_objects(self, oids: list[str], progress: Progress = NULL_PROGRESS) -> None:
        """Delete objects (``gc -c``), a thousand per request where the filesystem batches
        deletes (S3's DeleteObjects); one already gone is fine. Objects in packs go with
        their pack when nothing else in it stays, else the pack is written again without
        them (see :meth:`drop_packed`)."""
        packed = self.packed()
        self.drop_packed({o for o in oids if o in packed}, progress)
        # (Loose copies of them too, if any: deleting a name that is not there is no error.)
        self._delete_loose(oids, progress)

    def _delete_loose(self, oids: list[str], progress: Progress = NULL_PROGRESS) -> None:
        """Delete the loose copies of ``oids`` (``objects/…``), a batch per request."""
        with progress.phase("Deleting on remote", total=len(oids), unit="obj") as adv:
            for start in range(0, len(oids), DELETE_BATCH):
                batch = [self.object_path(o) for o in oids[start:start + DELETE_BATCH]]

                def rm(paths: list[str] = batch) -> None:
                    try:
                        self.fs.rm(paths)
                    except FileNotFoundError:  # (some gone already: a re-run, or a retry)
                        for path in paths:
                            try:
                                self.fs.rm_file(path)
                            except FileNotFoundError:
                                pass
                with_retries(rm)
                adv(len(batch))

    def verify_objects(self, oids: list[str], jobs: int = 8,
                       progress: Progress = NULL_PROGRESS) -> dict[str, tuple[bool, int]]:
        """Read each object (streamed, in bounded memory) and hash it: ``oid -> (whether its
        bytes hash to its name, its size)``. One already gone is left out."""
        def check(oid: str) -> tuple[bool, int] | None:
            def read() -> tuple[bool, int] | None:
                hasher = xxhash.xxh3_128()
                size = 0
                try:
                    with self.fs.open(self.object_path(oid), "rb") as f:
                        while chunk := f.read(CHUNK_SIZE):
                            hasher.update(chunk)
                            size += len(chunk)
                except FileNotFoundError:
                    return None
                return hasher.hexdigest() == oid, size
            return with_retries(read)

        found: dict[str, tuple[bool, int]] = {}
        packed = self.packed()
        in_packs = [o for o in oids if o in packed]
        oids = [o for o in oids if o not in packed]
        with progress.phase("Verifying remote", total=len(in_packs) + len(oids),
                            unit="obj") as adv:
            def hashed(read: tuple) -> list[tuple[str, bool, int]]:
                return [(oid, hash_bytes(data) == oid, len(data))
                        for oid, data in self._read_pack_part(read)]

            for read, outcome in threaded(self._pack_reads(in_packs), hashed,
                                          min(jobs, PACK_READS_IN_FLIGHT)):
                if isinstance(outcome, FileNotFoundError):  # (a pack gone meanwhile)
                    adv(len(read[3]))
                    continue
                if isinstance(outcome, BaseException):
                    raise outcome
                for oid, ok, size in outcome:
                    found[oid] = (ok, size)
                adv(len(read[3]))
            for oid, outcome in threaded(oids, check, jobs):
                if isinstance(outcome, BaseException):
                    raise outcome
                if outcome is not None:
                    found[oid] = outcome
                adv(1)
        return found

    def set_aside(self, oids: list[str], folder: str) -> None:
        """Move objects to ``folder/<oid>`` at the remote's root (``verify``: corrupt ones);
        one in a pack is copied there, and its pack written again without it."""
        packed = self.packed()
        inside = [o for o in oids if o in packed]
        for oid in inside:
            p = packed[oid]
            data = self._read_range(p.pack, p.offset, p.offset + p.size)
            if not self.whole_uploads:
                self.fs.makedirs(f"{self.root}/{folder}", exist_ok=True)
            self._write_bytes(f"{self.root}/{folder}/{oid}", data, oid)
        self.drop_packed(set(inside))
        for oid in oids:
            if oid in packed and not self._loose_exists(oid):
                continue
            dest = f"{self.root}/{folder}/{oid}"

            def move(src: str = self.object_path(oid), dest: str = dest) -> None:
                if not self.whole_uploads:
                    self.fs.makedirs(posixpath.dirname(dest), exist_ok=True)
                self.fs.mv(src, dest)
            with_retries(move)

    def _list_prefix(self, prefix: str) -> list[str]:
        def ls() -> list[str]:
            try:
                entries = self.fs.ls(self._prefix_path(prefix), detail=False)
            except FileNotFoundError:
                return []
            return [posixpath.basename(str(e).rstrip("/")) for e in entries]
        return with_retries(ls)

    def _loose_exists(self, oid: str) -> bool:
        return self._exists(oid)

    def _exists(self, oid: str) -> bool:
        def info() -> bool:
            try:
                self.fs.info(self.object_path(oid))
                return True
            except FileNotFoundError:
                return False
        return with_retries(info)

    # -- packs (see mlvc.remote.packs) ------------------------------------------------------
    def _pack_path(self, name: str) -> str:
        return f"{self.root}/{pk.PACK_DIR}/{name}"

    def packed(self, refresh: bool = False) -> dict[str, pk.Packed]:
        """Where each object in a pack is: the remote's indexes, listed once per command
        (``refresh``: again), each read once per machine (kept in ``pack_cache``)."""
        with self._packs_lock:
            if self._packed is None or refresh:
                self._packed = self._load_packs()
            return self._packed

    def _load_packs(self) -> dict[str, pk.Packed]:
        def ls() -> list[str]:
            # (never the listing fsspec kept: packs come and go under other clones' gc)
            self.fs.invalidate_cache(f"{self.root}/{pk.PACK_DIR}")
            try:
                return self.fs.ls(f"{self.root}/{pk.PACK_DIR}", detail=False)
            except FileNotFoundError:
                return []
        names = [posixpath.basename(str(e).rstrip("/")) for e in with_retries(ls)]
        ids = sorted({p for p in map(pk.pack_of_index, names) if p is not None})
        found: dict[str, pk.Packed] = {}
        self.pack_warnings = []  # (of this listing)
        for pack, entries in threaded(ids, self._read_index, 8):
            if isinstance(entries, (FormatError, FileNotFoundError)):
                # A damaged index, or one deleted meanwhile: its objects are not there (a
                # push sends them again).
                if isinstance(entries, FormatError):
                    self.pack_warnings.append(f"{entries}: ignored; a push sends its objects "
                                              "again")
                continue
            if isinstance(entries, BaseException):
                raise entries
            for oid, (offset, size) in entries.items():
                found.setdefault(oid, pk.Packed(pack, offset, size))
        if self.pack_cache is not None:
            self._prune_pack_cache(set(ids))
        return found

    def _read_index(self, pack: str) -> dict[str, tuple[int, int]]:
        name = pk.index_name(pack)
        origin = f"remote '{self.name}': {pk.PACK_DIR}/{name}"
        kept = os.path.join(self.pack_cache, name) if self.pack_cache else None
        if kept is not None:
            try:
                with open(kept, "rb") as f:
                    return pk.decode_index(f.read(), origin)[0]
            except (OSError, FormatError):
                pass
        data = with_retries(lambda: self.fs.cat_file(self._pack_path(name), **self._one_read))
        entries = pk.decode_index(data, origin)[0]
        if kept is not None:
            try:
                atomic_write(Path(kept), data)
            except OSError:
                pass  # (only a shortcut)
        return entries

    def _prune_pack_cache(self, live: set[str]) -> None:
        try:
            names = os.listdir(self.pack_cache)
        except OSError:
            return
        for name in names:
            pack = pk.pack_of_index(name)
            if pack is not None and pack not in live:
                try:
                    os.unlink(os.path.join(self.pack_cache, name))
                except OSError:
                    pass

    def read_objects(self, oids: list[str], jobs: int = 8, *, again: bool = True
                     ) -> Iterator[tuple[str, bytes | Exception]]:
        """``(oid, verified bytes or the error)`` of each of ``oids`` (small objects, such
        as manifests), as they arrive: those in packs in a few merged range reads, the
        others one request each. Objects of a pack gone since it was listed (merged by
        another clone's ``gc -c``) are looked for again, once, where the remote has them
        now (see :meth:`download`)."""
        packed = self.packed()
        inside = [o for o in oids if o in packed]
        gone: list[str] = []

        def part(read: tuple) -> list[tuple[str, bytes]]:
            return [(oid, bytes(data)) for oid, data in self._read_pack_part(read)]

        for read, outcome in threaded(self._pack_reads(inside), part,
                                      min(max(1, jobs), PACK_READS_IN_FLIGHT)):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome
                if again and isinstance(outcome, FileNotFoundError):
                    gone += [oid for oid, _, _ in read[3]]
                    continue
                for oid, _, _ in read[3]:
                    yield oid, outcome
                continue
            for oid, data in outcome:
                try:
                    yield oid, self._verified(oid, data)
                except CorruptObjectError as exc:
                    yield oid, exc
        for oid, got in threaded([o for o in oids if o not in packed], self.read_object, jobs):
            if isinstance(got, BaseException) and not isinstance(got, Exception):
                raise got
            yield oid, got
        if gone:
            self.packed(refresh=True)
            yield from self.read_objects(gone, jobs, again=False)

    def _read_range(self, pack: str, start: int, end: int) -> bytes:
        path = self._pack_path(pk.pack_name(pack))
        data = with_retries(lambda: self.fs.cat_file(path, start=start, end=end))
        if len(data) != end - start:
            raise FileNotFoundError(f"{path} is shorter than its index says")
        return data

    def _pack_reads(self, oids: Iterable[str]) -> list[tuple[str, int, int, list]]:
        """``(pack, start, end, [(oid, offset, size)])``: the reads that bring ``oids``."""
        packed = self.packed()
        by_pack: dict[str, list[tuple[str, int, int]]] = {}
        for oid in oids:
            p = packed[oid]
            by_pack.setdefault(p.pack, []).append((oid, p.offset, p.size))
        return [(pack, start, end, objs) for pack, wanted in sorted(by_pack.items())
                for start, end, objs in pk.ranges(wanted)]

    def _read_pack_part(self, read: tuple[str, int, int, list]
                        ) -> Iterator[tuple[str, memoryview]]:
        """One read of a pack: ``(oid, bytes)`` of each object in it (not verified; views
        of the one buffer read, not copies)."""
        pack, start, end, objs = read
        view = memoryview(self._read_range(pack, start, end))
        for oid, off, size in objs:
            yield oid, view[off - start:off - start + size]

    def _download_packed(self, oids: list[str], store: ObjectStore, jobs: int,
                         progress: Progress) -> Transferred:
        done: list[str] = []
        failed: list[Failure] = []
        stored: list[tuple[str, StatKey]] = []
        nbytes = 0

        def fetch(read: tuple[str, int, int, list]) -> list[tuple[str, object]]:
            outcomes: list[tuple[str, object]] = []
            for oid, data in self._read_pack_part(read):
                try:
                    outcomes.append((oid, self._store_small(oid, data, store)))
                except Exception as exc:  # noqa: BLE001 - reported per object
                    outcomes.append((oid, exc))
            return outcomes

        with progress.phase("Downloading", total=len(oids), unit="object") as adv:
            for read, outcome in threaded(self._pack_reads(oids), fetch,
                                          min(max(1, jobs), PACK_READS_IN_FLIGHT)):
                objs = read[3]
                if isinstance(outcome, BaseException):
                    failed += _all_failed(objs, outcome)
                else:
                    sizes = {oid: size for oid, _, size in objs}
                    for oid, result in outcome:
                        if isinstance(result, Exception):
                            failed.append(_failure(oid, result))
                        else:
                            done.append(oid)
                            stored.append((oid, result))
                            nbytes += sizes[oid]
                adv(len(objs))
        return Transferred(tuple(done), tuple(failed), nbytes, tuple(stored))

    def _upload_packs(self, items: list[tuple[str, str, int]], jobs: int,
                      progress: Progress, verify: bool = False) -> Transferred:
        """Small objects in packs of about ``packs.PACK_BYTES``, a few packs at once; each
        pack is sent whole, then its index. ``verify``: each object is re-hashed first."""
        done: list[str] = []
        failed: list[Failure] = []
        nbytes = 0
        with progress.phase("Uploading", total=len(items), unit="object") as adv:
            write = partial(self._write_pack, verify=verify)
            for group, outcome in threaded(pk.groups(items), write,
                                           min(max(1, jobs), PACK_WRITES_IN_FLIGHT)):
                if isinstance(outcome, BaseException):
                    failed += _all_failed(group, outcome)
                else:
                    sent, unread, size = outcome
                    done += sent
                    failed += unread
                    nbytes += size
                adv(len(group))
        return Transferred(tuple(done), tuple(failed), nbytes)

    def _write_pack(self, group: list[tuple[str, str, int]], verify: bool = False
                    ) -> tuple[list[str], list[Failure], int]:
        """Read the group's files into one buffer of their total size (no growing, no copy:
        two packs in flight hold 2 x 8 MiB), and publish it (``verify``: each file whose
        bytes do not hash to its oid is left out)."""
        buf = bytearray(sum(size for _, _, size in group))
        entries: list[tuple[str, int, int]] = []
        unread: list[Failure] = []
        offset = 0
        with memoryview(buf) as view:
            for oid, local, size in group:
                try:
                    with open(local, "rb", buffering=0) as f:
                        got = 0
                        while got < size and (n := f.readinto(view[offset + got:
                                                                   offset + size])):
                            got += n
                        whole = got == size and not f.read(1)
                except OSError as exc:
                    unread.append(_failure(oid, exc))
                    continue
                if not whole:
                    unread.append(Failure(oid, "error", "its size in the cache is not the "
                                                        "recorded one"))
                    continue
                if verify and hash_bytes(view[offset:offset + size]) != oid:
                    unread.append(Failure(oid, "corrupt", "corrupt in the cache"))
                    continue
                entries.append((oid, offset, size))
                offset += size  # (a failed object's room is taken by the next one)
        if not entries:
            return [], unread, 0
        del buf[offset:]
        self._publish_pack(buf, entries)
        return [e[0] for e in entries], unread, offset

    def _publish_pack(self, data: bytes | bytearray, entries: list[tuple[str, int, int]]
                      ) -> str:
        """Send a pack, then its index (from then on it exists); returns its id."""
        pack = pk.pack_id(data)
        index = pk.encode_index(entries, len(data))
        if not self.whole_uploads:
            self.fs.makedirs(f"{self.root}/{pk.PACK_DIR}", exist_ok=True)
        self._write_bytes(self._pack_path(pk.pack_name(pack)), data, pack)
        self._write_bytes(self._pack_path(pk.index_name(pack)), index, pack)
        if self.pack_cache:  # (a later listing need not download what was just sent)
            try:
                atomic_write(Path(self.pack_cache, pk.index_name(pack)), index)
            except OSError:
                pass  # (only a shortcut)
        with self._lock:
            self.packs_published += 1
            if self._packed is not None:
                for oid, offset, size in entries:
                    self._packed[oid] = pk.Packed(pack, offset, size)
        return pack

    def drop_packed(self, oids: set[str], progress: Progress = NULL_PROGRESS) -> None:
        """Take objects out of the packs that hold them: a pack left with nothing goes
        (its index first), one with objects that stay is written again with those alone
        (each re-hashed: a corrupt one is left out), then the old one goes."""
        if not oids:
            return
        packed = self.packed(refresh=True)
        by_pack: dict[str, list[str]] = {}
        for oid, p in packed.items():
            by_pack.setdefault(p.pack, []).append(oid)
        touched = sorted({packed[o].pack for o in oids if o in packed})
        with progress.phase("Rewriting packs", total=len(touched), unit="pack") as adv:
            for pack in touched:
                keep = [o for o in by_pack[pack] if o not in oids]
                written = self._repacked(keep) if keep else None
                if written != pack:  # (the same bytes make the same pack: it stays)
                    self._delete_pack(pack)
                adv(1)
        self._packed = None

    def _repacked(self, oids: list[str]) -> str | None:
        """A new pack of ``oids`` (in packs now), each re-hashed (a corrupt one is left out:
        the next push sends it again); its id, or None when none was sound."""
        entries: list[tuple[str, int, int]] = []
        buf = bytearray()
        for read in self._pack_reads(oids):
            for oid, data in self._read_pack_part(read):
                if hash_bytes(data) == oid:
                    entries.append((oid, len(buf), len(data)))
                    buf += data
        return self._publish_pack(buf, entries) if entries else None

    def fold_loose(self, items: list[tuple[str, str, int]], jobs: int = 8,
                   progress: Progress = NULL_PROGRESS) -> int:
        """Put loose small objects of the remote into packs, from this cache's copies
        (``(oid, local path, size)``; each re-hashed: a corrupt copy is left out and its loose
        copy kept), then delete their loose copies; when there are at least
        ``PACK_MIN_OBJECTS``. Small pushes leave their objects loose, each a request to
        fetch. Returns how many were folded."""
        packed = self.packed(refresh=True)
        items = [t for t in items if t[0] not in packed and t[2] <= pk.PACK_OBJECT_MAX]
        if len(items) < pk.PACK_MIN_OBJECTS:
            return 0
        sent = self._upload_packs(items, jobs, progress, verify=True).done
        self._delete_loose(list(sent), progress)  # (after their packs exist)
        return len(sent)

    def auto_repack(self, progress: Progress = NULL_PROGRESS) -> tuple[int, int]:
        """After a push that wrote packs: :meth:`repack` once ``REPACK_AUTO`` small packs
        are there (each push adds its own; without this only `gc -c` merged them, and a
        fresh clone read one index per push ever made). Costs a listing when fewer."""
        if not (self.write_packs and self.packs_published):
            return 0, 0
        return self.repack(progress, least=pk.REPACK_AUTO)

    def repack(self, progress: Progress = NULL_PROGRESS, least: int = pk.REPACK_MIN
               ) -> tuple[int, int]:
        """Merge the packs smaller than half a pack (``REPACK_BELOW``) into packs of about
        ``PACK_BYTES``, when there are at least ``least`` of them: each push makes packs
        of its own, and a new clone reads every pack's index once. The new packs are
        published before the old ones are deleted (their indexes first), so every object
        is in a pack throughout; another clone merging them at the same time leaves
        duplicates at worst (a pack this one could not read stops it before it deletes
        any). Returns (packs merged, packs written)."""
        packed = self.packed(refresh=True)
        by_pack: dict[str, list[str]] = {}
        sizes: dict[str, int] = {}
        for oid, p in packed.items():
            by_pack.setdefault(p.pack, []).append(oid)
            sizes[p.pack] = sizes.get(p.pack, 0) + p.size
        small = sorted(p for p, n in sizes.items() if n < pk.REPACK_BELOW)
        if len(small) < least:
            return 0, 0
        groups = pk.groups([(o, "", packed[o].size) for p in small for o in by_pack[p]])
        written: set[str] = set()
        with progress.phase("Merging packs", total=len(small), unit="pack") as adv:
            for group in groups:
                if made := self._repacked([oid for oid, _, _ in group]):
                    written.add(made)
            for pack in small:
                if pack not in written:
                    self._delete_pack(pack)
                adv(1)
        self._packed = None
        return len(small), len(written)

    def _delete_pack(self, pack: str) -> None:
        for name in (pk.index_name(pack), pk.pack_name(pack)):  # (the index first)
            def rm(path: str = self._pack_path(name)) -> None:
                try:
                    self.fs.rm_file(path)
                except FileNotFoundError:
                    pass
            with_retries(rm)

    # -- upload ----------------------------------------------------------------------------
    def upload(self, items: list[tuple[str, str, int]], jobs: int = 8,
               progress: Progress = NULL_PROGRESS) -> Transferred:
        """Upload ``(oid, local path, size)`` items; every one is tried, failures listed.
        Small objects go into packs when there are enough of them (``write_packs``)."""
        if self.write_packs:
            small = [t for t in items if t[2] <= pk.PACK_OBJECT_MAX]
            if len(small) >= pk.PACK_MIN_OBJECTS:
                large = [t for t in items if t[2] > pk.PACK_OBJECT_MAX]
                return _joined(self._upload_packs(small, jobs, progress),
                               self._upload_loose(large, jobs, progress))
        return self._upload_loose(items, jobs, progress)

    def _upload_loose(self, items: list[tuple[str, str, int]], jobs: int,
                      progress: Progress) -> Transferred:
        if not items:
            return Transferred((), (), 0)
        if self._batched and self.whole_uploads:
            # Small objects as coroutines, ``jobs`` in flight; large ones a few at a time.
            def put(item: tuple[str, str, int]) -> Awaitable:
                return self._put_async(item[1], item[0], item[2])
            small = [t for t in items if t[2] <= SMALL]
            large = [t for t in items if t[2] > SMALL]
            return _joined(self._transfer(small, None, jobs, progress, "Uploading", coro=put),
                           self._transfer(large, None, min(jobs, LARGE_IN_FLIGHT), progress,
                                          "Uploading", coro=put))
        return self._transfer(items, lambda item: self._put(item[1], item[0], item[2]), jobs,
                              progress, "Uploading")

    def _put_options(self, size: int) -> dict:
        """Multipart settings for one upload to S3 that bound its memory (see S3_PART)."""
        if not self._s3_parts or size <= SMALL:
            return {}
        return {"chunksize": max(S3_PART, -(-size // S3_MAX_PARTS)),
                "max_concurrency": S3_PARTS_IN_FLIGHT}

    async def _put_async(self, local: str, oid: str, size: int) -> None:
        final = self.object_path(oid)
        options = self._put_options(size)
        await with_retries_async(lambda: self.fs._put_file(local, final, **options))

    def _put(self, local: str, oid: str, size: int) -> None:
        final = self.object_path(oid)
        if self.whole_uploads:
            options = self._put_options(size)
            with_retries(lambda: self.fs.put_file(local, final, **options))
            return

        def put() -> None:
            tmp = self._tmp_path(oid)
            self.fs.makedirs(posixpath.dirname(tmp), exist_ok=True)
            self.fs.makedirs(posixpath.dirname(final), exist_ok=True)
            try:
                self.fs.put_file(local, tmp)
                self.fs.mv(tmp, final)
            except BaseException:
                try:
                    self.fs.rm_file(tmp)
                except Exception:  # noqa: BLE001 - best effort; the original error matters
                    pass
                raise
        with_retries(put)

    # -- download --------------------------------------------------------------------------
    def download(self, items: list[tuple[str, int]], store: ObjectStore, jobs: int = 8,
                 progress: Progress = NULL_PROGRESS, *, again: bool = True) -> Transferred:
        """Fetch ``(oid, size)`` items into ``store``, each re-hashed before it is stored:
        from packs where the remote has them there, else loose. A pack that `gc -c` or
        `verify -r` (of another clone) merged or rewrote since it was listed is gone: its
        objects are in the new packs, published before the old ones went (or loose); they
        are looked for again, once, where the packs listed again say."""
        packed = self.packed() if items else {}
        if not any(o in packed for o, _ in items):
            return self._download_loose(items, store, jobs, progress)
        got = _joined(self._download_packed([o for o, _ in items if o in packed], store, jobs,
                                            progress),
                      self._download_loose([t for t in items if t[0] not in packed], store,
                                           jobs, progress))
        gone = {f.oid for f in got.failed if f.kind == "missing" and f.oid in packed}
        if not again or not gone:
            return got
        self.packed(refresh=True)
        kept = Transferred(got.done, tuple(f for f in got.failed if f.oid not in gone),
                           got.nbytes, got.stored)
        return _joined(kept, self.download([t for t in items if t[0] in gone], store, jobs,
                                           progress, again=False))

    def _download_loose(self, items: list[tuple[str, int]], store: ObjectStore, jobs: int,
                        progress: Progress) -> Transferred:
        if not items:
            return Transferred((), (), 0)
        triples = [(o, "", s) for o, s in items]
        if not self._batched:
            return self._transfer(triples, lambda it: self._get(it[0], it[2], store), jobs,
                                  progress, "Downloading")
        # Small objects: requests on the filesystem's event loop; the hashing and writing of
        # each answer goes to a few threads, so disk and network overlap. Large objects are
        # streamed in bounded memory, one thread each.
        small = [t for t in triples if t[2] <= SMALL]
        large = [t for t in triples if t[2] > SMALL]
        with ThreadPoolExecutor(min(4, max(1, jobs)), "mlvc-store") as pool:
            async def get(item: tuple[str, str, int]) -> StatKey:
                oid = item[0]
                data = await with_retries_async(lambda: self.fs._cat_file(self.object_path(oid),
                                                                      **self._one_read))
                return await asyncio.get_running_loop().run_in_executor(
                    pool, self._store_small, oid, data, store)
            first = self._transfer(small, None, jobs, progress, "Downloading", coro=get)
        return _joined(first, self._transfer(large, lambda it: self._get(it[0], it[2], store),
                                             min(jobs, LARGE_IN_FLIGHT), progress,
                                             "Downloading"))

    def _store_small(self, oid: str, data: bytes, store: ObjectStore) -> StatKey:
        return StatKey(*store.write(self._verified(oid, data), oid))

    def _verified(self, oid: str, data: bytes) -> bytes:
        """``data``, once its hash is ``oid``; else :class:`CorruptObjectError`."""
        if hash_bytes(data) != oid:
            raise self._corrupt(oid)
        return data

    def _corrupt(self, oid: str) -> CorruptObjectError:
        return CorruptObjectError(oid, f"object {oid} on remote '{self.name}' is corrupt: "
                                  "its bytes do not match its oid")

    def read_object(self, oid: str) -> bytes:
        """The bytes of one (small) object, verified against its oid."""
        if (p := self.packed().get(oid)) is not None:
            return self._verified(oid, self._read_range(p.pack, p.offset, p.offset + p.size))
        return self._verified(oid, with_retries(lambda: self.fs.cat_file(self.object_path(oid),
                                                                       **self._one_read)))

    def _get(self, oid: str, size: int, store: ObjectStore) -> StatKey:
        if size <= SMALL:
            return StatKey(*store.write(self.read_object(oid), oid))
        return with_retries(lambda: self._get_stream(oid, store))

    def _get_stream(self, oid: str, store: ObjectStore) -> StatKey:
        """A large object, in bounded memory: one streaming request into a temporary file,
        which is then hashed (from the page cache) before it enters the cache.

        One whole-object GET, not a series of range requests: some servers answer each range
        request by reading the whole object, which turns a 2 GiB download into hours.
        """
        tmp = store.tmp_path(oid)
        os.makedirs(store.tmp_dir, exist_ok=True)
        try:
            # On S3 one streaming GET (s3fs would otherwise hold 10 ranges of 50 MiB).
            self.fs.get_file(self.object_path(oid), tmp, **self._one_get)
            if hash_file(tmp) != oid:
                raise self._corrupt(oid)
            os.makedirs(os.path.dirname(store.path_str(oid)), exist_ok=True)
            store.commit_tmp(tmp, oid)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        return stat_key(os.stat(store.path_str(oid)))

    # -- the shared transfer loop ----------------------------------------------------------
    # Work on a local filesystem is system calls, CPU-bound in Python: past this many items
    # it runs in forked workers, one per core (see mlvc.parallel), rather than threads.
    forkable = False

    @property
    def _batched(self) -> bool:
        """Whether requests go out as coroutines on the filesystem's event loop (s3fs, gcsfs,
        adlfs…) rather than one blocking call per thread."""
        return bool(getattr(self.fs, "async_impl", False)) and getattr(self.fs, "loop", None) \
            is not None

    def _transfer(self, items: list[tuple[str, str, int]], fn: Callable | None, jobs: int,
                  progress: Progress, desc: str,
                  coro: Callable[[tuple[str, str, int]], Awaitable] | None = None
                  ) -> Transferred:
        """Run ``fn`` (or the coroutine ``coro``) on every item; non-None results are
        returned as ``stored``."""
        if not items:
            return Transferred((), (), 0)
        done: list[str] = []
        failed: list[Failure] = []
        stored: list[tuple[str, StatKey]] = []
        nbytes = 0
        total = sum(size for _, _, size in items)

        def settle(item: tuple[str, str, int], outcome: object) -> None:
            nonlocal nbytes
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome
                failed.append(_failure(item[0], outcome))
                return
            done.append(item[0])
            nbytes += item[2]
            if outcome is not None:
                stored.append((item[0], outcome))  # type: ignore[arg-type]

        if coro is not None:
            with progress.phase(desc, total=len(items), unit="object") as adv, \
                    progress.phase(f"{desc} bytes", total=total, unit="B") as adv_bytes:
                for item, outcome in self._gathered(items, coro, jobs):
                    settle(item, outcome)
                    if not isinstance(outcome, BaseException):
                        adv_bytes(item[2])
                    adv(1)
            return Transferred(tuple(done), tuple(failed), nbytes, tuple(stored))
        assert fn is not None
        if self.forkable and len(items) >= PROCESS_MIN_ITEMS:
            outcomes = run_batched(items, _Captured(fn), jobs, progress, desc, unit="object",
                                   processes=True, codec=_OUTCOME)
            for item, outcome in zip(items, outcomes):
                settle(item, outcome)
            return Transferred(tuple(done), tuple(failed), nbytes, tuple(stored))
        with progress.phase(desc, total=len(items), unit="object") as adv, \
                progress.phase(f"{desc} bytes", total=total, unit="B") as adv_bytes:
            for item, outcome in threaded(items, fn, jobs):
                settle(item, outcome)
                if not isinstance(outcome, BaseException):
                    adv_bytes(item[2])
                adv(1)
        return Transferred(tuple(done), tuple(failed), nbytes, tuple(stored))


    def _gathered(self, items: list, coro: Callable[[object], Awaitable],
                  jobs: int) -> Iterator[tuple[object, object]]:
        """``(item, outcome)`` pairs as ``coro(item)`` finishes, ``jobs`` at a time, on the
        filesystem's event loop; an outcome is the result or the exception raised.

        ``jobs`` worker coroutines share one iterator, so memory stays bounded however many
        items there are; the results come back to this thread through a queue.
        """
        if not items:
            return
        results: queue.Queue = queue.Queue()
        pending = iter(items)

        async def worker() -> None:
            for item in pending:
                try:
                    outcome = await coro(item)
                except Exception as exc:  # noqa: BLE001 - reported per object by the caller
                    outcome = exc
                results.put((item, outcome))

        async def run_all() -> None:
            await asyncio.gather(*(worker() for _ in range(max(1, min(jobs, len(items))))))

        future = asyncio.run_coroutine_threadsafe(run_all(), self.fs.loop)
        try:
            for _ in range(len(items)):
                while True:
                    try:
                        got = results.get(timeout=0.2)
                        break
                    except queue.Empty:
                        if future.done():
                            future.result()  # raises what stopped the workers
                            raise RuntimeError("transfer workers stopped early") from None
                yield got
        finally:
            if not future.done():
                future.cancel()


class _Captured:
    """``fn``, returning an exception instead of raising it (so one failure stops nothing)."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def __call__(self, item: object) -> object:
        try:
            return self.fn(item)
        except Exception as exc:  # noqa: BLE001 - reported per object by the caller
            return exc


def _pack_outcome(outcome: object) -> tuple:
    return ("key", *outcome) if isinstance(outcome, StatKey) else ("other", outcome)


def _unpack_outcome(t: tuple) -> object:
    return tuple.__new__(StatKey, t[1:]) if t[0] == "key" else t[1]


# A transfer's outcome from a forked worker: the stored object's StatKey, None, or an error.
_OUTCOME = Codec(_pack_outcome, _unpack_outcome)


def _accepts(fs: object, method: str, name: str) -> bool:
    """Whether ``fs.method`` takes a keyword ``name`` (filesystem versions differ)."""
    try:
        return name in inspect.signature(getattr(fs, method)).parameters
    except (AttributeError, TypeError, ValueError):
        return False


def _joined(a: Transferred, b: Transferred) -> Transferred:
    return Transferred(a.done + b.done, a.failed + b.failed, a.nbytes + b.nbytes,
                       a.stored + b.stored)


def _all_failed(items: list[tuple], outcome: BaseException) -> list[Failure]:
    """Each of ``items`` (oid first) failed with ``outcome``; an interrupt is raised."""
    if not isinstance(outcome, Exception):
        raise outcome
    return [_failure(item[0], outcome) for item in items]


def _failure(oid: str, exc: Exception) -> Failure:
    if isinstance(exc, FileNotFoundError):
        return Failure(oid, "missing", "not on the remote")
    if isinstance(exc, CorruptObjectError):
        return Failure(oid, "corrupt", "its bytes on the remote do not match its oid")
    if is_no_space(exc):
        return Failure(oid, "error", NO_SPACE)
    return Failure(oid, "error", _describe(exc))


class LocalRemote(Remote):
    """A remote in a local (or NFS-mounted) folder: the same contract, plain system calls."""

    forkable = True

    def __init__(self, name: str, url: str, fs, root: str, write_packs: bool = True) -> None:
        super().__init__(name, url, fs, root, write_packs)
        self._made: set[str] = set()

    def _mkdir(self, folder: str) -> None:
        if folder not in self._made:
            os.makedirs(folder, exist_ok=True)
            with self._lock:
                self._made.add(folder)

    def _list_prefix(self, prefix: str) -> list[str]:
        try:
            return os.listdir(self._prefix_path(prefix))
        except FileNotFoundError:
            return []

    def _exists(self, oid: str) -> bool:
        return os.path.exists(self.object_path(oid))

    def _loose_exists(self, oid: str) -> bool:
        return os.path.exists(self.object_path(oid))

    def _put(self, local: str, oid: str, size: int) -> None:
        final = self.object_path(oid)
        tmp = self._tmp_path(oid)
        self._mkdir(os.path.dirname(tmp))
        self._mkdir(os.path.dirname(final))
        with NewFile(f"{self.root}/objects", tmp, OBJECT_MODE) as new, \
                open(local, "rb", buffering=0) as src:
            copy_fd(src.fileno(), new.fd, os.fstat(src.fileno()).st_size)
            new.publish(final)

    def _get(self, oid: str, size: int, store: ObjectStore) -> StatKey:
        if size <= SMALL_FILE:  # read whole (at most one byte more), verified, then written
            return StatKey(*store.write(self.read_object(oid, size + 1), oid))
        store.add_file_copy(self.object_path(oid), expected=oid)
        return stat_key(os.stat(store.path_str(oid)))

    def read_object(self, oid: str, limit: int = -1) -> bytes:
        """The bytes of one object (at most ``limit`` of them), verified against its oid."""
        if (p := self.packed().get(oid)) is not None:
            return self._verified(oid, self._read_range(p.pack, p.offset, p.offset + p.size))
        with open(self.object_path(oid), "rb", buffering=0) as f:
            return self._verified(oid, f.read(limit))
