"""``mlvc plots show`` / ``plots diff``: which files, read from where, drawn how."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import mlvc.plots
from mlvc.pipeline.loader import parse_pipeline
from tests.conftest import Project

# Drawing SVGs (--static) needs the extra `mlvc[plots]` (in the dev extras).
needs_renderer = pytest.mark.skipif(importlib.util.find_spec("vl_convert") is None,
                                    reason="vl-convert-python is not installed")

# train writes a loss curve (CSV, cached), a confusion list (JSON, kept in git) and an
# image (cached) from params.yaml's lr.
TRAIN = (f"{sys.executable} -c \"import json, os, yaml; lr = yaml.safe_load(open('params.yaml'))"
         "['lr']; os.makedirs('eval', exist_ok=True); "
         "open('eval/loss.csv', 'w').write('epoch,loss\\n' + ''.join("
         "f'{e},{round(1 / (1 + lr * e), 4)}\\n' for e in range(5))); "
         "json.dump([{'actual': i % 2, 'predicted': int(i * lr) % 2} for i in range(8)], "
         "open('eval/cm.json', 'w')); "
         "open('eval/shot.png', 'wb').write(b'\\x89PNG lr=' + str(lr).encode())\"")
PIPELINE = {"stages": {"train": {
    "cmd": TRAIN, "params": ["lr"],
    "plots": [{"eval/loss.csv": {"x": "epoch", "y": "loss", "title": "Loss"}},
              {"eval/cm.json": {"cache": False, "template": "confusion",
                                "x": "actual", "y": "predicted"}},
              "eval/shot.png"]}}}


@pytest.fixture
def ml(project: Project) -> Project:
    project.gen({"params.yaml": "lr: 0.5\n",
                 "mlvc.yaml": yaml.safe_dump(PIPELINE, sort_keys=False)})
    project.run("repro")
    project.commit_all("v1")
    project.gen({"params.yaml": "lr: 0.25\n"})
    project.run("repro")
    return project


def plots_json(project: Project, *args: str) -> dict[str, dict]:
    r = project.run("plots", *args, "--json")
    return {p["id"]: p for p in json.loads(r.stdout)["plots"]}


def values(plot: dict, rev: str, field: str) -> list:
    return [row[field] for row in plot["spec"]["data"]["values"] if row["rev"] == rev]


def embedded_specs(page: str) -> dict[str, dict]:
    """The specs a page's charts are drawn from, by element id (as its script reads them)."""
    found = re.findall(r'<script type="application/json" id="mlvc-specs">(.*?)</script>',
                       page, re.S)
    assert len(found) == 1
    return json.loads(found[0])


def test_show_writes_one_page_that_draws_the_declared_plots_in_the_browser(ml, monkeypatch):
    monkeypatch.setitem(sys.modules, "vl_convert", None)  # (needs no extra)
    r = ml.run("plots", "show")
    index = ml.root / "mlvc_plots/index.html"
    assert index.as_uri() in r.stdout and "3 plots of the workspace" in r.stdout
    page = index.read_text()
    plots = plots_json(ml, "show")
    specs = embedded_specs(page)
    assert sorted(specs.values(), key=json.dumps) == sorted(
        [plots["eval/loss.csv"]["spec"], plots["eval/cm.json"]["spec"]], key=json.dumps)
    assert all(f'<div id="{i}" class="chart"></div>' in page for i in specs)
    vendor = Path(mlvc.plots.__file__).parent / "vendor"
    for name in ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js"):
        assert (vendor / name).read_text()[:2000] in page  # (inlined: works offline)
    assert "editor: false" in page  # (nothing is posted to an online editor)
    assert plots["eval/loss.csv"]["spec"]["params"] == [  # (zoom and pan, in the page)
        {"name": "grid", "select": "interval", "bind": "scales"}]
    assert "data:image/png;base64," in page and page.count("<figure>") == 1
    assert "<svg" not in page[page.index("<h1>"):page.index('id="mlvc-specs"')]  # (drawn
    # by the page, not by mlvc)
    assert values(plots["eval/loss.csv"], "workspace", "loss") == [1, 0.8, 0.6667, 0.5714, 0.5]
    assert plots["eval/cm.json"]["spec"]["transform"][0]["groupby"] == [
        "rev", "actual", "predicted"]
    assert plots["eval/shot.png"]["images"] == [
        {"rev": "workspace", "mime": "image/png", "size": 12}]


