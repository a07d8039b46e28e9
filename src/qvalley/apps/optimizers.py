"""Optimisers for variational algorithms: scipy's (with our gradients), SPSA and Adam.

Every optimiser minimises ``fun(x) -> (value, grad)`` (gradient-free ones ignore the gradient),
records a history of ``(iteration, value)`` and takes a ``seed`` where it is stochastic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize as _sp_minimize

from ._errors import AppsError

ValueGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]
SCIPY_METHODS = ("L-BFGS-B", "BFGS", "SLSQP", "COBYLA")
METHODS = (*SCIPY_METHODS, "SPSA", "Adam")


@dataclass(frozen=True)
class OptimizeResult:
    """Best point, its value, iterations, function evaluations and the per-iteration history."""

    x: np.ndarray
    fun: float
    iterations: int
    evaluations: int
    history: tuple[float, ...] = field(default=(), repr=False)
    method: str = ""


def minimize(fun: ValueGrad, x0: np.ndarray, method: str = "L-BFGS-B", *, maxiter: int = 1000,
             tol: float = 1e-10, seed: int | None = None, learning_rate: float = 0.05,
             callback: Callable[[int, np.ndarray, float], None] | None = None) -> OptimizeResult:
    """Minimise with ``method`` (one of :data:`METHODS`, case-insensitive)."""
    names = {m.lower(): m for m in METHODS}
    if method.lower() not in names:
        raise AppsError(f"unknown optimizer {method!r}; choose from {', '.join(METHODS)}")
    method = names[method.lower()]
    if maxiter < 1:
        raise AppsError(f"maxiter must be positive, got {maxiter}")
    x0 = np.asarray(x0, dtype=float)
    history: list[float] = []
    evals = 0
    last: dict[str, float] = {}

    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal evals
        evals += 1
        v, g = fun(x)
        last["v"] = v
        return v, g

    def record(x: np.ndarray, v: float) -> None:
        history.append(v)
        if callback is not None:
            callback(len(history), np.array(x, copy=True), v)

    if method in SCIPY_METHODS:
        cache: dict[bytes, float] = {}

        def step(xk: np.ndarray, *_: object) -> None:
            key = np.asarray(xk).tobytes()
            record(xk, cache.get(key, last.get("v", float("nan"))))

        def fcached(x: np.ndarray) -> tuple[float, np.ndarray]:
            v, g = f(x)
            cache.clear()
            cache[np.asarray(x).tobytes()] = v
            return v, g

        if method == "COBYLA":
            res = _sp_minimize(lambda x: fcached(x)[0], x0, method="COBYLA", tol=tol,
                               options={"maxiter": maxiter}, callback=step)
        else:
            opts: dict[str, float | int] = {"maxiter": maxiter}
            if method == "L-BFGS-B":
                opts["ftol"] = tol
                opts["gtol"] = 1e-8
            res = _sp_minimize(fcached, x0, method=method, jac=True, tol=tol, options=opts,
                               callback=step)
        x = np.asarray(res.x)
        return OptimizeResult(x, float(fun(x)[0]), int(getattr(res, "nit", len(history)) or len(history)),
                              evals, tuple(history), method)
    rng = np.random.default_rng(seed)
    x = x0.copy()
    best_x, best_v = x.copy(), np.inf
    if method == "Adam":
        m = np.zeros_like(x)
        s = np.zeros_like(x)
        b1, b2, eps = 0.9, 0.999, 1e-8
        prev = np.inf
        for t in range(1, maxiter + 1):
            v, g = f(x)
            if v < best_v:
                best_x, best_v = x.copy(), v
            record(x, v)
            m = b1 * m + (1 - b1) * g
            s = b2 * s + (1 - b2) * g * g
            x = x - learning_rate * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
            if abs(prev - v) < tol and np.linalg.norm(g) < 1e-6:
                break
            prev = v
        return OptimizeResult(best_x, float(best_v), len(history), evals, tuple(history), method)
    # SPSA (Spall): a_k = a / (k + 1 + A)^0.602, c_k = c / (k + 1)^0.101
    a, c, big_a = learning_rate * 4, 0.1, 0.1 * maxiter
    for k in range(maxiter):
        ak = a / (k + 1 + big_a) ** 0.602
        ck = c / (k + 1) ** 0.101
        delta = rng.choice([-1.0, 1.0], size=x.size)
        vp = f(x + ck * delta)[0]
        vm = f(x - ck * delta)[0]
        x = x - ak * (vp - vm) / (2 * ck) * delta
        v = min(vp, vm)
        if v < best_v:
            best_x, best_v = (x + ck * delta if vp < vm else x - ck * delta), v
        record(x, v)
    v_final = f(x)[0]
    if v_final < best_v:
        best_x, best_v = x.copy(), v_final
    return OptimizeResult(best_x, float(best_v), len(history), evals, tuple(history), method)
