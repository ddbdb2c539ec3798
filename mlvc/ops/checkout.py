"""``mlvc checkout``: make the workspace match the pointers, from the cache."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import NO_SPACE, NO_SPACE_HINT, MlvcError
from mlvc.ops import user_targets
from mlvc.ops._outputs import (
    Parts,
    holds_recorded,
    load_recorded,
    refuse_unknown_parts,
    resolve,
)
from mlvc.ops._placed import Checked, mark_placed
from mlvc.parallel import in_background
from mlvc.paths import RelPath, to_fs
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace import checkout as co
from mlvc.workspace.compare import ancestors, leave_out, other_projects, view
from mlvc.workspace.index import Index, Selected
from mlvc.workspace.links import NO_LINK_TYPE
from mlvc.workspace.marks import scan_by_marks
from mlvc.workspace.scan import WsFile
from mlvc.workspace.verify import ObjectChecker

PREPARE_FORK_MIN = 64  # from this many deletes and new folders, a forked child makes them
OTHER_PROJECT = "holds another mlvc project now: its recorded files were left alone"


@dataclass(frozen=True, slots=True)
class CheckoutResult:
    added: tuple[RelPath, ...]
    modified: tuple[RelPath, ...]
    deleted: tuple[RelPath, ...]
    relinked: tuple[RelPath, ...]
    conflicts: tuple[RelPath, ...]  # unsaved changes that were kept
    failed: tuple[tuple[RelPath, str], ...]
    dirs_made: tuple[RelPath, ...] = ()  # empty folders (see _empty_folders)
    dirs_removed: tuple[RelPath, ...] = ()
    # Files whose cache object was found corrupt before they were replaced or deleted: their
    # bytes were stored again from them (see _soundly_saved).
    repaired: tuple[RelPath, ...] = ()
    # Recorded paths taken by something that .mlvcignore leaves out now: left alone.
    ignored: tuple[RelPath, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed and not self.conflicts

    def missing_allowed(self) -> tuple[CheckoutResult, tuple[tuple[RelPath, str], ...]]:
        """``--allow-missing``: this result without the failures of paths whose objects the
        cache lacks, and those failures."""
        from dataclasses import replace

        missing = tuple((p, r) for p, r in self.failed if r.startswith("not in cache"))
        return replace(self, failed=tuple(f for f in self.failed if f not in missing)), missing

    @property
    def hint(self) -> str | None:
        """What the user can do about the failures, or the kept changes."""
        reasons = [r for _, r in self.failed]
        if NO_SPACE in reasons:
            return NO_SPACE_HINT
        if any(r.startswith(NO_LINK_TYPE) for r in reasons):
            return ("`mlvc doctor` lists the link types that work here: add one to cache.type "
                    "(e.g. `mlvc config cache.type hardlink,copy`), or keep the cache on this "
                    "filesystem (`mlvc config cache.dir`)")
        if any("in cache" in r or "in the cache" in r for r in reasons):
            return ("`mlvc fetch` gets missing or corrupt objects again from a remote; "
                    "or re-add the data")
        if OTHER_PROJECT in reasons:
            return ("`mlvc commit` records the output without that folder; or delete the "
                    "folder's .mlvc/ to make it part of this project again")
        if self.conflicts and not self.failed:
            return "`mlvc commit` keeps the changes; `mlvc checkout --force` discards them"
        return None

    def to_json(self) -> dict:
        return {"added": list(self.added), "modified": list(self.modified),
                "deleted": list(self.deleted), "relinked": list(self.relinked),
                "conflicts": list(self.conflicts),
                "failed": [{"path": p, "reason": r} for p, r in self.failed],
                "dirs_made": list(self.dirs_made), "dirs_removed": list(self.dirs_removed),
                "repaired": list(self.repaired), "ignored": list(self.ignored)}


def checkout(repo: Repo, targets: list[str] | None = None, *, cwd: Path | None = None,
             force: bool = False, relink: bool = False, jobs: int | None = None,
             with_deps: bool = False, traveled: bool = False,
             progress: Progress = NULL_PROGRESS) -> CheckoutResult:
    """``traveled`` (pull): stage outputs that never travel (``push: false``) and that the
    cache lacks are passed by, not failures: `mlvc repro` makes them."""
    paths, here = user_targets(repo, targets or [], cwd, with_deps=with_deps)
    index = Index.load(repo.root, repo.ignore, here=here)
    selected = index.select(paths, here)
    if traveled:
        selected = [s for s in selected
                    if s.tracked.pushed or repo.cache.exists(s.tracked.out.oid)]
    with repo.lock():
        return checkout_selected(repo, selected, force=force, relink=relink, jobs=jobs,
                                 progress=progress, here=here)


def checkout_selected(repo: Repo, selected: list[Selected], *, force: bool = False,
                      relink: bool = False, jobs: int | None = None,
                      progress: Progress = NULL_PROGRESS,
                      here: RelPath | None = None,
                      relink_only: Collection[RelPath] | None = None) -> CheckoutResult:
    """Checkout of chosen outputs; the caller holds the repository lock. ``here`` is the
    user's folder, for the paths an error shows. ``relink_only`` narrows ``relink`` to
    those files."""
    relink_needed = None if relink_only is None else relink_only.__contains__
    jobs = jobs or repo.jobs
    started = time.time_ns()
    # An output that still matches its clean mark is as recorded, and so are its objects in
    # the cache: there is nothing to place, delete or keep (unless files are to be relinked,
    # or a killed run left temporary files in it).
    stats: dict = {}  # the stat of marked objects, taken during the scan
    listings, clean = scan_by_marks(
        repo.scanner, repo.state, str(repo.cache.objects_dir),
        [(s.within or s.tracked.out.path, None if s.within or relink else s.tracked.out.oid)
         for s in selected], stats=stats)
    scanned = {s: listing for s, listing, ok in zip(selected, listings, clean)
               if not ok or listing.leftovers}
    loaded = load_recorded(repo, list(scanned))
    failed: list[tuple[RelPath, str]] = []
    plans = []
    views = []
    compared = []  # what the plans were made from, to mark outputs after (see _placed.py)
    # An output whose recorded tree the cache lacks but whose workspace holds that very
    # data (after `add --no-commit`) needs nothing, so it does not fail.
    unread = [i for i in loaded if i.tree_missing and not i.selected.within
              and scanned[i.selected].kind is not None]
    holding = {i.selected for i, held in zip(unread, holds_recorded(repo, unread, jobs, progress))
               if held}
    for item in loaded:
        if item.recorded is None:
            if item.selected not in holding:
                failed.append((item.selected.tracked.out.path, item.problem or "unreadable"))
            continue
        s = item.selected
        # Sub-folders still clean by their own marks need nothing either (not with
        # --relink, which re-creates every file).
        part = Parts() if relink else Parts.of(repo, item.whole, scanned[s], stats)
        rec = part.leave_out_recorded(item.recorded)
        ws = view(part.rest_of(scanned[s]).tree(), s.within)
        refuse_unknown_parts([(item, ws)], here)  # (before anything is written)
        # A recorded folder that holds another project now is that project's: nothing is
        # written there (the scan left it out, so its files would all look missing).
        elsewhere = other_projects(repo.root, rec, ws)
        failed.extend((d, OTHER_PROJECT) for d in elsewhere)
        views.append((leave_out(rec, elsewhere), ws))
        compared.append((item, scanned[s], part))
    resolve(repo, [f for _, ws in views for f in ws.files.values()],
            [i.selected.within or i.selected.tracked.out.path for i in loaded
             if i.recorded is not None], jobs, progress)
    is_saved, repaired = (repo.cache.exists, ()) if force else \
        _soundly_saved(repo, views, jobs, progress)
    for rec, ws in views:
        assert rec is not None
        plans.append(co.plan(rec, ws, is_saved, force=force, relink=relink,
                             relink_needed=relink_needed))

    # Each object is checked where it is placed, in the workers: one that is missing or whose
    # bytes no longer match its oid is refused (see verify.Inspector).
    placing = {a.want.oid for p in plans for a in p.actions if a.want is not None
               and a.kind in ("create", "replace", "relink")}
    checker = ObjectChecker(repo.cache, repo.state)
    # Deletes and new folders are made in a forked child while this process loads the
    # objects' verification records (50,000: 0.1-0.2 s; 551 mkdir: 0.02-0.3 s on ext4).
    with in_background(co.prepare, repo.root, plans,
                       fork=co.prepare_size(plans) >= PREPARE_FORK_MIN) as prepared:
        inspect = checker.inspector(placing)
        prepared()
    # The outputs' plans are carried out as one: one pool of workers and one progress bar
    # for all, and one write of each kind to the state DB (20,000 single-file outputs took
    # 16 s one by one).
    merged = co.Plan(tuple(a for p in plans for a in p.actions), (), (), ())
    applied = co.apply(repo.root, merged, repo.linker, jobs, progress, inspect)
    checker.record(applied.verified)
    repo.state.put_corrupt(applied.corrupt)
    repo.state.put_files(applied.rows)
    repo.state.delete_files([*applied.deleted, *applied.unrowed])
    # A recorded path found taken that .mlvcignore leaves out now (a rule added after it
    # was recorded) is not a failure: what is there is left alone, as the rule asks.
    ignored = tuple(p for p, why in applied.failed
                    if why == co.APPEARED and repo.ignore.is_ignored(p))
    failed.extend((p, why) for p, why in applied.failed if p not in ignored)
    mark_placed(repo, [Checked(item, listing, part, ws, the_plan)
                       for (item, listing, part), (_, ws), the_plan
                       in zip(compared, views, plans)],
                applied, inspect, started, stats, jobs, progress)
    ok = set(applied.placed)
    added, modified, relinked, conflicts = [], [], [], []
    for the_plan in plans:
        for a in the_plan.actions:
            if a.kind == "create" and a.path in ok:
                added.append(a.path)
            elif a.kind in ("replace", "chmod") and (a.path in ok or a.kind == "chmod"):
                modified.append(a.path)
            elif a.kind == "relink" and a.path in ok:
                relinked.append(a.path)
        conflicts.extend(the_plan.conflicts)
    deleted = applied.deleted
    made, removed = _empty_folders(repo, plans, [*ok, *deleted])
    return CheckoutResult(tuple(sorted(added)), tuple(sorted(modified)), tuple(sorted(deleted)),
                          tuple(sorted(relinked)), tuple(sorted(conflicts)), tuple(sorted(failed)),
                          made, removed, repaired, tuple(sorted(ignored)))


def _soundly_saved(repo: Repo, views: list, jobs: int, progress: Progress
                   ) -> tuple[Callable[[str], bool], tuple[RelPath, ...]]:
    """``is_saved`` for the plans (whether a workspace file's bytes are in the cache,
    sound), and the files whose bytes were stored again.

    A file that a plan replaces or deletes because its bytes are saved may be their last
    sound copy: its object may have gone bad since it was stored. Those objects are checked
    (a stat against the verification record; hashed on a mismatch), and one found corrupt
    is stored again from the file before anything is replaced. One that cannot be (the
    file changed meanwhile) counts as not saved: the file is kept, as a conflict.
    """
    at_risk: dict[str, WsFile] = {}
    for rec, ws in views:
        for path, f in ws.files.items():
            want = rec.files.get(path)
            if (f.oid is not None and f.link != "symlink" and (want is None or want.oid != f.oid)
                    and repo.cache.exists(f.oid)):
                at_risk.setdefault(f.oid, f)
    if not at_risk:
        return repo.cache.exists, ()
    checker = ObjectChecker(repo.cache, repo.state)
    # (A hard link whose stat is its object's verified one is that object, sound.)
    linked = {o: f.key for o, f in at_risk.items() if f.link == "hardlink" and f.nlink > 1}
    check = checker.check(at_risk, jobs, progress, seen=linked)
    sound = set(check.keys)  # (the missing and the corrupt are not)
    stored = []
    if check.corrupt:
        from mlvc.workspace.importer import Importer

        importer = Importer(repo.root, repo.cache, repo.linker, save=True, corrupt=check.corrupt)
        for oid in sorted(check.corrupt):
            try:
                imp = importer.run(at_risk[oid])
            except (OSError, MlvcError):  # (gone, changed, unreadable: kept as it is)
                continue
            # (Other bytes: the file changed since it was hashed, and is kept as it is.)
            if imp.oid == oid and imp.verified is not None:
                stored.append((oid, imp.verified))
        checker.record(stored)
        repo.state.clear_corrupt(oid for oid, _ in stored)
        sound.update(oid for oid, _ in stored)
    repaired = tuple(sorted(at_risk[oid].path for oid, _ in stored))
    # The objects just checked need no second look; any other is asked of the cache.
    return (lambda oid: oid in sound if oid in at_risk else repo.cache.exists(oid)), repaired


def _empty_folders(repo: Repo, plans: list[co.Plan], files: list[RelPath]
                   ) -> tuple[tuple[RelPath, ...], tuple[RelPath, ...]]:
    """The folders the plans made, and those they removed, that no placed or deleted file
    was in: empty ones, which ``status`` shows as ``data/empty/`` and nothing else tells
    (as there, the innermost: ``a/b/`` stands for ``a/`` too)."""
    if not any(p.mkdirs or p.rmdirs for p in plans):
        return (), ()
    folders = {f.rpartition("/")[0] for f in files}  # (50,000 files: 9 ms; ancestors: 15)
    busy = ancestors(folders) | folders
    # (A folder .mlvcignore leaves out now was there already: not made.)
    made = [d for p in plans for d in p.mkdirs
            if d not in busy and os.path.isdir(to_fs(repo.root, d))
            and not repo.ignore.is_ignored(d, True)]
    removed = [d for p in plans for d in p.rmdirs
               if d not in busy and not os.path.lexists(to_fs(repo.root, d))]
    return tuple(sorted(set(made) - ancestors(made))), \
        tuple(sorted(set(removed) - ancestors(removed)))
