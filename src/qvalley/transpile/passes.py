"""Circuit → circuit passes over operation lists with an explicit global phase.

Each pass takes and returns ``(ops, phase)``; all are exact including the global phase.
"""

from __future__ import annotations

import cmath
from collections.abc import Callable, Sequence

import numpy as np

from .._errors import CircuitError, TranspileError
from ..circuit.circuit import Circuit, Operation
from ..circuit.gates import GATES, Barrier, Gate, OpaqueGate
from .synthesis import Step, num_cx, synthesize_1q, synthesize_2q

Ops = list[Operation]
_SWAP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=complex)
_SMALL = frozenset(name for name, spec in GATES.items() if spec.num_qubits <= 2)


_MAT_CACHE: dict[tuple[str, tuple[object, ...]], np.ndarray] = {}


def _mat(op: Operation) -> np.ndarray:
    """The gate's matrix; named gates with numeric parameters come from a cache (read-only)."""
    g = op.gate
    assert isinstance(g, Gate)
    if type(g) is not Gate or g.parameters:
        return g.matrix()
    key = (g.name, g.params)
    m = _MAT_CACHE.get(key)
    if m is None:
        m = g.matrix()
        m.setflags(write=False)
        if len(_MAT_CACHE) >= 8192:
            _MAT_CACHE.clear()
        _MAT_CACHE[key] = m
    return m


def _numeric(op: Operation) -> bool:
    return (isinstance(op.gate, Gate) and op.condition is None and not op.gate.parameters)


def unroll(circuit: Circuit) -> tuple[Ops, float]:
    """Gates on 3+ qubits lowered through their decompositions; barriers dropped."""
    try:
        low = circuit.expand(_SMALL)
    except CircuitError as exc:
        raise TranspileError(f"cannot unroll circuit: {exc}") from None
    ops: Ops = []
    for op in low.operations:
        if isinstance(op.gate, Barrier):
            continue
        if isinstance(op.gate, OpaqueGate):
            raise TranspileError(f"opaque gate '{op.name}' has no definition to transpile")
        if op.gate.num_qubits > 2:
            raise TranspileError(
                f"{op.gate.num_qubits}-qubit '{op.name}' cannot be decomposed by the transpiler")
        ops.append(op)
    return ops, _phase_float(low.global_phase)


def _phase_float(p: object) -> float:
    try:
        return float(p)  # type: ignore[arg-type]
    except Exception:
        raise TranspileError("circuit has a symbolic global phase; bind parameters first") from None


def _matrix2(op: Operation, a: int, b: int) -> np.ndarray:
    """4×4 matrix of a 1q/2q op in the (a=bit0, b=bit1) frame."""
    m = _mat(op)
    if len(op.qubits) == 1:
        return np.kron(np.eye(2), m) if op.qubits[0] == a else np.kron(m, np.eye(2))
    return m if op.qubits == (a, b) else _SWAP @ m @ _SWAP


def _steps_to_ops(steps: Sequence[Step], qubits: tuple[int, ...]) -> Ops:
    return [Operation(g, tuple(qubits[i] for i in pos)) for g, pos in steps]


