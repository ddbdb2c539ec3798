"""``mlvc dag``: the stage graph, or the part of it upstream of some targets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlvc.ops.repro import choose, load_project, resolve_targets
from mlvc.paths import folder_in, overlaps
from mlvc.repo import Repo


@dataclass(frozen=True, slots=True)
class DagResult:
    nodes: tuple[str, ...]  # a topological order
    edges: tuple[tuple[str, str], ...]  # (upstream, downstream)

    def to_json(self) -> dict:
        return {"nodes": list(self.nodes), "edges": [list(e) for e in self.edges]}


def dag(repo: Repo, targets: list[str] | None = None, *, cwd: Path | None = None,
        downstream: bool = False, full: bool = False, outs: bool = False,
        collapse: bool = False) -> DagResult:
    """The stages of ``targets`` and those they depend on (``downstream``: that depend on
    them; ``full``: their whole pipelines), in a topological order, with the edges between
    them. ``outs``: the stages' outputs instead, an edge running from an output to each
    output of a stage that reads it (as ``dvc dag --outs``). ``collapse`` (DVC's
    ``--collapse-foreach-matrix``): the stages a foreach/matrix makes (``name@key``) are
    one node, ``name``."""
    project = load_project(repo, folder_in(repo.root, cwd))
    names = resolve_targets(repo, project.pipeline, targets or [], cwd)
    nodes = choose(project, names, downstream=downstream, whole_pipelines=full and bool(names))
    chosen = set(nodes)
    edges = [(u, n) for n in nodes for u in project.graph.sort(project.graph.upstream[n])
             if u in chosen]
    if not outs:
        if collapse:
            def group(n: str) -> str:
                return n.partition("@")[0]
            return DagResult(tuple(dict.fromkeys(map(group, nodes))), tuple(dict.fromkeys(
                (group(u), group(n)) for u, n in edges if group(u) != group(n))))
        return DagResult(tuple(nodes), tuple(edges))
    pipeline = project.pipeline
    paths = list(dict.fromkeys(o.path for n in nodes for o in pipeline[n].outs))
    out_edges = []
    for u, n in edges:
        reads = [d.path for d in pipeline[n].deps]
        for made in pipeline[u].outs:
            if any(overlaps(d, made.path) for d in reads):
                out_edges += [(made.path, o.path) for o in pipeline[n].outs]
    return DagResult(tuple(paths), tuple(dict.fromkeys(out_edges)))
