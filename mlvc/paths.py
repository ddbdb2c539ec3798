"""The one path representation of the core.

Inside mlvc a path is a ``str``: posix separators, relative to the project root, normalised
(no ``.``, ``..`` or empty parts), and never pointing outside the project. ``""`` is the root.
Functions here turn user and file input into that form and refuse anything that escapes.
"""

from __future__ import annotations

import os
import posixpath
import shlex
from bisect import bisect_left
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from mlvc.errors import PathError

RelPath = str

FORBIDDEN_CHARS = ("\x00",)
MLVC_DIR = ".mlvc"  # a project's own folder
RESERVED_DIRS = (MLVC_DIR, ".git")


def is_reserved(name: str) -> bool:
    """Whether the name ``name`` is ``.git`` or ``.mlvc``, in any case (as git refuses
    ``.GIT``: on a case-insensitive filesystem it is the repository's own folder). mlvc never
    records such a name, at any depth, and refuses one read from a file: a pointer or
    manifest that names ``.git/hooks/pre-commit`` would have checkout write a git hook."""
    return name[:1] == "." and name.lower() in _RESERVED


_RESERVED = frozenset(RESERVED_DIRS)


def has_reserved_part(path: RelPath) -> bool:
    """Whether a part of the project path ``path`` is reserved (see :func:`is_reserved`)."""
    return any(is_reserved(part) for part in path.split("/"))


def is_valid_name(name: str) -> bool:
    """Whether ``name`` is a single safe path component (as in a tree manifest)."""
    return (
        bool(name)
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and "\x00" not in name
    )


def unrecordable(name: str) -> str | None:
    """Why a file name (or path) cannot be recorded the same on every machine, or None.

    Manifests are UTF-8 JSON and ``\\`` separates folders on Windows (SPEC 2.1): a name that
    Linux allows but breaks either is refused where it is found, not on a colleague's pull.
    """
    if "\\" in name:
        return "it has a backslash, which Windows reads as a folder separator"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid UTF-8"
    return None


def normalize_rel(path: str, *, origin: str = "path") -> RelPath:
    """Validate a posix path recorded in a file (relative to the project root).

    Refuses absolute paths, backslashes, NUL and any ``..`` that climbs above the root.
    ``origin`` names where the path came from for the error message.
    """
    if not isinstance(path, str) or path == "":
        raise PathError(f"{origin}: empty path")
    if any(c in path for c in FORBIDDEN_CHARS):
        raise PathError(f"{origin}: path contains a NUL byte")
    if "\\" in path:
        raise PathError(f"{origin}: {path!r} uses a backslash; paths use '/'")
    if path.startswith("/") or PurePosixPath(path).is_absolute() or _has_drive(path):
        raise PathError(f"{origin}: {path!r} is absolute; paths must be relative to the project")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise PathError(f"{origin}: {path!r} points outside the project")
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def _has_drive(path: str) -> bool:
    return len(path) >= 2 and path[1] == ":" and path[0].isalpha()


def join(base: RelPath, *parts: str) -> RelPath:
    """Join relative parts onto ``base`` and normalise; refuses escapes."""
    joined = posixpath.join(base, *parts) if base else posixpath.join(*parts)
    return normalize_rel(joined)


def parent(path: RelPath) -> RelPath:
    return posixpath.dirname(path)


def name(path: RelPath) -> str:
    return posixpath.basename(path)


def is_within(path: RelPath, folder: RelPath) -> bool:
    """Whether ``path`` is ``folder`` or inside it (``""`` contains everything)."""
    return folder == "" or path == folder or path.startswith(folder + "/")


def overlaps(a: RelPath, b: RelPath) -> bool:
    return is_within(a, b) or is_within(b, a)


