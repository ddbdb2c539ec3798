"""Load and validate ``mlvc.yaml``: stages, ``vars``, ``${...}`` interpolation, ``foreach`` and
``matrix`` expansion. Every error names the file, the stage and the field.
"""

from __future__ import annotations

import itertools
import posixpath
import re
from collections.abc import Callable
from pathlib import Path

from mlvc.errors import FormatError, PathError
from mlvc.paths import Links, RelPath, check_inside, has_reserved_part, normalize_rel, to_fs
from mlvc.pipeline.model import (
    DEFAULT_PARAMS,
    OUT_KINDS,
    PIPELINE_FILE,
    ArtifactDef,
    Dep,
    ParamRef,
    Pipeline,
    PlotDef,
    PlotProps,
    Stage,
    StageOut,
)
from mlvc.pipeline.params import read_params
from mlvc.workspace.gitignore import unignorable
from mlvc.yamlio import parse_yaml

ParamsReader = Callable[[RelPath], "dict | None"]  # a params file's document; None: no such file
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
KEY_RE = re.compile(r"^[^\s/:@]+$")  # the part after '@' of an expanded stage
VAR_RE = re.compile(r"(\\)?\$\{\s*([^}]*?)\s*\}")
STAGE_KEYS = {"cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "frozen",
              "always_changed", "desc", "vars", "meta"}
OUT_OPTIONS = {"cache", "persist", "push", "desc"}
PLOT_OPTIONS = OUT_OPTIONS | {"template", "x", "y", "x_label", "y_label", "title", "header"}


class _Bad:
    """Builds errors that say where: ``mlvc.yaml: stage 'train': deps[1]: ...``."""

    def __init__(self, origin: str, stage: str | None = None) -> None:
        self.origin = origin
        self.stage = stage

    def __call__(self, why: str, field: str | None = None) -> FormatError:
        where = self.origin
        if self.stage:
            where += f": stage '{self.stage}'"
        if field:
            where += f": {field}"
        return FormatError(f"{where}: {why}", hint=f"fix {self.origin}")


def load_pipeline(root: Path) -> Pipeline:
    """The project's pipeline; an empty one when there is no ``mlvc.yaml``."""
    fs = to_fs(root, PIPELINE_FILE)
    try:
        text = fs.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Pipeline({})
    except UnicodeDecodeError:
        raise FormatError(f"{PIPELINE_FILE}: not UTF-8 text") from None
    return parse_pipeline(text, root)


def parse_pipeline(text: str, root: Path, origin: str = PIPELINE_FILE,
                   params: ParamsReader | None = None) -> Pipeline:
    """The pipeline ``text`` defines. ``params`` reads the params files that ``vars`` (and the
    default ``params.yaml``) name: the workspace's by default; a revision's pipeline must
    read that revision's (see :class:`mlvc.ops.diff.SideView`)."""
    bad = _Bad(origin)
    doc = parse_yaml(text, origin)
    if doc is None:
        return Pipeline({})
    if not isinstance(doc, dict):
        raise bad("expected a mapping with 'stages'")
    unknown = set(doc) - {"stages", "vars", "plots", "metrics", "params", "artifacts"}
    if unknown:
        raise bad(f"unknown top-level keys {sorted(unknown)} (expected 'stages', 'vars', "
                  "'plots', 'metrics', 'params' and 'artifacts')")
    context = _global_vars(doc.get("vars"), params or _workspace_params(root), bad)
    raw_stages = doc.get("stages") or {}
    if not isinstance(raw_stages, dict):
        raise bad("'stages' must be a mapping of stage name to stage")
    stages: dict[str, Stage] = {}
    for name, raw in raw_stages.items():
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise bad(f"stage name {name!r} is not valid: use letters, digits, '_' and '-', "
                      "starting with a letter or '_'")
        for full, body, local in _expand(name, raw, context, _Bad(origin, name)):
            if full in stages:
                raise _Bad(origin, full)("defined twice")
            stages[full] = _stage(full, body, local, root, _Bad(origin, full))
    plots = _top_plots(interpolate(doc.get("plots"), context, bad, "plots"), root, bad)
    metrics, params = (_top_files(interpolate(doc.get(key), context, bad, key), key, root, bad)
                       for key in ("metrics", "params"))
    artifacts = _artifacts(interpolate(doc.get("artifacts"), context, bad, "artifacts"), root,
                           bad)
    return Pipeline(stages, plots, metrics, params, artifacts)


