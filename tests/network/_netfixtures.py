"""Shared helpers of the network-layer tests: a small topology with pinned key rates."""

from __future__ import annotations

from qvalley.network.topology import Topology


def line_topology(n: int = 5, rate_bps: float = 1e5, extra: bool = True) -> Topology:
    """Nodes N0..N{n-1} in a line (plus a long detour N0-X-N{n-1} when ``extra``), rates pinned."""
    nodes = [{"name": f"N{i}", "role": "bank" if i in (0, n - 1) else "relay", "lat": 31.0 + 0.01 * i,
              "lon": 121.0} for i in range(n)]
    links = [{"a": f"N{i}", "b": f"N{i + 1}", "length_km": 20.0, "key_rate_bps": rate_bps}
             for i in range(n - 1)]
    if extra:
        nodes.append({"name": "X", "role": "relay", "lat": 31.0, "lon": 121.2})
        links += [{"a": "N0", "b": "X", "length_km": 40.0, "key_rate_bps": rate_bps / 10},
                  {"a": "X", "b": f"N{n - 1}", "length_km": 40.0, "key_rate_bps": rate_bps / 10}]
    return Topology.from_json({"name": "line", "nodes": nodes, "links": links}, "line.json")
