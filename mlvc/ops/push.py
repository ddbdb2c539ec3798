"""``mlvc push``: send the objects the remote lacks.

What the remote has is learned from its local index first (nearly free), then from the remote
itself for the rest. File objects go first and a tree manifest only once everything below it
is on the remote, so a manifest on a remote always means its whole folder is there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlvc.errors import MlvcError
from mlvc.ops._objects import WORKSPACE, Source, collect_sources, expand
from mlvc.ops._remote import (
    FailedObject,
    TransferResult,
    connect,
    failed_objects,
    run_cache_oids,
    unreachable,
)
from mlvc.paths import RelPath, seen_from, typed_in
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.remote.fs import Failure, Remote
from mlvc.remote.index import RemoteIndex
from mlvc.repo import Repo
from mlvc.workspace.state import StatKey, stat_key
from mlvc.workspace.verify import ObjectChecker

if TYPE_CHECKING:
    from mlvc.ops.imports import StoredTree


def push(repo: Repo, targets: list[str] | None = None, *, cwd: Path | None = None,
         remote: str | None = None, jobs: int | None = None, all_branches: bool = False,
         all_tags: bool = False, all_commits: bool = False, run_cache: bool = False,
         revs: Sequence[str] = (), workspace: bool = True, with_deps: bool = False,
         progress: Progress = NULL_PROGRESS) -> TransferResult:
    """Send what the remote lacks. With ``run_cache``, also every run-cache record whose
    outputs are all in the cache, each after its objects (a record on a remote means its
    outputs are there)."""
    jobs = jobs or repo.jobs
    sources, warnings, here = collect_sources(repo, targets, cwd, all_branches=all_branches,
                                              all_tags=all_tags, all_commits=all_commits,
                                              revs=revs, workspace=workspace,
                                              with_deps=with_deps, traveling=True)
    records: dict[str, tuple[set[str], bytes]] = {}
    if run_cache:
        from mlvc.pipeline.runcache import RunCache, dump_record

        for key, outs in RunCache(repo.cache_dir).records().items():
            need = run_cache_oids(repo, outs)
            if need is not None:
                records[key] = (need, dump_record(outs))
                sources += [Source("run-cache", f"runs/{key}", o) for o in outs]
    rem, index = connect(repo, remote)
    try:
        try:
            index.sync_epoch(rem.ensure_epoch())
        except Exception as exc:  # noqa: BLE001 - turned into one clear error
            raise unreachable(rem, exc) from exc
        # A folder whose manifest the remote has is there whole: no need to look inside.
        objs = expand(repo, sources, prune=index.complete, here=here)
        failed = [FailedObject(obj.path + "/", oid, f"{why} in the cache: cannot push below it",
                               "cache") for oid, (obj, why) in objs.unreadable.items()]
        wanted = objs.all_oids()
        there = index.known(wanted)
        try:
            found = rem.contains(wanted - there, jobs, progress)
        except Exception as exc:  # noqa: BLE001
            raise unreachable(rem, exc) from exc
        index.add(found)
        there |= found
        todo = wanted - there

        check = ObjectChecker(repo.cache, repo.state).check(todo, jobs, progress)
        for oid in sorted(check.bad):
            obj = objs.where(oid)
            why = "corrupt in the cache" if oid in check.corrupt else "not in the cache"
            failed.append(FailedObject(obj.path if obj else "?", oid, why, "cache"))
        sent = 0
        nbytes = 0

        # Files first, then trees from the deepest up, each once all its entries are there.
        files = [(o, repo.cache.path_str(o), objs.files[o].size) for o in sorted(todo)
                 if o in objs.files and o not in check.bad]
        result = rem.upload(files, jobs, progress)
        index.add(result.done)
        there |= set(result.done)
        sent, nbytes = len(result.done), result.nbytes
        failed += failed_objects(objs, result.failed, "push")
        pending = [o for o in sorted(todo) if o in objs.trees and o not in check.bad]
        trees = _upload_trees(repo, rem, index, pending, objs.children.__getitem__, there,
                              jobs, progress)
        sent, nbytes = sent + trees.transferred, nbytes + trees.nbytes
        failed += failed_objects(objs, trees.failed, "push")
        index.add_complete(objs.folder_counts(t for t in objs.trees if t in there))
        # (the warnings of the listing this push used, before a merge lists again)
        warnings += _partial(sources, there, rem.name, here) + rem.pack_warnings
        warnings += _merge_small_packs(rem, progress)
        runs = 0
        if records:
            try:
                on_remote = rem.run_keys()
                for key, (need, data) in records.items():
                    lacking = need - there  # objects below pruned folders are in the index
                    if lacking:
                        lacking -= index.known(lacking)
                    if key not in on_remote and not lacking:
                        rem.write_run(key, data)
                        runs += 1
            except Exception as exc:  # noqa: BLE001
                raise unreachable(rem, exc) from exc
        return TransferResult(rem.name, sent, nbytes, objs.object_count() - len(todo),
                              tuple(sorted(failed, key=lambda f: (f.path, f.oid))),
                              tuple(warnings), runs)
    finally:
        index.close()


@dataclass(frozen=True, slots=True)
class _Sent:
    transferred: int
    nbytes: int
    failed: tuple[Failure, ...]


def _upload_trees(repo: Repo, rem: Remote, index: RemoteIndex, pending: list[str],
                  children: Callable[[str], Iterable[str]], there: set[str], jobs: int,
                  progress: Progress) -> _Sent:
    """Upload the manifests ``pending`` (in the cache) in rounds, each once every object
    below it (``children``) is ``there``, deepest first: a manifest on a remote means its
    whole folder is there. ``there`` grows with what is sent."""
    sent = nbytes = 0
    failed: list[Failure] = []
    while pending:
        ready = [o for o in pending if all(c in there for c in children(o))]
        if not ready:
            break
        result = rem.upload([(o, repo.cache.path_str(o), repo.cache.path(o).stat().st_size)
                             for o in ready], jobs, progress)
        index.add(result.done)
        there |= set(result.done)
        sent, nbytes = sent + len(result.done), nbytes + result.nbytes
        failed += result.failed
        tried = set(ready)
        pending = [o for o in pending if o not in tried]
    return _Sent(sent, nbytes, tuple(failed))


def _partial(sources: list[Source], there: set[str], remote: str,
             here: RelPath | None) -> list[str]:
    """A warning for each folder output pushed only in part and not on the remote whole:
    its manifest goes up with the last of its files (a manifest on a remote means its whole
    folder is there), so until then a fresh clone cannot find the parts to pull them."""
    parts: dict[tuple[RelPath, RelPath], list[RelPath]] = {}
    for s in sources:
        if s.within and s.rev == WORKSPACE and s.out.oid not in there:
            parts.setdefault((s.pointer, s.out.path), []).append(s.within)
    out = []
    for (pointer, path), within in sorted(parts.items()):
        named = ", ".join(f"'{seen_from(p, here)}'" for p in sorted(set(within)))
        out.append(f"only part of '{seen_from(path, here)}' ({seen_from(pointer, here)}) is "
                   f"on remote '{remote}': a fresh clone can pull {named} once the whole "
                   f"folder is pushed (`mlvc push {typed_in(path, here)}`)")
    return out


def push_outside(repo: Repo, stored: StoredTree, *, remote: str | None = None,
                 jobs: int | None = None, sent_before: Iterable[str] = (),
                 progress: Progress = NULL_PROGRESS) -> TransferResult:
    """Send a file or folder outside the project (``add --to-remote``) straight to the
    remote, with no copy in the cache: its files from where they are, then its folders'
    manifests (in the cache: ``store_tree`` put them there) from the deepest up, each once
    everything below it is there, as ``push`` orders them. A file whose stat moved since it
    was hashed may have sent other bytes than its oid's: its remote copy is read back, and
    when it does not hash to its oid it is deleted again and the transfer fails, naming
    it. ``sent_before``: objects of the manifests that earlier calls sent (checked, not
    sent). A manifest whose folder is not whole on the remote then is a failure."""
    jobs = jobs or repo.jobs
    rem, index = connect(repo, remote)
    try:
        try:
            index.sync_epoch(rem.ensure_epoch())
            files: dict[str, tuple[str, int]] = {}
            for oid, path, size in stored.files:
                files.setdefault(oid, (path, size))
            wanted = set(files) | set(stored.trees) | set(sent_before)
            there = index.known(wanted)
            there |= rem.contains(wanted - there, jobs, progress)
        except MlvcError:
            raise
        except Exception as exc:  # noqa: BLE001 - turned into one clear error
            raise unreachable(rem, exc) from exc
        index.add(there)
        present = len(there)
        todo = [(o, p, n) for o, (p, n) in sorted(files.items()) if o not in there]
        result = rem.upload(todo, jobs, progress)
        uploaded = set(result.done)
        moved = [o for o, p, _ in todo if o in uploaded and _now(p) != stored.stats.get(p)]
        if moved:  # (changed while hashed or sent: what reached the remote is read back)
            sound = {o for o, (ok, _) in rem.verify_objects(moved, jobs).items() if ok}
            moved = [o for o in moved if o not in sound]
            if moved:
                rem.delete_objects(moved)  # (wrong bytes under an oid: never left there)
        failed = [FailedObject(files[f.oid][0], f.oid, f.reason) for f in result.failed]
        failed += [FailedObject(files[o][0], o, "it changed while it was sent (not kept)")
                   for o in moved]
        done = list(uploaded - set(moved))
        index.add(done)
        there |= set(done)
        sent, nbytes = len(done), result.nbytes
        if not failed:  # (a manifest on a remote: its whole folder is there)
            trees = _upload_trees(repo, rem, index, [t for t in stored.trees if t not in there],
                                  lambda t: (e.oid for e in repo.cache.read_tree(t).entries),
                                  there, jobs, progress)
            sent, nbytes = sent + trees.transferred, nbytes + trees.nbytes
            failed += [FailedObject("(a folder's manifest)", f.oid, f.reason)
                       for f in trees.failed]
            failed += [FailedObject("(a folder's manifest)", t, "its folder is not whole on "
                                    "the remote") for t in dict.fromkeys(stored.trees)
                       if t not in there and t not in {f.oid for f in trees.failed}]
        warnings = list(rem.pack_warnings)  # (taken before a merge lists again)
        if not failed:
            warnings += _merge_small_packs(rem, progress)
        return TransferResult(rem.name, sent, nbytes, present, tuple(failed),
                              tuple(warnings))
    finally:
        index.close()


def _merge_small_packs(rem: Remote, progress: Progress) -> list[str]:
    """:meth:`Remote.auto_repack` after a transfer that wrote packs, best effort: what was
    sent is there whatever happens here, so a failure is a warning."""
    try:
        rem.auto_repack(progress)
    except Exception as exc:  # noqa: BLE001 - a warning, never a failed transfer
        return [f"merging the remote's small packs failed ({exc}); what was sent is whole, "
                "and `mlvc gc -c` merges them later"]
    return []


def _now(path: str) -> StatKey | None:
    try:
        return stat_key(os.stat(path))
    except OSError:
        return None
