"""``mlvc gc``: delete the cache objects (and, asked, the remote's) that none of the chosen
revisions uses (SPEC 3, and 4.9: an object a kept revision uses is never deleted).

What is kept is worked out as ``push -a/-T/-A`` works out what to send: the outputs of the
workspace (pointer files and ``mlvc.lock``) and of the chosen git revisions, down through
their folders' manifests. Anything that makes that set uncertain stops gc before it deletes
anything: a kept folder whose manifest the cache lacks (what it holds is unknown), or a
pointer file of a kept revision that cannot be read. Objects that a workspace symlink points
at are kept too, whatever the pointers say (deleting them would break the file).

Run-cache records whose outputs lose an object go with it: they could never be restored.
On a remote (``cloud``), a new epoch token is written first, so that every clone's index of
that remote starts again (see :mod:`mlvc.remote.index`).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import ConfirmationRequired, MlvcError, TargetError
from mlvc.objects.oid import is_oid
from mlvc.ops._objects import collect_sources, expand
from mlvc.paths import to_fs
from mlvc.pipeline.runcache import RunCache, parse_record
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo


@dataclass(frozen=True, slots=True)
class GcResult:
    kept_revisions: int  # git revisions whose objects were kept (besides the workspace)
    used: int  # objects the kept revisions (and workspace symlinks) use
    removed: tuple[str, ...]  # cache objects deleted (with ``dry``: that would be)
    removed_bytes: int
    runs_removed: int  # run-cache records deleted
    remote: str | None = None
    remote_removed: tuple[str, ...] = ()
    dry: bool = False
    packs_merged: int = 0  # small packs on the remote merged…
    packs_written: int = 0  # …into this many
    objects_packed: int = 0  # loose small objects on the remote put into packs
    kept_unpushed: int = 0  # unused objects kept since the remote lacks them (--not-in-remote)
    skipped: tuple[str, ...] = ()  # (--skip-failed) revisions' files that could not be read

    def to_json(self) -> dict:
        return {"dry": self.dry, "kept_revisions": self.kept_revisions, "used": self.used,
                "removed": list(self.removed), "removed_bytes": self.removed_bytes,
                "runs_removed": self.runs_removed, "remote": self.remote,
                "remote_removed": list(self.remote_removed),
                "packs_merged": self.packs_merged, "packs_written": self.packs_written,
                "objects_packed": self.objects_packed, "kept_unpushed": self.kept_unpushed,
                "skipped": list(self.skipped)}


def gc(repo: Repo, *, workspace: bool = False, all_branches: bool = False,
       all_tags: bool = False, all_commits: bool = False, all_experiments: bool = False,
       cloud: bool = False,
       remote: str | None = None, dry: bool = False, force: bool = False,
       projects: tuple[Path, ...] = (), jobs: int | None = None,
       revs: Sequence[str] = (), num: int = 1, date: str | None = None,
       not_in_remote: bool = False, skip_failed: bool = False,
       progress: Progress = NULL_PROGRESS) -> GcResult:
    """Delete what the workspace (always) and the chosen revisions do not use. Without
    ``force`` (and not ``dry``), raises ConfirmationRequired once the plan is known.

    ``projects``: other projects that share this cache (cache.dir, or a symlinked
    .mlvc/cache): what they use, by the same rules, is kept too. A cache outside the project
    may be shared, so gc refuses it until they are named (this project alone: itself).

    ``revs`` (as ``dvc gc --rev``): also what these revisions use, each with its ``num`` - 1
    first-parent ancestors (``-n``); ``date`` (``YYYY-MM-DD``): also what every commit
    made that day or later uses. ``not_in_remote``: of the objects it would delete, keep
    those the remote lacks (only what was pushed goes). ``skip_failed`` (as DVC's): a
    pointer or lock file of a kept revision that cannot be read is left out, and told in
    ``skipped``, rather than stopping gc (what only it used is deleted)."""
    if not_in_remote and cloud:
        raise TargetError("--not-in-remote keeps what the remote lacks; -c deletes on the "
                          "remote: choose one")
    if not (workspace or all_branches or all_tags or all_commits or all_experiments or revs
            or date):
        raise TargetError("gc needs to know what to keep",
                          hint="-w keeps what the workspace uses; -a, -T and -A also every "
                               "branch's, tag's or commit's")
    jobs = jobs or repo.jobs
    cache = os.path.realpath(repo.cache_dir)
    if not projects and not cache.startswith(os.path.realpath(repo.dot) + os.sep):
        raise MlvcError(f"the cache is at {cache}, outside this project (cache.dir, or a "
                        "symlink): other projects may keep data in it, and gc cannot see what "
                        "they use",
                        hint="name them with -p PATH (repeatable); `-p .` if this project "
                             "alone uses that cache")
    with repo.lock(), ExitStack() as closing:
        chosen = (all_branches, all_tags, all_commits, all_experiments)
        picked = _picked(repo, revs, num, date)
        revisions = len(dict.fromkeys([*repo.scm.revisions(*chosen), *picked])) \
            if (any(chosen) or picked) and repo.scm is not None else 0
        skipped: list[str] = []
        used = _used(repo, *chosen, revs=picked, skipped=skipped if skip_failed else None)
        for other in projects:
            with Repo.find(other) as them:
                if them.root != repo.root:  # (their revisions: by the same rules)
                    used |= _used(them, *chosen, revs=_picked(them, revs, num, date),
                                  skipped=skipped if skip_failed else None)
        doomed = sorted(set(repo.cache.iter_oids()) - used)
        remote_doomed: list[str] = []
        on_remote: set[str] = set()
        unpushed = 0
        if cloud or not_in_remote:
            from mlvc.ops._remote import connect, unreachable

            store, index = connect(repo, remote)
            closing.callback(index.close)
            try:
                on_remote = store.list_objects(jobs, progress)
                remote_doomed = sorted(on_remote - used) if cloud else []
            except Exception as exc:  # noqa: BLE001 - any failure of the remote, told clearly
                raise unreachable(store, exc) from exc
            if not_in_remote:
                unpushed = sum(o not in on_remote for o in doomed)
                doomed = [o for o in doomed if o in on_remote]
        if not dry and not force and (doomed or remote_doomed):
            where = f" and {len(remote_doomed)} from remote '{store.name}'" if cloud else ""
            left = (f" (--skip-failed left out {len(skipped)} unreadable file(s) of them: "
                    f"{skipped[0]}{' …' if len(skipped) > 1 else ''})" if skipped else "")
            raise ConfirmationRequired(
                f"gc would delete {len(doomed)} objects from the cache{where}, which the "
                f"kept revisions do not use{left}",
                hint="--dry tells what would go (with --json, which objects); -f deletes "
                     "without asking")
        freed = sum(os.lstat(repo.cache.path_str(o)).st_size for o in doomed)
        runs = _runs_naming(RunCache(repo.cache_dir).records().items(), set(doomed))
        merged, folded = (0, 0), 0
        if not dry:
            _delete_local(repo, doomed, runs, progress)
            if cloud:
                try:
                    if remote_doomed:
                        store.renew_epoch()  # (first: every clone's index of it starts again)
                        index.sync_epoch(store.epoch())
                        records = ((k, parse_record(store.read_run(k)))
                                   for k in sorted(store.run_keys()))
                        for key in _runs_naming(records, set(remote_doomed)):
                            store.delete_run(key)  # (before their objects, as in the cache)
                        store.delete_objects(remote_doomed, progress)
                    # What is left: loose small objects into packs, small packs merged.
                    folded = store.fold_loose(_local_copies(repo, on_remote - set(
                        remote_doomed)), jobs, progress)
                    merged = store.repack(progress)
                except Exception as exc:  # noqa: BLE001 - as above
                    raise unreachable(store, exc) from exc
    return GcResult(revisions, len(used), tuple(doomed), freed,
                    len(runs), store.name if cloud else None, tuple(remote_doomed), dry,
                    *merged, folded, unpushed, tuple(skipped))


def _local_copies(repo: Repo, oids: set[str]) -> list[tuple[str, str, int]]:
    """``(oid, path, size)`` of the cache's copies of ``oids`` (what the cache lacks is left
    as it is on the remote; which are small enough for a pack, the remote decides)."""
    found = []
    for oid in sorted(oids):
        path = repo.cache.path_str(oid)
        try:
            found.append((oid, path, os.stat(path).st_size))
        except OSError:
            continue
    return found


def _picked(repo: Repo, revs: Sequence[str], num: int, date: str | None) -> list[str]:
    """The commits ``--rev`` (with ``-n``) and ``--date`` name, in ``repo``."""
    if not (revs or date):
        return []
    if repo.scm is None:
        raise TargetError("--rev and --date name git revisions, and this project has no git")
    picked: list[str] = []
    for rev in revs:
        sha = repo.scm.resolve(rev)
        if sha is None:
            raise TargetError(f"'{rev}' is not a git revision here",
                              hint="a branch, tag or commit (`git log` lists them)")
        picked += repo.scm.first_parents(sha, num)
    if date:
        try:
            day = datetime.date.fromisoformat(date)
        except ValueError:
            raise TargetError(f"--date {date}: not a date", hint="write it YYYY-MM-DD") \
                from None
        midnight = datetime.datetime.combine(day, datetime.time())  # (local time, as git's)
        picked += repo.scm.commits_since(midnight.timestamp())
    return list(dict.fromkeys(picked))


def _used(repo: Repo, all_branches: bool, all_tags: bool, all_commits: bool,
          all_experiments: bool = False, revs: Sequence[str] = (),
          skipped: list[str] | None = None) -> set[str]:
    """Every object the workspace and the chosen revisions use; refuses when that cannot be
    known for sure, unless ``skipped`` is given: a revision's pointer or lock file that
    cannot be read is then added to it, and left out. Files kept in git (``cache: false``:
    metrics, plots) that the kept locks record count too: small, and what a run-cache record
    of such a stage needs besides its cached outputs (without them, gc would drop the run
    cache of every stage writing metrics)."""
    from mlvc.pipeline.lockfile import load_lock

    sources, warnings = collect_sources(repo, None, all_branches=all_branches,
                                        all_tags=all_tags, all_commits=all_commits,
                                        all_experiments=all_experiments, revs=revs,
                                        in_git=True)[:2]
    if warnings and skipped is not None:
        skipped += warnings
    elif warnings:
        raise MlvcError(f"gc cannot tell what {len(warnings)} pointer or lock file(s) of the "
                        f"kept revisions use, so it deletes nothing: {warnings[0]}"
                        + (" …" if len(warnings) > 1 else ""),
                        hint="keep fewer revisions (-w, -a or -T instead of -A), fix those "
                             "files, or --skip-failed to leave them out (what only they use "
                             "is deleted)")
    objs = expand(repo, sources)
    if objs.unreadable:
        oid, (obj, why) = next(iter(objs.unreadable.items()))
        raise MlvcError(
            f"gc cannot tell what {len(objs.unreadable)} kept folder(s) hold, so it deletes "
            f"nothing: {obj.path} ({obj.pointer}, manifest {oid}) {why}",
            hint="`mlvc fetch` (with -a, -T or -A as given to gc) gets the manifests; or keep "
                 "fewer revisions")
    in_git = {o.oid for e in load_lock(repo.root).values() for o in e.outs
              if o.path in e.uncached and o.type == "file"}  # (the workspace's; revisions' above)
    return objs.all_oids() | _symlinked(repo, sources) | in_git


def _symlinked(repo: Repo, sources) -> set[str]:
    """Objects that workspace symlinks, inside the tracked outputs, point at (a workspace
    left as another revision placed it, say): kept, or those files would break."""
    objects_dir = os.path.realpath(repo.cache.objects_dir) + os.sep
    found: set[str] = set()
    paths = sorted({s.out.path for s in sources if s.rev == "workspace"})
    for path in paths:
        fs = to_fs(repo.root, path)
        for link in _links_below(fs):
            target = os.path.realpath(link)
            if target.startswith(objects_dir):
                rel = target[len(objects_dir):].split(os.sep)
                if len(rel) == 2 and is_oid(rel[0] + rel[1]):
                    found.add(rel[0] + rel[1])
    return found


def _links_below(fs: Path) -> list[str]:
    if fs.is_symlink():
        return [str(fs)]
    if not fs.is_dir():
        return []
    links = []
    for folder, dirs, files in os.walk(fs):
        links += [os.path.join(folder, n) for n in files if os.path.islink(os.path.join(folder, n))]
        links += [os.path.join(folder, d) for d in dirs if os.path.islink(os.path.join(folder, d))]
    return links


def _runs_naming(records, doomed: set[str]) -> list[str]:
    """Of ``(key, outputs)`` run-cache records, those that name an output object about to be
    deleted. (A folder's manifest stands for its files: one that is kept was looked into,
    and so everything below it is kept too.)"""
    return [key for key, outs in records
            if outs is not None and any(o.oid in doomed for o in outs)]


def _delete_local(repo: Repo, doomed: list[str], runs: list[str], progress: Progress) -> None:
    run_cache = RunCache(repo.cache_dir)
    for key in runs:  # (first: a record never outlives its objects)
        run_cache.delete(key)
    with progress.phase("Deleting", total=len(doomed), unit="obj") as advance:
        for oid in doomed:
            try:
                os.unlink(repo.cache.path_str(oid))
            except FileNotFoundError:
                pass
            advance(1)
    repo.state.forget_objects(doomed)
