"""Whether a stage is out of date, and why (SPEC 2.4): a pure comparison of the lock entry
with the current state of its deps, params and outputs."""

from __future__ import annotations

from dataclasses import dataclass

from mlvc.paths import RelPath
from mlvc.pipeline.lockfile import LockEntry
from mlvc.pipeline.model import Stage
from mlvc.workspace.pointer import Out


@dataclass(frozen=True, slots=True)
class Current:
    """What a stage's inputs and outputs are now (None: the path does not exist)."""

    deps: dict[RelPath, Out | None]
    params: dict[RelPath, dict[str, object]]
    outs: dict[RelPath, Out | None]


def _show(value: object) -> str:
    import json

    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except TypeError:
        return repr(value)


def reasons(stage: Stage, entry: LockEntry | None, cur: Current) -> list[str]:
    """Why ``stage`` must run; empty when it is up to date."""
    if entry is None:
        return ["never ran"]
    why: list[str] = []
    if stage.always_changed:
        why.append("always changed")
    if tuple(stage.cmd) != tuple(entry.cmd):
        why.append("cmd changed")

    locked = {d.path: d for d in entry.deps}
    for dep in stage.deps:
        now, was = cur.deps.get(dep.path), locked.get(dep.path)
        if now is None:
            why.append(f"dep {dep.path} is missing")
        elif was is None:
            why.append(f"dep {dep.path} is new")
        elif (now.oid, now.exec) != (was.oid, was.exec):
            why.append(f"dep {dep.path} modified")
    for path in sorted(set(locked) - {d.path for d in stage.deps}):
        why.append(f"dep {path} removed")

    declared = {ref.file for ref in stage.params}
    for file in sorted(declared | set(entry.params)):
        now_values = cur.params.get(file, {})
        was_values = entry.params.get(file, {})
        if file not in declared:
            why.append(f"params of {file} no longer declared")
            continue
        for key in sorted(set(now_values) | set(was_values)):
            if key not in was_values:
                why.append(f"param {key} added ({_show(now_values[key])})")
            elif key not in now_values:
                why.append(f"param {key} removed")
            elif now_values[key] != was_values[key] or type(now_values[key]) is not type(
                    was_values[key]):
                why.append(f"param {key} {_show(was_values[key])} -> {_show(now_values[key])}")

    locked_outs = {o.path: o for o in entry.outs}
    for out in stage.outs:
        now, was = cur.outs.get(out.path), locked_outs.get(out.path)
        if now is None:
            why.append(f"out {out.path} missing")
        elif was is None:
            why.append(f"out {out.path} is new")
        elif (now.oid, now.exec) != (was.oid, was.exec):
            why.append(f"out {out.path} modified")
    for path in sorted(set(locked_outs) - {o.path for o in stage.outs}):
        why.append(f"out {path} removed")
    return why