class Nested:
    """A set of paths that says which of them hold a path or lie inside it, without
    comparing the path with each of them (``mlvc add`` of 10,000 files asks 10,000 times)."""

    def __init__(self, paths: Iterable[RelPath]) -> None:
        self._set = set(paths)
        self._sorted = sorted(self._set)

    def holding(self, path: RelPath) -> list[RelPath]:
        """The paths that are ``path`` or contain it, outermost first."""
        parts = path.split("/") if path else []
        found = [""] if "" in self._set else []
        found += [p for i in range(1, len(parts) + 1) if (p := "/".join(parts[:i])) in self._set]
        return found

    def inside(self, path: RelPath) -> list[RelPath]:
        """The paths strictly inside ``path``, sorted."""
        if not path:
            return [p for p in self._sorted if p]
        # Everything below ``path`` sorts in [path + "/", path + "0"): '0' follows '/'.
        lo = bisect_left(self._sorted, path + "/")
        return self._sorted[lo:bisect_left(self._sorted, path + "0", lo)]

    def overlapping(self, path: RelPath) -> list[RelPath]:
        """The paths that are ``path``, hold it or lie inside it."""
        return self.holding(path) + self.inside(path)


def to_fs(root: Path, path: RelPath) -> Path:
    """The filesystem path of a project-relative path."""
    return root / path if path else root


def from_user(root: Path, arg: str | os.PathLike[str], cwd: Path | None = None) -> RelPath:
    """Turn a command-line path (relative to ``cwd``, or absolute) into a project path.

    The path is made absolute lexically, so ``..`` is resolved before symlinks are looked
    at; then the real location (following symlinks) must also stay inside the project.
    Paths inside ``.mlvc/`` or ``.git/`` are refused.
    """
    return UserPaths(root, cwd)(arg)


def folder_in(root: Path, cwd: Path | str | None = None) -> RelPath | None:
    """The current folder as a project path (``""`` at the root), or None when it is not
    inside the project (or cannot be told)."""
    try:
        here = os.path.realpath(Path.cwd() if cwd is None else cwd)
        rel = Path(here).relative_to(os.path.realpath(root)).as_posix()
    except (OSError, ValueError):
        return None
    return "" if rel == "." else rel


def seen_from(path: RelPath, here: RelPath | None) -> str:
    """The project path ``path`` as it is typed in the project folder ``here`` (see
    :func:`folder_in`): what git shows in a sub-folder (``../data``, ``.``). Unchanged at
    the root, and when ``here`` is None (outside the project)."""
    if not here:
        return path
    if path == here:
        return "."
    if is_within(path, here):
        return path[len(here) + 1:]
    ups, at = here.split("/"), path.split("/") if path else []
    common = 0
    while common < min(len(ups), len(at)) and ups[common] == at[common]:
        common += 1
    return "/".join([".."] * (len(ups) - common) + at[common:])


def typed_in(path: RelPath, here: RelPath | None) -> str:
    """``path`` as it is typed in the project folder ``here``, quoted for a shell where
    needed: for a command that a hint suggests, which then works pasted as it is."""
    import shlex

    shown = seen_from(path, here)
    return shlex.quote(f"./{shown}" if shown.startswith("-") else shown)


