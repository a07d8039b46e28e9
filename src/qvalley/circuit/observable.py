"""Pauli-sum observables: ``H = Σ c_k P_k`` with ``P_k`` a tensor product of Pauli operators.

A Pauli string is written with qubit 0 rightmost, like bitstrings: ``"XZ"`` is Z on qubit 0 and X
on qubit 1. Sparse terms use ``{qubit: "X"}`` mappings.

Examples:
    >>> h = Observable.from_list([("ZZ", 1.0), ("XI", 0.5)])
    >>> h.num_qubits
    2
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from .._errors import CircuitError

_PAULIS = "IXYZ"


@dataclass(frozen=True)
class PauliTerm:
    """``coeff × Π_q P_q`` with ``ops`` sorted by qubit, identities omitted."""

    coeff: complex
    ops: tuple[tuple[int, str], ...]


class Observable:
    """A Hermitian (or general) sum of Pauli terms over ``num_qubits`` qubits."""

    __slots__ = ("num_qubits", "terms")

    def __init__(self, num_qubits: int, terms: Iterable[PauliTerm] = ()) -> None:
        self.num_qubits = int(num_qubits)
        merged: dict[tuple[tuple[int, str], ...], complex] = {}
        for t in terms:
            for q, p in t.ops:
                if not 0 <= q < self.num_qubits:
                    raise CircuitError(f"Pauli term acts on qubit {q} outside 0..{self.num_qubits - 1}")
                if p not in "XYZ":
                    raise CircuitError(f"unknown Pauli '{p}'")
            merged[t.ops] = merged.get(t.ops, 0) + complex(t.coeff)
        self.terms = tuple(PauliTerm(c, ops) for ops, c in merged.items())

    @classmethod
    def from_list(cls, items: Iterable[tuple[str, complex]], num_qubits: int | None = None) -> Observable:
        """From ``[("XZ", 0.5), ...]`` with qubit 0 the rightmost character."""
        items = list(items)
        n = num_qubits if num_qubits is not None else max((len(s) for s, _ in items), default=0)
        terms = []
        for s, c in items:
            s = s.upper()
            if any(ch not in _PAULIS for ch in s):
                raise CircuitError(f"Pauli string {s!r} may only contain I, X, Y, Z")
            if len(s) > n:
                raise CircuitError(f"Pauli string {s!r} is longer than {n} qubits")
            ops = tuple((q, ch) for q, ch in enumerate(reversed(s)) if ch != "I")
            terms.append(PauliTerm(complex(c), ops))
        return cls(n, terms)

    @classmethod
    def from_sparse(cls, items: Iterable[tuple[Mapping[int, str], complex]], num_qubits: int) -> Observable:
        """From ``[({0: "Z", 3: "X"}, 1.0), ...]``."""
        terms = [
            PauliTerm(complex(c),
                      tuple(sorted((int(q), p.upper()) for q, p in m.items() if p.upper() != "I")))
            for m, c in items
        ]
        return cls(num_qubits, terms)

    def __add__(self, other: Observable) -> Observable:
        return Observable(max(self.num_qubits, other.num_qubits), self.terms + other.terms)

    def __mul__(self, k: complex) -> Observable:
        return Observable(self.num_qubits, [PauliTerm(t.coeff * k, t.ops) for t in self.terms])

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Observable):
            return NotImplemented
        return self.num_qubits == other.num_qubits and dict((t.ops, t.coeff) for t in self.terms) == dict(
            (t.ops, t.coeff) for t in other.terms
        )

    __hash__ = None  # type: ignore[assignment]

    def label(self, term: PauliTerm) -> str:
        chars = ["I"] * self.num_qubits
        for q, p in term.ops:
            chars[q] = p
        return "".join(reversed(chars))

    def to_list(self) -> list[tuple[str, complex]]:
        return [(self.label(t), t.coeff) for t in self.terms]

    def __repr__(self) -> str:
        return f"Observable.from_list({self.to_list()!r}, num_qubits={self.num_qubits})"

    def to_matrix(self) -> np.ndarray:
        """Dense matrix (little-endian: qubit 0 is bit 0 of the index). For small n only."""
        mats = {"I": np.eye(2), "X": np.array([[0, 1], [1, 0]]), "Y": np.array([[0, -1j], [1j, 0]]),
                "Z": np.diag([1, -1])}
        dim = 1 << self.num_qubits
        out = np.zeros((dim, dim), dtype=complex)
        for t in self.terms:
            m = np.eye(1)
            label = self.label(t)
            for ch in label:  # leftmost char = highest qubit = leftmost kron factor
                m = np.kron(m, mats[ch])
            out += t.coeff * m
        return out

    def xz_form(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(xmask, zmask, coeff)`` arrays with each term equal to ``coeff · X^xmask Z^zmask``.

        ``Y = iXZ`` on each qubit, so a term with ``k`` Y's gets a factor ``i^k``.
        """
        xs, zs, cs = [], [], []
        for t in self.terms:
            x = z = 0
            ny = 0
            for q, p in t.ops:
                if p in "XY":
                    x |= 1 << q
                if p in "ZY":
                    z |= 1 << q
                ny += p == "Y"
            xs.append(x)
            zs.append(z)
            cs.append(complex(t.coeff) * 1j**ny)
        return (np.array(xs, dtype=np.int64), np.array(zs, dtype=np.int64),
                np.array(cs, dtype=complex))

    def to_sparse(self) -> object:
        """The operator as a ``scipy.sparse`` CSR matrix (qubit 0 = bit 0 of the index)."""
        from scipy.sparse import coo_matrix

        dim = 1 << self.num_qubits
        xs, zs, cs = self.xz_form()
        idx = np.arange(dim, dtype=np.int64)
        rows, cols, vals = [], [], []
        for x, z, c in zip(xs, zs, cs, strict=True):
            sign = 1.0 - 2.0 * (np.bitwise_count(idx & z) & 1)
            rows.append(idx ^ x)
            cols.append(idx)
            vals.append(c * sign)
        if not rows:
            return coo_matrix((dim, dim), dtype=complex).tocsr()
        return coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(dim, dim)).tocsr()
