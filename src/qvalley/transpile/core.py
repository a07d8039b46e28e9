"""``transpile``: unroll → noise-aware layout → SABRE routing → optimisation → native gates."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..circuit.circuit import Circuit, Operation
from ..circuit.gates import Barrier, Gate
from .passes import (
    Ops,
    _mat,
    cancel_pairs,
    consolidate_blocks,
    lower_2q,
    merge_1q,
    translate_2q,
    unroll,
)
from .routing import Dag, check_fits, greedy_layout, sabre_route, sabre_route_arrays
from .synthesis import num_cx
from .target import Target, build_target


@dataclass(frozen=True)
class TranspileResult:
    """A circuit over the device's physical qubits plus the layouts.

    ``initial_layout[v]`` / ``final_layout[v]``: physical qubit holding virtual qubit ``v`` before
    the circuit / after the routing SWAPs.
    """

    circuit: Circuit
    initial_layout: list[int]
    final_layout: list[int]
    two_qubit_gates: int
    depth: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "initial_layout": list(self.initial_layout),
            "final_layout": list(self.final_layout),
            "two_qubit_gates": self.two_qubit_gates,
            "depth": self.depth,
            "seconds": self.seconds,
        }


def _bits(op: Operation) -> tuple[int, ...]:
    return op.clbits + (op.condition.clbits if op.condition else ())


def _route(ops: Ops, target: Target, layout: list[int], seed: int, dag: Dag | None = None,
           seen: set[tuple[object, ...]] | None = None) -> tuple[Ops, list[int]] | None:
    """Route and rewrite operations onto physical qubits; None when ``seen`` already holds the
    same (layout, SWAP sequence): that trial would repeat an earlier one exactly."""
    if dag is None:
        dag = Dag([o.qubits for o in ops], [_bits(o) for o in ops])
    steps, final, _ = sabre_route(dag, target, layout, np.random.default_rng(seed))
    if seen is not None:
        key = (tuple(layout), tuple(steps))
        if key in seen:
            return None
        seen.add(key)
    l2p = list(layout)
    p2l = [0] * len(l2p)
    for v, p in enumerate(l2p):
        p2l[p] = v
    out: Ops = []
    swap = Gate("swap")
    for i, p, q in steps:
        if i < 0:
            out.append(Operation(swap, (p, q)))
            vp, vq = p2l[p], p2l[q]
            p2l[p], p2l[q] = vq, vp
            l2p[vp], l2p[vq] = q, p
            continue
        op = ops[i]
        out.append(Operation(op.gate, tuple(l2p[v] for v in op.qubits), op.clbits,
                             op.condition))
    assert l2p == final
    return out, final


def _skeleton_swaps(dag: Dag, rdag: Dag, target: Target, layout: list[int], seed: int,
                    iterations: int) -> tuple[list[int], int]:
    """SABRE forward-backward layout refinement; returns the refined layout and its swap count."""
    rng = np.random.default_rng(seed)
    lay = list(layout)
    for _ in range(iterations):
        _, fin, _ = sabre_route_arrays(dag, target, lay, rng)
        _, back, _ = sabre_route_arrays(rdag, target, fin, rng)
        lay = [int(x) for x in back]
    _, _, ns = sabre_route_arrays(dag, target, lay, rng)
    return lay, ns


def _cost_fn(native: frozenset[str]) -> Any:
    cache: dict[object, int] = {}

    def cost(op: Operation) -> int:
        if op.name in native or op.name in ("cx", "cz"):
            return 1
        key = op.gate
        if key not in cache:
            cache[key] = num_cx(_mat(op)) if not op.gate.parameters else 3
        return cache[key]

    return cost


def _optimize_and_translate(ops: Ops, target: Target, level: int) -> tuple[Ops, float]:
    native = target.native
    phase = 0.0
    if level >= 1:
        ops = cancel_pairs(ops)
    if level >= 2:
        ops, ph = consolidate_blocks(ops, _cost_fn(native))
        phase += ph
    ops, ph = lower_2q(ops, native)
    phase += ph
    ops = translate_2q(ops, native, target.name)
    if level >= 1:
        ops = cancel_pairs(ops)
    ops, ph = merge_1q(ops, native, target.name)
    phase += ph
    if level >= 1:
        n0 = len(ops)
        ops = cancel_pairs(ops)
        if len(ops) != n0:
            ops, ph = merge_1q(ops, native, target.name)
            phase += ph
    return ops, phase


def transpile(
    circuit: Circuit,
    device: Any = None,
    *,
    calibration: Any = None,
    coupling: Any = None,
    basis: Any = None,
    seed: int = 0,
    optimization_level: int = 2,
) -> TranspileResult:
    """Map ``circuit`` onto a device's coupling map and native gates, exactly (global phase too).

    Args:
        circuit: the input circuit (virtual qubits ``0..n-1``).
        device: duck-typed device with ``name``, ``num_qubits``, ``couplers`` (None = all-to-all)
            and ``native_gates``.
        calibration: optional; ``qubits[q].error_1q``, readout errors and
            ``couplers[(a, b)].error_2q`` steer the layout toward good qubits.
        coupling: explicit coupler pairs (overrides the device's).
        basis: explicit native gate names (overrides the device's).
        seed: seeds the routing trials; same seed, same result.
        optimization_level: 0 (route and translate), 1 (+ 1q merging, pair cancellation),
            2 or 3 (+ two-qubit block re-synthesis with the fewest CNOTs, more trials at 3).

    Returns:
        :class:`TranspileResult` whose circuit acts on the device's physical qubits.

    Examples:
        >>> from qvalley import Circuit
        >>> r = transpile(Circuit(3).h(0).cx(0, 2), coupling=[(0, 1), (1, 2)], basis=["cz", "sx", "rz"])
        >>> r.two_qubit_gates
        1
    """
    t0 = time.perf_counter()
    target = build_target(device, calibration=calibration, coupling=coupling, basis=basis,
                          num_qubits=circuit.num_qubits)
    n = circuit.num_qubits
    ops, phase = unroll(circuit)
    pairs = [(o.qubits[0], o.qubits[1]) for o in ops if len(o.qubits) == 2]
    check_fits(n, pairs, target)
    nphys = target.num_qubits
    rng = np.random.default_rng(seed)
    trivial = list(range(nphys))
    if n == nphys and all(target.dist[a, b] == 1 for a, b in pairs):
        layouts = [trivial]  # already written over the device's qubits, on its couplers
    else:
        layouts = [greedy_layout(n, pairs, target, rng)]
    needs_routing = any(target.dist[layouts[0][a], layouts[0][b]] != 1 for a, b in pairs)
    if needs_routing and not target.all_to_all:
        skel = [(a, b) for a, b in pairs]
        dag = Dag(skel, [()] * len(skel))
        rdag = Dag(skel[::-1], [()] * len(skel))
        level = optimization_level
        ncand = 2 if level <= 1 else 4 if level == 2 else 8
        cands = [layouts[0]]
        for k in range(1, ncand):
            if k % 2 == 1 and len(target.components) == 1:
                perm = [int(x) for x in rng.permutation(nphys)]
                cands.append(perm)
            else:
                cands.append(greedy_layout(n, pairs, target, rng, jitter=0.5))
        scored = []
        for k, lay in enumerate(cands):
            ref, ns = _skeleton_swaps(dag, rdag, target, lay, seed + 101 * k,
                                      iterations=2 if level >= 2 else 1)
            scored.append((ns, k, ref))
            scored.append((_skeleton_swaps(dag, rdag, target, lay, seed, 0)[1], k + 1000, lay))
        scored.sort(key=lambda x: (x[0], x[1]))
        layouts = [s[2] for s in scored[: (2 if level >= 2 else 1)]]
    best: tuple[tuple[float, ...], Ops, float, list[int], list[int]] | None = None
    trials = 1 if not needs_routing else (2 if optimization_level >= 2 else 1)
    full_dag = Dag([o.qubits for o in ops], [_bits(o) for o in ops])
    seen: set[tuple[object, ...]] = set()
    for li, lay in enumerate(layouts):
        for tr in range(trials):
            got = _route(ops, target, lay, seed + 7919 * tr + li, full_dag, seen)
            if got is None:
                continue  # same routing as an earlier trial: same result, and ties keep the first
            routed, final = got
            out_ops, ph = _optimize_and_translate(routed, target, optimization_level)
            n2 = sum(1 for o in out_ops if len(o.qubits) == 2)
            score: tuple[float, ...] = (_error_score(out_ops, target, n2),
                                        ops_depth(out_ops, nphys, circuit.num_clbits))
            if best is None or score < best[0]:
                best = (score, out_ops, ph, lay, final)
    assert best is not None
    _, out_ops, ph, lay, final = best
    total_phase = float((phase + ph + np.pi) % (2 * np.pi) - np.pi)
    out = Circuit(nphys, circuit.num_clbits, out_ops, total_phase, (), circuit.cregs,
                  circuit.name)
    n2 = sum(1 for o in out_ops if len(o.qubits) == 2)
    return TranspileResult(out, list(lay[:n]), list(final[:n]), n2, out.depth(),
                           time.perf_counter() - t0)


def ops_depth(ops: Ops, num_qubits: int, num_clbits: int) -> int:
    """:meth:`Circuit.depth` of an operation list, without building (and validating) a Circuit."""
    qlev = [0] * num_qubits
    clev = [0] * num_clbits
    for op in ops:
        bits = op.clbits + (op.condition.clbits if op.condition else ())
        start = 0
        for q in op.qubits:
            if qlev[q] > start:
                start = qlev[q]
        for c in bits:
            if clev[c] > start:
                start = clev[c]
        level = start if isinstance(op.gate, Barrier) else start + 1
        for q in op.qubits:
            qlev[q] = level
        for c in bits:
            clev[c] = level
    return max(qlev + clev + [0])


def _error_score(ops: Ops, target: Target, n2: int) -> float:
    """Fewest 2q gates; with calibration, the summed error estimate decides."""
    if not target.error_2q and target.readout_error is None:
        return float(n2)
    s = 0.0
    mean2 = float(np.mean(list(target.error_2q.values()))) if target.error_2q else 0.01
    for o in ops:
        if len(o.qubits) == 2:
            s += target.error_2q.get((min(o.qubits), max(o.qubits)), mean2)
        elif o.name == "measure" and target.readout_error is not None:
            s += target.readout_error[o.qubits[0]]
        elif len(o.qubits) == 1 and target.error_1q is not None and o.name != "rz":
            s += target.error_1q[o.qubits[0]]
    return s


__all__ = ["TranspileResult", "transpile"]
