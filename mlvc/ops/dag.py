"""``mlvc dag``: the stage graph, or the part of it upstream of some targets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlvc.ops.repro import choose, load_project, resolve_targets
from mlvc.paths import folder_in
from mlvc.repo import Repo


@dataclass(frozen=True, slots=True)
class DagResult:
    nodes: tuple[str, ...]  # a topological order
    edges: tuple[tuple[str, str], ...]  # (upstream, downstream)

    def to_json(self) -> dict:
        return {"nodes": list(self.nodes), "edges": [list(e) for e in self.edges]}


def dag(repo: Repo, targets: list[str] | None = None, *, cwd: Path | None = None,
        downstream: bool = False) -> DagResult:
    project = load_project(repo, folder_in(repo.root, cwd))
    names = resolve_targets(repo, project.pipeline, targets or [], cwd)
    nodes = choose(project, names, downstream=downstream)
    chosen = set(nodes)
    edges = [(u, n) for n in nodes for u in project.graph.sort(project.graph.upstream[n])
             if u in chosen]
    return DagResult(tuple(nodes), tuple(edges))
