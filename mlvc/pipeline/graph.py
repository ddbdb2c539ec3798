"""The stage graph (stdlib ``graphlib``): an edge runs from the stage that outputs a path (or
a folder holding it) to each stage that depends on it. ``*.mlvc`` pointer outputs are sources.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable
from dataclasses import dataclass

from mlvc.errors import PipelineError
from mlvc.paths import Nested, RelPath, is_within, seen_from, typed_in
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

    def connected(self, names: Iterable[str]) -> set[str]:
        """The whole pipelines (connected parts of the graph) that hold ``names``."""
        both = {n: self.upstream[n] | self.downstream[n] for n in self.upstream}
        return self._closure(names, both)

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


def build_graph(pipeline: Pipeline, tracked: Iterable[tuple[RelPath, RelPath]] = (),
                here: RelPath | None = None) -> Graph:
    """Check the outputs and build the graph. ``tracked``: (pointer file, path) of ``mlvc add``.

    Refuses an output declared by two stages, outputs that overlap, an output that a
    pointer file tracks too, and cycles; each error names the stages and paths. A pointer
    file's clash is told as seen from the user's folder ``here``, and its hint's command as
    typed there (the others are mlvc.yaml's own paths).
    """
    # Every output, in mlvc.yaml order, looked up through sorted paths: comparing each path
    # with every output cost the square of their number (5,000 stages: about a minute).
    owners = [(out.path, stage.name) for stage in pipeline for out in stage.outs]
    at: dict[RelPath, list[int]] = {}
    for i, (path, _) in enumerate(owners):
        at.setdefault(path, []).append(i)
    nested = Nested(at)

    def clashing(path: RelPath) -> list[int]:
        """Positions in ``owners`` of the outputs that are ``path``, hold it or lie in it."""
        return sorted(i for p in nested.overlapping(path) for i in at[p])

    for k, (path, name) in enumerate(owners):
        earlier = [i for i in clashing(path) if i < k]
        if not earlier:
            continue
        other_path, other = owners[earlier[0]]
        if other_path == path:
            raise PipelineError(
                f"output '{path}' is declared by two stages: '{other}' and '{name}'",
                hint="an output may come from one stage only")
        inner, outer = (other_path, path) if is_within(other_path, path) else (path, other_path)
        a, b = (other, name) if inner == other_path else (name, other)
        raise PipelineError(
            f"outputs overlap: '{inner}' (stage '{a}') is inside '{outer}' "
            f"(stage '{b}')", hint="outputs may not be inside one another")
    for pointer, path in tracked:
        hits = clashing(path)
        if hits:
            out_path, name = owners[hits[0]]
            raise PipelineError(
                f"output '{seen_from(out_path, here)}' of stage '{name}' is tracked by "
                f"{seen_from(pointer, here)} too",
                hint=f"`mlvc remove {typed_in(pointer, here)}` and let the stage produce it, "
                     f"or make it a dep of the stage")

    upstream: dict[str, set[str]] = {s.name: set() for s in pipeline}
    for stage in pipeline:
        for dep in stage.deps:
            for i in clashing(dep.path):
                out_path, owner = owners[i]
                if owner == stage.name:
                    raise PipelineError(
                        f"cycle: stage '{owner}' depends on its own output '{out_path}'",
                        hint="a stage cannot read what it writes; use `persist: true` "
                             "outputs or split the stage")
                upstream[stage.name].add(owner)

    sorter = graphlib.TopologicalSorter()
    rank = {name: i for i, name in enumerate(upstream)}
    for name in upstream:  # mlvc.yaml order, so that ties keep the order people wrote
        sorter.add(name, *sorted(upstream[name], key=rank.__getitem__))
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