def test_diff_reads_a_revisions_cached_plots_from_the_cache_and_the_others_from_git(ml):
    plots = plots_json(ml, "diff")
    loss = plots["eval/loss.csv"]
    assert loss["revisions"] == ["HEAD", "workspace"]
    assert values(loss, "HEAD", "loss") == [1, 0.6667, 0.5, 0.4, 0.3333]  # lr 0.5
    assert values(loss, "workspace", "loss") == [1, 0.8, 0.6667, 0.5714, 0.5]
    assert values(plots["eval/cm.json"], "HEAD", "predicted") == [
        int(i * 0.5) % 2 for i in range(8)]
    assert [i["size"] for i in plots["eval/shot.png"]["images"]] == [11, 12]
    page = (ml.root / "mlvc_plots/index.html")
    assert not page.exists()  # (--json alone writes no page)

    ml.commit_all("v2")
    plots = plots_json(ml, "diff", "HEAD~1", "HEAD", "--targets", "eval/loss.csv")
    assert list(plots) == ["eval/loss.csv"]
    assert values(plots["eval/loss.csv"], "HEAD~1", "loss")[1] == 0.6667
    assert values(plots["eval/loss.csv"], "HEAD", "loss")[1] == 0.8


def test_a_plot_the_cache_lacks_or_holds_corrupt_is_told_and_the_rest_drawn(ml):
    lock = yaml.safe_load(ml.git("show", "HEAD:mlvc.lock"))
    oid = next(o["oid"] for o in lock["stages"]["train"]["outs"]
               if o["path"] == "eval/loss.csv")
    obj = ml.root / ".mlvc/cache/objects" / oid[:2] / oid[2:]
    obj.chmod(0o644)
    obj.write_bytes(b"epoch,loss\n0,42\n")
    r = ml.run("plots", "diff", "--json")
    assert f"HEAD: eval/loss.csv: object {oid} is corrupt in the cache" in r.stderr
    loss = {p["id"]: p for p in json.loads(r.stdout)["plots"]}["eval/loss.csv"]
    assert loss["revisions"] == ["workspace"]

    obj.unlink()
    r = ml.run("plots", "diff", "-o", "out")
    assert f"object {oid} is not in the cache" in r.stderr and "mlvc fetch" in r.stderr
    assert len(embedded_specs((ml.root / "out/index.html").read_text())) == 2


def test_any_file_or_folder_can_be_a_target_with_options_from_the_command_line(project):
    project.gen({"runs": {"a.tsv": "x\ty\n1\t2\n2\t4\n", "b.json": '{"rows": [{"v": 3}]}',
                          "notes.txt": "not a plot"}})
    plots = plots_json(project, "show", "runs", "-t", "scatter")
    assert sorted(plots) == ["runs/a.tsv", "runs/b.json"]  # (not notes.txt)
    plots = plots_json(project, "show", "runs/a.tsv", "-y", "x")
    a = plots["runs/a.tsv"]["spec"]
    assert a["mark"]["type"] == "line" and a["encoding"]["y"]["field"] == "x"
    r = project.run("plots", "show", "runs", "-y", "x", "--json")  # (b.json has no x)
    assert "runs/b.json: no field 'x' in its rows" in r.stderr
    assert [p["id"] for p in json.loads(r.stdout)["plots"]] == ["runs/a.tsv"]
    r = project.run("plots", "show", "runs/b.json", "-y", "x", code=1)
    assert "error: nothing to draw: runs/b.json: no field 'x'" in r.stderr

    r = project.run("plots", "show", "a.tsv", "--no-header", "--json", cwd=project.root / "runs")
    (plot,) = json.loads(r.stdout)["plots"]
    assert plot["id"] == "runs/a.tsv" and values(plot, "workspace", "1") == ["y", 2, 4]


