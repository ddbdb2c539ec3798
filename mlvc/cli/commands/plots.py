"""``mlvc plots``: draw the plot files of the workspace (``show``) or of several revisions at
once (``diff``) into one HTML page, or print their Vega-Lite specs (``--json``)."""

from __future__ import annotations

import click

from mlvc.cli.render import (
    echo,
    echo_json,
    git_hint,
    json_option,
    open_repo,
    printable,
    progress,
    settings,
    shown,
    warn_all,
)


@click.group("plots")
def plots_cmd():
    """Draw plot files (CSV, TSV, JSON, YAML; images) of the workspace or of revisions."""


def _drawing_options(f):
    """The options shared by `plots show` and `plots diff`."""
    from mlvc.plots import TEMPLATES

    options = [
        click.option("-o", "--out", "out", metavar="DIR", default=None,
                     help="Folder to write index.html into (default: mlvc_plots)."),
        click.option("--open", "open_", is_flag=True, help="Open the page in a browser."),
        click.option("--static", is_flag=True,
                     help="Draw each chart as an SVG image (for pages read where scripts do "
                          "not run; needs `pip install 'mlvc[plots]'`), not in the browser."),
        click.option("--html-template", metavar="FILE", default=None,
                     help="Make the page from this HTML file (as DVC's): {plot_divs} where "
                          "the charts go, {scripts} {title} {refresh_tag} optional, other "
                          "braces doubled."),
        click.option("-t", "--template", metavar="NAME", default=None,
                     help="Chart kind, for every plot (default: each plot's, else linear): "
                          + ", ".join(TEMPLATES) + "; or a template file, in .mlvc/plots/ "
                          "or a project path to a .json file."),
        click.option("-x", "x", metavar="FIELD", help="Field for the x axis (default: the "
                     "row number, `step`)."),
        click.option("-y", "y", metavar="FIELD", help="Field for the y axis (default: the "
                     "last field)."),
        click.option("--x-label", metavar="TEXT", help="Title of the x axis."),
        click.option("--y-label", metavar="TEXT", help="Title of the y axis."),
        click.option("--title", metavar="TEXT", help="Title of the charts."),
        click.option("--no-header", is_flag=True,
                     help="CSV/TSV files have no header row (fields are named 0, 1, …)."),
        click.option("--show-vega", is_flag=True,
                     help="Print the Vega-Lite spec (data included) of the one chart of the "
                          "one target, as DVC's; write no page."),
        json_option,
    ]
    for option in reversed(options):
        f = option(f)
    return f


@plots_cmd.command("templates")
@click.argument("names", nargs=-1, metavar="[NAMES]...")
@click.option("-o", "--out", "out", metavar="DIR", default=None,
              help="Folder to write them into (default: .mlvc/plots).")
@click.option("-f", "--force", is_flag=True, help="Replace template files that exist.")
@json_option
def plots_templates_cmd(names, out, force, as_json):
    """Write the built-in templates (or those NAMES) as files, to make your own from (as
    `dvc plots templates`): a Vega-Lite spec whose anchors (<MLVC_METRIC_DATA>,
    <MLVC_METRIC_X>, …) drawing fills in. One in .mlvc/plots/ named as a built-in one is
    used in its place; `template: NAME` (or a project path to a .json file) picks one."""
    from mlvc.ops.plots import write_templates

    with open_repo() as repo:
        result = write_templates(repo, list(names), out=out, cwd=settings().cwd,
                                 force=force)
    if as_json:
        echo_json(result.to_json())
        return
    for path in result.written:
        echo(f"Wrote {printable(path)}")
    for path in result.kept:
        echo(f"Kept {printable(path)} (it exists; --force replaces it)")


@plots_cmd.command("show")
@click.argument("targets", nargs=-1, metavar="[TARGETS]...")
@_drawing_options
def plots_show_cmd(targets, **kw):
    """Draw the plots of the workspace: the `plots:` outputs of mlvc.yaml's stages, or the
    files and folders TARGETS (any plot file, declared or not).

    Each CSV, TSV, JSON or YAML file becomes a chart (Vega-Lite, drawn in the browser, or
    as SVG with --static; the options of its `plots:` entry choose the template, the fields
    and the titles), each image is shown as it is. The page, `mlvc_plots/index.html`, needs
    nothing else to open, offline. With --json the Vega-Lite specs (data included) are
    printed instead.
    """
    _run([None], list(targets), **kw)


