"""Experiments: ``mlvc exp run/show/diff/apply/branch/remove/list/push/pull``.

An experiment is a git commit whose parent is the commit it started from (its baseline),
kept on the ref ``refs/mlvc/exps/<baseline[:2]>/<baseline[2:]>/<name>``: git shares it
(``exp push``/``exp pull`` move the refs, and the data they use through mlvc's remote), and
``git log`` reads it. The commit is made in a copy of the index, so HEAD, the index and the
work tree stay as they are: ``exp run`` leaves the experiment's results in the workspace, as
``dvc exp run`` does, and ``exp apply`` brings another one back.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlvc.errors import MlvcError, ScmError, TargetError
from mlvc.fsutil import atomic_write
from mlvc.paths import RelPath, from_user, is_within, to_fs
from mlvc.progress import NULL_PROGRESS, Progress
from mlvc.repo import Repo
from mlvc.scm import EXPS_REFS

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# Files mlvc writes or reads as part of a project: an untracked one goes into the
# experiment's commit (any other untracked file is left out, and named).
_PROJECT_FILES = ("mlvc.yaml", "mlvc.lock", ".gitignore", ".mlvcignore", "params.yaml")

_ADJECTIVES = (
    "amber", "brisk", "calm", "dapper", "eager", "fancy", "gentle", "hasty", "icy", "jolly",
    "keen", "lucid", "mellow", "nimble", "odd", "plucky", "quiet", "rapid", "shiny", "tidy",
    "upbeat", "vivid", "witty", "young", "zesty", "bold", "crisp", "deft", "fond", "grand",
    "hardy", "inky", "jazzy", "kind", "lanky", "merry", "neat", "olive", "proud", "rosy",
    "sandy", "tawny", "urban", "velvet", "wiry", "zany", "breezy", "cozy", "dusty", "famed")
_NOUNS = (
    "otter", "heron", "maple", "comet", "badger", "falcon", "lynx", "marten", "newt", "orca",
    "panda", "quail", "raven", "salmon", "tapir", "urchin", "vole", "walrus", "yak", "zebra",
    "acorn", "birch", "cedar", "delta", "ember", "fjord", "glade", "harbor", "islet", "jetty",
    "kelp", "lagoon", "meadow", "nebula", "oasis", "pebble", "quartz", "reef", "spruce", "tide",
    "umber", "valley", "willow", "canyon", "dune", "finch", "gecko", "ibis", "koala", "lemur")


@dataclass(frozen=True, slots=True)
class Experiment:
    name: str
    baseline: str  # the commit it started from (full sha)
    rev: str  # its own commit (full sha)

    @property
    def ref(self) -> str:
        return ref_of(self.baseline, self.name)

    def to_json(self) -> dict:
        return {"name": self.name, "rev": self.rev, "baseline": self.baseline, "ref": self.ref}


def ref_of(baseline: str, name: str) -> str:
    return f"{EXPS_REFS}/{baseline[:2]}/{baseline[2:]}/{name}"


def parse_ref(ref: str) -> tuple[str, str] | None:
    """``(baseline, name)`` of an experiment's ref, or None for another ref."""
    parts = ref.split("/")
    if len(parts) != 6 or "/".join(parts[:3]) != EXPS_REFS:
        return None
    baseline = parts[3] + parts[4]
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", baseline) or not NAME_RE.match(parts[5]):
        return None
    return baseline, parts[5]


def check_name(name: str) -> None:
    if not NAME_RE.match(name) or name.endswith((".lock", ".")) or ".." in name:
        raise TargetError(f"{name!r} is not a valid experiment name",
                          hint="use letters, digits, '.', '_' and '-' (no '/'), starting with "
                               "a letter or digit")


def git_of(repo: Repo):
    if repo.scm is None:
        raise ScmError("experiments are git commits, and this project has no git",
                       hint="run `git init` and commit the project first")
    return repo.scm


def _head(repo: Repo) -> str:
    head = git_of(repo).head()
    if head is None:
        raise ScmError("an experiment starts from a commit, and this repository has none",
                       hint="commit the project first (`git add -A && git commit`)")
    return head


def experiments(repo: Repo) -> list[Experiment]:
    """Every experiment of this repository, by baseline and then name."""
    found = []
    for ref, sha in git_of(repo).refs(EXPS_REFS):
        if parsed := parse_ref(ref):
            found.append(Experiment(parsed[1], parsed[0], sha))
    return sorted(found, key=lambda e: (e.baseline, e.name))


