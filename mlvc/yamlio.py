"""Reading YAML with errors that name the file and line."""

from __future__ import annotations

import re
from pathlib import Path

from mlvc.errors import FormatError

_CONFLICT = re.compile(r"^<{7}(?: |$).*?^>{7}(?: |$)", re.M | re.S)


def parse_yaml(text: str, origin: str) -> object:
    if not text.strip():
        return None
    if "<<<<<<<" in text and (m := _CONFLICT.search(text)):
        line = text.count("\n", 0, m.start()) + 1
        raise FormatError(
            f"{origin}:{line}: unresolved git merge conflict (<<<<<<< ... >>>>>>> markers)",
            hint=f"keep one side with `git checkout --ours {origin}` (or --theirs), or edit "
                 f"the file to resolve it; then `git add {origin}`")
    import yaml  # imported on first use: an empty config file needs no parser

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FormatError(f"{origin}{where}: invalid YAML: {problem}",
                          hint=f"fix or restore {origin}") from None


def load_yaml(path: Path, origin: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"{origin}: not UTF-8 text") from None
    return parse_yaml(text, origin)


def dump_yaml(doc: object) -> str:
    import yaml

    return yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
                     sort_keys=False, allow_unicode=True, default_flow_style=False)
