"""All tracked outputs of the project: every ``*.mlvc`` pointer file, found by one walk, and
the cached outputs of pipeline stages as ``mlvc.lock`` records them.

The walk skips ``.git``, ``.mlvc``, ignored folders and the tracked output folders
themselves, so a large dataset is never listed just to find pointer files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import PathError, TargetError
from mlvc.paths import (
    MLVC_DIR,
    Links,
    Nested,
    RelPath,
    is_reserved,
    is_within,
    overlaps,
    seen_from,
    to_fs,
    typed_in,
)
from mlvc.workspace.ignore import IgnoreRules
from mlvc.workspace.pointer import POINTER_SUFFIX, Out, Pointer, load_pointer


@dataclass(frozen=True, slots=True)
class Tracked:
    pointer: RelPath  # the pointer file, or mlvc.lock for a stage output
    out: Out
    stage: str | None = None  # the stage that produces it
    pushed: bool = True  # False: the lock marks it `push: false` (it never travels)


@dataclass(frozen=True, slots=True)
class Selected:
    """A tracked output chosen by a target; ``within`` narrows it to a part of a folder."""

    tracked: Tracked
    within: RelPath


@dataclass(frozen=True, slots=True)
class Declared:
    """An output that a stage of ``mlvc.yaml`` declares, recorded in ``mlvc.lock`` or not."""

    path: RelPath
    stage: str
    recorded: bool  # mlvc.lock has an entry for the stage, with this output

    def hint(self, here: RelPath | None = None) -> str:
        """How to record the output, its path as typed in the user's folder ``here``."""
        return (f"`mlvc repro {self.stage}` runs the stage and caches its outputs; if you ran "
                f"its command yourself, `mlvc commit {typed_in(self.path, here)}` records them")


def _fewest(found: list[Selected]) -> list[Selected]:
    """The selections of one output that several targets chose: the whole of it when one
    target is the whole, else each part that is not inside another (in path order)."""
    tracked = found[0].tracked
    parts = sorted({s.within for s in found}, key=lambda p: (p.count("/"), p))
    if parts[0] == "":
        return [Selected(tracked, "")]
    kept: set[RelPath] = set()
    for part in parts:  # (shallowest first: a part's folders are looked at before it)
        folder, inside = part, False
        while "/" in folder and not inside:
            folder = folder.rpartition("/")[0]
            inside = folder in kept
        if not inside:
            kept.add(part)
    return [Selected(tracked, part) for part in sorted(kept)]


