"""Text diagrams of circuits: one wire per qubit, time left to right."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .gates import Barrier, Measure, Reset
from .parameter import ParameterExpression

if TYPE_CHECKING:
    from .circuit import Circuit, Operation

_CONTROLLED = {"cx": (1, "X"), "cy": (1, "Y"), "cz": (1, "Z"), "ch": (1, "H"), "cp": (1, "P"),
               "crx": (1, "RX"), "cry": (1, "RY"), "crz": (1, "RZ"), "cu": (1, "U"),
               "cs": (1, "S"), "csdg": (1, "Sdg"), "csx": (1, "SX"), "ccx": (2, "X"),
               "ccz": (2, "Z"), "cswap": (1, "x")}


def _fmt(p: object) -> str:
    if isinstance(p, ParameterExpression):
        return str(p)
    return f"{float(p):.3g}"  # type: ignore[arg-type]


def _labels(op: Operation) -> dict[int, str]:
    g = op.gate
    params = f"({','.join(_fmt(p) for p in g.params)})" if g.params else ""
    if isinstance(g, Measure):
        return {op.qubits[0]: f"M→c{op.clbits[0]}"}
    if isinstance(g, Reset):
        return {op.qubits[0]: "|0>"}
    if isinstance(g, Barrier):
        return {q: "░" for q in op.qubits}
    if g.name == "swap":
        return {q: "x" for q in op.qubits}
    if g.name in _CONTROLLED:
        nc, t = _CONTROLLED[g.name]
        out = {q: "●" for q in op.qubits[:nc]}
        for q in op.qubits[nc:]:
            out[q] = t + params if t != "x" else "x"
        return out
    name = g.name.upper() if len(g.name) <= 2 else g.name
    if g.num_qubits == 1:
        return {op.qubits[0]: name + params}
    return {q: f"{name}{params}[{i}]" for i, q in enumerate(op.qubits)}


def draw(circuit: Circuit) -> str:
    """Render ``circuit`` as text. Operations are packed into the earliest free column."""
    n = circuit.num_qubits
    columns: list[dict[int, str]] = []
    spans: list[list[tuple[int, int]]] = []
    level = [0] * n
    for op in circuit.operations:
        if not op.qubits:
            continue
        labels = _labels(op)
        if op.condition is not None:
            c = op.condition
            for q in labels:
                labels[q] += f" if c{list(c.clbits)}=={c.value}"
        lo, hi = min(op.qubits), max(op.qubits)
        col = max(level[q] for q in range(lo, hi + 1))
        while len(columns) <= col:
            columns.append({})
            spans.append([])
        for q in range(lo, hi + 1):
            level[q] = col + 1
        columns[col].update(labels)
        spans[col].append((lo, hi))
    lines = [f"q{q}: " for q in range(n)]
    width = max(len(s) for s in lines) if lines else 0
    lines = [s.rjust(width) for s in lines]
    for cells, span in zip(columns, spans):
        w = max([len(s) for s in cells.values()] + [1])
        for q in range(n):
            if q in cells:
                cell = cells[q].center(w, "─")
            elif any(a < q < b for a, b in span):
                cell = "│".center(w, "─")
            else:
                cell = "─" * w
            lines[q] += "─" + cell + "─"
    for q in range(n):
        lines[q] += "─"
    header = f"Circuit({circuit.num_qubits} qubits, {circuit.num_clbits} clbits)"
    return "\n".join([header, *lines])
