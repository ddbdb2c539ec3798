"""``mlvc fetch``: bring the objects the cache lacks, or holds corrupt, from a remote, each
one verified.

Folders are learned one level at a time: the manifests of a level are downloaded together,
re-hashed and validated before they are stored, then the next level. File objects are then
downloaded concurrently and re-hashed before they enter the cache; bad bytes never do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from mlvc.errors import MlvcError
from mlvc.objects.tree import Tree
from mlvc.ops._objects import WORKSPACE, Source, collect_sources, expand
from mlvc.ops._remote import (
    FailedObject,
    TransferResult,
    connect,
    failed_objects,
    run_cache_oids,
    unreachable,
)
from mlvc.parallel import threaded
from mlvc.paths import RelPath, overlaps
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.remote.fs import Remote
from mlvc.repo import Repo
from mlvc.workspace.state import StatKey
from mlvc.workspace.verify import ObjectChecker


def fetch(repo: Repo, targets: list[str] | None = None, *, cwd: Path | None = None,
          remote: str | None = None, jobs: int | None = None, all_branches: bool = False,
          all_tags: bool = False, all_commits: bool = False, run_cache: bool = False,
          revs: Sequence[str] = (), workspace: bool = True, with_deps: bool = False,
          max_size: int | None = None, types: Sequence[str] = (),
          progress: Progress = NULL_PROGRESS) -> TransferResult:
    """Bring what the cache lacks. With ``run_cache``, also the remote's run-cache records
    this cache lacks, and their outputs; a record is kept once all its outputs arrived.
    ``max_size`` and ``types`` (as DVC's ``--max-size``, ``--type``): only the outputs
    whose recorded size is below ``max_size`` bytes (a whole folder's, for a folder), or
    that each revision's ``mlvc.yaml`` declares as one of ``types`` ("metrics", "plots")
    or that hold or lie in one."""
    jobs = jobs or repo.jobs
    # (imports recorded without their data: their size and kind are not known yet, so
    # --max-size and --type leave them out)
    recorded, unread = _complete_pending(repo, targets, cwd, jobs, progress) \
        if workspace and max_size is None and not types else ((), [])
    if unread and targets:
        targets = not_pending(repo, targets, cwd)
        if not targets:  # (those alone were asked for)
            return TransferResult("", 0, 0, 0, tuple(unread), recorded=recorded)
    try:
        result = _fetch(repo, targets, cwd=cwd, remote=remote, jobs=jobs,
                        all_branches=all_branches, all_tags=all_tags, all_commits=all_commits,
                        run_cache=run_cache, revs=revs, workspace=workspace,
                        with_deps=with_deps, max_size=max_size, types=types,
                        progress=progress, pending_only=bool(unread) and not recorded)
    except MlvcError as exc:  # (no remote, say: the imports' failures are said too)
        if not unread:
            raise
        said = "; ".join(f"{f.path}: {f.reason}" for f in unread)
        raise type(exc)(f"{said}; and {exc.message}", exc.hint) from None
    if not (recorded or unread):
        return result
    return replace(result, failed=tuple(unread) + result.failed, recorded=recorded)


def _fetch(repo: Repo, targets: list[str] | None, *, cwd: Path | None, remote: str | None,
           jobs: int, all_branches: bool, all_tags: bool, all_commits: bool, run_cache: bool,
           revs: Sequence[str], workspace: bool, with_deps: bool, max_size: int | None,
           types: Sequence[str], progress: Progress, pending_only: bool = False
           ) -> TransferResult:
    sources, warnings, here = collect_sources(repo, targets, cwd, all_branches=all_branches,
                                              all_tags=all_tags, all_commits=all_commits,
                                              revs=revs, workspace=workspace,
                                              with_deps=with_deps, traveling=True)
    asked, said = bool(sources), len(warnings)
    if max_size is not None:
        sources = [s for s in sources if s.out.size is None or s.out.size < max_size]
    if types:
        sources = _of_types(repo, sources, types, warnings)
    sources, (got, got_bytes, there) = _from_import_sources(repo, sources, warnings,
                                                            progress, jobs)
    if (asked or pending_only) and not sources and not run_cache:  # (imports alone: no
        #                                                            remote needed)
        return TransferResult("", got, got_bytes, there, (), tuple(warnings))
    try:
        rem, index = connect(repo, remote)
    except MlvcError as exc:
        unread = warnings[said:]  # (imports whose source failed: say why, not only this)
        if unread:
            raise type(exc)("; ".join(unread) + f"; and {exc.message}", exc.hint) from None
        raise
    try:
        with repo.lock():
            records: dict = {}
            try:
                index.sync_epoch(rem.epoch())
                if run_cache:
                    records = _remote_records(repo, rem, jobs)
            except Exception as exc:  # noqa: BLE001 - turned into one clear error
                raise unreachable(rem, exc) from exc
            for key, outs in records.items():
                sources += [Source("run-cache", f"runs/{key}", o) for o in outs]
            getter = _TreeFetcher(repo, rem, jobs, progress)
            objs = expand(repo, sources, getter, here=here)
            failed = []
            for oid, (obj, why) in objs.unreadable.items():
                lacks = "remote" if why in ("missing", "corrupt") else ""
                failed.append(FailedObject(obj.path + "/", oid,
                                           f"{why} on the remote" if lacks else why, lacks))
            # An object that status, checkout or push found corrupt (such as a hard-linked
            # file written in place) is checked again, and downloaded and replaced if it
            # still does not match its oid.
            suspects = repo.state.corrupt_objects() & objs.files.keys()
            bad = ObjectChecker(repo.cache, repo.state).check(suspects, jobs).bad
            wanted = [(o, obj.size) for o, obj in sorted(objs.files.items())
                      if o in bad or not repo.cache.has(o)]
            result = rem.download(wanted, repo.cache, jobs, progress)
            repo.state.put_objects(result.stored)
            repo.state.clear_corrupt([o for o in suspects if o not in bad]
                                     + [o for o, _ in result.stored])
            index.add([*result.done, *getter.fetched])
            failed += failed_objects(objs, result.failed, "fetch")
            if not failed:  # the remote had every folder whole: a later push need not look
                index.add_complete(objs.folder_counts(index.known(objs.trees)))
            present = len(objs.files) - len(wanted) + len(objs.trees) - len(getter.fetched)
            runs = 0
            if records:
                from mlvc.pipeline.runcache import RunCache

                local = RunCache(repo.cache_dir)
                for key, outs in records.items():
                    if run_cache_oids(repo, outs) is not None:
                        local.put(key, outs)
                        runs += 1
            return TransferResult(rem.name, len(result.done) + len(getter.fetched) + got,
                                  result.nbytes + getter.nbytes + got_bytes, present,
                                  tuple(sorted(failed, key=lambda f: (f.path, f.oid))),
                                  tuple(warnings + rem.pack_warnings), runs)
    finally:
        index.close()


def _complete_pending(repo: Repo, targets: list[str] | None, cwd: Path | None, jobs: int,
                      progress: Progress) -> tuple[tuple[RelPath, ...], list[FailedObject]]:
    """Pending imports of the workspace (recorded without their data: ``--no-download``,
    ``--no-exec``) that ``targets`` choose (pointer files, outputs, folders holding them;
    none: all), read from their sources and recorded (see ``imports.complete_pending``):
    the pointer files written, and those that could not be read (as failures: no remote
    holds data whose oid is not known)."""
    from mlvc.ops import user_paths
    from mlvc.ops.imports import complete_pending, record_pointer
    from mlvc.workspace.index import Index

    index = Index.load(repo.root, repo.ignore, stages=False)
    pending = index.pending(user_paths(repo, targets, cwd)[0] if targets else [])
    recorded, failed = [], []
    for pointer in pending:
        try:
            done = complete_pending(repo, pointer, jobs=jobs, progress=progress)
            record_pointer(repo, done, force=False, progress=progress, checkout=False)
        except MlvcError as exc:
            failed.append(FailedObject(pointer.imported_path, "",
                                       f"not read from its source: {exc.message}", "source"))
            continue
        recorded.append(pointer.path)
    return tuple(recorded), failed


def not_pending(repo: Repo, targets: list[str], cwd: Path | None) -> list[str]:
    """The targets that choose more than imports still recorded without their data (fetch
    could not read those: it said why): there is nothing else of them to fetch or place."""
    from mlvc.ops import user_paths
    from mlvc.workspace.index import Index

    paths = user_paths(repo, targets, cwd)[0]
    rest, _ = Index.load(repo.root, repo.ignore, stages=False).split_pending(paths)
    return [t for t, p in zip(targets, paths) if rest is not None and p in rest]


def _of_types(repo: Repo, sources: list[Source], types: Sequence[str],
              warnings: list[str]) -> list[Source]:
    """The sources whose output is (or holds, or lies in) a path that the ``mlvc.yaml`` of
    its revision declares as one of ``types``: a stage's ``metrics:`` or ``plots:``, or a
    top-level one. A revision whose ``mlvc.yaml`` does not load declares none (said in
    ``warnings``)."""
    from mlvc.ops.diff import SideView, prefetch_texts, sides_of
    from mlvc.pipeline import PIPELINE_FILE
    from mlvc.pipeline.model import DEFAULT_PARAMS

    revs = list(dict.fromkeys(s.rev for s in sources))
    views = [SideView(repo, side) for side in sides_of(
        repo, [None if rev == WORKSPACE else rev for rev in revs])]
    # (each revision's pipeline, and the params its vars may read: one git process for all)
    prefetch_texts(repo, views, lambda v: [PIPELINE_FILE, DEFAULT_PARAMS])
    typed: dict[str, list[RelPath]] = {}
    for rev, view in zip(revs, views):
        pipeline = view.pipeline
        warnings += view.warnings
        paths: list[RelPath] = []
        for stage in pipeline or ():
            paths += [o.path for o in stage.outs if o.kind in types]
        if pipeline is not None and "metrics" in types:
            paths += pipeline.metrics
        if pipeline is not None and "plots" in types:
            paths += [f for p in pipeline.plots for f in ([y for y, _ in p.ys] or [p.id])]
        typed[rev] = paths
    return [s for s in sources if any(overlaps(s.out.path, p) for p in typed[s.rev])]


def _from_import_sources(repo: Repo, sources: list[Source], warnings: list[str],
                         progress: Progress, jobs: int | None = None
                         ) -> tuple[list[Source], tuple[int, int, int]]:
    """Imported outputs whose objects this cache lacks come from their own source — the
    other project at the commit their pointer file records (the workspace's, or another
    revision's with -a/-T/-A), or for the workspace's URL imports the URL when it still holds
    what was imported (as ``dvc fetch`` does): a clone of this project needs no remote of
    its own for them. Those that cannot be read there stay for the remote (with
    a warning). The sources left; how many objects came, their bytes,
    and how many files of imports were here already."""
    from mlvc.ops.import_url import fetch_url_import
    from mlvc.ops.imports import complete, fetch_imported
    from mlvc.workspace.pointer import DbSource, ImportSource

    rest: list[Source] = []
    got = nbytes = there = 0
    for s in sources:
        src = s.origin  # (collect_sources read it with the pointer file)
        if src is None:
            rest.append(s)
            continue
        if complete(repo, s.out):
            there += s.out.nfiles
            continue
        if isinstance(src, DbSource):  # (a database's snapshot: the remote's)
            rest.append(s)
            continue
        try:
            with repo.lock():
                if isinstance(src, ImportSource):
                    n, size = fetch_imported(repo, s.pointer, s.out, src, progress, jobs)
                else:
                    n, size = fetch_url_import(repo, s.pointer, s.out, src, progress)
            got, nbytes = got + n, nbytes + size
        except MlvcError as exc:
            warnings.append(f"{s.pointer}: not read from its source ({exc.message}); "
                            "trying the remote")
            rest.append(s)
    return rest, (got, nbytes, there)


def _remote_records(repo: Repo, rem: Remote, jobs: int) -> dict:
    """The remote's run-cache records that this cache lacks: key -> outs. A record that
    does not parse is left out (it could not be trusted)."""
    from mlvc.pipeline.runcache import RunCache, parse_record

    wanted = sorted(rem.run_keys() - RunCache(repo.cache_dir).keys())
    out = {}
    for key, data in threaded(wanted, rem.read_run, jobs):
        if isinstance(data, FileNotFoundError):
            continue
        if isinstance(data, BaseException):
            raise data
        outs = parse_record(data)
        if outs is not None:
            out[key] = outs
    return out


class _TreeFetcher:
    """Downloads manifests the cache lacks, validates them, and stores them."""

    def __init__(self, repo: Repo, remote: Remote, jobs: int, progress: Progress) -> None:
        self.repo = repo
        self.remote = remote
        self.jobs = jobs
        self.progress = progress
        self.fetched: list[str] = []
        self.nbytes = 0

    def __call__(self, oids: list[str]) -> dict[str, Tree | Exception]:
        out: dict[str, Tree | Exception] = {}
        rows = []
        with self.progress.phase("Fetching folder listings", total=len(oids),
                                 unit="object") as adv:
            # (verified against their oids: a missing or corrupt one comes as its error)
            for oid, data in self.remote.read_objects(oids, self.jobs):
                if isinstance(data, Exception):
                    out[oid] = data
                    adv(1)
                    continue
                try:
                    tree = Tree.from_bytes(data, oid)  # a bad name: never stored
                    key = StatKey(*self.repo.cache.write(data, oid))
                except Exception as exc:  # noqa: BLE001 - reported with the folder
                    out[oid] = exc
                    adv(1)
                    continue
                out[oid] = tree
                rows.append((oid, key))
                self.fetched.append(oid)
                self.nbytes += len(data)
                adv(1)
        self.repo.state.put_objects(rows)
        self.repo.state.put_valid_trees(o for o, _ in rows)
        return out
