from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mlvc.remote import fs_options, fsspec_url, resolve_url


def test_s3_names_are_mapped_for_s3fs():
    opts = fs_options("s3://bucket/prefix", {
        "url": "s3://bucket/prefix", "endpoint_url": "http://127.0.0.1:9000",
        "access_key_id": "AKIA", "secret_access_key": "s3cr3t", "session_token": "tok",
        "region": "eu-west-1", "profile": "dev", "use_ssl": "false"})
    assert opts["key"] == "AKIA" and opts["secret"] == "s3cr3t" and opts["token"] == "tok"
    assert opts["client_kwargs"] == {"region_name": "eu-west-1"}
    assert opts["endpoint_url"] == "http://127.0.0.1:9000" and opts["profile"] == "dev"
    assert opts["use_ssl"] is False
    assert "url" not in opts and "access_key_id" not in opts
    assert opts["config_kwargs"]["retries"]["max_attempts"] >= 1


def test_dvcs_s3_option_names_work_too():
    opts = fs_options("s3://bucket/prefix", {
        "endpointurl": "http://127.0.0.1:9000", "ssl_verify": "false", "region": "us-east-2",
        "sse": "aws:kms", "sse_kms_key_id": "k1", "acl": "bucket-owner-full-control"})
    assert opts["endpoint_url"] == "http://127.0.0.1:9000" and "endpointurl" not in opts
    assert opts["client_kwargs"] == {"region_name": "us-east-2", "verify": False}
    assert opts["s3_additional_kwargs"] == {"ServerSideEncryption": "aws:kms",
                                            "SSEKMSKeyId": "k1",
                                            "ACL": "bucket-owner-full-control"}


def test_other_filesystems_get_options_as_they_are():
    assert fs_options("gs://b/p", {"url": "gs://b/p", "project": "x", "secret_thing": "true"}) \
        == {"project": "x", "secret_thing": "true"}  # secrets are never coerced


def test_local_paths_are_relative_to_the_project_root(tmp_path):
    assert resolve_url("../store", tmp_path / "proj") == str(tmp_path / "store")
    assert resolve_url("/abs/store", tmp_path) == "/abs/store"
    assert resolve_url("s3://b/p", tmp_path) == "s3://b/p"


@given(st.lists(st.sampled_from(["a", "b", "..", "."]), max_size=6))
def test_local_resolution_is_normalised(parts):
    root = Path("/work/proj")
    url = "/".join(parts) or "."
    assert ".." not in Path(resolve_url(url, root)).parts


def test_packs_is_mlvcs_own_option(tmp_path):
    import pytest

    from mlvc.errors import RemoteError
    from mlvc.remote import open_remote

    assert "packs" not in fs_options("memory://x", {"url": "memory://x", "packs": "false"})

    def opened(value):
        doc = {"remotes": {"r": {"url": "memory://x"}}}
        if value is not None:
            doc["remotes"]["r"]["packs"] = value
        class Settings:  # (what open_remote reads of a Config)
            def remotes(self):
                return doc["remotes"]

            def get(self, key, default=None):
                return default
        return open_remote(Settings(), tmp_path, "r")

    assert opened(None).write_packs is True
    assert opened("false").write_packs is False
    assert opened(True).write_packs is True
    with pytest.raises(RemoteError, match="remotes.r.packs is 'maybe', not true or false"):
        opened("maybe")


def test_dvcs_azure_scheme_is_fsspecs_az():
    assert fsspec_url("azure://container/data") == "az://container/data"
    assert fsspec_url("AZURE://c/d") == "az://c/d"
    assert fsspec_url("s3://b/p") == "s3://b/p" and fsspec_url("../store") == "../store"


def test_dvcs_names_of_ssh_and_gcs_options_are_the_fsspec_packages():
    assert fs_options("ssh://host/p", {"user": "me", "keyfile": "~/.ssh/k", "port": "22"}) \
        == {"username": "me", "client_keys": ["~/.ssh/k"], "port": 22}
    assert fs_options("gs://b/p", {"projectname": "proj", "credentialpath": "/k.json"}) \
        == {"project": "proj", "token": "/k.json"}
