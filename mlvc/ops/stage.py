"""``mlvc stage add`` and ``mlvc stage list``.

``stage add`` edits ``mlvc.yaml`` with ruamel.yaml's round-trip mode, so people's comments,
order and quoting survive. The edited file is loaded and its graph checked before it is
written (atomically): a stage that would break the pipeline is refused and nothing changes.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlvc.errors import FormatError, PipelineError
from mlvc.fsutil import atomic_write
from mlvc.ops import record_in_git, refuse_git_tracked_outputs
from mlvc.paths import RelPath, folder_in, from_user, to_fs
from mlvc.pipeline.graph import build_graph
from mlvc.pipeline.loader import NAME_RE, load_pipeline, parse_pipeline
from mlvc.pipeline.model import DEFAULT_PARAMS, PIPELINE_FILE, Pipeline, Stage
from mlvc.repo import Repo
from mlvc.workspace.index import Index
from mlvc.yamlio import round_trip_yaml


@dataclass(frozen=True, slots=True)
class StageAddResult:
    stage: Stage
    replaced: bool
    git_files: tuple[RelPath, ...]
    staged: bool = False

    def to_json(self) -> dict:
        return {"stage": stage_json(self.stage), "replaced": self.replaced,
                "git_files": list(self.git_files), "staged": self.staged}


def stage_json(s: Stage) -> dict:
    return {"name": s.name, "cmd": list(s.cmd), "wdir": s.wdir or ".",
            "deps": [d.path for d in s.deps],
            "params": {p.file: list(p.keys) for p in s.params},
            "outs": [{"path": o.path, "kind": o.kind, "cache": o.cache, "persist": o.persist}
                     for o in s.outs],
            "frozen": s.frozen, "always_changed": s.always_changed, "desc": s.desc}


def parse_param_option(value: str) -> tuple[str | None, list[str]]:
    """``-p a.b,c`` (keys of params.yaml) or ``-p other.yaml:a,b`` (``other.yaml:``: all)."""
    file, sep, keys = value.rpartition(":")
    if not sep:
        file, keys = "", value
    names = [k.strip() for k in keys.split(",") if k.strip()]
    return (file or None), names


def stage_add(repo: Repo, name: str, cmd: str, *, deps: list[str] = (), params: list[str] = (),
              outs: list[str] = (), outs_no_cache: list[str] = (), metrics: list[str] = (),
              metrics_no_cache: list[str] = (), plots: list[str] = (),
              plots_no_cache: list[str] = (), outs_persist: list[str] = (),
              outs_persist_no_cache: list[str] = (), wdir: str | None = None,
              desc: str | None = None, always_changed: bool = False, force: bool = False,
              cwd: Path | None = None) -> StageAddResult:
    from ruamel.yaml.comments import CommentedMap

    if not NAME_RE.match(name):
        raise PipelineError(f"stage name {name!r} is not valid",
                            hint="use letters, digits, '_' and '-', starting with a letter")
    if not cmd.strip():
        raise PipelineError("the stage needs a command")
    wdir_path = from_user(repo.root, wdir if wdir is not None else ".", cwd)
    load_pipeline(repo.root)  # the file as it is must be valid before it is edited
    replaced = False

    def edit(doc) -> None:
        nonlocal replaced
        stages = doc.get("stages")
        if stages is None:
            stages = doc["stages"] = CommentedMap()
        replaced = name in stages
        if replaced and not force:
            raise PipelineError(f"stage '{name}' exists already in {PIPELINE_FILE}",
                                hint="use -f to replace it")
        body = _stage_body(cmd, wdir_path, desc, deps, params, outs, outs_no_cache,
                           metrics, metrics_no_cache, plots, plots_no_cache)
        persisted = [{p: {"persist": True}} for p in outs_persist] + [
            {p: {"cache": False, "persist": True}} for p in outs_persist_no_cache]
        if persisted:
            body.setdefault("outs", []).extend(persisted)
        if always_changed:
            body["always_changed"] = True
        stages[name] = body

    new_text, pipeline = edited_pipeline(repo, edit)
    here = folder_in(repo.root, cwd)
    index = Index.load(repo.root, repo.ignore, stages=False, here=here)
    build_graph(pipeline, [(t.pointer, t.out.path) for t in index.tracked()], here)
    refuse_git_tracked_outputs(repo, [pipeline[name]], here)
    atomic_write(to_fs(repo.root, PIPELINE_FILE), new_text)
    git = record_in_git(repo, [PIPELINE_FILE])
    return StageAddResult(pipeline[name], replaced, git.files, git.staged)


def _stage_body(cmd, wdir_path, desc, deps, params, outs, outs_no_cache, metrics,
                metrics_no_cache, plots, plots_no_cache):
    """A new stage's mapping, as `mlvc stage add` writes it."""
    from ruamel.yaml.comments import CommentedMap

    body = CommentedMap()
    body["cmd"] = cmd
    if wdir_path:
        body["wdir"] = wdir_path
    if desc:
        body["desc"] = desc
    if deps:
        body["deps"] = list(dict.fromkeys(deps))
    if params:
        items: list = []
        by_file: dict[str, list[str]] = {}
        for value in params:
            file, keys = parse_param_option(value)
            if file is None or posixpath.normpath(file) == DEFAULT_PARAMS:
                items.extend(k for k in keys if k not in items)
            else:
                by_file.setdefault(file, []).extend(keys)
        items.extend({f: (ks or None)} for f, ks in by_file.items())
        body["params"] = items
    for key, cached, uncached in (("outs", outs, outs_no_cache),
                                  ("metrics", metrics, metrics_no_cache),
                                  ("plots", plots, plots_no_cache)):
        entries: list = list(cached) + [{p: {"cache": False}} for p in uncached]
        if entries:
            body[key] = entries
    return body


