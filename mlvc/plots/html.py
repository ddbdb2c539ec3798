"""One HTML page of plots, which needs nothing else to open, offline.

By default the charts are drawn by Vega-Lite in the browser (tooltips, zoom by scrolling on
the axes, export to SVG or PNG): its scripts, which mlvc carries (``vendor/``), are inlined
once, then each chart's spec. With ``draw`` (``plots show --static``: ``vl-convert-python``,
Vega in its own JavaScript engine) each chart is drawn to an SVG by mlvc instead, for pages
read where scripts do not run. Images are inlined either way."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable, Sequence

from mlvc.errors import MlvcError
from mlvc.plots.model import Plot, finite

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.3em; }
section { display: inline-block; vertical-align: top; margin: 0 2em 2em 0; }
h2 { font-size: 1em; font-family: ui-monospace, monospace; }
figure { display: inline-block; margin: 0 1em 1em 0; }
figure img { max-width: 480px; border: 1px solid #ddd; }
figcaption { font-family: ui-monospace, monospace; font-size: .9em; }
"""


class RendererMissing(MlvcError):
    def __init__(self) -> None:
        super().__init__("drawing plots needs vl-convert-python, which is not installed",
                         hint="pip install 'mlvc[plots]' (or vl-convert-python); "
                              "`--json` gives the Vega-Lite specs without it")


def svg_renderer() -> Callable[[dict], str]:
    try:
        import vl_convert
    except ImportError:
        raise RendererMissing() from None
    return vl_convert.vegalite_to_svg


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8">{refresh_tag}
<title>{title}</title>
<style>{style}</style>
{scripts}
</head><body>
<h1>{title}</h1>
{plot_divs}
</body></html>
"""

# Where the charts are drawn: the spec of each, by its element's id, embedded in turn. The
# actions menu exports and shows the source, but never posts the data to an online editor.
EMBED = """<script type="application/json" id="mlvc-specs">{specs}</script>
<script>
(function () {
  var specs = JSON.parse(document.getElementById("mlvc-specs").textContent);
  Object.keys(specs).forEach(function (id) {
    vegaEmbed("#" + id, specs[id], {renderer: "svg", actions: {
      export: true, source: true, compiled: false, editor: false}})
      .catch(function (err) {
        document.getElementById(id).textContent = "could not draw this chart: " + err;
      });
  });
})();
</script>"""

VENDOR = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")


class TemplateError(MlvcError):
    pass


def check_page_template(text: str, origin: str) -> str:
    """``text`` as an HTML template (DVC's ``--html-template``): Python format fields, with
    ``{plot_divs}`` where the charts go, and ``{scripts}`` (where the drawing scripts go:
    else at the end of ``{plot_divs}``) and ``{refresh_tag}`` optional; literal braces are
    doubled (``{{``). Refused, naming ``origin``, when it is not one."""
    try:
        fields = _fields(text)
    except ValueError as exc:
        raise TemplateError(f"{origin} is not an HTML template: {exc}",
                            hint="braces meant as text are doubled: {{ and }}") from None
    if "plot_divs" not in fields:
        raise TemplateError(f"{origin} has no {{plot_divs}} (where the charts go)",
                            hint="put {plot_divs} in its <body>")
    unknown = sorted(fields - {"plot_divs", "scripts", "refresh_tag", "title"})
    if unknown:
        raise TemplateError(f"{origin} has fields mlvc does not fill: "
                            + ", ".join("{" + f + "}" for f in unknown),
                            hint="the fields are {plot_divs}, {scripts}, {refresh_tag} and "
                                 "{title}; braces meant as text are doubled: {{ and }}")
    return text


def render(plots: Sequence[Plot], title: str,
           draw: Callable[[dict], str] | None = None,
           progress: Callable[[int], None] | None = None,
           template: str | None = None) -> str:
    """The page: charts drawn in the browser, or with ``draw`` (a Vega-Lite spec to SVG) by
    mlvc. ``template``: the page around them (see :func:`check_page_template`; default
    :data:`PAGE`)."""
    specs: dict[str, dict] = {}
    parts = []
    for i, plot in enumerate(plots):
        parts.append(f"<section><h2>{html.escape(plot.id)}</h2>")
        if plot.spec is not None:
            if draw is not None:
                parts.append(draw(plot.spec))
            else:
                specs[f"mlvc-plot-{i}"] = plot.spec
                parts.append(f"<div id=\"mlvc-plot-{i}\" class=\"chart\"></div>")
        for image in plot.images:
            uri = f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"
            parts.append(f"<figure><img src=\"{uri}\" alt=\"{html.escape(plot.id)} at "
                         f"{html.escape(image.rev)}\"><figcaption>{html.escape(image.rev)}"
                         "</figcaption></figure>")
        parts.append("</section>")
        if progress is not None:
            progress(1)
    scripts = embed = ""
    if specs:
        scripts = "\n".join(f"<script>{_script(name)}</script>" for name in VENDOR)
        # (every "<" escaped: no "</script" or "<!--" can change where the element ends)
        embed = EMBED.replace("{specs}", json.dumps(finite(specs)).replace("<", "\\u003c"))
    page = template or PAGE
    body = "\n".join(parts)
    if template is not None and "scripts" not in _fields(template):
        body, scripts = f"{body}\n{scripts}\n{embed}", ""  # (the charts' scripts last)
    else:
        body = f"{body}\n{embed}"
    return page.format_map({"plot_divs": body, "scripts": scripts, "refresh_tag": "",
                            "title": html.escape(title), "style": STYLE})


def _fields(template: str) -> set[str]:
    import string

    return {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}


def _script(name: str) -> str:
    """A script mlvc carries, safe inside a <script> element (no ``</script`` ends it)."""
    import re
    from importlib.resources import files

    text = (files("mlvc.plots") / "vendor" / name).read_text(encoding="utf-8")
    return re.sub(r"</(?=script)", r"<\\/", text, flags=re.IGNORECASE)
