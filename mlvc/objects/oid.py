"""Object ids: xxh3-128 of the content, as 32 lowercase hex digits."""

from __future__ import annotations

import os
import re

import xxhash

HASH_NAME = "xxh128"
CHUNK_SIZE = 1 << 20
_OID_RE = re.compile(r"[0-9a-f]{32}")


def is_oid(value: object) -> bool:
    return isinstance(value, str) and _OID_RE.fullmatch(value) is not None


def hash_bytes(data: bytes | memoryview) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def hash_file(path: str | os.PathLike[str]) -> str:
    """Hash a file of any size in bounded memory."""
    hasher = xxhash.xxh3_128()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(CHUNK_SIZE):
            hasher.update(chunk)
    return hasher.hexdigest()
