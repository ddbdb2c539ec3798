"""Plot files read as rows: CSV/TSV, JSON and YAML."""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mlvc.errors import FormatError
from mlvc.plots.data import image_type, is_plot_file, parse_rows

names = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
words = st.text("abcdefghijklmnopqrstuvwxyz ,\"'\t", min_size=1, max_size=10).filter(
    lambda w: w.strip() == w and w.strip())
cells = st.one_of(st.integers(-10**12, 10**12), words,
                  st.floats(allow_nan=False, allow_infinity=False, width=64))


@st.composite
def tables(draw):
    fields = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    rows = draw(st.lists(st.fixed_dictionaries({f: cells for f in fields}), max_size=8))
    return fields, rows


@given(tables(), st.sampled_from([",", "\t"]))
def test_delimited_files_round_trip(table, delimiter):
    fields, rows = table
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(fields)
    for r in rows:
        writer.writerow([repr(r[f]) if isinstance(r[f], float) else r[f] for f in fields])
    suffix = ".csv" if delimiter == "," else ".tsv"
    assert parse_rows(out.getvalue().encode(), "p" + suffix) == rows


@given(tables(), st.sampled_from([".json", ".yaml", ".yml"]), st.booleans())
def test_records_round_trip(table, suffix, wrapped):
    _, rows = table
    doc = {"train": rows} if wrapped else rows
    text = json.dumps(doc) if suffix == ".json" else yaml.safe_dump(doc)
    assert parse_rows(text.encode(), "p" + suffix) == rows


def test_csv_cells_are_numbers_only_in_decimal_notation():
    text = "a,b,c,d,e,f\n1_0,nan,inf,1e3,-2, 0.5\n"
    assert parse_rows(text.encode(), "p.csv") == [
        {"a": "1_0", "b": "nan", "c": "inf", "d": 1000.0, "e": -2, "f": 0.5}]


def test_without_a_header_fields_are_numbered():
    assert parse_rows(b"1,2\n3,4\n", "p.csv", header=False) == [
        {"0": 1, "1": 2}, {"0": 3, "1": 4}]
    assert parse_rows(b"\xef\xbb\xbfx\n1\n", "p.csv") == [{"x": 1}]  # (a UTF-8 BOM)


@pytest.mark.parametrize(("data", "path", "why"), [
    (b'{"acc": 0.9}', "m.json", "expected a list of records"),
    (b"[1, 2]", "m.json", "expected a list of records"),
    (b"[{", "m.json", "invalid JSON"),
    (b"\xff\xfe", "m.csv", "not UTF-8"),
    (b"x", "m.txt", "not a plot file"),
])
def test_bad_files_are_told(data, path, why):
    with pytest.raises(FormatError, match=why):
        parse_rows(data, path)


def test_plot_files_and_images():
    assert image_type("a/B.PNG") == "image/png" and image_type("a.csv") is None
    assert is_plot_file("x.tsv") and is_plot_file("x.jpeg") and not is_plot_file("x.txt")
