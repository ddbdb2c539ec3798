"""Drawing the stage graph as text, Graphviz DOT or Mermaid. Pure functions over names."""

from __future__ import annotations

import json


def _children(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, list[str]]:
    kids: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        kids[a].append(b)
    rank = {n: i for i, n in enumerate(nodes)}
    return {n: sorted(k, key=rank.__getitem__) for n, k in kids.items()}


def to_text(nodes: list[str], edges: list[tuple[str, str]]) -> str:
    """Each source stage with the stages that depend on it below, as a tree. A stage with
    several upstreams is drawn in full once and then referred to with ``(see above)``."""
    kids = _children(nodes, edges)
    has_parent = {b for _, b in edges}
    lines: list[str] = []
    drawn: set[str] = set()

    def walk(node: str, prefix: str, last: bool, top: bool) -> None:
        joint = "" if top else ("└─▶ " if last else "├─▶ ")
        if node in drawn and kids[node]:
            lines.append(f"{prefix}{joint}{node} (see above)")
            return
        lines.append(f"{prefix}{joint}{node}")
        drawn.add(node)
        inner = prefix if top else prefix + ("    " if last else "│   ")
        for i, child in enumerate(kids[node]):
            walk(child, inner, i == len(kids[node]) - 1, False)

    for n in nodes:
        if n not in has_parent:
            walk(n, "", True, True)
    return "\n".join(lines)


def to_dot(nodes: list[str], edges: list[tuple[str, str]]) -> str:
    lines = ["strict digraph {"]
    lines += [f"\t{json.dumps(n)};" for n in nodes]
    lines += [f"\t{json.dumps(a)} -> {json.dumps(b)};" for a, b in edges]
    lines.append("}")
    return "\n".join(lines)


def to_mermaid(nodes: list[str], edges: list[tuple[str, str]]) -> str:
    ids = {n: f"node{i + 1}" for i, n in enumerate(nodes)}
    lines = ["flowchart TD"]
    lines += [f"\t{ids[n]}[\"{n.replace(chr(34), '#quot;')}\"]" for n in nodes]
    lines += [f"\t{ids[a]} --> {ids[b]}" for a, b in edges]
    return "\n".join(lines)
