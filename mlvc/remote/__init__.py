"""Remotes: where a team's objects are shared (a local or NFS folder, S3, any fsspec filesystem).

:func:`open_remote` turns the ``remotes.<name>.*`` settings into a :class:`~mlvc.remote.fs.Remote`.
The ``url`` picks the filesystem; every other option goes to fsspec, with the friendly
S3 names (``access_key_id``, ``secret_access_key``, ``session_token``, ``region``) mapped to
what s3fs calls them.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlvc.config import Config, is_secret
from mlvc.errors import RemoteError
from mlvc.paths import real_inside
from mlvc.remote.fs import LocalRemote, Remote

# Options of a remote that are mlvc's own, not its filesystem's.
MLVC_OPTIONS = ("url", "packs")
_S3_NAMES = {"access_key_id": "key", "secret_access_key": "secret", "session_token": "token",
             "endpointurl": "endpoint_url"}  # (DVC's name for it)
# DVC's names of other filesystems' options, by scheme: DVC's -> the fsspec package's
_DVC_NAMES = {"ssh": {"user": "username"}, "sftp": {"user": "username"},
              "gs": {"projectname": "project", "credentialpath": "token"},
              "gcs": {"projectname": "project", "credentialpath": "token"}}
# DVC's S3 options that s3fs takes inside a dict of its own: name -> (s3fs option, its key)
_S3_NESTED = {"region": ("client_kwargs", "region_name"),
              "ssl_verify": ("client_kwargs", "verify"),
              "sse": ("s3_additional_kwargs", "ServerSideEncryption"),
              "sse_kms_key_id": ("s3_additional_kwargs", "SSEKMSKeyId"),
              "acl": ("s3_additional_kwargs", "ACL")}
_FS_PACKAGES = {"s3": "s3fs (pip install 'mlvc[s3]')", "gs": "gcsfs", "gcs": "gcsfs",
                "az": "adlfs", "azure": "adlfs", "abfs": "adlfs", "ssh": "sshfs", "sftp": "sshfs"}


def remote_name(config: Config, name: str | None) -> str:
    name = name or config.get("core.remote")  # type: ignore[assignment]
    if not name:
        known = sorted(config.remotes())
        if not known:
            hint = "add one with `mlvc remote add -d NAME URL`"
        else:
            hint = (f"make one the default with `mlvc remote default {known[0]}`, or pass "
                    f"-r {known[0]} (configured: {', '.join(known)})")
        raise RemoteError("no remote given and no default remote is set", hint=hint)
    if str(name) not in config.remotes():
        known = ", ".join(sorted(config.remotes())) or "none"
        raise RemoteError(f"no remote named '{name}' (configured: {known})",
                          hint="`mlvc remote list` shows the remotes; `mlvc remote add` adds one")
    return str(name)


# URL schemes DVC writes that fsspec knows by another name
SCHEME_ALIASES = {"azure": "az"}


def scheme(url: str) -> str | None:
    if "://" in url:
        return url.split("://", 1)[0].lower()
    return None


def fsspec_url(url: str) -> str:
    """``url`` as fsspec names its filesystem (DVC's ``azure://`` is fsspec's ``az://``)."""
    proto = scheme(url)
    if proto in SCHEME_ALIASES:
        return f"{SCHEME_ALIASES[proto]}://{url.split('://', 1)[1]}"
    return url


def resolve_url(url: str, root: Path) -> str:
    """A local path is relative to the project root; any other URL is taken as it is."""
    if scheme(url) is None:
        return os.path.normpath(os.path.join(root, os.path.expanduser(url)))
    return url


def local_path(url: str, root: Path) -> str | None:
    """The folder of a local remote's url (absolute), or None for any other url."""
    url = resolve_url(url, root)
    proto = scheme(url)
    if proto not in (None, "file", "local"):
        return None
    return os.path.abspath(url.split("://", 1)[1] if proto else url)


def check_place(name: str, url: str, root: Path, cache_dir: Path | None = None) -> None:
    """Refuse a local remote folder inside the project (``root``, a real path) or inside the
    cache: pushed objects would show up as the project's data or the cache's own, and a
    checkout of a tracked folder around them deletes them as files its recorded tree lacks."""
    path = local_path(url, root)
    if path is None:
        return
    real = os.path.realpath(path)
    hint = "keep the remote in a folder outside the project (a folder beside it: ../store)"
    if real_inside(real, (str(root),)):
        where = os.path.relpath(real, root)
        shown = "its top folder" if where == "." else where
        raise RemoteError(f"remote '{name}' ({url}) is a folder inside the project ({shown}): "
                          "its objects would mix with the project's files (a checkout could "
                          "delete them, and git would see them)", hint=hint)
    if cache_dir is not None and real_inside(real, (os.path.realpath(cache_dir),)):
        raise RemoteError(f"remote '{name}' ({url}) is a folder inside the cache "
                          f"({cache_dir})", hint=hint)


def fs_options(url: str, options: dict[str, object]) -> dict[str, object]:
    proto = scheme(url) or "file"
    out: dict[str, object] = {}
    for key, value in options.items():
        if key in MLVC_OPTIONS:
            continue
        if isinstance(value, str) and not is_secret(key) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if proto in ("s3", "s3a"):
            if key in _S3_NESTED:
                outer, inner = _S3_NESTED[key]
                out.setdefault(outer, {})[inner] = value  # type: ignore[index]
                continue
            key = _S3_NAMES.get(key, key)
        elif proto in ("ssh", "sftp") and key == "keyfile":
            key, value = "client_keys", [value]  # (sshfs takes a list of key files)
        elif proto in ("ssh", "sftp") and key == "port" and str(value).isdigit():
            value = int(value)  # (`remote modify NAME port 2222` writes a string)
        key = _DVC_NAMES.get(proto, {}).get(key, key)
        out[key] = value
    if proto in ("s3", "s3a"):
        # mlvc retries with backoff itself: botocore's own retries stay short, or a dead
        # endpoint would take minutes to report.
        out.setdefault("config_kwargs", {"retries": {"max_attempts": 2, "mode": "standard"},
                                         "connect_timeout": 10, "read_timeout": 120,
                                         "max_pool_connections": 64})
    return out


def open_remote(config: Config, root: Path, name: str | None = None,
                cache_dir: Path | None = None) -> Remote:
    """The remote ``name`` (default: ``core.remote``) of the project at ``root``, whose
    cache is ``cache_dir``."""
    name = remote_name(config, name)
    options = dict(config.remotes()[name])
    url = options.get("url")
    if not isinstance(url, str) or not url:
        raise RemoteError(f"remote '{name}' has no url",
                          hint=f"set it with `mlvc remote modify {name} url URL`")
    check_place(name, url, root, cache_dir)
    packs = _flag(options.get("packs", True), f"remotes.{name}.packs")
    url = resolve_url(url, root)
    proto = scheme(url)
    path = local_path(url, root)
    if path is not None:
        from fsspec.implementations.local import LocalFileSystem

        return LocalRemote(name, url, LocalFileSystem(), path, write_packs=packs)
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(fsspec_url(url), skip_instance_cache=True,
                                         **fs_options(url, options))
    except ImportError as exc:
        package = _FS_PACKAGES.get(proto or "", "its fsspec filesystem package")
        raise RemoteError(f"remote '{name}' ({url}) needs a package that is not installed: "
                          f"{exc}", hint=f"install {package}") from None
    except (ValueError, TypeError) as exc:
        raise RemoteError(f"remote '{name}' ({url}) cannot be opened: {exc}",
                          hint="check its url and options with `mlvc remote list`") from None
    return Remote(name, url, fs, path, write_packs=packs)


def _flag(value: object, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise RemoteError(f"{key} is {value!r}, not true or false",
                      hint=f"`mlvc config {key} true` (or false)")
