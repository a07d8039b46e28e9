"""Subcommands of ``qvalley qkd`` for the network layer: ``network simulate``, ``kms serve``, ``pki``."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..network.topology import NetworkError

Handler = Callable[[argparse.Namespace], int]


def _positive(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not v > 0:
            raise argparse.ArgumentTypeError(f"{name} must be > 0, got {text!r}")
        return v
    return parse


def register(qsub: Any) -> dict[str, Handler]:
    net = qsub.add_parser("network", help="trusted-node QKD network: simulate key relay over a topology")
    nsub = net.add_subparsers(dest="network_command", required=True, parser_class=type(net))
    sim = nsub.add_parser("simulate", help="time-stepped key generation and OTP relay over a topology")
    sim.add_argument("topology", help="topology JSON file, or a shipped one: metro-38, beijing-shanghai")
    sim.add_argument("--hours", type=_positive("--hours"), default=1.0, help="simulated time (default 1)")
    sim.add_argument("--demand", help="demand JSON file (requests and cuts); default: hubs to every end node")
    sim.add_argument("--step", type=_positive("--step"), default=60.0,
                     help="time step in seconds (default 60)")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--map", dest="map_png", help="write a PNG map with key-pool levels")
    sim.add_argument("--html", help="write an HTML page with the map and the metrics")
    sim.add_argument("--json", action="store_true")

    kms = qsub.add_parser("kms", help="ETSI GS QKD 014 key-management entity")
    ksub = kms.add_subparsers(dest="kms_command", required=True, parser_class=type(kms))
    srv = ksub.add_parser("serve", help="serve one node's KME over HTTPS with mutual TLS")
    srv.add_argument("--topology", required=True, help="topology JSON file or shipped name")
    srv.add_argument("--node", required=True, help="the node whose KME this is")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8443)
    srv.add_argument("--pki", default="qkd-pki", help="directory from `qvalley qkd pki` (default qkd-pki)")
    srv.add_argument("--cert", help="server certificate (default PKI/kme-NODE.pem)")
    srv.add_argument("--key", help="server key (default PKI/kme-NODE.key)")
    srv.add_argument("--ca", help="CA that issued the SAE certificates (default PKI/ca.pem)")
    srv.add_argument("--store", default="qkd-keys.sqlite", help="shared network key store (SQLite)")
    srv.add_argument("--speedup", type=_positive("--speedup"), default=1.0,
                     help="simulated link seconds per wall second for the key supply (default 1)")
    srv.add_argument("--supply", choices=("own", "all", "none"), default="own",
                     help="key supply this process runs into the store: own (keys from this node to every "
                          "node with an SAE, default), all (every such pair: run one process with this and "
                          "the others with none, so the link pools are modelled once), none")
    srv.add_argument("--no-supply", dest="supply", action="store_const", const="none",
                     help="same as --supply none")
    srv.add_argument("--seed", type=int, default=0)

    pki = qsub.add_parser("pki", help="create a demo CA, KME server and SAE client certificates")
    pki.add_argument("--dir", default="qkd-pki", help="output directory (default qkd-pki)")
    pki.add_argument("--topology", default="metro-38", help="topology whose nodes get certificates")
    pki.add_argument("--node", action="append", help="only these nodes (repeatable; default: all)")
    pki.add_argument("--host", action="append", help="KME host names/IPs (default localhost, 127.0.0.1)")
    pki.add_argument("--json", action="store_true")

    demo = qsub.add_parser("demo", help="payment/trade messages exchange -> bank under ETSI 014 QKD keys "
                                        "over the relay network (self-terminating, ~10 s)")
    from ..network.demo import add_arguments

    add_arguments(demo)

    def network(a: argparse.Namespace) -> int:
        return _simulate(a)

    def kms_h(a: argparse.Namespace) -> int:
        return _serve(a)

    def demo_h(a: argparse.Namespace) -> int:
        from ..network.demo import run

        return run(a)

    return {"network": network, "kms": kms_h, "pki": _pki, "demo": demo_h}


def _check_writable(path: Path) -> None:
    """Fail before a long run if ``path`` cannot be created (its nearest existing ancestor)."""
    import os

    if path.is_dir():
        raise NetworkError(f"{path}: is a directory, not an output file")
    up = path.parent
    while not up.exists() and up != up.parent:
        up = up.parent
    if not up.is_dir() or not os.access(up, os.W_OK):
        raise NetworkError(f"{path}: cannot write here ({up} is not a writable directory)")


def _simulate(a: argparse.Namespace) -> int:
    from ..network.relay import DemandSpec, simulate
    from ..network.relay_map import render_html, render_png
    from ..network.topology import load_topology

    for out_path in (a.map_png, a.html):
        if out_path:
            _check_writable(Path(out_path))
    topo = load_topology(a.topology)
    spec = DemandSpec.load(a.demand, topo) if a.demand else None
    t0 = time.perf_counter()
    report, _ = simulate(topo, hours=a.hours, demand=spec, step_s=a.step, seed=a.seed)
    seconds = time.perf_counter() - t0
    if a.map_png:
        render_png(topo, report, a.map_png)
    if a.html:
        render_html(topo, report, a.html, png=a.map_png)
    if a.json:
        out = report.to_json()
        out["seconds"] = seconds
        print(json.dumps(out, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    con = Console()
    t = report.totals
    con.print(f"[bold]{report.topology}[/]: {t['nodes']} nodes, {t['links']} links, {a.hours:g} h "
              f"({seconds:.2f} s wall); served {100 * t['served_fraction']:.2f}% of "
              f"{t['requested_bits']} requested key bits")
    lt = Table(title="links")
    for c in ("link", "km", "rate kbit/s", "consumed kbit", "pool fill", "up"):
        lt.add_column(c, justify="right")
    for lk in report.links:
        lt.add_row(f"{lk['a']}-{lk['b']}", f"{lk['length_km']:.1f}", f"{lk['key_rate_bps'] / 1e3:.1f}",
                   f"{lk['consumed_bits'] / 1e3:.1f}", f"{100 * lk['pool_fill']:.0f}%",
                   "yes" if lk["up"] else "CUT")
    con.print(lt)
    pt = Table(title="pairs")
    for c in ("pair", "requested kbit", "served", "mean hops", "routes"):
        pt.add_column(c, justify="right")
    for p in report.pairs:
        mh = "-" if p["mean_hops"] is None else f"{p['mean_hops']:.2f}"
        pt.add_row(f"{p['src']}->{p['dst']}", f"{p['requested_bits'] / 1e3:.1f}",
                   f"{100 * p['served_fraction']:.1f}%", mh, str(p["distinct_routes"]))
    con.print(pt)
    return 0


def _check_tls_files(cert: Path, key: Path, ca: Path) -> None:
    import ssl

    for p, what in ((cert, "--cert"), (key, "--key"), (ca, "--ca")):
        if not p.is_file():
            raise NetworkError(f"{p}: {what} file not found (create certificates with `qvalley qkd pki`)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError) as exc:
        raise NetworkError(f"{cert}: certificate and key {key} do not load ({exc})") from None
    try:
        ctx.load_verify_locations(cafile=str(ca))
    except (ssl.SSLError, OSError) as exc:
        raise NetworkError(f"{ca}: CA certificate does not load ({exc})") from None


def _check_port(host: str, port: int) -> None:
    import socket

    if not 0 < port < 65536:
        raise NetworkError(f"--port must be 1..65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise NetworkError(f"--host {host}: cannot resolve ({exc})") from None
    fam, _, _, _, addr = infos[0]
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            raise NetworkError(f"{host}:{port}: cannot listen ({exc.strerror or exc})") from None


def _serve(a: argparse.Namespace) -> int:
    import uvicorn

    from ..network.kms import KeyStore, KeySupply, create_app, mtls_config
    from ..network.relay import Network
    from ..network.topology import load_topology

    topo = load_topology(a.topology)
    topo.node(a.node)
    pki = Path(a.pki)
    cert = Path(a.cert or pki / f"kme-{a.node}.pem")
    key = Path(a.key or pki / f"kme-{a.node}.key")
    ca = Path(a.ca or pki / "ca.pem")
    _check_tls_files(cert, key, ca)
    _check_port(a.host, a.port)
    store = KeyStore(a.store)
    app = create_app(topo, a.node, store)
    stop = threading.Event()
    ends = [n.name for n in topo.nodes if n.sae_ids]
    if a.supply == "own":
        pairs = [(a.node, d) for d in ends if d != a.node]
    elif a.supply == "all":
        pairs = [(s, d) for s in ends for d in ends if s != d]
    else:
        pairs = []
    if pairs:
        net = Network(topo, seed=a.seed, initial_fill_s=60.0)
        supply = KeySupply(net, KeyStore(a.store), pairs)
        supply.top_up()

        def run_supply() -> None:
            while not stop.wait(1.0):
                supply.advance(a.speedup)

        threading.Thread(target=run_supply, daemon=True, name="key-supply").start()
    # Startup line only: key material is never printed or logged (uvicorn's access log is off too).
    print(f"KME {a.node} (ETSI GS QKD 014) on https://{a.host}:{a.port} (mutual TLS, CA {ca}), "
          f"store {a.store}, supplying {len(pairs)} node pairs", file=sys.stderr, flush=True)
    config = mtls_config(app, host=a.host, port=a.port, cert=cert, key=key, ca=ca, log_level="info")
    try:
        uvicorn.Server(config).run()
    finally:
        stop.set()
    return 0


def _pki(a: argparse.Namespace) -> int:
    from ..network.pki import create_network_pki
    from ..network.topology import load_topology

    topo = load_topology(a.topology)
    hosts = tuple(a.host) if a.host else ("localhost", "127.0.0.1")
    creds = create_network_pki(a.dir, topo, nodes=a.node, hosts=hosts)
    out = {name: {"cert": str(c.cert), "key": str(c.key)} for name, c in creds.items()}
    if a.json:
        print(json.dumps({"dir": str(a.dir), "credentials": out}, indent=2))
    else:
        kmes = sum(k.startswith("kme:") for k in out)
        saes = sum(k.startswith("sae:") for k in out)
        print(f"CA {creds['ca'].cert}; {kmes} KME server and {saes} SAE client certificates in {a.dir}")
    return 0
