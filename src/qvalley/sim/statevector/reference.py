"""Plain numpy reference statevector backend: obviously correct, used to check the fast engine.

Bit order: qubit ``k`` is bit ``k`` of the state index (little-endian).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...circuit.observable import Observable


def apply_matrix(state: np.ndarray, matrix: np.ndarray, qubits: Sequence[int]) -> np.ndarray:
    """Return ``matrix`` applied to ``qubits`` of ``state`` (operand j = bit j of the matrix index).

    ``state`` is a vector of length ``2^n``, or a ``(2^n, batch)`` array whose columns are each
    transformed (``apply_matrix(np.eye(2**n), m, qs)`` is the matrix of ``m`` on ``qs``).
    """
    n = state.shape[0].bit_length() - 1
    k = len(qubits)
    psi = state.reshape((2,) * n + state.shape[1:])  # axis a <-> qubit n-1-a
    # matrix as tensor: out bits (k-1..0), in bits (k-1..0); operand j is axis k-1-j of each half
    m = matrix.reshape((2,) * (2 * k))
    in_axes = [n - 1 - qubits[j] for j in reversed(range(k))]
    out = np.tensordot(m, psi, axes=(list(range(k, 2 * k)), in_axes))
    # tensordot puts the k output axes first, in order operand k-1..0; move them back
    out = np.moveaxis(out, list(range(k)), in_axes)
    return np.ascontiguousarray(out).reshape(state.shape)


def pauli_expectation(state: np.ndarray, obs: Observable) -> complex:
    """``<ψ|obs|ψ>`` by applying each Pauli term with :func:`apply_matrix`."""
    mats = {"X": np.array([[0, 1], [1, 0]], dtype=complex), "Y": np.array([[0, -1j], [1j, 0]]),
            "Z": np.diag([1.0 + 0j, -1.0])}
    psi = state.astype(np.complex128)
    total: complex = 0j
    for term in obs.terms:
        phi = psi
        for q, p in term.ops:
            phi = apply_matrix(phi, mats[p], (q,))
        total += term.coeff * complex(np.vdot(psi, phi))
    return complex(total)


class ReferenceBackend:
    """Backend protocol implementation on a complex numpy vector, one gate at a time."""

    name = "reference"

    def __init__(self, precision: str = "double") -> None:
        self.dtype = np.complex64 if precision == "single" else np.complex128

    def zero_state(self, n: int) -> np.ndarray:
        s = np.zeros(1 << n, dtype=self.dtype)
        s[0] = 1
        return s

    def apply_gates(self, state: np.ndarray, gates: list[tuple[np.ndarray, tuple[int, ...]]]
                    ) -> np.ndarray:
        for m, qs in gates:
            state = apply_matrix(state, m.astype(self.dtype), qs).astype(self.dtype, copy=False)
        return state

    def prob_one(self, state: np.ndarray, q: int) -> float:
        idx = np.arange(state.size)
        return float(np.sum(np.abs(state[(idx >> q) & 1 == 1]) ** 2))

    def collapse(self, state: np.ndarray, q: int, outcome: int, prob: float) -> np.ndarray:
        idx = np.arange(state.size)
        out = state.copy()
        out[((idx >> q) & 1) != outcome] = 0
        out *= 1 / np.sqrt(prob)
        return out

    def flip(self, state: np.ndarray, q: int) -> np.ndarray:
        idx = np.arange(state.size)
        return state[idx ^ (1 << q)]

    def probabilities(self, state: np.ndarray) -> np.ndarray:
        return np.abs(state.astype(np.complex128)) ** 2

    def to_numpy(self, state: np.ndarray) -> np.ndarray:
        return state

    def copy(self, state: np.ndarray) -> np.ndarray:
        return state.copy()

    def expectation(self, state: np.ndarray, obs: Observable) -> complex:
        return pauli_expectation(state, obs)

    def sample_indices(self, state: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
        p = self.probabilities(state)
        return rng.choice(p.size, size=shots, p=p / p.sum())


def swap_bits(state: np.ndarray, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """Return ``state`` with index bits ``a`` and ``b`` exchanged for every pair ``(a, b)``
    (pairs disjoint): amplitude ``i`` moves to the index whose bit ``a`` is bit ``b`` of ``i`` and
    vice versa. On qubits: the qubit stored at bit ``a`` is then stored at bit ``b``."""
    idx = np.arange(state.shape[0])
    dst = idx.copy()
    for a, b in pairs:
        diff = ((idx >> a) ^ (idx >> b)) & 1
        dst ^= diff * ((1 << a) | (1 << b))
    out = np.empty_like(state)
    out[dst] = state
    return out
