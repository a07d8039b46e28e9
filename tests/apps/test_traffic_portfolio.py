from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from qvalley.apps import AppsError
from qvalley.apps.portfolio import Portfolio, solve_portfolio
from qvalley.apps.qaoa import optimize_qaoa
from qvalley.apps.qubo import QUBO, bits_of, solve_exact
from qvalley.apps.traffic import build_problem, default_cars, load_network, solve_traffic

# Qiskit Finance tutorial "Portfolio Optimization" (qiskit-finance 0.4.0 output, 4 assets, seed 123,
# q = 0.5, budget 2): the QUBO value it prints for every selection [x0 x1 x2 x3].
TUTORIAL_VALUES = {
    (1, 0, 0, 1): -0.0149, (1, 1, 1, 1): 4.0656, (0, 1, 1, 1): 1.0199, (1, 0, 1, 1): 1.0049,
    (0, 0, 1, 1): -0.0010, (1, 1, 0, 1): 1.0060, (0, 1, 0, 1): 0.0002, (0, 0, 0, 1): 1.0191,
    (1, 1, 1, 0): 1.0069, (0, 1, 1, 0): 0.0008, (1, 0, 1, 0): -0.0140, (0, 0, 1, 0): 1.0197,
    (1, 1, 0, 0): -0.0130, (0, 1, 0, 0): 1.0208, (1, 0, 0, 0): 1.0059, (0, 0, 0, 0): 4.0795,
}


def test_tutorial_qubo_reconstructed_and_solved() -> None:
    # fit the 11 QUBO coefficients to the 16 printed values, then solve it ourselves
    rows, vals = [], []
    pairs = list(itertools.combinations(range(4), 2))
    for x, v in TUTORIAL_VALUES.items():
        rows.append([1.0, *x, *(x[i] * x[j] for i, j in pairs)])
        vals.append(v)
    coef, *_ = np.linalg.lstsq(np.array(rows), np.array(vals), rcond=None)
    assert np.max(np.abs(np.array(rows) @ coef - vals)) < 1e-4  # the printed values are a QUBO
    quad = np.zeros((4, 4))
    for (i, j), c in zip(pairs, coef[5:], strict=True):
        quad[i, j] = c
    q = QUBO(coef[1:5], quad, coef[0])
    ex = solve_exact(q)
    assert list(ex.x) == [1, 0, 0, 1] and ex.energy == pytest.approx(-0.0149, abs=1e-4)
    r = optimize_qaoa(q, 2)
    assert bits_of(r.most_probable, 4) in ([1, 0, 0, 1], [1, 0, 1, 0], [1, 1, 0, 0])


def test_portfolio_qubo_equals_objective_plus_penalty() -> None:
    rng = np.random.default_rng(0)
    m = rng.normal(size=(4, 4))
    pf = Portfolio(rng.normal(size=4) * 0.01, m @ m.T * 1e-3, 0.5, 2, 4.0)
    q = pf.to_qubo()
    for x in itertools.product([0, 1], repeat=4):
        assert q.energy(x) == pytest.approx(pf.objective(x) + 4.0 * (sum(x) - 2) ** 2)
    r = solve_portfolio(pf)
    assert sum(r.exact) == 2 and r.annealing_value == pytest.approx(r.exact_value)


def test_shipped_portfolio_example() -> None:
    from importlib import resources

    path = str(resources.files("qvalley.apps").joinpath("data", "portfolio_4.json"))
    r = solve_portfolio(Portfolio.from_file(path))
    assert list(r.exact) == [1, 0, 1, 0]
    assert list(r.qaoa) == list(r.exact)


def test_bad_portfolio_files(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"expected_returns": [0.1, 0.2], "covariances": [[1, 0]]}))
    with pytest.raises(AppsError):
        Portfolio.from_file(str(f))
    with pytest.raises(AppsError):
        Portfolio.from_file(str(tmp_path / "missing.json"))


def test_traffic_qubo_is_congestion_on_feasible_assignments() -> None:
    g = load_network()
    prob = build_problem(g, default_cars(g, 3, seed=1), 2)
    q = prob.to_qubo()
    for k in range(1 << q.num_variables):
        x = bits_of(k, q.num_variables)
        if prob.feasible(x):
            assert q.energy(x) == pytest.approx(prob.congestion(x))
        else:
            assert q.energy(x) > prob.congestion(x)
    res, _before, after = solve_traffic(prob, p=1)
    assert res.exact <= res.before and res.exact == pytest.approx(np.sum(after**2))
    assert res.annealing == pytest.approx(res.exact)
    assert res.qaoa >= res.exact


def test_routes_are_k_shortest_distinct() -> None:
    g = load_network()
    prob = build_problem(g, [(0, 15)], 3)
    lengths = [sum(g.edges[u, v]["length"] for u, v in itertools.pairwise(p)) for p in prob.routes[0]]
    assert lengths == sorted(lengths) and len(set(prob.routes[0])) == 3
    assert lengths[0] == 700 + 800


def test_bad_network_file(tmp_path: Path) -> None:
    f = tmp_path / "n.json"
    f.write_text(json.dumps({"nodes": [[0, 0, 0]], "edges": [[0, 1, 100]]}))
    with pytest.raises(AppsError, match="unknown node"):
        load_network(str(f))