def test_nothing_to_draw_and_bad_targets_are_clear_errors(project, tmp_path):
    r = project.run("plots", "show", code=1)
    assert "error: no plots in the workspace" in r.stderr and "plots:" in r.stderr
    r = project.run("plots", "show", str(tmp_path), code=1)
    assert "outside the project" in r.stderr
    r = project.run("plots", "diff", "nope", code=1)
    assert "unknown revision 'nope'" in r.stderr
    assert not (project.root / "mlvc_plots").exists()


@needs_renderer
def test_static_draws_each_chart_as_an_svg(ml):
    ml.run("plots", "show", "--static")
    page = (ml.root / "mlvc_plots/index.html").read_text()
    assert page.count("<svg") == 2  # the two charts, drawn
    assert ">Loss<" in page  # (the title mlvc.yaml gives, in the SVG)
    assert "<script" not in page and page.count("<figure>") == 1


def test_static_without_the_renderer_is_refused_and_the_rest_works(ml, monkeypatch):
    monkeypatch.setitem(sys.modules, "vl_convert", None)  # (import fails)
    r = ml.run("plots", "show", "--static", code=1)
    assert "vl-convert-python" in r.stderr and "mlvc[plots]" in r.stderr
    assert not (ml.root / "mlvc_plots").exists()
    assert "eval/loss.csv" in plots_json(ml, "show")
    ml.run("plots", "show")


def test_data_cannot_end_the_pages_script_and_non_numbers_are_null(project):
    rows = [{"step": 0, "v": 1.0, "note": "</script><script>alert(1)</script><!--"},
            {"step": 1, "v": float("nan"), "note": "ok"}]
    (project.root / "p.json").write_text(json.dumps(rows))  # (Python writes NaN)
    project.run("plots", "show", "p.json")
    page = (project.root / "mlvc_plots/index.html").read_text()
    (spec,) = embedded_specs(page).values()
    values = spec["data"]["values"]
    assert values[0]["note"] == rows[0]["note"] and values[1]["v"] is None
    assert page.count("</script>") == 5  # (the three libraries, the specs, the drawing)


def test_show_vega_prints_the_one_charts_spec_and_json_has_no_nan(project):
    rows = [{"step": 0, "v": 1.0}, {"step": 1, "v": float("nan")}]
    project.gen({"runs": {"a.json": json.dumps(rows), "b.tsv": "x\ty\n1\t2\n"}})
    r = project.run("plots", "show", "runs/a.json", "--show-vega", "--title", "T")
    spec = json.loads(r.stdout)  # (valid JSON: NaN is null)
    assert spec == plots_json(project, "show", "runs/a.json", "--title", "T")[
        "runs/a.json"]["spec"]
    assert spec["title"] == "T" and spec["data"]["values"][1]["v"] is None
    assert not (project.root / "mlvc_plots").exists()  # (no page)
    project.commit_all("v1")
    project.gen({"runs": {"a.json": json.dumps(rows[:1])}})
    r = project.run("plots", "diff", "--targets", "runs/a.json", "--show-vega")
    assert json.loads(r.stdout) == plots_json(project, "diff", "--targets", "runs/a.json")[
        "runs/a.json"]["spec"]
    r = project.run("plots", "show", "runs", "--show-vega", code=1)
    assert "'runs' makes 2 charts, not one (runs/a.json, runs/b.tsv)" in r.stderr
    assert "one target" in project.run("plots", "show", "--show-vega", code=2).stderr
    assert "not with --json" in project.run("plots", "show", "runs/a.json", "--show-vega",
                                            "--json", code=2).stderr