def edited_pipeline(repo: Repo, edit: Callable[[Any], None]) -> tuple[str, Pipeline]:
    """``mlvc.yaml``'s text after ``edit`` changed its document in place (ruamel's round-trip
    mapping: comments, order and quoting kept; an empty one when there is no file), and the
    pipeline that text holds (loaded, so an edit that breaks it raises here)."""
    from ruamel.yaml.comments import CommentedMap

    try:
        text = to_fs(repo.root, PIPELINE_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    yaml = round_trip_yaml(text)
    try:
        doc = yaml.load(text) if text.strip() else None
    except Exception as exc:  # noqa: BLE001 - already validated; a ruamel quirk
        raise FormatError(f"{PIPELINE_FILE}: cannot edit: {exc}") from None
    if doc is None:
        doc = CommentedMap()
    edit(doc)
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue(), parse_pipeline(out.getvalue(), repo.root)


def stage_list(repo: Repo) -> list[Stage]:
    return list(load_pipeline(repo.root))


def without_stages(repo: Repo, keys: list[str]) -> tuple[str, Pipeline]:
    """``mlvc.yaml``'s text without the entries ``keys`` of its ``stages`` (a stage, or a
    foreach/matrix group), comments and order kept, and the pipeline it then holds."""

    def edit(doc) -> None:
        for key in keys:
            del doc["stages"][key]

    return edited_pipeline(repo, edit)


@dataclass(frozen=True, slots=True)
class FreezeResult:
    stages: tuple[str, ...]  # the stages changed (each copy of a foreach/matrix group)
    frozen: bool
    git_files: tuple[RelPath, ...] = ()
    staged: bool = False

    def to_json(self) -> dict:
        return {"stages": list(self.stages), "frozen": self.frozen,
                "git_files": list(self.git_files), "staged": self.staged}


def set_frozen(repo: Repo, names: list[str], frozen: bool) -> FreezeResult:
    """Mark stages ``frozen: true`` in mlvc.yaml (``repro`` then never runs them, and their
    outputs stay as recorded), or take the mark away; as ``dvc freeze`` / ``dvc unfreeze``.
    A foreach/matrix group is marked as a whole (its ``do``, or its body)."""
    pipeline = load_pipeline(repo.root)  # (valid before it is edited)
    keys: list[str] = []
    for name in names:
        if not pipeline.named(name):
            raise PipelineError(f"no stage '{name}' in {PIPELINE_FILE}",
                                hint="`mlvc stage list` lists them")
        group = name.split("@", 1)[0]
        if "@" in name.rstrip("@"):
            raise PipelineError(f"'{name}' is one copy of the foreach/matrix stage '{group}'",
                                hint=f"mark the whole group: `mlvc freeze {group}`")
        keys.append(group)

    def edit(doc) -> None:
        for key in dict.fromkeys(keys):
            raw = doc["stages"][key]
            body = raw["do"] if "foreach" in raw else raw
            if frozen:
                body["frozen"] = True
            else:
                body.pop("frozen", None)

    text, _ = edited_pipeline(repo, edit)
    atomic_write(to_fs(repo.root, PIPELINE_FILE), text)
    git = record_in_git(repo, [PIPELINE_FILE])
    changed = tuple(n for name in names for n in pipeline.named(name))
    return FreezeResult(tuple(dict.fromkeys(changed)), frozen, git.files, git.staged)