class UserPaths:
    """:func:`from_user` for many paths (``mlvc add data/*.jpg``): the project folder and
    the current folder are resolved once for all of them."""

    def __init__(self, root: Path, cwd: Path | None = None) -> None:
        self.root = Path(os.path.realpath(root))
        self.cwd = os.path.realpath(Path.cwd() if cwd is None else cwd)
        self.here = folder_in(self.root, self.cwd)  # for messages: see seen_from, typed_in
        self._links = Links(self.root)
        self._projects = Projects(self.root)

    def __call__(self, arg: str | os.PathLike[str]) -> RelPath:
        raw = os.fspath(arg)
        if "\x00" in raw:
            raise PathError("path contains a NUL byte")
        absolute = Path(os.path.normpath(os.path.join(self.cwd, raw)))
        try:
            rel = absolute.relative_to(self.root)
        except ValueError:
            rel = self._through_another_name(absolute)
            if rel is None:
                raise PathError(
                    f"'{raw}' is outside the project at {self.root}",
                    hint="mlvc only tracks paths inside the project folder",
                ) from None
        relpath = rel.as_posix()
        relpath = "" if relpath == "." else relpath
        why = unrecordable(relpath)
        if why:
            raise PathError(f"'{raw}' has a name that mlvc cannot record: {why}",
                            hint="rename it")
        check_inside(self.root, relpath, shown=raw, resolved=True)
        self._refuse_beyond_symlink(raw, relpath)
        self._refuse_another_project(raw, relpath)
        return relpath

    def _through_another_name(self, absolute: Path) -> Path | None:
        """``absolute`` relative to the project when it reaches the project folder by
        another name (``/tmp/proj-link/data``, where ``/tmp/proj-link`` links to the
        project, as a shell in that folder prints it); else None. The outermost folder that
        is the project counts: a link inside the project is then looked at as any other."""
        for folder in (*reversed(absolute.parents), absolute):
            if os.path.realpath(folder) == str(self.root):
                return absolute.relative_to(folder)
        return None

    def _refuse_another_project(self, raw: str, relpath: RelPath) -> None:
        """Refuse a folder that holds another mlvc project, or a path inside one (see
        :class:`Projects`)."""
        folder = self._projects.along(relpath)
        if folder is None:
            return
        inner = seen_from(folder, self.here)
        what = "is another mlvc project" if folder == relpath else \
            f"is inside another mlvc project ('{inner}')"
        where = str(self.root / folder) if self.here is None else inner
        raise PathError(f"'{raw}' {what}", hint=f"run mlvc in that project: cd {shlex.quote(where)}")

    def _refuse_beyond_symlink(self, raw: str, relpath: RelPath) -> None:
        """Refuse a path whose folders go through a symlink inside the project, as git does
        ("beyond a symbolic link"). Its pointer file and ``.gitignore`` would land in the
        real folder under a name that git refuses, and a file inside a tracked folder could
        be tracked on its own, named through a link to that folder. The path itself may be
        a symlink (to a file): only the folders above it are looked at."""
        folder = posixpath.dirname(relpath)
        link = self._links.along(folder)  # (`mlvc add data/*.jpg`: one look per folder)
        if link is None:
            return
        real = Path(os.path.realpath(self.root / folder)) / posixpath.basename(relpath)
        hint = "name it by its real path"
        try:
            hint += f": {typed_in(real.relative_to(self.root).as_posix(), self.here)}"
        except ValueError:
            pass
        raise PathError(f"'{raw}' is beyond a symbolic link ('{seen_from(link, self.here)}')",
                        hint=hint)


class _Along:
    """Which folders of the project pass ``test``, looked at once each: one look per folder
    along the paths asked about, however many paths share it."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self._seen: dict[RelPath, RelPath | None] = {"": None}

    @staticmethod
    def test(fs_path: str) -> bool:
        raise NotImplementedError

    def along(self, folder: RelPath) -> RelPath | None:
        """The first folder along the project path ``folder`` (itself included) that passes
        the test, or None. A folder that does not exist yet passes none."""
        if folder in self._seen:
            return self._seen[folder]
        found = self.along(folder.rpartition("/")[0])
        if found is None and self.test(f"{self.root}/{folder}"):
            found = folder
        self._seen[folder] = found
        return found


class Links(_Along):
    """Which folders of the project are symlinks (one ``lstat`` each). What would be made in
    a folder that does not exist yet is made inside the project."""

    test = staticmethod(os.path.islink)


class Projects(_Along):
    """Which folders of the project hold another mlvc project (made there with ``mlvc init
    --force``): that project tracks what is in them, with its own cache, and this one's
    commands leave them alone."""

    @staticmethod
    def test(fs_path: str) -> bool:
        return os.path.isdir(f"{fs_path}/{MLVC_DIR}")


def real_inside(real: str, roots: tuple[str, ...]) -> bool:
    """Whether the real path ``real`` is one of the real folders ``roots`` or inside one."""
    return any(real == r or real.startswith(r + os.sep) for r in roots)


def check_inside(root: Path, relpath: RelPath, *, shown: str | None = None,
                 resolved: bool = False) -> None:
    """Refuse a project path that is reserved or whose real location leaves the project.

    Every existing symlink along the path is followed: a link that leads outside the project
    is refused. ``resolved``: ``root`` is a real path already.
    """
    shown = relpath if shown is None else shown
    first = relpath.split("/", 1)[0]
    if is_reserved(first):
        raise PathError(f"'{shown}' is inside {first}/, which mlvc manages itself")
    if not relpath:
        return
    real = Path(os.path.realpath(root / relpath))
    root_real = root if resolved else Path(os.path.realpath(root))
    if real != root_real and root_real not in real.parents:
        raise PathError(
            f"'{shown}' leads outside the project (it resolves to {real})",
            hint="a symlink inside the project points out of it; mlvc refuses to follow it",
        )