def test_an_html_template_makes_the_page_as_dvcs_does(ml):
    (ml.root / "page.html").write_text(
        "<html><head><style>body {{ margin: 0 }}</style>{scripts}</head>"
        "<body><p>report: {title}</p>{plot_divs}</body></html>")
    ml.run("plots", "show", "--html-template", "page.html", "-o", "out")
    page = (ml.root / "out/index.html").read_text()
    assert page.startswith("<html><head><style>body { margin: 0 }</style><script>")
    assert "<p>report: mlvc plots</p><section>" in page and len(embedded_specs(page)) == 2
    # without {scripts}: after the charts, before the script that draws them
    (ml.root / "bare.html").write_text("<body>{plot_divs}</body>")
    ml.run("plots", "show", "--html-template", "bare.html", "-o", "out")
    page = (ml.root / "out/index.html").read_text()
    assert page.index("</section>") < page.index("<script>") < page.index("vegaEmbed(\"#\"")
    for text, told in (("<body></body>", "has no {plot_divs}"),
                       ("{plot_divs}<style>a {</style>", "not an HTML template"),
                       ("{plot_divs}{nope}", "fields mlvc does not fill: {nope}")):
        (ml.root / "bad.html").write_text(text)
        r = ml.run("plots", "show", "--html-template", "bad.html", "-o", "bad", code=1)
        assert told in r.stderr
    assert not (ml.root / "bad").exists()


def test_dvcs_plots_config_keys_set_the_folder_template_and_opening(ml, monkeypatch):
    import webbrowser

    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    (ml.root / ".mlvc/page.html").write_text("<body><h1>ours</h1>{plot_divs}</body>")
    ml.run("config", "plots.out_dir", "reports")
    ml.run("config", "plots.html_template", "page.html")  # (from .mlvc/, as DVC's from .dvc/)
    ml.run("config", "plots.auto_open", "true")
    r = ml.run("plots", "show")
    page = (ml.root / "reports/index.html").read_text()
    assert page.startswith("<body><h1>ours</h1>") and not (ml.root / "mlvc_plots").exists()
    assert opened == [(ml.root / "reports/index.html").as_uri()] and "reports" in r.stdout
    ml.run("plots", "show", "-o", "other", "--html-template", ".mlvc/page.html")
    assert (ml.root / "other/index.html").exists()  # (the options win)
    shutil.rmtree(ml.root / "reports")
    ml.run("plots", "show", "--json")  # (--json alone writes no page: the key is a default)
    assert not (ml.root / "reports").exists() and len(opened) == 2
    assert "expected true or false" in ml.run("config", "plots.auto_open", "maybe",
                                              code=1).stderr


