"""``mlvc plots show`` and ``plots diff``: the plot files of the workspace or of git revisions,
as Vega-Lite charts (one per file, every revision's rows in it) and images, and the HTML
page that draws them.

Which files: the ``plots:`` outputs of the stages of each revision's ``mlvc.yaml`` (a folder
stands for the plot files inside it), or the files and folders named as targets (any file
of the project, declared or not). A revision's file is read as :mod:`mlvc.ops.diff` reads
its metrics: from git, or for a cached output from the cache, by the oid its lock or
pointer file records (its bytes checked against that oid).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from mlvc.errors import CorruptObjectError, MlvcError, ObjectMissingError, TargetError
from mlvc.fsutil import atomic_write
from mlvc.objects.oid import hash_bytes
from mlvc.ops import user_paths
from mlvc.ops.diff import WORKSPACE, Side, SideView, TreeReader, side_of
from mlvc.ops.ls import entry_at
from mlvc.paths import RelPath, check_inside, from_user, is_within, to_fs
from mlvc.pipeline import PIPELINE_FILE
from mlvc.pipeline.model import PlotDef, PlotProps
from mlvc.plots.data import image_type, is_plot_file, parse_rows
from mlvc.plots.model import Image, Plot
from mlvc.plots.vega import build_spec
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.workspace.compare import flatten as flatten_tree

DEFAULT_OUT = "mlvc_plots"


@dataclass(frozen=True, slots=True)
class PlotsResult:
    revisions: tuple[Side, ...]
    plots: tuple[Plot, ...]
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"revisions": [s.to_json() for s in self.revisions],
                "plots": [p.to_json() for p in self.plots]}


@dataclass(frozen=True, slots=True)
class PageChoice:
    """Where a plots page goes, made from what, and whether it opens: the command line's
    options, else DVC's config keys ``plots.out_dir``, ``plots.html_template`` (relative to
    ``.mlvc/``, as DVC's to ``.dvc/``) and ``plots.auto_open``."""

    folder: Path  # absolute
    template: Path | None
    open: bool
    asked: bool  # the folder was given (-o): a page is written with --json too


def page_choice(repo: Repo, out: str | None, template: str | None, open_: bool,
                cwd: Path) -> PageChoice:
    """:class:`PageChoice` of the options ``out``, ``template`` (from ``cwd``) and
    ``open_``, with the config's defaults."""
    folder = Path(out if out is not None else str(repo.config.get("plots.out_dir")
                                                      or DEFAULT_OUT))
    chosen = cwd / template if template is not None else None
    if chosen is None and (configured := repo.config.get("plots.html_template")):
        chosen = repo.dot / Path(str(configured)).expanduser()
    return PageChoice(folder if folder.is_absolute() else cwd / folder, chosen,
                      open_ or bool(repo.config.get("plots.auto_open")), out is not None)


def one_chart(result: PlotsResult, target: str) -> Plot:
    """The one chart ``result`` holds (``--show-vega``); TargetError for none or several."""
    charts = [p for p in result.plots if p.spec is not None]
    if len(charts) != 1:
        raise TargetError(f"'{target}' makes {len(charts)} charts, not one" + (
            f" ({', '.join(p.id for p in charts[:5])})" if charts else ""),
            hint="name one plot file (`--json` prints every chart's spec)")
    return charts[0]


def diff_revisions(revs: list[str]) -> list[str | None]:
    """The revisions ``plots diff`` compares, as DVC's: none given, HEAD and the workspace;
    one, it and the workspace; more, those (``workspace`` names the workspace)."""
    named: list[str | None] = [None if r == WORKSPACE else r for r in revs]
    if len(named) == 0:
        named = ["HEAD"]
    if len(named) == 1:
        named.append(None)
    return list(dict.fromkeys(named))


