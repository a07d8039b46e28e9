"""Trusted-node QKD network topologies: nodes, fibre links, JSON files with clear errors.

A topology file is JSON::

    {"name": "...", "defaults": {"alpha_db_per_km": 0.2, ...},
     "nodes": [{"name": "SSE", "role": "exchange", "lat": 31.23, "lon": 121.50,
                "sae_ids": ["SSE-SAE"]}],
     "links": [{"a": "SSE", "b": "BOC", "length_km": 12.5, "params": {...}, "key_rate_bps": 1e4}]}

Lengths are km at the file edge and metres in code. ``params`` overrides
:class:`qvalley.network.qkd.LinkParameters` fields per link; ``key_rate_bps`` (optional) pins a
measured secret-key rate instead of computing it from the link physics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .._errors import QValleyError

ROLES = ("exchange", "bank", "government", "datacentre", "relay", "clearing", "insurer", "backbone")


class NetworkError(QValleyError):
    """A QKD network topology, demand or key request is invalid or cannot be served."""


class TopologyError(NetworkError, ValueError):
    """A topology file is malformed; the message names the file and the node or link."""


@dataclass(frozen=True)
class Node:
    """A trusted node (a KME site) of the network."""

    name: str
    role: str
    lat: float
    lon: float
    sae_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "lat": self.lat, "lon": self.lon,
                "sae_ids": list(self.sae_ids)}


@dataclass(frozen=True)
class Link:
    """A fibre QKD link between two nodes; ``length_m`` in metres."""

    a: str
    b: str
    length_m: float
    params: tuple[tuple[str, float], ...] = ()
    key_rate_bps: float | None = None

    @property
    def key(self) -> tuple[str, str]:
        """The undirected link name, sorted."""
        return (self.a, self.b) if self.a <= self.b else (self.b, self.a)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"a": self.a, "b": self.b, "length_km": self.length_m / 1e3}
        if self.params:
            out["params"] = dict(self.params)
        if self.key_rate_bps is not None:
            out["key_rate_bps"] = self.key_rate_bps
        return out


@dataclass(frozen=True)
class Topology:
    """A validated network: nodes, links, default link parameters."""

    name: str
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    defaults: tuple[tuple[str, float], ...] = ()
    source: str = "<topology>"
    _index: dict[str, Node] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({n.name: n for n in self.nodes})

    def node(self, name: str) -> Node:
        """The node called ``name`` (``TopologyError`` naming the file if absent)."""
        try:
            return self._index[name]
        except KeyError:
            raise TopologyError(f"{self.source}: no node {name!r}") from None

    def node_of_sae(self, sae_id: str) -> Node | None:
        """The node an SAE is attached to, or ``None``."""
        for n in self.nodes:
            if sae_id in n.sae_ids:
                return n
        return None

    def link_parameters(self, link: Link) -> dict[str, float]:
        """The merged physics parameters of ``link`` (defaults, then the link's overrides)."""
        merged = dict(self.defaults)
        merged.update(dict(link.params))
        return merged

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "defaults": dict(self.defaults),
                "nodes": [n.to_json() for n in self.nodes], "links": [lk.to_json() for lk in self.links]}

    @classmethod
    def from_json(cls, data: Any, source: str = "<topology>") -> Topology:
        """Validate and build a topology from parsed JSON."""
        def bad(msg: str) -> TopologyError:
            return TopologyError(f"{source}: {msg}")

        if not isinstance(data, dict):
            raise bad("top level must be a JSON object")
        name = data.get("name", Path(source).stem)
        defaults = data.get("defaults", {})
        if not isinstance(defaults, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in defaults.values()):
            raise bad("'defaults' must be an object of numbers")
        raw_nodes = data.get("nodes")
        if not isinstance(raw_nodes, list) or len(raw_nodes) < 2:
            raise bad("'nodes' must be a list of at least two nodes")
        nodes: list[Node] = []
        seen: set[str] = set()
        saes: dict[str, str] = {}
        for i, rn in enumerate(raw_nodes):
            if not isinstance(rn, dict) or not isinstance(rn.get("name"), str) or not rn["name"]:
                raise bad(f"node #{i} needs a non-empty string 'name'")
            nm = rn["name"]
            if nm in seen:
                raise bad(f"node {nm!r} is defined twice")
            seen.add(nm)
            role = rn.get("role", "relay")
            if role not in ROLES:
                raise bad(f"node {nm!r}: unknown role {role!r} (one of {', '.join(ROLES)})")
            try:
                lat, lon = float(rn["lat"]), float(rn["lon"])
            except (KeyError, TypeError, ValueError):
                raise bad(f"node {nm!r} needs numeric 'lat' and 'lon'") from None
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise bad(f"node {nm!r}: coordinates out of range")
            sae_ids = rn.get("sae_ids", [f"{nm}-SAE"])
            if not isinstance(sae_ids, list) or not all(isinstance(s, str) and s for s in sae_ids):
                raise bad(f"node {nm!r}: 'sae_ids' must be a list of strings")
            for s in sae_ids:
                if s in saes:
                    raise bad(f"SAE {s!r} is attached to both {saes[s]!r} and {nm!r}")
                saes[s] = nm
            nodes.append(Node(nm, role, lat, lon, tuple(sae_ids)))
        raw_links = data.get("links")
        if not isinstance(raw_links, list) or not raw_links:
            raise bad("'links' must be a non-empty list")
        links: list[Link] = []
        seen_links: set[tuple[str, str]] = set()
        for i, rl in enumerate(raw_links):
            if not isinstance(rl, dict):
                raise bad(f"link #{i} must be an object")
            a, b = rl.get("a"), rl.get("b")
            label = f"link #{i} ({a}-{b})"
            if a not in seen or b not in seen:
                missing = a if a not in seen else b
                raise bad(f"{label}: unknown node {missing!r}")
            if a == b:
                raise bad(f"{label}: a link needs two different nodes")
            try:
                length_km = float(rl["length_km"])
            except (KeyError, TypeError, ValueError):
                raise bad(f"{label}: needs a numeric 'length_km'") from None
            if not 0 < length_km < 1000:
                raise bad(f"{label}: length_km {length_km} must be in (0, 1000)")
            params = rl.get("params", {})
            if not isinstance(params, dict) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in params.values()):
                raise bad(f"{label}: 'params' must be an object of numbers")
            rate = rl.get("key_rate_bps")
            if rate is not None and (not isinstance(rate, (int, float)) or rate < 0):
                raise bad(f"{label}: 'key_rate_bps' must be a non-negative number")
            lk = Link(str(a), str(b), length_km * 1e3, tuple(sorted(params.items())),
                      None if rate is None else float(rate))
            if lk.key in seen_links:
                raise bad(f"{label}: duplicate link")
            seen_links.add(lk.key)
            links.append(lk)
        return cls(str(name), tuple(nodes), tuple(links), tuple(sorted(defaults.items())), source)


def builtin_topologies() -> list[str]:
    """Names of the shipped topologies (``metro-38``, ``beijing-shanghai``)."""
    files = resources.files("qvalley.network").joinpath("data")
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".json"))


def load_topology(path_or_name: str | Path) -> Topology:
    """Load a topology file, or a shipped one by name (``metro-38``, ``beijing-shanghai``)."""
    p = Path(path_or_name)
    if not p.exists() and str(path_or_name) in builtin_topologies():
        text = resources.files("qvalley.network").joinpath(f"data/{path_or_name}.json").read_text()
        source = str(path_or_name)
    else:
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            hint = "" if p.exists() else f"; shipped topologies: {', '.join(builtin_topologies())}"
            raise TopologyError(f"{p}: cannot read topology ({exc.strerror or exc}){hint}") from None
        except UnicodeDecodeError:
            raise TopologyError(f"{p}: topology file is not UTF-8 text") from None
        source = str(p)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TopologyError(f"{source}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    return Topology.from_json(data, source)
