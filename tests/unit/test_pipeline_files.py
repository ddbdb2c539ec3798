"""mlvc.yaml loading and mlvc.lock round trips (unit level: no git, no subprocesses)."""

from __future__ import annotations

import string

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlvc.errors import FormatError, PathError, PipelineError
from mlvc.pipeline.graph import build_graph
from mlvc.pipeline.loader import parse_pipeline
from mlvc.pipeline.lockfile import LockEntry, dump_lock, parse_lock
from mlvc.pipeline.model import Dep, Pipeline, Stage, StageOut
from mlvc.pipeline.params import flatten, parse_params, select
from mlvc.pipeline.status import Current, reasons
from mlvc.workspace.pointer import Out

OID = "0123456789abcdef0123456789abcdef"


def load(tmp_path, doc) -> Pipeline:
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
    return parse_pipeline(text, tmp_path)


def test_full_stage_form(tmp_path):
    (tmp_path / "sub").mkdir()
    p = load(tmp_path, {"stages": {"train": {
        "cmd": ["python a.py", "python b.py"], "wdir": "sub", "desc": "trains",
        "deps": ["a.py", "../data"], "params": ["lr", {"../cfg.json": ["x.y"]}, {"o.toml": None}],
        "outs": ["model.pkl", {"cache_off": {"cache": False, "persist": True}}],
        "metrics": [{"m.json": {"cache": False}}], "plots": [{"roc.csv": {"x": "fpr"}}],
        "frozen": True, "always_changed": False}}})
    s = p["train"]
    assert s.cmd == ("python a.py", "python b.py") and s.wdir == "sub" and s.desc == "trains"
    assert [d.path for d in s.deps] == ["sub/a.py", "data"]
    assert [(r.file, r.keys) for r in s.params] == [
        ("cfg.json", ("x.y",)), ("sub/o.toml", ()), ("sub/params.yaml", ("lr",))]
    assert [(o.path, o.kind, o.cache, o.persist) for o in s.outs] == [
        ("sub/model.pkl", "outs", True, False), ("sub/cache_off", "outs", False, True),
        ("sub/m.json", "metrics", False, False), ("sub/roc.csv", "plots", True, False)]
    assert s.frozen and not s.always_changed


@pytest.mark.parametrize("stage, field", [
    ({"deps": ["a"]}, "cmd"),
    ({"cmd": ""}, "cmd"),
    ({"cmd": "x", "deps": "a"}, "deps"),
    ({"cmd": "x", "outs": [{"a": {"cache": "no"}}]}, "outs[0]"),
    ({"cmd": "x", "outs": [{"a": {"bogus": 1}}]}, "outs[0]"),
    ({"cmd": "x", "frozen": "yes"}, "frozen"),
    ({"cmd": "x", "params": [3]}, "params[0]"),
    ({"cmd": "x", "outs": ["a", "a"]}, "outs[1]"),
    ({"cmd": "x", "wat": 1}, "unknown keys"),
    ({"cmd": "x ${nope}"}, "cmd"),
    ({"cmd": "x", "outs": ["a", "d/line\nbreak"]}, "outs[1]"),  # no .gitignore line holds it
])
def test_errors_name_file_stage_and_field(tmp_path, stage, field):
    with pytest.raises(FormatError) as err:
        load(tmp_path, {"stages": {"s1": stage}})
    assert err.value.message.startswith("mlvc.yaml: stage 's1': ")
    assert field in err.value.message


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../x"])
def test_paths_that_escape_are_refused(tmp_path, path):
    with pytest.raises((FormatError, PathError)) as err:
        load(tmp_path, {"stages": {"s": {"cmd": "x", "deps": [path]}}})
    assert "deps[0]" in err.value.message


def test_symlink_leading_out_is_refused(tmp_path):
    (tmp_path / "link").symlink_to("/tmp")
    with pytest.raises(FormatError, match="outs\\[0\\].*leads outside"):
        load(tmp_path, {"stages": {"s": {"cmd": "x", "outs": ["link/o"]}}})


