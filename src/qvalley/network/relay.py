"""Trusted-node relay: key pools per link, widest-path routing, hop-by-hop one-time-pad relay.

Each fibre link fills a key pool at its secret-key rate (from :func:`qvalley.network.qkd.key_rate`
unless the topology pins ``key_rate_bps``). A request for ``n`` key bits between two nodes is served
along the route whose smallest pool is largest (widest path, fewest hops on ties) among links that are
up and hold at least ``n`` bits: the source draws a fresh key ``K``; at hop ``i`` the sending node
XORs ``K`` with ``n`` bits taken from link ``i``'s pool, the receiving node XORs with its identical
copy of that pad and recovers ``K``. Every pad is used once and erased from the pool. Cut or exhausted
links are routed around; if no route holds the key, :class:`KeyExhaustedError` (or
:class:`NoRouteError` when the nodes are disconnected) is raised and nothing is consumed.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .topology import Link, NetworkError, Topology, TopologyError

DEFAULT_POOL_CAPACITY_BITS = 8 * 2**20  # 8 Mbit (1 MiB) per link


class KeyExhaustedError(NetworkError):
    """No route holds enough key right now (pools empty); retry after they refill."""


class NoRouteError(NetworkError):
    """The two nodes are not connected by any link that is up."""


def link_key_rate_bps(topology: Topology, link: Link) -> float:
    """Secret-key rate of ``link`` in bit/s: the pinned ``key_rate_bps`` or the decoy-state physics."""
    if link.key_rate_bps is not None:
        return link.key_rate_bps
    try:
        from .qkd import LinkParameters, QKDError, key_rate
    except ImportError as exc:  # pragma: no cover - the link layer ships with the package
        raise NetworkError(f"link physics unavailable ({exc}); pin key_rate_bps in the topology") from None
    try:  # the GYS system (MQZL 2005) with the topology's defaults and the link's overrides on top
        merged = {**LinkParameters.gys().to_dict(), **topology.link_parameters(link)}
        params = LinkParameters.from_dict(merged)
    except (TypeError, ValueError, QKDError) as exc:
        raise TopologyError(
            f"{topology.source}: link {link.a}-{link.b}: bad link parameters ({exc})") from None
    rate = key_rate(params, link.length_m, decoy="vacuum+weak")
    return max(0.0, float(rate.rate_bps))


class KeyPool:
    """The shared secret key of one link (both ends hold identical copies; modelled as one buffer)."""

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self._buf = bytearray()
        self.generated_bits = 0.0
        self.discarded_bits = 0.0
        self.consumed_bits = 0
        self._frac_bits = 0.0

    @property
    def bits(self) -> int:
        """Key bits available now."""
        return 8 * len(self._buf)

    def fill(self, bits: float, rng: np.random.Generator) -> None:
        """Add ``bits`` of fresh link key (overflow beyond capacity is discarded and counted)."""
        self.generated_bits += bits
        self._frac_bits += bits
        nbytes = int(self._frac_bits // 8)
        self._frac_bits -= 8 * nbytes
        room = self.capacity_bytes - len(self._buf)
        take = min(nbytes, room)
        self.discarded_bits += 8 * (nbytes - take)
        if take > 0:
            self._buf += rng.bytes(take)

    def take(self, nbytes: int) -> bytes:
        """Remove and return the oldest ``nbytes`` of key (a one-time pad)."""
        if nbytes > len(self._buf):
            raise KeyExhaustedError(f"pool holds {len(self._buf)} bytes, {nbytes} requested")
        pad = bytes(self._buf[:nbytes])
        del self._buf[:nbytes]
        self.consumed_bits += 8 * nbytes
        return pad


def _xor(a: bytes, b: bytes) -> bytes:
    return (np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).tobytes()


@dataclass(frozen=True)
class Hop:
    """One hop of a relay: the ciphertext that crossed the classical channel from ``src`` to ``dst``."""

    src: str
    dst: str
    ciphertext: bytes


@dataclass(frozen=True)
class RelayResult:
    """A key relayed end to end: the key as drawn at the source and as recovered at the destination."""

    src: str
    dst: str
    path: tuple[str, ...]
    key_at_src: bytes
    key_at_dst: bytes
    hops: tuple[Hop, ...]

    @property
    def key(self) -> bytes:
        """The end-to-end key (identical at both ends)."""
        return self.key_at_dst


class Network:
    """Live state of a trusted-node network: pools, link states, simulated clock.

    Args:
        topology: The network.
        seed: Seed of the key material and of the source keys.
        pool_capacity_bits: Size of each link's key buffer.
        initial_fill_s: Seconds of key generation each pool starts with.
    """

    def __init__(self, topology: Topology, *, seed: int = 0,
                 pool_capacity_bits: int = DEFAULT_POOL_CAPACITY_BITS, initial_fill_s: float = 0.0) -> None:
        self.topology = topology
        self.rng = np.random.default_rng(seed)
        self.time_s = 0.0
        self.rates: dict[tuple[str, str], float] = {}
        self.pools: dict[tuple[str, str], KeyPool] = {}
        self.lengths: dict[tuple[str, str], float] = {}
        self.down: set[tuple[str, str]] = set()
        self.adj: dict[str, list[str]] = {n.name: [] for n in topology.nodes}
        for lk in topology.links:
            self.rates[lk.key] = link_key_rate_bps(topology, lk)
            self.pools[lk.key] = KeyPool(pool_capacity_bits // 8)
            self.lengths[lk.key] = lk.length_m
            self.adj[lk.a].append(lk.b)
            self.adj[lk.b].append(lk.a)
        if initial_fill_s > 0:
            for k, pool in self.pools.items():
                pool.fill(self.rates[k] * initial_fill_s, self.rng)
                pool.generated_bits = 0.0
                pool.discarded_bits = 0.0

    @staticmethod
    def _k(a: str, b: str) -> tuple[str, str]:
        return (a, b) if a <= b else (b, a)

    def pool(self, a: str, b: str) -> KeyPool:
        """The pool of link ``a``-``b``."""
        try:
            return self.pools[self._k(a, b)]
        except KeyError:
            raise NetworkError(f"no link {a}-{b}") from None

    def cut(self, a: str, b: str) -> None:
        """Take link ``a``-``b`` down (fibre cut): no key is generated or relayed over it."""
        self.pool(a, b)
        self.down.add(self._k(a, b))

    def restore(self, a: str, b: str) -> None:
        """Bring link ``a``-``b`` back up."""
        self.down.discard(self._k(a, b))

    def step(self, dt_s: float) -> None:
        """Advance the clock by ``dt_s``: every link that is up fills its pool."""
        for k, pool in self.pools.items():
            if k not in self.down:
                pool.fill(self.rates[k] * dt_s, self.rng)
        self.time_s += dt_s

    def route(self, src: str, dst: str, nbits: int = 0) -> tuple[str, ...] | None:
        """Widest path from ``src`` to ``dst`` over up links holding at least ``nbits`` each.

        Maximises the smallest pool on the path, then minimises hop count. ``None`` if none exists.
        """
        self.topology.node(src)
        self.topology.node(dst)
        best: dict[str, tuple[float, int]] = {src: (math.inf, 0)}
        prev: dict[str, str] = {}
        heap: list[tuple[float, int, str]] = [(-math.inf, 0, src)]
        done: set[str] = set()
        while heap:
            negw, hops, u = heapq.heappop(heap)
            if u in done:
                continue
            done.add(u)
            if u == dst:
                break
            for v in self.adj[u]:
                k = self._k(u, v)
                if k in self.down:
                    continue
                avail = self.pools[k].bits
                if avail < max(nbits, 1):
                    continue
                w = min(-negw, float(avail))
                cand = (w, hops + 1)
                old = best.get(v)
                if old is None or cand[0] > old[0] or (cand[0] == old[0] and cand[1] < old[1]):
                    best[v] = cand
                    prev[v] = u
                    heapq.heappush(heap, (-w, hops + 1, v))
        if dst not in done or src == dst:
            return None
        path = [dst]
        while path[-1] != src:
            path.append(prev[path[-1]])
        return tuple(reversed(path))

    def connected(self, src: str, dst: str) -> bool:
        """Whether any path of up links joins ``src`` and ``dst`` (ignoring key levels)."""
        seen, stack = {src}, [src]
        while stack:
            u = stack.pop()
            for v in self.adj[u]:
                if self._k(u, v) not in self.down and v not in seen:
                    seen.add(v)
                    stack.append(v)
        return dst in seen

    def relay(self, src: str, dst: str, nbits: int) -> RelayResult:
        """Relay a fresh ``nbits`` key (rounded up to whole bytes) from ``src`` to ``dst``.

        Raises:
            NetworkError: ``src == dst`` or ``nbits`` not positive.
            NoRouteError: The nodes are disconnected by cuts.
            KeyExhaustedError: Connected, but no route holds enough key; nothing is consumed.
        """
        if src == dst:
            raise NetworkError(f"source and destination are both {src!r}")
        if nbits <= 0:
            raise NetworkError(f"key length must be positive, got {nbits}")
        nbytes = (nbits + 7) // 8
        path = self.route(src, dst, 8 * nbytes)
        if path is None:
            if not self.connected(src, dst):
                raise NoRouteError(f"{src} and {dst} are disconnected (links down: {len(self.down)})")
            raise KeyExhaustedError(f"no route {src}->{dst} holds {8 * nbytes} bits of key")
        key = self.rng.bytes(nbytes)
        carried = key
        hops: list[Hop] = []
        for u, v in itertools.pairwise(path):
            pad = self.pool(u, v).take(nbytes)  # node u's and node v's identical copies, erased
            ct = _xor(carried, pad)  # u encrypts ...
            hops.append(Hop(u, v, ct))
            carried = _xor(ct, pad)  # ... v decrypts with its copy
        return RelayResult(src, dst, path, key, carried, tuple(hops))


# ---------------------------------------------------------------------------------------------------
# Demand and simulation


@dataclass(frozen=True)
class Demand:
    """A continuous key demand between two nodes, ``rate_bps`` bit/s from ``start_s`` to ``end_s``."""

    src: str
    dst: str
    rate_bps: float
    start_s: float = 0.0
    end_s: float = math.inf


@dataclass(frozen=True)
class Cut:
    """A fibre cut of link ``a``-``b`` from ``at_s`` to ``until_s``."""

    a: str
    b: str
    at_s: float
    until_s: float = math.inf


@dataclass(frozen=True)
class DemandSpec:
    """Requests and link events of one simulation."""

    demands: tuple[Demand, ...]
    cuts: tuple[Cut, ...] = ()
    key_bits: int = 256

    @classmethod
    def default(cls, topology: Topology) -> DemandSpec:
        """Default demand: every non-relay node pair with an exchange or government end gets 1 kbit/s
        (four AES-256 keys a second); if the network has no such node, all non-relay pairs."""
        ends = [n for n in topology.nodes if n.role != "relay"]
        hubs = [n for n in ends if n.role in ("exchange", "government")]
        pairs: list[tuple[str, str]] = []
        if hubs:
            for h in hubs:
                for n in ends:
                    if n.name != h.name and (n.role not in ("exchange", "government") or h.name < n.name):
                        pairs.append((h.name, n.name))
        else:
            pairs = [(a.name, b.name) for i, a in enumerate(ends) for b in ends[i + 1:]]
        return cls(tuple(Demand(a, b, 1024.0) for a, b in pairs))

    @classmethod
    def load(cls, path: str | Path, topology: Topology) -> DemandSpec:
        """Read a demand file: ``{"key_bits": 256, "requests": [{"src", "dst", "rate_bps", "start_h",
        "end_h"}], "cuts": [{"a", "b", "at_h", "until_h"}]}``."""
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise NetworkError(f"{p}: cannot read demand file ({exc.strerror or exc})") from None
        except json.JSONDecodeError as exc:
            raise NetworkError(f"{p}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        if not isinstance(data, dict) or not isinstance(data.get("requests", []), list):
            raise NetworkError(f"{p}: expected an object with a 'requests' list")
        names = {n.name for n in topology.nodes}
        demands: list[Demand] = []
        for i, r in enumerate(data.get("requests", [])):
            try:
                src, dst, rate = str(r["src"]), str(r["dst"]), float(r["rate_bps"])
                start = float(r.get("start_h", 0.0)) * 3600
                end = float(r.get("end_h", math.inf)) * 3600
            except (KeyError, TypeError, ValueError):
                raise NetworkError(f"{p}: request #{i} needs 'src', 'dst' and numeric 'rate_bps'") from None
            for nm in (src, dst):
                if nm not in names:
                    raise NetworkError(f"{p}: request #{i}: node {nm!r} is not in {topology.source}")
            if src == dst or rate <= 0:
                raise NetworkError(f"{p}: request #{i}: needs two different nodes and rate_bps > 0")
            demands.append(Demand(src, dst, rate, start, end))
        cuts: list[Cut] = []
        links = {lk.key for lk in topology.links}
        for i, c in enumerate(data.get("cuts", [])):
            try:
                a, b, at = str(c["a"]), str(c["b"]), float(c["at_h"]) * 3600
                until = float(c.get("until_h", math.inf)) * 3600
            except (KeyError, TypeError, ValueError):
                raise NetworkError(f"{p}: cut #{i} needs 'a', 'b' and numeric 'at_h'") from None
            if Network._k(a, b) not in links:
                raise NetworkError(f"{p}: cut #{i}: no link {a}-{b} in {topology.source}")
            cuts.append(Cut(a, b, at, until))
        key_bits = int(data.get("key_bits", 256))
        if key_bits <= 0:
            raise NetworkError(f"{p}: key_bits must be positive")
        return cls(tuple(demands), tuple(cuts), key_bits)


@dataclass
class _PairStats:
    requested_bits: int = 0
    served_bits: int = 0
    requests: int = 0
    served: int = 0
    exhausted: int = 0
    no_route: int = 0
    hop_sum: int = 0
    routes: set[tuple[str, ...]] = field(default_factory=set)
    backlog_bits: float = 0.0


@dataclass(frozen=True)
class SimulationReport:
    """Metrics of a simulation run (JSON via :meth:`to_json`)."""

    topology: str
    hours: float
    step_s: float
    links: tuple[dict[str, Any], ...]
    pairs: tuple[dict[str, Any], ...]
    totals: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"topology": self.topology, "hours": self.hours, "step_s": self.step_s,
                "links": list(self.links), "pairs": list(self.pairs), "totals": self.totals}


def simulate(topology: Topology, *, hours: float = 1.0,
             demand: DemandSpec | None = None,
             step_s: float = 60.0, seed: int = 0, pool_capacity_bits: int = DEFAULT_POOL_CAPACITY_BITS,
             initial_fill_s: float = 600.0,
             network: Network | None = None) -> tuple[SimulationReport, Network]:
    """Run the time-stepped network: fill pools, serve every demand by relay, apply cuts.

    Each step each demand accrues ``rate_bps * step_s`` bits of backlog, served as keys of
    ``demand.key_bits`` bits; a key that cannot be relayed now stays in the backlog (counted as an
    exhausted or no-route attempt) and is retried next step.

    Returns:
        The report and the final network state (for the map).
    """
    if hours <= 0 or step_s <= 0:
        raise NetworkError("hours and step must be positive")
    spec = demand or DemandSpec.default(topology)
    net = network or Network(topology, seed=seed, pool_capacity_bits=pool_capacity_bits,
                             initial_fill_s=initial_fill_s)
    stats: dict[tuple[str, str], _PairStats] = {(d.src, d.dst): _PairStats() for d in spec.demands}
    nsteps = max(1, math.ceil(hours * 3600 / step_s))
    kb = spec.key_bits
    for _ in range(nsteps):
        t = net.time_s
        for c in spec.cuts:
            if c.at_s <= t < c.until_s:
                net.cut(c.a, c.b)
            elif t >= c.until_s:
                net.restore(c.a, c.b)
        net.step(step_s)
        for d in spec.demands:
            if not d.start_s <= t < d.end_s:
                continue
            st = stats[(d.src, d.dst)]
            st.backlog_bits += d.rate_bps * step_s
            st.requested_bits += int(d.rate_bps * step_s)
            while st.backlog_bits >= kb:
                st.requests += 1
                try:
                    res = net.relay(d.src, d.dst, kb)
                except NoRouteError:
                    st.no_route += 1
                    break
                except KeyExhaustedError:
                    st.exhausted += 1
                    break
                st.backlog_bits -= kb
                st.served += 1
                st.served_bits += kb
                st.hop_sum += len(res.path) - 1
                st.routes.add(res.path)
    links: list[dict[str, Any]] = []
    for lk in topology.links:
        pool = net.pools[lk.key]
        links.append({
            "a": lk.a, "b": lk.b, "length_km": round(lk.length_m / 1e3, 3),
            "key_rate_bps": net.rates[lk.key], "generated_bits": int(pool.generated_bits),
            "consumed_bits": pool.consumed_bits, "discarded_bits": int(pool.discarded_bits),
            "pool_bits": pool.bits, "pool_fill": pool.bits / (8 * pool.capacity_bytes),
            "up": lk.key not in net.down,
        })
    pairs: list[dict[str, Any]] = []
    for (ps, pd), st in stats.items():
        pairs.append({
            "src": ps, "dst": pd, "requested_bits": st.requested_bits, "served_bits": st.served_bits,
            "served_fraction": st.served_bits / st.requested_bits if st.requested_bits else 1.0,
            "keys_served": st.served, "exhausted_attempts": st.exhausted, "no_route_attempts": st.no_route,
            "mean_hops": st.hop_sum / st.served if st.served else None, "distinct_routes": len(st.routes),
        })
    req = sum(p["requested_bits"] for p in pairs)
    srv = sum(p["served_bits"] for p in pairs)
    totals = {"nodes": len(topology.nodes), "links": len(topology.links), "pairs": len(pairs),
              "requested_bits": req, "served_bits": srv, "served_fraction": srv / req if req else 1.0,
              "generated_bits": sum(lk["generated_bits"] for lk in links),
              "consumed_bits": sum(lk["consumed_bits"] for lk in links),
              "min_link_rate_bps": min(net.rates.values()), "links_down": len(net.down)}
    return SimulationReport(topology.name, hours, step_s, tuple(links), tuple(pairs), totals), net
