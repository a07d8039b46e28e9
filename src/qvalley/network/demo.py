"""End-to-end demo: payment and trade messages between the exchange and a bank under QKD keys.

Everything is real except the photons: the link pools of a shipped topology fill at their simulated
secret-key rates, keys are relayed hop by hop (one-time pads) from the exchange's node to the bank's
node into the shared key store, two ETSI GS QKD 014 KMEs serve them over HTTPS with mutual TLS (a
fresh demo PKI), and the exchange's SAE and the bank's SAE run :mod:`qvalley.network.transport`
channels (AES-256-GCM with rotated keys, and one-time pad) through those KMEs.

Run: ``python -m qvalley.network.demo`` or ``qvalley qkd demo`` (both self-terminating, about
10 s); ``--json`` for the numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .topology import NetworkError, Topology, load_topology

if TYPE_CHECKING:  # the CLI parser imports this module: the server stack loads only when run
    from .kms import KeyStore, KeySupply, KMSClient
    from .relay import Network


@dataclass
class DemoNetwork:
    """A running two-KME deployment over a relay network (see :func:`running_network`)."""

    topology: Topology
    src: str
    dst: str
    src_sae: str
    dst_sae: str
    network: Network
    supply: KeySupply
    store: KeyStore
    master: KMSClient
    slave: KMSClient
    lock: threading.Lock

    def link_bits_consumed(self) -> int:
        """Key bits taken from all link pools so far (every hop of every relay)."""
        with self.lock:
            return sum(p.consumed_bits for p in self.network.pools.values())

    def route(self) -> tuple[str, ...] | None:
        with self.lock:
            return self.network.route(self.src, self.dst, self.supply.chunk_bits)


@contextlib.contextmanager
def running_network(topology: Topology, src: str, dst: str, workdir: Path, *, seed: int = 0,
                    tick_s: float = 0.05, speedup: float = 1.0,
                    target_bytes: int = 256 * 1024) -> Iterator[DemoNetwork]:
    """PKI, shared store, relay supply (a background thread) and the KMEs of ``src`` and ``dst``.

    The supply advances the link clock by ``tick_s * speedup`` every ``tick_s`` wall seconds and
    relays keys ``src`` → ``dst`` until the store holds ``target_bytes`` for the pair.
    """
    from .kms import BackgroundServer, KeyStore, KeySupply, KMSClient, create_app, mtls_config
    from .pki import create_network_pki
    from .relay import Network

    for n in (src, dst):
        if not topology.node(n).sae_ids:
            raise NetworkError(f"{topology.source}: node {n!r} has no SAE")
    creds = create_network_pki(workdir / "pki", topology, nodes=[src, dst])
    store = KeyStore(workdir / "keys.sqlite")
    net = Network(topology, seed=seed, initial_fill_s=5.0)
    supply = KeySupply(net, store, [(src, dst)], target_bytes=target_bytes)
    lock = threading.Lock()
    with lock:
        supply.top_up()
    stop = threading.Event()

    def feed() -> None:
        while not stop.wait(tick_s):
            with lock:
                supply.advance(tick_s * speedup)

    feeder = threading.Thread(target=feed, daemon=True, name="key-supply")
    ca = creds["ca"].cert
    servers = {}
    for node in (src, dst):
        c = creds[f"kme:{node}"]
        app = create_app(topology, node, KeyStore(workdir / "keys.sqlite"))
        servers[node] = BackgroundServer(mtls_config(app, host="127.0.0.1", port=0, cert=c.cert, key=c.key,
                                                     ca=ca))
    src_sae, dst_sae = topology.node(src).sae_ids[0], topology.node(dst).sae_ids[0]
    ms, ss = creds[f"sae:{src_sae}"], creds[f"sae:{dst_sae}"]
    feeder.start()
    try:
        with servers[src], servers[dst], \
                KMSClient(servers[src].url, ms.cert, ms.key, ca) as master, \
                KMSClient(servers[dst].url, ss.cert, ss.key, ca) as slave:
            yield DemoNetwork(topology, src, dst, src_sae, dst_sae, net, supply, store, master, slave, lock)
    finally:
        stop.set()
        feeder.join(timeout=5)


def messages(n: int, seed: int = 0) -> Iterator[bytes]:
    """``n`` JSON payment and trade messages (alternating), 150-250 bytes each."""
    import numpy as np

    rng = np.random.default_rng(seed)
    isins = ["CNE100000296", "CNE000001R84", "CNE1000002H1", "CNE100003662"]
    for i in range(n):
        if i % 2:
            msg: dict[str, Any] = {"type": "trade", "id": i, "isin": isins[int(rng.integers(4))],
                                   "side": "buy" if rng.random() < 0.5 else "sell",
                                   "qty": int(rng.integers(1, 100)) * 100,
                                   "price": round(float(rng.uniform(5, 80)), 2), "venue": "XSHG"}
        else:
            msg = {"type": "payment", "id": i, "from": f"SSE-SETTLE-{int(rng.integers(1000)):04d}",
                   "to": f"62220{int(rng.integers(10**10)):010d}", "currency": "CNY",
                   "amount": round(float(rng.uniform(1e3, 1e7)), 2), "purpose": "settlement T+1"}
        yield json.dumps(msg, separators=(",", ":")).encode()


def run_stream(dn: DemoNetwork, mode: str, n: int, *, rotate_messages: int = 100, max_seconds: float = 10.0,
               seed: int = 0) -> dict[str, Any]:
    """Send up to ``n`` messages ``src`` → ``dst`` (sealed, opened and compared); stop early after
    ``max_seconds``. Returns counts, messages/s and key consumption."""
    from .transport import SecureReceiver, SecureSender

    tx = SecureSender(dn.master, dn.dst_sae, mode=mode, rotate_messages=rotate_messages, wait_s=5.0)
    rx = SecureReceiver(dn.slave, dn.src_sae)
    link0 = dn.link_bits_consumed()
    t0 = time.perf_counter()
    sent = 0
    for msg in messages(n, seed):
        frame = tx.seal(msg)
        if rx.open(frame) != msg:  # pragma: no cover - the channel authenticates every frame
            raise NetworkError("a message arrived altered")
        sent += 1
        if time.perf_counter() - t0 > max_seconds:
            break
    dt = time.perf_counter() - t0
    link = dn.link_bits_consumed() - link0
    return {"mode": mode, "rotate_messages": rotate_messages if mode == "aes-gcm" else 1, "messages": sent,
            "payload_bytes": tx.stats.payload_bytes, "seconds": dt, "messages_per_s": sent / dt,
            "etsi_keys": tx.stats.keys_fetched, "etsi_key_bits": tx.stats.key_bits,
            "etsi_key_bits_per_message": tx.stats.key_bits / sent,
            "receiver_key_bits": rx.stats.key_bits, "sender_waits": tx.stats.waits,
            "link_key_bits": link, "link_key_bits_per_message": link / sent}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The demo's options (shared by ``python -m qvalley.network.demo`` and ``qvalley qkd demo``)."""
    p.add_argument("--topology", default="metro-38", help="topology file or shipped name (default metro-38)")
    p.add_argument("--src", default="SSE", help="sending node: the exchange (default SSE)")
    p.add_argument("--dst", default="BOSH", help="receiving node: a bank (default BOSH, 4 hops from SSE)")
    p.add_argument("--messages", type=int, default=20000, help="AES-GCM messages (default 20000)")
    p.add_argument("--otp-messages", type=int, default=1000, help="one-time-pad messages (default 1000)")
    p.add_argument("--rotate", type=int, default=100, help="AES-GCM: new key every N messages (default 100)")
    p.add_argument("--seconds", type=float, default=6.0, help="time limit per stream (default 6)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")