def test_an_output_through_a_symlinked_folder_inside_is_refused(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "alias").symlink_to("data")
    with pytest.raises(FormatError, match=r"outs\[1\]: 'alias/o' is beyond a symbolic link "
                                          r"\('alias'\)"):
        load(tmp_path, {"stages": {"s": {"cmd": "x", "outs": ["data/p", "alias/o"]}}})
    # A dep may be read through it.
    stage = load(tmp_path, {"stages": {"s": {"cmd": "x", "deps": ["alias/i"],
                                             "outs": ["data/o"]}}})["s"]
    assert [d.path for d in stage.deps] == ["alias/i"]


@pytest.mark.parametrize("out", ["sub/.git/hooks/pre-commit", ".GIT/hooks/x", "a/.Mlvc"])
def test_an_output_inside_git_or_mlvc_is_refused(tmp_path, out):
    with pytest.raises(FormatError, match=r"outs\[0\]: .* is inside (a |\.GIT/)"):
        load(tmp_path, {"stages": {"s": {"cmd": "x", "outs": [out]}}})


def test_bad_stage_name(tmp_path):
    with pytest.raises(FormatError, match="stage name 'a b'"):
        load(tmp_path, {"stages": {"a b": {"cmd": "x"}}})


def test_vars_and_interpolation(tmp_path):
    (tmp_path / "params.yaml").write_text("model: {name: resnet, layers: 3}\nflag: true\n")
    (tmp_path / "more.yaml").write_text("extra: 7\n")
    p = load(tmp_path, {
        "vars": [{"out_dir": "out"}, "more.yaml"],
        "stages": {"s": {"cmd": "train ${model.name} --layers ${model.layers} --f ${flag} "
                                "\\${literal} ${extra}",
                         "outs": ["${out_dir}/m.bin"]}}})
    assert p["s"].cmd == ("train resnet --layers 3 --f true ${literal} 7",)
    assert p["s"].outs[0].path == "out/m.bin"


def test_stage_vars_override(tmp_path):
    p = load(tmp_path, {"vars": [{"x": 1}],
                        "stages": {"s": {"vars": {"x": 2}, "cmd": "echo ${x}"}}})
    assert p["s"].cmd == ("echo 2",)


def test_foreach_list_and_dict(tmp_path):
    p = load(tmp_path, {"stages": {
        "a": {"foreach": ["us", "eu"], "do": {"cmd": "run ${item}", "outs": ["${item}.out"]}},
        "b": {"foreach": {"small": {"n": 1}, "big": {"n": 9}},
              "do": {"cmd": "run ${key} ${item.n}"}}}})
    assert list(p.stages) == ["a@us", "a@eu", "b@small", "b@big"]
    assert p["a@eu"].outs[0].path == "eu.out"
    assert p["b@big"].cmd == ("run big 9",)


def test_matrix(tmp_path):
    p = load(tmp_path, {"stages": {"t": {
        "matrix": {"model": ["cnn", "mlp"], "lr": [0.1, 0.01]},
        "cmd": "train ${item.model} ${item.lr}", "outs": ["${item.model}-${item.lr}.bin"]}}})
    assert list(p.stages) == ["t@cnn-0.1", "t@cnn-0.01", "t@mlp-0.1", "t@mlp-0.01"]
    assert p["t@mlp-0.01"].cmd == ("train mlp 0.01",)


def test_foreach_needs_do(tmp_path):
    with pytest.raises(FormatError, match="foreach"):
        load(tmp_path, {"stages": {"a": {"foreach": [1], "cmd": "x"}}})


def test_params_flatten_and_select():
    doc = {"train": {"lr": 0.1, "opt": {"b1": 0.9}}, "top": [1, 2]}
    assert flatten(doc) == {"train.lr": 0.1, "train.opt.b1": 0.9, "top": [1, 2]}
    assert select(doc, "p.yaml", ("train",), "s") == {"train.lr": 0.1, "train.opt.b1": 0.9}
    assert select(doc, "p.yaml", (), "s") == flatten(doc)
    with pytest.raises(PipelineError, match="param 'nope' is not in p.yaml"):
        select(doc, "p.yaml", ("nope",), "s")
    with pytest.raises(PipelineError, match="does not exist"):
        select(None, "p.yaml", ("a",), "s")


@pytest.mark.parametrize("name, text", [("a.json", "{bad"), ("a.toml", "x = = 1"),
                                        ("a.yaml", "a: [1"), ("a.yaml", "- 1\n")])
