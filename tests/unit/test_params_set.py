"""``-S [FILE:]KEY=VALUE``: parsing, and edits of YAML, JSON and TOML params files."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlvc.errors import FormatError, MlvcError, PipelineError, TargetError
from mlvc.pipeline.params import flatten, parse_params
from mlvc.pipeline.params_set import (
    checked_edit,
    edit_text,
    parse_assignment,
    parse_value,
    set_params,
)


@pytest.mark.parametrize("text, expected", [
    ("train.lr=0.01", ("params.yaml", "train.lr", "set", 0.01)),
    ("seed=7", ("params.yaml", "seed", "set", 7)),
    ("flag=true", ("params.yaml", "flag", "set", True)),
    ("name=resnet", ("params.yaml", "name", "set", "resnet")),
    ("layers=[1, 2]", ("params.yaml", "layers", "set", [1, 2])),
    ("x=null", ("params.yaml", "x", "set", None)),
    ("x=", ("params.yaml", "x", "set", "")),
    ("url=http://a:b@c/d=e", ("params.yaml", "url", "set", "http://a:b@c/d=e")),
    ("day=2024-01-02", ("params.yaml", "day", "set", "2024-01-02")),  # (a date stays text)
    ("conf/train.yaml:lr=1e-3", ("conf/train.yaml", "lr", "set", "1e-3")),
    ("p.json:+new.key=1", ("p.json", "new.key", "add", 1)),
    ("p.toml:++a=2", ("p.toml", "a", "upsert", 2)),
    ("~old", ("params.yaml", "old", "delete", None)),
    ("P.YML:~a.b", ("P.YML", "a.b", "delete", None)),
])
def test_parse(text, expected):
    a = parse_assignment(text)
    assert (a.file, a.key, a.op, a.value) == expected


@pytest.mark.parametrize("text", ["lr", "=1", "a..b=1", ".a=1", "~a=1", "a. b=1",
                                  "../p.yaml:a=1", "/etc/p.yaml:a=1", "notes.txt:a=1"])
def test_bad_assignments_are_refused(text):
    with pytest.raises(MlvcError):
        a = parse_assignment(text)
        if a.file == "params.yaml":  # (notes.txt:a=1 is the key "notes.txt:a" of params.yaml)
            raise TargetError("parsed")


def test_yaml_edit_keeps_comments_and_order():
    text = "# top\ntrain:\n  lr: 0.1  # learning rate\n  epochs: 3\nseed: 1\nlist:\n- 1\n- 2\n"
    new, changes = edit_text(text, "params.yaml", [
        parse_assignment("train.lr=0.01"), parse_assignment("list.1=5"),
        parse_assignment("+train.momentum=0.9"), parse_assignment("~seed")])
    assert "# top" in new and "# learning rate" in new
    assert yaml.safe_load(new) == {"train": {"lr": 0.01, "epochs": 3, "momentum": 0.9},
                                   "list": [1, 5]}
    assert changes == [(0.1, 0.01), (2, 5), (None, 0.9), (1, None)]
    assert new.index("lr") < new.index("epochs") < new.index("momentum")


def test_json_and_toml_edits():
    new, _ = edit_text('{\n    "a": {"b": 1},\n    "c": "x"\n}\n', "p.json",
                       [parse_assignment("p.json:a.b=2")])
    assert json.loads(new) == {"a": {"b": 2}, "c": "x"} and '\n    "a"' in new
    toml = '# keep\n[train]\nlr = 0.1 # rate\n'
    new, changes = edit_text(toml, "p.toml", [parse_assignment("p.toml:train.lr=0.5"),
                                              parse_assignment("p.toml:+train.seed=3")])
    assert "# keep" in new and "# rate" in new
    assert parse_params(new, "p.toml") == {"train": {"lr": 0.5, "seed": 3}}
    assert changes == [(0.1, 0.5), (None, 3)]
    with pytest.raises(PipelineError, match="null"):
        edit_text(toml, "p.toml", [parse_assignment("p.toml:train.lr=null")])


@pytest.mark.parametrize("assignment, message", [
    ("train.nope=1", "not in params.yaml"),  # (= changes only what exists)
    ("+train.lr=1", "already in"),
    ("~nope", "not in"),
    ("train.lr.x=1", "is a value"),
    ("list.9=1", "not in"),
])
def test_edits_that_do_not_fit_name_the_key(assignment, message):
    with pytest.raises(PipelineError, match=message):
        edit_text("train:\n  lr: 0.1\nlist: [1]\n", "params.yaml",
                  [parse_assignment(assignment)])


def test_set_params_writes_nothing_when_one_file_fails(tmp_path):
    (tmp_path / "params.yaml").write_text("a: 1\n")
    (tmp_path / "other.yaml").write_text("b: 2\n")
    with pytest.raises(PipelineError):
        set_params(tmp_path, [parse_assignment("a=5"), parse_assignment("other.yaml:c=1")])
    assert (tmp_path / "params.yaml").read_text() == "a: 1\n"
    with pytest.raises(TargetError, match="does not exist"):
        set_params(tmp_path, [parse_assignment("missing.yaml:a=1")])
    changes = set_params(tmp_path, [parse_assignment("a=5"), parse_assignment("other.yaml:b=3")])
    assert [(c.file, c.key, c.old, c.new) for c in changes] == [
        ("params.yaml", "a", 1, 5), ("other.yaml", "b", 2, 3)]


keys = st.text(alphabet="abcdefgh_", min_size=1, max_size=5)
scalars = st.one_of(st.integers(-10**6, 10**6), st.booleans(),
                    st.floats(allow_nan=False, allow_infinity=False, width=32),
                    st.text(alphabet="abcxyz-_ ", min_size=1, max_size=8).map(str.strip)
                    .filter(lambda s: s and parse_value(s) == s))
docs = st.recursive(scalars, lambda inner: st.dictionaries(keys, inner, min_size=1, max_size=4),
                    max_leaves=12).filter(lambda d: isinstance(d, dict))


def _shown(v: object) -> str:
    return json.dumps(v) if not isinstance(v, str) else v


@settings(max_examples=60, deadline=None)
@given(doc=docs, value=scalars, suffix=st.sampled_from([".yaml", ".json", ".toml"]),
       data=st.data())
def test_setting_any_leaf_round_trips(doc, value, suffix, data):
    """For any params file and any leaf of it, `-S key=value` reads back as exactly that
    change: the leaf has the new value, every other leaf is as it was."""
    import tomlkit

    origin = "p" + suffix
    text = (json.dumps(doc, indent=2) if suffix == ".json" else tomlkit.dumps(doc)
            if suffix == ".toml" else yaml.safe_dump(doc))
    flat = flatten(doc)
    key = data.draw(st.sampled_from(sorted(flat)))
    assignment = parse_assignment(f"{origin}:{key}={_shown(value)}")
    try:
        new, changes = checked_edit(text, origin, [assignment])
    except FormatError as exc:  # (valid YAML that ruamel.yaml cannot read: `a: -_`)
        assert "cannot edit: ruamel.yaml fails on it" in str(exc) and suffix == ".yaml"
        return
    except PipelineError as exc:  # (a float the writer cannot write back exactly)
        assert "cannot be edited without changing" in str(exc)
        new, _ = edit_text(text, origin, [assignment])
        after = flatten(parse_params(new, origin))
        assert any(isinstance(flat[k], float) and after[k] != flat[k] for k in flat)
        return
    after = flatten(parse_params(new, origin))
    assert after == {**flat, key: value}
    assert changes == [(flat[key], value)]


def test_yaml_ruamel_cannot_read_is_refused_clearly():
    with pytest.raises(FormatError, match="params.yaml: cannot edit"):
        edit_text("a: -_\nb: 1\n", "params.yaml", [parse_assignment("b=2")])


def test_a_value_the_writer_would_change_stops_the_edit(tmp_path):
    text = "a: 6.431486321990042e+16\nb: 1\n"
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(PipelineError, match="without changing 'a'"):
        set_params(tmp_path, [parse_assignment("b=2")])
    assert (tmp_path / "params.yaml").read_text() == text
