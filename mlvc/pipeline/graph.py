"""The stage graph (stdlib ``graphlib``): an edge runs from the stage that outputs a path (or
a folder holding it) to each stage that depends on it. ``*.mlvc`` pointer outputs are sources.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable
from dataclasses import dataclass

from mlvc.errors import PipelineError
from mlvc.paths import RelPath, is_within, overlaps
from mlvc.pipeline.model import Pipeline


@dataclass(frozen=True, slots=True)
class Graph:
    order: tuple[str, ...]  # a topological order, stable with mlvc.yaml's order
    upstream: dict[str, frozenset[str]]  # stage -> the stages it depends on directly
    downstream: dict[str, frozenset[str]]

    def ancestors(self, names: Iterable[str]) -> set[str]:
        return self._closure(names, self.upstream)

    def descendants(self, names: Iterable[str]) -> set[str]:
        return self._closure(names, self.downstream)

    @staticmethod
    def _closure(names: Iterable[str], edges: dict[str, frozenset[str]]) -> set[str]:
        seen: set[str] = set()
        stack = list(names)
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(edges[n])
        return seen

    def sort(self, names: Iterable[str]) -> list[str]:
        chosen = set(names)
        return [n for n in self.order if n in chosen]


def build_graph(pipeline: Pipeline, tracked: Iterable[tuple[RelPath, RelPath]] = ()) -> Graph:
    """Check the outputs and build the graph. ``tracked``: (pointer file, path) of ``mlvc add``.

    Refuses an output declared by two stages, outputs that overlap, an output that a
    pointer file tracks too, and cycles; each error names the stages and paths.
    """
    owners: list[tuple[RelPath, str]] = []
    for stage in pipeline:
        for out in stage.outs:
            for path, other in owners:
                if path == out.path:
                    raise PipelineError(
                        f"output '{path}' is declared by two stages: '{other}' and '{stage.name}'",
                        hint="an output may come from one stage only")
                if overlaps(path, out.path):
                    inner, outer = (path, out.path) if is_within(path, out.path) else (
                        out.path, path)
                    a, b = (other, stage.name) if inner == path else (stage.name, other)
                    raise PipelineError(
                        f"outputs overlap: '{inner}' (stage '{a}') is inside '{outer}' "
                        f"(stage '{b}')", hint="outputs may not be inside one another")
            owners.append((out.path, stage.name))
    for pointer, path in tracked:
        for out_path, name in owners:
            if overlaps(out_path, path):
                raise PipelineError(
                    f"output '{out_path}' of stage '{name}' is tracked by {pointer} too",
                    hint=f"`mlvc remove {pointer}` and let the stage produce it, "
                         f"or make it a dep of the stage")

    upstream: dict[str, set[str]] = {s.name: set() for s in pipeline}
    for stage in pipeline:
        for dep in stage.deps:
            for out_path, owner in owners:
                if overlaps(dep.path, out_path):
                    if owner == stage.name:
                        raise PipelineError(
                            f"cycle: stage '{owner}' depends on its own output '{out_path}'",
                            hint="a stage cannot read what it writes; use `persist: true` "
                                 "outputs or split the stage")
                    upstream[stage.name].add(owner)

    sorter = graphlib.TopologicalSorter()
    for name in upstream:  # mlvc.yaml order, so that ties keep the order people wrote
        sorter.add(name, *sorted(upstream[name], key=list(upstream).index))
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        raise PipelineError("cycle in the pipeline: " + " -> ".join(cycle),
                            hint="a stage may not depend, directly or not, on its own outputs"
                            ) from None
    order = _stable_order(sorter, list(upstream))
    downstream: dict[str, set[str]] = {n: set() for n in upstream}
    for n, ups in upstream.items():
        for u in ups:
            downstream[u].add(n)
    return Graph(tuple(order), {k: frozenset(v) for k, v in upstream.items()},
                 {k: frozenset(v) for k, v in downstream.items()})


def _stable_order(sorter: graphlib.TopologicalSorter, names: list[str]) -> list[str]:
    rank = {n: i for i, n in enumerate(names)}
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=rank.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return order