def resolve(repo: Repo, name: str, exps: list[Experiment] | None = None) -> Experiment:
    """The experiment called ``name`` (one of HEAD's first, then any baseline's), or whose
    commit sha starts with ``name`` (at least 4 digits), or whose ref is ``name``."""
    exps = experiments(repo) if exps is None else exps
    if name.startswith(EXPS_REFS + "/"):
        hits = [e for e in exps if e.ref == name]
    else:
        hits = [e for e in exps if e.name == name]
        if len(hits) > 1:
            head = git_of(repo).head()
            hits = [e for e in hits if e.baseline == head] or hits
        if not hits and len(name) >= 4 and re.fullmatch(r"[0-9a-f]+", name):
            hits = [e for e in exps if e.rev.startswith(name)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise TargetError(f"no experiment called {name!r}",
                          hint="`mlvc exp list -A` lists them all (`mlvc exp pull` brings "
                               "others' from a git remote)")
    listed = ", ".join(f"{e.name} (baseline {e.baseline[:7]}, {e.rev[:7]})" for e in hits[:5])
    raise TargetError(f"{name!r} names {len(hits)} experiments: {listed}",
                      hint="name one by its commit (the sha after it), or by its whole ref")


def new_name(taken: set[str]) -> str:
    for _ in range(100):
        name = f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}"
        if name not in taken:
            return name
    return f"exp-{secrets.token_hex(4)}"


# -- exp run --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ExpRunResult:
    experiment: Experiment | None  # None: a stage failed, or --dry; nothing was saved
    params: tuple = ()  # ParamChange of each -S
    repro: object = None  # the ReproResult
    left_out: tuple[RelPath, ...] = ()  # untracked files not in the experiment's commit
    replaced: bool = False  # -f replaced an experiment of the same name

    def to_json(self) -> dict:
        return {"experiment": self.experiment.to_json() if self.experiment else None,
                "params": [p.to_json() for p in self.params],
                "repro": self.repro.to_json() if self.repro is not None else None,
                "left_out": list(self.left_out), "replaced": self.replaced}


def exp_run(repo: Repo, targets: list[str] | None = None, *, name: str | None = None,
            set_params: list[str] = (), force: bool = False, message: str | None = None,
            cwd: Path | None = None, on_params: Callable[[list], None] = lambda c: None,
            **repro_options) -> ExpRunResult:
    """Change the params (``-S``), run ``repro`` and save the workspace as an experiment.

    Everything that can be refused is checked before the params files change: git, a
    baseline commit, the name (taken unless ``force``), the ``-S`` assignments (all files
    are edited in memory first). A failed stage saves nothing; the workspace keeps the new
    params and what ran, as it would after ``repro``."""
    from mlvc.ops.repro import repro
    from mlvc.pipeline.params_set import parse_assignment
    from mlvc.pipeline.params_set import set_params as write_params

    git_of(repo)
    baseline, name, exps = named_for(repo, name, force)
    assignments = [parse_assignment(s) for s in set_params]
    dry = repro_options.get("dry", False)
    changes = []
    if assignments:  # (with --dry, checked against the files but not written)
        changes = write_params(repo.root, assignments, write=not dry)
        if not dry:
            on_params(changes)
    result = repro(repo, list(targets or []), cwd=cwd, force=force, **repro_options)
    if dry or not result.ok:
        return ExpRunResult(None, tuple(changes), result)
    exp, left_out, replaced = _save(
        repo, baseline, name, exps, force, message, [f"-S {a}" for a in assignments],
        set(result.git_files) | {c.file for c in changes})
    return ExpRunResult(exp, tuple(changes), result, left_out, replaced)


def _save(repo: Repo, baseline: str, name: str, exps: list[Experiment], force: bool,
          message: str | None, details: list[str], wanted: set[RelPath]
          ) -> tuple[Experiment, tuple[RelPath, ...], bool]:
    """The workspace as experiment ``name`` of ``baseline``: tracked files as they are, and
    the untracked ones that are ``wanted`` or the project's own; the others are left out
    (returned). Also whether it replaced one of that name."""
    git = git_of(repo)
    untracked = git.untracked()
    extra = [p for p in untracked
             if project_file(p) or p in wanted or any(is_within(p, w) for w in wanted)]
    left_out = tuple(p for p in untracked if p not in set(extra))
    lines = [f"mlvc exp {name}", "", *details]
    if message:
        lines = [message, "", *details, f"mlvc exp {name}"]
    scratch = str(repo.tmp_dir / f"exp-index.{os.getpid()}.{secrets.token_hex(4)}")
    repo.tmp_dir.mkdir(parents=True, exist_ok=True)
    sha = git.snapshot(extra, baseline, "\n".join(lines).strip() + "\n", scratch)
    exp = Experiment(name, baseline, sha)
    replaced = any(e.baseline == baseline and e.name == name for e in exps)
    if not git.set_ref(exp.ref, sha, create_only=not force):
        raise TargetError(f"experiment {name!r} was saved by another process meanwhile; this "
                          f"run is commit {sha[:12]}",
                          hint=f"`git update-ref {ref_of(baseline, name + '-2')} {sha}` keeps "
                               "it under another name")
    return exp, left_out, replaced


