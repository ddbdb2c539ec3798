"""Whether a stage is out of date, and why (SPEC 2.4): a pure comparison of the lock entry
with the current state of its deps, params and outputs."""

from __future__ import annotations

from dataclasses import dataclass

from mlvc.paths import RelPath, seen_from
from mlvc.pipeline.lockfile import LockEntry
from mlvc.pipeline.model import Stage
from mlvc.workspace.pointer import Out


@dataclass(frozen=True, slots=True)
class Current:
    """What a stage's inputs and outputs are now (None: the path does not exist)."""

    deps: dict[RelPath, Out | None]
    params: dict[RelPath, dict[str, object]]
    outs: dict[RelPath, Out | None]


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason a stage must run: ``what`` alone (``cmd changed``), or ``what`` said of a
    project path, then ``change`` (``dep data/raw modified``). ``str()`` names the path from
    the project root, as ``--json`` does; :meth:`seen` names it from the user's folder."""

    what: str
    path: RelPath | None = None
    change: str = ""

    def seen(self, here: RelPath | None) -> str:
        """The reason, its path as seen from the project folder ``here`` (see seen_from)."""
        if self.path is None:
            return self.what
        return f"{self.what} {seen_from(self.path, here)} {self.change}"

    def __str__(self) -> str:
        return self.seen(None)


def _show(value: object) -> str:
    import json

    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except TypeError:
        return repr(value)


DEP_MISSING, OUT_MISSING = "is missing", "missing"


def missing_data(reason: Reason) -> bool:
    """Whether ``reason`` is only that a dep or output is not in the workspace (a fresh clone
    before `mlvc pull`, say): what ``repro --allow-missing`` passes by."""
    return reason.path is not None and reason.what in ("dep", "out") and \
        reason.change in (DEP_MISSING, OUT_MISSING)


def reasons(stage: Stage, entry: LockEntry | None, cur: Current) -> list[Reason]:
    """Why ``stage`` must run; empty when it is up to date."""
    if entry is None:
        return [Reason("never ran")]
    why: list[Reason] = [Reason("always changed")] if stage.always_changed else (
        [Reason("no deps, params or outputs: runs every time")] if stage.callback else [])
    why += input_changes(stage, entry, cur)
    why += _compared("out", [o.path for o in stage.outs], cur.outs, entry.outs, OUT_MISSING)
    return why


def input_changes(stage: Stage, entry: LockEntry, cur: Current) -> list[Reason]:
    """How the stage's cmd, deps and params differ from what it last ran with."""
    why: list[Reason] = []
    if tuple(stage.cmd) != tuple(entry.cmd):
        why.append(Reason("cmd changed"))

    why += _compared("dep", [d.path for d in stage.deps], cur.deps, entry.deps, DEP_MISSING)

    declared = {ref.file for ref in stage.params}
    for file in sorted(declared | set(entry.params)):
        now_values = cur.params.get(file, {})
        was_values = entry.params.get(file, {})
        if file not in declared:
            why.append(Reason("params of", file, "no longer declared"))
            continue
        for key in sorted(set(now_values) | set(was_values)):
            if key not in was_values:
                why.append(Reason(f"param {key} added ({_show(now_values[key])})"))
            elif key not in now_values:
                why.append(Reason(f"param {key} removed"))
            elif now_values[key] != was_values[key] or type(now_values[key]) is not type(
                    was_values[key]):
                why.append(Reason(
                    f"param {key} {_show(was_values[key])} -> {_show(now_values[key])}"))
    return why


def _compared(kind: str, declared: list, now: dict, locked_list, missing: str) -> list[Reason]:
    """Reasons from declared paths against their current and locked state: missing, new,
    modified, and locked paths no longer declared (removed)."""
    locked = {o.path: o for o in locked_list}
    why = []
    for path in declared:
        cur, was = now.get(path), locked.get(path)
        if cur is None:
            why.append(Reason(kind, path, missing))
        elif was is None:
            why.append(Reason(kind, path, "is new"))
        elif (cur.oid, cur.exec) != (was.oid, was.exec):
            why.append(Reason(kind, path, "modified"))
    why += [Reason(kind, path, "removed") for path in sorted(set(locked) - set(declared))]
    return why