def drawn_in_node(specs: dict[str, dict], tmp_path: Path) -> dict[str, str]:
    """Each spec compiled by the Vega-Lite and drawn by the Vega that mlvc carries, run as a
    page runs them (globals), in node: its SVG by id."""
    vendor = Path(mlvc.plots.__file__).parent / "vendor"
    (tmp_path / "specs.json").write_text(json.dumps(specs))
    (tmp_path / "draw.js").write_text(
        "const fs = require('fs'), vm = require('vm');"
        f"for (const name of ['vega.min.js', 'vega-lite.min.js'])"
        f"  vm.runInThisContext(fs.readFileSync({json.dumps(str(vendor))} + '/' + name,"
        "                                        'utf8'));"
        f"const specs = JSON.parse(fs.readFileSync({json.dumps(str(tmp_path / 'specs.json'))},"
        "                                          'utf8'));"
        "(async () => { for (const id of Object.keys(specs)) {"
        "  const view = new vega.View(vega.parse(vegaLite.compile(specs[id]).spec),"
        "                             {renderer: 'none'});"
        "  console.log(id + ' ' + (await view.toSVG()).replace(/\\n/g, ' '));"
        "} })().catch(e => { console.error(e); process.exit(1); });")
    out = subprocess.run(["node", str(tmp_path / "draw.js")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return dict(line.split(" ", 1) for line in out.stdout.splitlines())


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_scripts_mlvc_carries_draw_the_pages_specs(ml, tmp_path):
    """Vega and Vega-Lite, as inlined, compile and draw each spec of the page (in node, to
    SVG: the browser's DOM is all the page adds, through vega-embed)."""
    ml.run("plots", "diff")
    specs = embedded_specs((ml.root / "mlvc_plots/index.html").read_text())
    drawn = drawn_in_node(specs, tmp_path)
    assert set(drawn) == set(specs) and all(s.startswith("<svg") for s in drawn.values())
    assert ">Loss<" in "".join(drawn.values()) and ">HEAD<" in "".join(drawn.values())


def test_a_plot_folder_at_a_revision_is_read_from_its_manifest(project):
    project.gen({"curves": {"train.csv": "loss\n3\n2\n", "val.csv": "loss\n4\n3\n",
                            "readme.md": "x"},
                 "mlvc.yaml": yaml.safe_dump({"stages": {"s": {
                     "cmd": "true", "plots": ["curves"]}}})})
    project.run("commit", "-f")
    project.commit_all("v1")
    project.gen({"curves": {"train.csv": "loss\n1\n"}})
    plots = plots_json(project, "diff")
    assert sorted(plots) == ["curves/train.csv", "curves/val.csv"]
    assert values(plots["curves/train.csv"], "HEAD", "loss") == [3, 2]
    assert values(plots["curves/train.csv"], "workspace", "loss") == [1]


@pytest.mark.parametrize(("options", "why"), [
    ({"template": 3}, "'template' must be text"),
    ({"x": 3}, "'x' must be text"),
    ({"header": "no"}, "'header' must be true or false"),
    ({"colour": "red"}, "unknown options"),
])
def test_bad_plot_options_in_mlvc_yaml_are_told(tmp_path, options, why):
    text = yaml.safe_dump({"stages": {"s": {"cmd": "true", "plots": [{"p.csv": options}]}}})
    with pytest.raises(Exception, match=why):
        parse_pipeline(text, tmp_path)


def test_top_level_plots_draw_files_and_charts_of_several_files(ml):
    doc = yaml.safe_load(ml.read("mlvc.yaml"))
    doc["plots"] = [
        {"eval/loss.csv": {"template": "scatter"}},  # (a stage's plot: its x and y stay)
        {"Curves": {"x": "epoch", "y": {"eval/loss.csv": "loss", "eval/val.csv": "loss"}}},
        "extra.yaml",
    ]
    ml.gen({"mlvc.yaml": yaml.safe_dump(doc, sort_keys=False),
            "eval": {"val.csv": "epoch,loss\n0,2\n1,1.5\n"},
            "extra.yaml": "points:\n- {a: 1, b: 2}\n"})
    plots = plots_json(ml, "show")
    assert sorted(plots) == ["Curves", "eval/cm.json", "eval/loss.csv", "eval/shot.png",
                             "extra.yaml"]
    loss = plots["eval/loss.csv"]["spec"]
    assert loss["mark"]["type"] == "point" and loss["encoding"]["x"]["field"] == "epoch"
    curves = plots["Curves"]["spec"]
    assert curves["title"] == "Curves" and curves["encoding"]["color"]["title"] == "series"
    lines = {}
    for row in curves["data"]["values"]:
        lines.setdefault(row["rev"], []).append((row["epoch"], row["loss"]))
    assert lines == {"eval/loss.csv:loss": [(0, 1), (1, 0.8), (2, 0.6667), (3, 0.5714),
                                            (4, 0.5)],
                     "eval/val.csv:loss": [(0, 2), (1, 1.5)]}

    ml.commit_all("v2")  # (val.csv is in git: HEAD and the workspace each draw it)
    plots = plots_json(ml, "diff", "--targets", "Curves")
    assert list(plots) == ["Curves"]
    series = {row["rev"] for row in plots["Curves"]["spec"]["data"]["values"]}
    assert series == {"HEAD eval/loss.csv:loss", "HEAD eval/val.csv:loss",
                      "workspace eval/loss.csv:loss", "workspace eval/val.csv:loss"}


@pytest.mark.parametrize(("plots", "why"), [
    ({"a": 1}, "must be a list"),
    ([{"c": {"y": {}}}], "'y' names no file"),
    ([{"c": {"x": {"a.csv": "t"}, "y": "v"}}], "'x' by file goes with 'y' by file"),
    ([{"c": {"y": {"a.csv": 3}}}], "must be a field or a list of fields"),
    ([{"c": {"y": {"../a.csv": "v"}}}], "outside"),
    (["a.csv", "a.csv"], "listed twice"),
    ([{"a.csv": {"cache": False}}], "unknown options"),
])
def test_bad_top_level_plots_are_told(tmp_path, plots, why):
    text = yaml.safe_dump({"stages": {}, "plots": plots})
    with pytest.raises(Exception, match=why):
        parse_pipeline(text, tmp_path)


def test_top_level_plots_parse_into_definitions(tmp_path):
    text = yaml.safe_dump({"vars": [{"d": "eval"}], "plots": [
        "${d}/a.csv",
        {"ROC": {"x": {"${d}/t.json": "fpr"}, "y": {"${d}/t.json": ["tpr", "thr"]},
                 "title": "ROC"}},
        {"b.json": {"y": ["p", "q"]}}]})
    defs = parse_pipeline(text, tmp_path).plots
    assert [d.id for d in defs] == ["eval/a.csv", "ROC", "b.json"]
    assert defs[1].ys == (("eval/t.json", ("tpr", "thr")),)
    assert defs[1].xs == (("eval/t.json", "fpr"),) and defs[1].props.title == "ROC"
    assert defs[2].ys == (("b.json", ("p", "q")),) and defs[2].props.y is None


def test_modify_edits_the_stages_plot_or_the_top_level_keeping_comments(ml):
    text = "# the pipeline\n" + ml.read("mlvc.yaml") + "# the end\n"
    ml.gen({"mlvc.yaml": text})
    r = ml.run("plots", "modify", "eval/loss.csv", "-t", "scatter", "--unset", "title")
    assert "Plot eval/loss.csv in stage train: template: scatter, x: epoch, y: loss" in r.stdout
    doc = yaml.safe_load(ml.read("mlvc.yaml"))
    assert doc["stages"]["train"]["plots"][0] == {
        "eval/loss.csv": {"x": "epoch", "y": "loss", "template": "scatter"}}
    assert ml.read("mlvc.yaml").startswith("# the pipeline\n") and "# the end" in ml.read(
        "mlvc.yaml")
    # A bare path in a stage becomes a mapping; the rest of the stage stays as it was.
    ml.run("plots", "modify", "eval/shot.png", "--title", "Samples")
    doc = yaml.safe_load(ml.read("mlvc.yaml"))
    assert doc["stages"]["train"]["plots"][2] == {"eval/shot.png": {"title": "Samples"}}
    assert doc["stages"]["train"]["plots"][1] == PIPELINE["stages"]["train"]["plots"][1]
    assert plots_json(ml, "show")["eval/loss.csv"]["spec"]["mark"]["type"] == "point"

    # A file no stage declares goes to the top level, from a sub-folder as elsewhere.
    r = ml.run("plots", "modify", "val.csv", "--no-header", "-y", "1", "--json",
               cwd=ml.root / "eval")
    assert json.loads(r.stdout)["where"] == "plots"
    assert yaml.safe_load(ml.read("mlvc.yaml"))["plots"] == [
        {"eval/val.csv": {"header": False, "y": "1"}}]
    ml.run("plots", "modify", "eval/val.csv", "--unset", "header", "--unset", "y")
    assert yaml.safe_load(ml.read("mlvc.yaml"))["plots"] == [{"eval/val.csv": {}}]


def test_modify_refuses_bad_options_and_changes_nothing(ml):
    before = ml.read("mlvc.yaml")
    r = ml.run("plots", "modify", "eval/loss.csv", "-t", "pie", code=1)
    assert "unknown plot template 'pie'" in r.stderr
    r = ml.run("plots", "modify", "eval/loss.csv", "--unset", "colour", code=1)
    assert "unknown plot options ['colour']" in r.stderr
    r = ml.run("plots", "modify", "eval/loss.csv", code=2)
    assert "nothing to change" in r.stderr
    r = ml.run("plots", "modify", "../x.csv", "-x", "a", code=1)
    assert "outside the project" in r.stderr
    assert ml.read("mlvc.yaml") == before


def test_diff_takes_experiment_names(ml):
    ml.commit_all("v2")  # (lr 0.25)
    ml.run("exp", "run", "-S", "lr=1.0", "-n", "fast")
    plots = plots_json(ml, "diff", "fast", "HEAD", "--targets", "eval/loss.csv")
    loss = plots["eval/loss.csv"]
    assert loss["revisions"] == ["fast", "HEAD"]
    assert values(loss, "fast", "loss") == [1, 0.5, 0.3333, 0.25, 0.2]
    assert values(loss, "HEAD", "loss")[1] == 0.8
    r = ml.run("plots", "diff", "slow", code=1)
    assert "unknown revision 'slow'" in r.stderr


def test_template_files_replace_built_in_ones_and_dvcs_anchors_work(ml):
    before = plots_json(ml, "show")
    r = ml.run("plots", "templates")
    assert "Wrote .mlvc/plots/linear.json" in r.stdout
    assert plots_json(ml, "show") == before  # (the files draw what the built-ins drew)
    assert "Kept .mlvc/plots/linear.json" in ml.run("plots", "templates", "linear").stdout
    linear = ml.root / ".mlvc/plots/linear.json"
    linear.write_text(linear.read_text().replace('"type": "line"', '"type": "area"'))
    assert plots_json(ml, "show")["eval/loss.csv"]["spec"]["mark"]["type"] == "area"

    # A template of DVC's, as a project file.
    ml.gen({"tpl": {"bars.json": json.dumps({
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "<DVC_METRIC_TITLE>", "data": {"values": "<DVC_METRIC_DATA>"},
        "width": "<DVC_METRIC_PLOT_WIDTH>", "mark": "bar",
        "encoding": {"x": {"field": "<DVC_METRIC_X>", "title": "<DVC_METRIC_X_LABEL>"},
                     "y": {"field": "<DVC_METRIC_Y>", "title": "by <DVC_METRIC_Y_LABEL>"},
                     "color": "<DVC_METRIC_COLOR>"}})}})
    (ml.root / ".mlvc/plots/mine.json").write_text(  # (NAME.json finds .mlvc/plots/ too)
        (ml.root / ".mlvc/plots/scatter.json").read_text())
    ml.run("plots", "modify", "eval/loss.csv", "-t", "mine.json")
    assert plots_json(ml, "show")["eval/loss.csv"]["spec"]["mark"]["type"] == "point"
    ml.run("plots", "modify", "eval/loss.csv", "-t", "tpl/bars.json")
    spec = plots_json(ml, "diff")["eval/loss.csv"]["spec"]
    assert spec["title"] == "Loss" and spec["width"] == 400 and spec["mark"] == "bar"
    assert spec["encoding"]["x"] == {"field": "epoch", "title": "epoch"}
    assert spec["encoding"]["y"]["title"] == "by loss"
    assert spec["encoding"]["color"]["field"] == "rev"
    assert values({"spec": spec}, "HEAD", "loss") == [1.0, 0.6667, 0.5, 0.4, 0.3333]
    assert "3 plots of HEAD (" in ml.run("plots", "diff").stdout  # (drawn, SVG)

    # Refused when set; when written by hand, that plot is left out with a warning.
    for name, why in (("tpl/none.json", "does not exist"), ("../x.json", "outside"),
                      ("pie", "unknown plot template 'pie'")):
        assert why in ml.run("plots", "modify", "eval/loss.csv", "-t", name, code=1).stderr
    ml.gen({"tpl": {"bars.json": json.dumps({"mark": "bar"})}})
    r = ml.run("plots", "show", "--json")
    assert "tpl/bars.json: the template has no \"<MLVC_METRIC_DATA>\" anchor" in r.stderr
    assert "eval/loss.csv" not in {p["id"] for p in json.loads(r.stdout)["plots"]}


# The optional anchors of DVC 3's own templates, where those put them (dvc-render 1.x).
DVC_LINE = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "data": {"values": "<DVC_METRIC_DATA>"}, "title": "<DVC_METRIC_TITLE>",
    "width": "<DVC_METRIC_PLOT_WIDTH>", "height": "<DVC_METRIC_PLOT_HEIGHT>",
    "encoding": {"x": {"field": "<DVC_METRIC_X>", "type": "quantitative"},
                 "color": "<DVC_METRIC_COLOR>", "strokeDash": "<DVC_METRIC_STROKE_DASH>",
                 "shape": "<DVC_METRIC_SHAPE>", "tooltip": "<DVC_METRIC_TOOLTIP>"},
    "layer": [
        {"mark": "line", "params": ["<DVC_METRIC_ZOOM_AND_PAN>"],
         "encoding": {"y": {"field": "<DVC_METRIC_Y>", "type": "quantitative"}},
         "transform": [{"loess": "<DVC_METRIC_Y>", "on": "<DVC_METRIC_X>",
                        "groupby": "<DVC_METRIC_GROUP_BY>"}]},
        {"transform": [{"calculate": "<DVC_METRIC_PIVOT_FIELD>", "as": "pivot_field"},
                       {"pivot": "pivot_field", "value": "<DVC_METRIC_Y>",
                        "groupby": ["<DVC_METRIC_X>"]}],
         "mark": "rule", "encoding": {"color": {"value": "grey"}}}]}
DVC_CONFUSION = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "data": {"values": "<DVC_METRIC_DATA>"}, "title": "<DVC_METRIC_TITLE>",
    "facet": {"column": {"field": "rev", "sort": []}, "row": "<DVC_METRIC_ROW>"},
    "spec": {"transform": [
        {"aggregate": [{"op": "count", "as": "n"}],
         "groupby": ["<DVC_METRIC_Y>", "<DVC_METRIC_X>"]},
        {"impute": "n", "groupby": "<DVC_METRIC_GROUP_BY_Y>", "key": "<DVC_METRIC_X>",
         "value": 0},
        {"impute": "n", "groupby": "<DVC_METRIC_GROUP_BY_X>", "key": "<DVC_METRIC_Y>",
         "value": 0}],
        "mark": "rect", "encoding": {
            "x": {"field": "<DVC_METRIC_X>", "type": "nominal"},
            "y": {"field": "<DVC_METRIC_Y>", "type": "nominal"},
            "color": {"field": "n", "type": "quantitative"}}}}


