from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qvalley.apps import AppsError
from qvalley.apps.qaoa import (
    interp,
    linear_ramp,
    optimize_qaoa,
    qaoa_expectation,
    qaoa_maxcut,
    qaoa_state,
    qaoa_value_and_grad,
)
from qvalley.apps.qubo import (
    QUBO,
    _sa_kernel,
    _sa_reference,
    maxcut_qubo,
    simulated_annealing,
    solve_exact,
)

FGG_P1 = 0.6924500897


def _brute(q: QUBO) -> float:
    n = q.num_variables
    return min(q.energy(x) for x in itertools.product([0, 1], repeat=n))


def test_qubo_constructors_agree() -> None:
    m = np.array([[1.0, 2.0, 0.0], [0.0, -3.0, 1.5], [0.5, 0.0, 2.0]])
    a = QUBO.from_matrix(m, offset=0.25)
    b = QUBO.from_dict({(0,): 1.0, (0, 1): 2.0, (1, 1): -3.0, (1, 2): 1.5, (2, 0): 0.5, (2,): 2.0,
                        (): 0.25})
    for x in itertools.product([0, 1], repeat=3):
        v = np.array(x, float)
        assert a.energy(x) == pytest.approx(v @ m @ v + 0.25)
        assert b.energy(x) == pytest.approx(a.energy(x))
    assert QUBO.from_json_dict(a.to_dict()).energy((1, 1, 1)) == pytest.approx(a.energy((1, 1, 1)))


