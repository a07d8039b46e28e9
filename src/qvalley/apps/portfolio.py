"""Markowitz portfolio selection with a budget constraint as a QUBO.

Choose ``x ∈ {0,1}^n`` (asset ``i`` bought or not) minimising
``q · xᵀ Σ x - μᵀ x + P · (Σ_i x_i - B)²`` with risk factor ``q``, expected returns ``μ``,
covariances ``Σ``, budget ``B`` and penalty ``P``. Solved exactly, by QAOA and by annealing.

A portfolio file is JSON: ``{"expected_returns": [...], "covariances": [[...]], "risk_factor": q,
"budget": B, "penalty": P, "assets": [names]}`` (``assets`` optional).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import AppsError
from .qubo import QUBO, bits_of, simulated_annealing, solve_exact


@dataclass(frozen=True)
class Portfolio:
    """A Markowitz selection problem (returns and covariances per period)."""

    expected_returns: np.ndarray
    covariances: np.ndarray
    risk_factor: float = 0.5
    budget: int = 2
    penalty: float = 4.0
    assets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        mu = np.asarray(self.expected_returns, dtype=float)
        sig = np.asarray(self.covariances, dtype=float)
        n = mu.size
        if mu.ndim != 1 or sig.shape != (n, n):
            raise AppsError(f"portfolio needs n returns and an n×n covariance, got {mu.shape}, "
                            f"{sig.shape}")
        if not np.allclose(sig, sig.T, atol=1e-12):
            raise AppsError("covariance matrix must be symmetric")
        if not 0 <= self.budget <= n:
            raise AppsError(f"budget {self.budget} must be between 0 and the {n} assets")
        object.__setattr__(self, "expected_returns", mu)
        object.__setattr__(self, "covariances", sig)
        if not self.assets:
            object.__setattr__(self, "assets", tuple(f"asset{i}" for i in range(n)))
        elif len(self.assets) != n:
            raise AppsError(f"{len(self.assets)} asset names for {n} assets")

    @classmethod
    def from_file(cls, path: str) -> Portfolio:
        try:
            d = json.loads(Path(path).read_text())
            return cls(np.asarray(d["expected_returns"]), np.asarray(d["covariances"]),
                       float(d.get("risk_factor", 0.5)), int(d.get("budget", 2)),
                       float(d.get("penalty", 4.0)), tuple(d.get("assets", ())))
        except FileNotFoundError:
            raise AppsError(f"{path}: no such portfolio file") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise AppsError(f"{path}: not a portfolio JSON with expected_returns and covariances "
                            f"({exc})") from None

    def objective(self, x: Any) -> float:
        """``q xᵀΣx - μᵀx`` (no penalty)."""
        v = np.asarray(x, dtype=float)
        return float(self.risk_factor * v @ self.covariances @ v - self.expected_returns @ v)

    def to_qubo(self) -> QUBO:
        n = self.expected_returns.size
        q = self.risk_factor * self.covariances.copy()
        lin = -self.expected_returns.copy()
        # P (Σx - B)^2 = P [Σ_i x_i (1 - 2B) + 2 Σ_{i<j} x_i x_j + B^2]
        lin += self.penalty * (1 - 2 * self.budget)
        q = q + self.penalty * (np.ones((n, n)) - np.eye(n))
        return QUBO(lin, q, self.penalty * self.budget**2)


@dataclass(frozen=True)
class PortfolioResult:
    exact: tuple[int, ...]
    exact_value: float
    qaoa: tuple[int, ...]
    qaoa_value: float
    qaoa_probability: float
    annealing: tuple[int, ...]
    annealing_value: float
    p: int

    def to_dict(self) -> dict[str, Any]:
        return {"selection": list(self.exact), "value": self.exact_value,
                "qaoa": {"selection": list(self.qaoa), "value": self.qaoa_value,
                         "probability": self.qaoa_probability, "p": self.p},
                "annealing": {"selection": list(self.annealing), "value": self.annealing_value}}


def solve_portfolio(pf: Portfolio, *, p: int = 2, seed: int | None = 0) -> PortfolioResult:
    """Exact, QAOA (most probable selection) and annealing answers (value = QUBO energy)."""
    from .qaoa import optimize_qaoa

    q = pf.to_qubo()
    n = q.num_variables
    if n > 20:
        raise AppsError(f"{n} assets is too many for exact/QAOA on the statevector (at most 20)")
    ex = solve_exact(q)
    diag = q.diagonal()
    # rescale so QAOA angles are O(1); the argmin is unchanged
    r = optimize_qaoa(diag / max(float(np.ptp(diag)), 1e-12), p)
    xq = tuple(bits_of(r.most_probable, n))
    sa = simulated_annealing(q, sweeps=200, reads=5, seed=seed)
    return PortfolioResult(ex.x, ex.energy, xq, q.energy(xq), r.probability, sa.x, sa.energy, p)
