"""QUBO / Ising models, an exact solver vectorised over all ``2^n`` assignments and simulated annealing.

A :class:`QUBO` is ``E(x) = offset + Σ_i l_i x_i + Σ_{i<j} Q_ij x_i x_j`` over bits ``x_i ∈ {0, 1}``;
bit ``i`` of an integer index is variable ``i`` (qubit ``i``, the rightmost bitstring character).
The Ising form uses spins ``s_i = 1 - 2 x_i`` (``x = 0`` ↔ ``s = +1`` ↔ ``|0⟩``, the ``Z = +1`` state).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from ._errors import AppsError


@dataclass(frozen=True)
class QUBO:
    """``E(x) = offset + Σ linear_i x_i + Σ_{i<j} quadratic[i, j] x_i x_j`` (upper triangle used)."""

    linear: np.ndarray
    quadratic: np.ndarray
    offset: float = 0.0

    def __post_init__(self) -> None:
        lin = np.asarray(self.linear, dtype=float)
        quad = np.asarray(self.quadratic, dtype=float)
        n = lin.size
        if lin.ndim != 1 or quad.shape != (n, n):
            raise AppsError(f"QUBO needs a length-n linear vector and an n×n matrix, got {lin.shape}, "
                            f"{quad.shape}")
        if not (np.all(np.isfinite(lin)) and np.all(np.isfinite(quad))):
            raise AppsError("QUBO coefficients must be finite")
        # fold to strictly upper triangular; diagonal goes to linear (x_i^2 = x_i)
        up = np.triu(quad, 1) + np.tril(quad, -1).T
        object.__setattr__(self, "linear", lin + np.diag(quad))
        object.__setattr__(self, "quadratic", up)
        object.__setattr__(self, "offset", float(self.offset))

    @property
    def num_variables(self) -> int:
        return int(self.linear.size)

    # ---- constructors ----------------------------------------------------------------------
    @classmethod
    def from_matrix(cls, q: Any, offset: float = 0.0) -> QUBO:
        """``E(x) = xᵀ Q x + offset`` for a square matrix ``Q`` (diagonal = linear terms)."""
        q = np.asarray(q, dtype=float)
        if q.ndim != 2 or q.shape[0] != q.shape[1]:
            raise AppsError(f"QUBO matrix must be square, got shape {q.shape}")
        return cls(np.zeros(q.shape[0]), q, offset)

    @classmethod
    def from_dict(cls, terms: Mapping[tuple[int, ...], float], num_variables: int | None = None,
                  offset: float = 0.0) -> QUBO:
        """From ``{(i,): l_i, (i, j): Q_ij, (): constant}``."""
        idx = [i for key in terms for i in key]
        if any((not isinstance(i, (int, np.integer))) or i < 0 for i in idx):
            raise AppsError("QUBO dict keys must be tuples of non-negative variable indices")
        n = num_variables if num_variables is not None else (max(idx) + 1 if idx else 0)
        lin = np.zeros(n)
        quad = np.zeros((n, n))
        off = float(offset)
        for key, v in terms.items():
            if any(i >= n for i in key):
                raise AppsError(f"QUBO term {key} uses a variable outside 0..{n - 1}")
            if len(key) == 0:
                off += v
            elif len(key) == 1 or key[0] == key[1]:
                lin[key[0]] += v
            elif len(key) == 2:
                quad[min(key), max(key)] += v
            else:
                raise AppsError(f"QUBO term {key} has more than two variables")
        return cls(lin, quad, off)

    def to_dict(self) -> dict[str, Any]:
        return {"linear": self.linear.tolist(), "quadratic": self.quadratic.tolist(),
                "offset": self.offset}

    @classmethod
    def from_json_dict(cls, d: Mapping[str, Any]) -> QUBO:
        return cls(np.asarray(d["linear"]), np.asarray(d["quadratic"]), float(d.get("offset", 0.0)))

    # ---- evaluation ------------------------------------------------------------------------
    def energy(self, x: Iterable[int]) -> float:
        v = np.asarray(list(x), dtype=float)
        return float(self.offset + self.linear @ v + v @ self.quadratic @ v)

    def diagonal(self) -> np.ndarray:
        """``E`` of every index ``0 .. 2^n - 1`` (bit ``i`` = ``x_i``), vectorised."""
        n = self.num_variables
        if n > 30:
            raise AppsError(f"{n} variables is too many for the full 2^n diagonal (at most 30)")
        idx = np.arange(1 << n, dtype=np.int64)
        e = np.full(1 << n, self.offset)
        bits = [((idx >> i) & 1).astype(np.float64) for i in range(n)]
        for i in range(n):
            if self.linear[i]:
                e += self.linear[i] * bits[i]
            for j in range(i + 1, n):
                if self.quadratic[i, j]:
                    e += self.quadratic[i, j] * (bits[i] * bits[j])
        return e

    def to_ising(self) -> tuple[np.ndarray, np.ndarray, float]:
        """``(h, J, c)`` with ``E = c + Σ h_i s_i + Σ_{i<j} J_ij s_i s_j`` and ``x = (1 - s)/2``."""
        lin, q = self.linear, self.quadratic
        h = -lin / 2 - (q.sum(axis=1) + q.sum(axis=0)) / 4
        jm = q / 4
        c = self.offset + lin.sum() / 2 + q.sum() / 4
        return h, jm, float(c)

    def to_observable(self) -> Any:
        """The Ising Hamiltonian as a Pauli-sum :class:`~qvalley.circuit.observable.Observable`."""
        from ..circuit.observable import Observable, PauliTerm

        h, jm, c = self.to_ising()
        n = self.num_variables
        terms = [PauliTerm(c, ())]
        terms += [PauliTerm(h[i], ((i, "Z"),)) for i in range(n) if h[i]]
        terms += [PauliTerm(jm[i, j], ((i, "Z"), (j, "Z"))) for i in range(n) for j in range(i + 1, n)
                  if jm[i, j]]
        return Observable(n, terms)


def bits_of(index: int, n: int) -> list[int]:
    """Variable values ``x_0 .. x_{n-1}`` of an index."""
    return [(int(index) >> i) & 1 for i in range(n)]


def bitstring(index: int, n: int) -> str:
    """Bitstring with variable 0 rightmost."""
    return format(int(index), f"0{n}b") if n else ""


@dataclass(frozen=True)
class Solution:
    """A solver's answer: ``x`` (variable 0 first), its energy and the bitstring (variable 0 rightmost)."""

    x: tuple[int, ...]
    energy: float
    method: str

    @property
    def bitstring(self) -> str:
        return "".join(str(b) for b in reversed(self.x))

    def to_dict(self) -> dict[str, Any]:
        return {"x": list(self.x), "energy": self.energy, "method": self.method,
                "bitstring": self.bitstring}


