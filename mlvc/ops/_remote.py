"""What push, fetch and pull share: opening a remote with its index, and their result."""

from __future__ import annotations

from dataclasses import dataclass

from mlvc.errors import NO_SPACE, NO_SPACE_HINT, MlvcError, RemoteError
from mlvc.ops._objects import Objects
from mlvc.paths import RelPath
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.remote import open_remote
from mlvc.remote.fs import Failure, Remote
from mlvc.remote.index import RemoteIndex, index_path
from mlvc.remote.retry import is_transient
from mlvc.repo import Repo


@dataclass(frozen=True, slots=True)
class FailedObject:
    path: RelPath
    oid: str
    reason: str
    # Where no sound copy is to be had: "remote" (missing or corrupt there, on fetch),
    # "cache" (missing or corrupt in the cache, on push); "" for a transfer that failed.
    lacks: str = ""

    def to_json(self) -> dict:
        return {"path": self.path, "oid": self.oid, "reason": self.reason}


def transfer_hint(failed: list[FailedObject] | tuple[FailedObject, ...]) -> str:
    """What to do about objects that did not transfer. Running the command again helps only
    with transfers that failed: it cannot find a sound copy where there is none."""
    if any(f.reason == NO_SPACE for f in failed):
        return NO_SPACE_HINT
    lacks = {f.lacks for f in failed}
    hints = []
    if "remote" in lacks:
        hints.append("the remote has no sound copy of some: `mlvc push` them from a clone "
                     "whose cache has them (delete a corrupt copy on the remote first, and "
                     "run `mlvc status -c` in that clone before its push: see "
                     "docs/remotes.md)")
    if "cache" in lacks:
        hints.append("the cache has no sound copy of some: `mlvc fetch` them from a remote "
                     "that has them, or store them again from the workspace (`mlvc commit`)")
    if "source" in lacks:
        hints.append("an import recorded without its data (--no-download) is read from its "
                     "source alone: `mlvc update` records what the source holds now")
    if "" in lacks:
        hints.append("what did arrive is kept; run the command again to finish")
    return "; ".join(hints)


