"""The transpiler's view of a processor: qubits, couplers, native gates, errors, distances."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import TranspileError
from ..circuit.gates import GATES

UNREACHABLE = 10**6


@dataclass(frozen=True)
class Target:
    """Qubit count, undirected couplers ``(a, b)`` with ``a < b``, native gate names, optional
    per-qubit / per-coupler error rates, and the hop-distance matrix (``UNREACHABLE`` across
    disconnected regions)."""

    name: str
    num_qubits: int
    edges: tuple[tuple[int, int], ...]
    native: frozenset[str]
    all_to_all: bool = False
    error_1q: tuple[float, ...] | None = None
    readout_error: tuple[float, ...] | None = None
    error_2q: dict[tuple[int, int], float] = field(default_factory=dict)
    dist: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    neighbors: tuple[tuple[int, ...], ...] = ()
    components: tuple[tuple[int, ...], ...] = ()

    def edge_error(self, a: int, b: int) -> float:
        return self.error_2q.get((min(a, b), max(a, b)), 0.0)


def _bfs_all(n: int, nbrs: Sequence[Sequence[int]]) -> np.ndarray:
    dist = np.full((n, n), UNREACHABLE, dtype=np.int64)
    for s in range(n):
        dist[s, s] = 0
        dq = deque([s])
        while dq:
            x = dq.popleft()
            for y in nbrs[x]:
                if dist[s, y] == UNREACHABLE:
                    dist[s, y] = dist[s, x] + 1
                    dq.append(y)
    return dist


def build_target(
    device: Any = None,
    *,
    calibration: Any = None,
    coupling: Iterable[Sequence[int]] | None = None,
    basis: Iterable[str] | None = None,
    num_qubits: int | None = None,
) -> Target:
    """A :class:`Target` from a device (duck-typed: ``name``, ``num_qubits``, ``couplers``,
    ``native_gates``) and/or explicit ``coupling`` pairs and ``basis`` names."""
    name = "custom"
    n = num_qubits
    couplers: list[tuple[int, int]] | None = None
    native: set[str] | None = None
    if device is not None:
        name = str(getattr(device, "name", "device"))
        n = int(device.num_qubits)
        dc = getattr(device, "couplers", None)
        couplers = None if dc is None else [(int(a), int(b)) for a, b in dc]
        if (couplers is None and coupling is None and num_qubits is not None
                and calibration is None and getattr(device, "calibration_model", 0) is None):
            # a noiseless all-to-all device (ideal): its qubits are interchangeable, so the
            # circuit keeps its own width
            n = min(n, int(num_qubits))
        native = set(getattr(device, "native_gates", ()) or GATES)
    if coupling is not None:
        couplers = [(int(a), int(b)) for a, b in coupling]
        if device is None:
            top = max((max(a, b) for a, b in couplers), default=-1) + 1
            n = max(top, n or 0)
    if basis is not None:
        native = {str(b).lower() for b in basis}
    if native is None:
        native = set(GATES)
    if n is None:
        raise TranspileError("transpile: give a device, a coupling map or num_qubits")
    all_to_all = couplers is None
    if couplers is None:
        couplers = [(a, b) for a in range(n) for b in range(a + 1, n)]
    edges: set[tuple[int, int]] = set()
    for a, b in couplers:
        if a == b or not (0 <= a < n and 0 <= b < n):
            raise TranspileError(f"coupler ({a}, {b}) is invalid for {n} qubits on '{name}'")
        edges.add((min(a, b), max(a, b)))
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for a, b in sorted(edges):
        nbrs[a].append(b)
        nbrs[b].append(a)
    dist = _bfs_all(n, nbrs)
    seen = [False] * n
    comps = []
    for s in range(n):
        if not seen[s]:
            comp = [int(q) for q in np.nonzero(dist[s] < UNREACHABLE)[0]]
            for q in comp:
                seen[q] = True
            comps.append(tuple(comp))
    e1: tuple[float, ...] | None = None
    ro: tuple[float, ...] | None = None
    e2: dict[tuple[int, int], float] = {}
    if calibration is not None:
        qs = getattr(calibration, "qubits", None)
        if qs is not None:
            e1 = tuple(float(getattr(_get(qs, q), "error_1q", 0.0) or 0.0) for q in range(n))
            ro = tuple(
                0.5 * (float(getattr(_get(qs, q), "readout_p0_given_1", 0.0) or 0.0)
                       + float(getattr(_get(qs, q), "readout_p1_given_0", 0.0) or 0.0))
                for q in range(n))
        cs = getattr(calibration, "couplers", None)
        if cs is not None:
            items: Any = cs.items() if hasattr(cs, "items") else enumerate(cs)
            for key, val in items:
                a, b = (int(x) for x in key)
                e2[(min(a, b), max(a, b))] = float(getattr(val, "error_2q", 0.0) or 0.0)
    return Target(name, n, tuple(sorted(edges)), frozenset(native), all_to_all, e1, ro, e2, dist,
                  tuple(tuple(x) for x in nbrs), tuple(comps))


def _get(seq: Any, q: int) -> Any:
    try:
        return seq[q]
    except (KeyError, IndexError):
        return None