def collect(repo: Repo, revs: list[str | None] | None = None,
            targets: list[str] | None = None, props: PlotProps | None = None, *,
            cwd: Path | None = None) -> PlotsResult:
    """The plots of each of ``revs`` (None: the workspace; default: the workspace alone),
    restricted to ``targets``; ``props`` override what mlvc.yaml says of each."""
    props = props or PlotProps()
    sides = tuple(_side(repo, r) for r in (revs or [None]))
    views = [SideView(repo, s) for s in sides]
    wanted = user_paths(repo, targets, cwd)[0] if targets else None
    declared, charts = _declared(views, wanted)
    warnings: list[str] = []
    trees = TreeReader(repo)
    # plot file -> its props and (revision, bytes) of each revision that has it
    found: dict[RelPath, tuple[PlotProps, list[tuple[str, bytes]]]] = {}
    seen: set[RelPath] = set()
    for view in views:
        for path, plot_props in declared.items():
            try:
                files = _files(repo, view, trees, path)
            except MlvcError as exc:
                warnings.append(f"{view.side.name}: {_told(exc)}")
                seen.add(path)
                continue
            if files:
                seen.add(path)
            for file, read in files:
                try:
                    data = read()
                except MlvcError as exc:
                    warnings.append(f"{view.side.name}: {_told(exc)}")
                    continue
                found.setdefault(file, (plot_props, []))[1].append((view.side.name, data))
        warnings += view.warnings
    where = "the workspace" if sides == (Side(WORKSPACE),) else ", ".join(s.name for s in sides)
    for path in declared.keys() - seen:
        warnings.append(f"{path}: no plot file there in {where}"
                        + (" (`mlvc repro` writes it)" if sides[-1].sha is None else ""))
    plots = []
    for file, (plot_props, data) in sorted(found.items()):
        plot = _plot(repo.root, file, plot_props.merged(props), data, warnings)
        if plot is not None:
            plots.append(plot)
    for chart in charts.values():
        plot = _chart(repo, views, trees, chart, props, warnings)
        if plot is not None:
            plots.append(plot)
    if not plots and warnings:
        raise TargetError("nothing to draw: " + "; ".join(warnings[:3])
                          + (f" (and {len(warnings) - 3} more)" if len(warnings) > 3 else ""))
    if not plots:
        raise TargetError(f"no plots in {where}" + (" at the targets" if targets else ""),
                          hint="declare them under a stage's `plots:` in mlvc.yaml "
                               "(`mlvc stage add --plots FILE`), or name the files: "
                               "`mlvc plots show FILE`")
    return PlotsResult(sides, tuple(plots), tuple(warnings))


def write_html(result: PlotsResult, out: Path, title: str = "mlvc plots",
               progress: Progress = NULL_PROGRESS, static: bool = False,
               draw: Callable[[dict], str] | None = None,
               template: Path | None = None) -> Path:
    """Write ``result`` as the page ``out/index.html`` (atomically); its path. The charts are
    drawn in the browser, or with ``static`` by mlvc, each an SVG (``draw``, default
    vl-convert's). ``template``: an HTML file the page is made from (DVC's
    ``--html-template``: ``{plot_divs}`` where the charts go)."""
    from mlvc.plots.html import check_page_template, render, svg_renderer

    page_template = None
    if template is not None:  # (read and checked before anything is written)
        try:
            text = template.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TargetError(f"cannot read the HTML template {template}: {exc}") from None
        page_template = check_page_template(text, str(template))
    if static:
        draw = draw or svg_renderer()  # (it may be missing)
    with progress.phase("Drawing plots", total=len(result.plots), unit="plot") as advance:
        page = render(result.plots, title, draw if static else None, advance, page_template)
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    atomic_write(index, page.encode("utf-8"))
    return index


def _side(repo: Repo, name: str | None) -> Side:
    """A git revision, or else an experiment's name (as ``dvc plots diff`` takes them)."""
    try:
        return side_of(repo, name)
    except TargetError:
        from mlvc.ops.exp import experiments, resolve

        exps = experiments(repo)
        if not any(e.name == name or e.ref == name for e in exps):
            raise
        return Side(name, resolve(repo, name, exps).rev)  # type: ignore[arg-type]


def _told(exc: MlvcError) -> str:
    return exc.message + (f" ({exc.hint})" if exc.hint else "")


# -- which plots ----------------------------------------------------------------------------

