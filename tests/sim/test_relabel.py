"""Qubit relabeling in the fast statevector engine: swap kernel, restore passes, whole circuits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qvalley import Circuit, Gate
from qvalley.circuit import GATES
from qvalley.sim import get_simulator
from qvalley.sim.statevector import kernels, relabel
from qvalley.sim.statevector.engine import StatevectorSimulator
from qvalley.sim.statevector.fast import RELABEL_MIN_QUBITS, FastBackend
from qvalley.sim.statevector.reference import swap_bits


def _rand_state(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=1 << n) + 1j * rng.normal(size=1 << n)


@st.composite
def _pairs(draw: st.DrawFn, n: int) -> list[tuple[int, int]]:
    """Disjoint bit pairs naming at most MAX_UPPER bits >= LANE."""
    bits = draw(st.permutations(list(range(n))))
    npairs = draw(st.integers(1, 4))
    pairs: list[tuple[int, int]] = []
    upper = 0
    for j in range(npairs):
        a, b = sorted(bits[2 * j: 2 * j + 2])
        add = (a >= relabel.LANE) + (b >= relabel.LANE)
        if upper + add > relabel.MAX_UPPER:
            break
        upper += add
        pairs.append((a, b))
    return pairs


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(12, 14))
def test_swap_kernel_equals_reference(data: st.DataObject, n: int) -> None:
    pairs = data.draw(_pairs(n))
    psi = _rand_state(n, np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))))
    got = psi.copy()
    kernels.permute_local(got, *relabel.SwapPass(pairs).tables())
    assert np.array_equal(got, swap_bits(psi, pairs))
    single = psi.astype(np.complex64)
    kernels.permute_local(single, *relabel.SwapPass(pairs).tables())
    assert np.array_equal(single, swap_bits(psi.astype(np.complex64), pairs))


@settings(max_examples=60, deadline=None)
@given(perm=st.integers(12, 16).flatmap(lambda n: st.permutations(list(range(n)))))
def test_restore_passes_undo_any_layout(perm: list[int]) -> None:
    """Logical qubit l stored at bit perm[l]: the restore passes bring every qubit home."""
    n = len(perm)
    passes = relabel.restore_passes(perm)
    assert len(passes) <= 2 * (n // 2) and all(
        len({q for p in sp.pairs for q in p if q >= relabel.LANE}) <= relabel.MAX_UPPER
        for sp in passes)
    where = list(perm)  # bit of each logical qubit
    for sp in passes:
        flat = [q for p in sp.pairs for q in p]
        assert len(flat) == len(set(flat))  # disjoint
        swap = {a: b for a, b in sp.pairs} | {b: a for a, b in sp.pairs}
        where = [swap.get(p, p) for p in where]
    assert where == list(range(n))
    # and on a state: a state with qubit l at bit perm[l], restored, is the logical state
    rng = np.random.default_rng()
    logical = _rand_state(n, rng) if n <= 13 else None
    if logical is not None:
        idx = np.arange(1 << n)
        stored_idx = np.zeros_like(idx)
        for lq, p in enumerate(perm):
            stored_idx |= ((idx >> lq) & 1) << p
        stored = np.empty_like(logical)
        stored[stored_idx] = logical
        for sp in passes:
            kernels.permute_local(stored, *sp.tables())
        assert np.array_equal(stored, logical)


def _random_circuit(n: int, depth: int, rng: np.random.Generator, clbits: int = 0,
                    c: Circuit | None = None) -> Circuit:
    names = [k for k, s in GATES.items() if s.num_qubits <= n]
    c = Circuit(n, clbits) if c is None else c
    for _ in range(depth):
        spec = GATES[names[rng.integers(len(names))]]
        qs = [int(q) for q in rng.choice(n, spec.num_qubits, replace=False)]
        c.append(Gate(spec.name, rng.uniform(-4, 4, spec.num_params)), qs)
    return c


@pytest.mark.parametrize("n", [RELABEL_MIN_QUBITS, 13, 15])
@pytest.mark.parametrize("low", [1, 3, 6])
def test_relabeled_engine_equals_reference(n: int, low: int) -> None:
    """Random circuits of every gate on every qubit, relabeling forced on: same final state (the
    layout is restored, bit k = qubit k), and the plan really swaps."""
    rng = np.random.default_rng()
    c = _random_circuit(n, 10 * n, rng)
    ref = get_simulator(precision="double", engine="reference").statevector(c)
    be = FastBackend("double", relabel="on", relabel_low=low)
    sim = StatevectorSimulator(be)
    steps = be.plan(sim._gate_list(c.operations), n)
    assert any(isinstance(s, relabel.SwapPass) for s in steps)
    assert np.allclose(sim.statevector(c), ref, atol=1e-10)
    single = StatevectorSimulator(FastBackend("single", relabel="on", relabel_low=low))
    assert np.allclose(single.statevector(c), ref, atol=2e-5)


def test_relabeled_samples_and_mid_circuit_measurement() -> None:
    """Sampling and mid-circuit measurement see the restored layout (bit k = qubit k)."""
    rng = np.random.default_rng()
    n = 12
    on = StatevectorSimulator(FastBackend("double", relabel="on"))
    off = StatevectorSimulator(FastBackend("double", relabel="off"))
    seed = int(rng.integers(1 << 31))
    c = _random_circuit(n, 60, rng)
    assert on.run(c, shots=200, seed=seed).counts == off.run(c, shots=200, seed=seed).counts
    mid = _random_circuit(n, 40, rng, clbits=2).measure(0, 0).h(0)
    mid.append(Gate("x"), 5, condition=((0,), 1))
    _random_circuit(n, 40, rng, c=mid).measure(5, 1)
    assert on.run(mid, shots=64, seed=seed).counts == off.run(mid, shots=64, seed=seed).counts


def test_relabel_option_is_checked() -> None:
    with pytest.raises(ValueError, match="relabel"):
        FastBackend("single", relabel="sometimes")
