"""Seeded benchmark circuits for the statevector harness.

Every generator returns a plain :class:`~qvalley.Circuit` and is deterministic for a given seed.
Bit order is qvalley's: qubit ``k`` is bit ``k`` of a statevector index.

Examples:
    >>> c = random_layers(4, layers=2, seed=1)
    >>> c.gate_counts["cz"]  # layer 0: (0,1),(2,3); layer 1: (1,2)
    3
    >>> len(qft(3).operations)  # 3 H, 3 CP, 1 SWAP
    7
"""

from __future__ import annotations

import math

import numpy as np

from ..circuit import Circuit

ROTATIONS = ("rx", "ry", "rz")


def brickwork_pairs(n: int, layer: int) -> list[tuple[int, int]]:
    """CZ pairs of a 1-D brickwork layer on a line of ``n`` qubits.

    Even layers pair ``(0,1), (2,3), ...``; odd layers ``(1,2), (3,4), ...``.

    Examples:
        >>> brickwork_pairs(5, 0), brickwork_pairs(5, 1)
        ([(0, 1), (2, 3)], [(1, 2), (3, 4)])
    """
    start = layer % 2
    return [(q, q + 1) for q in range(start, n - 1, 2)]


def random_layers(n: int, layers: int = 20, seed: int = 0) -> Circuit:
    """``layers`` layers of random single-qubit rotations followed by a CZ brickwork.

    Each layer applies, on every qubit, one of RX/RY/RZ (uniformly chosen) with an angle uniform
    in ``[0, 2π)``, then CZ on :func:`brickwork_pairs` ``(n, layer)`` (offsets alternate 0, 1).

    Args:
        n: number of qubits (≥ 1).
        layers: number of layers.
        seed: seed of the numpy generator choosing gates and angles.
    """
    if n < 1:
        raise ValueError(f"random_layers needs at least one qubit, got {n}")
    rng = np.random.default_rng(seed)
    c = Circuit(n, name=f"random_layers_{n}")
    for layer in range(layers):
        kinds = rng.integers(0, len(ROTATIONS), size=n)
        angles = rng.uniform(0.0, 2.0 * math.pi, size=n)
        for q in range(n):
            c.append(ROTATIONS[int(kinds[q])], q, params=(float(angles[q]),))
        for a, b in brickwork_pairs(n, layer):
            c.cz(a, b)
    return c


def qft(n: int, prepare: bool = False, seed: int = 0, swaps: bool = True) -> Circuit:
    """The textbook quantum Fourier transform on ``n`` qubits (H, CP(π/2^k), final swaps).

    With qubit ``k`` as bit ``k`` of the index, the circuit maps ``|x>`` to
    ``2^{-n/2} Σ_y exp(2πi·x·y / 2^n) |y>`` (the unitary DFT matrix, as :func:`numpy.fft.ifft`
    scaled by ``sqrt(2^n)``). The first gate acts on the most significant qubit ``n-1``.

    Args:
        n: number of qubits.
        prepare: when true, a layer of RY(θ) with θ uniform in ``[0, π)`` (seeded) on every qubit
            comes first, so the benchmark transforms a non-trivial product state instead of
            ``|0...0>`` (whose transform is the uniform superposition).
        seed: seed for the preparation angles.
        swaps: append the final bit-reversal swaps (without them the output is bit-reversed).
    """
    c = Circuit(n, name=f"qft_{n}")
    if prepare:
        rng = np.random.default_rng(seed)
        for q, theta in enumerate(rng.uniform(0.0, math.pi, size=n)):
            c.ry(float(theta), q)
    for j in range(n - 1, -1, -1):
        c.h(j)
        for k in range(j - 1, -1, -1):
            c.cp(math.pi / (1 << (j - k)), k, j)
    if swaps:
        for q in range(n // 2):
            c.swap(q, n - 1 - q)
    return c


__all__ = ["ROTATIONS", "brickwork_pairs", "qft", "random_layers"]
