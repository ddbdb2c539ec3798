"""The little of git that the core needs, through GitPython (imported lazily)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from mlvc.errors import ScmError

EXPS_REFS = "refs/mlvc/exps"  # experiments: refs/mlvc/exps/<baseline[:2]>/<baseline[2:]>/<name>
QUEUE_REFS = "refs/mlvc/queue"  # queued experiments: refs/mlvc/queue/<id>
MLVC_IDENTITY = {"GIT_AUTHOR_NAME": "mlvc", "GIT_AUTHOR_EMAIL": "mlvc@localhost",
                 "GIT_COMMITTER_NAME": "mlvc", "GIT_COMMITTER_EMAIL": "mlvc@localhost"}

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
        self._identity: dict[str, str] | None = None  # (commit_tree's, once known)

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

    def _run(self, *args: str, ok: tuple[int, ...] = (0,), stdin: bytes | None = None,
             env: dict[str, str] | None = None) -> str:
        """Run a git command in the project folder and return its output (an exit code
        not in ``ok`` is an error).

        Plain ``subprocess``: importing GitPython takes longer (60-170 ms here) than the
        commands that ``add`` needs, so it is imported only to read objects.
        """
        return self._run_bytes(*args, ok=ok, stdin=stdin, env=env).decode(
            errors="surrogateescape")

    def _run_bytes(self, *args: str, ok: tuple[int, ...] = (0,), stdin: bytes | None = None,
                   env: dict[str, str] | None = None) -> bytes:
        """:meth:`_run`'s output as git wrote it (file contents, say)."""
        import os
        import subprocess

        try:
            proc = subprocess.run(["git", *args], cwd=self.root, capture_output=True,
                                  check=False, input=stdin,
                                  env=None if env is None else {**os.environ, **env})
        except FileNotFoundError:
            raise ScmError("git is not installed (or not on PATH)",
                           hint="install git, or use `mlvc init --no-scm`") from None
        if proc.returncode not in ok:
            if find_git_root(self.root) is None:
                raise self._not_a_repository()
            err = proc.stderr.decode(errors="replace").strip()
            verb = next((a for a in args if not a.startswith("-")), "")
            raise ScmError(f"git {verb} failed: {err or f'exit code {proc.returncode}'}")
        return proc.stdout

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

    def _run_paths(self, args: tuple[str, ...], paths: list[str],
                   env: dict[str, str] | None = None) -> list[str]:
        """``git ARGS -- PATHS``, the paths taken literally (a file named ``a*`` is not a
        pattern that matches ``ab``), in as many runs as the command-line limit needs: the
        outputs of the runs."""
        outs: list[str] = []
        chunk: list[str] = []
        size = 0
        for path in paths:
            if chunk and size + len(path) > PATHS_PER_RUN:
                outs.append(self._run("--literal-pathspecs", *args, "--", *chunk, env=env))
                chunk, size = [], 0
            chunk.append(path)
            size += len(path) + 1
        if chunk:
            outs.append(self._run("--literal-pathspecs", *args, "--", *chunk, env=env))
        return outs

    # -- reading other revisions without checking them out ---------------------------------
    def revisions(self, branches: bool = False, tags: bool = False,
                  commits: bool = False, experiments: bool = False) -> list[str]:
        """Commit shas: the tips of all branches (local and remote-tracking, as in
        ``git branch -a``), of all tags, every commit, or every experiment (the refs below
        ``refs/mlvc/exps``, and the queued ones below ``refs/mlvc/queue``)."""
        shas: list[str] = []
        if commits:
            shas += self._run("rev-list", "--all").split()
        refs = ((["refs/heads", "refs/remotes"] if branches else [])
                + (["refs/tags"] if tags else [])
                + ([EXPS_REFS, QUEUE_REFS] if experiments else []))
        if refs:
            shas += [sha for _, sha in self.commit_refs(*refs)]
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

    def listed(self, rev: str | None) -> list[tuple[str, str, str, int | None]]:
        """``(path, mode, object id, size)`` of every file git holds at ``rev`` (None: in its
        index) below the project folder, paths relative to it; the index's sizes are the
        workspace files' (None for one not there). Submodules are left out."""
        import os

        found: dict[str, tuple[str, str, str, int | None]] = {}
        if rev is not None:
            for record in self._run("ls-tree", "-r", "-z", "-l", rev).split("\0"):
                if record:
                    meta, path = record.split("\t", 1)
                    mode, kind, sha, size = meta.split()
                    if kind == "blob":
                        found[path] = (path, mode, sha, int(size))
            return list(found.values())
        for record in self._run("ls-files", "-z", "-s").split("\0"):
            if record:
                meta, path = record.split("\t", 1)
                mode, sha, _ = meta.split()
                if mode != "160000" and path not in found:  # (one line per stage)
                    try:
                        size: int | None = os.lstat(self.root / path).st_size
                    except OSError:
                        size = None
                    found[path] = (path, mode, sha, size)
        return list(found.values())

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

    def resolve_many(self, revs: list[str]) -> dict[str, str | None]:
        """:meth:`resolve` of each of ``revs``, in one git process."""
        asked = [r for r in dict.fromkeys(revs) if r and "\n" not in r and not r.startswith("-")]
        found: dict[str, str | None] = dict.fromkeys(revs)
        if not asked:
            return found
        out = self._run("cat-file", "--batch-check",
                        stdin="".join(f"{r}^{{commit}}\n" for r in asked).encode())
        for rev, line in zip(asked, out.splitlines()):
            parts = line.split()
            found[rev] = parts[0] if len(parts) == 3 and parts[1] == "commit" else None
        return found

    def show_many(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], bytes | None]:
        """:meth:`show` of each (commit sha, path), in one git process."""
        found: dict[tuple[str, str], bytes | None] = {}
        asked = [p for p in dict.fromkeys(pairs) if "\n" not in p[1]]
        for pair in set(pairs) - set(asked):
            found[pair] = self.show(*pair)
        if not asked:
            return found
        names = "".join(f"{sha}:{self._prefix}{path}\n" for sha, path in asked).encode()
        out, at = self._run_bytes("cat-file", "--batch", stdin=names), 0
        for pair in asked:
            end = out.index(b"\n", at)
            header = out[at:end].split()
            at = end + 1
            if len(header) == 3 and header[2].isdigit():
                size = int(header[2])
                found[pair] = out[at:at + size] if header[1] == b"blob" else None
                at += size + 1
            else:  # "<name> missing" (or ambiguous)
                found[pair] = None
        return found

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

    # -- experiments: commits made without touching HEAD, the index or the work tree ---------
    def head(self) -> str | None:
        """The sha of HEAD's commit, or None before the first commit."""
        return self.resolve("HEAD")

    def branch(self) -> str | None:
        """The name of the branch HEAD is on, or None (detached)."""
        out = self._run("symbolic-ref", "-q", "--short", "HEAD", ok=(0, 1)).strip()
        return out or None

    def untracked(self) -> list[str]:
        """Files below the project folder that git neither tracks nor ignores (relative)."""
        out = self._run("ls-files", "-z", "--others", "--exclude-standard")
        return [p for p in out.split("\0") if p]

    def snapshot(self, extra: list[str], parent: str, message: str, scratch: str) -> str:
        """A commit, child of ``parent``, of the work tree as ``git add -u`` and then
        ``git add EXTRA`` (paths relative to the project) would stage it on top of the
        index, made in a copy of the index (``scratch``, a file path), so that the index,
        HEAD and the work tree stay as they are. Returns its sha."""
        return self.commit_tree(self.snapshot_tree(extra, parent, scratch), parent, message)

    def snapshot_tree(self, extra: list[str], parent: str, scratch: str) -> str:
        """The tree of :meth:`snapshot` (without a commit)."""
        import os
        import shutil

        index = os.path.join(self.root, self._run("rev-parse", "--git-path", "index").strip())
        env = {"GIT_INDEX_FILE": scratch}
        try:
            if os.path.exists(index):
                # copy2: with the index's mtime, which git's racy-entry check compares with
                # each entry's (a copy made now would hide a file changed in the same second
                # as the index was written, its size unchanged: `lr: 0.5` -> `lr: 0.1`).
                shutil.copy2(index, scratch)
            else:
                self._run("read-tree", parent, env=env)
            self._run("add", "-u", "--", ":/", env=env)
            if extra:
                self._run_paths(("add",), extra, env=env)
            return self._run("write-tree", env=env).strip()
        finally:
            try:
                os.unlink(scratch)
            except FileNotFoundError:
                pass

    def commit_tree(self, tree: str, parent: str, message: str) -> str:
        """A commit of ``tree`` with one parent (on no branch); returns its sha."""
        if self._identity is None:
            has = self._run("var", "GIT_COMMITTER_IDENT", ok=(0, 128)).strip()
            # (no user.name/email: commit as mlvc, not fail)
            self._identity = {} if has else dict(MLVC_IDENTITY)
        return self._run("commit-tree", tree, "-p", parent, "-F", "-",
                         stdin=message.encode(), env=self._identity).strip()

    def refs(self, prefix: str) -> list[tuple[str, str]]:
        """``(ref, commit sha)`` of the refs below ``prefix``."""
        out = self._run("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        return [tuple(line.split(" ", 1)) for line in out.splitlines() if line]

    def commit_refs(self, *prefixes: str) -> list[tuple[str, str]]:
        """``(ref, commit sha)`` of the refs below ``prefixes`` that name a commit, an
        annotated tag peeled to its commit (:meth:`refs` gives a tag object's own sha); one
        git process."""
        fmt = "%(refname) %(objecttype) %(objectname) %(*objecttype) %(*objectname)"
        found = []
        for line in self._run("for-each-ref", f"--format={fmt}", *prefixes).splitlines():
            ref, *parts = line.split()
            sha = next((s for k, s in zip(parts[::2], parts[1::2]) if k == "commit"), None)
            if sha is not None:
                found.append((ref, sha))
        return found

    def set_ref(self, ref: str, sha: str, create_only: bool = False) -> bool:
        """Point ``ref`` at ``sha``; with ``create_only``, only if ``ref`` does not exist yet
        (atomically): False when it did."""
        if not create_only:
            self._run("update-ref", ref, sha)
            return True
        # (an empty old value: "must not exist yet", whatever the repository's hash length)
        self._run("update-ref", ref, sha, "", ok=(0, 1, 128))
        return self.resolve(ref) == sha

    def messages(self, shas: list[str]) -> dict[str, str]:
        """The commit message of each of ``shas``."""
        if not shas:
            return {}
        out = self._run("log", "--no-walk=unsorted", "--format=%H%n%B%x00", *shas)
        found = {}
        for part in out.split("\0"):
            sha, _, body = part.strip("\n").partition("\n")
            if sha:
                found[sha] = body
        return found

    def add_worktree(self, path: str, head: str, files: str) -> None:
        """A new work tree at ``path`` (linked to this repository: refs are shared) whose
        HEAD is ``head`` (detached) and whose index and files are commit ``files``'s."""
        self._run("worktree", "add", "--detach", "--quiet", path, files)
        if head != files:
            self._run("-C", path, "reset", "--soft", "--quiet", head)

    def remove_worktree(self, path: str) -> None:
        """Delete a work tree made by :meth:`add_worktree`, and git's record of it."""
        import shutil

        # (unlock: a `worktree add` interrupted part way leaves its work tree locked and
        # not whole; remove refuses it, and prune keeps a locked one for ever)
        self._run("worktree", "unlock", path, ok=(0, 128))
        self._run("worktree", "remove", "--force", "--force", path, ok=(0, 128))
        shutil.rmtree(path, ignore_errors=True)
        self.prune_worktrees()

    def prune_worktrees(self) -> None:
        """Forget the work trees whose folders are gone."""
        self._run("worktree", "prune")

    def create_refs(self, pairs: list[tuple[str, str]]) -> None:
        """Make each ``(ref, sha)``, in one transaction: none is made if one exists."""
        if pairs:
            stdin = "".join(f"create {r} {sha}\n" for r, sha in pairs).encode()
            self._run("update-ref", "--stdin", stdin=stdin)

    def delete_refs(self, refs: list[str]) -> None:
        if refs:
            stdin = "".join(f"delete {r}\n" for r in refs).encode()
            self._run("update-ref", "--stdin", stdin=stdin)

    def commit_times(self, shas: list[str]) -> dict[str, int]:
        """The committer time (Unix seconds) of each commit."""
        if not shas:
            return {}
        out = self._run("log", "--no-walk=unsorted", "--format=%H %ct", *shas)
        return {sha: int(t) for sha, t in (line.split() for line in out.splitlines() if line)}

    def first_parents(self, sha: str, count: int) -> list[str]:
        """``sha`` and its first-parent ancestors, ``count`` in all at most."""
        return self._run("rev-list", "--first-parent", f"--max-count={count}", sha).split()

    def commits_since(self, when: float) -> list[str]:
        """Every commit of every ref committed at ``when`` (Unix seconds) or later. (Not
        git's ``--since``, which takes a date it cannot read, as 2200-01-01, for none.)"""
        out = self._run("rev-list", "--all", "--timestamp").split()
        return [sha for t, sha in zip(out[::2], out[1::2]) if int(t) >= when]

    def changed_files(self, a: str, b: str) -> list[str]:
        """The files (paths relative to the top of the work tree) that differ between the
        commits ``a`` and ``b``, renames counted as a deletion and an addition."""
        out = self._run("diff-tree", "-r", "-z", "--no-renames", "--name-only", a, b)
        return [p for p in out.split("\0") if p]

    def entries(self, sha: str, paths: list[str]) -> dict[str, tuple[str, str]]:
        """``{path: (mode, blob sha)}`` of the files among ``paths`` (relative to the top of
        the work tree) in commit ``sha``."""
        found: dict[str, tuple[str, str]] = {}
        for out in self._run_paths(("ls-tree", "-z", "--full-tree", sha), paths):
            for record in out.split("\0"):
                if record:
                    meta, path = record.split("\t", 1)
                    mode, kind, blob = meta.split()
                    if kind == "blob":
                        found[path] = (mode, blob)
        return found

    def hash_files(self, paths: list[str]) -> list[str]:
        """The blob sha ``git add`` would give each file (absolute paths)."""
        if not paths:
            return []
        stdin = "".join(f"{p}\n" for p in paths).encode(errors="surrogateescape")
        return self._run("hash-object", "--stdin-paths", stdin=stdin).split()

    def hash_bytes(self, data: bytes) -> str:
        """The blob sha of ``data`` (a symlink's target text, say)."""
        return self._run("hash-object", "--stdin", stdin=data).strip()

    def is_branch_name(self, name: str) -> bool:
        return not name.startswith("-") and bool(
            self._run("check-ref-format", "--branch", name, ok=(0, 1, 128)).strip())

    def remote_refs(self, remote: str, prefix: str) -> list[tuple[str, str]]:
        """``(ref, sha)`` of the refs below ``prefix`` on the git remote ``remote``."""
        out = self._run("ls-remote", "--refs", "--", remote, f"{prefix}/*")
        return [(ref, sha) for sha, ref in (line.split("\t", 1)
                                            for line in out.splitlines() if line)]

    def push_refs(self, remote: str, refspecs: list[str]) -> None:
        if refspecs:
            self._run("push", "--", remote, *refspecs)

    def fetch_refs(self, remote: str, refspecs: list[str]) -> None:
        if refspecs:
            self._run("fetch", "--no-tags", "--", remote, *refspecs)
