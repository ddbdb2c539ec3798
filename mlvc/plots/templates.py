"""Plot templates as files, as DVC's: a Vega-Lite spec with *anchors* that drawing fills in.

A plot's ``template`` names one of the built-in templates, a file in ``.mlvc/plots/``
(``NAME`` or ``NAME.json``; one named as a built-in one replaces it: ``mlvc plots
templates`` writes the built-in ones there to start from), or a JSON file of the project
(a path ending in ``.json``; ``NAME.json`` with no folder: at the top, else in
``.mlvc/plots``). Anchors, written ``<MLVC_METRIC_…>`` or, so that DVC's
templates work as they are, ``<DVC_METRIC_…>``:

- ``"<…_DATA>"``: the rows (each with ``rev``, and ``step`` when x is the row number);
- ``<…_X>``, ``<…_Y>``, ``<…_TITLE>``, ``<…_X_LABEL>``, ``<…_Y_LABEL>``: text, inside any
  string;
- ``"<…_COLOR>"``: the colour encoding by revision; ``"<…_PLOT_WIDTH>"``,
  ``"<…_PLOT_HEIGHT>"``: numbers; ``"<…_ZOOM_AND_PAN>"``: a zoom-and-pan parameter;
- the optional anchors of DVC 3's own templates, filled as DVC fills them for one source
  (mlvc's rows name their series, a revision or a file's field, in ``rev``):
  ``"<…_GROUP_BY>"`` ``["rev"]``, ``"<…_GROUP_BY_X>"`` and ``"<…_GROUP_BY_Y>"`` that and
  the x or y field, ``"<…_PIVOT_FIELD>"`` ``"datum.rev"``, ``"<…_TOOLTIP>"`` the rev, x
  and y fields, and ``"<…_COLUMN>"``, ``"<…_ROW>"``, ``"<…_STROKE_DASH>"``,
  ``"<…_SHAPE>"`` nothing (``{}``).
"""

from __future__ import annotations

import json
from pathlib import Path

from mlvc.errors import FormatError, MlvcError
from mlvc.paths import MLVC_DIR, check_inside, normalize_rel, to_fs
from mlvc.plots import TEMPLATES

FOLDER = f"{MLVC_DIR}/plots"
PREFIXES = ("MLVC_METRIC_", "DVC_METRIC_")
# Text anchors, longest first: <…_X_LABEL> must not be read as <…_X> followed by text.
TEXT = ("X_LABEL", "Y_LABEL", "TITLE", "X", "Y")


def template_file(root: Path, name: str) -> Path | None:
    """The file a plot's ``template`` names, or None for a built-in one. Raises for a name
    that is neither (or a path that leads out of the project)."""
    if name.endswith(".json") or "/" in name:
        try:
            rel = normalize_rel(name)
            check_inside(root, rel)
        except MlvcError as exc:
            raise FormatError(f"plot template '{name}': {exc.message}") from None
        path = to_fs(root, rel)
        if not path.is_file() and "/" not in name and (root / FOLDER / name).is_file():
            return root / FOLDER / name  # (`NAME.json` of .mlvc/plots, as DVC finds it)
        if not path.is_file():
            raise FormatError(f"plot template '{name}' does not exist",
                              hint="a template is a built-in name (" + ", ".join(TEMPLATES)
                                   + f"), a file in {FOLDER}/, or a project path to a JSON "
                                     "file")
        return path
    for candidate in (name, f"{name}.json"):
        path = root / FOLDER / candidate
        if "/" not in candidate and path.is_file():
            return path
    if name in TEMPLATES:
        return None
    raise FormatError(f"unknown plot template '{name}'",
                      hint="templates: " + ", ".join(TEMPLATES) + f"; or a file in {FOLDER}/ "
                           "(`mlvc plots templates` writes the built-in ones there), or a "
                           "project path to a JSON file")


def load_template(root: Path, name: str) -> dict | None:
    """The template file ``name`` names, parsed; None for a built-in template."""
    path = template_file(root, name)
    if path is None:
        return None
    shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"{shown}: cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise FormatError(f"{shown}: not JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(doc, dict):
        raise FormatError(f"{shown}: a template is a JSON object (a Vega-Lite spec)")
    if not any(f"<{p}DATA>" in path.read_text(encoding="utf-8") for p in PREFIXES):
        raise FormatError(f"{shown}: the template has no \"<MLVC_METRIC_DATA>\" anchor",
                          hint="put it where the rows go: \"data\": {\"values\": "
                               "\"<MLVC_METRIC_DATA>\"}")
    return doc


def fill(template: dict, *, rows: list[dict], x: str, y: str, title: str, x_label: str,
         y_label: str, legend: str) -> dict:
    """``template`` with its anchors replaced (see the module's text)."""
    texts = {"X_LABEL": x_label, "Y_LABEL": y_label, "TITLE": title, "X": x, "Y": y}
    whole = {"DATA": rows, "COLOR": {"field": "rev", "type": "nominal", "title": legend},
             "PLOT_WIDTH": 400, "PLOT_HEIGHT": 300,
             "ZOOM_AND_PAN": {"name": "grid", "select": "interval", "bind": "scales"},
             # (DVC 3's optional anchors, as it fills them for one source)
             "GROUP_BY": ["rev"], "GROUP_BY_X": ["rev", x], "GROUP_BY_Y": ["rev", y],
             "PIVOT_FIELD": "datum.rev",
             "TOOLTIP": [{"field": "rev"}, {"field": x}, {"field": y}],
             "COLUMN": {}, "ROW": {}, "STROKE_DASH": {}, "SHAPE": {}}
    exact = {f"<{p}{k}>": v for p in PREFIXES for k, v in whole.items()}

    def walk(node: object) -> object:
        if isinstance(node, dict):
            return {walk(k): walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str):
            if node in exact:
                return exact[node]
            if "<" in node:
                for key in TEXT:
                    for p in PREFIXES:
                        node = node.replace(f"<{p}{key}>", texts[key])
        return node

    return walk(template)  # type: ignore[return-value]


def anchored(name: str) -> dict:
    """The built-in template ``name`` as a template file holds it: its spec, with anchors
    where the rows, fields and titles go."""
    from mlvc.pipeline.model import PlotProps
    from mlvc.plots.vega import build_spec

    a = {k: f"<MLVC_METRIC_{k}>" for k in TEXT}
    props = PlotProps(name, a["X"], a["Y"], a["X_LABEL"], a["Y_LABEL"], a["TITLE"])
    spec = build_spec("", props, [("", [{a["X"]: 0, a["Y"]: 0}])])
    spec["data"] = {"values": "<MLVC_METRIC_DATA>"}
    text = json.dumps(spec)
    color = json.dumps({"field": "rev", "type": "nominal", "title": "revision"})
    return json.loads(text.replace(color, '"<MLVC_METRIC_COLOR>"'))
