"""``.mlvcignore`` rules (gitignore syntax, via pathspec), in any folder of the project.

``.git`` and ``.mlvc`` are always ignored, in any case and at any depth
(``mlvc.paths.is_reserved``). A rule file applies to paths below its folder,
relative to that folder, as in git.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlvc.errors import FormatError, PathError
from mlvc.paths import RelPath, is_reserved, real_inside, to_fs

if TYPE_CHECKING:
    import pathspec

IGNORE_FILE = ".mlvcignore"


@dataclass(frozen=True, slots=True)
class IgnoreMatch:
    path: RelPath
    source: RelPath | None  # the rule file; None: .git/.mlvc, always left out
    line: int
    rule: str

    def to_json(self) -> dict:
        return {"path": self.path, "source": self.source, "line": self.line,
                "rule": self.rule}


class IgnoreRules:
    """The rules of the workspace's rule files; with ``reader`` (folder -> the text of its
    rule file, or None), of other ones: a git revision's."""

    def __init__(self, root: Path, reader: Callable[[RelPath], str | None] | None = None
                 ) -> None:
        self.root = root
        self._reader = reader
        self._specs: dict[RelPath, pathspec.PathSpec | None] = {}
        self._active: dict[RelPath, list[tuple[RelPath, pathspec.PathSpec]]] = {}

    def spec_in(self, folder: RelPath) -> pathspec.PathSpec | None:
        """The rules defined by ``folder/.mlvcignore`` (None when there are none)."""
        if folder not in self._specs:
            text = self._read(folder)
            self._specs[folder] = None if text is None else _compile(text)
        return self._specs[folder]

    def _read(self, folder: RelPath) -> str | None:
        """The text of ``folder/.mlvcignore``; None when there is none.

        A rule file that is a symlink is read only when it leads to a file inside the
        project: one leading out is refused, as a tracked symlink leading out is (git, for
        its part, does not follow a symlinked ``.gitignore`` at all).
        """
        if self._reader is not None:
            return self._reader(folder)
        fs = str(to_fs(self.root, folder) / IGNORE_FILE)
        shown = f"{folder}/{IGNORE_FILE}" if folder else IGNORE_FILE
        try:
            try:
                fd = os.open(fs, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
                real = os.path.realpath(fs)
                if not real_inside(real, (os.path.realpath(self.root),)):
                    raise PathError(f"'{shown}' is a symlink that leads outside the project "
                                    f"({real})", hint="replace the link with the file itself, "
                                    "or move the target in") from None
                fd = os.open(fs, os.O_RDONLY)
            # Bytes that are not UTF-8 decode as file names do, so a rule can name them.
            with open(fd, encoding="utf-8", errors="surrogateescape") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (IsADirectoryError, PermissionError) as exc:
            raise FormatError(f"cannot read the rule file '{shown}': "
                              f"{exc.strerror or exc}",
                              hint=f"{IGNORE_FILE} holds gitignore rules: make it a readable "
                              "text file, or remove it") from None

    def listed(self, folder: RelPath, names: Iterable[str]) -> None:
        """Tell the rules what ``folder`` holds, as just listed: a folder without a rule file
        then costs no failed open."""
        if folder not in self._specs and IGNORE_FILE not in names:
            self._specs[folder] = None

    def active_for(self, folder: RelPath) -> list[tuple[RelPath, pathspec.PathSpec]]:
        """Rule files that apply to entries of ``folder``: its own and its ancestors'.

        Each folder's answer is its parent's plus its own rule file, kept: a walk asks for
        every folder, and working out each chain again cost the square of the depth.
        The lists are shared; callers must not change them.
        """
        known = self._active.get(folder)
        if known is not None:
            return known
        pending = [folder]  # the folder and its ancestors up to one with an answer
        while pending[-1] and (up := pending[-1].rpartition("/")[0]) not in self._active:
            pending.append(up)
        top = pending[-1]
        active = self._active.get(top.rpartition("/")[0], []) if top else []
        for f in reversed(pending):
            spec = self.spec_in(f)
            if spec is not None:
                active = [*active, (f, spec)]
            self._active[f] = active
        return active

    @staticmethod
    def matches(active: list[tuple[RelPath, pathspec.PathSpec]], path: RelPath,
                is_dir: bool) -> bool:
        for base, spec in active:
            rel = path[len(base) + 1:] if base else path
            if spec.match_file(rel + "/" if is_dir else rel):
                return True
        return False

    def explain(self, path: RelPath, is_dir: bool = False) -> IgnoreMatch | None:
        """Why ``path`` is ignored (the rule that leaves it, or a folder above it, out), or
        None when it is not; as ``git check-ignore -v``."""
        hit = self._hit(path, is_dir)
        if hit is None:
            return None
        base, index = hit
        if base is None:
            return IgnoreMatch(path, None, 0, path.split("/")[0])
        line, rule = _rules(self._read(base) or "")[index]
        return IgnoreMatch(path, f"{base}/{IGNORE_FILE}" if base else IGNORE_FILE, line, rule)

    def is_ignored(self, path: RelPath, is_dir: bool = False) -> bool:
        """Whether ``path`` or any folder above it is ignored."""
        return self._hit(path, is_dir) is not None

    def _hit(self, path: RelPath, is_dir: bool) -> tuple[RelPath | None, int] | None:
        """(folder of the rule file, index of the rule among its rules) of the rule that
        ignores ``path`` or a folder above it; (None, 0) for a ``.git``/``.mlvc`` part; None
        when nothing does."""
        parts = path.split("/")
        if is_reserved(parts[0]):
            return None, 0
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            folder = "/".join(parts[: i - 1])
            for base, spec in self.active_for(folder):
                rel = sub[len(base) + 1:] if base else sub
                result = spec.check_file(rel + "/" if is_dir or i < len(parts) else rel)
                if result.include:
                    return base, result.index
        return None


def _rules(text: str) -> list[tuple[int, str]]:
    """(line number, rule) of each rule of a rule file (blank lines and comments left out)."""
    return [(n, line) for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.startswith("#")]


def _compile(text: str) -> pathspec.PathSpec | None:
    lines = [line for _, line in _rules(text)]
    if not lines:
        return None  # pathspec is imported only for files that hold rules
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)
