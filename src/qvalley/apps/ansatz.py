"""Ansätze applied directly to a real statevector, with exact adjoint gradients.

* :class:`UCCSD` — each factor ``exp(θ (T - T†))`` of the (first-order Trotterised) unitary coupled
  cluster is a rotation by ``θ`` in every two-dimensional subspace ``{|i⟩, |j⟩}`` it couples
  (``T|i⟩ = ±|j⟩`` with the Jordan–Wigner sign), applied by index arrays: exact and fast.
* :class:`HardwareEfficient` — layers of RY on every qubit and a CNOT ladder.

Both keep the state real. ``value_and_grad(theta, h)`` returns ``⟨ψ|H|ψ⟩`` and its gradient by one
forward and one backward sweep (adjoint differentiation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._errors import AppsError


def _apply_ladder(idx: np.ndarray, sign: np.ndarray, mode: int, creation: bool
                  ) -> tuple[np.ndarray, np.ndarray]:
    occ = (idx >> mode) & 1
    keep = occ == (0 if creation else 1)
    idx, sign = idx[keep], sign[keep]
    par = (np.bitwise_count(idx & ((1 << mode) - 1)) & 1).astype(np.float64)
    return idx ^ (1 << mode), sign * (1 - 2 * par)


@dataclass(frozen=True)
class Excitation:
    """``T = a†_{p1} a†_{p2} … a_{q2} a_{q1}`` (``creators`` then ``annihilators``), its pair indices."""

    creators: tuple[int, ...]
    annihilators: tuple[int, ...]
    src: np.ndarray
    dst: np.ndarray
    sign: np.ndarray

    @classmethod
    def build(cls, creators: Sequence[int], annihilators: Sequence[int], n_qubits: int) -> Excitation:
        idx = np.arange(1 << n_qubits, dtype=np.int64)
        sign = np.ones(idx.size)
        cur = idx
        word = [(m, True) for m in creators] + [(m, False) for m in reversed(annihilators)]
        for m, creation in reversed(word):  # rightmost operator acts first
            cur, sign = _apply_ladder(cur, sign, m, creation)
        # recover sources: destination ^ mask (creators and annihilators are disjoint)
        mask = 0
        for m in list(creators) + list(annihilators):
            mask ^= 1 << m
        return cls(tuple(creators), tuple(annihilators), cur ^ mask, cur, sign)

    def apply(self, psi: np.ndarray, theta: float) -> None:
        c, s = np.cos(theta), np.sin(theta)
        a = psi[self.src]
        b = psi[self.dst]
        psi[self.src] = c * a - s * self.sign * b
        psi[self.dst] = s * self.sign * a + c * b

    def overlap_generator(self, lam: np.ndarray, phi: np.ndarray) -> float:
        """``⟨λ| (T - T†) |φ⟩`` for real vectors."""
        return float(np.dot(self.sign, lam[self.dst] * phi[self.src] - lam[self.src] * phi[self.dst]))


def hartree_fock_index(n_orbitals: int, n_alpha: int, n_beta: int) -> int:
    """Basis index of the HF determinant (α block on qubits ``0..n-1``, β on ``n..2n-1``)."""
    return ((1 << n_alpha) - 1) | (((1 << n_beta) - 1) << n_orbitals)


class UCCSD:
    """Trotterised UCCSD on top of the Hartree–Fock determinant (singles, then doubles)."""

    def __init__(self, n_orbitals: int, n_alpha: int, n_beta: int) -> None:
        if not (0 <= n_alpha <= n_orbitals and 0 <= n_beta <= n_orbitals):
            raise AppsError(f"{n_alpha}α/{n_beta}β electrons do not fit {n_orbitals} orbitals")
        n = n_orbitals
        self.n_qubits = 2 * n
        if self.n_qubits > 24:
            raise AppsError(f"UCCSD on {self.n_qubits} qubits is too large for the statevector")
        oa, va = list(range(n_alpha)), list(range(n_alpha, n))
        ob, vb = list(range(n, n + n_beta)), list(range(n + n_beta, 2 * n))
        ex: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        for occ, vir in ((oa, va), (ob, vb)):
            ex += [((a,), (i,)) for i in occ for a in vir]
        for occ, vir in ((oa, va), (ob, vb)):
            ex += [((a, b), (i, j)) for ii, i in enumerate(occ) for j in occ[ii + 1:]
                   for ai, a in enumerate(vir) for b in vir[ai + 1:]]
        ex += [((a, b), (i, j)) for i in oa for j in ob for a in va for b in vb]
        self.excitations = [Excitation.build(c, d, self.n_qubits) for c, d in ex]
        self.initial_index = hartree_fock_index(n, n_alpha, n_beta)

    @property
    def num_parameters(self) -> int:
        return len(self.excitations)

    def initial_point(self) -> np.ndarray:
        return np.zeros(self.num_parameters)

    def state(self, theta: np.ndarray) -> np.ndarray:
        psi = np.zeros(1 << self.n_qubits)
        psi[self.initial_index] = 1.0
        for e, t in zip(self.excitations, theta, strict=True):
            e.apply(psi, float(t))
        return psi

    def value_and_grad(self, theta: np.ndarray, h: Any) -> tuple[float, np.ndarray]:
        phi = self.state(theta)
        lam = h @ phi
        value = float(np.dot(phi, lam))
        grad = np.zeros(self.num_parameters)
        for k in range(self.num_parameters - 1, -1, -1):
            e = self.excitations[k]
            grad[k] = 2 * e.overlap_generator(lam, phi)
            e.apply(phi, -float(theta[k]))
            e.apply(lam, -float(theta[k]))
        return value, grad


class HardwareEfficient:
    """``layers`` × (RY on every qubit, CNOT ladder ``q → q+1``), then a final RY layer.

    At ``θ = 0`` the circuit is a permutation of basis states (the CNOT ladders), so it starts from
    ``start_index`` = that permutation's inverse applied to ``initial_index``: ``θ = 0`` is then
    exactly the reference state (e.g. the HF determinant), not a CNOT-scrambled one.
    """

    def __init__(self, n_qubits: int, layers: int = 2, initial_index: int = 0) -> None:
        if n_qubits < 1 or layers < 0:
            raise AppsError(f"hardware-efficient ansatz needs n_qubits ≥ 1 and layers ≥ 0, got "
                            f"{n_qubits}, {layers}")
        self.n_qubits = n_qubits
        self.layers = layers
        self.initial_index = initial_index
        idx = np.arange(1 << n_qubits, dtype=np.int64)
        self._cnots = []
        for q in range(n_qubits - 1):
            perm = np.where((idx >> q) & 1, idx ^ (1 << (q + 1)), idx)
            self._cnots.append(perm)
        k = int(initial_index)
        for kind, q, _ in reversed(self._ops()):
            if kind == "cx":
                k = int(self._cnots[q][k])
        self.start_index = k

    @property
    def num_parameters(self) -> int:
        return self.n_qubits * (self.layers + 1)

    def initial_point(self) -> np.ndarray:
        return np.zeros(self.num_parameters)

    def _ry(self, psi: np.ndarray, q: int, theta: float) -> None:
        n = self.n_qubits
        v = psi.reshape(1 << (n - q - 1), 2, 1 << q)
        c, s = np.cos(theta / 2), np.sin(theta / 2)
        a0 = v[:, 0, :].copy()
        v[:, 0, :] = c * a0 - s * v[:, 1, :]
        v[:, 1, :] = s * a0 + c * v[:, 1, :]

    def _gen_overlap(self, lam: np.ndarray, phi: np.ndarray, q: int) -> float:
        n = self.n_qubits
        lv = lam.reshape(1 << (n - q - 1), 2, 1 << q)
        pv = phi.reshape(1 << (n - q - 1), 2, 1 << q)
        return 0.5 * float(np.sum(lv[:, 1, :] * pv[:, 0, :]) - np.sum(lv[:, 0, :] * pv[:, 1, :]))

    def _ops(self) -> list[tuple[str, int, int]]:
        ops: list[tuple[str, int, int]] = []
        k = 0
        for layer in range(self.layers + 1):
            for q in range(self.n_qubits):
                ops.append(("ry", q, k))
                k += 1
            if layer < self.layers:
                ops += [("cx", q, -1) for q in range(self.n_qubits - 1)]
        return ops

    def state(self, theta: np.ndarray) -> np.ndarray:
        if len(theta) != self.num_parameters:
            raise AppsError(f"expected {self.num_parameters} parameters, got {len(theta)}")
        psi = np.zeros(1 << self.n_qubits)
        psi[self.start_index] = 1.0
        for kind, q, k in self._ops():
            if kind == "ry":
                self._ry(psi, q, float(theta[k]))
            else:
                psi = psi[self._cnots[q]]
        return psi

    def value_and_grad(self, theta: np.ndarray, h: Any) -> tuple[float, np.ndarray]:
        phi = self.state(theta)
        lam = h @ phi
        value = float(np.dot(phi, lam))
        grad = np.zeros(self.num_parameters)
        for kind, q, k in reversed(self._ops()):
            if kind == "ry":
                grad[k] = 2 * self._gen_overlap(lam, phi, q)
                self._ry(phi, q, -float(theta[k]))
                self._ry(lam, q, -float(theta[k]))
            else:
                phi = phi[self._cnots[q]]
                lam = lam[self._cnots[q]]
        return value, grad
