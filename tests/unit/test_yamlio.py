"""yamlio: parsing with errors that name the file, and the memo of parsed documents."""

from __future__ import annotations

import datetime
import subprocess
import sys

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlvc import yamlio
from mlvc.errors import FormatError
from mlvc.yamlio import ParsedMemo, parse_yaml


@pytest.fixture
def memo(tmp_path):
    m = ParsedMemo(tmp_path / "parsed-yaml")
    yamlio.use_memo(m)
    yield m
    yamlio.use_memo(None)


def count_parses(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = yaml.load
    monkeypatch.setattr(yaml, "load", lambda text, Loader: calls.append(text) or real(
        text, Loader=Loader))
    return calls


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20),
                    st.floats(allow_nan=False))
docs = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20)


@settings(max_examples=60, deadline=None)
@given(doc=docs)
def test_a_remembered_document_is_the_parsed_one(tmp_path_factory, doc):
    text = yaml.safe_dump(doc, allow_unicode=True)
    expected = yaml.safe_load(text)
    memo = ParsedMemo(tmp_path_factory.mktemp("memo") / "parsed-yaml")
    yamlio.use_memo(memo)
    try:
        assert parse_yaml(text, "f") == expected
        memo.save()
        again = ParsedMemo(memo.path)  # the next process
        yamlio.use_memo(again)
        assert parse_yaml(text, "f") == expected
    finally:
        yamlio.use_memo(None)


def test_the_next_process_parses_nothing_it_has_seen(memo, monkeypatch):
    calls = count_parses(monkeypatch)
    assert parse_yaml("a: 1\nb: [x, y]\n", "f") == {"a": 1, "b": ["x", "y"]}
    memo.save()
    yamlio.use_memo(ParsedMemo(memo.path))
    assert parse_yaml("a: 1\nb: [x, y]\n", "f") == {"a": 1, "b": ["x", "y"]}
    assert parse_yaml("a: 2\n", "f") == {"a": 2}  # new text: parsed
    assert calls == ["a: 1\nb: [x, y]\n", "a: 2\n"]


def test_each_hit_is_a_fresh_copy(memo):
    first = parse_yaml("outs: [{path: d}]\n", "f")
    first["outs"][0]["path"] = "changed by the caller"
    assert parse_yaml("outs: [{path: d}]\n", "f") == {"outs": [{"path": "d"}]}


def test_errors_are_never_remembered(memo, monkeypatch):
    for _ in range(2):
        with pytest.raises(FormatError, match="f:2: invalid YAML"):
            parse_yaml("a: [1\n", "f")
    memo.save()
    assert not memo.path.exists()


def test_a_document_marshal_cannot_hold_is_parsed_each_time(memo, monkeypatch):
    calls = count_parses(monkeypatch)
    for _ in range(2):
        assert parse_yaml("day: 2026-12-02\n", "f") == {"day": datetime.date(2026, 12, 2)}
    assert len(calls) == 2


@pytest.mark.parametrize("damage", [b"", b"junk", "flip", "truncate"])
def test_a_damaged_memo_file_is_ignored(memo, monkeypatch, damage):
    parse_yaml("a: 1\n", "f")
    memo.save()
    raw = memo.path.read_bytes()
    if damage == "flip":
        raw = raw[:-1] + bytes([raw[-1] ^ 1])
    elif damage == "truncate":
        raw = raw[:-3]
    else:
        raw = damage
    memo.path.write_bytes(raw)
    calls = count_parses(monkeypatch)
    yamlio.use_memo(ParsedMemo(memo.path))
    assert parse_yaml("a: 1\n", "f") == {"a": 1}
    assert calls == ["a: 1\n"]


def test_the_memo_keeps_what_was_used_and_is_bounded(memo, monkeypatch):
    monkeypatch.setattr(ParsedMemo, "MAX_ENTRIES", 3)
    for i in range(5):
        parse_yaml(f"n: {i}\n", "f")
    memo.save()  # all five were used by this process: kept
    later = ParsedMemo(memo.path)
    yamlio.use_memo(later)
    parse_yaml("n: 9\n", "f")
    later.save()  # the one used, then older ones up to the bound
    entries = ParsedMemo(memo.path)._entries()
    assert len(entries) == 3


def test_no_folder_no_file_and_no_error(tmp_path):
    memo = ParsedMemo(tmp_path / "missing" / "parsed-yaml")
    yamlio.use_memo(memo)
    try:
        parse_yaml("a: 1\n", "f")
        memo.save()
    finally:
        yamlio.use_memo(None)
    assert not (tmp_path / "missing").exists()


def test_a_no_op_status_does_not_import_the_yaml_parser(project):
    """The second status of a project reads config and pointers it has read before."""
    project.gen({"data": {"a": "1"}})
    project.run("config", "core.jobs", "2")
    project.run("add", "data")
    script = ("import sys\nfrom mlvc.cli.main import main\n"
              "try:\n    main(['-q', 'status'])\nexcept SystemExit as e:\n    code = e.code\n"
              "print(code, 'yaml' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", script], cwd=project.root, text=True,
                           capture_output=True, check=True).stdout.split() for _ in range(2)]
    assert runs[1] == ["0", "False"], runs


def test_a_memo_written_by_another_python_is_not_read(memo, monkeypatch):
    parse_yaml("a: 1\n", "f")
    memo.save()
    monkeypatch.setattr(ParsedMemo, "VERSION", (1, (3, 99), 4))
    calls = count_parses(monkeypatch)
    yamlio.use_memo(ParsedMemo(memo.path))
    assert parse_yaml("a: 1\n", "f") == {"a": 1}
    assert calls == ["a: 1\n"]