def solve_exact(qubo: QUBO) -> Solution:
    """Minimum over all ``2^n`` assignments (vectorised; ties go to the lowest index)."""
    e = qubo.diagonal()
    k = int(np.argmin(e))
    return Solution(tuple(bits_of(k, qubo.num_variables)), float(e[k]), "exact")


# ---- simulated annealing ----------------------------------------------------------------------
def _sa_reference(lin: np.ndarray, sym: np.ndarray, x0: np.ndarray, betas: np.ndarray,
                  flips: np.ndarray, uniforms: np.ndarray) -> tuple[np.ndarray, float]:
    """Plain numpy/Python Metropolis single-flip annealing; same algorithm as :func:`_sa_kernel`.

    ``sym`` is the symmetric coupling matrix (``Q + Qᵀ``, zero diagonal); ``flips[t]`` is the variable
    proposed at step ``t`` and ``uniforms[t]`` its acceptance draw. Returns the best ``x`` and its
    energy relative to the all-zero assignment.
    """
    x = x0.astype(np.int64).copy()
    e = float(lin @ x + 0.5 * x @ sym @ x)
    best = x.copy()
    best_e = e
    for t in range(flips.size):
        i = int(flips[t])
        d = (1 - 2 * x[i]) * (lin[i] + float(sym[i] @ x))
        if d <= 0 or uniforms[t] < np.exp(-betas[t] * d):
            x[i] ^= 1
            e += d
            if e < best_e - 1e-12:
                best_e = e
                best = x.copy()
    return best, best_e


