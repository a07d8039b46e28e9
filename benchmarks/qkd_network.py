"""QKD network benchmark: relay simulation speed, relay throughput, quantum-keyed transport.

Run:  .venv/bin/python benchmarks/qkd_network.py [--json OUT.json] [--quick]

1. ``simulate`` on the shipped topologies (metro-38 for 1 h in 60 s and 1 s steps, Beijing-Shanghai
   for 24 h): wall time of the time-stepped simulation and keys relayed per wall second.
2. ``Network.relay`` with real key bytes (256-bit keys SSE -> BOSH, 4 hops): relays per second.
3. The secure channel SSE-SAE -> BOSH-SAE (:mod:`qvalley.network.transport`): messages per second
   and key bits per message, (a) through two ETSI GS QKD 014 KMEs over HTTPS with mutual TLS (the
   deployment of ``qvalley qkd demo``) and (b) with the key store called in-process (no HTTP), to
   separate the cost of the key delivery API from the cryptography. Modes: AES-256-GCM with a new
   key every 1, 100 and 1000 messages, and one-time pad. Messages are the demo's JSON payments and
   trades (~120 bytes).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from qvalley.network.demo import messages, run_stream, running_network
from qvalley.network.kms import Key, KeyStore, KeySupply
from qvalley.network.relay import DemandSpec, Network, simulate
from qvalley.network.topology import load_topology
from qvalley.network.transport import SecureReceiver, SecureSender


class LocalKeys:
    """ETSI 014 semantics (issue to a master, collect once by the slave) on the store, no HTTP."""

    def __init__(self, store: KeyStore, node: str, peer_node: str, sae: str, peer_sae: str) -> None:
        self.store, self.node, self.peer_node, self.sae, self.peer_sae = store, node, peer_node, sae, peer_sae

    def enc_keys(self, slave_sae_id: str, number: int = 1, size: int | None = None,
                 additional_slave_sae_ids: list[str] | None = None) -> list[Key]:
        keys = self.store.issue(self.node, self.peer_node, self.sae, {slave_sae_id: self.peer_node}, number,
                                (size or 256) // 8)
        return [Key(k.key_id, k.key) for k in keys]

    def dec_keys(self, master_sae_id: str, key_ids: list[str]) -> list[Key]:
        return [Key(k.key_id, k.key) for k in self.store.collect(self.node, master_sae_id, self.sae, key_ids)]


def bench_simulation(quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    print("relay simulation (default demand: exchange/government hubs to every end node, "
          "1 kbit/s, 256-bit keys)")
    print(f"{'case':34s} {'steps':>6s} {'pairs':>6s} {'wall s':>8s} {'keys relayed':>13s} "
          f"{'keys/s wall':>12s}")
    cases = [("metro-38", 1.0, 60.0), ("metro-38", 1.0, 1.0), ("beijing-shanghai", 24.0, 60.0)]
    if quick:
        cases = cases[:1]
    for name, hours, step in cases:
        topo = load_topology(name)
        t = time.perf_counter()
        Network(topo)  # link rates from the decoy-state physics (memoised afterwards)
        t_rates = time.perf_counter() - t
        t = time.perf_counter()
        rep, _ = simulate(topo, hours=hours, step_s=step, demand=DemandSpec.default(topo))
        dt = time.perf_counter() - t
        keys = sum(p["keys_served"] for p in rep.pairs)
        key = f"{name}_{hours:g}h_step{step:g}s"
        out[key] = {"wall_s": dt, "link_rates_s": t_rates, "steps": round(hours * 3600 / step),
                    "pairs": len(rep.pairs), "keys_relayed": keys, "keys_per_wall_s": keys / dt,
                    "served_fraction": rep.totals["served_fraction"],
                    "link_bits_consumed": rep.totals["consumed_bits"]}
        print(f"{name + f' {hours:g} h, {step:g} s steps':34s} {out[key]['steps']:6d} {len(rep.pairs):6d} "
              f"{dt:8.2f} {keys:13d} {keys / dt:12.3e}   (link rates: {t_rates:.2f} s)")
    return out


def bench_relay(quick: bool) -> dict[str, Any]:
    topo = load_topology("metro-38")
    net = Network(topo, seed=0, pool_capacity_bits=8 * 2**24, initial_fill_s=30.0)
    n = 2000 if quick else 20000
    t = time.perf_counter()
    for _ in range(n):
        net.relay("SSE", "BOSH", 256)
    dt = time.perf_counter() - t
    print(f"\nNetwork.relay, real bytes, 256-bit keys SSE -> BOSH (4 hops): {n / dt:,.0f} relays/s")
    return {"relays_per_s": n / dt, "relays": n}


def bench_transport(quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    topo = load_topology("metro-38")
    n_aes = 5000 if quick else 40000
    n_otp = 200 if quick else 2000
    cases = [("aes-gcm", 1, n_otp), ("aes-gcm", 100, n_aes), ("aes-gcm", 1000, n_aes), ("otp", 1, n_otp)]
    hdr = (f"{'path':10s} {'mode':8s} {'rotate':>6s} {'messages':>9s} {'msg/s':>10s} {'ETSI bits/msg':>14s} "
           f"{'link bits/msg':>14s}")
    print("\nsecure channel SSE-SAE -> BOSH-SAE, payment/trade messages")
    print(hdr)
    with tempfile.TemporaryDirectory() as tmp:
        with running_network(topo, "SSE", "BOSH", Path(tmp) / "https", target_bytes=512 * 1024) as dn:
            hops = len(dn.route() or ()) - 1
            for mode, rot, n in cases:
                r = run_stream(dn, mode, n, rotate_messages=rot, max_seconds=20.0)
                out[f"https_{mode}_rotate{rot}"] = r
                print(f"{'ETSI/TLS':10s} {mode:8s} {rot:6d} {r['messages']:9d} {r['messages_per_s']:10,.0f} "
                      f"{r['etsi_key_bits_per_message']:14.2f} {r['link_key_bits_per_message']:14.1f}")
        out["hops"] = hops
        # (b) in-process: the same store semantics, no HTTP, no TLS
        store = KeyStore(Path(tmp) / "local.sqlite")
        net = Network(topo, seed=1, pool_capacity_bits=8 * 2**24, initial_fill_s=30.0)
        KeySupply(net, store, [("SSE", "BOSH")], target_bytes=8 * 2**20).top_up()
        m = LocalKeys(store, "SSE", "BOSH", "SSE-SAE", "BOSH-SAE")
        s = LocalKeys(store, "BOSH", "SSE", "BOSH-SAE", "SSE-SAE")
        for mode, rot, n in cases:
            tx = SecureSender(m, "BOSH-SAE", mode=mode, rotate_messages=rot)
            rx = SecureReceiver(s, "SSE-SAE")
            msgs = list(messages(n))
            t = time.perf_counter()
            for msg in msgs:
                if rx.open(tx.seal(msg)) != msg:
                    raise SystemExit("message altered")
            dt = time.perf_counter() - t
            r = {"messages": n, "messages_per_s": n / dt, "etsi_key_bits_per_message": tx.stats.key_bits / n,
                 "link_key_bits_per_message": hops * tx.stats.key_bits / n}
            out[f"local_{mode}_rotate{rot}"] = r
            print(f"{'in-process':10s} {mode:8s} {rot:6d} {n:9d} {n / dt:10,.0f} "
                  f"{r['etsi_key_bits_per_message']:14.2f} {r['link_key_bits_per_message']:14.1f}")
    print(f"(link bits/msg: ETSI/TLS rows measured from the link pools while the supply refilled the store; "
          f"in-process rows = ETSI bits x {hops} hops)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", default=None)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    a = ap.parse_args()
    out = {"simulation": bench_simulation(a.quick), "relay": bench_relay(a.quick),
           "transport": bench_transport(a.quick)}
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))
        print(f"\nwrote {a.json}")


if __name__ == "__main__":
    main()
