"""``mlvc verify [-r R]``: re-hash every object of the cache (or of a remote), and set aside
each one whose bytes no longer hash to its name (SPEC 3).

Set aside, not deleted: a corrupt object moves to ``corrupt/<oid>`` beside ``objects/`` (in
the cache folder, or at the remote's root), where it is out of every command's way but can
still be looked at. Its oid is then simply missing, which every command already handles:
``fetch`` gets it again from a remote, ``add``/``commit`` store it again from the workspace.
In the cache, the objects found sound get a verification record, so ``status`` trusts them
from then on without reading them again. On a remote, a new epoch token is written after
anything moved, so that no clone's index of it still lists the object.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mlvc.objects.oid import hash_file
from mlvc.parallel import run_batched
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace.state import StatKey, stat_key

CORRUPT_DIR = "corrupt"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    where: str  # "cache", or the remote's name
    checked: int
    nbytes: int
    corrupt: tuple[str, ...]
    set_aside: str  # where the corrupt objects went
    remote: bool = False

    @property
    def ok(self) -> bool:
        return not self.corrupt

    def to_json(self) -> dict:
        return {"where": self.where, "remote": self.remote, "checked": self.checked,
                "bytes": self.nbytes, "corrupt": list(self.corrupt),
                "set_aside": self.set_aside if self.corrupt else None}


def verify(repo: Repo, *, remote: str | None = None, cloud: bool = False,
           jobs: int | None = None, progress: Progress = NULL_PROGRESS) -> VerifyResult:
    """Re-hash the cache, or with ``cloud`` the remote ``remote`` (default: core.remote)."""
    jobs = jobs or repo.jobs
    if cloud:
        return _verify_remote(repo, remote, jobs, progress)
    with repo.lock():
        oids = list(repo.cache.iter_oids())
        paths = [repo.cache.path_str(o) for o in oids]
        sizes = {p: os.lstat(p).st_size for p in paths}
        # Reading and hashing: CPU-bound for small objects, one forked worker per core.
        keys = run_batched(paths, _sound_key, jobs, progress, "Verifying cache", unit="obj",
                           processes=True, size=sizes.__getitem__)
        sound = [(o, StatKey(*k)) for o, k in zip(oids, keys) if k is not None]
        corrupt = [o for o, k in zip(oids, keys) if k is None]
        aside = repo.cache_dir / CORRUPT_DIR
        for oid in corrupt:
            aside.mkdir(exist_ok=True)
            os.replace(repo.cache.path_str(oid), aside / oid)
        repo.state.put_objects(sound)
        repo.state.forget_objects(corrupt)
    return VerifyResult("cache", len(oids), sum(sizes.values()), tuple(corrupt), str(aside))


def _sound_key(path: str) -> tuple[int, int, int] | None:
    """The stat of an object whose bytes hash to its name (in a worker); None otherwise."""
    folder, rest = os.path.split(path)
    name = os.path.basename(folder) + rest  # (…/objects/ab/cdef…: the oid)
    try:
        before = os.stat(path)
        if hash_file(path) != name:
            return None
    except FileNotFoundError:  # (gone meanwhile: nothing to set aside)
        return None
    return tuple(stat_key(before))


def _verify_remote(repo: Repo, name: str | None, jobs: int,
                   progress: Progress) -> VerifyResult:
    from mlvc.ops._remote import connect, unreachable

    store, index = connect(repo, name)
    try:
        try:
            oids = sorted(store.list_objects(jobs, progress))
            checked = store.verify_objects(oids, jobs, progress)
            corrupt = sorted(o for o, (ok, _) in checked.items() if not ok)
            if corrupt:
                store.set_aside(corrupt, CORRUPT_DIR)
                store.renew_epoch()  # (the objects left: every clone's index starts again)
                index.sync_epoch(store.epoch())
        except Exception as exc:  # noqa: BLE001 - any failure of the remote, told clearly
            raise unreachable(store, exc) from exc
    finally:
        index.close()
    return VerifyResult(store.name, len(oids), sum(n for _, n in checked.values()),
                        tuple(corrupt),
                        f"{store.url.rstrip('/')}/{CORRUPT_DIR}", remote=True)
