"""The pipeline as values: stages with their deps, params and outputs (SPEC 2.4).

Every path here is a project path (see :mod:`mlvc.paths`): the loader resolves what
``mlvc.yaml`` says relative to the stage's ``wdir``. Deps and outputs are different types.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from mlvc.paths import RelPath, is_within
from mlvc.pipeline import LOCK_FILE, PIPELINE_FILE  # noqa: F401 - known here too

DEFAULT_PARAMS = "params.yaml"
OUT_KINDS = ("outs", "metrics", "plots")


@dataclass(frozen=True, slots=True)
class Dep:
    path: RelPath


@dataclass(frozen=True, slots=True)
class ParamRef:
    """Keys a stage reads from one params file; no keys means every key of the file."""

    file: RelPath
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlotProps:
    """How to draw a plot: ``mlvc.yaml``'s options of a ``plots:`` output."""

    template: str | None = None
    x: str | None = None
    y: str | None = None
    x_label: str | None = None
    y_label: str | None = None
    title: str | None = None
    header: bool = True

    def merged(self, over: PlotProps) -> PlotProps:
        """These props with each one that ``over`` sets (differs from the default) taken
        from it."""
        default = PlotProps()
        return replace(self, **{f.name: getattr(over, f.name) for f in fields(over)
                                if getattr(over, f.name) != getattr(default, f.name)})


@dataclass(frozen=True, slots=True)
class ArtifactDef:
    """An entry of the top-level ``artifacts:`` (as in dvc.yaml, DVC's model registry): a
    name for the file or folder ``path``, with its kind, description and labels."""

    name: str
    path: RelPath
    type: str | None = None
    desc: str | None = None
    labels: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"name": self.name, "path": self.path, "type": self.type, "desc": self.desc,
                "labels": list(self.labels)}


@dataclass(frozen=True, slots=True)
class PlotDef:
    """A chart of the top-level ``plots:`` of mlvc.yaml (as in dvc.yaml): of the file or folder
    ``id``, or, when ``ys`` are given, of those files' fields in one chart named ``id``
    (``xs``: the x field of a file whose own differs from ``props.x``)."""

    id: str
    props: PlotProps = PlotProps()
    ys: tuple[tuple[RelPath, tuple[str, ...]], ...] = ()
    xs: tuple[tuple[RelPath, str], ...] = ()


@dataclass(frozen=True, slots=True)
class StageOut:
    path: RelPath
    kind: str = "outs"  # "outs" | "metrics" | "plots"
    cache: bool = True
    persist: bool = False
    plot: PlotProps | None = None  # how to draw it (plots only)
    push: bool = True  # `push: false`: it never travels through remotes (repro makes it)


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    cmd: tuple[str, ...]
    wdir: RelPath = ""
    deps: tuple[Dep, ...] = ()
    params: tuple[ParamRef, ...] = ()
    outs: tuple[StageOut, ...] = ()
    frozen: bool = False
    always_changed: bool = False
    desc: str | None = None

    def out(self, path: RelPath) -> StageOut | None:
        return next((o for o in self.outs if o.path == path), None)

    @property
    def callback(self) -> bool:
        """A stage with no deps, params nor outputs: nothing could show that it is up to
        date, so it runs every time (DVC's "callback stage"), as ``always_changed`` does."""
        return not (self.deps or self.params or self.outs)


@dataclass(frozen=True, slots=True)
class Pipeline:
    stages: dict[str, Stage]  # in mlvc.yaml order
    plots: tuple[PlotDef, ...] = ()  # the top-level ``plots:``
    # the top-level ``metrics:`` and ``params:`` (as DVC 3's): files no stage declares
    # (written by a logger such as DVCLive, read by hand), shown whole
    metrics: tuple[RelPath, ...] = ()
    params: tuple[RelPath, ...] = ()
    artifacts: tuple[ArtifactDef, ...] = ()  # the top-level ``artifacts:``

    def __getitem__(self, name: str) -> Stage:
        return self.stages[name]

    def __contains__(self, name: object) -> bool:
        return name in self.stages

    def __iter__(self):
        return iter(self.stages.values())

    def __len__(self) -> int:
        return len(self.stages)

    def deps_within(self, paths: list[RelPath]) -> tuple[tuple[str, RelPath], ...]:
        """(stage, dep) of each stage dep at or inside one of ``paths`` (moved or deleted:
        mlvc.yaml is the user's to change, as DVC leaves dvc.yaml, but they should hear)."""
        return tuple((st.name, d.path) for st in self.stages.values() for d in st.deps
                     if any(is_within(d.path, p) for p in paths))

    def named(self, name: str) -> list[str]:
        """The stages ``name`` names: itself, or the copies (``name@key``) of the
        foreach/matrix group ``name`` (or ``name@``); none when it names no stage."""
        if name in self.stages:
            return [name]
        prefix = name.rstrip("@") + "@"
        return [n for n in self.stages if n.startswith(prefix)]
