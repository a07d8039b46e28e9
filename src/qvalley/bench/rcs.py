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

and the four *aligned* ones of the easier-to-simulate "EFGH" circuits::

    E: horizontal (r, c)-(r, c+1)  with c even
    F: horizontal (r, c)-(r, c+1)  with c odd
    G: vertical   (r, c)-(r+1, c)  with r even
    H: vertical   (r, c)-(r+1, c)  with r odd

Each pattern is a matching (no qubit in two couplers); ABCD together hold every coupler once, and
so do EFGH. :func:`grid_patterns` computes them for any set of grid sites (a device's layout).

Examples:
    >>> pattern_couplers(2, 3, "D")
    [(0, 1), (4, 5)]
    >>> c = sycamore_rcs(2, 2, cycles=2, seed=0)
    >>> c.num_qubits, c.gate_counts["fsim"]
    (4, 2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..circuit import Circuit

PATTERN_SEQUENCE = "ABCDCDAB"
SINGLE_QUBIT_GATES = ("sx", "sy", "sw")
FSIM_THETA = math.pi / 2
FSIM_PHI = math.pi / 6


PATTERNS = "ABCDEFGH"


def grid_patterns(sites: Sequence[tuple[int, int]]) -> dict[str, list[tuple[int, int]]]:
    """The couplers of each pattern ``A``..``H`` on grid ``sites`` (qubit ``q`` at ``sites[q]``,
    couplers between sites one step apart), each list of ``(a, b)`` with ``a < b``, sorted.

    Examples:
        >>> grid_patterns([(0, 0), (0, 1), (1, 0), (1, 1)])["A"]
        [(0, 2)]
    """
    index = {(int(r), int(c)): q for q, (r, c) in enumerate(sites)}
    if len(index) != len(sites):
        raise ValueError("grid sites must be distinct")
    out: dict[str, list[tuple[int, int]]] = {p: [] for p in PATTERNS}
    for (r, c), a in index.items():
        for vertical, other in ((True, (r + 1, c)), (False, (r, c + 1))):
            b = index.get(other)
            if b is None:
                continue
            stagger = (r + c) % 2
            if vertical:
                letters = ("A" if stagger == 0 else "B", "G" if r % 2 == 0 else "H")
            else:
                letters = ("D" if stagger == 0 else "C", "E" if c % 2 == 0 else "F")
            for p in letters:
                out[p].append((min(a, b), max(a, b)))
    return {p: sorted(v) for p, v in out.items()}


def pattern_couplers(rows: int, cols: int, pattern: str) -> list[tuple[int, int]]:
    """Couplers ``(a, b)`` (qubit indices, ``a < b``) active in ``pattern`` (``"A"``..``"H"``) on a
    ``rows × cols`` grid."""
    if len(pattern) != 1 or pattern not in PATTERNS:
        raise ValueError(f"unknown coupler pattern {pattern!r} (choose from {', '.join(PATTERNS)})")
    return grid_patterns([(r, c) for r in range(rows) for c in range(cols)])[pattern]


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
    patterns = {p: pattern_couplers(rows, cols, p) for p in "ABCD"}
    return rcs_circuit(rows * cols, cycles, patterns, seed=seed,
                       name=f"sycamore_rcs_{rows}x{cols}_{cycles}")


def rcs_circuit(num_qubits: int, cycles: int, patterns: Mapping[str, Sequence[tuple[int, int]]],
                sequence: str = PATTERN_SEQUENCE, seed: int | np.random.Generator | None = 0,
                fsim_angles: Mapping[tuple[int, int], tuple[float, float]] | None = None,
                name: str | None = None) -> Circuit:
    """A random circuit: ``cycles`` cycles of a random single-qubit layer then fSim on the couplers
    of pattern ``sequence[cycle % len(sequence)]``, and a final single-qubit layer.

    ``patterns`` maps pattern letters to couplers (qubit pairs); ``fsim_angles`` gives a coupler's
    own ``(θ, φ)`` (default ``(π/2, π/6)``). The single-qubit gates never repeat on a qubit.
    """
    missing = sorted(set(sequence) - set(patterns))
    if missing or not sequence:
        raise ValueError(f"pattern sequence {sequence!r} uses unknown pattern(s) {missing} "
                         f"(available: {''.join(sorted(patterns))})")
    if cycles < 0:
        raise ValueError(f"cycles must be >= 0, got {cycles}")
    rng = np.random.default_rng(seed)
    c = Circuit(num_qubits, name=name)
    previous = [-1] * num_qubits
    angles = fsim_angles or {}

    def single_qubit_layer() -> None:
        for q in range(num_qubits):
            if previous[q] < 0:
                g = int(rng.integers(0, 3))
            else:
                g = (previous[q] + 1 + int(rng.integers(0, 2))) % 3
            previous[q] = g
            c.append(SINGLE_QUBIT_GATES[g], q)

    for cycle in range(cycles):
        single_qubit_layer()
        for a, b in patterns[sequence[cycle % len(sequence)]]:
            theta, phi = angles.get((min(a, b), max(a, b)), (FSIM_THETA, FSIM_PHI))
            c.fsim(theta, phi, a, b)
    single_qubit_layer()
    return c


__all__ = [
    "FSIM_PHI",
    "FSIM_THETA",
    "PATTERN_SEQUENCE",
    "SINGLE_QUBIT_GATES",
    "cycle_pattern",
    "grid_patterns",
    "grid_shape",
    "pattern_couplers",
    "rcs_circuit",
    "sycamore_rcs",
]
