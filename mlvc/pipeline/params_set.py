"""Changing params files from the command line: ``mlvc exp run -S [FILE:]KEY=VALUE``.

The syntax is Hydra's, as in ``dvc exp run -S``: ``key=value`` changes a key that exists,
``+key=value`` adds one that does not, ``++key=value`` sets it either way and ``~key``
removes it. A dotted key walks into mappings, and a number part into a list
(``layers.0=64``). The value is read as a YAML scalar or flow collection (``0.01``,
``true``, ``null``, ``[1, 2]``, ``{a: 1}``); anything else stays a string.

YAML files are edited with ruamel.yaml's round-trip mode and TOML files with tomlkit, so
comments, order and quoting survive; JSON files are rewritten with their indentation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from mlvc.errors import FormatError, PipelineError, TargetError
from mlvc.paths import RelPath, check_inside, normalize_rel, to_fs
from mlvc.pipeline.model import DEFAULT_PARAMS

PARAMS_SUFFIXES = (".yaml", ".yml", ".json", ".toml")
_FILE_PREFIX = re.compile(r"^(?P<file>[^=]+?\.(?:ya?ml|json|toml)):(?P<rest>.*)$", re.I | re.S)
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Assignment:
    """One ``-S``: ``op`` is ``set`` (``=``), ``add`` (``+``), ``upsert`` (``++``) or
    ``delete`` (``~``); ``value`` is None for ``delete``."""

    file: RelPath
    key: str
    op: str
    value: object = None

    def __str__(self) -> str:
        sign = {"set": "", "add": "+", "upsert": "++", "delete": "~"}[self.op]
        value = "" if self.op == "delete" else "=" + _shown(self.value)
        return f"{self.file}:{sign}{self.key}{value}"


@dataclass(frozen=True, slots=True)
class ParamChange:
    file: RelPath
    key: str
    old: object  # None when it was added
    new: object  # None when it was removed
    op: str

    def to_json(self) -> dict:
        return {"file": self.file, "key": self.key, "old": self.old, "new": self.new,
                "op": self.op}


def _shown(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def parse_value(text: str) -> object:
    """``text`` as a YAML value, when it reads as a plain one (number, bool, null, list,
    mapping); else the text itself."""
    if not text.strip():
        return text
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if _plain(value) else text


def _plain(value: object) -> bool:
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False  # (a date, say: kept as the text that was typed)


def parse_assignment(text: str, default_file: str = DEFAULT_PARAMS) -> Assignment:
    """``[FILE:]KEY=VALUE``, ``[FILE:]+KEY=VALUE``, ``[FILE:]++KEY=VALUE`` or
    ``[FILE:]~KEY``. FILE is relative to the project folder (default ``params.yaml``)."""
    file, rest = default_file, text
    if m := _FILE_PREFIX.match(text):
        file, rest = m["file"], m["rest"]
    if rest.startswith("~"):
        op, rest = "delete", rest[1:]
    elif rest.startswith("++"):
        op, rest = "upsert", rest[2:]
    elif rest.startswith("+"):
        op, rest = "add", rest[1:]
    else:
        op = "set"
    key, eq, raw = rest.partition("=")
    if op == "delete" and eq:
        raise TargetError(f"-S {text!r}: `~KEY` removes a key and takes no value",
                          hint=f"write -S ~{key}")
    if op != "delete" and not eq:
        raise TargetError(f"-S {text!r}: expected KEY=VALUE",
                          hint="e.g. -S train.lr=0.01, or -S other.yaml:seed=7")
    parts = key.split(".")
    if not key or any(not p.strip() or p != p.strip() for p in parts):
        raise TargetError(f"-S {text!r}: {key!r} is not a key",
                          hint="a key is names joined by dots, e.g. train.lr")
    path = normalize_rel(file, origin="-S params file")
    if not path.lower().endswith(PARAMS_SUFFIXES):
        raise TargetError(f"-S {text!r}: {file} is not a YAML, JSON or TOML file")
    return Assignment(path, key, op, None if op == "delete" else parse_value(raw))


# -- applying ------------------------------------------------------------------------------

def _index(part: str, seq) -> int | None:
    try:
        i = int(part)
    except ValueError:
        return None
    return i if -len(seq) <= i < len(seq) else None


def _is_map(node) -> bool:
    return hasattr(node, "keys") and hasattr(node, "__setitem__")


def _is_seq(node) -> bool:
    return isinstance(node, list)


def apply_to(doc, a: Assignment) -> tuple[object, object]:
    """Change the parsed ``doc`` (a mapping) as ``a`` says: ``(old, new)``, None for a side
    that has no value. Raises PipelineError naming the key when the change does not fit."""
    parts = a.key.split(".")
    node = doc
    for depth, part in enumerate(parts[:-1]):
        child = _child(node, part)
        if child is _MISSING:
            if a.op not in ("add", "upsert") or not _is_map(node):
                raise _missing(a, ".".join(parts[:depth + 1]))
            child = node[part] = _new_map(node)
        if not (_is_map(child) or _is_seq(child)):
            raise PipelineError(f"-S {a}: {'.'.join(parts[:depth + 1])} in {a.file} is a "
                                f"value ({_shown(_plain_copy(child))}), not a section")
        node = child
    last = parts[-1]
    old = _child(node, last)
    if old is _MISSING and a.op in ("set", "delete"):
        raise _missing(a, a.key)
    if old is not _MISSING and a.op == "add":
        raise PipelineError(f"-S {a}: param '{a.key}' is already in {a.file}",
                            hint=f"to change it, write -S {a.file}:{a.key}=VALUE (or ++)")
    old_value = None if old is _MISSING else _plain_copy(old)
    if a.op == "delete":
        if _is_seq(node):
            del node[_index(last, node)]
        else:
            del node[last]
        return old_value, None
    if _is_seq(node):
        i = _index(last, node)
        if i is None:
            raise PipelineError(f"-S {a}: {last!r} is not an index of the list in {a.file}")
        node[i] = a.value
    else:
        node[last] = a.value
    return old_value, a.value


def _child(node, part: str):
    if _is_map(node):
        return node.get(part, _MISSING)
    if _is_seq(node):
        i = _index(part, node)
        return _MISSING if i is None else node[i]
    return _MISSING


def _new_map(parent):
    try:
        return type(parent)()
    except TypeError:  # (tomlkit's tables want arguments)
        import tomlkit

        return tomlkit.table()


def _missing(a: Assignment, key: str) -> PipelineError:
    hint = (f"to add it, write -S {a.file}:+{a.key}=VALUE" if a.op == "set"
            else "check the key's spelling")
    return PipelineError(f"-S {a}: param '{key}' is not in {a.file}", hint=hint)


def _plain_copy(value: object) -> object:
    """A value of a round-trip document as plain Python data (for messages and JSON)."""
    if hasattr(value, "unwrap"):  # tomlkit items
        return value.unwrap()
    if _is_map(value):
        return {str(k): _plain_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_copy(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return str(value)


def _json_indent(text: str) -> int:
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" ")
        if stripped and len(stripped) < len(line):
            return len(line) - len(stripped)
    return 2


def edit_text(text: str, origin: str, assignments: list[Assignment]
              ) -> tuple[str, list[tuple[object, object]]]:
    """The file's new text, and (old, new) per assignment, in order."""
    suffix = Path(origin).suffix.lower()
    changes: list[tuple[object, object]] = []
    if suffix == ".json":
        from mlvc.pipeline.params import parse_params

        doc = parse_params(text, origin)  # (its errors name the line; a mapping at the top)
        changes = [apply_to(doc, a) for a in assignments]
        return json.dumps(doc, indent=_json_indent(text), ensure_ascii=False) + "\n", changes
    if suffix == ".toml":
        import tomlkit

        try:
            doc = tomlkit.parse(text)
        except Exception as exc:  # noqa: BLE001 - tomlkit's parse errors have no common base
            raise FormatError(f"{origin}: invalid TOML: {exc}") from None
        for a in assignments:
            if a.op != "delete" and a.value is None:
                raise PipelineError(f"-S {a}: TOML has no null value")
            changes.append(apply_to(doc, a))
        return tomlkit.dumps(doc), changes
    from io import StringIO

    from mlvc.yamlio import parse_yaml, round_trip_yaml

    parse_yaml(text, origin)  # (its errors name the line)
    yaml = round_trip_yaml(text)
    try:
        doc = yaml.load(text) if text.strip() else None
    except Exception as exc:  # noqa: BLE001 - valid YAML that ruamel.yaml trips on
        # (`a: -_` raised IndexError in ruamel.yaml 0.18, found by Hypothesis)
        raise FormatError(f"{origin}: cannot edit: ruamel.yaml fails on it "
                          f"({type(exc).__name__}: {exc})",
                          hint=f"edit {origin} by hand") from None
    if doc is None:
        from ruamel.yaml.comments import CommentedMap

        doc = CommentedMap()
    _check_mapping(doc, origin)
    changes = [apply_to(doc, a) for a in assignments]
    out = StringIO()
    yaml.dump(doc, out)
    return out.getvalue(), changes


