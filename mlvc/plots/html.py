"""One static HTML page of plots: each chart drawn to SVG by Vega-Lite itself (through
``vl-convert-python``, which carries Vega in its own JavaScript engine: no browser, no
network), each image inlined. The page needs nothing else to open."""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Sequence

from mlvc.errors import MlvcError
from mlvc.plots.model import Plot

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


def render(plots: Sequence[Plot], title: str,
           draw: Callable[[dict], str] | None = None,
           progress: Callable[[int], None] | None = None) -> str:
    """The page; ``draw`` turns a Vega-Lite spec into SVG (default: vl-convert's)."""
    draw = draw or svg_renderer()
    parts = [f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
             f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    for plot in plots:
        parts.append(f"<section><h2>{html.escape(plot.id)}</h2>")
        if plot.spec is not None:
            parts.append(draw(plot.spec))
        for image in plot.images:
            uri = f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"
            parts.append(f"<figure><img src=\"{uri}\" alt=\"{html.escape(plot.id)} at "
                         f"{html.escape(image.rev)}\"><figcaption>{html.escape(image.rev)}"
                         "</figcaption></figure>")
        parts.append("</section>")
        if progress is not None:
            progress(1)
    parts.append("</body></html>\n")
    return "\n".join(parts)
