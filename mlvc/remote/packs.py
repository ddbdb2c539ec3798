"""Packs on remotes (SPEC 2.1): many small objects in one file, so that pushing 100,000
small files is a few dozen requests, not 100,000.

``packs/<pack-id>.pack`` holds objects back to back, raw (no header, no compression);
``packs/<pack-id>.idx`` says where each is. The pack id is the xxh3-128 of the pack's
bytes. The index is written after its pack, so a pack without its index does not exist
(readers only look for ``.idx`` files); deleting goes the other way, index first.

Index format (big-endian), every field fixed-size:

    header   8 bytes  b"MLVCIDX1"
             8 bytes  number of entries N
             8 bytes  size of the pack in bytes
    entries  N x 32 bytes, sorted by oid, no oid twice:
             16 bytes oid (the 32 hex digits as bytes), 8 bytes offset, 8 bytes size
    trailer  16 bytes xxh3-128 digest of everything before it

A reader refuses an index whose length, magic, order or trailer is wrong, or whose entries
reach past the pack's size. Each object read from a pack is re-hashed like a loose one.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

import xxhash

from mlvc.errors import FormatError
from mlvc.objects.oid import is_oid

PACK_DIR = "packs"
MAGIC = b"MLVCIDX1"
_HEADER = struct.Struct(">8sQQ")
_ENTRY = struct.Struct(">16sQQ")
_TRAILER = 16

PACK_OBJECT_MAX = 1 << 20  # objects up to this size go into packs; larger ones stay loose
PACK_MIN_OBJECTS = 16  # fewer small objects than this in one upload: loose (no pack)
PACK_BYTES = 8 << 20  # a pack holds about this much (one object more at most)
REPACK_BELOW = PACK_BYTES // 2  # `gc -c` merges packs smaller than this…
REPACK_MIN = 4  # …when there are at least this many
REPACK_AUTO = 32  # a push that wrote packs merges the small ones once there are this many
RANGE_GAP = 256 << 10  # read across a gap this small in a pack rather than ask twice
RANGE_BYTES = 4 << 20  # one read of a pack asks for at most about this much


@dataclass(frozen=True, slots=True)
class Packed:
    """Where an object is: in pack ``pack`` at ``offset``, ``size`` bytes."""

    pack: str
    offset: int
    size: int


def pack_id(data: bytes | memoryview) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def encode_index(entries: Iterable[tuple[str, int, int]], pack_size: int) -> bytes:
    """The index of a pack of ``pack_size`` bytes holding ``(oid, offset, size)``."""
    rows = sorted(entries)
    body = bytearray(_HEADER.pack(MAGIC, len(rows), pack_size))
    last = None
    for oid, offset, size in rows:
        if oid == last:
            raise ValueError(f"object {oid} twice in one pack")
        if offset < 0 or size < 0 or offset + size > pack_size:
            raise ValueError(f"object {oid} reaches past the pack")
        body += _ENTRY.pack(bytes.fromhex(oid), offset, size)
        last = oid
    return bytes(body) + xxhash.xxh3_128_digest(bytes(body))


def decode_index(data: bytes, origin: str) -> tuple[dict[str, tuple[int, int]], int]:
    """``({oid: (offset, size)}, pack size)``; FormatError naming ``origin`` when the index
    is not one."""
    def bad(why: str) -> FormatError:
        return FormatError(f"{origin}: not a valid pack index: {why}")

    if len(data) < _HEADER.size + _TRAILER:
        raise bad("too short")
    body, trailer = data[:-_TRAILER], data[-_TRAILER:]
    if xxhash.xxh3_128_digest(body) != trailer:
        raise bad("its checksum does not match (damaged or cut short)")
    magic, count, pack_size = _HEADER.unpack_from(body)
    if magic != MAGIC:
        raise bad("wrong magic")
    if len(body) != _HEADER.size + count * _ENTRY.size:
        raise bad(f"{count} entries announced, {len(body) - _HEADER.size} bytes of them")
    entries: dict[str, tuple[int, int]] = {}
    last = b""
    for raw, offset, size in _ENTRY.iter_unpack(body[_HEADER.size:]):
        if raw <= last:
            raise bad("entries not sorted, or an object twice")
        if offset + size > pack_size:
            raise bad(f"object {raw.hex()} reaches past the pack's {pack_size} bytes")
        entries[raw.hex()] = (offset, size)
        last = raw
    return entries, pack_size


def index_name(pack: str) -> str:
    return f"{pack}.idx"


def pack_name(pack: str) -> str:
    return f"{pack}.pack"


def pack_of_index(name: str) -> str | None:
    """The pack id of an index file's name, or None for any other name."""
    if name.endswith(".idx") and is_oid(name[:-4]):
        return name[:-4]
    return None


def groups(items: list[tuple[str, str, int]], limit: int = PACK_BYTES
           ) -> list[list[tuple[str, str, int]]]:
    """``(oid, path, size)`` items in packs of about ``limit`` bytes, in order."""
    out: list[list[tuple[str, str, int]]] = []
    current: list[tuple[str, str, int]] = []
    size = 0
    for item in items:
        if current and size + item[2] > limit:
            out.append(current)
            current, size = [], 0
        current.append(item)
        size += item[2]
    if current:
        out.append(current)
    return out


def ranges(wanted: list[tuple[str, int, int]], gap: int = RANGE_GAP,
           limit: int = RANGE_BYTES) -> list[tuple[int, int, list[tuple[str, int, int]]]]:
    """Reads of one pack that cover ``wanted`` ``(oid, offset, size)``: ``(start, end,
    objects)``, neighbours merged across gaps up to ``gap`` while a read stays within
    ``limit`` bytes (an object larger than that is read alone)."""
    out: list[list] = []  # [start, end, objects], grown in place
    for entry in sorted(wanted, key=lambda e: e[1]):
        _, offset, size = entry
        if out:
            last = out[-1]
            if offset - last[1] <= gap and offset + size - last[0] <= limit:
                last[1] = max(last[1], offset + size)
                last[2].append(entry)
                continue
        out.append([offset, offset + size, [entry]])
    return [(start, end, objs) for start, end, objs in out]
