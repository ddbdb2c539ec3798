"""Vega-Lite specs for plot data, after DVC's templates: ``linear`` (the default),
``simple``, ``scatter``, ``smooth``, ``confusion``, ``confusion_normalized``,
``bar_horizontal`` and ``bar_horizontal_sorted``.

Each row carries the revision it comes from in the field ``rev``, so one chart compares
revisions (one colour each). Without an ``x``, rows are numbered in the field ``step``
(as DVC does); without a ``y``, the last field of the first row is plotted.
"""

from __future__ import annotations

from mlvc.errors import FormatError
from mlvc.pipeline.model import PlotProps
from mlvc.plots import TEMPLATES

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
REV = "rev"
STEP = "step"
WIDTH, HEIGHT = 400, 300
MAX_POINTS = 1000  # a linear chart marks each row as a point up to this many rows


def check_template(name: str, origin: str) -> str:
    if name not in TEMPLATES:
        raise FormatError(f"{origin}: unknown plot template '{name}'",
                          hint="templates: " + ", ".join(TEMPLATES))
    return name


def build_spec(path: str, props: PlotProps, data: list[tuple[str, list[dict]]],
               legend: str = "revision", custom: dict | None = None) -> dict:
    """The Vega-Lite spec that draws ``data`` ((revision, rows) pairs; or (series, rows),
    named in the legend ``legend``) as ``props`` say; ``custom``: the template file (see
    :mod:`mlvc.plots.templates`) that ``props.template`` names, loaded."""
    template = props.template or "linear" if custom is not None else \
        check_template(props.template or "linear", path)
    rows: list[dict] = []
    confusion = template.startswith("confusion")
    first = next((r[0] for _, r in data if r), {})
    fields = list(first)
    x = props.x or (fields[0] if confusion and fields else STEP)
    y = props.y or (fields[-1] if fields else "y")
    for rev, records in data:
        for i, record in enumerate(records):
            row = dict(record)
            if props.x is None and not confusion:
                row[STEP] = i
            row[REV] = rev
            rows.append(row)
    missing = sorted({f for f in (x, y) if rows and not any(f in r for r in rows)})
    if missing:
        raise FormatError(f"{path}: no field {', '.join(map(repr, missing))} in its rows",
                          hint="fields: " + ", ".join(repr(f) for f in fields)
                          + "; choose with x:/y: (or -x/-y)")
    x_title, y_title = props.x_label or x, props.y_label or y
    if custom is not None:
        from mlvc.plots.templates import fill

        return fill(custom, rows=rows, x=x, y=y, title=props.title or path, x_label=x_title,
                    y_label=y_title, legend=legend)
    spec: dict = {"$schema": SCHEMA, "title": props.title or path,
                  "data": {"values": rows}}
    size = {"width": WIDTH, "height": HEIGHT}
    color = {"field": REV, "type": "nominal", "title": legend}
    tooltip = [{"field": REV, "type": "nominal"}, {"field": x}, {"field": y}]
    if template in ("linear", "simple", "scatter", "smooth"):
        enc = {"x": {"field": x, "type": "quantitative", "title": x_title},
               "y": {"field": y, "type": "quantitative", "title": y_title,
                     "scale": {"zero": False}},
               "color": color}
        # Zoom and pan by scrolling and dragging on the chart (in the page; as DVC's).
        spec.update(size, params=[{"name": "grid", "select": "interval", "bind": "scales"}])
        if template == "scatter":
            spec.update(mark={"type": "point", "tooltip": True}, encoding=enc)
        elif template == "smooth":
            spec.update(transform=[{"loess": y, "on": x, "groupby": [REV], "bandwidth": 0.3}],
                        mark={"type": "line"}, encoding=enc)
        else:
            points = template == "linear" and len(rows) <= MAX_POINTS  # (else a blur, and MBs)
            spec.update(mark={"type": "line", "point": points,
                              "tooltip": template == "linear"},
                        encoding={**enc, "tooltip": tooltip} if template == "linear" else enc)
    elif confusion:
        spec.update(_confusion(x, y, x_title, y_title, template.endswith("normalized")))
    else:  # bar_horizontal(_sorted)
        sort = "-x" if template.endswith("sorted") else None
        spec.update(size, mark={"type": "bar", "tooltip": True}, encoding={
            "x": {"field": x, "type": "quantitative", "title": x_title},
            "y": {"field": y, "type": "nominal", "title": y_title, "sort": sort},
            "yOffset": {"field": REV}, "color": color})
    return spec


def _confusion(x: str, y: str, x_title: str, y_title: str, normalized: bool) -> dict:
    """Counts of (actual ``x``, predicted ``y``) pairs, one matrix per revision (a facet
    each, even for one revision: a template file of it draws any number alike); normalized:
    each actual class's row sums to 1."""
    value = "percent" if normalized else "count"
    transform: list[dict] = [{"aggregate": [{"op": "count", "as": "count"}],
                              "groupby": [REV, x, y]}]
    if normalized:
        transform += [{"joinaggregate": [{"op": "sum", "field": "count", "as": "total"}],
                       "groupby": [REV, x]},
                      {"calculate": "datum.count / datum.total", "as": "percent"}]
    fmt = ".2f" if normalized else "d"
    layer = {"layer": [
        {"mark": "rect", "encoding": {
            "color": {"field": value, "type": "quantitative", "title": value}}},
        {"mark": "text", "encoding": {
            "text": {"field": value, "type": "quantitative", "format": fmt},
            "color": {"value": "black"}}}],
        "encoding": {"x": {"field": x, "type": "nominal", "title": x_title},
                     "y": {"field": y, "type": "nominal", "title": y_title}},
        "width": 300, "height": 300}
    return {"transform": transform, "facet": {"field": REV, "type": "nominal"},
            "spec": layer}
