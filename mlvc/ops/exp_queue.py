"""Queued and temporary experiments: ``mlvc exp run --queue/--temp`` and ``mlvc queue``.

A queued experiment is the workspace as it was when queued (a commit whose parent is HEAD,
made as ``exp run`` saves one) on the ref ``refs/mlvc/queue/<id>``; the commit's message
holds what to run (the ``-S`` changes, the name, the targets and repro's options) as JSON.
Running one happens in a temporary copy of the project: a git work tree in
``.mlvc/tmp/exps/<id>`` whose HEAD is the baseline and whose files are the queued snapshot,
sharing this project's cache (and with it the run cache). There the ordinary
``mlvc checkout`` and ``mlvc exp run`` make the experiment, whose ref git shares between work
trees. The workspace is never touched: several run at once (``-j``), and work goes on
meanwhile. Each run's output goes to ``.mlvc/tmp/queue/<id>.log``; its outcome to
``<id>.json`` beside it, and a run in progress holds ``<id>.running`` (its process id).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path

from mlvc.errors import MlvcError, TargetError
from mlvc.fsutil import atomic_write
from mlvc.ops.exp import (
    Experiment,
    check_name,
    experiments,
    git_of,
    named_for,
    new_name,
    project_file,
    ref_of,
)
from mlvc.paths import RelPath, check_inside, from_user, is_within, normalize_rel, to_fs
from mlvc.procs import SIGNALLED_BY_GROUP, Commands, signal_group
from mlvc.repo import Repo
from mlvc.scm import QUEUE_REFS

SUBJECT = "mlvc queued experiment"
# repro options a queued run passes on to `mlvc exp run` (its flags, by option name)
RUN_FLAGS = {"single_item": "--single-item", "downstream": "--downstream",
             "keep_going": "--keep-going", "pull": "--pull",
             "allow_missing": "--allow-missing", "force_downstream": "--force-downstream",
             "whole_pipelines": "--pipeline", "glob": "--glob", "recursive": "--recursive"}
STATES = ("queued", "running", "success", "failed")
INTERRUPTED = (130, -2)  # exit codes of a run stopped by Ctrl-C (SIGINT)
STOP_GRACE = 10.0  # seconds `queue stop` gives a worker to end its runs, before killing it
WORKER_LOGS = 5  # logs of detached workers kept (.mlvc/tmp/queue/worker.<pid>.log)


@dataclass(frozen=True, slots=True)
class Queued:
    id: str
    name: str
    baseline: str  # HEAD when queued: the experiment's parent
    rev: str  # the workspace when queued (a commit, child of baseline)
    set_params: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    message: str | None = None
    force: bool = False
    jobs: int = 1
    no_run_cache: bool = False
    flags: tuple[str, ...] = ()  # the keys of RUN_FLAGS given
    queued_at: int = 0  # nanoseconds since the epoch (entries queued together: in order)
    state: str = "queued"  # one of STATES
    returncode: int | None = None  # of a finished run
    experiment: str | None = None  # the experiment's commit, after a success
    # untracked or ignored files and folders copied from the workspace into the run's
    # temporary copy when it starts (`-C`): never in the snapshot, nor the experiment
    copy_paths: tuple[RelPath, ...] = ()

    @property
    def ref(self) -> str:
        return f"{QUEUE_REFS}/{self.id}"

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "baseline": self.baseline, "rev": self.rev,
                "set_params": list(self.set_params), "targets": list(self.targets),
                "message": self.message, "state": self.state, "queued_at": self.queued_at,
                "returncode": self.returncode, "experiment": self.experiment,
                "copy_paths": list(self.copy_paths)}

    def _spec(self) -> dict:
        """What the snapshot's commit message keeps."""
        return {"name": self.name, "baseline": self.baseline, "set_params": list(self.set_params),
                "targets": list(self.targets), "message": self.message, "force": self.force,
                "jobs": self.jobs, "no_run_cache": self.no_run_cache, "flags": list(self.flags),
                "queued_at": self.queued_at, "copy_paths": list(self.copy_paths)}


# -- sweeps ----------------------------------------------------------------------------------

_SWEEP_KEY = re.compile(r"^(?P<head>(?:[^=:]+:)?\+{0,2}[^=~+][^=]*=)(?P<value>.*)$", re.S)
_RANGE = re.compile(r"^range\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*(?:,\s*([^,()]+?)\s*)?\)$")


