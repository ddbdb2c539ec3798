"""Vega-Lite specs from plot rows: fields, revisions and templates."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mlvc.errors import FormatError
from mlvc.pipeline.model import PlotProps
from mlvc.plots.vega import TEMPLATES, build_spec


def test_rows_are_numbered_and_tagged_with_their_revision():
    spec = build_spec("loss.csv", PlotProps(), [
        ("HEAD", [{"loss": 0.9}, {"loss": 0.5}]), ("workspace", [{"loss": 0.7}])])
    assert spec["data"]["values"] == [
        {"loss": 0.9, "step": 0, "rev": "HEAD"}, {"loss": 0.5, "step": 1, "rev": "HEAD"},
        {"loss": 0.7, "step": 0, "rev": "workspace"}]
    assert spec["encoding"]["x"]["field"] == "step"
    assert spec["encoding"]["y"]["field"] == "loss"  # (the last field)
    assert spec["encoding"]["color"]["field"] == "rev"
    assert spec["title"] == "loss.csv"


def test_props_choose_fields_template_and_titles():
    props = PlotProps(template="scatter", x="epoch", y="acc", x_label="Epoch",
                      title="Accuracy")
    spec = build_spec("m.csv", props, [("HEAD", [{"epoch": 1, "acc": 0.5, "loss": 2}])])
    assert spec["mark"]["type"] == "point" and spec["title"] == "Accuracy"
    assert spec["encoding"]["x"] == {"field": "epoch", "type": "quantitative",
                                     "title": "Epoch"}
    assert spec["encoding"]["y"]["field"] == "acc" and "step" not in spec["data"]["values"][0]


def test_a_missing_field_names_the_ones_there():
    with pytest.raises(FormatError, match="no field 'accuracy'") as info:
        build_spec("m.csv", PlotProps(y="accuracy"), [("HEAD", [{"epoch": 1, "acc": 0.5}])])
    assert "'epoch', 'acc'" in info.value.hint


def test_confusion_counts_pairs_and_faces_one_matrix_per_revision():
    rows = [{"actual": "a", "predicted": "b"}]
    one = build_spec("cm.json", PlotProps(template="confusion"), [("HEAD", rows)])
    assert one["transform"][0]["groupby"] == ["rev", "actual", "predicted"]
    assert one["facet"] == {"field": "rev", "type": "nominal"}  # (one, as with several)
    assert one["spec"]["width"] == 300
    two = build_spec("cm.json", PlotProps(template="confusion_normalized"),
                     [("HEAD", rows), ("workspace", rows)])
    assert two["facet"] == {"field": "rev", "type": "nominal"}
    assert two["transform"][-1] == {"calculate": "datum.count / datum.total", "as": "percent"}


def test_unknown_template_is_refused():
    with pytest.raises(FormatError, match="unknown plot template 'pie'"):
        build_spec("m.csv", PlotProps(template="pie"), [("HEAD", [{"a": 1}])])


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_draws(template):
    vl_convert = pytest.importorskip("vl_convert")
    rows = [{"actual": str(i % 2), "predicted": str(i % 3), "score": i / 10} for i in range(6)]
    spec = build_spec("p.json", PlotProps(template=template),
                      [("HEAD", rows), ("workspace", rows[:3])])
    svg = vl_convert.vegalite_to_svg(spec)
    assert svg.startswith("<svg") and "p.json" in svg


def test_merged_props_take_what_is_set():
    base = PlotProps(template="scatter", x="a", y="b", header=False)
    assert base.merged(PlotProps(y="c")) == PlotProps("scatter", "a", "c", header=False)
    assert base.merged(PlotProps()) == base


def test_a_long_curve_is_a_line_without_a_mark_per_row():
    short = build_spec("l.csv", PlotProps(), [("HEAD", [{"v": i} for i in range(10)])])
    long = build_spec("l.csv", PlotProps(), [("HEAD", [{"v": i} for i in range(5000)])])
    assert short["mark"]["point"] is True and long["mark"]["point"] is False


_names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="<"),
                 min_size=1, max_size=12)


@given(template=st.sampled_from(TEMPLATES), x=_names, y=_names,
       title=st.none() | _names, label=st.none() | _names,
       rows=st.lists(st.tuples(st.integers(-5, 5), st.floats(-1e6, 1e6)), min_size=1,
                     max_size=20),
       revs=st.lists(st.sampled_from(["HEAD", "workspace", "v1"]), min_size=1, max_size=3,
                     unique=True))
def test_a_built_in_template_written_as_a_file_draws_what_the_built_in_draws(
        template, x, y, title, label, rows, revs):
    from mlvc.plots.templates import anchored

    assume(x != y)
    props = PlotProps(template, x, y, label, label, title)
    data = [(rev, [{x: a, y: b} for a, b in rows]) for rev in revs]
    built_in = build_spec("p.csv", props, data)
    from_file = build_spec("p.csv", props, data, custom=anchored(template))
    assert from_file == built_in


def test_template_anchors_fill_text_whole_values_and_dvcs_names():
    from mlvc.plots.templates import fill

    spec = fill({"a": "<MLVC_METRIC_X_LABEL> vs <DVC_METRIC_Y>", "d": "<DVC_METRIC_DATA>",
                 "w": ["<MLVC_METRIC_PLOT_WIDTH>"], "<MLVC_METRIC_X>": "<MLVC_METRIC_COLOR>"},
                rows=[{"r": 1}], x="ex", y="why", title="T", x_label="XL", y_label="YL",
                legend="revision")
    assert spec == {"a": "XL vs why", "d": [{"r": 1}], "w": [400],
                    "ex": {"field": "rev", "type": "nominal", "title": "revision"}}