def test_malformed_params_files_name_the_file(name, text):
    with pytest.raises(FormatError) as err:
        parse_params(text, name)
    assert err.value.message.startswith(name)


# -- lock file -----------------------------------------------------------------------------

names = st.text(string.ascii_lowercase + "_", min_size=1, max_size=8)
paths = st.lists(names, min_size=1, max_size=3).map("/".join)
oids = st.text("0123456789abcdef", min_size=32, max_size=32)
records = st.builds(
    lambda path, oid, is_dir, size, n, ex: Out(path, oid, "dir" if is_dir else "file", size,
                                               n if is_dir else 1, ex and not is_dir),
    paths, oids, st.booleans(), st.integers(0, 2**40), st.integers(0, 10**6), st.booleans())
scalars = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                    st.booleans(), st.text(max_size=10), st.none())
values = st.one_of(scalars, st.lists(scalars, max_size=3))


@st.composite
def entries(draw):
    name = draw(names)
    outs = draw(st.lists(records, max_size=4, unique_by=lambda o: o.path))
    uncached = frozenset(o.path for o in outs if draw(st.booleans()))
    unpushed = frozenset(o.path for o in outs if draw(st.booleans()))
    params = draw(st.dictionaries(paths.map(lambda p: p + ".yaml"),
                                  st.dictionaries(names, values, max_size=3), max_size=2))
    return LockEntry(name, tuple(draw(st.lists(st.text(min_size=1, max_size=20), min_size=1,
                                               max_size=3))),
                     tuple(draw(st.lists(records, max_size=4, unique_by=lambda o: o.path))),
                     params, tuple(outs), uncached, unpushed)


@settings(max_examples=150, deadline=None)
@given(st.lists(entries(), max_size=4, unique_by=lambda e: e.name))
def test_lock_round_trips(entries_):
    text = dump_lock(entries_)
    parsed = parse_lock(text)
    assert list(parsed) == [e.name for e in entries_]
    for e in entries_:
        assert parsed[e.name] == e.normalized()
    assert dump_lock(list(parsed.values())) == text


@settings(max_examples=100, deadline=None)
@given(entries(), st.randoms())
def test_lock_bytes_do_not_depend_on_order(entry, rnd):
    deps, outs = list(entry.deps), list(entry.outs)
    rnd.shuffle(deps)
    rnd.shuffle(outs)
    shuffled = LockEntry(entry.name, entry.cmd, tuple(deps), dict(reversed(entry.params.items())),
                         tuple(outs), entry.uncached, entry.unpushed)
    assert dump_lock([shuffled]) == dump_lock([entry])


def test_lock_matches_the_documented_shape():
    e = LockEntry("train", ("python t.py",),
                  (Out("src/t.py", OID, "file", 10), Out("data", OID, "dir", 20, 3)),
                  {"params.yaml": {"train.lr": 0.001, "train.epochs": 10}},
                  (Out("m.pkl", OID, "file", 5), Out("metrics.json", OID, "file", 2)),
                  frozenset({"metrics.json"}))
    assert dump_lock([e]) == (
        "schema: 1\nstages:\n  train:\n    cmd: python t.py\n    deps:\n"
        f"    - {{path: data, hash: xxh128, oid: {OID}, size: 20, nfiles: 3}}\n"
        f"    - {{path: src/t.py, hash: xxh128, oid: {OID}, size: 10}}\n"
        "    params:\n      params.yaml: {train.epochs: 10, train.lr: 0.001}\n    outs:\n"
        f"    - {{path: m.pkl, hash: xxh128, oid: {OID}, size: 5}}\n"
        f"    - {{path: metrics.json, hash: xxh128, oid: {OID}, size: 2, cache: false}}\n")


@pytest.mark.parametrize("text, why", [
    ("schema: 2\n", "schema"),
    ("schema: 1\nstages: {a: {cmd: x, deps: [{path: ../x, hash: xxh128, oid: "
     + OID + ", size: 1}]}}\n", "outside"),
    ("schema: 1\nstages: {a: {cmd: x, outs: [{path: a, hash: md5, oid: " + OID
     + ", size: 1}]}}\n", "hash"),
    ("schema: 1\nstages: {a: {cmd: x, outs: [{path: a, hash: xxh128, oid: zz, size: 1}]}}\n",
     "oid"),
    ("schema: 1\nstages: {a: {cmd: 3}}\n", "cmd"),
    ("schema: 1\nstages: {a: {cmd: x, what: 1}}\n", "unknown"),
    ("schema: 1\nstages: [\n", "invalid YAML"),
])
def test_malformed_lock_is_refused(text, why):
    with pytest.raises((FormatError, PathError)) as err:
        parse_lock(text)
    assert "mlvc.lock" in err.value.message and why in err.value.message


