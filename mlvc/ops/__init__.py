"""The Python API: one module per verb, plain functions taking a Repo, frozen results."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlvc.errors import MlvcError, PipelineError, TargetError
from mlvc.paths import RelPath, UserPaths, seen_from, to_fs, typed_in

if TYPE_CHECKING:
    from mlvc.pipeline.model import Stage
    from mlvc.repo import Repo
    from mlvc.workspace.index import Index


def user_paths(repo: Repo, targets: list[str], cwd: Path | None
               ) -> tuple[list[RelPath], RelPath | None]:
    """Targets as the user typed them (relative to ``cwd``), as project paths; and ``cwd``
    as one (None outside the project), for messages to name paths as seen from there."""
    resolve = UserPaths(repo.root, cwd)
    return [resolve(t) for t in targets], resolve.here


def user_targets(repo: Repo, targets: list[str], cwd: Path | None, *,
                 with_deps: bool = False) -> tuple[list[RelPath], RelPath | None]:
    """:func:`user_paths`, where a target that names a stage of mlvc.yaml (or a
    foreach/matrix group) and no path stands for that stage's cached outputs, as DVC takes
    stage names (`mlvc push train`). A path wins: one in the workspace, a pointer file's
    output, or a stage's output. ``with_deps``: see :func:`with_deps_targets`."""
    from mlvc.pipeline import PIPELINE_FILE

    if with_deps:
        targets = with_deps_targets(repo, targets, cwd)

    paths, here = user_paths(repo, targets, cwd)
    if not targets or not (repo.root / PIPELINE_FILE).is_file():
        return paths, here
    from mlvc.pipeline.loader import load_pipeline
    from mlvc.workspace.pointer import POINTER_SUFFIX

    pipeline = load_pipeline(repo.root)
    declared = {o.path for st in pipeline for o in st.outs}
    out: list[RelPath] = []
    for target, path in zip(targets, paths):
        names = pipeline.named(target)
        if not names or path in declared or os.path.lexists(to_fs(repo.root, path)) \
                or os.path.lexists(to_fs(repo.root, path + POINTER_SUFFIX)):
            out.append(path)
            continue
        cached = [o.path for n in names for o in pipeline[n].outs if o.cache]
        if not cached:
            raise TargetError(f"stage '{target}' has no cached outputs",
                              hint="its outputs with `cache: false` are kept in git")
        out += cached
    return out, here


GLOB_CHARS = "*?["


def glob_targets(repo: Repo, targets: list[str], cwd: Path | None) -> list[str]:
    """``targets`` whose shell-style patterns (``'data/*.csv'``, ``'models/**'``, as the
    shell would have expanded them, ``*`` within a folder and ``**`` across folders, from
    ``cwd``) are expanded over what mlvc tracks, whether the workspace has it or not: the
    outputs of pointer files and of mlvc.lock, the pointer files, and stage names (as
    ``dvc pull --glob`` is asked to). A pattern that matches none is an error; the others
    are kept as they are. Matched paths come back relative to ``cwd``, as typed there."""
    import fnmatch

    import pathspec

    if not any(c in t for t in targets for c in GLOB_CHARS):
        return targets
    from mlvc.pipeline import PIPELINE_FILE
    from mlvc.workspace.index import Index

    index = Index.load(repo.root, repo.ignore)
    paths = sorted({p for t in index.tracked()
                    for p in (t.out.path, *(() if t.stage is not None else (t.pointer,)))})
    stages: list[str] = []
    if (repo.root / PIPELINE_FILE).is_file():
        from mlvc.pipeline.loader import load_pipeline

        stages = list(load_pipeline(repo.root).stages)
    resolve = UserPaths(repo.root, cwd)
    out: list[str] = []
    for t in targets:
        if not any(c in t for c in GLOB_CHARS):
            out.append(t)
            continue
        pattern = resolve(t)  # (the pattern as a project path, from the user's folder)
        spec = pathspec.GitIgnoreSpec.from_lines(["/" + pattern])
        hits = [os.path.relpath(to_fs(resolve.root, p), resolve.cwd)
                for p in paths if spec.match_file(p)]
        hits += [n for n in stages if fnmatch.fnmatchcase(n, t)]
        if not hits:
            raise TargetError(f"'{t}' matches no tracked data, pointer file or stage",
                              hint="quote the pattern for the shell; `mlvc ls -R` lists "
                                   "what is tracked")
        out += hits
    return list(dict.fromkeys(out))