def _declared(views: list[SideView], targets: list[RelPath] | None
              ) -> tuple[dict[RelPath, PlotProps], dict[str, PlotDef]]:
    """(plot path -> its props, chart name -> its definition) of every side's mlvc.yaml:
    the stages' ``plots:`` outputs and the top-level ``plots:`` (whose props win; the newest
    side's win over older ones); restricted to ``targets``, to which the other targets are
    added as plots."""
    paths: dict[RelPath, PlotProps] = {}
    top: dict[RelPath, PlotProps] = {}
    charts: dict[str, PlotDef] = {}
    for view in reversed(views):
        pipeline = view.pipeline
        if pipeline is None:
            continue
        for stage in pipeline:
            for out in stage.outs:
                if out.kind == "plots":
                    paths.setdefault(out.path, out.plot or PlotProps())
        for d in pipeline.plots:
            if d.ys:
                charts.setdefault(d.id, d)
            else:
                top.setdefault(d.id, d.props)
    for path, props in top.items():  # (a stage's plot that the top level draws too)
        paths[path] = paths.get(path, PlotProps()).merged(props)
    if targets is None:
        return paths, charts
    chosen = {p: pp for p, pp in paths.items() if any(is_within(p, t) for t in targets)}
    charts = {name: d for name, d in charts.items()
              if any(name == t or any(is_within(f, t) for f, _ in d.ys) for t in targets)}
    for t in targets:
        if t not in charts and not any(is_within(t, p) for p in chosen):
            chosen[t] = next((pp for p, pp in paths.items() if is_within(t, p)), PlotProps())
    return chosen, charts


# -- reading a side's files -----------------------------------------------------------------

Reader = Callable[[], bytes]


def _files(repo: Repo, view: SideView, trees: TreeReader, path: RelPath
           ) -> list[tuple[RelPath, Reader]]:
    """The plot files at or inside ``path`` on this side, each with how to read it."""
    if view.side.sha is None:
        return _workspace_files(repo, path)
    held = view.holding(path)
    if held is not None:
        entry = entry_at(trees, held[1], path)
        if entry.type == "file":
            return [(path, _cached(repo, path, entry.oid))]
        from mlvc.workspace.pointer import Out

        recorded = flatten_tree(trees, Out(path, entry.oid, "dir", entry.size))
        return [(f, _cached(repo, f, want.oid)) for f, want in sorted(recorded.files.items())
                if is_plot_file(f)]
    data = view.read(path)
    if data is not None:
        return [(path, lambda: data)]
    prefix = path + "/"
    return [(f, (lambda blob=blob: repo.scm.read_blob(blob)))  # type: ignore[misc, union-attr]
            for f, blob in repo.scm.files_at(view.side.sha, "")  # type: ignore[union-attr]
            if f.startswith(prefix) and is_plot_file(f)]


def _workspace_files(repo: Repo, path: RelPath) -> list[tuple[RelPath, Reader]]:
    fs = to_fs(repo.root, path)
    if fs.is_file():
        return [(path, lambda: _read_file(repo, path))]
    if not fs.is_dir():
        return []
    check_inside(repo.root, path)
    found = []
    for folder, dirs, names in os.walk(fs):
        rel = Path(folder).relative_to(repo.root).as_posix()
        dirs[:] = sorted(d for d in dirs if not repo.ignore.is_ignored(f"{rel}/{d}", True))
        for name in sorted(names):
            file = f"{rel}/{name}"
            if is_plot_file(file) and not repo.ignore.is_ignored(file):
                found.append((file, lambda file=file: _read_file(repo, file)))
    return found


def _read_file(repo: Repo, path: RelPath) -> bytes:
    check_inside(repo.root, path)  # (a symlink leading out is never read)
    return to_fs(repo.root, path).read_bytes()


def _cached(repo: Repo, path: RelPath, oid: str) -> Reader:
    def read() -> bytes:
        if not repo.cache.exists(oid):
            raise ObjectMissingError(f"{path}: object {oid} is not in the cache",
                            hint="`mlvc fetch -a` (or -T, -A) gets other revisions' objects")
        data = repo.cache.read_bytes(oid)
        if hash_bytes(data) != oid:
            raise CorruptObjectError(oid, f"{path}: object {oid} is corrupt in the cache",
                            hint="`mlvc verify` sets it aside; `mlvc fetch` gets it again")
        return data
    return read


