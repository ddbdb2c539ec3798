"""DVC 2's md5 of a text file ("md5-dos2unix"), computed a chunk at a time."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from mlvc.ops import dvc_source


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=64).map(
    lambda b: bytes(b"a\r\n"[x % 3] for x in b)), st.integers(1, 7))
def test_a_text_file_matches_the_md5_of_its_text_with_lf_line_ends(data, chunk):
    import os
    import tempfile

    old = dvc_source.CHUNK
    dvc_source.CHUNK = chunk  # (CRLF split across reads)
    try:
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(data)
        unix = hashlib.md5(data.replace(b"\r\n", b"\n")).hexdigest()
        assert dvc_source.dvc_md5_matches(f.name, unix)
        assert dvc_source.dvc_md5_matches(f.name, hashlib.md5(data).hexdigest())
        if b"\r\n" in data:  # (another md5 never matches)
            assert not dvc_source.dvc_md5_matches(f.name, hashlib.md5(data + b"x").hexdigest())
    finally:
        dvc_source.CHUNK = old
        os.unlink(f.name)


def test_a_binary_file_is_never_taken_as_text(tmp_path):
    path = tmp_path / "b"
    path.write_bytes(b"\x00\r\n")
    assert not dvc_source.dvc_md5_matches(path, hashlib.md5(b"\x00\n").hexdigest())
