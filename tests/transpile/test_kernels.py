"""Fast transpiler kernels against their plain twins: same decisions, same random draws."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qvalley import Circuit
from qvalley.circuit.gates import Gate
from qvalley.transpile.core import ops_depth
from qvalley.transpile.routing import (
    Dag,
    _sabre_kernel,
    sabre_route,
    sabre_route_arrays,
    sabre_route_reference,
)
from qvalley.transpile.target import build_target


def _grid(r: int, c: int) -> list[tuple[int, int]]:
    out = []
    for i in range(r):
        for j in range(c):
            q = i * c + j
            if j + 1 < c:
                out.append((q, q + 1))
            if i + 1 < r:
                out.append((q, q + c))
    return out


COUPLINGS = {
    "line": [(i, i + 1) for i in range(7)],
    "grid": _grid(3, 3),
    "ring": [(i, (i + 1) % 8) for i in range(8)],
    "two-regions": [(0, 1), (1, 2), (2, 3), (4, 5), (5, 6), (6, 7)],
}


def _random_ops(rng: np.random.Generator, nq: int, nops: int, nbits: int
                ) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    qubits: list[tuple[int, ...]] = []
    bits: list[tuple[int, ...]] = []
    for _ in range(nops):
        r = rng.random()
        if r < 0.6 and nq > 1:
            a, b = (int(x) for x in rng.choice(nq, 2, replace=False))
            qubits.append((a, b))
            bits.append(())
        elif r < 0.85 or nbits == 0:
            qubits.append((int(rng.integers(nq)),))
            bits.append(())
        else:  # a measurement or a classically conditioned gate
            qubits.append((int(rng.integers(nq)),))
            bits.append((int(rng.integers(nbits)),))
    return qubits, bits


def _check(name: str, seed: int, nops: int, valve: int | None = None) -> None:
    rng = np.random.default_rng(seed)
    coupling = COUPLINGS[name]
    target = build_target(None, coupling=coupling, basis=["cz", "sx", "rz"])
    nphys = target.num_qubits
    # virtual qubits that interact must share a connected region: use the first region only
    region = target.components[0]
    nq = len(region)
    qubits, bits = _random_ops(rng, nq, nops, 2)
    dag = Dag(qubits, bits)
    perm = [int(x) for x in rng.permutation(region)]
    rest = [p for p in range(nphys) if p not in region]
    layout = perm + rest
    r_ref, r_nb, r_py = (np.random.default_rng(seed + 1) for _ in range(3))
    ref = sabre_route_reference(dag, target, layout, r_ref, valve)
    if valve is None:
        assert sabre_route(dag, target, layout, r_nb) == ref
    else:
        st_nb, l_nb, n_nb = sabre_route_arrays(dag, target, layout, r_nb, valve=valve)
        assert [tuple(int(x) for x in s) for s in st_nb] == ref[0] and n_nb == ref[2]
        assert [int(x) for x in l_nb] == ref[1]
    steps, l2p, ns = sabre_route_arrays(dag, target, layout, r_py, _sabre_kernel, valve)
    assert [tuple(int(x) for x in s) for s in steps] == ref[0]
    assert [int(x) for x in l2p] == ref[1] and ns == ref[2]
    # the generators were advanced identically (same number and kind of draws)
    assert r_ref.random() == r_nb.random() == r_py.random()
    # every operation appears once, after its predecessors; SWAPs sit on couplers
    executed = [i for i, _, _ in ref[0] if i >= 0]
    assert sorted(executed) == list(range(nops))
    edges = set(target.edges)
    assert all((p, q) in edges for i, p, q in ref[0] if i < 0)


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(sorted(COUPLINGS)), seed=st.integers(0, 2**31 - 1),
       nops=st.integers(0, 60))
def test_sabre_kernel_matches_reference(name: str, seed: int, nops: int) -> None:
    _check(name, seed, nops)


def test_sabre_kernel_release_valve_and_ties() -> None:
    # a long line forces many SWAPs per gate (ties and decay resets); all three agree
    for seed in range(4):
        _check("line", seed, 120)
        _check("ring", seed, 120)
    # the release valve (shortest-path walk) after 0 or 2 fruitless SWAPs
    for valve in (0, 2):
        for name in ("line", "grid", "two-regions"):
            _check(name, 7, 80, valve)


def test_ops_depth_matches_circuit_depth() -> None:
    for seed in range(6):
        rng = np.random.default_rng(seed)
        c = Circuit(5, 3)
        for _ in range(40):
            r = rng.random()
            q = int(rng.integers(5))
            if r < 0.4:
                c.h(q)
            elif r < 0.7:
                c.cx(q, (q + 1 + int(rng.integers(4))) % 5)
            elif r < 0.8:
                c.measure(q, int(rng.integers(3)))
            elif r < 0.9:
                c.barrier(*range(int(rng.integers(1, 6))))
            else:
                c.append(Gate("x"), [q], condition=((int(rng.integers(3)),), 1))
        assert ops_depth(list(c.operations), 5, 3) == c.depth()