# -- drawing --------------------------------------------------------------------------------

def _plot(root: Path, file: RelPath, props: PlotProps, data: list[tuple[str, bytes]],
          warnings: list[str]) -> Plot | None:
    revs = tuple(rev for rev, _ in data)
    mime = image_type(file)
    if mime is not None:
        return Plot(file, revs, images=tuple(Image(rev, mime, b) for rev, b in data))
    rows = []
    for rev, raw in data:
        try:
            rows.append((rev, parse_rows(raw, file if len(data) == 1 else f"{rev}:{file}",
                                         props.header)))
        except MlvcError as exc:
            warnings.append(f"{exc.message} (left out)")
    if not rows:
        return None
    try:
        spec = build_spec(file, props, rows, custom=_template(root, props))
    except MlvcError as exc:
        warnings.append(f"{exc.message} (left out)")
        return None
    return Plot(file, tuple(rev for rev, _ in rows), spec=spec)


def _chart(repo: Repo, views: list[SideView], trees: TreeReader, chart: PlotDef,
           props: PlotProps, warnings: list[str]) -> Plot | None:
    """One chart of several files' fields (a top-level plot with ``y`` by file): a line
    for each field of each file, of each revision."""
    props = chart.props.merged(props)
    xs = dict(chart.xs)
    x_fields = {xs.get(f, props.x) for f, _ in chart.ys}
    y_fields = {y for _, ys in chart.ys for y in ys}
    x_name = x_fields.pop() if len(x_fields) == 1 else "x"
    y_name = y_fields.pop() if len(y_fields) == 1 else "y"
    several = len(views) > 1
    series: list[tuple[str, list[dict]]] = []
    revs: list[str] = []
    for view in views:
        for file, fields in chart.ys:
            try:
                found = _files(repo, view, trees, file)
                if not found:
                    continue
                origin = f"{view.side.name}:{file}" if several else file
                rows = parse_rows(found[0][1](), origin, props.header)
            except MlvcError as exc:
                warnings.append(f"{view.side.name}: {_told(exc)}")
                continue
            x = xs.get(file, props.x)
            for y in fields:
                label = f"{file}:{y}" if len(chart.ys) > 1 else y
                label = f"{view.side.name} {label}" if several else label
                series.append((label, [
                    {**({x_name: r.get(x)} if x is not None else {}), y_name: r.get(y)}
                    for r in rows if y in r]))
            if view.side.name not in revs:
                revs.append(view.side.name)
    if not series:
        warnings.append(f"{chart.id}: none of its files is there")
        return None
    spec_props = replace(props, x=None if props.x is None and not xs else x_name, y=y_name,
                         title=props.title or chart.id)
    try:
        spec = build_spec(chart.id, spec_props, series, legend="series",
                          custom=_template(repo.root, spec_props))
    except MlvcError as exc:
        warnings.append(f"{exc.message} (left out)")
        return None
    return Plot(chart.id, tuple(revs), spec=spec)


def _template(root: Path, props: PlotProps) -> dict | None:
    """The template file ``props.template`` names, loaded (the workspace's, whichever
    revision is drawn, as DVC takes them); None for a built-in one."""
    from mlvc.plots.templates import load_template

    return load_template(root, props.template or "linear")


# -- plots templates -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TemplatesResult:
    written: tuple[str, ...]  # paths as the user reads them (from the current folder)
    kept: tuple[str, ...] = ()  # existing files not replaced

    def to_json(self) -> dict:
        return {"written": list(self.written), "kept": list(self.kept)}


