"""Request options for S3 are passed only to an s3fs that accepts them (pyproject allows
s3fs releases from before the options existed)."""

from __future__ import annotations

from fsspec.implementations.memory import MemoryFileSystem

from mlvc.remote.fs import S3_PART, SMALL, Remote


class OldS3(MemoryFileSystem):
    """The shape of an s3fs before ``max_concurrency``: passing it would be a TypeError."""

    protocol = ("s3", "s3a")

    async def _cat_file(self, path, version_id=None, start=None, end=None):
        raise NotImplementedError

    async def _get_file(self, rpath, lpath, callback=None, version_id=None):
        raise NotImplementedError

    async def _put_file(self, lpath, rpath, callback=None, chunksize=50 << 20, **kwargs):
        raise NotImplementedError


class NewS3(OldS3):
    async def _cat_file(self, path, version_id=None, start=None, end=None, chunksize=None,
                        max_concurrency=None):
        raise NotImplementedError

    async def _get_file(self, rpath, lpath, callback=None, version_id=None, chunksize=None,
                        max_concurrency=None):
        raise NotImplementedError

    async def _put_file(self, lpath, rpath, callback=None, chunksize=None,
                        max_concurrency=None, mode="overwrite", **kwargs):
        raise NotImplementedError


def test_old_s3fs_gets_no_options():
    remote = Remote("r", "s3://b", OldS3(skip_instance_cache=True), "b")
    assert remote._one_read == {} and remote._one_get == {}
    assert remote._put_options(SMALL + 1) == {}


def test_new_s3fs_reads_once_and_uploads_in_bounded_parts():
    remote = Remote("r", "s3://b", NewS3(skip_instance_cache=True), "b")
    assert remote._one_read == {"max_concurrency": 1} == remote._one_get
    assert remote._put_options(1) == {}
    assert remote._put_options(SMALL + 1) == {"chunksize": S3_PART, "max_concurrency": 4}
    # past 10,000 parts of S3_PART, parts grow
    assert remote._put_options(S3_PART * 10_000 + 1)["chunksize"] == S3_PART + 1


def test_other_protocols_get_no_s3_options():
    fs = NewS3(skip_instance_cache=True)
    fs.protocol = "memory"
    remote = Remote("r", "memory://b", fs, "/b")
    assert remote._one_read == {} and not remote._s3_parts