def split_choices(value: str) -> list[str]:
    """The comma-separated choices of a sweep value, cut only at commas outside brackets,
    braces, parentheses and quotes (``[1,2]`` is one list; ``"a,b"`` one string)."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(value):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return [p.strip() for p in parts]


def _range_choices(value: str) -> list[str] | None:
    """``range(start, stop[, step])`` as its values (stop excluded), or None."""
    m = _RANGE.match(value.strip())
    if not m:
        return None
    try:
        nums = [float(x) if re.search(r"[.eE]", x) else int(x) for x in m.groups() if x]
    except ValueError:
        raise TargetError(f"-S …={value}: range() takes numbers") from None
    start, stop, step = nums[0], nums[1], nums[2] if len(nums) > 2 else 1
    if step == 0:
        raise TargetError(f"-S …={value}: the step of range() must not be 0")
    values = []
    while len(values) <= 1000:
        v = start + len(values) * step
        if (v >= stop) if step > 0 else (v <= stop):
            return [str(round(v, 12)) if isinstance(v, float) else str(v) for v in values]
        values.append(v)
    raise TargetError(f"-S …={value}: range() of more than 1000 values")


def expand_sweeps(set_params: list[str]) -> list[list[str]]:
    """Every combination of the choices in ``set_params``: ``-S lr=0.1,0.2 -S seed=1,2``
    is four experiments. A value is choices when it has a top-level comma or is
    ``range(start, stop[, step])``; ``~KEY`` has none."""
    options: list[list[str]] = []
    for text in set_params:
        m = _SWEEP_KEY.match(text)
        if not m or text.lstrip().startswith("~"):
            options.append([text])
            continue
        value = m["value"]
        choices = _range_choices(value) or split_choices(value)
        if len(choices) > 1 and any(c == "" for c in choices):
            raise TargetError(f"-S {text!r}: an empty choice between commas",
                              hint="quote a value that holds a comma: -S 'key=\"a,b\"'")
        options.append([m["head"] + c for c in choices])
    combos = [list(c) for c in itertools.product(*options)]
    if len(combos) > 1000:
        raise TargetError(f"the -S choices make {len(combos)} experiments (at most 1000)")
    return combos


# -- the queue -------------------------------------------------------------------------------

def _dir(repo: Repo) -> Path:
    return repo.tmp_dir / "queue"


def _sidecar(repo: Repo, entry_id: str, kind: str) -> Path:
    return _dir(repo) / f"{entry_id}.{kind}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def queued(repo: Repo) -> list[Queued]:
    """Every queued experiment, oldest first, with its state."""
    git = git_of(repo)
    refs = [(ref.rsplit("/", 1)[-1], sha) for ref, sha in git.refs(QUEUE_REFS)]
    messages = git.messages([sha for _, sha in refs])
    found = []
    for entry_id, sha in refs:
        body = messages.get(sha, "")
        try:
            spec = json.loads(body.split("\n\n", 1)[1])
            entry = Queued(entry_id, spec["name"], spec["baseline"], sha,
                           tuple(spec["set_params"]), tuple(spec["targets"]), spec["message"],
                           bool(spec["force"]), int(spec["jobs"]), bool(spec["no_run_cache"]),
                           tuple(f for f in spec["flags"] if f in RUN_FLAGS),
                           int(spec["queued_at"]),
                           copy_paths=tuple(_copy_path(p) for p in spec.get("copy_paths", ())))
        except (IndexError, ValueError, KeyError, TypeError):
            continue  # (not a queue entry mlvc made: left alone)
        found.append(_with_state(repo, entry))
    return sorted(found, key=lambda e: (e.queued_at, e.id))


def _with_state(repo: Repo, entry: Queued) -> Queued:
    """``entry`` as its files say it is now (whatever ``entry.state`` said)."""
    entry = replace(entry, state="queued", returncode=None, experiment=None)
    running = _sidecar(repo, entry.id, "running")
    try:
        pid = int(running.read_text() or 0)
    except (FileNotFoundError, ValueError):
        pid = None
    if pid is not None and _pid_alive(pid):
        return replace(entry, state="running")
    try:
        done = json.loads(_sidecar(repo, entry.id, "json").read_text())
        return replace(entry, state=done["state"], returncode=done.get("returncode"),
                       experiment=done.get("experiment"))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return entry


@dataclass(frozen=True, slots=True)
class QueueResult:
    entries: tuple[Queued, ...]
    left_out: tuple[RelPath, ...] = ()  # untracked files not in the snapshot

    def to_json(self) -> dict:
        return {"queued": [e.to_json() for e in self.entries], "left_out": list(self.left_out)}


def queue(repo: Repo, targets: list[str] | None = None, *, name: str | None = None,
          set_params: list[str] = (), force: bool = False, message: str | None = None,
          jobs: int = 1, no_run_cache: bool = False, flags: tuple[str, ...] = (),
          copy_paths: list[str] = (), cwd: Path | None = None) -> QueueResult:
    """Queue experiments: one, or one per combination of the ``-S`` choices (named
    ``NAME-1``, ``NAME-2``… when ``name`` is given). Each ``-S`` is checked against the
    params files now; nothing in the workspace changes. ``copy_paths`` (as typed in
    ``cwd``): untracked or ignored files or folders each run gets a copy of, as they are in
    the workspace when it starts."""
    from mlvc.pipeline.params_set import parse_assignment
    from mlvc.pipeline.params_set import set_params as check_params

    git = git_of(repo)
    combos = expand_sweeps(list(set_params))
    for combo in combos:  # every combination must apply to the files as they are now
        check_params(repo.root, [parse_assignment(s) for s in combo], write=False)
    baseline, first, exps = named_for(repo, name if len(combos) == 1 else None, force)
    taken = {e.name for e in queued(repo) if e.baseline == baseline and e.state != "failed"}
    taken |= {e.name for e in exps if e.baseline == baseline and not force}
    names = _queue_names(name, len(combos), first, taken, {e.name for e in exps})
    copied = _copy_paths(repo, git, copy_paths, cwd)
    untracked = git.untracked()
    edited = {parse_assignment(s).file for combo in combos for s in combo}
    extra = [p for p in untracked if project_file(p) or p in edited]
    left_out = tuple(p for p in untracked if p not in set(extra)
                     and not any(is_within(p, c) for c in copied))
    repo.tmp_dir.mkdir(parents=True, exist_ok=True)
    scratch = str(repo.tmp_dir / f"queue-index.{os.getpid()}.{secrets.token_hex(4)}")
    tree = git.snapshot_tree(extra, baseline, scratch)  # (the same for every entry)
    entries = []
    now = time.time_ns()
    for i, (combo, exp_name) in enumerate(zip(combos, names)):
        entry = Queued(secrets.token_hex(6), exp_name, baseline, "", tuple(combo),
                       tuple(targets or ()), message, force, jobs, no_run_cache,
                       tuple(f for f in flags if f in RUN_FLAGS), now + i,
                       copy_paths=copied)
        body = f"{SUBJECT} {exp_name}\n\n{json.dumps(entry._spec(), indent=1)}\n"
        entries.append(replace(entry, rev=git.commit_tree(tree, baseline, body)))
    git.create_refs([(e.ref, e.rev) for e in entries])  # (all or none)
    return QueueResult(tuple(entries), left_out)


def _copy_path(path: str) -> RelPath:
    """A ``copy_paths`` entry read back from a snapshot's message: a path in the project
    (a message edited to lead out is refused)."""
    try:
        rel = normalize_rel(path)
    except MlvcError:
        rel = ""
    if not rel:
        raise ValueError(path)  # (so the entry is not one mlvc made: left alone)
    return rel


def _copy_paths(repo: Repo, git, paths: list[str], cwd: Path | None) -> tuple[RelPath, ...]:
    """``-C`` paths as project paths: each must exist and be one git does not track (a file
    git tracks is in the snapshot already, as it was when queued)."""
    found: list[RelPath] = []
    for typed in paths:
        rel = from_user(repo.root, typed, cwd)
        if not rel:
            raise TargetError(f"-C {typed}: the project itself is not copied",
                              hint="name the files or folders a run needs")
        check_inside(repo.root, rel, shown=typed)
        if not os.path.lexists(to_fs(repo.root, rel)):
            raise TargetError(f"-C {typed}: no such file or folder")
        if git.tracked([rel]):
            raise TargetError(f"-C {typed}: git tracks it, so it is in the experiment already",
                              hint="-C is for files git does not track (ignored or new)")
        found.append(rel)
    return tuple(dict.fromkeys(found))


def _copy_in(repo: Repo, project: Path, paths: tuple[RelPath, ...]) -> list[str]:
    """Copy ``paths`` from the workspace into a run's temporary ``project``; what could not
    be copied (gone since it was queued, unreadable) is returned, for the log."""
    import shutil

    missed = []
    for rel in paths:
        src, dst = to_fs(repo.root, rel), to_fs(project, rel)
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir() and not src.is_symlink():
                shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
            else:
                if dst.is_dir() and not dst.is_symlink():
                    shutil.rmtree(dst)
                shutil.copy2(src, dst, follow_symlinks=False)
        except OSError as exc:
            missed.append(f"{rel}: {exc.strerror or exc}")
    return missed


def _queue_names(name: str | None, count: int, first: str, taken: set[str],
                 all_names: set[str]) -> list[str]:
    if count == 1:
        if first in taken:
            raise TargetError(f"an experiment {first!r} is queued already on this baseline",
                              hint="choose another name, or `mlvc queue remove` it first")
        return [first]
    if name is not None:
        check_name(f"{name}-{count}")
        names = [f"{name}-{i}" for i in range(1, count + 1)]
        clash = [n for n in names if n in taken]
        if clash:
            raise TargetError(f"experiment {clash[0]!r} exists or is queued already on this "
                              "baseline", hint="choose another name, or -f to replace it")
        return names
    names: list[str] = []
    for _ in range(count):
        names.append(new_name(all_names | taken | set(names)))
    return names


def select_queued(repo: Repo, ids: list[str], states: tuple[str, ...] = ()) -> list[Queued]:
    """The entries named (by id, id prefix or experiment name) or in one of ``states``."""
    entries = queued(repo)
    chosen = [e for e in entries if e.state in states]
    for word in ids:
        hits = [e for e in entries if e.id == word or e.name == word] or (
            [e for e in entries if e.id.startswith(word)] if len(word) >= 4 else [])
        if not hits:
            raise TargetError(f"nothing queued is called {word!r}",
                              hint="`mlvc queue status` lists the queue")
        if len(hits) > 1:
            raise TargetError(f"{word!r} names {len(hits)} queued experiments: "
                              + ", ".join(e.id for e in hits[:5]),
                              hint="name one by its id (`mlvc queue status`)")
        chosen += hits
    return list({e.id: e for e in chosen}.values())


def remove_queued(repo: Repo, entries: list[Queued]) -> list[Queued]:
    """Take entries off the queue (refs, logs, outcomes). A running one is refused."""
    running = [e for e in entries if e.state == "running"]
    if running:
        raise MlvcError(f"{running[0].name} ({running[0].id}) is running",
                        hint="wait for it, or stop the `mlvc queue start` running it")
    git_of(repo).delete_refs([e.ref for e in entries])
    for e in entries:
        for kind in ("json", "log", "running", "killed", "group"):
            _sidecar(repo, e.id, kind).unlink(missing_ok=True)
        where = repo.tmp_dir / "exps" / e.id
        if where.exists():  # (left by a run whose process was killed, say)
            with _worktrees(repo):
                git_of(repo).remove_worktree(str(where))
    return entries


@dataclass(frozen=True, slots=True)
class CleanResult:
    worktrees: tuple[str, ...] = ()  # ids of the temporary copies deleted
    files: tuple[str, ...] = ()  # names of the queue's leftover files deleted

    def to_json(self) -> dict:
        return {"worktrees": list(self.worktrees), "files": list(self.files)}


def clean(repo: Repo) -> CleanResult:
    """What killed runs and workers left (``mlvc exp clean``, as ``dvc exp clean``):
    temporary copies no live run uses (and git's records of them), the files of entries no
    longer queued, ``running`` marks of processes that ended, scratch indexes of a killed
    ``exp run --queue``. Running work is left alone; experiments and queued entries stay."""
    entries = queued(repo)
    live = {e.id for e in entries if e.state == "running"}
    known = {e.id for e in entries}
    trees: list[str] = []
    folder = repo.tmp_dir / "exps"
    if folder.is_dir():
        with _worktrees(repo):
            for tree in sorted(folder.iterdir()):
                if tree.name not in live:
                    git_of(repo).remove_worktree(str(tree))
                    trees.append(tree.name)
            git_of(repo).prune_worktrees()
    files: list[str] = []
    for path in sorted(_dir(repo).iterdir()) if _dir(repo).is_dir() else []:
        entry_id, _, kind = path.name.partition(".")
        if entry_id == "worker" or entry_id in live:
            continue  # (workers: `workers` forgets the ended ones; their logs are kept)
        if entry_id not in known or kind == "running":
            path.unlink(missing_ok=True)  # (a live run's was kept above)
            files.append(path.name)
    for scratch in repo.tmp_dir.glob("queue-index.*"):
        pid = scratch.name.split(".")[1]
        if not (pid.isdigit() and _pid_alive(int(pid))):
            scratch.unlink(missing_ok=True)
            files.append(scratch.name)
    workers(repo)
    return CleanResult(tuple(trees), tuple(files))


def kill_queued(repo: Repo, entries: list[Queued], grace: float | None = None
                ) -> list[Queued]:
    """Stop running entries as Ctrl-C would stop one run (unsaved, its work tree deleted),
    but record them as failed: the queue does not run them again. One not ended within
    ``grace`` seconds is killed. Returns them as they ended."""
    import signal

    grace = STOP_GRACE if grace is None else grace
    idle = [e for e in entries if e.state != "running"]
    if idle:
        raise MlvcError(f"{idle[0].name} ({idle[0].id}) is {idle[0].state}, not running",
                        hint="`mlvc queue remove` takes an entry off the queue")

    def group(e: Queued) -> int | None:
        try:
            return int(_sidecar(repo, e.id, "group").read_text())
        except (OSError, ValueError):
            return None

    def stopped(e: Queued) -> bool:
        return _with_state(repo, e).state != "running"

    for e in entries:
        atomic_write(_sidecar(repo, e.id, "killed"), "")
        # (a run between its two commands: the next one is coming)
        if _wait_for(lambda e=e: group(e) is not None, 5):
            signal_group(group(e), signal.SIGINT)
    for e in entries:
        if not _wait_for(lambda e=e: stopped(e), grace):
            signal_group(group(e), signal.SIGKILL)
            _wait_for(lambda e=e: stopped(e), 10)
    return [_with_state(repo, e) for e in entries]


def _wait_for(check: Callable[[], bool], seconds: float) -> bool:
    """Whether ``check()`` came true within ``seconds`` (asked every 50 ms)."""
    for _ in range(int(seconds / 0.05) + 1):
        if check():
            return True
        time.sleep(0.05)
    return False


def log_of(repo: Repo, entry: Queued) -> Path | None:
    path = _sidecar(repo, entry.id, "log")
    return path if path.exists() else None


def read_log(repo: Repo, entry: Queued, follow: bool = False) -> Iterator[bytes]:
    """What ``entry``'s run printed, in chunks; with ``follow``, also what it prints until
    it ends (a run about to start: its log is waited for a moment). An entry without a log
    is an error."""
    def state() -> str:
        return _with_state(repo, entry).state

    if follow:  # (claimed, a run makes its work tree before its log: "running" too)
        _wait_for(lambda: log_of(repo, entry) is not None
                  or state() not in ("queued", "running"), 10)
    log = log_of(repo, entry)
    if log is None:
        raise MlvcError(f"'{entry.name}' ({entry.id}) is {state()}: it has no log yet")
    with open(log, "rb") as f:
        while True:
            if chunk := f.read():
                yield chunk
            elif not follow or state() != "running":
                if chunk := f.read():  # (what it wrote as it ended)
                    yield chunk
                return
            else:
                time.sleep(0.2)


# -- running ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RunEvent:
    kind: str  # start | done
    entry: Queued


@dataclass(frozen=True, slots=True)
class StartResult:
    ran: tuple[Queued, ...] = ()  # each with its final state
    experiments: tuple[Experiment, ...] = ()

    @property
    def failed(self) -> list[Queued]:
        return [e for e in self.ran if e.state == "failed"]

    def to_json(self) -> dict:
        return {"ran": [e.to_json() for e in self.ran],
                "experiments": [e.to_json() for e in self.experiments]}


def _claim(repo: Repo, entry: Queued) -> bool:
    """Mark ``entry`` as run by this process; False when another live one runs it."""
    path = _sidecar(repo, entry.id, "running")
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(path.read_text() or 0)
            except (FileNotFoundError, ValueError):
                pid = 0
            if pid and _pid_alive(pid):
                return False
            path.unlink(missing_ok=True)  # (left by a run that died)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        if _sidecar(repo, entry.id, "json").exists():  # (another process ran it meanwhile:
            path.unlink(missing_ok=True)                # its outcome is written before it
            return False                                # lets go of the entry)
        return True
    return False


def _mlvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlvc", *args]


def _run_args(entry: Queued) -> list[str]:
    args = ["exp", "run", "-n", entry.name]
    for s in entry.set_params:
        args += ["-S", s]
    if entry.message:
        args += ["-m", entry.message]
    if entry.force:
        args.append("-f")
    if entry.no_run_cache:
        args.append("--no-run-cache")
    args += ["-j", str(entry.jobs), *(RUN_FLAGS[f] for f in entry.flags), "--", *entry.targets]
    return args


class _Runs(Commands):
    """The commands that the runs of one ``start`` have going, each in a session (so a
    process group) of its own, so that this process alone decides when they stop: Ctrl-C (or
    ``queue stop``) reaches this process, which then starts no command and passes the
    interrupt on to each group (a stage's processes included). A run that has not ended
    ``grace`` seconds later is killed, with its whole group.

    (With the runs in the terminal's process group, an interrupt that landed in a run's
    process while it was being started was lost, and that run went on.)"""

    def __init__(self, grace: float = STOP_GRACE) -> None:
        super().__init__(own_groups=True, new_session=True)
        self.grace = grace

    def wait_or_kill(self, proc: subprocess.Popen) -> int:
        """``proc``'s exit code, once it ended: within ``grace`` seconds, or killed."""
        try:
            return proc.wait(timeout=self.grace)
        except subprocess.TimeoutExpired:
            self.kill()
            return proc.wait()


def _logged(cmd: list[str], env: dict, log, output: Callable[[str], None] | None,
            runs: _Runs, group: Path) -> int:
    """Run ``cmd``; its output (stdout and stderr together) goes to ``log`` and, line by
    line, to ``output``; its process group is named in the file ``group`` while it runs
    (for ``queue kill``). Returns its exit code (that of Ctrl-C if it did not start)."""
    proc = runs.popen(cmd, stdout=log if output is None else subprocess.PIPE,
                      stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
    if proc is None:
        return INTERRUPTED[0]
    try:
        atomic_write(group, str(proc.pid))
        if output is not None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                log.write(raw)
                output(raw.decode("utf-8", "replace").rstrip("\r\n"))
        return proc.wait()
    except BaseException:  # (Ctrl-C in this thread: the main one, running one at a time)
        runs.stop()
        runs.wait_or_kill(proc)
        raise
    finally:
        group.unlink(missing_ok=True)
        runs.done(proc)


def run_entry(repo: Repo, entry: Queued, *, output: Callable[[str], None] | None = None,
              runs: _Runs | None = None) -> Queued:
    """Run one queued experiment in a temporary work tree; its final state is returned and
    recorded. Its output goes to its log, and line by line to ``output`` if given."""
    runs = runs or _Runs()
    git = git_of(repo)
    top = Path(git.top())
    where = repo.tmp_dir / "exps" / entry.id
    project = where / os.path.relpath(repo.root, top)
    log_path = _sidecar(repo, entry.id, "log")
    code = 1
    before = git.resolve(ref_of(entry.baseline, entry.name))  # (with -f: one to replace)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(log_path, "wb") as log:
            log.write(f"$ mlvc {' '.join(_run_args(entry))}\n(in {where})\n".encode())
            try:
                with _worktrees(repo):
                    if where.exists():
                        git.remove_worktree(str(where))
                    where.parent.mkdir(parents=True, exist_ok=True)
                    git.add_worktree(str(where), entry.baseline, entry.rev)
                _share_config(repo, project)
                for missed in _copy_in(repo, project, entry.copy_paths):
                    said = f"warning: -C {missed}: not copied"
                    log.write(f"{said}\n".encode())
                    if output is not None:
                        output(said)
            except (MlvcError, OSError) as exc:  # (this run fails; the others go on)
                if runs.stopping.wait(0.5):  # (Ctrl-C reached git too: queued again)
                    code = INTERRUPTED[0]
                said = f"error: could not make the temporary copy: {exc}"
                log.write(f"{said}\n".encode())
                if output is not None:
                    output(said)
            else:
                env = {k: v for k, v in os.environ.items() if k not in (
                    "MLVC_REPRO_PID", "GIT_INDEX_FILE", "GIT_DIR", "GIT_WORK_TREE")}
                env["MLVC_EXP_TEMP"] = "1"
                env[SIGNALLED_BY_GROUP] = "1"  # (its stages stay in its group: killed with it)
                log.flush()
                # Data the snapshot's pointer files and lock name, from the shared cache
                # (what is missing is said in the log; a stage needing it fails there).
                for args in (("checkout", "-q"), _run_args(entry)):
                    code = _logged(_mlvc("-C", str(project), *args), env, log, output, runs,
                                   _sidecar(repo, entry.id, "group"))
                    if runs.stopping.is_set() and code != 0:
                        code = INTERRUPTED[0]  # (however it ended once interrupted: queued)
                    if code in INTERRUPTED:
                        break
    except KeyboardInterrupt:
        code = INTERRUPTED[0]
        raise
    finally:
        try:
            if where.exists():
                with _worktrees(repo):
                    git.remove_worktree(str(where))
        finally:
            done = _finish(repo, entry, code, before)
    return done


def _finish(repo: Repo, entry: Queued, code: int, before: str | None = None) -> Queued:
    """Record how a run ended (exit ``code``) and let go of the entry. ``before``: the
    commit the experiment's ref named when the run started (None: no such ref)."""
    now = git_of(repo).resolve(ref_of(entry.baseline, entry.name))
    # Saved by this run: its ref names a commit it did not name before. (An interrupt that
    # comes after the save, as the run ends, makes the exit code 130: it was saved all the
    # same, and must not be queued again.)
    saved = now is not None and (now != before or code == 0)
    made = now if saved else None
    state = "success" if saved else "failed"
    killed = _sidecar(repo, entry.id, "killed")
    if saved:
        pass
    elif killed.exists():  # (`queue kill`: failed, not queued again)
        state = "failed"
    elif code in INTERRUPTED:  # (Ctrl-C: it stays queued, for the next start)
        state = "queued"
    if state == "queued":
        _sidecar(repo, entry.id, "json").unlink(missing_ok=True)
    else:
        atomic_write(_sidecar(repo, entry.id, "json"),
                     json.dumps({"state": state, "returncode": code, "experiment": made,
                                 "finished_at": int(time.time())}))
    killed.unlink(missing_ok=True)
    _sidecar(repo, entry.id, "running").unlink(missing_ok=True)
    return replace(entry, state=state, returncode=code, experiment=made)


def _worktrees(repo: Repo):
    """Held while adding or removing a work tree: git's `worktree prune` (run by a removal)
    deletes the records of a work tree being added at that moment, by this process's other
    runs or by another `mlvc queue start`."""
    from mlvc.lock import repo_lock

    return repo_lock(repo.tmp_dir / "exps.lock")


def _share_config(repo: Repo, project: Path) -> None:
    """The temporary project uses this project's cache, its local config (remotes'
    credentials, link types) as this project has it, and its remotes where they are: a
    local remote's relative path starts at this project's folder, not the copy's."""
    from mlvc.config import set_value
    from mlvc.remote import resolve_url, scheme

    local = repo.config_files.local
    dest = project / ".mlvc" / "config.local.yaml"
    dest.parent.mkdir(parents=True, exist_ok=True)
    if local.exists():
        atomic_write(dest, local.read_bytes())
    set_value(dest, "local", "cache.dir", str(repo.cache_dir))
    for name, options in repo.config.remotes().items():
        url = options.get("url")
        if isinstance(url, str) and scheme(url) is None and not os.path.isabs(url):
            set_value(dest, "local", f"remotes.{name}.url", resolve_url(url, repo.root))


# -- detached workers ------------------------------------------------------------------------

def _worker_file(repo: Repo, pid: int) -> Path:
    return _dir(repo) / f"worker.{pid}"


def workers(repo: Repo) -> list[int]:
    """Process ids of the detached workers (``queue start --detach``) still running."""
    alive = []
    for path in sorted(_dir(repo).glob("worker.*")) if _dir(repo).is_dir() else []:
        try:
            pid = int(path.suffix[1:])
        except ValueError:
            continue
        if _leads_its_group(pid):
            alive.append(pid)
        else:
            path.unlink(missing_ok=True)  # (one that ended)
    return alive


def _leads_its_group(pid: int) -> bool:
    """Whether ``pid`` runs, as the leader of its process group (a worker started by
    :func:`start_detached`; another process that took its number after it ended is not)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False  # (a worker this process started, just ended: reaped now)
    except ChildProcessError:
        pass  # (not this process's child)
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def start_detached(repo: Repo, names: list[str] = (), *, jobs: int = 1) -> tuple[int, Path]:
    """Start ``mlvc queue start`` as a process of its own session, in the background: it runs
    the queue and ends when nothing is left. Returns its process id and its log."""
    _dir(repo).mkdir(parents=True, exist_ok=True)
    log_path = _dir(repo) / f"worker.{time.time_ns()}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(_mlvc("-C", str(repo.root), "queue", "start", "-j", str(jobs),
                                      *names), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    named = log_path.with_name(f"worker.{proc.pid}.log")
    os.replace(log_path, named)
    _worker_file(repo, proc.pid).write_text(str(named))
    logs = sorted(_dir(repo).glob("worker.*.log"), key=lambda p: p.stat().st_mtime)
    for old in logs[:-WORKER_LOGS]:  # (the newest few are kept)
        old.unlink(missing_ok=True)
    return proc.pid, named


def stop_workers(repo: Repo, grace: float = 3 * STOP_GRACE) -> list[int]:
    """Stop the detached workers as Ctrl-C would: their runs end, their work trees go, and
    their entries stay queued (a worker gives its runs ``STOP_GRACE`` seconds, then kills
    them). A worker itself not done within ``grace`` seconds is killed and cleaned up after
    here. Returns the ids of the workers stopped."""
    import signal

    stopped = []
    for pid in workers(repo):
        try:  # (the worker alone: it passes the interrupt on to its runs; the git commands
            os.kill(pid, signal.SIGINT)  # it runs itself are left to finish)
        except ProcessLookupError:
            continue
        stopped.append(pid)
    for pid in stopped:  # (until each has cleaned up: a later `queue start` finds it so)
        if not _wait_for(lambda pid=pid: not _leads_its_group(pid), grace):
            signal_group(pid, signal.SIGKILL)
            _wait_for(lambda pid=pid: not _leads_its_group(pid), 10)
            _requeue_runs_of(repo, pid)
        _worker_file(repo, pid).unlink(missing_ok=True)
    return stopped


def _requeue_runs_of(repo: Repo, pid: int) -> None:
    """What a killed worker could not do: its entries queued again, their work trees
    deleted."""
    git = git_of(repo)
    for path in _dir(repo).glob("*.running"):
        try:
            if int(path.read_text() or 0) != pid:
                continue
        except (OSError, ValueError):
            continue
        where = repo.tmp_dir / "exps" / path.stem
        if where.exists():
            with _worktrees(repo):
                git.remove_worktree(str(where))
        _sidecar(repo, path.stem, "json").unlink(missing_ok=True)
        path.unlink(missing_ok=True)


def start(repo: Repo, entries: list[Queued] | None = None, *, jobs: int = 1,
          output: Callable[[str], None] | None = None, on_event: Callable[[RunEvent], None] = lambda e: None
          ) -> StartResult:
    """Run queued experiments (by default every one still queued), ``jobs`` at a time, each
    in a temporary copy of the project. Entries another process runs are skipped. Each
    run's output goes to its log, and to ``output`` too if given (with ``jobs`` 1)."""
    todo = [e for e in (queued(repo) if entries is None else entries) if e.state == "queued"]
    lock = threading.Lock()
    ran: list[Queued] = []
    runs = _Runs()  # (Ctrl-C: the runs going on end, no other one starts)

    def one(entry: Queued) -> None:
        if runs.stopping.is_set() or not _claim(repo, entry):
            return
        try:
            on_event(RunEvent("start", entry))
        except BaseException:
            _sidecar(repo, entry.id, "running").unlink(missing_ok=True)
            raise
        try:
            done = run_entry(repo, entry, output=output if jobs <= 1 else None, runs=runs)
        except KeyboardInterrupt:
            on_event(RunEvent("done", replace(entry, returncode=INTERRUPTED[0])))
            raise
        with lock:
            ran.append(done)
        on_event(RunEvent("done", done))

    if jobs <= 1 or len(todo) <= 1:
        for entry in todo:
            one(entry)
    else:
        pool = ThreadPoolExecutor(jobs)
        futures = []
        try:
            futures += [pool.submit(one, e) for e in todo]
            for f in futures:
                f.result()
        except BaseException:
            runs.stop()
            pool.shutdown(wait=False, cancel_futures=True)
            # (a future cancelled by shutdown never counts as done for wait(): left out)
            if wait([f for f in futures if not f.cancelled()], timeout=runs.grace).not_done:
                runs.kill()  # (a run that did not end when told to)
            pool.shutdown(wait=True)  # (the runs going on clean up)
            raise
        pool.shutdown()
    by_rev = {e.rev: e for e in experiments(repo)}
    made = tuple(by_rev[e.experiment] for e in ran if e.experiment in by_rev)
    return StartResult(tuple(ran), made)


def run_temp(repo: Repo, queued_now: QueueResult, *,
             output: Callable[[str], None] | None = None) -> StartResult:
    """``exp run --temp``: run experiments just queued (by :func:`queue`) now, each in a
    temporary copy of the project, leaving the workspace as it is. A saved one leaves the
    queue; a failed one stays there, for ``mlvc queue logs``."""
    ran = start(repo, list(queued_now.entries), output=output)
    remove_queued(repo, [e for e in ran.ran if e.state == "success"])
    return ran
