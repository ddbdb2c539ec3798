"""Params files (YAML, JSON or TOML): read, flatten to dotted keys, pick what a stage declared.

A stage that declares a section (``train``) depends on every leaf below it; the lock
records leaves (``train.lr``), so a change reads as ``param train.lr 0.1 -> 0.2``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mlvc.errors import FormatError, PipelineError
from mlvc.paths import RelPath, check_inside, to_fs
from mlvc.yamlio import parse_yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

Params = dict[str, object]  # dotted key -> value (scalars and lists)


def parse_params(text: str, origin: str) -> dict:
    suffix = Path(origin).suffix.lower()
    if suffix == ".json":
        try:
            doc = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise FormatError(f"{origin}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    elif suffix == ".toml":
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise FormatError(f"{origin}: invalid TOML: {exc}") from None
    else:
        doc = parse_yaml(text, origin)
        doc = {} if doc is None else doc
    if not isinstance(doc, dict):
        raise FormatError(f"{origin}: a params file must hold a mapping at the top")
    return doc


def read_params(root: Path, path: RelPath) -> dict | None:
    """The parsed file, or None when it does not exist. One whose real location is outside
    the project (through a symlink) is refused: its values would go into mlvc.lock."""
    fs = to_fs(root, path)
    check_inside(root, path)
    try:
        text = fs.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise FormatError(f"{path}: not UTF-8 text") from None
    return parse_params(text, path)


def flatten(doc: dict, prefix: str = "") -> Params:
    out: Params = {}
    for key, value in doc.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, full + "."))
        else:
            out[full] = value
    return out


def select(doc: dict | None, file: RelPath, keys: tuple[str, ...], stage: str) -> Params:
    """The leaves of ``doc`` named by ``keys`` (a key may name a whole section)."""
    if doc is None:
        raise PipelineError(f"stage '{stage}': params file {file} does not exist",
                            hint=f"create {file}, or remove it from the stage's params")
    flat = flatten(doc)
    if not keys:
        return dict(sorted(flat.items()))
    out: Params = {}
    for key in keys:
        hits = {k: v for k, v in flat.items() if k == key or k.startswith(key + ".")}
        if not hits:
            raise PipelineError(f"stage '{stage}': param '{key}' is not in {file}",
                                hint=f"add it to {file}, or remove it from the stage's params")
        out.update(hits)
    return dict(sorted(out.items()))