def named_for(repo: Repo, name: str | None, force: bool) -> tuple[str, str, list[Experiment]]:
    """``(baseline, name, experiments)``: HEAD, and ``name`` checked (not taken on HEAD's
    baseline, unless ``force``) or made up."""
    baseline = _head(repo)
    exps = experiments(repo)
    if name is not None:
        check_name(name)
        if not force and any(e.baseline == baseline and e.name == name for e in exps):
            raise TargetError(f"experiment {name!r} exists already on baseline {baseline[:7]}",
                              hint="choose another name, or -f to replace it")
    else:
        name = new_name({e.name for e in exps})
    return baseline, name, exps


def exp_save(repo: Repo, *, name: str | None = None, force: bool = False,
             message: str | None = None, jobs: int | None = None,
             include_untracked: list[str] = (), cwd: Path | None = None,
             progress: Progress = NULL_PROGRESS) -> ExpRunResult:
    """Save the workspace as an experiment without running anything (results made by hand,
    or by `repro` before). Refused while `mlvc status` is not clean: the experiment's
    mlvc.lock and pointer files must name data the cache has, or it could not be applied.
    ``include_untracked`` (as typed in ``cwd``): untracked files, or folders of them, that
    go into the experiment too (``dvc exp save -I``); git must not ignore them."""
    from mlvc.ops.status import status

    git = git_of(repo)
    wanted: set[RelPath] = set()
    for typed in include_untracked:
        rel = from_user(repo.root, typed, cwd)
        if not rel or not os.path.lexists(to_fs(repo.root, rel)):
            raise TargetError(f"-I {typed}: no such file or folder" if rel else
                              f"-I {typed}: the whole project is not a path to include")
        if git.ignored([rel]):
            raise TargetError(f"-I {typed}: git ignores it, so it cannot go into a commit",
                              hint="data is tracked with `mlvc add`, and its pointer file "
                                   "goes into the experiment by itself")
        wanted.add(rel)
    baseline, name, exps = named_for(repo, name, force)
    now = status(repo, jobs=jobs, progress=progress)
    if not now.clean:
        what = [o.path for o in now.outs if not o.clean][:3] + [s.stage for s in now.stages][:3]
        raise MlvcError("the workspace differs from its pointer files and mlvc.lock ("
                        + ", ".join(what) + "): the experiment would record data the cache "
                        "does not have", hint="`mlvc repro` (or `mlvc commit`) first; "
                                              "`mlvc status` tells what differs")
    exp, left_out, replaced = _save(repo, baseline, name, exps, force, message, [], wanted)
    return ExpRunResult(exp, (), None, left_out, replaced)


def project_file(path: RelPath) -> bool:
    """Whether an untracked file is one of the project's own (goes into experiments)."""
    base = path.rsplit("/", 1)[-1]
    return base in _PROJECT_FILES or base.endswith(".mlvc") or path == ".mlvc/config.yaml"


# -- exp list / show --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ExpRow:
    kind: str  # workspace | baseline | experiment | queued (not run yet: `exp run --queue`)
    name: str  # "workspace", a branch name or short sha, an experiment's name
    rev: str | None  # commit sha (None: the workspace; queued: the workspace when queued)
    baseline: str | None = None  # of an experiment
    created: int | None = None  # commit time, Unix seconds
    params: dict = field(default_factory=dict)  # {file: {key: value}}
    metrics: dict = field(default_factory=dict)
    state: str | None = None  # of a queued one: queued, running or failed

    def value(self, column: tuple[str, str, str]) -> object:
        kind, file, key = column
        return getattr(self, kind).get(file, {}).get(key)

    def to_json(self) -> dict:
        doc = {"kind": self.kind, "name": self.name, "rev": self.rev,
               "baseline": self.baseline, "created": self.created,
               "params": self.params, "metrics": self.metrics}
        if self.state is not None:
            doc["state"] = self.state
        return doc


@dataclass(frozen=True, slots=True)
class ExpTable:
    rows: tuple[ExpRow, ...]
    columns: tuple[tuple[str, str, str], ...]  # (params|metrics, file, key)
    warnings: tuple[str, ...] = ()

    def to_json(self) -> list:
        return [r.to_json() for r in self.rows]


