"""Trusted-node relay: key pools per link, key-aware routing, hop-by-hop one-time-pad relay.

Each fibre link fills a key pool at its secret-key rate (from :func:`qvalley.network.qkd.key_rate`
unless the topology pins ``key_rate_bps``). A request for ``n`` key bits between two nodes is served
along the cheapest route among links that are up and hold at least ``n`` bits, where a link costs
``capacity / available`` (1 for a full pool, growing as it drains; ties go to fewer hops): full
networks route over the fewest trusted nodes, and traffic moves off links whose key runs low. The
source draws a fresh key ``K``; at hop ``i`` the sending node XORs ``K`` with ``n`` bits taken from
link ``i``'s pool, the receiving node XORs with its identical copy of that pad and recovers ``K``.
Every pad is used once and erased from the pool. Cut or exhausted links are routed around; if no
route holds the key, :class:`KeyExhaustedError` (or :class:`NoRouteError` when the nodes are
disconnected) is raised and nothing is consumed.

:func:`simulate` runs the network over hours of simulated time. It does the same routing and pad
accounting, but on bit counts (``Network(materialize=False)``): generating and XORing terabits of
pad bytes would only measure the random-number generator. :meth:`Network.relay` moves real bytes
and is what the key-management entities use.
"""

from __future__ import annotations

import functools
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
MAX_STEPS = 1_000_000


class KeyExhaustedError(NetworkError):
    """No route holds enough key right now (pools empty); retry after they refill."""


class NoRouteError(NetworkError):
    """The two nodes are not connected by any link that is up."""


def link_key_rate_bps(topology: Topology, link: Link) -> float:
    """Secret-key rate of ``link`` in bit/s: the pinned ``key_rate_bps`` or the decoy-state physics."""
    if link.key_rate_bps is not None:
        return link.key_rate_bps
    try:
        from .qkd import LinkParameters, QKDError
    except ImportError as exc:  # pragma: no cover - the link layer ships with the package
        raise NetworkError(f"link physics unavailable ({exc}); pin key_rate_bps in the topology") from None
    try:  # the GYS system (MQZL 2005) with the topology's defaults and the link's overrides on top
        merged = {**LinkParameters.gys().to_dict(), **topology.link_parameters(link)}
        params = LinkParameters.from_dict(merged)
    except (TypeError, ValueError, QKDError) as exc:
        raise TopologyError(
            f"{topology.source}: link {link.a}-{link.b}: bad link parameters ({exc})") from None
    return _physics_rate(tuple(sorted(params.to_dict().items())), link.length_m)


@functools.lru_cache(maxsize=4096)
def _physics_rate(params: tuple[tuple[str, Any], ...], length_m: float) -> float:
    """Vacuum+weak decoy secret-key rate (bit/s), memoised: the intensity optimisation is the slow part."""
    from .qkd import LinkParameters, key_rate

    rate = key_rate(LinkParameters.from_dict(dict(params)), length_m, decoy="vacuum+weak")
    return max(0.0, float(rate.rate_bps))