def run(a: argparse.Namespace) -> int:
    """Run the demo; prints a summary (or JSON) and returns 0."""
    for name in ("messages", "otp_messages", "rotate"):
        if getattr(a, name) < (0 if name != "rotate" else 1):
            raise NetworkError(f"--{name.replace('_', '-')} must be {'>= 1' if name == 'rotate' else '>= 0'}")
    if not a.seconds > 0:
        raise NetworkError("--seconds must be > 0")
    topo = load_topology(a.topology)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qvalley-qkd-demo-") as tmp, \
            running_network(topo, a.src, a.dst, Path(tmp), seed=a.seed) as dn:
        route = dn.route()
        setup = time.perf_counter() - t0
        streams = []
        if a.messages:
            streams.append(run_stream(dn, "aes-gcm", a.messages, rotate_messages=a.rotate,
                                      max_seconds=a.seconds, seed=a.seed))
        if a.otp_messages:
            streams.append(run_stream(dn, "otp", a.otp_messages, max_seconds=a.seconds, seed=a.seed + 1))
    out = {"topology": topo.name, "src": a.src, "dst": a.dst, "src_sae": dn.src_sae, "dst_sae": dn.dst_sae,
           "route": list(route) if route else None, "setup_seconds": setup, "streams": streams,
           "seconds": time.perf_counter() - t0}
    if a.json:
        print(json.dumps(out, indent=2))
        return 0
    hops = len(route) - 1 if route else 0
    print(f"{topo.name}: {dn.src_sae} ({a.src}) -> {dn.dst_sae} ({a.dst}) over ETSI GS QKD 014 KMEs "
          f"(mutual TLS); keys relayed over {hops} hops: {' -> '.join(route or ())}")
    for s in streams:
        what = f"AES-256-GCM, new key every {s['rotate_messages']} messages" if s["mode"] == "aes-gcm" \
            else "one-time pad + one-time Poly1305"
        print(f"  {what}: {s['messages']} payment/trade messages in {s['seconds']:.2f} s = "
              f"{s['messages_per_s']:,.0f} msg/s; {s['etsi_keys']} ETSI keys, "
              f"{s['etsi_key_bits_per_message']:,.1f} key bits/message end to end, "
              f"{s['link_key_bits_per_message']:,.1f} link key bits/message over all hops")
    print(f"  every message arrived intact and authenticated; total {out['seconds']:.1f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m qvalley.network.demo", description=__doc__.split("\n")[0])
    add_arguments(p)
    a = p.parse_args(argv)
    try:
        return run(a)
    except NetworkError as exc:
        print(f"qvalley: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
