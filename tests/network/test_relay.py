"""Trusted-node relay: hop-by-hop one-time pads, key-aware routing, cuts, exhaustion, topologies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qvalley.network.relay import (
    DemandSpec,
    KeyExhaustedError,
    KeyPool,
    Network,
    NoRouteError,
    simulate,
)
from qvalley.network.topology import NetworkError, Topology, TopologyError, builtin_topologies, load_topology

from ._netfixtures import line_topology


def test_relay_across_four_hops_delivers_identical_key_and_consumes_each_pad() -> None:
    net = Network(line_topology(5, extra=False), seed=3, initial_fill_s=1.0)
    before = {k: p.bits for k, p in net.pools.items()}
    res = net.relay("N0", "N4", 256)
    assert res.path == ("N0", "N1", "N2", "N3", "N4") and len(res.hops) == 4
    assert res.key_at_dst == res.key_at_src and len(res.key) == 32
    # the key never crosses a hop in the clear, and each hop used a different pad
    assert all(h.ciphertext != res.key for h in res.hops)
    assert len({h.ciphertext for h in res.hops}) == 4
    for k, p in net.pools.items():
        assert p.bits == before[k] - 256
        assert p.consumed_bits == 256


def test_pads_are_the_pool_bytes_xor_key() -> None:
    net = Network(line_topology(3, extra=False), seed=5, initial_fill_s=1.0)
    pads = [net.pool("N0", "N1").peek(16), net.pool("N1", "N2").peek(16)]
    res = net.relay("N0", "N2", 128)
    for hop, pad in zip(res.hops, pads, strict=True):
        assert bytes(a ^ b for a, b in zip(hop.ciphertext, pad, strict=True)) == res.key


def test_route_prefers_fuller_pools_and_reroutes_on_cut() -> None:
    topo = line_topology(4)
    net = Network(topo, seed=0, initial_fill_s=1.0)
    assert net.route("N0", "N3") == ("N0", "N1", "N2", "N3")  # 1e5 b/s links beat the 1e4 detour
    net.cut("N1", "N2")
    res = net.relay("N0", "N3", 256)
    assert res.path == ("N0", "X", "N3") and res.key_at_dst == res.key_at_src
    net.cut("X", "N3")
    with pytest.raises(NoRouteError):
        net.relay("N0", "N3", 256)
    net.restore("N1", "N2")
    assert net.relay("N0", "N3", 256).path == ("N0", "N1", "N2", "N3")


def test_full_pools_route_over_fewest_hops_and_drift_off_draining_links() -> None:
    # a 4-hop line and a 2-hop detour, all pools full: the detour (fewer trusted nodes) wins, and
    # keeps winning after a key is taken from it (a widest-path rule would flip to the other route)
    topo = line_topology(5, rate_bps=1e5)
    net = Network(topo, seed=0, pool_capacity_bits=8 * 4096, initial_fill_s=10.0)
    assert all(p.level == 1.0 for p in net.pools.values())
    assert net.route("N0", "N4") == ("N0", "X", "N4")
    net.relay("N0", "N4", 256)
    assert net.route("N0", "N4") == ("N0", "X", "N4")
    # a link costs 1/level: the 4 full hops win once the detour is below half full (2 / level > 4)
    while net.route("N0", "N4") == ("N0", "X", "N4"):
        net.relay("N0", "N4", 256)
    assert net.route("N0", "N4") == ("N0", "N1", "N2", "N3", "N4")
    assert 0.49 < net.pool("N0", "X").level < 0.5


def test_serve_splits_over_routes_then_reports_exhaustion() -> None:
    topo = line_topology(4, rate_bps=8192.0)  # main path pools 8192 bits, detour 819 (one 256-bit key x3)
    net = Network(topo, seed=0, initial_fill_s=1.0, materialize=False)
    served = net.serve("N0", "N3", 40, 256)
    assert served[0] == (("N0", "N1", "N2", "N3"), 32)  # the main path holds 32 keys of 256 bits
    assert served[1:] == [(("N0", "X", "N3"), 3)]  # the detour 3 more; 5 remain unserved
    assert net.pool("N0", "N1").bits == 0 and net.pool("N0", "X").bits == 819 // 8 * 8 - 3 * 256
    with pytest.raises(KeyExhaustedError):
        net.serve("N0", "N3", 1, 256)
    with pytest.raises(NetworkError, match="serve"):
        net.relay("N0", "N3", 256)  # a counting network has no key bytes to relay
    net.cut("N1", "N2")
    net.cut("X", "N3")
    with pytest.raises(NoRouteError):
        net.serve("N0", "N3", 1, 256)


def test_counting_pool_holds_a_steps_key_until_clamped() -> None:
    pool = KeyPool(100, materialize=False)
    pool.fill(8 * 300, np.random.default_rng(0), hold=True)
    assert pool.nbytes == 300 and pool.discarded_bits == 0
    pool.consume(50)
    pool.clamp()
    assert pool.nbytes == 100 and pool.discarded_bits == 8 * 150 and pool.consumed_bits == 400
    with pytest.raises(NetworkError):
        pool.take(1)
    real = KeyPool(100)
    real.fill(8 * 300, np.random.default_rng(0), hold=True)  # real bytes never exceed the buffer
    assert real.nbytes == 100 and real.discarded_bits == 8 * 200


def test_pool_take_is_fifo_across_compaction() -> None:
    pool = KeyPool(1 << 20)
    pool.fill(8 * (1 << 20), np.random.default_rng(1))
    ref = pool.peek(1 << 20)
    got = b"".join(pool.take(1000) for _ in range(1000))  # crosses the lazy compaction point
    assert got == ref[:1_000_000] and pool.nbytes == (1 << 20) - 1_000_000


def test_exhaustion_raises_consumes_nothing_and_recovers() -> None:
    net = Network(line_topology(3, extra=False, rate_bps=1000.0), seed=0, initial_fill_s=1.0)
    assert net.pool("N0", "N1").bits == 1000 // 8 * 8
    net.relay("N0", "N2", 512)
    left = {k: p.bits for k, p in net.pools.items()}
    with pytest.raises(KeyExhaustedError):
        net.relay("N0", "N2", 512)
    assert {k: p.bits for k, p in net.pools.items()} == left
    net.step(1.0)
    assert net.relay("N0", "N2", 512).key


def test_exhausted_short_path_routes_over_the_detour() -> None:
    net = Network(line_topology(4), seed=0, initial_fill_s=1.0)
    while net.route("N0", "N3", 4096) in (None, ("N0", "N1", "N2", "N3")):
        if net.route("N0", "N3", 4096) is None:
            pytest.fail("no route at all")
        net.relay("N0", "N3", 4096)
    assert net.route("N0", "N3", 4096) == ("N0", "X", "N3")


def test_simulation_metrics_and_cut_from_demand_file(tmp_path: Path) -> None:
    topo = line_topology(4)
    demand = tmp_path / "d.json"
    demand.write_text(json.dumps({"key_bits": 256, "requests": [{"src": "N0", "dst": "N3", "rate_bps": 2000}],
                                  "cuts": [{"a": "N0", "b": "X", "at_h": 0.5}]}))
    spec = DemandSpec.load(demand, topo)
    rep, _net = simulate(topo, hours=1.0, demand=spec, step_s=60.0, seed=1)
    pair = rep.pairs[0]
    assert pair["served_fraction"] == pytest.approx(1.0, abs=0.01)
    assert pair["distinct_routes"] == 2  # full pools: the 2-hop detour; after its cut: the line
    link = next(lk for lk in rep.links if {lk["a"], lk["b"]} == {"N0", "X"})
    assert link["up"] is False
    assert rep.totals["consumed_bits"] == sum(lk["consumed_bits"] for lk in rep.links)
    json.dumps(rep.to_json())


def test_demand_file_with_only_cuts_uses_the_default_demand(tmp_path: Path) -> None:
    topo = line_topology(4)
    p = tmp_path / "d.json"
    cut = {"a": "N0", "b": "X", "at_h": 0.25, "until_h": 0.5}
    p.write_text(json.dumps({"key_bits": 512, "cuts": [cut]}))
    spec = DemandSpec.load(p, topo)
    assert spec.demands == DemandSpec.default(topo).demands and spec.key_bits == 512
    rep, net = simulate(topo, hours=1.0, demand=spec)
    assert rep.totals["cuts"] == 1 and not net.down  # restored at 0.5 h
    (pair,) = rep.pairs
    assert pair["distinct_routes"] == 2 and pair["served_fraction"] == 1.0


def test_simulation_refuses_absurd_step_counts() -> None:
    with pytest.raises(NetworkError, match="steps"):
        simulate(line_topology(3), hours=1e4, step_s=1e-3)


def test_demand_file_errors_name_the_problem(tmp_path: Path) -> None:
    topo = line_topology(4)
    bad = tmp_path / "d.json"
    bad.write_text(json.dumps({"requests": [{"src": "N0", "dst": "NOPE", "rate_bps": 1}]}))
    with pytest.raises(Exception, match="NOPE"):
        DemandSpec.load(bad, topo)
    bad.write_text(json.dumps({"requests": [], "cuts": [{"a": "N0", "b": "N3", "at_h": 0}]}))
    with pytest.raises(Exception, match="no link N0-N3"):
        DemandSpec.load(bad, topo)


@pytest.mark.parametrize(("data", "needle"), [
    ({"nodes": [{"name": "A", "lat": 0, "lon": 0}, {"name": "A", "lat": 0, "lon": 0}], "links": []}, "twice"),
    ({"nodes": [{"name": "A", "lat": 0, "lon": 0}, {"name": "B", "lat": 0, "lon": 0}],
      "links": [{"a": "A", "b": "C", "length_km": 5}]}, "unknown node 'C'"),
    ({"nodes": [{"name": "A", "lat": 0, "lon": 0}, {"name": "B", "lat": 0, "lon": 0}],
      "links": [{"a": "A", "b": "B", "length_km": -5}]}, "link #0 \\(A-B\\)"),
    ({"nodes": [{"name": "A", "lat": 0, "lon": 0, "role": "castle"}, {"name": "B", "lat": 0, "lon": 0}],
      "links": [{"a": "A", "b": "B", "length_km": 5}]}, "unknown role"),
])
def test_topology_validation_names_file_and_item(data: dict[str, object], needle: str) -> None:
    with pytest.raises(TopologyError, match="net.json: .*" + needle):
        Topology.from_json(data, "net.json")


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "t.json"
    p.write_text('{\n "nodes": [,]}')
    with pytest.raises(TopologyError, match=r"t\.json:2:"):
        load_topology(p)


def test_shipped_topologies_are_valid_and_sized() -> None:
    assert {"metro-38", "beijing-shanghai"} <= set(builtin_topologies())
    metro = load_topology("metro-38")
    assert len(metro.nodes) == 38
    assert all(5e3 <= lk.length_m <= 60e3 for lk in metro.links)
    roles = {n.role for n in metro.nodes}
    assert {"exchange", "bank", "government", "datacentre"} <= roles
    trunk = load_topology("beijing-shanghai")
    assert sum(n.role == "relay" for n in trunk.nodes) == 32
    assert sum(lk.length_m for lk in trunk.links) == pytest.approx(2.0e6, rel=0.01)
    assert max(lk.length_m for lk in trunk.links) <= 90e3


def test_overfull_fast_links_do_not_beat_a_full_direct_link() -> None:
    """Key made within a step may exceed the capacity until the step ends; the route still takes
    the full direct link, not two fast overfull links (each relayed key costs one per hop)."""
    nodes = [{"name": n, "role": "bank", "lat": 31.0 + 0.01 * i, "lon": 121.0}
             for i, n in enumerate("ABC")]
    links = [{"a": "A", "b": "B", "length_km": 20.0, "key_rate_bps": 1e4},
             {"a": "A", "b": "C", "length_km": 20.0, "key_rate_bps": 3e6},
             {"a": "C", "b": "B", "length_km": 20.0, "key_rate_bps": 3e6}]
    topo = Topology.from_json({"name": "tri", "nodes": nodes, "links": links}, "tri.json")
    net = Network(topo, pool_capacity_bits=8 * 4096, materialize=False)
    net.step(60.0, hold=True)
    assert all(p.bits >= 8 * 4096 for p in net.pools.values())
    assert net.pools[net._k("A", "C")].bits > 2 * 8 * 4096
    assert net.route("A", "B", 256) == ("A", "B")