@dataclass(frozen=True, slots=True)
class Index:
    pointers: dict[RelPath, Pointer]
    stage_outs: tuple[Tracked, ...] = ()
    declared: tuple[Declared, ...] = ()  # every stage output of mlvc.yaml (with ``stages``)

    @classmethod
    def load(cls, root: Path, ignore: IgnoreRules, *, stages: bool = True,
             strict: bool = True, here: RelPath | None = None) -> Index:
        """Every pointer file (and, with ``stages``, the stage outputs of mlvc.lock).

        ``strict``: refuse two pointer files whose outputs are the same path or one inside
        the other (a merge or a copied pointer can do that): which one would checkout
        follow? ``mlvc remove`` loads leniently, so that one of them can be removed. The
        error names paths as seen from the user's folder ``here`` (None: from the root).
        """
        pointers: dict[RelPath, Pointer] = {}
        locked, declared = _stage_outs(root) if stages else ((), ())
        out_paths: set[RelPath] = {t.out.path for t in locked}
        stack: list[RelPath] = [""]

        def found(path: RelPath) -> None:
            pointer = load_pointer(root, path)
            pointers[path] = pointer
            out_paths.update(o.path for o in pointer.outs)

        while stack:
            folder = stack.pop()
            active = ignore.active_for(folder)
            fs = to_fs(root, folder)
            if folder and os.stat(fs).st_nlink == 2:
                # No folder inside (a folder's link count is 2 + its subfolders on ext4, xfs
                # and most others; btrfs says 1): only names matter, not each entry's type.
                # A large untracked folder is then listed at C speed.
                for name in os.listdir(fs):
                    if name.endswith(POINTER_SUFFIX) and not is_reserved(name):
                        path = f"{folder}/{name}"
                        if (not active or not IgnoreRules.matches(active, path, False)) \
                                and os.path.isfile(fs / name):
                            found(path)
                continue
            subdirs, listed = [], []
            with os.scandir(fs) as it:
                for entry in it:
                    if is_reserved(entry.name):
                        if folder and entry.name == MLVC_DIR and entry.is_dir():
                            break  # another project's folder (mlvc init --force): not ours
                        continue
                    path = f"{folder}/{entry.name}" if folder else entry.name
                    is_dir = entry.is_dir(follow_symlinks=False)
                    if active and IgnoreRules.matches(active, path, is_dir):
                        continue
                    if is_dir:
                        subdirs.append(path)
                    elif entry.name.endswith(POINTER_SUFFIX) and entry.is_file():
                        listed.append(path)
                else:
                    for path in listed:
                        found(path)
                    stack.extend(d for d in subdirs if d not in out_paths)
        index = cls(dict(sorted(pointers.items())), locked, declared)
        index._refuse_links_along(root, here)
        if strict:
            index._refuse_overlaps(here)
        return index

    def _refuse_links_along(self, root: Path, here: RelPath | None) -> None:
        """Refuse a pointer file's output whose folders go through a symlink: a checkout
        would write through it, outside the project where the link leads out (a link and a
        pointer file that git brought in, say), or inside a folder that another output
        tracks. (Stage outputs: the mlvc.yaml loader refuses them.)"""
        links = Links(root)
        for pointer in self.pointers.values():
            for out in pointer.outs:
                link = links.along(out.path.rpartition("/")[0])
                if link is not None:
                    raise _beyond_link(root, pointer.path, out.path, link, here)

    def _refuse_overlaps(self, here: RelPath | None) -> None:
        def seen(path: RelPath) -> str:
            return seen_from(path, here)

        owners: dict[RelPath, list[RelPath]] = {}  # output path -> its pointer files
        for pointer in self.pointers.values():
            for out in pointer.outs:
                owners.setdefault(out.path, []).append(pointer.path)
        nested = Nested(owners)
        for path in sorted(owners):
            first, *more = owners[path]
            if more:
                other = more[0]
                what = (f"is listed twice in {seen(first)}" if other == first
                        else f"is tracked by both {seen(first)} and {seen(other)}")
            elif inner := nested.inside(path):
                other = owners[inner[0]][0]
                what = (f"holds '{seen(inner[0])}', which {seen(other)} tracks; {seen(first)} "
                        "tracks it whole")
            else:
                continue
            raise TargetError(f"'{seen(path)}' {what}",
                              hint=f"a path is tracked by one pointer file only: `mlvc remove "
                                   f"{typed_in(other, here)}` (or delete that file) keeps "
                                   f"{seen(first)}")
        for t in self.stage_outs:  # a stage output that a pointer file tracks too
            for path in nested.overlapping(t.out.path):
                pointer = owners[path][0]
                what = (f"'{seen(path)}' is tracked by {seen(pointer)} and is an output of "
                        f"stage '{t.stage}' too" if path == t.out.path else
                        f"'{seen(path)}' ({seen(pointer)}) overlaps '{seen(t.out.path)}', an "
                        f"output of stage '{t.stage}'")
                raise TargetError(what, hint=f"`mlvc remove {typed_in(pointer, here)}` and let "
                                             "the stage produce it")

    def tracked(self) -> list[Tracked]:
        return [Tracked(p, o) for p, ptr in self.pointers.items() for o in ptr.outs] + list(
            self.stage_outs)

    def owner(self, path: RelPath) -> Tracked | None:
        """The tracked output that is ``path`` or contains it."""
        for t in self.tracked():
            if is_within(path, t.out.path):
                return t
        return None

    def pending(self, targets: list[RelPath] = ()) -> list[Pointer]:
        """Imports recorded without their data (see :attr:`Pointer.pending`) that
        ``targets`` choose: their pointer files, their outputs or paths inside them, folders
        holding them (none: all)."""
        found = [p for p in self.pointers.values() if p.pending is not None]
        return [p for p in found if any(_chooses(t, p) for t in targets)] if targets \
            else found

    def split_pending(self, targets: list[RelPath]
                      ) -> tuple[list[RelPath] | None, list[Pointer]]:
        """The pending imports ``targets`` choose (see :meth:`pending`), and the targets left
        for :meth:`select`: those that choose anything else (None when targets were given
        and each chose pending imports alone: nothing to select, not everything)."""
        pending = self.pending(targets)
        if not targets or not pending:
            return targets, pending
        around = self.overlap_finder()
        rest = [t for t in targets if not any(_chooses(t, p) for p in pending) or around(t)]
        return (rest or None), pending

    def select(self, targets: list[RelPath], here: RelPath | None = None) -> list[Selected]:
        """Outputs chosen by targets: pointer files, output paths, folders holding outputs,
        or paths inside a tracked folder. No targets: everything. Errors name a target as
        seen from the user's folder ``here`` (None: from the root)."""
        if not targets:
            return [Selected(t, "") for t in self.tracked()]
        # Each target is answered without a pass over every output (`mlvc status
        # data/*.jpg` of 10,000 pointers).
        every, by_out, nested = self._outputs()
        by_pointer: dict[RelPath, list[int]] = {}
        for i, t in enumerate(every):
            by_pointer.setdefault(t.pointer, []).append(i)
        chosen: dict[tuple[RelPath, RelPath], list[Selected]] = {}
        for target in targets:
            # Whole: the target is the pointer, or the output is the target or inside it.
            whole = set(by_pointer.get(target, ()))
            for p in (*([target] if target in by_out else ()), *nested.inside(target)):
                whole.update(by_out[p])
            # Part: the target is inside the output.
            part = {i for p in nested.holding(target) if p != target
                    for i in by_out[p]} - whole
            hits = [Selected(every[i], "" if i in whole else target)
                    for i in sorted(whole | part)]
            if not hits:
                waiting = self.pending([target])
                if waiting:
                    shown = seen_from(waiting[0].imported_path, here)
                    raise TargetError(f"'{shown}' is an import recorded without its data "
                                      "(--no-download or --no-exec)",
                                      hint=f"`mlvc pull {shown}` gets it from its source")
                for d in self.declared:
                    if target and overlaps(target, d.path):
                        if d.recorded:  # and so not cached: git keeps it
                            raise TargetError(
                                f"'{seen_from(target, here)}' is an output of stage "
                                f"'{d.stage}' kept in git "
                                "(cache: false), not in the mlvc cache",
                                hint="git tracks its versions: `git status`, `git checkout`")
                        raise TargetError(
                            f"'{seen_from(target, here)}' is an output of stage '{d.stage}', which "
                            "has not run yet", hint=d.hint(here))
                raise TargetError(f"'{seen_from(target, here) or '.'}' is not tracked by mlvc",
                                  hint="`mlvc status` lists what is tracked; `mlvc add` tracks it")
            for s in hits:
                chosen.setdefault((s.tracked.pointer, s.tracked.out.path), []).append(s)
        return [s for found in chosen.values() for s in _fewest(found)]

    def overlap_finder(self) -> Callable[[RelPath], list[Tracked]]:
        """A function giving the tracked outputs that are a path, hold it or lie inside it;
        each call answered without a pass over every tracked output."""
        every, by_out, nested = self._outputs()
        return lambda path: [every[i] for p in nested.overlapping(path) for i in by_out[p]]

    def _outputs(self) -> tuple[list[Tracked], dict[RelPath, list[int]], Nested]:
        """:meth:`tracked`, the positions in it of each output path, and those paths."""
        every = self.tracked()
        by_out: dict[RelPath, list[int]] = {}
        for i, t in enumerate(every):
            by_out.setdefault(t.out.path, []).append(i)
        return every, by_out, Nested(by_out)

    def unrecorded_stages(self, targets: list[RelPath]) -> tuple[list[str], list[RelPath]]:
        """Stages that have not run (no ``mlvc.lock`` record of their outputs) with an
        output that a target names, is inside or holds (the project folder itself counts as
        no target); and the targets that name no such output, for :meth:`select`."""
        stages: dict[str, None] = {}
        rest = []
        tracked_around = None
        for target in targets:
            hits = [d.stage for d in self.declared
                    if target and not d.recorded and overlaps(target, d.path)]
            stages.update(dict.fromkeys(hits))
            if hits and tracked_around is None:
                tracked_around = self.overlap_finder()
            if not hits or tracked_around(target):
                rest.append(target)
        return list(stages), rest