ARTIFACT_NAME = re.compile(r"[a-z0-9]([a-z0-9/-]*[a-z0-9])?")  # (DVC's, and a git tag's part)
ARTIFACT_KEYS = {"path", "type", "desc", "labels", "meta"}


def _artifacts(raw: object, root: Path, bad: _Bad) -> tuple[ArtifactDef, ...]:
    """The top-level ``artifacts:``: ``{name: {path, type, desc, labels, meta}}``."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise bad("must be a mapping of artifact name to {path: …}", "artifacts")
    found = []
    for name, body in raw.items():
        field = f"artifacts: {name}"
        if not isinstance(name, str) or not ARTIFACT_NAME.fullmatch(name) or "//" in name:
            raise bad("a name is lower-case letters, digits and '-' (and '/'), starting and "
                      "ending with a letter or digit", field)
        if not isinstance(body, dict) or not isinstance(body.get("path"), str):
            raise bad("must be a mapping with a path", field)
        if extra := set(body) - ARTIFACT_KEYS:
            raise bad(f"unknown keys {sorted(extra)}", field)
        texts = {k: body.get(k) for k in ("type", "desc")}
        if any(v is not None and not isinstance(v, str) for v in texts.values()):
            raise bad("type and desc must be text", field)
        labels = body.get("labels") or []
        if not isinstance(labels, list) or not all(isinstance(t, str) for t in labels):
            raise bad("labels must be a list of text", field)
        if not isinstance(body.get("meta", {}), dict):
            raise bad("meta must be a mapping", field)
        found.append(ArtifactDef(name, _path(body["path"], "", root, bad, f"{field}: path"),
                                 texts["type"], texts["desc"], tuple(labels)))
    return tuple(found)


def _top_files(raw: object, key: str, root: Path, bad: _Bad) -> tuple[RelPath, ...]:
    """The top-level ``metrics:`` or ``params:``: a list of files (from the project's top)."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(f, str) and f for f in raw):
        raise bad("must be a list of file paths", key)
    return tuple(dict.fromkeys(_path(f, "", root, bad, f"{key}[{i}]")
                               for i, f in enumerate(raw)))


# -- vars and interpolation ----------------------------------------------------------------


def _workspace_params(root: Path) -> ParamsReader:
    def read(path: RelPath) -> dict | None:
        if path == DEFAULT_PARAMS and not to_fs(root, path).is_file():
            return None  # (a folder of that name is not the default params file)
        return read_params(root, path)
    return read


def _global_vars(raw: object, read: ParamsReader, bad: _Bad) -> dict:
    context: dict = {}
    default = read(DEFAULT_PARAMS)
    if default:
        context.update(default)
    if raw is None:
        return context
    if not isinstance(raw, list):
        raise bad("must be a list of mappings or params file names", "vars")
    for i, item in enumerate(raw):
        if isinstance(item, dict):
            context.update(item)
        elif isinstance(item, str):
            file, _, keys = item.partition(":")
            try:
                path = normalize_rel(file, origin=f"vars[{i}]")
            except PathError as exc:
                raise bad(exc.message, f"vars[{i}]") from None
            doc = read(path)
            if doc is None:
                raise bad(f"{path} does not exist", f"vars[{i}]")
            if keys:
                doc = {k: doc[k] for k in keys.split(",") if k in doc}
            context.update(doc)
        else:
            raise bad("must be a mapping or a file name", f"vars[{i}]")
    return context


def lookup(context: dict, name: str, bad: _Bad, field: str) -> object:
    value: object = context
    for part in name.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise bad(f"unknown variable '{name}' in ${{{name}}}", field)
    return value


def _to_text(value: object, name: str, bad: _Bad, field: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if value is None:
        return "null"
    raise bad(f"${{{name}}} is a {type(value).__name__}; only a whole value can be one", field)


def interpolate(value: object, context: dict, bad: _Bad, field: str) -> object:
    """Replace ``${a.b}`` in every string of ``value``. A string that is only ``${x}`` takes
    x's value with its type; ``\\${x}`` stays literal."""
    if isinstance(value, str):
        whole = VAR_RE.fullmatch(value)
        if whole and not whole.group(1):
            return lookup(context, whole.group(2), bad, field)

        def sub(m: re.Match) -> str:
            if m.group(1):
                return m.group(0)[1:]
            return _to_text(lookup(context, m.group(2), bad, field), m.group(2), bad, field)

        return VAR_RE.sub(sub, value)
    if isinstance(value, list):
        return [interpolate(v, context, bad, f"{field}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {interpolate(k, context, bad, field): interpolate(v, context, bad, f"{field}.{k}")
                for k, v in value.items()}
    return value


def _expand(name: str, raw: object, context: dict, bad: _Bad):
    """Yield (stage name, body, context) for a plain stage or each copy of foreach/matrix."""
    if not isinstance(raw, dict):
        raise bad("must be a mapping with at least 'cmd'")
    if "foreach" in raw:
        if "do" not in raw or set(raw) - {"foreach", "do"}:
            raise bad("a foreach stage has exactly 'foreach' and 'do'")
        items = interpolate(raw["foreach"], context, bad, "foreach")
        if isinstance(items, list):
            pairs = [(_key(v, i), v) for i, v in enumerate(items)]
        elif isinstance(items, dict):
            pairs = [(str(k), v) for k, v in items.items()]
        else:
            raise bad("must be a list or a mapping", "foreach")
        for key, item in pairs:
            if not KEY_RE.match(key):
                raise bad(f"key {key!r} cannot be part of a stage name", "foreach")
            yield f"{name}@{key}", raw["do"], {**context, "item": item, "key": key}
        return
    if "matrix" in raw:
        matrix = interpolate(raw["matrix"], context, bad, "matrix")
        if not isinstance(matrix, dict) or not matrix or not all(
                isinstance(v, list) and v for v in matrix.values()):
            raise bad("must map names to non-empty lists", "matrix")
        body = {k: v for k, v in raw.items() if k != "matrix"}
        names = list(matrix)
        for combo in itertools.product(*(list(enumerate(matrix[n])) for n in names)):
            key = "-".join(_key(v, i) for i, v in combo)
            if not KEY_RE.match(key):
                raise bad(f"key {key!r} cannot be part of a stage name", "matrix")
            item = {n: v for n, (_, v) in zip(names, combo)}
            yield f"{name}@{key}", body, {**context, "item": item}
        return
    yield name, raw, context


def _key(value: object, index: int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return str(index)


# -- one stage -----------------------------------------------------------------------------


def _stage(name: str, raw: object, context: dict, root: Path, bad: _Bad) -> Stage:
    if not isinstance(raw, dict):
        raise bad("must be a mapping with at least 'cmd'")
    unknown = set(raw) - STAGE_KEYS
    if unknown:
        raise bad(f"unknown keys {sorted(unknown)}")
    local = raw.get("vars")
    if local is not None:
        if not isinstance(local, dict):
            raise bad("must be a mapping", "vars")
        context = {**context, **interpolate(local, context, bad, "vars")}
    body = {k: interpolate(v, context, bad, k) for k, v in raw.items() if k != "vars"}

    cmd = body.get("cmd")
    if isinstance(cmd, str) and cmd.strip():
        cmds: tuple[str, ...] = (cmd,)
    elif isinstance(cmd, list) and cmd and all(isinstance(c, str) and c.strip() for c in cmd):
        cmds = tuple(cmd)
    else:
        raise bad("must be a command, or a non-empty list of commands", "cmd")

    wdir = _path(body.get("wdir", "."), "", root, bad, "wdir", allow_root=True)

    deps = tuple(Dep(p) for p in dict.fromkeys(
        _path(d, wdir, root, bad, f"deps[{i}]") for i, d in enumerate(_list(body, "deps", bad))))
    params = _params(body.get("params"), wdir, root, bad)

    outs: list[StageOut] = []
    for kind in OUT_KINDS:
        for i, item in enumerate(_list(body, kind, bad)):
            field = f"{kind}[{i}]"
            options: dict = {}
            if isinstance(item, dict):
                if len(item) != 1:
                    raise bad("write one output per item: {path: {cache: false}}", field)
                item, options = next(iter(item.items()))
                options = options or {}
                if not isinstance(options, dict):
                    raise bad("options must be a mapping like {cache: false}", field)
                allowed = PLOT_OPTIONS if kind == "plots" else OUT_OPTIONS
                extra = set(options) - allowed
                if extra:
                    raise bad(f"unknown options {sorted(extra)}", field)
                for flag in ("cache", "persist", "push"):
                    if flag in options and not isinstance(options[flag], bool):
                        raise bad(f"'{flag}' must be true or false", field)
            path = _path(item, wdir, root, bad, field)
            # (Leading out is refused for every path; an output, which is written, may not
            # go through a symlinked folder inside the project either: see Index.load.)
            if (link := Links(root).along(posixpath.dirname(path))):
                raise bad(f"'{path}' is beyond a symbolic link ('{link}'): an output may not "
                          "go through a symlinked folder", field)
            if has_reserved_part(path):
                raise bad(f"'{path}' is inside a .git or .mlvc folder, which mlvc never "
                          "tracks", field)
            if options.get("cache", True) and (why := unignorable(path)):
                raise bad(f"{path!r} {why}", field)
            if any(o.path == path for o in outs):
                raise bad(f"'{path}' is listed twice", field)
            outs.append(StageOut(path, kind, options.get("cache", True),
                                 options.get("persist", False),
                                 _plot_props(options, bad, field) if kind == "plots" else None,
                                 options.get("push", True)))

    flags = {}
    for flag in ("frozen", "always_changed"):
        value = body.get(flag, False)
        if not isinstance(value, bool):
            raise bad("must be true or false", flag)
        flags[flag] = value
    desc = body.get("desc")
    if desc is not None and not isinstance(desc, str):
        raise bad("must be text", "desc")
    return Stage(name, cmds, wdir, deps, params, tuple(outs), desc=desc, **flags)


def _top_plots(raw: object, root: Path, bad: _Bad) -> tuple[PlotDef, ...]:
    """The top-level ``plots:``: each a path, ``{path: {options}}``, or a chart of several
    files' fields, ``{name: {y: {file: field or [fields]}, x: field or {file: field}}}``."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise bad("must be a list of plots", "plots")
    defs: list[PlotDef] = []
    for i, item in enumerate(raw):
        field = f"plots[{i}]"
        options: object = {}
        if isinstance(item, dict) and len(item) == 1:
            item, options = next(iter(item.items()))
            options = options or {}
        if not isinstance(item, str) or not item or not isinstance(options, dict):
            raise bad("write a path, or {path or name: {x: …, y: …}}", field)
        extra = set(options) - (PLOT_OPTIONS - OUT_OPTIONS)
        if extra:
            raise bad(f"unknown options {sorted(extra)}", field)
        x, y = options.get("x"), options.get("y")
        xs = _x_files(x, root, bad, field) if isinstance(x, dict) else ()
        if isinstance(y, dict):
            ys = tuple((_path(f, "", root, bad, f"{field}: y"), _fields(v, bad, field))
                       for f, v in y.items())
            if not ys:
                raise bad("'y' names no file", field)
        elif isinstance(y, list):
            ys = ((_path(item, "", root, bad, field), _fields(y, bad, field)),)
        else:
            ys = ()
        if not ys:
            item = _path(item, "", root, bad, field)
        if xs and not ys:
            raise bad("'x' by file goes with 'y' by file", field)
        props = _plot_props({k: v for k, v in options.items()
                             if not (k in ("x", "y") and isinstance(v, (dict, list)))},
                            bad, field)
        if any(d.id == item for d in defs):
            raise bad(f"'{item}' is listed twice", field)
        defs.append(PlotDef(item, props, ys, xs))
    return tuple(defs)


def _fields(value: object, bad: _Bad, field: str) -> tuple[str, ...]:
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(n, str) and n for n in names):
        raise bad("'y' of a file must be a field or a list of fields", field)
    return tuple(names)


def _x_files(value: dict, root: Path, bad: _Bad, field: str) -> tuple[tuple[RelPath, str], ...]:
    out = []
    for file, name in value.items():
        if not isinstance(name, str) or not name:
            raise bad("'x' of a file must be a field", field)
        out.append((_path(file, "", root, bad, f"{field}: x"), name))
    return tuple(out)


def _plot_props(options: dict, bad: _Bad, field: str) -> PlotProps:
    """A plot's drawing options (``template``, ``x``, ``y``, labels, ``title``, ``header``)."""
    texts = {}
    for key in ("template", "x", "y", "x_label", "y_label", "title"):
        value = options.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise bad(f"'{key}' must be text", field)
        texts[key] = value
    # (a template may be a file too: which one, drawing finds out; see plots.templates)
    header = options.get("header", True)
    if not isinstance(header, bool):
        raise bad("'header' must be true or false", field)
    return PlotProps(**texts, header=header)


def _list(body: dict, key: str, bad: _Bad) -> list:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad("must be a list", key)
    return value


def _path(value: object, wdir: RelPath, root: Path, bad: _Bad, field: str,
          allow_root: bool = False) -> RelPath:
    if not isinstance(value, str) or not value:
        raise bad("must be a path", field)
    try:
        path = normalize_rel(posixpath.join(wdir, value) if wdir else value,
                             origin=f"{PIPELINE_FILE}: {field}")
        check_inside(root, path, shown=value)
    except PathError as exc:
        raise bad(exc.message.removeprefix(f"{PIPELINE_FILE}: {field}: "), field) from None
    if not path and not allow_root:
        raise bad("points at the project folder itself", field)
    return path


def _params(raw: object, wdir: RelPath, root: Path, bad: _Bad) -> tuple[ParamRef, ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise bad("must be a list of keys, or {file: [keys]}", "params")
    default = posixpath.join(wdir, DEFAULT_PARAMS) if wdir else DEFAULT_PARAMS
    refs: dict[RelPath, list[str]] = {}
    whole: set[RelPath] = set()
    for i, item in enumerate(items):
        field = f"params[{i}]"
        if isinstance(item, str) and item:
            refs.setdefault(default, []).append(item)
        elif isinstance(item, dict):
            for file, keys in item.items():
                path = _path(file, wdir, root, bad, field)
                if keys is None or keys == []:
                    whole.add(path)
                    refs.setdefault(path, [])
                elif isinstance(keys, list) and all(isinstance(k, str) and k for k in keys):
                    refs.setdefault(path, []).extend(keys)
                else:
                    raise bad(f"keys of {file} must be a list of names", field)
        else:
            raise bad("must be a key of params.yaml, or {file: [keys]}", field)
    return tuple(ParamRef(f, () if f in whole else tuple(sorted(set(keys))))
                 for f, keys in sorted(refs.items()))