@dataclass(frozen=True, slots=True)
class TransferResult:
    remote: str
    transferred: int  # objects sent or received
    nbytes: int
    present: int  # objects that were already where they had to be
    failed: tuple[FailedObject, ...] = ()
    warnings: tuple[str, ...] = ()
    runs: int = 0  # run-cache records sent or received
    # pointer files of pending imports (``--no-download``) that fetch completed: their
    # data was read from the source and recorded (git files to commit)
    recorded: tuple[RelPath, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict:
        return {"remote": self.remote, "transferred": self.transferred, "bytes": self.nbytes,
                "present": self.present, "failed": [f.to_json() for f in self.failed],
                "warnings": list(self.warnings), "runs": self.runs,
                **({"recorded": list(self.recorded)} if self.recorded else {})}


def connect(repo: Repo, name: str | None) -> tuple[Remote, RemoteIndex]:
    remote = open_remote(repo.config, repo.root, name, repo.cache_dir)
    path = index_path(repo.tmp_dir, remote.url)
    # The pack indexes read from this remote are kept beside its index (see Remote.packed).
    packs = path.with_suffix(".packs")
    try:
        packs.mkdir(parents=True, exist_ok=True)
        remote.pack_cache = str(packs)
    except OSError:
        pass  # (read from the remote each time)
    return remote, RemoteIndex(path, remote.url)


def unreachable(remote: Remote, exc: Exception) -> RemoteError:
    """A clear error for a remote that cannot be used at all."""
    if isinstance(exc, MlvcError):
        return RemoteError(exc.message, exc.hint)
    if isinstance(exc, PermissionError):
        return RemoteError(f"remote '{remote.name}' ({remote.url}) refused access: {exc}",
                           hint="check the credentials: `mlvc remote modify "
                                f"{remote.name} access_key_id …` (stored in config.local.yaml)")
    if isinstance(exc, FileNotFoundError):
        return RemoteError(f"remote '{remote.name}' ({remote.url}) does not exist: {exc}",
                           hint="create the bucket or folder, or fix the url")
    if isinstance(exc, NotADirectoryError):
        return RemoteError(f"remote '{remote.name}' ({remote.url}) is not a folder: a file is "
                           f"in the way ({exc.filename or exc})",
                           hint="point it at a folder: `mlvc remote modify "
                                f"{remote.name} url PATH`")
    if is_transient(exc):
        return RemoteError(f"remote '{remote.name}' ({remote.url}) cannot be reached: "
                           f"{type(exc).__name__}: {exc}",
                           hint="check the url and endpoint_url (`mlvc remote list`), and that "
                                "the server is up; mlvc retried with backoff")
    return RemoteError(f"remote '{remote.name}' ({remote.url}) failed: "
                       f"{type(exc).__name__}: {exc}",
                       hint="check the url and endpoint_url (`mlvc remote list`)")


def failed_objects(objs: Objects, failures: tuple[Failure, ...] | list[Failure],
                   verb: str) -> list[FailedObject]:
    out = []
    for f in failures:
        where = objs.where(f.oid)
        path = where.path if where is not None else "?"
        if f.kind == "missing":
            reason = "missing on the remote" if verb == "fetch" else "missing"
        elif f.kind == "corrupt":
            reason = ("corrupt on the remote (not stored)" if verb == "fetch"
                      else "corrupt in the cache")
        else:
            reason = f.reason
        lacks = "" if f.kind not in ("missing", "corrupt") else (
            "remote" if verb == "fetch" else "cache")
        out.append(FailedObject(path, f.oid, reason, lacks))
    return out


def run_cache_oids(repo: Repo, outs) -> set[str] | None:
    """Every object (files and manifests) a run-cache record needs, or None when the local
    cache lacks any of them."""
    from mlvc.errors import CorruptObjectError, ObjectMissingError
    from mlvc.workspace.compare import flatten

    need: set[str] = set()
    for out in outs:
        if out.type == "file":
            need.add(out.oid)
            continue
        try:
            rec = flatten(repo.cache, out)
        except (ObjectMissingError, CorruptObjectError):
            return None
        need |= rec.objects() | rec.trees
    return need if all(repo.cache.has(o) for o in need) else None


def fetch_objects(repo: Repo, items: list[tuple[str, int | None]], what: str,
                  remote: str | None = None, jobs: int | None = None,
                  progress: Progress = NULL_PROGRESS) -> None:
    """Download ``(oid, size)`` objects into the cache, verified, over one connection to
    ``remote`` (files in one batched transfer); ``size`` None for a folder's manifest (read
    whole: its size is recorded nowhere). ``what`` names the data in the error, which lists
    what could not be had."""
    from mlvc.errors import CorruptObjectError
    from mlvc.workspace.state import StatKey

    if not items:
        return
    store, index = connect(repo, remote)
    failed: list[tuple[str, str]] = []
    try:
        with repo.lock():
            stored: list = []
            try:
                for oid, size in items:
                    if size is not None:
                        continue
                    try:
                        data = store.read_object(oid)
                    except FileNotFoundError:
                        failed.append((oid, "missing on the remote"))
                    except CorruptObjectError:
                        failed.append((oid, "its bytes on the remote do not match its oid"))
                    else:
                        stored.append((oid, StatKey(*repo.cache.write(data, oid))))
                files = [(o, n) for o, n in items if n is not None]
                if files:
                    got = store.download(files, repo.cache, jobs or repo.jobs, progress)
                    stored += got.stored
                    failed += [(f.oid, f.reason) for f in got.failed]
            except Exception as exc:  # noqa: BLE001 - any failure of the remote, told clearly
                raise unreachable(store, exc) from exc
            repo.state.put_objects(stored)
    finally:
        index.close()
    if failed:
        (oid, why), more = failed[0], len(failed) - 1
        raise RemoteError(f"'{what}' (object {oid}) is not in the cache, and remote "
                          f"'{store.name}' could not give it: {why}"
                          + (f" (and {more} more objects)" if more else ""),
                          hint="`mlvc push` it from a clone whose cache has it")
