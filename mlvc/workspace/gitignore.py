"""Keeping ``/name`` entries for tracked outputs in the neighbouring ``.gitignore``."""

from __future__ import annotations

from pathlib import Path

from mlvc.errors import TargetError
from mlvc.fsutil import atomic_write
from mlvc.paths import RelPath, name, parent, seen_from, to_fs, typed_in

_SPECIAL = set("*?[]\\")


def escape(entry_name: str) -> str:
    """Escape one file name so that gitignore matches it literally."""
    out = "".join("\\" + c if c in _SPECIAL else c for c in entry_name)
    if out[:1] in ("#", "!"):
        out = "\\" + out
    if out.endswith(" "):
        out = out[:-1] + "\\ "
    return out


def unignorable(path: RelPath) -> str | None:
    """Why no ``.gitignore`` line can name ``path`` exactly, or None. A line break in its
    name would split the line, and the part after it would ignore other files."""
    if "\n" in name(path) or "\r" in name(path):
        return "has a line break in its name, which no .gitignore line can hold"
    return None


def check_ignorable(path: RelPath) -> None:
    """Refuse to track ``path`` when git cannot be told to ignore it (see ``unignorable``)."""
    why = unignorable(path)
    if why:
        raise TargetError(f"{path!r} {why}", hint="rename it, or track the folder it is in")


def check_writable(root: Path, path: RelPath, new: bool = True,
                   here: RelPath | None = None) -> None:
    """:func:`check_ignorable`, and refuse a ``.gitignore`` next to ``path`` that is a
    symlink (see ``_regular``): asked before anything is written. A ``new`` output may not
    be a ``.gitignore`` itself: its own ignore line would be written into it, changing it
    as soon as it is recorded. Paths in messages are as seen from the user's folder
    ``here``."""
    gi = entry_for(path)[0]  # (check_ignorable)
    if new and name(path) == ".gitignore":
        raise TargetError(f"'{seen_from(path, here)}' is a git ignore file, which mlvc writes "
                          "its own lines into: it cannot be tracked as data",
                          hint=f"git keeps it: `git add {typed_in(path, here)}`")
    _regular(root, gi, here)


def _regular(root: Path, gi: RelPath, here: RelPath | None = None) -> Path:
    """The ``.gitignore`` file ``gi``, refused when it is a symlink. Git does not read such a
    file; and read through it, a link planted by a clone (to ``~/.ssh/id_rsa``, say) would
    have its target's bytes copied into a .gitignore that the user then commits."""
    fs = to_fs(root, gi)
    if fs.is_symlink():
        raise TargetError(f"'{seen_from(gi, here)}' is a symlink: mlvc does not read or "
                          "write through it",
                          hint="make it a regular file (git does not read a .gitignore that "
                               "is a symlink either)")
    return fs


def entry_for(path: RelPath) -> tuple[RelPath, str]:
    """The ``.gitignore`` file and the line that ignore ``path``."""
    check_ignorable(path)
    folder = parent(path)
    return (f"{folder}/.gitignore" if folder else ".gitignore"), "/" + escape(name(path))


def add(root: Path, path: RelPath) -> RelPath | None:
    """Ignore ``path`` in git; return the .gitignore changed, or None if it already was.

    The file is edited as bytes: its other lines, its encoding and its line endings (CRLF
    from a Windows editor stays CRLF) are kept as they are.
    """
    changed = add_many(root, [path])
    return changed[0] if changed else None


def add_many(root: Path, paths: list[RelPath]) -> list[RelPath]:
    """:func:`add` of each path, each ``.gitignore`` read and written once (``mlvc add
    data/*.jpg`` of 10,000 files must not rewrite a growing file 10,000 times); returns the
    files changed, in the order first needed."""
    wanted: dict[RelPath, list[bytes]] = {}
    for path in paths:
        gi, line = entry_for(path)
        wanted.setdefault(gi, []).append(line.encode("utf-8"))
    files = {gi: _regular(root, gi) for gi in wanted}  # (all refused before any is written)
    changed = []
    for gi, entries in wanted.items():
        fs = files[gi]
        data = fs.read_bytes() if fs.exists() else b""
        present = set(data.splitlines())
        new = [e for e in dict.fromkeys(entries) if e not in present]
        if not new:
            continue
        nl = b"\r\n" if b"\r\n" in data else b"\n"
        if data and not data.endswith((b"\n", b"\r")):
            data += nl
        atomic_write(fs, data + b"".join(e + nl for e in new))
        changed.append(gi)
    return changed


def remove(root: Path, path: RelPath) -> RelPath | None:
    """Stop ignoring ``path``; delete the .gitignore if nothing else is left in it."""
    changed = remove_many(root, [path])
    return changed[0] if changed else None


def remove_many(root: Path, paths: list[RelPath]) -> list[RelPath]:
    """:func:`remove` of each path, each ``.gitignore`` read and written once; returns the
    files changed (or deleted), in the order first needed."""
    unwanted: dict[RelPath, set[bytes]] = {}
    for path in paths:
        gi, line = entry_for(path)
        unwanted.setdefault(gi, set()).add(line.encode("utf-8"))
    files = {gi: _regular(root, gi) for gi in unwanted}
    changed = []
    for gi, entries in unwanted.items():
        fs = files[gi]
        if not fs.exists():
            continue
        lines = fs.read_bytes().splitlines(keepends=True)
        kept = [x for x in lines if x.rstrip(b"\r\n") not in entries]
        if len(kept) == len(lines):
            continue
        if kept:
            atomic_write(fs, b"".join(kept))
        else:
            fs.unlink()
        changed.append(gi)
    return changed