def consolidate_blocks(ops: Ops, cost2q: Callable[[Operation], int]) -> tuple[Ops, float]:
    """Collect runs of gates on one qubit pair, re-synthesize each with the fewest CX when that
    beats the block's current 2q cost."""
    out: Ops = []
    phase = 0.0
    pending: dict[int, Ops] = {}
    block_of: dict[int, int] = {}
    blocks: dict[int, tuple[tuple[int, int], Ops]] = {}
    next_id = 0

    def flush_q(q: int) -> None:
        bid = block_of.pop(q, None)
        if bid is not None:
            close(bid)
        out.extend(pending.pop(q, []))

    def close(bid: int) -> None:
        nonlocal phase
        (a, b), bops = blocks.pop(bid)
        for q in (a, b):
            if block_of.get(q) == bid:
                del block_of[q]
        old = sum(cost2q(o) for o in bops if len(o.qubits) == 2)
        nonnative = any(len(o.qubits) == 2 and cost2q(o) != 1 for o in bops)
        if old == 0 or (old == 1 and not nonnative):
            out.extend(bops)
            return
        u = np.eye(4, dtype=complex)
        for o in bops:
            u = _matrix2(o, a, b) @ u
        ncx = num_cx(u)
        if ncx > old or (ncx == old and not nonnative):
            out.extend(bops)
            return
        res = synthesize_2q(u)
        if res is None:
            out.extend(bops)
            return
        steps, ph = res
        out.extend(_steps_to_ops(steps, (a, b)))
        phase += ph

    for op in ops:
        qs = op.qubits
        if not _numeric(op):
            for q in qs:
                flush_q(q)
            out.append(op)
        elif len(qs) == 1:
            q = qs[0]
            if q in block_of:
                blocks[block_of[q]][1].append(op)
            else:
                pending.setdefault(q, []).append(op)
        else:
            a, b = qs
            if a in block_of and block_of.get(b) == block_of[a]:
                blocks[block_of[a]][1].append(op)
                continue
            for q in qs:
                bid = block_of.get(q)
                if bid is not None:
                    close(bid)
            bops = pending.pop(a, []) + pending.pop(b, []) + [op]
            blocks[next_id] = ((a, b), bops)
            block_of[a] = block_of[b] = next_id
            next_id += 1
    for bid in sorted(blocks):
        close(bid)
    for q in sorted(pending):
        out.extend(pending[q])
    return out, phase


def lower_2q(ops: Ops, native: frozenset[str]) -> tuple[Ops, float]:
    """Every 2q gate becomes ``cx`` plus 1q gates unless it is native (or cx/cz)."""
    out: Ops = []
    phase = 0.0
    keep = native | {"cx", "cz"}
    for op in ops:
        if len(op.qubits) != 2 or op.name in keep:
            out.append(op)
            continue
        g = op.gate
        if op.name == "swap":  # three CNOTs: minimal, exact, and Clifford (KAK would not be)
            a, b = op.qubits
            out += [Operation(Gate("cx"), qs, (), op.condition) for qs in ((a, b), (b, a), (a, b))]
            continue
        res = synthesize_2q(_mat(op)) if _numeric(op) else None
        if res is None:
            sub = Circuit(2, 0, [Operation(g, (0, 1), (), None)]).expand(("u", "cx"))
            if op.condition is not None and float(sub.global_phase) != 0:
                raise TranspileError(f"cannot lower conditional '{op.name}' exactly")
            out.extend(Operation(o.gate, tuple(op.qubits[i] for i in o.qubits), (), op.condition)
                       for o in sub.operations)
            phase += _phase_float(sub.global_phase)
            continue
        steps, ph = res
        out.extend(_steps_to_ops(steps, op.qubits))
        phase += ph
    return out, phase


def translate_2q(ops: Ops, native: frozenset[str], name: str) -> Ops:
    """``cx``/``cz`` to the native entangler (cx, cz, or fsim(0, π) = CZ)."""
    out: Ops = []
    h = Gate("h")
    for op in ops:
        if len(op.qubits) != 2 or op.name in native:
            out.append(op)
            continue
        if op.name not in ("cx", "cz"):
            raise TranspileError(f"internal: unlowered 2-qubit gate '{op.name}'")
        c, t = op.qubits
        cond = op.condition
        if op.name == "cx" and "cz" not in native and "fsim" not in native and "cx" in native:
            out.append(op)
            continue
        if "cz" in native:
            core = Operation(Gate("cz"), (c, t), (), cond)
        elif "fsim" in native:
            core = Operation(Gate("fsim", (0.0, np.pi)), (c, t), (), cond)
        elif "cx" in native:  # cz via cx
            out += [Operation(h, (t,), (), cond), Operation(Gate("cx"), (c, t), (), cond),
                    Operation(h, (t,), (), cond)]
            continue
        else:
            raise TranspileError(
                f"device '{name}' has no supported two-qubit native gate (cx, cz or fsim) in "
                f"{sorted(native)}")
        if op.name == "cx":
            out += [Operation(h, (t,), (), cond), core, Operation(h, (t,), (), cond)]
        else:
            out.append(core)
    return out