def _chooses(target: RelPath, pointer: Pointer) -> bool:
    """Whether ``target`` names the pending import ``pointer``, its output or a path in it,
    or a folder holding it."""
    assert pointer.pending is not None
    return target == pointer.path or overlaps(target, pointer.pending)


def _beyond_link(root: Path, pointer: RelPath, out: RelPath, link: RelPath,
                 here: RelPath | None) -> PathError:
    real_root = os.path.realpath(root)
    real = os.path.realpath(to_fs(root, link))
    inside = os.path.commonpath([real, real_root]) == real_root
    leads = (f"is beyond a symbolic link ('{seen_from(link, here)}')" if inside else
             f"leads outside the project through '{seen_from(link, here)}' (a link to {real})")
    return PathError(f"{seen_from(pointer, here)}: '{seen_from(out, here)}' {leads}",
                     hint="a tracked path may not go through a symlinked folder: make "
                          f"'{seen_from(link, here)}' a real folder, or delete "
                          f"{typed_in(pointer, here)} if you did not write it")


def _stage_outs(root: Path) -> tuple[tuple[Tracked, ...], tuple[Declared, ...]]:
    """The cached outputs of the stages in ``mlvc.yaml``, as ``mlvc.lock`` records them;
    and every output the stages declare."""
    from mlvc.pipeline import LOCK_FILE, PIPELINE_FILE

    if not (root / PIPELINE_FILE).is_file():
        return (), ()
    from mlvc.pipeline.loader import load_pipeline
    from mlvc.pipeline.lockfile import load_lock

    pipeline = load_pipeline(root)
    lock = load_lock(root) if (root / LOCK_FILE).is_file() else {}
    out = []
    for name, entry in lock.items():
        if name not in pipeline:
            continue
        stage = pipeline[name]
        for o in entry.outs:
            declared = stage.out(o.path)
            if declared is not None and declared.cache and o.path not in entry.uncached:
                out.append(Tracked(LOCK_FILE, o, name, o.path not in entry.unpushed))
    declared = []
    for name in pipeline.stages:
        entry = lock.get(name)
        recorded = {o.path for o in entry.outs} if entry is not None else set()
        declared += [Declared(o.path, name, o.path in recorded) for o in pipeline[name].outs]
    return tuple(out), tuple(declared)
