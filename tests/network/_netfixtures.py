"""Shared helpers of the network-layer tests: a small topology with pinned key rates."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qvalley.network.kms import BackgroundServer, KeyStore, KeySupply, create_app, mtls_config
from qvalley.network.pki import create_network_pki
from qvalley.network.relay import Network
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


@contextlib.contextmanager
def running_kmes(tmp: Path, topo: Topology, nodes: tuple[str, str] = ("N0", "N3"), *,
                 target_bytes: int = 4096, fill_s: float = 10.0) -> Iterator[dict[str, Any]]:
    """Two KMEs (separate apps, one shared store file) over mutual TLS, with a PKI and a key supply."""
    creds = create_network_pki(tmp / "pki", topo, nodes=[*nodes, "N1"])
    store = KeyStore(tmp / "keys.sqlite")
    net = Network(topo, seed=1, initial_fill_s=fill_s)
    supply = KeySupply(net, store, [(nodes[0], nodes[1])], target_bytes=target_bytes)
    supply.top_up()
    ca = creds["ca"].cert
    servers = {}
    for node in nodes:
        app = create_app(topo, node, KeyStore(tmp / "keys.sqlite"))
        c = creds[f"kme:{node}"]
        servers[node] = BackgroundServer(mtls_config(app, host="127.0.0.1", port=0, cert=c.cert, key=c.key,
                                                     ca=ca))
    with servers[nodes[0]], servers[nodes[1]]:
        yield {"creds": creds, "ca": ca, "urls": {k: s.url for k, s in servers.items()}, "store": store,
               "supply": supply, "tmp": tmp}
