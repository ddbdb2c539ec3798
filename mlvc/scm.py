"""The little of git that the core needs, through GitPython (imported lazily)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from mlvc.errors import ScmError

# Characters of paths per git command line: well under Linux's 2 MiB for the arguments and
# the environment together.
PATHS_PER_RUN = 100_000


def find_git_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


class Git:
    """A git work tree that contains the project (the project may be a sub-folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @cached_property
    def repo(self):
        import git

        try:
            return git.Repo(self.root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise self._not_a_repository() from exc

    def _not_a_repository(self) -> ScmError:
        return ScmError(f"{self.root} is not inside a git repository",
                        hint="run `git init` first, or use `mlvc init --no-scm`")

    def _run(self, *args: str, ok: tuple[int, ...] = (0,), stdin: bytes | None = None) -> str:
        """Run a git command in the project folder and return its output (an exit code
        not in ``ok`` is an error).

        Plain ``subprocess``: importing GitPython takes longer (60-170 ms here) than the
        commands that ``add`` needs, so it is imported only to read objects.
        """
        import subprocess

        try:
            proc = subprocess.run(["git", *args], cwd=self.root, capture_output=True,
                                  check=False, input=stdin)
        except FileNotFoundError:
            raise ScmError("git is not installed (or not on PATH)",
                           hint="install git, or use `mlvc init --no-scm`") from None
        if proc.returncode not in ok:
            if find_git_root(self.root) is None:
                raise self._not_a_repository()
            err = proc.stderr.decode(errors="replace").strip()
            verb = next((a for a in args if not a.startswith("-")), "")
            raise ScmError(f"git {verb} failed: {err or f'exit code {proc.returncode}'}")
        return proc.stdout.decode(errors="surrogateescape")

    def tracked(self, paths: list[str]) -> list[str]:
        """Which of ``paths`` (or files below them) git tracks, relative to the project."""
        out = "".join(self._run_paths(("ls-files", "-z"), paths))
        return [p for p in out.split("\0") if p]

    def tracked_like(self, pattern: str) -> list[str]:
        """The files git tracks whose paths match the pathspec ``pattern`` (``*`` crossing
        folders), relative to the project."""
        return [p for p in self._run("ls-files", "-z", "--", pattern).split("\0") if p]

    def add(self, paths: list[str]) -> None:
        self._run_paths(("add",), paths)

    def ignored(self, paths: list[str]) -> list[str]:
        """Which of ``paths`` git ignores and does not track: ``git add`` refuses them."""
        rules = self.ignore_rules(paths)
        return [p for p in paths if p in rules]

    def ignore_rules(self, paths: list[str]) -> dict[str, str]:
        """The ``.gitignore`` rule (``source:line:pattern``) that makes git ignore each of
        ``paths`` that it ignores and does not track (``git add`` refuses those)."""
        rules: dict[str, str] = {}
        if not paths:
            return rules
        given = "".join(f"{p}\0" for p in paths).encode(errors="surrogateescape")
        # (``check-ignore`` exits with 1 when it finds none; -z needs --stdin.)
        fields = self._run("check-ignore", "-v", "-z", "--stdin", ok=(0, 1),
                           stdin=given).split("\0")
        for source, line, pattern, path in zip(*[iter(fields)] * 4):
            if path and not pattern.startswith("!"):  # (a negation un-ignores it)
                rules[path] = f"{source}:{line}: {pattern}"
        return rules

    def changed_below(self, pathspecs: list[str]) -> set[str]:
        """The paths that ``git add PATHSPECS`` would stage, relative to the project: files
        below them that are untracked (and not ignored), modified or deleted. The pathspecs
        are read as git reads them on a command line (not literally)."""
        out = self._run("ls-files", "-z", "--others", "--exclude-standard", "--modified",
                        "--deleted", "--", *pathspecs)
        return {p for p in out.split("\0") if p}

    def _run_paths(self, args: tuple[str, ...], paths: list[str]) -> list[str]:
        """``git ARGS -- PATHS``, the paths taken literally (a file named ``a*`` is not a
        pattern that matches ``ab``), in as many runs as the command-line limit needs: the
        outputs of the runs."""
        outs: list[str] = []
        chunk: list[str] = []
        size = 0
        for path in paths:
            if chunk and size + len(path) > PATHS_PER_RUN:
                outs.append(self._run("--literal-pathspecs", *args, "--", *chunk))
                chunk, size = [], 0
            chunk.append(path)
            size += len(path) + 1
        if chunk:
            outs.append(self._run("--literal-pathspecs", *args, "--", *chunk))
        return outs

    # -- reading other revisions without checking them out ---------------------------------
    def revisions(self, branches: bool = False, tags: bool = False,
                  commits: bool = False) -> list[str]:
        """Commit shas: the tips of all branches (local and remote-tracking, as in
        ``git branch -a``), of all tags, or every commit."""
        shas: list[str] = []
        if commits:
            shas += self._run("rev-list", "--all").split()
        refs = (["refs/heads", "refs/remotes"] if branches else []) + (["refs/tags"] if tags else [])
        if refs:
            fmt = "%(objecttype) %(objectname) %(*objecttype) %(*objectname)"
            for line in self._run("for-each-ref", f"--format={fmt}", *refs).splitlines():
                parts = line.split()
                # A branch or light tag names a commit; an annotated tag peels to one.
                for kind, sha in zip(parts[::2], parts[1::2]):
                    if kind == "commit":
                        shas.append(sha)
        return list(dict.fromkeys(shas))

    def files_at(self, rev: str, suffix: str | tuple[str, ...]) -> list[tuple[str, str]]:
        """``(path, blob sha)`` of the files ending in ``suffix`` at ``rev``, below the project
        folder, with paths relative to it."""
        out = self._run("ls-tree", "-r", "-z", rev)
        found = []
        for record in out.split("\0"):
            if not record:
                continue
            meta, path = record.split("\t", 1)
            mode, kind, sha = meta.split()
            if kind == "blob" and path.endswith(suffix):
                found.append((path, sha))
        return found

    def top(self) -> str:
        """The top folder of the git work tree."""
        return self._run("rev-parse", "--show-toplevel").strip()

    def hooks_dir(self) -> str:
        """Where git looks for hooks (``core.hooksPath`` or ``.git/hooks``), absolute."""
        import os

        return os.path.normpath(os.path.join(self.root, self._run("rev-parse", "--git-path",
                                                                  "hooks").strip()))

    def resolve(self, rev: str) -> str | None:
        """The commit sha that ``rev`` names (a branch, tag, sha, ``HEAD~2``…), or None."""
        if rev.startswith("-"):  # (never an option of rev-parse)
            return None
        sha = self._run("rev-parse", "--verify", "-q", "--end-of-options", f"{rev}^{{commit}}",
                        ok=(0, 1, 128)).strip()
        return sha or None

    def show(self, sha: str, path: str) -> bytes | None:
        """The bytes of the file ``path`` (relative to the project) at commit ``sha``, or None
        when that commit has no such file. (In this process, through GitPython: reading the
        metrics of every commit is hundreds of reads.)"""
        try:
            entry = self.repo.commit(sha).tree / (self._prefix + path)
        except KeyError:
            return None
        return entry.data_stream.read() if entry.type == "blob" else None

    @cached_property
    def _prefix(self) -> str:
        """The project folder within the git work tree, as a path prefix ("" at its top)."""
        import os

        top = os.path.realpath(self.repo.working_tree_dir)
        rel = os.path.relpath(os.path.realpath(self.root), top)
        return "" if rel == "." else rel.replace(os.sep, "/") + "/"

    def read_blob(self, sha: str) -> bytes:
        return self.repo.odb.stream(bytes.fromhex(sha)).read()
