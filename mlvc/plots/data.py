"""Plot files as rows of fields: CSV and TSV (with a header row unless ``header: false``),
JSON and YAML (a list of records, or a mapping holding one); images are kept as bytes.

As DVC reads them: a record is a mapping of field to value; a CSV field that reads as a
number is a number.
"""

from __future__ import annotations

import csv
import io
import json
import math
import posixpath
import re

from mlvc.errors import FormatError

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".svg": "image/svg+xml", ".webp": "image/webp"}
DATA_SUFFIXES = (".csv", ".tsv", ".json", ".yaml", ".yml")

Row = dict[str, object]


def image_type(path: str) -> str | None:
    """The MIME type of an image plot file, or None for a data file."""
    return IMAGE_TYPES.get(posixpath.splitext(path)[1].lower())


def is_plot_file(path: str) -> bool:
    suffix = posixpath.splitext(path)[1].lower()
    return suffix in DATA_SUFFIXES or suffix in IMAGE_TYPES


def parse_rows(data: bytes, origin: str, header: bool = True) -> list[Row]:
    """The records of the plot file ``origin`` whose bytes are ``data``."""
    suffix = posixpath.splitext(origin)[1].lower()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FormatError(f"{origin}: not UTF-8 text") from None
    if suffix in (".csv", ".tsv"):
        return _delimited(text, "\t" if suffix == ".tsv" else ",", header)
    if suffix == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FormatError(f"{origin}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    elif suffix in (".yaml", ".yml"):
        from mlvc.yamlio import parse_yaml

        doc = parse_yaml(text, origin)
    else:
        raise FormatError(f"{origin}: not a plot file (CSV, TSV, JSON or YAML, or an image)",
                          hint="plots are read from .csv, .tsv, .json, .yaml files and images")
    return _records(doc, origin)


def _records(doc: object, origin: str) -> list[Row]:
    if isinstance(doc, dict):  # {"train": [{...}, ...]}: the first list of records in it
        doc = next((v for v in doc.values() if isinstance(v, list)), None)
    if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
        raise FormatError(f"{origin}: expected a list of records (mappings of field to value)",
                          hint='write e.g. [{"step": 0, "loss": 0.9}, …], or a mapping '
                               "holding such a list")
    return [{str(k): v for k, v in r.items()} for r in doc]


def _delimited(text: str, delimiter: str, header: bool) -> list[Row]:
    lines = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if r]
    if not lines:
        return []
    names = lines[0] if header else [str(i) for i in range(len(lines[0]))]
    body = lines[1:] if header else lines
    return [{name: _number(cell) for name, cell in zip(names, cells)} for cells in body]


_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _number(cell: str) -> object:
    """The number a cell writes (decimal notation only: never ``nan``, ``inf`` nor ``1_0``),
    else the text."""
    text = cell.strip()
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        value = float(text)
        if math.isfinite(value):
            return value
    return cell
