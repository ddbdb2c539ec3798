"""Keeping ``/name`` entries for tracked outputs in the neighbouring ``.gitignore``."""

from __future__ import annotations

from pathlib import Path

from mlvc.fsutil import atomic_write
from mlvc.paths import RelPath, name, parent, to_fs

_SPECIAL = set("*?[]\\")


def escape(entry_name: str) -> str:
    """Escape one file name so that gitignore matches it literally."""
    out = "".join("\\" + c if c in _SPECIAL else c for c in entry_name)
    if out[:1] in ("#", "!"):
        out = "\\" + out
    if out.endswith(" "):
        out = out[:-1] + "\\ "
    return out


def entry_for(path: RelPath) -> tuple[RelPath, str]:
    """The ``.gitignore`` file and the line that ignore ``path``."""
    folder = parent(path)
    return (f"{folder}/.gitignore" if folder else ".gitignore"), "/" + escape(name(path))


def add(root: Path, path: RelPath) -> RelPath | None:
    """Ignore ``path`` in git; return the .gitignore changed, or None if it already was."""
    gi, line = entry_for(path)
    fs = to_fs(root, gi)
    text = fs.read_text(encoding="utf-8") if fs.exists() else ""
    if line in text.splitlines():
        return None
    if text and not text.endswith("\n"):
        text += "\n"
    atomic_write(fs, text + line + "\n")
    return gi


def remove(root: Path, path: RelPath) -> RelPath | None:
    gi, line = entry_for(path)
    fs = to_fs(root, gi)
    if not fs.exists():
        return None
    lines = fs.read_text(encoding="utf-8").splitlines()
    kept = [x for x in lines if x != line]
    if len(kept) == len(lines):
        return None
    if kept:
        atomic_write(fs, "\n".join(kept) + "\n")
    else:
        fs.unlink()
    return gi
