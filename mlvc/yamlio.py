"""Reading YAML with errors that name the file and line.

Parsed documents are remembered by the digest of their text (see :class:`ParsedMemo`): a
command that reads only files it has read before (pointers, config, mlvc.yaml, mlvc.lock)
does not import the YAML parser, which costs 25-30 ms, a tenth of a no-op ``status``.
"""

from __future__ import annotations

import marshal
import os
import re
import sys
from pathlib import Path

import xxhash

from mlvc.errors import FormatError

_CONFLICT = re.compile(r"^<{7}(?: |$).*?^>{7}(?: |$)", re.M | re.S)


class ParsedMemo:
    """Parsed YAML documents by the xxh3-128 digest of their text, in one file.

    Only documents that parsed without error are kept, as marshal data (a document with a
    type marshal lacks, such as a date, is not kept), and each hit is loaded afresh, so
    callers may change what they get. The file holds a digest of its content: a torn or
    damaged file is ignored, like a missing one. Its entries are derived from files the
    user has, so losing it (or another process's additions) costs only parsing again.
    """

    # marshal's format may change between Python versions: another one starts afresh.
    VERSION = (1, sys.version_info[:2], marshal.version)
    MAX_ENTRIES = 4096

    def __init__(self, path: Path) -> None:
        self.path = path
        self._old: dict[bytes, bytes] | None = None
        self._used: dict[bytes, bytes] = {}
        self._added = False

    def _entries(self) -> dict[bytes, bytes]:
        if self._old is None:
            self._old = {}
            try:
                raw = self.path.read_bytes()
                body = raw[16:]
                if raw[:16] == xxhash.xxh3_128_digest(body):
                    version, entries = marshal.loads(body)
                    if version == self.VERSION and isinstance(entries, dict):
                        self._old = entries
            except (OSError, ValueError, EOFError, TypeError):
                pass
        return self._old

    def get(self, key: bytes) -> object | None:
        data = self._used.get(key) or self._entries().get(key)
        if data is None:
            return None
        self._used[key] = data
        return marshal.loads(data)

    def put(self, key: bytes, doc: object) -> None:
        try:
            self._used[key] = marshal.dumps(doc)
        except ValueError:  # a type marshal lacks (a date, say): not kept
            return
        self._added = True

    def save(self) -> None:
        """Write the file when this process parsed something new: what it used first, then
        older entries up to ``MAX_ENTRIES``. Never raises: the memo is only a shortcut."""
        if not self._added or not self.path.parent.is_dir():
            return
        entries = dict(self._used)
        for key, data in self._entries().items():
            if len(entries) >= self.MAX_ENTRIES:
                break
            entries.setdefault(key, data)
        body = marshal.dumps((self.VERSION, entries))
        tmp = self.path.with_name(f".{self.path.name}.mlvc-tmp.{os.getpid()}")
        try:
            tmp.write_bytes(xxhash.xxh3_128_digest(body) + body)
            os.replace(tmp, self.path)
        except OSError:
            try:
                tmp.unlink()
            except OSError:
                pass
            return
        self._old, self._added = entries, False


_memo: ParsedMemo | None = None


def use_memo(memo: ParsedMemo | None) -> None:
    """Remember parsed documents in ``memo`` from now on in this process (None: not at all).

    Set by the project being worked on; its entries are keyed by content, so a memo may
    answer for another project's files too."""
    global _memo
    _memo = memo


def parse_yaml(text: str, origin: str) -> object:
    if not text.strip():
        return None
    if "<<<<<<<" in text and (m := _CONFLICT.search(text)):
        line = text.count("\n", 0, m.start()) + 1
        then = f"then `git add {origin}`"
        if origin.endswith("mlvc.lock"):  # written by mlvc only: repro makes it true again
            then = (f"then `mlvc repro`, which runs again (or restores from the run cache) "
                    f"the stages the kept side does not match, and `git add {origin}`")
        raise FormatError(
            f"{origin}:{line}: unresolved git merge conflict (<<<<<<< ... >>>>>>> markers)",
            hint=f"keep one side with `git checkout --ours {origin}` (or --theirs), or edit "
                 f"the file to resolve it; {then}")
    memo = _memo
    key = xxhash.xxh3_128_digest(text.encode("utf-8", "surrogatepass")) if memo else b""
    if memo is not None and (doc := memo.get(key)) is not None:
        return doc
    import yaml  # imported on first use: an empty config file needs no parser

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        doc = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FormatError(f"{origin}{where}: invalid YAML: {problem}",
                          hint=f"fix or restore {origin}") from None
    if memo is not None and doc is not None:
        memo.put(key, doc)
    return doc


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


def _sequence_offset(text: str) -> int:
    """How far list dashes sit in from their key in ``text`` (0 as PyYAML writes, 2 as many
    people do), so that an edit keeps the file's own style."""
    lines = text.splitlines()
    for above, line in zip(lines, lines[1:]):
        key = above.split("#", 1)[0].rstrip()
        if key.endswith(":") and line.lstrip().startswith("- "):
            offset = (len(line) - len(line.lstrip())) - (len(above) - len(above.lstrip()))
            if offset >= 0:
                return offset
    return 0


def round_trip_yaml(text: str):
    """A ruamel.yaml round-trip loader/dumper set up for editing ``text`` in place:
    comments, quotes and its own list indentation kept, no line wrapping."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    offset = _sequence_offset(text)
    yaml.indent(mapping=2, sequence=offset + 2, offset=offset)
    yaml.width = 4096
    return yaml