def with_deps_targets(repo: Repo, targets: list[str], cwd: Path | None) -> list[str]:
    """``targets`` and, as DVC's ``--with-deps``, the data of every stage upstream of the
    stages they name (or whose outputs they are): those stages' cached outputs and the
    tracked data (pointer files' outputs) they depend on, as absolute paths. Without
    targets (everything) or a pipeline, ``targets`` as they are."""
    from mlvc.pipeline import PIPELINE_FILE

    if not targets or not (repo.root / PIPELINE_FILE).is_file():
        return targets
    from mlvc.paths import is_within, overlaps
    from mlvc.pipeline.graph import build_graph
    from mlvc.pipeline.loader import load_pipeline
    from mlvc.workspace.index import Index

    # (one scan for pointer files: the graph's sources and the data to add come from it)
    index = Index.load(repo.root, repo.ignore)
    pipeline = load_pipeline(repo.root)
    graph = build_graph(pipeline, [(t.pointer, t.out.path) for t in index.tracked()
                                   if t.stage is None])
    resolve = UserPaths(repo.root, cwd)
    names: list[str] = []
    kept: list[str] = []  # the targets that are paths (a stage's name is its data below)
    for t in targets:
        named = pipeline.named(t)
        if named and not os.path.lexists(Path(cwd or Path.cwd(), t)):
            names += named
            continue
        kept.append(t)
        try:
            path = resolve(t)
        except MlvcError:
            continue
        names += [st.name for st in pipeline for o in st.outs if is_within(path, o.path)]
    chosen = graph.ancestors(names)
    deps = [d.path for n in chosen for d in pipeline[n].deps]
    # (recorded outputs only: a stage that never ran has nothing to transfer)
    extra = [t.out.path for t in index.tracked()
             if t.stage in chosen or (t.stage is None and any(overlaps(t.out.path, d)
                                                              for d in deps))]
    if not kept and not extra:  # (nothing recorded: the targets themselves say why)
        return targets
    return list(dict.fromkeys([*kept, *(str(to_fs(repo.root, p)) for p in extra)]))


@dataclass(frozen=True, slots=True)
class GitChange:
    """The files to ``git add`` to record a change in git, and whether mlvc staged them."""

    files: tuple[RelPath, ...] = ()
    staged: bool = False


def inside_hint(index: Index, path: RelPath, usage: str, here: RelPath | None) -> str | None:
    """For a ``path`` inside a tracked output, a hint that only the whole output can be
    named: ``usage`` is the command (after ``mlvc``), ``{}`` standing for the output as
    typed in the user's folder ``here``."""
    owner = index.owner(path)
    if owner is None or owner.out.path == path:
        return None
    return (f"it is inside '{seen_from(owner.out.path, here)}', which "
            f"{seen_from(owner.pointer, here)} tracks as a whole: "
            f"`mlvc {usage.format(typed_in(owner.out.path, here))}` names all of it")


def record_in_git(repo: Repo, paths: list[RelPath]) -> GitChange:
    """What to ``git add`` for the changed ``paths``; stages it when ``core.autostage`` is on.

    A deleted path is kept only if git tracks it (``git add`` then stages the deletion): git
    refuses the whole command for a path it has never seen. Without git there is nothing.
    """
    if repo.scm is None:
        return GitChange()
    paths = list(dict.fromkeys(paths))
    gone = [p for p in paths if not os.path.lexists(to_fs(repo.root, p))]
    known = set(repo.scm.tracked(gone)) if gone else set()
    files = tuple(p for p in paths if p not in gone or p in known)
    if files and repo.config.get("core.autostage"):
        repo.scm.add(list(files))
        return GitChange(files, True)
    return GitChange(files)


FEW_FOLDERS = 20  # at most this many folders in a shortened `git add` (see short_git_add)
_PATHSPEC_MAGIC = frozenset("*?[]\\:!^")


def short_git_add(root: Path, files: Iterable[RelPath]) -> tuple[RelPath, ...] | None:
    """At most ``FEW_FOLDERS`` folders (``.`` for the project folder) such that ``git add``
    of them stages exactly ``files``, or None when no such short command is exact.

    For a hint: ``git add`` of 20,000 pointer files is a line nobody can read. The folders
    are the files' own, or their ancestors when there are too many; one ``git ls-files``
    then checks that nothing else below them (an untracked file, an edit) would be staged
    too. A folder whose name git would read as a pattern is never used.
    """
    wanted = set(files)
    folders = {posixpath.dirname(p) for p in wanted}
    while len(folders) > FEW_FOLDERS:
        deepest = max(f.count("/") + bool(f) for f in folders)
        folders = {posixpath.dirname(f) if f.count("/") + bool(f) == deepest else f
                   for f in folders}
    # A folder inside another one in the set adds nothing.
    folders = {f for f in folders
               if not any(f != g and (not g or f.startswith(g + "/")) for g in folders)}
    specs = sorted(f or "." for f in folders)
    if any(_PATHSPEC_MAGIC & set(f) for f in specs):
        return None
    from mlvc.scm import Git

    try:
        staged_by_them = Git(root).changed_below(specs)
    except MlvcError:
        return None
    return tuple(specs) if staged_by_them == wanted else None


def refuse_git_tracked_outputs(repo: Repo, stages: Iterable[Stage],
                               here: RelPath | None = None) -> None:
    """Refuse cached outputs of ``stages`` that git tracks (one git command for all): mlvc
    would cache them and ignore them while git went on versioning them, as ``mlvc add``
    refuses such a path. Outputs with ``cache: false`` are meant to stay in git. Paths are
    named as seen from the user's folder ``here``, and the hinted command as typed there."""
    if repo.scm is None:
        return
    owner = {o.path: s.name for s in stages for o in s.outs if o.cache}
    tracked = repo.scm.tracked(list(owner)) if owner else []
    if tracked:
        shown = tracked[0]
        path = next((p for p in owner if shown == p or shown.startswith(p + "/")), shown)
        raise PipelineError(
            f"output '{seen_from(path, here)}' of stage '{owner.get(path, '?')}' is tracked by "
            "git", hint=f"stop tracking it in git (git rm -r --cached {typed_in(shown, here)}), "
                        "or keep it in git with `cache: false` on that output in mlvc.yaml")