# -- staleness -----------------------------------------------------------------------------


def test_reasons():
    stage = Stage("s", ("run",), deps=(Dep("a"), Dep("b")), outs=(StageOut("o"),))
    entry = LockEntry("s", ("run",), (Out("a", OID, "file", 1), Out("gone", OID, "file", 1)),
                      {"params.yaml": {"lr": 1}}, (Out("o", OID, "file", 1),))
    other = "f" * 32
    cur = Current({"a": Out("a", other, "file", 1), "b": Out("b", OID, "file", 1)},
                  {}, {"o": None})
    why = reasons(stage, entry, cur)
    assert [str(r) for r in why] == [
        "dep a modified", "dep b is new", "dep gone removed",
        "params of params.yaml no longer declared", "out o missing"]
    assert [r.path for r in why] == ["a", "b", "gone", "params.yaml", "o"]
    assert [r.seen("sub") for r in why] == [
        "dep ../a modified", "dep ../b is new", "dep ../gone removed",
        "params of ../params.yaml no longer declared", "out ../o missing"]
    assert [str(r) for r in reasons(stage, None, cur)] == ["never ran"]
    same = Current({"a": Out("a", OID, "file", 1)}, {}, {"o": Out("o", OID, "file", 1)})
    plain = Stage("s", ("run",), deps=(Dep("a"),), outs=(StageOut("o"),))
    locked = LockEntry("s", ("run",), (Out("a", OID, "file", 1),), {}, (Out("o", OID, "file", 1),))
    assert reasons(plain, locked, same) == []
    assert [r.seen("sub") for r in reasons(
        Stage("s", ("other",), deps=(Dep("a"),), outs=(StageOut("o"),)), locked, same)] == [
        "cmd changed"]


# -- graph ---------------------------------------------------------------------------------


def test_graph_edges_follow_folders(tmp_path):
    p = load(tmp_path, {"stages": {
        "make": {"cmd": "x", "outs": ["data"]},
        "use_file": {"cmd": "x", "deps": ["data/part.csv"], "outs": ["m1"]},
        "use_parent": {"cmd": "x", "deps": ["models"], "outs": ["models/m2"]},
    }})
    with pytest.raises(PipelineError, match="own output"):
        build_graph(p)  # "models" holds use_parent's own output
    p = load(tmp_path, {"stages": {
        "make": {"cmd": "x", "outs": ["data/sub"]},
        "use_parent": {"cmd": "x", "deps": ["data"], "outs": ["m2"]},
        "use_file": {"cmd": "x", "deps": ["data/sub/part.csv"], "outs": ["m1"]},
    }})
    g = build_graph(p)
    assert g.upstream["use_parent"] == {"make"} and g.upstream["use_file"] == {"make"}
    assert g.order[0] == "make"


def _graph_by_comparing(pipeline, tracked):
    """The graph rules, each path compared with every output (the reference for build_graph).
    Returns the error message, or (upstream, order)."""
    from mlvc.paths import is_within, overlaps

    owners = []
    for stage in pipeline:
        for out in stage.outs:
            for path, other in owners:
                if path == out.path:
                    return (f"output '{path}' is declared by two stages: '{other}' and "
                            f"'{stage.name}'")
                if overlaps(path, out.path):
                    inner, outer = (path, out.path) if is_within(path, out.path) else (
                        out.path, path)
                    a, b = (other, stage.name) if inner == path else (stage.name, other)
                    return (f"outputs overlap: '{inner}' (stage '{a}') is inside '{outer}' "
                            f"(stage '{b}')")
            owners.append((out.path, stage.name))
    for pointer, path in tracked:
        for out_path, name in owners:
            if overlaps(out_path, path):
                return f"output '{out_path}' of stage '{name}' is tracked by {pointer} too"
    upstream = {s.name: set() for s in pipeline}
    for stage in pipeline:
        for dep in stage.deps:
            for out_path, owner in owners:
                if overlaps(dep.path, out_path):
                    if owner == stage.name:
                        return f"cycle: stage '{owner}' depends on its own output '{out_path}'"
                    upstream[stage.name].add(owner)
    return upstream