def cancel_pairs(ops: Ops) -> Ops:
    """Remove adjacent self-inverse 2q pairs (cx·cx, cz·cz, swap·swap, fsim(0,π)²) on the same
    qubits, commuting cz through diagonal 1q gates."""
    out: list[Operation | None] = []
    last: dict[int, list[int]] = {}
    selfinv = {"cx", "cz", "swap", "cy"}
    for op in ops:
        qs = op.qubits
        name = op.name if len(qs) == 2 else ""
        sym = name in ("cz", "swap") or (name == "fsim" and op.gate.params == (0.0, np.pi))
        if name and (name in selfinv or sym) and _numeric(op):
            j = _prev_match(out, last, op, sym)
            if j is not None:
                out[j] = None
                for q in qs:
                    lst = last[q]
                    k = len(lst) - 1  # j sits at (or just before) the end: search backwards
                    while lst[k] != j:
                        k -= 1
                    del lst[k]
                continue
        idx = len(out)
        out.append(op)
        for q in qs:
            last.setdefault(q, []).append(idx)
    return [o for o in out if o is not None]


def _prev_match(out: list[Operation | None], last: dict[int, list[int]], op: Operation,
                sym: bool) -> int | None:
    a, b = op.qubits
    diag_ok = op.name == "cz" or (op.name == "fsim")
    cands = []
    for q in (a, b):
        lst = last.get(q, [])
        k = len(lst) - 1
        while k >= 0:
            o = out[lst[k]]
            if o is not None and len(o.qubits) == 1 and diag_ok and _numeric(o) and \
                    o.gate.is_diagonal:  # type: ignore[attr-defined]
                k -= 1
                continue
            break
        cands.append(lst[k] if k >= 0 else None)
    if cands[0] is None or cands[0] != cands[1]:
        return None
    prev = out[cands[0]]
    if prev is None or prev.gate != op.gate or prev.condition is not None:
        return None
    if prev.qubits == op.qubits or (sym and set(prev.qubits) == set(op.qubits)):
        return cands[0]
    return None


def merge_1q(ops: Ops, native: frozenset[str], name: str) -> tuple[Ops, float]:
    """Merge runs of numeric 1q gates per qubit and re-synthesize them into native gates."""
    out: Ops = []
    phase = 0.0
    run: dict[int, Ops] = {}

    def flush(q: int) -> None:
        nonlocal phase
        r = run.pop(q, [])
        if not r:
            return
        if len(r) == 1 and r[0].name in native and r[0].name != "unitary":
            if r[0].name not in ("id",):
                out.append(r[0])
            return
        m = np.eye(2, dtype=complex)
        for o in r:
            m = _mat(o) @ m
        res = synthesize_1q(m, native)
        if res is None:
            raise TranspileError(
                f"device '{name}' native gates {sorted(native)} cannot express 1-qubit gates "
                f"(need u, rz+sx or rz+ry)")
        gates, ph = res
        if all(o.name in native for o in r) and len(r) <= len(gates):
            out.extend(r)
            return
        out.extend(Operation(g, (q,)) for g in gates)
        phase += ph

    for op in ops:
        if _numeric(op) and len(op.qubits) == 1:
            run.setdefault(op.qubits[0], []).append(op)
            continue
        for q in op.qubits:
            flush(q)
        if len(op.qubits) == 1 and op.gate.is_unitary and op.name not in native:
            # conditional or symbolic 1q gate that is not native
            out.extend(_lower_special_1q(op, native, name))
            continue
        out.append(op)
    for q in sorted(run):
        flush(q)
    return out, phase


def _lower_special_1q(op: Operation, native: frozenset[str], name: str) -> Ops:
    if op.condition is not None and not op.gate.parameters:
        res = synthesize_1q(_mat(op), native)
        if res is not None and abs(cmath.exp(1j * res[1]) - 1) < 1e-12:
            return [Operation(g, op.qubits, (), op.condition) for g in res[0]]
    raise TranspileError(
        f"gate '{op.name}' (conditional or symbolic) is not native on '{name}' and cannot be "
        f"translated exactly; bind parameters or use native gates")