def checked_edit(text: str, origin: str, assignments: list[Assignment]
                 ) -> tuple[str, list[tuple[object, object]]]:
    """:func:`edit_text`, refused when the new text does not read back as exactly the old
    values with the assignments made: round-trip writers may not write every value back as
    it was (ruamel.yaml wrote ``6.431486321990042e+16`` as ``…041e+16``)."""
    from mlvc.pipeline.params import flatten, parse_params

    new_text, changes = edit_text(text, origin, assignments)
    expected = parse_params(text, origin)
    for a in assignments:
        apply_to(expected, a)
    got = flatten(parse_params(new_text, origin))
    for key, value in flatten(expected).items():
        if key not in got or not _same(got[key], value):
            raise PipelineError(
                f"-S: {origin} cannot be edited without changing '{key}' too ("
                f"{_shown(value)} would be written as {_shown(got.get(key))})",
                hint=f"edit {origin} by hand, then run `mlvc exp run` without that -S")
    if set(got) - set(flatten(expected)):
        extra = sorted(set(got) - set(flatten(expected)))[0]
        raise PipelineError(f"-S: editing {origin} would add '{extra}'",
                            hint=f"edit {origin} by hand")
    return new_text, changes


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # (NaN)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) \
        else a == b


def _check_mapping(doc, origin: str) -> None:
    if not _is_map(doc):
        raise FormatError(f"{origin}: a params file must hold a mapping at the top")


def set_params(root: Path, assignments: list[Assignment], write: bool = True
               ) -> list[ParamChange]:
    """Apply ``assignments`` to their files, each file checked whole before any is written
    (a bad key leaves every file as it was), then written atomically (unless not
    ``write``: only checked, and the changes told)."""
    from mlvc.fsutil import atomic_write

    by_file: dict[RelPath, list[Assignment]] = {}
    for a in assignments:
        by_file.setdefault(a.file, []).append(a)
    writes: list[tuple[Path, str]] = []
    changes: list[ParamChange] = []
    for file, group in by_file.items():
        check_inside(root, file)
        fs = to_fs(root, file)
        try:
            text = fs.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TargetError(f"-S: params file {file} does not exist",
                              hint="create it, or name another one: -S FILE:KEY=VALUE"
                              ) from None
        except UnicodeDecodeError:
            raise FormatError(f"{file}: not UTF-8 text") from None
        new_text, pairs = checked_edit(text, file, group)
        writes.append((fs, new_text))
        changes += [ParamChange(a.file, a.key, old, new, a.op) for a, (old, new)
                    in zip(group, pairs)]
    for fs, text in writes if write else ():
        atomic_write(fs, text)
    return changes
