"""Sycamore-style random circuits (random circuit sampling, RCS) on a rectangular grid.

Modelled on the circuits of Arute et al., "Quantum supremacy using a programmable superconducting
processor" (Nature 574, 2019): a *cycle* is a layer of random single-qubit gates from
{√X, √Y, √W} on every qubit (never the same gate twice in a row on one qubit) followed by
fSim(θ=π/2, φ=π/6) on the couplers of one of four patterns A, B, C, D, in the repeating
sequence ``ABCDCDAB``; the circuit ends with one more half-cycle of single-qubit gates.

Grid and patterns: qubit ``(r, c)`` of a ``rows × cols`` grid is qubit index ``r * cols + c``;
couplers join grid neighbours. On the grid (the Sycamore lattice drawn with its qubits as
``GridQubit(r, c)``) the patterns are the four staggered half-layers of couplers::

    A: vertical   (r, c)-(r+1, c)  with (r + c) even
    B: vertical   (r, c)-(r+1, c)  with (r + c) odd
    C: horizontal (r, c)-(r, c+1)  with (r + c) odd
    D: horizontal (r, c)-(r, c+1)  with (r + c) even

Each pattern is a matching (no qubit in two couplers) and together they hold every coupler once.

Examples:
    >>> pattern_couplers(2, 3, "D")
    [(0, 1), (4, 5)]
    >>> c = sycamore_rcs(2, 2, cycles=2, seed=0)
    >>> c.num_qubits, c.gate_counts["fsim"]
    (4, 2)
"""

from __future__ import annotations

import math

import numpy as np

from ..circuit import Circuit

PATTERN_SEQUENCE = "ABCDCDAB"
SINGLE_QUBIT_GATES = ("sx", "sy", "sw")
FSIM_THETA = math.pi / 2
FSIM_PHI = math.pi / 6


def pattern_couplers(rows: int, cols: int, pattern: str) -> list[tuple[int, int]]:
    """Couplers ``(a, b)`` (qubit indices, ``a < b``) active in ``pattern`` (``"A"``..``"D"``)."""
    if pattern not in ("A", "B", "C", "D"):
        raise ValueError(f"unknown coupler pattern {pattern!r} (choose from A, B, C, D)")
    vertical = pattern in ("A", "B")
    parity = 0 if pattern in ("A", "D") else 1
    out: list[tuple[int, int]] = []
    for r in range(rows):
        for c in range(cols):
            if (r + c) % 2 != parity:
                continue
            if vertical and r + 1 < rows:
                out.append((r * cols + c, (r + 1) * cols + c))
            elif not vertical and c + 1 < cols:
                out.append((r * cols + c, r * cols + c + 1))
    return out


def cycle_pattern(cycle: int) -> str:
    """The coupler pattern used in ``cycle`` (0-based): ``ABCDCDAB`` repeating."""
    return PATTERN_SEQUENCE[cycle % len(PATTERN_SEQUENCE)]


def grid_shape(n: int) -> tuple[int, int]:
    """A near-square ``(rows, cols)`` grid with ``rows * cols == n`` and ``rows <= cols``.

    Examples:
        >>> grid_shape(24), grid_shape(12), grid_shape(7)
        ((4, 6), (3, 4), (1, 7))
    """
    if n < 1:
        raise ValueError(f"grid needs at least one qubit, got {n}")
    rows = max(d for d in range(1, math.isqrt(n) + 1) if n % d == 0)
    return rows, n // rows


def sycamore_rcs(rows: int, cols: int, cycles: int = 14, seed: int = 0) -> Circuit:
    """A Sycamore-style random circuit on a ``rows × cols`` grid with ``cycles`` full cycles.

    The single-qubit layer of the first cycle draws uniformly from {sx, sy, sw}; later layers
    (including the final half-cycle) draw uniformly from the two gates that differ from the
    qubit's previous one. Two-qubit gates are ``fsim(π/2, π/6)``. Gate count:
    ``rows*cols*(cycles+1)`` single-qubit gates plus the couplers of each cycle's pattern.
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"grid must be at least 1x1, got {rows}x{cols}")
    n = rows * cols
    rng = np.random.default_rng(seed)
    c = Circuit(n, name=f"sycamore_rcs_{rows}x{cols}_{cycles}")
    previous = [-1] * n

    def single_qubit_layer() -> None:
        for q in range(n):
            if previous[q] < 0:
                g = int(rng.integers(0, 3))
            else:
                g = (previous[q] + 1 + int(rng.integers(0, 2))) % 3
            previous[q] = g
            c.append(SINGLE_QUBIT_GATES[g], q)

    couplers = {p: pattern_couplers(rows, cols, p) for p in "ABCD"}
    for cycle in range(cycles):
        single_qubit_layer()
        for a, b in couplers[cycle_pattern(cycle)]:
            c.fsim(FSIM_THETA, FSIM_PHI, a, b)
    single_qubit_layer()
    return c


__all__ = [
    "FSIM_PHI",
    "FSIM_THETA",
    "PATTERN_SEQUENCE",
    "SINGLE_QUBIT_GATES",
    "cycle_pattern",
    "grid_shape",
    "pattern_couplers",
    "sycamore_rcs",
]