@njit(cache=True)
def _sa_kernel(lin, sym, x0, betas, flips, uniforms):  # pragma: no cover - compiled
    n = lin.size
    x = x0.copy()
    field = lin.copy()  # local field lin_i + Σ_j sym_ij x_j
    for j in range(n):
        if x[j]:
            for i in range(n):
                field[i] += sym[i, j]
    e = 0.0
    for i in range(n):
        if x[i]:
            e += lin[i] + 0.5 * (field[i] - lin[i])
    best = x.copy()
    best_e = e
    for t in range(flips.size):
        i = flips[t]
        d = (1 - 2 * x[i]) * field[i]
        if d <= 0 or uniforms[t] < np.exp(-betas[t] * d):
            s = 1 - 2 * x[i]
            x[i] ^= 1
            e += d
            for k in range(n):
                field[k] += s * sym[k, i]
            if e < best_e - 1e-12:
                best_e = e
                for k in range(n):
                    best[k] = x[k]
    return best, best_e


def simulated_annealing(qubo: QUBO, *, sweeps: int = 1000, reads: int = 10,
                        beta_range: tuple[float, float] | None = None,
                        seed: int | np.random.Generator | None = None,
                        reference: bool = False) -> Solution:
    """Metropolis single-flip annealing with a geometric inverse-temperature schedule.

    Args:
        qubo: the model.
        sweeps: sweeps (``n`` proposals each) per read.
        reads: independent restarts from random assignments; the best is returned.
        beta_range: ``(β_start, β_end)``; default from the coefficient scale.
        seed: random seed.
        reference: use the plain numpy implementation instead of the numba kernel.
    """
    if sweeps < 1 or reads < 1:
        raise AppsError(f"sweeps and reads must be positive, got {sweeps}, {reads}")
    n = qubo.num_variables
    rng = np.random.default_rng(seed)
    lin = np.ascontiguousarray(qubo.linear, dtype=np.float64)
    sym = qubo.quadratic + qubo.quadratic.T
    if n == 0:
        return Solution((), qubo.offset, "annealing")
    if beta_range is None:
        scale = max(float(np.max(np.abs(lin) + np.abs(sym).sum(axis=1))), 1e-12)
        beta_range = (0.1 / scale, 20.0 / max(float(np.min(np.abs(sym[sym != 0]), initial=scale)),
                                             1e-12 * scale))
    steps = sweeps * n
    betas = np.geomspace(beta_range[0], beta_range[1], steps)
    run = _sa_reference if reference else _sa_kernel
    best_x: np.ndarray | None = None
    best_e = np.inf
    for _ in range(reads):
        x0 = rng.integers(0, 2, n).astype(np.int64)
        flips = rng.integers(0, n, steps).astype(np.int64)
        uni = rng.random(steps)
        x, e = run(lin, sym, x0, betas, flips, uni)
        if e < best_e:
            best_x, best_e = np.asarray(x), float(e)
    assert best_x is not None
    return Solution(tuple(int(b) for b in best_x), qubo.energy(best_x), "annealing")


# ---- MaxCut ------------------------------------------------------------------------------------
def maxcut_qubo(graph: Any) -> QUBO:
    """QUBO whose minimum is minus the maximum cut of a networkx graph (edge attr ``weight``, default 1).

    Nodes are relabelled ``0..n-1`` in ``sorted`` order when they are not already.
    """
    nodes = list(graph.nodes)
    index = {v: i for i, v in enumerate(sorted(nodes) if _sortable(nodes) else nodes)}
    n = len(nodes)
    lin = np.zeros(n)
    quad = np.zeros((n, n))
    for u, v, d in graph.edges(data=True):
        w = float(d.get("weight", 1.0))
        i, j = index[u], index[v]
        if i == j:
            continue
        # cut(x) = Σ w (x_i + x_j - 2 x_i x_j); minimise -cut
        lin[i] -= w
        lin[j] -= w
        quad[min(i, j), max(i, j)] += 2 * w
    return QUBO(lin, quad)


def _sortable(nodes: list[Any]) -> bool:
    try:
        sorted(nodes)
    except TypeError:
        return False
    return True


def cut_diagonal(graph: Any) -> np.ndarray:
    """Cut value of every index (bit ``i`` = side of node ``i``)."""
    return -maxcut_qubo(graph).diagonal()