@plots_cmd.command("diff")
@click.argument("revisions", nargs=-1, metavar="[REVISIONS]...")
@click.option("--targets", "targets", multiple=True, metavar="PATH",
              help="Only the plots at or inside PATH (repeatable).")
@_drawing_options
def plots_diff_cmd(revisions, targets, **kw):
    """Draw the plots of several revisions together, one colour each: with no REVISIONS,
    HEAD and the workspace; with one, it and the workspace; with more, those. A revision is
    a git revision or an experiment's name (`workspace` names the workspace).

    A revision's plot files are read from git, or from the cache for cached outputs (`mlvc
    fetch` gets those of other revisions first). Options as for `mlvc plots show`.
    """
    from mlvc.ops.plots import diff_revisions

    _run(diff_revisions(list(revisions)), list(targets), **kw)


def _run(revs, targets, out, open_, static, html_template, template, x, y, x_label, y_label,
         title, no_header, show_vega, as_json) -> None:
    from mlvc.ops.plots import collect, one_chart, page_choice, write_html
    from mlvc.pipeline.model import PlotProps

    s = settings()
    if show_vega:
        if len(targets) != 1:
            raise click.UsageError("--show-vega prints the chart of one target: name it")
        if as_json or out is not None or open_:
            raise click.UsageError("--show-vega prints a spec: not with --json, -o or --open")
    props = PlotProps(template, x, y, x_label, y_label, title, header=not no_header)
    with open_repo() as repo:
        page = page_choice(repo, out, html_template, open_, s.cwd)
        result = collect(repo, revs, targets, props, cwd=s.cwd)
        if show_vega:
            warn_all(result.warnings)
            echo_json(one_chart(result, targets[0]).to_json()["spec"])
            return
        index = None
        if not as_json or page.asked:
            index = write_html(result, page.folder, progress=progress(), static=static,
                               template=page.template)
    warn_all(result.warnings)
    if as_json:
        echo_json(result.to_json())
    else:
        echo(f"{len(result.plots)} plot{'s' if len(result.plots) != 1 else ''} of "
             f"{', '.join(r.label for r in result.revisions)}: {index.as_uri()}")
    if page.open and index is not None:
        import webbrowser

        webbrowser.open(index.as_uri())


@plots_cmd.command("modify")
@click.argument("target", metavar="TARGET")
@click.option("-t", "--template", metavar="NAME", help="Chart kind (see `plots show --help`).")
@click.option("-x", "x", metavar="FIELD", help="Field for the x axis.")
@click.option("-y", "y", metavar="FIELD", help="Field for the y axis.")
@click.option("--x-label", metavar="TEXT", help="Title of the x axis.")
@click.option("--y-label", metavar="TEXT", help="Title of the y axis.")
@click.option("--title", metavar="TEXT", help="Title of the chart.")
@click.option("--no-header", is_flag=True, help="The CSV/TSV file has no header row.")
@click.option("--unset", multiple=True, metavar="OPTION",
              help="Remove OPTION (template, x, y, x_label, y_label, title, header); "
                   "repeatable.")
@json_option
def plots_modify_cmd(target, template, x, y, x_label, y_label, title, no_header, unset,
                     as_json):
    """Set how the plot TARGET is drawn, in mlvc.yaml (comments and order kept): in the
    stage whose `plots:` lists it, else in the top-level `plots:` (added there if need be).
    """
    from mlvc.ops.plots import modify

    given = {"template": template, "x": x, "y": y, "x_label": x_label, "y_label": y_label,
             "title": title, "header": False if no_header else None}
    props = {k: v for k, v in given.items() if v is not None}
    if not props and not unset:
        raise click.UsageError("nothing to change: give an option to set, or --unset")
    with open_repo() as repo:
        result = modify(repo, target, props, tuple(unset), cwd=settings().cwd)
    if as_json:
        echo_json(result.to_json())
        return
    set_ = {k: v for k, v in result.to_json()["props"].items()
            if v is not None and not (k == "header" and v is True)}
    echo(f"Plot {shown(result.path)} in {result.where}: "
         + (", ".join(f"{k}: {v}" for k, v in set_.items()) or "no options"))
    git_hint(repo.root, result, "To track the change with git")