_graph_paths = st.lists(st.sampled_from(["a", "b", "a-b"]), min_size=1, max_size=3).map("/".join)


@given(st.lists(st.tuples(st.lists(_graph_paths, max_size=2), st.lists(_graph_paths, max_size=2)),
                min_size=1, max_size=6),
       st.lists(_graph_paths, max_size=2))
def test_build_graph_answers_as_comparing_each_path_with_every_output(shapes, tracked):
    pipeline = Pipeline({f"s{i}": Stage(f"s{i}", ("x",), deps=tuple(Dep(d) for d in deps),
                                        outs=tuple(StageOut(o) for o in outs))
                         for i, (deps, outs) in enumerate(shapes)})
    pointers = [(f"{p}.mlvc", p) for p in tracked]
    expected = _graph_by_comparing(pipeline, pointers)
    try:
        graph = build_graph(pipeline, pointers)
    except PipelineError as exc:
        if isinstance(expected, str):
            assert exc.message == expected
        else:  # only a cycle through several stages is left for the sorter to find
            assert exc.message.startswith("cycle in the pipeline: ")
        return
    assert not isinstance(expected, str)
    assert {k: set(v) for k, v in graph.upstream.items()} == expected


# -- mlvc.yaml round trips (Hypothesis) ----------------------------------------------------

stage_names = st.from_regex(r"[a-z_][a-z0-9_-]{0,8}", fullmatch=True)
safe_text = st.text(string.ascii_letters + string.digits + " ._-/=", min_size=1, max_size=30) \
    .filter(lambda t: t.strip() and t.strip() == t)


@st.composite
def stage_defs(draw):
    deps = draw(st.lists(paths, max_size=3, unique=True))
    outs = draw(st.lists(paths, max_size=3, unique=True))
    cached = {o: draw(st.booleans()) for o in outs}
    body = {"cmd": draw(st.one_of(safe_text, st.lists(safe_text, min_size=1, max_size=3)))}
    if deps:
        body["deps"] = deps
    if outs:
        body["outs"] = [o if cached[o] else {o: {"cache": False}} for o in outs]
    return body, deps, outs, cached


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(stage_names, stage_defs(), min_size=1, max_size=4))
def test_pipeline_fields_survive_loading(tmp_path_factory, defs):
    root = tmp_path_factory.mktemp("p")
    doc = {"stages": {name: body for name, (body, *_rest) in defs.items()}}
    pipeline = parse_pipeline(yaml.safe_dump(doc, sort_keys=False), root)
    assert list(pipeline.stages) == list(defs)
    for name, (body, deps, outs, cached) in defs.items():
        s = pipeline[name]
        cmd = body["cmd"]
        assert s.cmd == ((cmd,) if isinstance(cmd, str) else tuple(cmd))
        assert [d.path for d in s.deps] == deps
        assert [(o.path, o.cache) for o in s.outs] == [(o, cached[o]) for o in outs]


@settings(max_examples=200, deadline=None)
# ("\\" is left out: a backslash before ${ is the escape, tested on its own)
@given(st.text(string.printable.replace("$", "").replace("\\", ""), min_size=1, max_size=40),
       st.dictionaries(names, st.one_of(st.integers(), safe_text, st.booleans()), min_size=1))
def test_interpolation_replaces_only_what_it_names(text, context):
    from mlvc.pipeline.loader import _Bad, interpolate

    bad = _Bad("mlvc.yaml", "s")
    assert interpolate(text, context, bad, "cmd") == text  # no ${…}: unchanged
    key = sorted(context)[0]
    value = context[key]
    shown = ("true" if value else "false") if isinstance(value, bool) else str(value)
    assert interpolate(f"{text}${{{key}}}{text}", context, bad, "cmd") == f"{text}{shown}{text}"
    assert interpolate(f"${{{key}}}", context, bad, "cmd") == value  # whole: keeps its type