def test_dvcs_own_templates_optional_anchors_are_filled_as_dvc_fills_them(project, tmp_path):
    """A custom template made from one of DVC 3's (`dvc plots templates linear`) uses
    anchors beyond the basic ones; each is filled as DVC fills it for one source, and the
    chart compiles and draws (in node, with the scripts mlvc carries, when node is here)."""
    project.gen({"l.csv": "step,loss\n0,1\n1,0.5\n2,0.4\n",
                 "c.csv": "actual,predicted\na,a\na,b\nb,b\n",
                 "tpl": {"line.json": json.dumps(DVC_LINE),
                         "conf.json": json.dumps(DVC_CONFUSION)}})
    line = plots_json(project, "show", "l.csv", "-t", "tpl/line.json")["l.csv"]["spec"]
    conf = plots_json(project, "show", "c.csv", "-t", "tpl/conf.json", "-x", "actual",
                      "-y", "predicted")["c.csv"]["spec"]
    assert "METRIC" not in json.dumps([line, conf])  # (every anchor filled)
    assert line["encoding"]["tooltip"] == [{"field": "rev"}, {"field": "step"},
                                           {"field": "loss"}]
    assert line["encoding"]["strokeDash"] == {} and line["encoding"]["shape"] == {}
    assert line["layer"][0]["transform"][0]["groupby"] == ["rev"]
    assert line["layer"][1]["transform"][0]["calculate"] == "datum.rev"
    impute = conf["spec"]["transform"]
    assert impute[1]["groupby"] == ["rev", "predicted"]
    assert impute[2]["groupby"] == ["rev", "actual"] and conf["facet"]["row"] == {}
    if shutil.which("node") is not None:
        drawn = drawn_in_node({"line": line, "conf": conf}, tmp_path)
        assert all(drawn[k].startswith("<svg") for k in ("line", "conf"))


def test_the_package_data_takes_the_scripts_the_page_inlines():
    """A regular install (not only this checkout) carries the scripts: pyproject.toml's
    package data names each file of mlvc/plots/vendor."""
    try:
        import tomllib
    except ImportError:  # (Python 3.10)
        import tomli as tomllib

    from mlvc.plots.html import VENDOR

    root = Path(mlvc.plots.__file__).parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["mlvc.plots"]
    vendor = Path(mlvc.plots.__file__).parent
    shipped = {p.name for g in globs for p in vendor.glob(g)}
    assert set(VENDOR) | {"LICENSE"} <= shipped
