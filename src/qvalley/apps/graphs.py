"""Named graphs and graph files for the MaxCut tools.

A graph file is either an edge list (``u v [weight]`` per line, ``#`` comments) or JSON
``{"edges": [[u, v], [u, v, w], ...]}``; nodes must be the integers ``0..n-1``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx

from ._errors import AppsError

NAMED = {
    "cube": nx.cubical_graph,
    "petersen": nx.petersen_graph,
    "k33": lambda: nx.complete_bipartite_graph(3, 3),
}


def load_graph(spec: str) -> Any:
    """A named graph (``cube``, ``petersen``, ``k33``) or a graph file."""
    if spec.lower() in NAMED:
        return NAMED[spec.lower()]()
    path = Path(spec)
    if not path.is_file():
        raise AppsError(f"--graph {spec!r}: not one of {', '.join(NAMED)} and no such file")
    text = path.read_text()
    edges: list[tuple[int, int, float]] = []
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
            raw = data["edges"]
            for e in raw:
                edges.append((int(e[0]), int(e[1]), float(e[2]) if len(e) > 2 else 1.0))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise AppsError(f"{spec}: not a graph JSON with an 'edges' list ({exc})") from None
    else:
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            try:
                if len(parts) not in (2, 3):
                    raise ValueError("expected 'u v [weight]'")
                edges.append((int(parts[0]), int(parts[1]),
                              float(parts[2]) if len(parts) == 3 else 1.0))
            except ValueError as exc:
                raise AppsError(f"{spec}:{lineno}: bad edge line {line!r} ({exc})") from None
    g = nx.Graph()
    for u, v, w in edges:
        if u < 0 or v < 0:
            raise AppsError(f"{spec}: node indices must be non-negative, got edge ({u}, {v})")
        g.add_edge(u, v, weight=w)
    if g.number_of_nodes() == 0:
        raise AppsError(f"{spec}: the graph has no edges")
    if set(g.nodes) != set(range(g.number_of_nodes())):
        raise AppsError(f"{spec}: nodes must be 0..n-1 with none missing")
    return g
