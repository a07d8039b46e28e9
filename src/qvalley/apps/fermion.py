"""Fermionic operators, the Jordan–Wigner and parity mappings, and molecular qubit Hamiltonians.

Spin orbitals are ordered in blocks: spatial orbital ``p`` spin-α is mode ``p``, spin-β is mode
``p + n``. Qubit operators are kept as ``{(xmask, zmask): coeff}`` for ``coeff · X^x Z^z`` (the X
part acts after the Z part); the product rule is
``X^a Z^b · X^c Z^d = (-1)^{|b ∧ c|} X^{a⊕c} Z^{b⊕d}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..circuit.observable import Observable, PauliTerm
from ._errors import ChemistryError
from .chemistry import MolecularData

QubitOp = dict[tuple[int, int], complex]
Ladder = tuple[int, bool]  # (mode, is_creation)

MAPPINGS = ("jordan_wigner", "parity")


def _popcount(v: int) -> int:
    return int(v).bit_count()


def multiply(a: Mapping[tuple[int, int], complex], b: Mapping[tuple[int, int], complex]) -> QubitOp:
    """Product of two qubit operators in ``X^x Z^z`` form."""
    out: QubitOp = {}
    for (x1, z1), c1 in a.items():
        for (x2, z2), c2 in b.items():
            key = (x1 ^ x2, z1 ^ z2)
            c = c1 * c2 * (-1 if _popcount(z1 & x2) & 1 else 1)
            out[key] = out.get(key, 0) + c
    return out


def _add(acc: QubitOp, op: Mapping[tuple[int, int], complex], k: complex = 1.0) -> None:
    for key, c in op.items():
        acc[key] = acc.get(key, 0) + k * c


def ladder(mode: int, creation: bool, n_modes: int, mapping: str = "jordan_wigner") -> QubitOp:
    """The qubit image of ``a†_mode`` (``creation``) or ``a_mode``."""
    if not 0 <= mode < n_modes:
        raise ChemistryError(f"mode {mode} outside 0..{n_modes - 1}")
    e = 1 << mode
    sgn = 1.0 if creation else -1.0
    if mapping == "jordan_wigner":
        low = e - 1  # Z on every lower mode
        return {(e, low): 0.5, (e, low | e): 0.5 * sgn}
    if mapping == "parity":
        x = ((1 << n_modes) - 1) & ~(e - 1)  # X on modes ≥ j
        zprev = (e >> 1) if mode > 0 else 0
        return {(x, zprev): 0.5, (x, e): 0.5 * sgn}
    raise ChemistryError(f"unknown mapping {mapping!r} (jordan_wigner, parity)")


@dataclass(frozen=True)
class FermionOperator:
    """``Σ c · Π ladder`` with each product a tuple of ``(mode, is_creation)`` applied right to left."""

    terms: tuple[tuple[tuple[Ladder, ...], complex], ...]
    n_modes: int

    @classmethod
    def from_terms(cls, items: Iterable[tuple[Iterable[Ladder], complex]], n_modes: int
                   ) -> FermionOperator:
        return cls(tuple((tuple(t), complex(c)) for t, c in items), int(n_modes))

    def to_qubit(self, mapping: str = "jordan_wigner") -> QubitOp:
        cache: dict[Ladder, QubitOp] = {}
        acc: QubitOp = {}
        for prod, c in self.terms:
            op: QubitOp = {(0, 0): 1.0}
            for lad in prod:
                if lad not in cache:
                    cache[lad] = ladder(lad[0], lad[1], self.n_modes, mapping)
                op = multiply(op, cache[lad])
            _add(acc, op, c)
        return prune(acc)


def prune(op: Mapping[tuple[int, int], complex], tol: float = 1e-12) -> QubitOp:
    return {k: c for k, c in op.items() if abs(c) > tol}


def to_observable(op: Mapping[tuple[int, int], complex], n_qubits: int) -> Observable:
    """``X^x Z^z`` form → Pauli strings (``XZ = -iY`` on each qubit with both bits)."""
    terms = []
    for (x, z), c in op.items():
        y = x & z
        coeff = complex(c) * (-1j) ** _popcount(y)
        ops = []
        for q in range(n_qubits):
            b = 1 << q
            if y & b:
                ops.append((q, "Y"))
            elif x & b:
                ops.append((q, "X"))
            elif z & b:
                ops.append((q, "Z"))
        terms.append(PauliTerm(coeff, tuple(ops)))
    return Observable(n_qubits, terms)


def molecular_hamiltonian(mol: MolecularData, mapping: str = "jordan_wigner") -> QubitOp:
    """``H = E_nuc + Σ h_pq a†_p a_q + ½ Σ (pq|rs) a†_p a†_r a_s a_q`` mapped to qubits.

    Uses ``a†_p a†_r a_s a_q = E_pq E_rs - δ_qr E_ps`` with ``E_pq = a†_p a_q`` (same spin).
    """
    n = mol.n_orbitals
    nm = 2 * n
    lad = {(m, c): ladder(m, c, nm, mapping) for m in range(nm) for c in (True, False)}
    epq: dict[tuple[int, int], QubitOp] = {}
    for s in (0, n):
        for p in range(n):
            for q in range(n):
                epq[(p + s, q + s)] = multiply(lad[(p + s, True)], lad[(q + s, False)])
    h: QubitOp = {(0, 0): mol.nuclear_repulsion}
    eri = mol.eri
    for s1 in (0, n):
        for p in range(n):
            for q in range(n):
                one = mol.h1[p, q] - 0.5 * float(np.einsum("rr->", eri[p, :, :, q]))
                if abs(one) > 1e-14:
                    _add(h, epq[(p + s1, q + s1)], one)
                inner: QubitOp = {}
                for s2 in (0, n):
                    for r in range(n):
                        for t in range(n):
                            v = eri[p, q, r, t]
                            if abs(v) > 1e-14:
                                _add(inner, epq[(r + s2, t + s2)], 0.5 * v)
                if inner:
                    _add(h, multiply(epq[(p + s1, q + s1)], prune(inner)))
    return prune(h)


def taper_parity(op: Mapping[tuple[int, int], complex], n_orbitals: int, n_alpha: int,
                 n_beta: int) -> QubitOp:
    """Two-qubit reduction of a parity-mapped, spin- and number-conserving operator.

    Qubits ``n-1`` (α parity) and ``2n-1`` (total parity) carry only ``I``/``Z``; they are replaced
    by their eigenvalues ``(-1)^{n_α}`` and ``(-1)^{n_α+n_β}`` and removed.
    """
    qa, qt = n_orbitals - 1, 2 * n_orbitals - 1
    ea = -1 if n_alpha & 1 else 1
    et = -1 if (n_alpha + n_beta) & 1 else 1
    out: QubitOp = {}

    def squeeze(m: int) -> int:
        low = m & ((1 << qa) - 1)
        mid = (m >> (qa + 1)) & ((1 << (qt - qa - 1)) - 1)
        return low | (mid << qa)

    for (x, z), c in op.items():
        if (x >> qa) & 1 or (x >> qt) & 1:
            raise ChemistryError("operator has X/Y on a symmetry qubit; it does not conserve spin "
                                 "and particle-number parity")
        k = c * (ea if (z >> qa) & 1 else 1) * (et if (z >> qt) & 1 else 1)
        key = (squeeze(x), squeeze(z))
        out[key] = out.get(key, 0) + k
    return prune(out)
