"""Batched tensor-network amplitudes (one contraction for B bitstrings through a batch index)
against one-at-a-time contractions and the statevector engine; the executor's batched matmul
steps against np.einsum; path objectives."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qvalley
from qvalley.bench.rcs import sycamore_rcs
from qvalley.sim.tensornet import Executor, TensorNetworkSimulator, contract
from qvalley.sim.tensornet.engine import BATCH_CACHE_BYTES, _target_size

pytestmark = pytest.mark.usefixtures("tn_cache")


def _bits(n: int, idx: list[int]) -> list[str]:
    return [format(i, f"0{n}b") for i in idx]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(4, 9), st.sampled_from(["single", "double"]),
       st.sampled_from([2, 3, 4, 5, 8, 64]), st.integers(2, 21))
def test_batched_equals_one_at_a_time_and_statevector(
        brickwork_circuit: Callable[..., qvalley.Circuit], seed: int, n: int, prec: str, bsize: int,
        count: int) -> None:
    rng = np.random.default_rng(seed)
    c = brickwork_circuit(n, int(rng.integers(2, 6)), rng)
    sv = qvalley.statevector(c, precision="double")
    idx = [int(i) for i in rng.integers(0, 2**n, count)]
    idx += idx[: int(rng.integers(0, 3))]  # duplicates
    sim = TensorNetworkSimulator(c, prec, search_time=0.2, max_repeats=4, batch_size=bsize)
    got = sim.amplitudes(_bits(n, idx), max_open=0)
    u = len(set(idx))
    b = sim.batch_for((), u)
    if u < 2:
        assert b == 0 and sim._groups == 1  # one bitstring: nothing to batch
    else:
        assert b >= 2 and b & (b - 1) == 0 and b <= max(2, bsize)
        assert sim._groups == -(-u // b)  # ceil: the last batch is padded
    ref = sim.amplitudes(_bits(n, idx), batch=False)
    assert got.dtype == ref.dtype == (np.complex64 if prec == "single" else np.complex128)
    tol = 2e-5 if prec == "single" else 1e-10
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * np.abs(sv).max())
    np.testing.assert_allclose(got, sv[idx], rtol=tol, atol=tol * np.abs(sv).max())


@pytest.mark.parametrize("prec", ["single", "double"])
def test_batched_groups_with_open_qubits(prec: str) -> None:
    """Bitstrings that share all but two qubits: grouped by open qubits, groups batched."""
    c = sycamore_rcs(3, 3, 5, seed=5)
    n = 9
    sv = qvalley.statevector(c, precision="double")
    rng = np.random.default_rng(7)
    bases = [int(x) & ~0b10010 for x in rng.integers(0, 2**n, 5)]
    idx = [b | v for b in bases for v in (0, 0b10, 0b10000, 0b10010)]
    rng.shuffle(idx)
    sim = TensorNetworkSimulator(c, prec, search_time=0.3, max_repeats=8, batch_size=4)
    got = sim.amplitudes(_bits(n, idx))
    assert sim._plans and sim._bplans  # one-bitstring plan and its batched form were made
    (opens, bsz), = sim._bplans
    assert opens == (1, 4) and bsz == 4
    tol = 2e-5 if prec == "single" else 1e-10
    np.testing.assert_allclose(got, sv[idx], rtol=tol, atol=tol * np.abs(sv).max())


@pytest.mark.parametrize("prec", ["single", "double"])
def test_batched_with_slicing_forced_by_a_small_memory_cap(prec: str) -> None:
    c = sycamore_rcs(3, 4, 8, seed=1)
    sv = qvalley.statevector(c, precision="double")
    rng = np.random.default_rng(11)
    idx = [int(i) for i in rng.integers(0, 2**12, 5)] + [7, 7]
    sim = TensorNetworkSimulator(c, prec, max_memory=4096, search_time=0.5, max_repeats=8,
                                 threads=2, batch_size=4)
    got = sim.amplitudes(_bits(12, idx), max_open=0)
    single = sim.plan()
    assert single.slices > 1
    (_, bsz), = sim._bplans
    bplan = sim.plan((), bsz)
    target = _target_size(4096, prec)
    assert bplan.batch == bsz >= 2 and bplan.slices >= single.slices
    assert bsz == 2 or bsz * single.tree.max_size() <= target  # B from the memory cap
    assert bplan.tree.max_size() <= target  # sliced further where B = 2 does not fit
    tol = 2e-5 if prec == "single" else 1e-10
    np.testing.assert_allclose(got, sim.amplitudes(_bits(12, idx), batch=False), rtol=tol,
                               atol=tol * np.abs(sv).max())
    np.testing.assert_allclose(got, sv[idx], rtol=tol, atol=tol * np.abs(sv).max())


def test_batch_size_bounds_and_plan_cache() -> None:
    c = sycamore_rcs(3, 3, 6, seed=2)
    sim = TensorNetworkSimulator(c, "double", search_time=0.3, max_repeats=8, batch_size=16)
    assert sim.batch_for((), 1) == 0  # nothing to batch
    assert sim.batch_for((), 3) == 4
    assert sim.batch_for((), 1000) == 16
    assert sim.batch_for(range(9), 10) == 0  # every qubit open: one contraction anyway
    largest = int(sim.plan().tree.max_size())
    assert 16 * largest * 16 <= BATCH_CACHE_BYTES
    p4 = sim.plan((), 4)
    assert sim.plan((), 4) is p4 and sim.plan((), 8) is not p4
    assert p4.batch == 4 and p4.report()["batch"] == 4
    # same contraction path as the one-bitstring plan (which is cached on disk)
    assert p4.tree.get_path() == sim.plan().tree.get_path()
    again = TensorNetworkSimulator(c, "double", search_time=0.3, max_repeats=8, batch_size=16)
    assert again.plan((), 4).tree.get_path() == p4.tree.get_path()
    with pytest.raises(qvalley.QValleyError):
        TensorNetworkSimulator(c, batch_size=0)
    one = TensorNetworkSimulator(c, "double", search_time=0.3, max_repeats=8, batch_size=1)
    assert one.batch_for((), 100) == 0


def test_frugal_sampling_uses_batches_and_matches_one_at_a_time() -> None:
    c = sycamore_rcs(2, 3, 5, seed=4)
    a = TensorNetworkSimulator(c, search_time=0.2, max_repeats=4).sample(300, seed=9, exact_max=0)
    ref = TensorNetworkSimulator(c, search_time=0.2, max_repeats=4, batch_size=1)
    assert a == ref.sample(300, seed=9, exact_max=0)
    assert sum(a.values()) == 300


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(2, 6), st.sampled_from(["single", "double"]),
       st.booleans())
def test_executor_batched_steps_match_einsum(seed: int, ntensors: int, prec: str,
                                             small_kernel: bool) -> None:
    """Random networks with a batch index ``z`` on several tensors (any axis) and first in the
    output: the executor (batched matmuls where both operands carry ``z``) equals einsum."""
    import cotengra as ctg

    rng = np.random.default_rng(seed)
    letters = "abcdefgh"
    inputs = []
    used: dict[str, int] = {}
    for _ in range(ntensors):
        free = [x for x in letters if used.get(x, 0) < 2]  # z is the only hyperindex
        k = min(int(rng.integers(1, 4)), len(free))
        if k == 0:  # every letter is used twice: no more tensors
            break
        term = [str(x) for x in rng.choice(free, k, replace=False)]
        for x in term:
            used[x] = used.get(x, 0) + 1
        if rng.random() < 0.7:
            term.insert(int(rng.integers(0, len(term) + 1)), "z")
        inputs.append(tuple(term))
    if not any("z" in t for t in inputs):
        inputs[0] = ("z",) + inputs[0]
    counts: dict[str, int] = {}
    for t in inputs:
        for ix in t:
            counts[ix] = counts.get(ix, 0) + 1
    output = ("z",) + tuple(ix for ix, k in counts.items() if k == 1 and ix != "z")
    size = {ix: int(rng.integers(1, 4)) for ix in letters}
    size["z"] = int(rng.integers(1, 6))
    dt = np.complex64 if prec == "single" else np.complex128
    arrays = [(rng.standard_normal([size[i] for i in t]) + 1j * rng.standard_normal(
        [size[i] for i in t])).astype(dt) for t in inputs]
    path = ctg.array_contract_path(inputs, output, size, optimize="greedy")
    tree = ctg.ContractionTree.from_path(inputs, output, size, path=path)  # keeps index names
    eq = ",".join("".join(t) for t in inputs) + "->" + "".join(output)
    want = np.einsum(eq, *[a.astype(np.complex128) for a in arrays])
    lead = "z"
    ex = Executor(tree, small_kernel=small_kernel, lead=lead)
    assert all(s.eq is None for s in ex.steps)  # no einsum fallback for the batch index
    assert any(s.h for s in ex.steps) or sum(lead in t for t in tree.inputs) < 2
    got = ex.contract_core(arrays)
    tol = 1e-4 if prec == "single" else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (1 + np.abs(want).max()))
    big = [ix for ix in counts if size.get(ix, 1) > 1 and ix not in output]
    if tree.N > 1 and big:
        sliced = tree.remove_ind(big[int(rng.integers(0, len(big)))])
        res = contract(Executor(sliced, lead=lead), arrays, progress=False)
        np.testing.assert_allclose(res, want, rtol=tol, atol=tol * (1 + np.abs(want).max()))


def test_combo_objective_plans_match_and_cache_apart(tmp_path: object,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from qvalley.sim.tensornet import cache_dir

    monkeypatch.setenv("QVALLEY_CACHE", str(tmp_path))
    c = sycamore_rcs(3, 3, 6, seed=8)
    sv = qvalley.statevector(c, precision="double")
    idx = [0, 3, 77, 300, 511, 100]
    for minimize in ("flops", "combo"):
        sim = TensorNetworkSimulator(c, "double", search_time=0.3, max_repeats=8,
                                     minimize=minimize)
        np.testing.assert_allclose(sim.amplitudes(_bits(9, idx)), sv[idx], rtol=1e-10,
                                   atol=1e-13)
    combo = Path(cache_dir()) / "minimize-combo"
    assert combo.is_dir() and any(combo.rglob("*"))  # one cache folder per objective
    assert any(p for p in Path(cache_dir()).iterdir() if p.name != "minimize-combo")
    with pytest.raises(qvalley.QValleyError):
        TensorNetworkSimulator(c, search_time=0.1, minimize="fast").plan()


def test_measured_choice_between_batched_and_one_at_a_time() -> None:
    c = sycamore_rcs(3, 3, 6, seed=6)
    sv = qvalley.statevector(c, precision="double")
    rng = np.random.default_rng(3)
    idx = [int(i) for i in rng.integers(0, 2**9, 40)]
    sim = TensorNetworkSimulator(c, "double", search_time=0.3, max_repeats=8, batch_size=4)
    first = sim.amplitudes(_bits(9, idx), max_open=0)  # 10 batches: the first four are the trial
    np.testing.assert_allclose(first, sv[idx], rtol=1e-10, atol=1e-13)
    assert list(sim._batched) == [((), 4)]
    for choice in (True, False):  # either way gives the same amplitudes
        sim._batched[((), 4)] = choice
        got = sim.amplitudes(_bits(9, idx), max_open=0)
        assert sim._groups == (10 if choice else len(set(idx)))
        np.testing.assert_allclose(got, sv[idx], rtol=1e-10, atol=1e-13)
    few = TensorNetworkSimulator(c, "double", search_time=0.3, max_repeats=8, batch_size=4)
    few.amplitudes(_bits(9, idx[:12]), max_open=0)  # 3 batches: no trial, batched
    assert few._batched == {} and few._groups == 3
