"""QAOA on a precomputed cost diagonal, with an exact adjoint gradient.

The cost Hamiltonian is diagonal, ``H_C = diag(E)`` with ``E`` the energy of every basis state (qubit
``k`` = bit ``k`` of the index), so a cost layer is one elementwise phase and ``⟨H_C⟩`` is one pass
``Σ |ψ_i|² E_i``. The mixer ``exp(-iβ Σ X_q)`` is applied qubit by qubit on the statevector viewed as
``(2^{n-q-1}, 2, 2^q)``. The gradient is adjoint differentiation: one backward sweep, exact.

Parameters are ``(γ_1..γ_p, β_1..β_p)`` for ``|γ,β⟩ = Π_l e^{-iβ_l ΣX} e^{-iγ_l H_C} |+⟩^n``.
The default initialisation avoids the all-zero saddle (where every gradient vanishes): a coarse
grid for ``p = 1``, then INTERP (Zhou et al., PRX 10, 021067) from the optimum at ``p - 1``; a
linear ramp (a Trotterised annealing path) is available as ``init="ramp"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit, prange
from scipy.optimize import minimize

from ._errors import AppsError
from .qubo import QUBO


def _mixer(psi: np.ndarray, n: int, beta: float) -> np.ndarray:
    """``exp(-iβ Σ_q X_q) ψ`` (in place on a copy-free view where possible)."""
    c, s = np.cos(beta), -1j * np.sin(beta)
    for q in range(n):
        v = psi.reshape(1 << (n - q - 1), 2, 1 << q)
        a0 = v[:, 0, :].copy()
        a1 = v[:, 1, :]
        v[:, 0, :] = c * a0 + s * a1
        v[:, 1, :] = c * a1 + s * a0
    return psi


@njit(parallel=True, cache=True)
def _mixer_kernel(psi, n, beta):  # pragma: no cover - compiled
    """Numba twin of :func:`_mixer` (same arguments, same result, in place)."""
    c = np.cos(beta)
    s = -1j * np.sin(beta)
    half = psi.size // 2
    for q in range(n):
        low = (1 << q) - 1
        for k in prange(half):
            i0 = ((k & ~low) << 1) | (k & low)
            i1 = i0 | (1 << q)
            a0 = psi[i0]
            a1 = psi[i1]
            psi[i0] = c * a0 + s * a1
            psi[i1] = c * a1 + s * a0
    return psi


FAST_MIN_QUBITS = 10  # below this the numpy path is as fast (no thread start-up)


def _mix(psi: np.ndarray, n: int, beta: float) -> np.ndarray:
    if n >= FAST_MIN_QUBITS:
        return _mixer_kernel(psi, n, float(beta))  # type: ignore[no-any-return]
    return _mixer(psi, n, beta)


def _sum_x(psi: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros_like(psi)
    for q in range(n):
        v = psi.reshape(1 << (n - q - 1), 2, 1 << q)
        out.reshape(1 << (n - q - 1), 2, 1 << q)[...] += v[:, ::-1, :]
    return out


def qaoa_state(diagonal: np.ndarray, gammas: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """The QAOA statevector for cost ``diagonal`` (length ``2^n``)."""
    n = int(diagonal.size).bit_length() - 1
    psi = np.full(diagonal.size, 1 / np.sqrt(diagonal.size), dtype=complex)
    for g, b in zip(gammas, betas, strict=True):
        psi *= np.exp(-1j * g * diagonal)
        _mix(psi, n, b)
    return psi


def qaoa_expectation(diagonal: np.ndarray, params: np.ndarray) -> float:
    """``⟨γ,β| H_C |γ,β⟩`` with ``params = (γ_1..γ_p, β_1..β_p)``."""
    p = len(params) // 2
    psi = qaoa_state(diagonal, params[:p], params[p:])
    return float(np.dot(psi.real**2 + psi.imag**2, diagonal))


def qaoa_value_and_grad(diagonal: np.ndarray, params: np.ndarray) -> tuple[float, np.ndarray]:
    """Expectation and its exact gradient by adjoint differentiation (one forward, one backward sweep)."""
    params = np.asarray(params, dtype=float)
    p = len(params) // 2
    n = int(diagonal.size).bit_length() - 1
    gam, bet = params[:p], params[p:]
    phi = qaoa_state(diagonal, gam, bet)
    value = float(np.dot(phi.real**2 + phi.imag**2, diagonal))
    lam = diagonal * phi
    grad = np.zeros(2 * p)
    for layer in range(p - 1, -1, -1):
        # mixer: dE/dβ = 2 Im <λ|ΣX|φ>
        grad[p + layer] = 2 * float(np.vdot(lam, _sum_x(phi, n)).imag)
        _mix(phi, n, -bet[layer])
        _mix(lam, n, -bet[layer])
        grad[layer] = 2 * float(np.vdot(lam, diagonal * phi).imag)
        ph = np.exp(1j * gam[layer] * diagonal)
        phi *= ph
        lam *= ph
    return value, grad


def linear_ramp(p: int, delta: float = 0.75) -> np.ndarray:
    """Trotterised annealing from ``-ΣX`` to ``H_C``: ``γ_l = f_l Δ``, ``β_l = -(1 - f_l) Δ``."""
    f = (np.arange(p) + 0.5) / p
    return np.concatenate([f * delta, -(1 - f) * delta])


def interp(params: np.ndarray) -> np.ndarray:
    """INTERP: depth-``p`` parameters → a depth-``p+1`` start (linear interpolation of each schedule)."""
    p = len(params) // 2

    def up(x: np.ndarray) -> np.ndarray:
        ext = np.concatenate([[0.0], x, [0.0]])
        i = np.arange(1, p + 2)
        return (i - 1) / p * ext[i - 1] + (p - i + 1) / p * ext[i]

    return np.concatenate([up(params[:p]), up(params[p:])])


@dataclass(frozen=True)
class QAOAResult:
    """Optimised QAOA: ``energy = ⟨H_C⟩``, parameters, the most probable index and bookkeeping."""

    energy: float
    gammas: tuple[float, ...]
    betas: tuple[float, ...]
    most_probable: int
    probability: float
    evaluations: int
    history: tuple[float, ...] = field(default=(), repr=False)

    @property
    def p(self) -> int:
        return len(self.gammas)

    def to_dict(self) -> dict[str, Any]:
        return {"energy": self.energy, "gammas": list(self.gammas), "betas": list(self.betas),
                "most_probable": self.most_probable, "probability": self.probability,
                "evaluations": self.evaluations}


def _scale(diagonal: np.ndarray) -> float:
    """Typical energy step: the std of the diagonal over all states (≥ tiny)."""
    return max(float(np.std(diagonal)), 1e-12)


def _grid_p1(diagonal: np.ndarray, points: int = 12) -> np.ndarray:
    s = _scale(diagonal)
    best, arg = np.inf, np.zeros(2)
    for g in np.linspace(0.02, np.pi, points) / s:
        for b in np.linspace(-np.pi / 2, np.pi / 2, points, endpoint=False):
            v = qaoa_expectation(diagonal, np.array([g, b]))
            if v < best:
                best, arg = v, np.array([g, b])
    return arg


def optimize_qaoa(cost: QUBO | np.ndarray, p: int, *, init: str = "interp",
                  initial: np.ndarray | None = None, maxiter: int = 500,
                  callback: Callable[[np.ndarray, float], None] | None = None) -> QAOAResult:
    """Minimise ``⟨H_C⟩`` at depth ``p`` with L-BFGS-B and the adjoint gradient.

    Args:
        cost: a QUBO or a precomputed diagonal (length ``2^n``), to be minimised.
        p: depth (≥ 1).
        init: ``"interp"`` (grid at p=1, then INTERP layer by layer), ``"ramp"`` (linear ramp).
        initial: explicit starting parameters (overrides ``init``).
        maxiter: L-BFGS-B iterations per depth.
        callback: called with ``(params, value)`` after each iteration at the final depth.
    """
    if p < 1:
        raise AppsError(f"QAOA depth p must be at least 1, got {p}")
    diag = cost.diagonal() if isinstance(cost, QUBO) else np.asarray(cost, dtype=float)
    if diag.size < 2 or diag.size & (diag.size - 1):
        raise AppsError(f"cost diagonal length {diag.size} is not a power of two ≥ 2")
    evals = 0
    history: list[float] = []

    def run(x0: np.ndarray, cb: bool) -> np.ndarray:
        nonlocal evals

        def f(x: np.ndarray) -> tuple[float, np.ndarray]:
            nonlocal evals
            evals += 1
            return qaoa_value_and_grad(diag, x)

        def step(xk: np.ndarray) -> None:
            v = qaoa_expectation(diag, xk)
            history.append(v)
            if callback is not None:
                callback(xk.copy(), v)

        res = minimize(f, x0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter},
                       callback=step if cb else None)
        return np.asarray(res.x)

    if initial is not None:
        x = np.asarray(initial, dtype=float)
        if x.size != 2 * p:
            raise AppsError(f"initial parameters need 2p = {2 * p} values, got {x.size}")
        x = run(x, True)
    elif init == "ramp":
        x = run(linear_ramp(p, 0.75 / _scale(diag) * np.sqrt(p)), True)
    elif init == "interp":
        x = run(_grid_p1(diag), p == 1)
        for depth in range(2, p + 1):
            x = run(interp(x), depth == p)
    else:
        raise AppsError(f"unknown QAOA init {init!r} (interp, ramp)")
    psi = qaoa_state(diag, x[:p], x[p:])
    probs = psi.real**2 + psi.imag**2
    k = int(np.argmax(probs))
    return QAOAResult(float(probs @ diag), tuple(map(float, x[:p])), tuple(map(float, x[p:])), k,
                      float(probs[k]), evals, tuple(history))


# ---- MaxCut -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MaxCutResult:
    """QAOA on MaxCut: expected cut, the exact maximum, their ratio and the most probable cut."""

    expected_cut: float
    max_cut: float
    ratio: float
    best_bitstring: str
    best_cut: float
    probability: float
    p: int
    gammas: tuple[float, ...]
    betas: tuple[float, ...]
    num_nodes: int
    num_edges: int

    def to_dict(self) -> dict[str, Any]:
        return {"expected_cut": self.expected_cut, "max_cut": self.max_cut, "ratio": self.ratio,
                "best_bitstring": self.best_bitstring, "best_cut": self.best_cut,
                "probability": self.probability, "p": self.p,
                "parameters": {"gamma": list(self.gammas), "beta": list(self.betas)},
                "num_nodes": self.num_nodes, "num_edges": self.num_edges}


def qaoa_maxcut(graph: Any, p: int = 1, *, init: str = "interp") -> MaxCutResult:
    """QAOA for MaxCut on a networkx graph (nodes ``0..n-1``; node 0 = rightmost bitstring character)."""
    from .qubo import bitstring, maxcut_qubo

    n = graph.number_of_nodes()
    if n < 2:
        raise AppsError(f"MaxCut needs at least 2 nodes, got {n}")
    if n > 26:
        raise AppsError(f"the graph has {n} nodes; QAOA on the statevector supports at most 26")
    q = maxcut_qubo(graph)
    diag = q.diagonal()  # = -cut
    res = optimize_qaoa(diag, p, init=init)
    max_cut = float(-diag.min())
    exp_cut = -res.energy
    return MaxCutResult(exp_cut, max_cut, exp_cut / max_cut if max_cut else 1.0,
                        bitstring(res.most_probable, n), float(-diag[res.most_probable]),
                        res.probability, p, res.gammas, res.betas, n, graph.number_of_edges())


# ---- circuits for devices -------------------------------------------------------------------------
def qaoa_circuit(qubo: QUBO, gammas: Any, betas: Any) -> Any:
    """The QAOA state as a gate circuit (H, RZ, RZZ, RX) for sampling on an emulated device.

    With the Ising form ``E = c + Σ h_i Z_i + Σ J_ij Z_i Z_j``, ``e^{-iγE}`` is ``RZ(2γh_i)`` and
    ``RZZ(2γJ_ij)`` up to a global phase; the mixer is ``RX(2β)``.
    """
    from ..circuit.circuit import Circuit

    h, jm, _ = qubo.to_ising()
    n = qubo.num_variables
    c = Circuit(n)
    for q in range(n):
        c.h(q)
    for g, b in zip(gammas, betas, strict=True):
        for i in range(n):
            for j in range(i + 1, n):
                if jm[i, j]:
                    c.rzz(2 * g * float(jm[i, j]), i, j)
        for i in range(n):
            if h[i]:
                c.rz(2 * g * float(h[i]), i)
        for q in range(n):
            c.rx(2 * float(b), q)
    return c


def sample_on_device(qubo: QUBO, gammas: Any, betas: Any, device: str, *, shots: int = 2000,
                     seed: int | None = 0) -> dict[str, Any]:
    """Sample the QAOA circuit on ``device`` (noise from its calibration): mean and best energy seen."""
    from ..emulator import run_on_device

    run = run_on_device(qaoa_circuit(qubo, gammas, betas), device, shots=shots, seed=seed)
    n = qubo.num_variables
    diag = qubo.diagonal()
    keys = list(run.counts)
    idx = np.array([int(k[-n:], 2) for k in keys], dtype=np.int64)
    cnt = np.array([run.counts[k] for k in keys], dtype=float)
    e = diag[idx]
    best = int(idx[np.argmin(e)])
    return {"device": run.device, "shots": run.shots, "method": run.method,
            "mean_energy": float(e @ cnt / cnt.sum()), "best_energy": float(diag[best]),
            "best_bitstring": format(best, f"0{n}b"), "seconds": run.seconds}