def write_templates(repo: Repo, names: list[str], *, out: str | None = None,
                    cwd: Path | None = None, force: bool = False) -> TemplatesResult:
    """The built-in templates (``names``; default: all) as template files in ``out``
    (default: ``.mlvc/plots``), to make custom ones from; existing files are kept unless
    ``force``."""
    import json

    from mlvc.plots import TEMPLATES
    from mlvc.plots.templates import FOLDER, anchored

    unknown = [n for n in names if n not in TEMPLATES]
    if unknown:
        raise TargetError(f"no built-in template '{unknown[0]}'",
                          hint="templates: " + ", ".join(TEMPLATES))
    cwd = cwd or Path.cwd()
    folder = Path(cwd, out) if out is not None else repo.root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    written, kept = [], []
    for name in names or TEMPLATES:
        path = folder / f"{name}.json"
        shown = os.path.relpath(path, cwd)
        if path.exists() and not force:
            kept.append(shown)
            continue
        atomic_write(path, json.dumps(anchored(name), indent=2) + "\n")
        written.append(shown)
    return TemplatesResult(tuple(written), tuple(kept))


# -- plots modify ---------------------------------------------------------------------------

PROP_KEYS = ("template", "x", "y", "x_label", "y_label", "title", "header")


@dataclass(frozen=True, slots=True)
class ModifyResult:
    path: RelPath
    where: str  # "stage NAME", or "plots" (the top level)
    props: PlotProps
    git_files: tuple[RelPath, ...] = ()
    staged: bool = False

    def to_json(self) -> dict:
        return {"path": self.path, "where": self.where,
                "props": {k: getattr(self.props, k) for k in PROP_KEYS},
                "git_files": list(self.git_files), "staged": self.staged}


def modify(repo: Repo, target: str, props: dict[str, object], unset: tuple[str, ...] = (),
           *, cwd: Path | None = None) -> ModifyResult:
    """Set (``props``: key -> value) and remove (``unset``) drawing options of the plot
    ``target`` in mlvc.yaml, comments and order kept: in the stage whose ``plots:`` has it,
    else in the top-level ``plots:`` (added there when it is not). As ``dvc plots modify``."""
    from ruamel.yaml.comments import CommentedMap

    from mlvc.ops import record_in_git
    from mlvc.ops.stage import edited_pipeline
    from mlvc.pipeline.loader import load_pipeline

    unknown = (set(props) | set(unset)) - set(PROP_KEYS)
    if unknown:
        raise TargetError(f"unknown plot options {sorted(unknown)}",
                          hint="options: " + ", ".join(PROP_KEYS))
    if "template" in props:
        from mlvc.plots.templates import load_template

        load_template(repo.root, str(props["template"]))  # (one that draws: refused else)
    path = from_user(repo.root, target, cwd)
    pipeline = load_pipeline(repo.root)  # (valid before it is edited)
    owner = next((st for st in pipeline for o in st.outs if o.kind == "plots"
                  and o.path == path), None)
    if owner is not None and "@" in owner.name:
        raise TargetError(f"'{path}' is a plot of '{owner.name}', made by foreach/matrix",
                          hint=f"edit its options in {PIPELINE_FILE} by hand")

    def entry(items: list, index: int) -> CommentedMap:
        """The options mapping of ``items[index]``, made one when it is a bare path."""
        item = items[index]
        if isinstance(item, str):
            item = items[index] = CommentedMap([(item, CommentedMap())])
        key = next(iter(item))
        if item[key] is None:
            item[key] = CommentedMap()
        return item[key]

    def edit(doc) -> None:
        if owner is not None:
            items = doc["stages"][owner.name]["plots"]
            nth = [o.path for o in owner.outs if o.kind == "plots"].index(path)
        else:
            items = doc.get("plots")
            if items is None:
                items = doc["plots"] = []
            nth = next((i for i, d in enumerate(pipeline.plots) if d.id == path), None)
            if nth is None:
                items.append(path)
                nth = len(items) - 1
        options = entry(items, nth)
        for key, value in props.items():
            options[key] = value
        for key in unset:
            options.pop(key, None)

    text, edited = edited_pipeline(repo, edit)
    atomic_write(to_fs(repo.root, PIPELINE_FILE), text)
    git = record_in_git(repo, [PIPELINE_FILE])
    if owner is not None:
        now = edited[owner.name].out(path).plot or PlotProps()  # type: ignore[union-attr]
    else:
        now = next(d.props for d in edited.plots if d.id == path)
    return ModifyResult(path, f"stage {owner.name}" if owner else "plots", now, git.files,
                        git.staged)
