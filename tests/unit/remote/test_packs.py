"""Pack indexes: the format round-trips, and anything damaged is refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlvc.errors import FormatError
from mlvc.remote import packs as pk

oids = st.binary(min_size=16, max_size=16).map(bytes.hex)


@st.composite
def packs(draw):
    """``(entries, pack size)``: objects back to back, in any order, with gaps."""
    names = draw(st.lists(oids, unique=True, max_size=40))
    entries, offset = [], 0
    for oid in names:
        offset += draw(st.integers(0, 5))
        size = draw(st.integers(0, 100))
        entries.append((oid, offset, size))
        offset += size
    return entries, offset + draw(st.integers(0, 5))


@settings(max_examples=200)
@given(packs())
def test_index_round_trips(pack):
    entries, size = pack
    data = pk.encode_index(entries, size)
    decoded, got_size = pk.decode_index(data, "x.idx")
    assert got_size == size
    assert decoded == {o: (off, n) for o, off, n in entries}


@settings(max_examples=200)
@given(packs(), st.data())
def test_any_damage_is_refused(pack, data):
    raw = bytearray(pk.encode_index(*pack))
    where = data.draw(st.integers(0, len(raw) - 1))
    raw[where] ^= data.draw(st.integers(1, 255))
    with pytest.raises(FormatError, match="x.idx: not a valid pack index"):
        pk.decode_index(bytes(raw), "x.idx")
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(FormatError):
        pk.decode_index(bytes(pk.encode_index(*pack))[:cut], "x.idx")


def test_an_entry_past_the_pack_or_twice_is_refused():
    a, b = "00" * 16, "11" * 16
    with pytest.raises(ValueError):
        pk.encode_index([(a, 0, 10)], 9)
    with pytest.raises(ValueError):
        pk.encode_index([(a, 0, 1), (a, 1, 1)], 2)
    # Written by someone else, with a valid checksum: still refused.
    import struct

    import xxhash

    body = struct.pack(">8sQQ", pk.MAGIC, 2, 4) + struct.pack(">16sQQ", bytes.fromhex(b), 0, 2) \
        + struct.pack(">16sQQ", bytes.fromhex(a), 2, 2)
    with pytest.raises(FormatError, match="not sorted"):
        pk.decode_index(body + xxhash.xxh3_128_digest(body), "x.idx")
    body = struct.pack(">8sQQ", pk.MAGIC, 1, 4) + struct.pack(">16sQQ", bytes.fromhex(a), 2, 3)
    with pytest.raises(FormatError, match="reaches past"):
        pk.decode_index(body + xxhash.xxh3_128_digest(body), "x.idx")


@settings(max_examples=200)
@given(packs(), st.integers(0, 50), st.integers(1, 300), st.data())
def test_reads_cover_each_wanted_object_once_within_their_limits(pack, gap, limit, data):
    entries, _ = pack
    wanted = data.draw(st.lists(st.sampled_from(entries), unique=True)) if entries else []
    reads = pk.ranges(wanted, gap=gap, limit=limit)
    seen = [e for _, _, objs in reads for e in objs]
    assert sorted(seen) == sorted(wanted)
    for start, end, objs in reads:
        assert all(start <= off and off + n <= end for _, off, n in objs)
        # (an object larger than the limit is read alone: but for empty objects at its
        # start, which add no byte to the read — packs hold empty files too)
        assert end - start <= limit or sum(1 for _, _, n in objs if n) == 1


def test_an_empty_object_at_a_large_ones_start_goes_in_its_read_not_a_read_of_its_own():
    big, empty = (f"{1:032x}", 0, 2), (f"{0:032x}", 0, 0)  # (found by Hypothesis)
    assert pk.ranges([big, empty], gap=0, limit=1) == [(0, 2, [big, empty])]


def test_groups_keep_order_and_size():
    items = [(f"{i:032x}", "p", 10) for i in range(25)]
    groups = pk.groups(items, limit=100)
    assert [len(g) for g in groups] == [10, 10, 5]
    assert [i for g in groups for i in g] == items
    assert pk.groups([("a" * 32, "p", 500)], limit=100) == [[("a" * 32, "p", 500)]]


def test_index_names():
    pack = "ab" * 16
    assert pk.pack_of_index(pk.index_name(pack)) == pack
    assert pk.pack_of_index(pk.pack_name(pack)) is None
    assert pk.pack_of_index("../x.idx") is None