def test_bad_qubo_input() -> None:
    with pytest.raises(AppsError):
        QUBO.from_matrix(np.ones((2, 3)))
    with pytest.raises(AppsError):
        QUBO.from_dict({(0, 1, 2): 1.0})
    with pytest.raises(AppsError):
        QUBO.from_matrix([[np.nan]])


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_diagonal_ising_and_observable_agree(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    q = QUBO(rng.normal(size=n), rng.normal(size=(n, n)), rng.normal())
    diag = q.diagonal()
    h, jm, c = q.to_ising()
    obs = np.real(np.diag(q.to_observable().to_matrix()))
    for k in range(1 << n):
        x = [(k >> i) & 1 for i in range(n)]
        s = 1 - 2 * np.array(x)
        assert diag[k] == pytest.approx(q.energy(x))
        assert diag[k] == pytest.approx(c + h @ s + s @ jm @ s)
        assert obs[k] == pytest.approx(diag[k])
    assert solve_exact(q).energy == pytest.approx(_brute(q))


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_annealing_kernel_matches_reference(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    q = QUBO(rng.normal(size=n), rng.normal(size=(n, n)))
    sym = q.quadratic + q.quadratic.T
    steps = 50 * n
    args = (q.linear, sym, rng.integers(0, 2, n).astype(np.int64), np.geomspace(0.1, 10, steps),
            rng.integers(0, n, steps).astype(np.int64), rng.random(steps))
    xa, ea = _sa_kernel(*args)
    xb, eb = _sa_reference(*args)
    assert list(xa) == list(xb)
    assert ea == pytest.approx(eb)
    assert ea == pytest.approx(q.energy(xa) - q.offset)


def test_annealing_finds_maxcut_and_is_seeded() -> None:
    g = nx.petersen_graph()
    q = maxcut_qubo(g)
    a = simulated_annealing(q, sweeps=200, reads=5, seed=3)
    assert -a.energy == 12.0
    assert a == simulated_annealing(q, sweeps=200, reads=5, seed=3)


def test_maxcut_qubo_counts_cut_edges() -> None:
    g = nx.cycle_graph(5)
    q = maxcut_qubo(g)
    for k in range(32):
        x = [(k >> i) & 1 for i in range(5)]
        assert -q.energy(x) == sum(x[u] != x[v] for u, v in g.edges)


def test_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    diag = maxcut_qubo(nx.random_regular_graph(3, 8, seed=1)).diagonal()
    x = rng.normal(size=6)
    _, g = qaoa_value_and_grad(diag, x)
    h = 1e-6
    fd = [(qaoa_expectation(diag, x + h * e) - qaoa_expectation(diag, x - h * e)) / (2 * h)
          for e in np.eye(6)]
    np.testing.assert_allclose(g, fd, atol=1e-6)


def test_state_matches_dense_matrices() -> None:
    n = 3
    diag = maxcut_qubo(nx.path_graph(3)).diagonal()
    x = np.array([[0, 1], [1, 0]])
    sx = sum(_op(x, q, n) for q in range(n))
    from scipy.linalg import expm

    psi = np.full(8, 1 / np.sqrt(8), complex)
    g, b = 0.3, -0.7
    psi = expm(-1j * b * sx) @ (np.exp(-1j * g * diag) * psi)
    np.testing.assert_allclose(qaoa_state(diag, np.array([g]), np.array([b])), psi, atol=1e-12)


def _op(m: np.ndarray, q: int, n: int) -> np.ndarray:
    out = np.eye(1)
    for k in reversed(range(n)):
        out = np.kron(out, m if k == q else np.eye(2))
    return out


@pytest.mark.parametrize("graph", [nx.cubical_graph(), nx.petersen_graph(),
                                   nx.complete_bipartite_graph(3, 3)])
def test_p1_triangle_free_cubic_fgg(graph: nx.Graph) -> None:
    r = qaoa_maxcut(graph, 1)
    assert r.expected_cut / graph.number_of_edges() == pytest.approx(FGG_P1, abs=1e-9)


def test_cube_expected_cut_and_depth_improves() -> None:
    g = nx.cubical_graph()
    r1 = qaoa_maxcut(g, 1)
    assert r1.expected_cut == pytest.approx(8.3094, abs=1e-4)
    assert r1.max_cut == 12
    r3 = qaoa_maxcut(g, 3)
    assert r3.expected_cut > qaoa_maxcut(g, 2).expected_cut > r1.expected_cut + 1
    assert r3.ratio <= 1
    # best bitstring: node 0 is the rightmost character
    bits = r3.best_bitstring[::-1]
    assert sum(bits[u] != bits[v] for u, v in g.edges) == r3.best_cut


def test_zero_start_is_a_saddle_and_ramp_init_escapes() -> None:
    diag = maxcut_qubo(nx.cubical_graph()).diagonal()
    _, g0 = qaoa_value_and_grad(diag, np.zeros(4))
    assert np.allclose(g0, 0)  # the all-zero saddle
    r = optimize_qaoa(diag, 2, init="ramp")
    assert -r.energy > 9.0
    assert not np.allclose(linear_ramp(2), 0)
    assert interp(np.array([1.0, 2.0])).shape == (4,)


def test_bad_depth() -> None:
    with pytest.raises(AppsError):
        optimize_qaoa(np.zeros(4), 0)
    with pytest.raises(AppsError):
        optimize_qaoa(np.zeros(3), 1)


def test_qaoa_circuit_matches_diagonal_engine() -> None:
    from qvalley import statevector
    from qvalley.apps.qaoa import qaoa_circuit

    rng = np.random.default_rng(5)
    q = QUBO(rng.normal(size=4), rng.normal(size=(4, 4)))
    g, b = rng.normal(size=2), rng.normal(size=2)
    a = np.asarray(statevector(qaoa_circuit(q, g, b)))
    ref = qaoa_state(q.diagonal(), g, b)
    ph = np.vdot(a, ref)
    assert abs(abs(ph) - 1) < 1e-5
    np.testing.assert_allclose(a * ph, ref, atol=1e-5)


def test_sampling_on_ideal_device_agrees() -> None:
    from qvalley.apps.qaoa import sample_on_device

    g = nx.complete_bipartite_graph(3, 3)
    r = qaoa_maxcut(g, 1)
    d = sample_on_device(maxcut_qubo(g), r.gammas, r.betas, "ideal", shots=4000, seed=2)
    assert abs(-d["mean_energy"] - r.expected_cut) < 0.15


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 11), st.floats(-3, 3), st.integers(0, 2**32 - 1))
def test_mixer_kernel_matches_numpy_reference(n: int, beta: float, seed: int) -> None:
    from qvalley.apps.qaoa import _mixer, _mixer_kernel

    rng = np.random.default_rng(seed)
    psi = rng.normal(size=1 << n) + 1j * rng.normal(size=1 << n)
    np.testing.assert_allclose(_mixer_kernel(psi.copy(), n, beta), _mixer(psi.copy(), n, beta),
                               atol=1e-12)