def baselines(repo: Repo, exps: list[Experiment], *, all_branches: bool = False,
              all_tags: bool = False, all_commits: bool = False, num: int = 1,
              rev: str | None = None) -> list[str]:
    """HEAD, or ``rev`` (and ``num - 1`` of its first-parent ancestors; a negative ``num``:
    all of them), the tips of the local branches, the tags' commits, or every commit that
    has experiments among ``exps`` (and HEAD)."""
    git = git_of(repo)
    head = _head(repo)
    if rev is not None:
        head = git.resolve(rev)
        if head is None:
            raise TargetError(f"unknown revision {rev!r}",
                              hint="a branch, tag or commit of this repository")
    shas = git.first_parents(head, num)
    if all_branches:
        shas += [sha for _, sha in git.refs("refs/heads")]
    if all_tags:
        shas += [sha for _, sha in git.commit_refs("refs/tags")]
    if all_commits:
        shas += [e.baseline for e in exps]
    return list(dict.fromkeys(shas))


def exp_show(repo: Repo, *, all_branches: bool = False, all_tags: bool = False,
             all_commits: bool = False, num: int = 1, rev: str | None = None,
             sort_by: str | None = None, descending: bool = False,
             only_changed: bool = False, keep: str | None = None,
             drop: str | None = None, hide: frozenset[str] = frozenset(),
             param_deps: bool = False, sha_names: bool = False) -> ExpTable:
    """The workspace, each baseline and its experiments, with their params and metrics.
    Baselines: see :func:`baselines`; each is named by its branch, else its tag, else its
    sha (``sha_names``: always its sha). ``hide``: rows left out: "workspace", "queued"
    (waiting or running), "failed". ``param_deps``: only the params stages depend on (not
    the top-level ``params:``)."""
    from mlvc.ops.diff import WORKSPACE, show_kinds
    from mlvc.ops.exp_queue import queued

    git = git_of(repo)
    exps = experiments(repo)
    waiting = [q for q in queued(repo) if q.state != "success"]
    bases = baselines(repo, exps, all_branches=all_branches, all_tags=all_tags,
                      all_commits=all_commits, num=num, rev=rev)
    names = {b: b[:7] for b in bases} if sha_names else _baseline_names(repo, bases)
    times = git.commit_times(list(dict.fromkeys([*bases, *(e.rev for e in exps)])))
    times |= {q.rev: q.queued_at // 1_000_000_000 for q in waiting}
    plan: list[tuple[str, str, str | None, str | None]] = [("workspace", WORKSPACE, None, None)]
    for base in bases:
        plan.append(("baseline", names[base], base, None))
        mine = sorted((e for e in exps if e.baseline == base),
                      key=lambda e: (-times.get(e.rev, 0), e.name))  # (newest first)
        plan += [("experiment", e.name, e.rev, base) for e in mine]
        plan += [("queued", q.name, q.rev, base) for q in waiting if q.baseline == base]
    revs = [rev or WORKSPACE for _, _, rev, _ in plan]
    params, metrics = show_kinds(repo, ("params", "metrics"), revs, param_deps=param_deps)
    by_rev = {"params": params.to_json(), "metrics": metrics.to_json()}  # {rev: {file: …}}
    states = {q.rev: q for q in waiting}
    rows = [ExpRow(kind, name, rev, base, times.get(rev) if rev else None,
                   by_rev["params"].get(rev or WORKSPACE, {}),
                   {} if kind == "queued" else by_rev["metrics"].get(rev or WORKSPACE, {}))
            for kind, name, rev, base in plan]
    rows = [_as_queued(r, states[r.rev]) if r.kind == "queued" else r for r in rows]
    rows = [r for r in rows if not (
        (r.kind == "workspace" and "workspace" in hide)
        or (r.kind == "queued" and ("failed" if r.state == "failed" else "queued") in hide))]
    every = _columns(rows)
    columns = every
    if only_changed:
        columns = [c for c in columns
                   if len({repr(r.value(c)) for r in rows if r.kind != "workspace"}) > 1]
    if drop or keep:  # (by regular expression, on KEY or FILE:KEY; --keep wins)
        dropped, kept = _pattern(drop, "--drop"), _pattern(keep, "--keep")

        def named(c: tuple[str, str, str], pattern) -> bool:
            return pattern is not None and any(
                pattern.search(n) for n in (c[2], f"{c[1]}:{c[2]}"))

        columns = [c for c in every if (c in columns and not named(c, dropped))
                   or named(c, kept)]
    if sort_by:
        rows = _sorted(rows, _column_named(columns, sort_by), descending)
    return ExpTable(tuple(rows), tuple(columns), params.warnings + metrics.warnings)


def _pattern(text: str | None, option: str) -> re.Pattern | None:
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        raise TargetError(f"{option} {text!r} is not a regular expression: {exc}") from None


def _as_queued(row: ExpRow, entry) -> ExpRow:
    """A queued experiment's row: the params of the workspace it was queued from, with its
    ``-S`` changes to the params shown (a key the row lacks is not added)."""
    from dataclasses import replace

    from mlvc.pipeline.params_set import parse_assignment

    params = {f: dict(v) for f, v in row.params.items()}
    for text in entry.set_params:
        a = parse_assignment(text)
        shown = params.get(a.file, {})
        if a.key in shown:
            if a.op == "delete":
                del shown[a.key]
            else:
                shown[a.key] = a.value
    return replace(row, params=params, state=entry.state)


def _baseline_names(repo: Repo, bases: list[str]) -> dict[str, str]:
    """Each baseline's name: its first branch, else its first tag, else its short sha."""
    git = git_of(repo)
    names = {b: b[:7] for b in bases}
    for prefix in ("refs/heads/", "refs/tags/"):
        if all(n != b[:7] for b, n in names.items()):
            break
        for ref, sha in git.commit_refs(prefix.rstrip("/")):
            if sha in names and names[sha] == sha[:7]:
                names[sha] = ref[len(prefix):]
    return names


def _columns(rows: list[ExpRow]) -> list[tuple[str, str, str]]:
    columns: dict[tuple[str, str, str], None] = {}
    for kind in ("metrics", "params"):
        for row in rows:
            for file, values in sorted(getattr(row, kind).items()):
                for key in values:
                    columns.setdefault((kind, file, key))
    return sorted(columns, key=lambda c: (c[0] != "metrics", c[1], c[2]))


def _column_named(columns: list[tuple[str, str, str]], name: str) -> tuple[str, str, str]:
    file, _, key = name.rpartition(":")
    hits = [c for c in columns if c[2] == key and (not file or c[1] == file)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise TargetError(f"--sort-by {name}: no param or metric of that name",
                          hint="name a column of `mlvc exp show` (FILE:KEY when two files "
                               "have the key)")
    raise TargetError(f"--sort-by {name}: {len(hits)} files have it: "
                      + ", ".join(c[1] for c in hits), hint=f"write FILE:{key}")


def _sorted(rows: list[ExpRow], column: tuple[str, str, str], descending: bool) -> list[ExpRow]:
    """Experiments sorted within their baseline: numbers, then other values (as text), then
    those without the value; the workspace and the baselines keep their places."""
    out: list[ExpRow] = []
    group: list[ExpRow] = []

    def flush() -> None:
        values = [(r, r.value(column)) for r in group]
        nums = [(r, v) for r, v in values
                if isinstance(v, (int, float)) and not isinstance(v, bool)]
        texts = [(r, v) for r, v in values if v is not None and (r, v) not in nums]
        nums.sort(key=lambda rv: rv[1], reverse=descending)
        texts.sort(key=lambda rv: str(rv[1]), reverse=descending)
        out.extend(r for r, _ in nums + texts)
        out.extend(r for r, v in values if v is None)
        group.clear()

    for row in rows:
        if row.kind in ("experiment", "queued"):
            group.append(row)
        else:
            flush()
            out.append(row)
    flush()
    return out


# -- exp diff --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ExpDiff:
    a: str
    b: str
    params: object  # ValuesDiff
    metrics: object

    @property
    def clean(self) -> bool:
        return self.params.clean and self.metrics.clean

    def to_json(self) -> dict:
        return {"a": self.a, "b": self.b, "params": self.params.to_json()["changes"],
                "metrics": self.metrics.to_json()["changes"]}


def rev_of(repo: Repo, name: str | None, exps: list[Experiment] | None = None) -> str | None:
    """The commit an experiment name, or a git revision, names (None: the workspace)."""
    from mlvc.ops.diff import WORKSPACE

    if name is None or name == WORKSPACE:
        return None
    try:
        return resolve(repo, name, exps).rev
    except TargetError:
        if sha := git_of(repo).resolve(name):
            return sha
        raise


def exp_diff(repo: Repo, a: str | None = None, b: str | None = None, *,
             everything: bool = False, param_deps: bool = False) -> ExpDiff:
    """Params and metrics of ``a`` (an experiment or a revision; default HEAD) against
    ``b`` (default: the workspace). ``param_deps``: only the params stages depend on."""
    from mlvc.ops.diff import diff_values

    exps = experiments(repo)
    old = rev_of(repo, a or "HEAD", exps)
    new = rev_of(repo, b, exps)
    return ExpDiff(a or "HEAD", b or "workspace",
                   diff_values(repo, "params", old, new, everything=everything,
                               param_deps=param_deps),
                   diff_values(repo, "metrics", old, new, everything=everything))


# -- exp apply ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ApplyResult:
    experiment: Experiment
    written: tuple[str, ...]  # git files (relative to the top of the work tree)
    removed: tuple[str, ...]
    checkout: object  # CheckoutResult
    head: str = ""  # HEAD's commit: when it is not the experiment's baseline, the files
    #                 changed since are as the experiment has them (the baseline's)

    def to_json(self) -> dict:
        c = self.checkout
        return {"experiment": self.experiment.to_json(), "head": self.head,
                "written": list(self.written),
                "removed": list(self.removed),
                "data": {"added": list(c.added), "modified": list(c.modified),
                         "deleted": list(c.deleted), "kept": list(c.conflicts),
                         "failed": [{"path": p, "error": e} for p, e in c.failed]}}


def exp_apply(repo: Repo, name: str, *, force: bool = False, jobs: int | None = None,
              progress: Progress = NULL_PROGRESS) -> ApplyResult:
    """Put an experiment's files in the workspace: the git-kept ones it changed against HEAD,
    then its data (``mlvc checkout``). HEAD and the index do not move: ``git commit`` keeps
    the result, ``git checkout .`` and ``mlvc checkout`` drop it.

    A file is replaced only if its content is saved somewhere: it is as HEAD, this
    experiment or another experiment of the same baseline has it (the results of the last
    ``exp run``, say). Otherwise it is the user's unsaved work: the whole apply is refused,
    naming the files, unless ``force``."""
    from mlvc.ops.checkout import checkout

    git = git_of(repo)
    head = _head(repo)
    exps = experiments(repo)
    exp = resolve(repo, name, exps)
    top = Path(git.top())
    paths = git.changed_files(head, exp.rev)
    theirs = git.entries(exp.rev, paths)
    if not force:
        saved: dict[str, set[str | None]] = {p: set() for p in paths}
        for rev in {head, exp.rev, *(e.rev for e in exps if e.baseline == exp.baseline)}:
            found = git.entries(rev, paths)
            for p in paths:
                saved[p].add(found[p][1] if p in found else None)
        now = _blobs_now(git, top, paths)
        unsaved = [p for p in paths if now.get(p) not in saved[p]]
        if unsaved:
            listed = ", ".join(unsaved[:5]) + (" …" if len(unsaved) > 5 else "")
            raise MlvcError(f"{len(unsaved)} file(s) that experiment {exp.name!r} changes have "
                            f"unsaved changes in the workspace: {listed}",
                            hint="commit or stash them (`git stash`), or -f to overwrite them")
    real_top = os.path.realpath(top)
    for p in paths:  # (as git does: never write through a symlinked folder)
        folder = os.path.realpath(os.path.dirname(top / p))
        if folder != real_top and not folder.startswith(real_top + os.sep):
            raise MlvcError(f"experiment {exp.name!r} has {p}, and a symlink in the "
                            f"workspace leads that path out of the git work tree ({folder})",
                            hint="remove or rename the symlink, then apply again")
    written, removed = [], []
    with repo.lock():
        for p in paths:
            target = top / p
            if p in theirs:
                mode, blob = theirs[p]
                data = git.read_blob(blob)
                if mode == "120000":
                    if os.path.lexists(target):
                        os.unlink(target)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(data, target)
                else:
                    if os.path.islink(target):
                        os.unlink(target)
                    atomic_write(target, data, 0o777 if mode == "100755" else 0o666)
                written.append(p)
            elif os.path.lexists(target):
                os.unlink(target)
                removed.append(p)
    result = checkout(repo, force=force, jobs=jobs, progress=progress)
    return ApplyResult(exp, tuple(written), tuple(removed), result, head)


def _blobs_now(git, top: Path, paths: list[str]) -> dict[str, str]:
    """The blob sha git would record for each of ``paths`` as the workspace has it: a file's
    content, a symlink's target text; absent paths are left out, and anything else (a
    folder where a file was) gets a name no blob has."""
    files, now = [], {}
    for p in paths:
        fs = top / p
        if os.path.islink(fs):
            text = os.fsencode(os.readlink(fs))
            now[p] = git.hash_bytes(text)
        elif os.path.isfile(fs):
            files.append(p)
        elif os.path.lexists(fs):
            now[p] = "not a file"
    now.update(zip(files, git.hash_files([str(top / p) for p in files])))
    return now


# -- exp branch / remove ---------------------------------------------------------------------

def exp_branch(repo: Repo, name: str, branch: str) -> tuple[Experiment, str]:
    """A git branch ``branch`` at the experiment's commit."""
    git = git_of(repo)
    exp = resolve(repo, name)
    ref = f"refs/heads/{branch}"
    if not git.is_branch_name(branch):
        raise TargetError(f"{branch!r} is not a valid branch name")
    if not git.set_ref(ref, exp.rev, create_only=True):
        raise TargetError(f"branch {branch!r} exists already",
                          hint="choose another name (or delete it: `git branch -D`)")
    return exp, branch


def exp_rename(repo: Repo, name: str, new_name: str, *, force: bool = False
               ) -> tuple[Experiment, Experiment]:
    """Give experiment ``name`` the name ``new_name`` (on the same baseline): the new ref is
    made first, then the old one deleted. A name taken on that baseline is refused unless
    ``force``."""
    git = git_of(repo)
    old = resolve(repo, name)
    check_name(new_name)
    new = Experiment(new_name, old.baseline, old.rev)
    if new.ref == old.ref:
        return old, new
    if not git.set_ref(new.ref, old.rev, create_only=not force):
        raise TargetError(f"experiment {new_name!r} exists already on baseline "
                          f"{old.baseline[:7]}", hint="choose another name, or -f to replace it")
    git.delete_refs([old.ref])
    return old, new


def _bases(git, rev: str | None, num: int) -> set[str] | None:
    """The baselines ``--rev`` (default HEAD) and ``-n`` choose: ``rev`` and ``num - 1`` of
    its first-parent ancestors; None when neither was given."""
    if rev is None and num <= 1:
        return None
    base = git.resolve(rev or "HEAD")
    if base is None:
        raise TargetError(f"unknown revision {rev or 'HEAD'!r}")
    return set(git.first_parents(base, num))


def select(repo: Repo, names: list[str], *, rev: str | None = None,
           all_commits: bool = False, num: int = 1) -> list[Experiment]:
    """The named experiments, those of baseline ``rev`` (and ``num - 1`` of its ancestors),
    or all of them."""
    exps = experiments(repo)
    chosen = [resolve(repo, n, exps) for n in names]
    bases = _bases(git_of(repo), rev, num)
    if bases is not None:
        chosen += [e for e in exps if e.baseline in bases]
    if all_commits:
        chosen += exps
    return list(dict.fromkeys(chosen))


def exp_remove(repo: Repo, names: list[str], *, rev: str | None = None,
               all_commits: bool = False, git_remote: str | None = None,
               num: int = 1, keep: bool = False) -> list[Experiment]:
    """Delete experiments' refs (here, or on the git remote ``git_remote``): those chosen,
    or with ``keep`` every other one (of all baselines, as ``dvc exp remove --keep``). Their
    data stays in the cache until ``mlvc gc``."""
    if not (names or rev or all_commits or num > 1):
        raise TargetError(f"name the experiments to {'keep' if keep else 'remove'}",
                          hint="or --rev REV (those of one baseline; -n N: and of N-1 "
                               "commits before it), or -A (all)")
    git = git_of(repo)
    if git_remote is not None:
        chosen = _on_remote(git, git_remote, names, rev, all_commits, num)
        if keep:
            chosen = [e for e in _remote_experiments(git, git_remote) if e not in chosen]
        git.push_refs(git_remote, [f":{e.ref}" for e in chosen])
        return chosen
    chosen = select(repo, names, rev=rev, all_commits=all_commits, num=num)
    if keep:
        chosen = [e for e in experiments(repo) if e not in chosen]
    git.delete_refs([e.ref for e in chosen])
    return chosen


def _remote_experiments(git, remote: str) -> list[Experiment]:
    found = []
    for ref, sha in git.remote_refs(remote, EXPS_REFS):
        if parsed := parse_ref(ref):
            found.append(Experiment(parsed[1], parsed[0], sha))
    return sorted(found, key=lambda e: (e.baseline, e.name))


def _on_remote(git, git_remote: str, names: list[str], rev: str | None,
               all_commits: bool, num: int = 1) -> list[Experiment]:
    """The experiments on a git remote that ``names`` (names, or commit shas of 4 hex
    digits or more), ``rev`` (a baseline; with ``num``, and its ancestors) or
    ``all_commits`` choose."""
    there = _remote_experiments(git, git_remote)
    chosen: list[Experiment] = []
    for n in names:
        sha = len(n) >= 4 and re.fullmatch(r"[0-9a-f]+", n) is not None
        hits = [e for e in there if e.name == n or (sha and e.rev.startswith(n))]
        if not hits:
            raise TargetError(f"git remote {git_remote!r} has no experiment {n!r}",
                              hint=f"`mlvc exp list {git_remote} -A` lists what it has")
        chosen += hits
    if num > 1:
        bases = _bases(git, rev, num) or set()
        chosen += [e for e in there if e.baseline in bases]
    elif rev is not None:  # (a baseline this clone may not have: by its sha's start)
        base = git.resolve(rev) or rev
        chosen += [e for e in there if e.baseline.startswith(base)]
    if all_commits:
        chosen += there
    return list(dict.fromkeys(chosen))


def exp_list(repo: Repo, git_remote: str | None = None, *, rev: str | None = None,
             all_commits: bool = False, num: int = 1) -> list[Experiment]:
    """Experiments of HEAD's baseline (or ``rev``'s; with ``num``, and of ``num - 1`` of its
    first-parent ancestors; or all), here or on a git remote."""
    git = git_of(repo)
    exps = _remote_experiments(git, git_remote) if git_remote else experiments(repo)
    if all_commits:
        return exps
    if num > 1:
        bases = _bases(git, rev, num) or set()
        return [e for e in exps if e.baseline in bases]
    base = git.resolve(rev) if rev else _head(repo)
    if base is None:
        raise TargetError(f"unknown revision {rev!r}")
    return [e for e in exps if e.baseline == base]


# -- exp push / pull -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ExpTransfer:
    experiments: tuple[Experiment, ...]
    git_remote: str
    data: object = None  # TransferResult, unless --no-cache

    def to_json(self) -> dict:
        return {"experiments": [e.to_json() for e in self.experiments],
                "git_remote": self.git_remote,
                "data": self.data.to_json() if self.data is not None else None}


def exp_push(repo: Repo, git_remote: str, names: list[str], *, rev: str | None = None,
             all_commits: bool = False, force: bool = False, cache: bool = True,
             remote: str | None = None, jobs: int | None = None, num: int = 1,
             run_cache: bool = False, progress: Progress = NULL_PROGRESS) -> ExpTransfer:
    """Send experiments' data to mlvc's remote first, then their refs to the git remote
    (so that whoever sees a ref can pull its data). ``run_cache``: with the run-cache
    records (as ``push --run-cache``)."""
    from mlvc.ops.push import push

    if not (names or rev or all_commits or num > 1):
        raise TargetError("name the experiments to push",
                          hint="or --rev REV (those of one baseline), or -A (all)")
    git = git_of(repo)
    chosen = select(repo, names, rev=rev, all_commits=all_commits, num=num)
    data = None
    if cache and chosen:
        data = push(repo, remote=remote, jobs=jobs, revs=[e.rev for e in chosen],
                    workspace=False, run_cache=run_cache, progress=progress)
        if data.failed:
            return ExpTransfer(tuple(chosen), git_remote, data)
    git.push_refs(git_remote, [f"{'+' if force else ''}{e.ref}:{e.ref}" for e in chosen])
    return ExpTransfer(tuple(chosen), git_remote, data)


def exp_pull(repo: Repo, git_remote: str, names: list[str], *, rev: str | None = None,
             all_commits: bool = False, force: bool = False, cache: bool = True,
             remote: str | None = None, jobs: int | None = None, num: int = 1,
             run_cache: bool = False, progress: Progress = NULL_PROGRESS) -> ExpTransfer:
    """Fetch experiments' refs from the git remote, then their data from mlvc's remote into
    the cache (``exp apply`` puts one in the workspace). ``run_cache``: with the remote's
    run-cache records (as ``fetch --run-cache``)."""
    from mlvc.ops.fetch import fetch

    if not (names or rev or all_commits or num > 1):
        raise TargetError("name the experiments to pull",
                          hint=f"or -A (all); `mlvc exp list {git_remote}` lists them")
    git = git_of(repo)
    chosen = _on_remote(git, git_remote, names, rev, all_commits, num)
    git.fetch_refs(git_remote, [f"{'+' if force else ''}{e.ref}:{e.ref}" for e in chosen])
    data = None
    if cache and chosen:
        data = fetch(repo, remote=remote, jobs=jobs, revs=[e.rev for e in chosen],
                     workspace=False, run_cache=run_cache, progress=progress)
    return ExpTransfer(tuple(chosen), git_remote, data)