class KeyPool:
    """The shared secret key of one link (both ends hold identical copies; modelled as one buffer).

    With ``materialize=False`` the pool only counts bytes (for long simulations); :meth:`take` then
    refuses and :meth:`consume` does the accounting.
    """

    def __init__(self, capacity_bytes: int, materialize: bool = True) -> None:
        self.capacity_bytes = capacity_bytes
        self.materialize = materialize
        self._buf = bytearray()
        self._off = 0  # bytes of _buf already used (compacted lazily: O(1) amortised per byte)
        self._count = 0  # bytes held when not materialized
        self.generated_bits = 0.0
        self.discarded_bits = 0.0
        self.consumed_bits = 0
        self._frac_bits = 0.0

    @property
    def nbytes(self) -> int:
        """Key bytes available now."""
        return len(self._buf) - self._off if self.materialize else self._count

    @property
    def bits(self) -> int:
        """Key bits available now."""
        return 8 * self.nbytes

    @property
    def level(self) -> float:
        """Fraction of the capacity that holds key."""
        return self.nbytes / self.capacity_bytes if self.capacity_bytes else 0.0

    def fill(self, bits: float, rng: np.random.Generator, hold: bool = False) -> None:
        """Add ``bits`` of fresh link key; overflow beyond capacity is discarded and counted.

        With ``hold`` (counting pools only) the overflow is kept until :meth:`clamp`, so key made
        during a simulation step can be used during that step.
        """
        self.generated_bits += bits
        self._frac_bits += bits
        nbytes = int(self._frac_bits // 8)
        self._frac_bits -= 8 * nbytes
        if hold and not self.materialize:
            self._count += nbytes
            return
        room = max(0, self.capacity_bytes - self.nbytes)
        take = min(nbytes, room)
        self.discarded_bits += 8 * (nbytes - take)
        if take > 0:
            if self.materialize:
                self._buf += rng.bytes(take)
            else:
                self._count += take

    def clamp(self) -> None:
        """Discard (and count) key held beyond the capacity."""
        over = self.nbytes - self.capacity_bytes
        if over > 0:
            if self.materialize:
                del self._buf[self._off + self.capacity_bytes:]
            else:
                self._count = self.capacity_bytes
            self.discarded_bits += 8 * over

    def _check(self, nbytes: int) -> None:
        if nbytes > self.nbytes:
            raise KeyExhaustedError(f"pool holds {self.nbytes} bytes, {nbytes} requested")

    def take(self, nbytes: int) -> bytes:
        """Remove and return the oldest ``nbytes`` of key (a one-time pad)."""
        if not self.materialize:
            raise NetworkError("this pool only counts key (materialize=False); use consume()")
        self._check(nbytes)
        pad = self.peek(nbytes)
        self._advance(nbytes)
        self.consumed_bits += 8 * nbytes
        return pad

    def peek(self, nbytes: int) -> bytes:
        """The oldest ``nbytes`` of key, left in the pool (for inspection and tests)."""
        if not self.materialize:
            raise NetworkError("this pool only counts key (materialize=False)")
        return bytes(self._buf[self._off:self._off + nbytes])

    def _advance(self, nbytes: int) -> None:
        self._off += nbytes
        if self._off >= 65536 and 2 * self._off >= len(self._buf):
            del self._buf[:self._off]
            self._off = 0

    def consume(self, nbytes: int) -> None:
        """Use up ``nbytes`` of key without returning it."""
        self._check(nbytes)
        if self.materialize:
            self._advance(nbytes)
        else:
            self._count -= nbytes
        self.consumed_bits += 8 * nbytes


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
        materialize: Hold real key bytes (``True``, needed by :meth:`relay`) or only count them
            (``False``: :meth:`serve` for long simulations).
    """

    def __init__(self, topology: Topology, *, seed: int = 0,
                 pool_capacity_bits: int = DEFAULT_POOL_CAPACITY_BITS, initial_fill_s: float = 0.0,
                 materialize: bool = True) -> None:
        if pool_capacity_bits < 8:
            raise NetworkError(f"pool capacity must be at least 8 bits, got {pool_capacity_bits}")
        self.topology = topology
        self.materialize = materialize
        self.rng = np.random.default_rng(seed)
        self.time_s = 0.0
        self.rates: dict[tuple[str, str], float] = {}
        self.pools: dict[tuple[str, str], KeyPool] = {}
        self.lengths: dict[tuple[str, str], float] = {}
        self.down: set[tuple[str, str]] = set()
        self.adj: dict[str, list[str]] = {n.name: [] for n in topology.nodes}
        for lk in topology.links:
            self.rates[lk.key] = link_key_rate_bps(topology, lk)
            self.pools[lk.key] = KeyPool(pool_capacity_bits // 8, materialize)
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
        self.pool(a, b)
        self.down.discard(self._k(a, b))

    def step(self, dt_s: float, hold: bool = False) -> None:
        """Advance the clock by ``dt_s``: every link that is up fills its pool.

        ``hold`` (counting networks): keep key beyond the capacity until :meth:`clamp`.
        """
        for k, pool in self.pools.items():
            if k not in self.down:
                pool.fill(self.rates[k] * dt_s, self.rng, hold)
        self.time_s += dt_s

    def clamp(self) -> None:
        """Cap every pool at its capacity (the end of a simulation step)."""
        for pool in self.pools.values():
            pool.clamp()

    def route(self, src: str, dst: str, nbits: int = 0) -> tuple[str, ...] | None:
        """Cheapest route from ``src`` to ``dst`` over up links holding at least ``nbits`` each.

        A link costs ``capacity / available`` (1 when its pool is full); the route minimises the
        sum, then the hop count. ``None`` if no route holds the key.
        """
        self.topology.node(src)
        self.topology.node(dst)
        if src == dst:
            return None
        need = max(nbits, 1)
        best: dict[str, tuple[float, int]] = {src: (0.0, 0)}
        prev: dict[str, str] = {}
        heap: list[tuple[float, int, str]] = [(0.0, 0, src)]
        done: set[str] = set()
        while heap:
            cost, hops, u = heapq.heappop(heap)
            if u in done:
                continue
            done.add(u)
            if u == dst:
                break
            for v in self.adj[u]:
                if v in done:
                    continue
                k = self._k(u, v)
                if k in self.down:
                    continue
                pool = self.pools[k]
                avail = pool.bits
                if avail < need:
                    continue
                # key held beyond the capacity within a step counts as a full pool: a link never
                # costs less than 1, so among full links the fewest hops win
                cap = 8 * pool.capacity_bytes
                cand = (cost + cap / min(avail, cap), hops + 1)
                old = best.get(v)
                if old is None or cand < old:
                    best[v] = cand
                    prev[v] = u
                    heapq.heappush(heap, (cand[0], cand[1], v))
        if dst not in done:
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
        if not self.materialize:
            raise NetworkError("this network only counts key (materialize=False); use serve()")
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

    def serve(self, src: str, dst: str, nkeys: int, key_bits: int) -> list[tuple[tuple[str, ...], int]]:
        """Relay up to ``nkeys`` keys of ``key_bits`` bits from ``src`` to ``dst``, accounting only.

        All keys go over one route if one holds them all; otherwise route after route takes as many
        keys as its emptiest link allows, until all are served or no route holds one more key.

        Returns:
            ``[(path, keys), ...]``; the keys served are the sum, possibly fewer than ``nkeys``.

        Raises:
            NoRouteError: Nothing could be served because the nodes are disconnected.
            KeyExhaustedError: Nothing could be served because no route holds one key.
        """
        if src == dst:
            raise NetworkError(f"source and destination are both {src!r}")
        if key_bits <= 0 or nkeys < 0:
            raise NetworkError(f"need key_bits > 0 and nkeys >= 0, got {key_bits}, {nkeys}")
        kbytes = (key_bits + 7) // 8
        out: list[tuple[tuple[str, ...], int]] = []
        left = nkeys
        while left > 0:
            path = self.route(src, dst, 8 * kbytes * left)
            if path is None:
                path = self.route(src, dst, 8 * kbytes)
            if path is None:
                break
            pools = [self.pools[self._k(u, v)] for u, v in itertools.pairwise(path)]
            n = min(left, min(p.nbytes for p in pools) // kbytes)
            for p in pools:
                p.consume(n * kbytes)
            out.append((path, n))
            left -= n
        if not out and nkeys > 0:
            if not self.connected(src, dst):
                raise NoRouteError(f"{src} and {dst} are disconnected (links down: {len(self.down)})")
            raise KeyExhaustedError(f"no route {src}->{dst} holds {8 * kbytes} bits of key")
        return out


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


def _number(obj: dict[str, Any], name: str, where: str, default: float | None = None, *,
            minimum: float = 0.0, strict: bool = False) -> float:
    """``obj[name]`` as a float >= ``minimum`` (> when ``strict``), else NetworkError naming it."""
    if name not in obj:
        if default is None:
            raise NetworkError(f"{where}: missing '{name}'")
        return default
    v = obj[name]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
        raise NetworkError(f"{where}: '{name}' must be a number, got {json.dumps(v)}")
    if v < minimum or (strict and v == minimum):
        raise NetworkError(f"{where}: '{name}' must be {'>' if strict else '>='} {minimum:g}, got {v:g}")
    return float(v)


def _name(obj: dict[str, Any], name: str, where: str, names: set[str], source: str) -> str:
    v = obj.get(name)
    if not isinstance(v, str) or not v:
        raise NetworkError(f"{where}: '{name}' must be a node name, got {json.dumps(v)}")
    if v not in names:
        raise NetworkError(f"{where}: '{name}': node {v!r} is not in {source}")
    return v


@dataclass(frozen=True)
class DemandSpec:
    """Requests and link events of one simulation.

    A demand file is JSON (times in hours at the file edge, seconds in code)::

        {"key_bits": 256,
         "requests": [{"src": "SSE", "dst": "ICBC", "rate_bps": 2048, "start_h": 0, "end_h": 8}],
         "cuts": [{"a": "SSE", "b": "ICBC", "at_h": 0.5, "until_h": 2}]}

    ``key_bits`` (default 256) is the size of each relayed key; ``start_h``/``end_h``/``until_h``
    are optional (default: from the start, forever). Without ``requests`` the default demand
    (:meth:`default`) is used, so a file may hold only cuts.
    """

    demands: tuple[Demand, ...]
    cuts: tuple[Cut, ...] = ()
    key_bits: int = 256

    @classmethod
    def default(cls, topology: Topology, cuts: tuple[Cut, ...] = (), key_bits: int = 256) -> DemandSpec:
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
        return cls(tuple(Demand(a, b, 1024.0) for a, b in pairs), cuts, key_bits)

    @classmethod
    def load(cls, path: str | Path, topology: Topology) -> DemandSpec:
        """Read and validate a demand file; errors name the file, the entry and the field."""
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise NetworkError(f"{p}: cannot read demand file ({exc.strerror or exc})") from None
        except UnicodeDecodeError:
            raise NetworkError(f"{p}: demand file is not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise NetworkError(f"{p}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        return cls.from_json(data, topology, str(p))

    @classmethod
    def from_json(cls, data: Any, topology: Topology, source: str = "<demand>") -> DemandSpec:
        """Validate parsed demand JSON against ``topology``."""
        if not isinstance(data, dict):
            raise NetworkError(f"{source}: top level must be a JSON object")
        unknown = set(data) - {"key_bits", "requests", "cuts", "name", "description"}
        if unknown:
            raise NetworkError(f"{source}: unknown field {sorted(unknown)[0]!r} "
                               "(expected key_bits, requests, cuts)")
        kb = _number(data, "key_bits", source, 256.0, minimum=8.0)
        if not kb.is_integer() or kb % 8:
            raise NetworkError(f"{source}: 'key_bits' must be a whole number of bytes (multiple of 8), "
                               f"got {kb:g}")
        names = {n.name for n in topology.nodes}
        for field_name in ("requests", "cuts"):
            if not isinstance(data.get(field_name, []), list):
                raise NetworkError(f"{source}: '{field_name}' must be a list")
        demands: list[Demand] = []
        for i, r in enumerate(data.get("requests", [])):
            where = f"{source}: request #{i}"
            if not isinstance(r, dict):
                raise NetworkError(f"{where} must be an object")
            src = _name(r, "src", where, names, topology.source)
            dst = _name(r, "dst", where, names, topology.source)
            if src == dst:
                raise NetworkError(f"{where}: 'src' and 'dst' are both {src!r}")
            rate = _number(r, "rate_bps", where, strict=True)
            start = _number(r, "start_h", where, 0.0) * 3600
            end = _number(r, "end_h", where, math.inf) * 3600
            if end <= start:
                raise NetworkError(f"{where}: 'end_h' must be after 'start_h'")
            demands.append(Demand(src, dst, rate, start, end))
        cuts: list[Cut] = []
        links = {lk.key for lk in topology.links}
        for i, c in enumerate(data.get("cuts", [])):
            where = f"{source}: cut #{i}"
            if not isinstance(c, dict):
                raise NetworkError(f"{where} must be an object")
            a = _name(c, "a", where, names, topology.source)
            b = _name(c, "b", where, names, topology.source)
            if Network._k(a, b) not in links:
                raise NetworkError(f"{where}: no link {a}-{b} in {topology.source}")
            at = _number(c, "at_h", where) * 3600
            until = _number(c, "until_h", where, math.inf) * 3600
            if until <= at:
                raise NetworkError(f"{where}: 'until_h' must be after 'at_h'")
            cuts.append(Cut(a, b, at, until))
        if "requests" not in data:
            return cls.default(topology, tuple(cuts), int(kb))
        if not demands:
            raise NetworkError(f"{source}: 'requests' is empty (omit it for the default demand)")
        return cls(tuple(demands), tuple(cuts), int(kb))


@dataclass
class _PairStats:
    requested_bits: int = 0
    served_bits: int = 0
    keys_served: int = 0
    exhausted_steps: int = 0
    no_route_steps: int = 0
    hop_keys: int = 0
    routes: dict[tuple[str, ...], int] = field(default_factory=dict)
    backlog_bits: float = 0.0


@dataclass(frozen=True)
class SimulationReport:
    """Metrics of a simulation run (JSON via :meth:`to_json`).

    ``links``: per link ``a, b, length_km, key_rate_bps, generated_bits, consumed_bits,
    discarded_bits`` (generated while the pool was full), ``pool_bits, pool_fill`` (at the end),
    ``min_pool_fill`` (lowest at the end of any step), ``up``.
    ``pairs``: per demand pair ``src, dst, requested_bits, served_bits, served_fraction,
    keys_served, backlog_bits, exhausted_steps, no_route_steps`` (steps that left keys unserved
    because every route was short of key, or because the nodes were cut apart), ``mean_hops``
    (over served keys), ``distinct_routes`` and ``routes`` (``[{"path", "keys"}]``, most used first).
    ``totals``: sums and ``served_fraction`` over all pairs.
    """

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

    Each step the cuts due are applied, every link that is up generates ``rate * step_s`` bits
    (usable during the step; what exceeds the pool capacity at the end of the step is discarded),
    and each active demand adds ``rate_bps * step_s`` bits to its backlog, served as whole keys of
    ``demand.key_bits`` bits by :meth:`Network.serve` (pairs in a rotating order, so none always
    goes first). What cannot be served stays in the backlog and is retried next step.

    Returns:
        The report and the final network state (for the map).

    Examples:
        >>> from qvalley.network.topology import load_topology
        >>> rep, _ = simulate(load_topology("metro-38"), hours=0.1)
        >>> rep.totals["served_fraction"]
        1.0
    """
    if not hours > 0 or not step_s > 0:
        raise NetworkError(f"hours and step must be positive, got {hours}, {step_s}")
    spec = demand or DemandSpec.default(topology)
    net = network or Network(topology, seed=seed, pool_capacity_bits=pool_capacity_bits,
                             initial_fill_s=initial_fill_s, materialize=False)
    stats: dict[tuple[str, str], _PairStats] = {}
    for d in spec.demands:
        stats.setdefault((d.src, d.dst), _PairStats())
    min_fill = {k: p.level for k, p in net.pools.items()}
    nsteps = max(1, math.ceil(hours * 3600 / step_s - 1e-9))
    if nsteps > MAX_STEPS:
        raise NetworkError(f"{hours:g} h in {step_s:g} s steps is {nsteps} steps (at most {MAX_STEPS}); "
                           "use a longer step")
    kb = spec.key_bits
    demands = list(spec.demands)
    for i in range(nsteps):
        t = net.time_s
        for c in spec.cuts:
            if c.at_s <= t < c.until_s:
                net.cut(c.a, c.b)
            elif t >= c.until_s:
                net.restore(c.a, c.b)
        net.step(step_s, hold=True)  # key made during the step can serve the step's demand
        shift = i % len(demands) if demands else 0
        for d in demands[shift:] + demands[:shift]:
            if not d.start_s <= t < d.end_s:
                continue
            st = stats[(d.src, d.dst)]
            st.backlog_bits += d.rate_bps * step_s
            st.requested_bits += round(d.rate_bps * step_s)
            want = int(st.backlog_bits // kb)
            if want == 0:
                continue
            try:
                served = net.serve(d.src, d.dst, want, kb)
            except NoRouteError:
                st.no_route_steps += 1
                continue
            except KeyExhaustedError:
                st.exhausted_steps += 1
                continue
            got = sum(n for _, n in served)
            if got < want:
                st.exhausted_steps += 1
            st.backlog_bits -= got * kb
            st.keys_served += got
            st.served_bits += got * kb
            for path, n in served:
                st.hop_keys += (len(path) - 1) * n
                st.routes[path] = st.routes.get(path, 0) + n
        net.clamp()
        for k, p in net.pools.items():
            min_fill[k] = min(min_fill[k], p.level)
    links: list[dict[str, Any]] = []
    for lk in topology.links:
        pool = net.pools[lk.key]
        links.append({
            "a": lk.a, "b": lk.b, "length_km": round(lk.length_m / 1e3, 3),
            "key_rate_bps": net.rates[lk.key], "generated_bits": int(pool.generated_bits),
            "consumed_bits": pool.consumed_bits, "discarded_bits": int(pool.discarded_bits),
            "pool_bits": pool.bits, "pool_fill": pool.level, "min_pool_fill": min_fill[lk.key],
            "up": lk.key not in net.down,
        })
    pairs: list[dict[str, Any]] = []
    for (ps, pd), st in stats.items():
        routes = sorted(st.routes.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))
        pairs.append({
            "src": ps, "dst": pd, "requested_bits": st.requested_bits, "served_bits": st.served_bits,
            "served_fraction": min(1.0, st.served_bits / st.requested_bits) if st.requested_bits else 1.0,
            "keys_served": st.keys_served, "backlog_bits": int(st.backlog_bits),
            "exhausted_steps": st.exhausted_steps, "no_route_steps": st.no_route_steps,
            "mean_hops": st.hop_keys / st.keys_served if st.keys_served else None,
            "distinct_routes": len(routes),
            "routes": [{"path": list(path), "keys": n} for path, n in routes],
        })
    req = sum(p["requested_bits"] for p in pairs)
    srv = sum(p["served_bits"] for p in pairs)
    totals = {"nodes": len(topology.nodes), "links": len(topology.links), "pairs": len(pairs),
              "requested_bits": req, "served_bits": srv,
              "served_fraction": min(1.0, srv / req) if req else 1.0,
              "generated_bits": sum(lk["generated_bits"] for lk in links),
              "consumed_bits": sum(lk["consumed_bits"] for lk in links),
              "min_link_rate_bps": min(net.rates.values()), "links_down": len(net.down),
              "cuts": len(spec.cuts)}
    return SimulationReport(topology.name, hours, step_s, tuple(links), tuple(pairs), totals), net
