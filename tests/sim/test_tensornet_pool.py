"""The executor's buffer pool (pooled results equal unpooled ones bit for bit, buffers are reused,
nothing handed out is overwritten) and the tiled complex64 small-operand kernel."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qvalley
from qvalley.bench.rcs import sycamore_rcs
from qvalley.sim.tensornet import Executor, TensorNetworkSimulator, contract, replay
from qvalley.sim.tensornet.kernels import (
    small_contract_reference,
    small_contract_tiled,
    tiled_applies,
)
from qvalley.sim.tensornet.pool import BufferPool

pytestmark = pytest.mark.usefixtures("tn_cache")


def _setup(c: qvalley.Circuit, prec: str, bits: str, **kw: Any) -> tuple[Any, list[np.ndarray]]:
    sim = TensorNetworkSimulator(c, prec, search_time=0.3, max_repeats=8, **kw)
    sim.plan()
    net, pl, _ = sim._plans[()]
    leaves = list(net.arrays)
    n = c.num_qubits
    for q in range(n):  # output vectors are the last leaves, qubit order
        leaves[len(leaves) - n + q] = np.eye(2)[int(bits[n - 1 - q])]
    dt = np.complex64 if prec == "single" else np.complex128
    return pl, [x.astype(dt) for x in replay(pl.simplified, leaves, net.variable)]


@pytest.mark.parametrize("prec", ["single", "double"])
@pytest.mark.parametrize("seed", [1, 2])
def test_pooled_equals_unpooled_sliced_threads(prec: str, seed: int) -> None:
    c = sycamore_rcs(3, 4, 8, seed=seed)
    sv = qvalley.statevector(c, precision="double")
    idx = int(np.random.default_rng(seed).integers(0, 2**12))
    pl, arrays = _setup(c, prec, format(idx, "012b"), max_memory=4096)
    assert pl.slices > 1
    on = Executor(pl.tree, pl.simplified.variable, pool_min_bytes=0)
    off = Executor(pl.tree, pl.simplified.variable, pool=False)
    got = contract(on, arrays, threads=2, progress=False)
    want = contract(off, arrays, threads=2, progress=False)
    assert on.pool.allocations > 0 and off.pool.allocations == 0
    np.testing.assert_array_equal(got, want)  # same operations, only the memory differs
    tol = 1e-4 if prec == "single" else 1e-10
    assert abs(complex(got.reshape(-1)[0]) - sv[idx]) <= tol * np.abs(sv).max()
    again = contract(on, arrays, threads=2, progress=False)
    np.testing.assert_array_equal(again, want)
    assert on.arena_misses == 0  # every call followed its arena plan
    best_fit = Executor(pl.tree, pl.simplified.variable, pool_min_bytes=0, arena=False)
    np.testing.assert_array_equal(contract(best_fit, arrays, threads=2, progress=False), want)


def test_arena_plan_is_compact_and_a_broken_plan_falls_back() -> None:
    """The arena holds at least the largest pooled buffer and at most all of them; a call whose
    takes do not follow the plan stops lending from the arena and still gets the same result."""
    from qvalley.sim.tensornet.executor import _ArenaPlan

    c = sycamore_rcs(4, 5, 8, seed=7)
    pl, arrays = _setup(c, "double", "0" * 20)
    ex = Executor(pl.tree, pl.simplified.variable, pool_min_bytes=1024)
    want = contract(Executor(pl.tree, pl.simplified.variable, pool=False), arrays, progress=False)
    np.testing.assert_array_equal(contract(ex, arrays, progress=False), want)
    assert ex.arena_misses == 0
    plan = ex._arena_plan(16, None)
    sizes = [nb for is_take, _, nb in plan.events if is_take]
    assert sizes and max(sizes) <= plan.nbytes <= sum(sizes) + 4096 * len(sizes)
    live: dict[Any, tuple[int, int]] = {}
    for is_take, k, nb in plan.events:  # no two buffers live at once overlap
        if is_take:
            o = plan.offsets[k]
            assert all(o + nb <= a or b <= o for a, b in live.values())
            live[k] = (o, o + nb)
        else:
            live.pop(k)
    for cut in (1, len(plan.events) // 2):  # a plan whose second half is out of order
        ev = list(plan.events)
        ev[cut:] = ev[cut:][::-1]
        ex._arena_plans[(16, None)] = _ArenaPlan(ev, plan.offsets, plan.nbytes)
        misses = ex.arena_misses
        np.testing.assert_array_equal(contract(ex, arrays, progress=False), want)
        assert ex.arena_misses == misses + 1


def test_buffers_are_reused_and_released() -> None:
    c = sycamore_rcs(4, 5, 8, seed=7)
    pl, arrays = _setup(c, "double", "0" * 20)
    # exact-size reuse: the second call's requests are the first call's, all served from the pool
    ex = Executor(pl.tree, pl.simplified.variable, pool_min_bytes=1024)
    ex.pool = BufferPool(1024, max_ratio=1.0)
    first = contract(ex, arrays, progress=False)
    n_alloc = ex.pool.allocations
    assert n_alloc > 0 and ex.pool.free_bytes > 0
    second = contract(ex, arrays, progress=False)
    assert ex.pool.allocations == n_alloc  # every buffer of the second call came from the pool
    assert ex.pool.reuses > 0
    np.testing.assert_array_equal(first, second)
    ex.release_buffers()
    assert ex.pool.free_bytes == 0
    np.testing.assert_array_equal(contract(ex, arrays, progress=False), first)
    assert ex.pool.allocations > n_alloc  # made again after the release


def test_best_fit_pool_stops_growing() -> None:
    """Best fit (the default) may hand a later call's request a different buffer than the first
    call's, so a second call can still allocate; once a call allocates nothing, the pool is back
    in the same state after it, so every later call allocates nothing either."""
    c = sycamore_rcs(4, 5, 8, seed=7)
    pl, arrays = _setup(c, "double", "0" * 20)
    ex = Executor(pl.tree, pl.simplified.variable, pool_min_bytes=1024)
    first = contract(ex, arrays, progress=False)
    counts = [ex.pool.allocations]
    for _ in range(6):
        np.testing.assert_array_equal(contract(ex, arrays, progress=False), first)
        counts.append(ex.pool.allocations)
        if counts[-1] == counts[-2]:
            break
    assert counts[-1] == counts[-2], counts  # converged
    assert counts[-1] - counts[0] < counts[0]  # most of the second call already reused
    for _ in range(2):
        contract(ex, arrays, progress=False)
        assert ex.pool.allocations == counts[-1]


def _random_network(rng: np.random.Generator, dt: Any) -> tuple[Any, list[np.ndarray], str]:
    """A chain-like random network with an open output big enough for the pool (min_bytes=0)."""
    import cotengra as ctg

    letters = "abcdefghijklmn"
    inputs = [tuple(letters[i:i + 4]) for i in range(0, 10, 2)]  # overlapping windows
    counts: dict[str, int] = {}
    for t in inputs:
        for ix in t:
            counts[ix] = counts.get(ix, 0) + 1
    output = tuple(ix for ix, k in counts.items() if k == 1)
    size = {ix: int(rng.integers(2, 4)) for ix in letters}
    arrays = [(rng.standard_normal([size[i] for i in t])
               + 1j * rng.standard_normal([size[i] for i in t])).astype(dt) for t in inputs]
    tree = ctg.array_contract_tree(inputs, output, size, optimize="greedy")
    eq = ",".join("".join(t) for t in inputs) + "->" + "".join(output)
    return tree, arrays, eq


@pytest.mark.parametrize("use_cache", [False, True])
def test_returned_result_and_cache_are_not_overwritten(use_cache: bool) -> None:
    rng = np.random.default_rng(3)
    tree, arrays, eq = _random_network(rng, np.complex128)
    variable = [False] * len(arrays)
    variable[1] = True  # only this input changes: some subtrees are cached, some pooled
    ex = Executor(tree, variable, pool_min_bytes=0)
    assert not use_cache or ex.const
    r1 = ex.contract_core(arrays, use_cache=use_cache)
    keep = np.array(r1, copy=True)
    other = list(arrays)
    other[1] = (rng.standard_normal(arrays[1].shape) + 0j).astype(np.complex128)
    r2 = ex.contract_core(other, use_cache=use_cache)
    r3 = ex.contract_core(arrays, use_cache=use_cache)
    assert ex.pool.allocations > 0 and ex.arena_misses == 0
    np.testing.assert_array_equal(r1, keep)  # not a pool buffer: later calls leave it alone
    np.testing.assert_allclose(r1, np.einsum(eq, *arrays), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(r2, np.einsum(eq, *other), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(r3, keep)
    assert not np.shares_memory(r1, r2) and not np.shares_memory(r1, r3)


def test_pool_take_give_and_pickle() -> None:
    pool = BufferPool(min_bytes=64)
    assert pool.take(4, np.complex64) is None  # 32 bytes: below the threshold, not pooled
    a = pool.take(100, np.complex64)
    assert a is not None and a.shape == (100,) and a.dtype == np.complex64
    pool.give(a)
    assert pool.take(100, np.complex64) is a
    pool.give(a)
    b = pool.take(40, np.complex128)  # 640 of a's 800 bytes: a's memory, as complex128
    assert b is not None and b.shape == (40,) and b.dtype == np.complex128
    assert np.shares_memory(a, b) and pool.allocations == 1
    pool.give(b)  # gives back a's whole buffer
    assert pool.free_bytes == 800
    assert not np.shares_memory(pool.take(101, np.complex64), a)  # a is too small
    assert not np.shares_memory(pool.take(10, np.complex64), a)  # 80 < 800 / max_ratio bytes
    assert pool.allocations == 3 and pool.reuses == 2
    with pytest.raises(ValueError):
        pool.give(np.empty(100)[10:])  # a view of memory the pool did not lend
    ex = Executor(_random_network(np.random.default_rng(0), np.complex64)[0])
    ex.pool.give(np.empty(1 << 20, np.complex64))
    clone = pickle.loads(pickle.dumps(ex))  # e.g. scattered to Dask workers: no buffers travel
    assert clone.pool.free_bytes == 0 and clone.pool.min_bytes == ex.pool.min_bytes
    assert clone.pooling


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.lists(st.integers(1, 4), min_size=0, max_size=5),
       st.integers(16, 700), st.integers(0, 3), st.integers(0, 2))
def test_tiled_kernel_matches_reference(seed: int, dims: list[int], inner: int, ncon: int,
                                        nkeep_s: int) -> None:
    """Random x of shape dims + [inner]; contracted axes among dims; the output keeps the inner
    axis last with stride 1 (the tiled kernel's case), other output axes in random order."""
    rng = np.random.default_rng(seed)
    ncon = min(ncon, len(dims))
    allx = dims + [inner]
    xstr = np.cumprod([1] + allx[::-1])[:-1][::-1]
    con = sorted(rng.choice(len(dims), ncon, replace=False).tolist()) if ncon else []
    kept = [d for d in range(len(dims)) if d not in con]
    newdims = [int(v) for v in rng.integers(1, 4, nkeep_s)]
    outer = [allx[d] for d in kept] + newdims  # output axes before the inner one
    perm = rng.permutation(len(outer)).tolist()
    mem = [outer[p] for p in perm] + [inner]
    mstr = np.cumprod([1] + mem[::-1])[:-1][::-1]
    ostr = np.empty(len(outer), np.int64)
    for pos, p in enumerate(perm):
        ostr[p] = mstr[pos]

    def offs(ds: list[int], ss: list[int]) -> np.ndarray:
        off = np.zeros(1, np.int64)
        for d, s in zip(ds, ss, strict=True):
            off = (off[:, None] + np.arange(d, dtype=np.int64)[None, :] * s).reshape(-1)
        return off

    kshape = np.array([allx[d] for d in kept] + [inner], np.int64)
    kxs = np.array([xstr[d] for d in kept] + [1], np.int64)
    kos = np.array(list(ostr[: len(kept)]) + [1], np.int64)
    cx = offs([allx[d] for d in con], [int(xstr[d]) for d in con])
    co = offs(newdims, [int(s) for s in ostr[len(kept):]])
    dt = np.complex64
    assert tiled_applies(kshape, kxs, kos, dt)
    total = int(np.prod(mem))
    x = (rng.standard_normal(int(np.prod(allx))) + 1j * rng.standard_normal(int(np.prod(allx)))).astype(dt)
    s = (rng.standard_normal((cx.size, co.size)) + 1j * rng.standard_normal((cx.size, co.size))).astype(dt)
    got = np.full(total, np.nan, dt)
    want = np.full(total, np.nan, dt)
    small_contract_tiled(x, got, kshape, kxs, kos, cx, co, s)
    small_contract_reference(x, want, kshape, kxs, kos, cx, co, s)
    assert not np.isnan(got).any()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * (1 + np.abs(want).max()))


def test_tiled_kernel_in_the_executor_complex64() -> None:
    """A 2^13 tensor absorbing 2x2 and 2x2x2 tensors on inner axes (greedy tree, open output):
    one-pass steps with a unit-stride inner dimension of >= 16 run the tiled kernel."""
    import cotengra as ctg

    rng = np.random.default_rng(11)
    big = tuple("abcdefghijklm")
    inputs = [big, ("c", "C"), ("e", "f", "E"), ("h", "H"), ("b", "B")]
    output = ("a", "B", "C", "d", "E", "g", "H", "i", "j", "k", "l", "m")
    size = {ix: 2 for t in inputs for ix in t}
    dt = np.complex64
    arrays = [(rng.standard_normal([2] * len(t)) + 1j * rng.standard_normal([2] * len(t))).astype(dt)
              for t in inputs]
    tree = ctg.array_contract_tree(inputs, output, size, optimize="greedy")
    ex = Executor(tree, reorder=False)  # (reordered, the first copy leaves blocks for matmuls)
    assert any(st.small is not None and tiled_applies(st.small.kshape, st.small.kxs,
                                                      st.small.kos, dt) for st in ex.steps)
    eq = ",".join("".join(t) for t in inputs) + "->" + "".join(output)
    want = np.einsum(eq, *[a.astype(np.complex128) for a in arrays])
    got = ex.contract_core(arrays)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_slice_threads_run_blas_on_one_thread_each() -> None:
    """Slices on local threads run with BLAS limited to one thread (its own threads on top
    would oversubscribe the cores); the limit is lifted afterwards."""
    from threadpoolctl import threadpool_info, threadpool_limits

    c = sycamore_rcs(3, 4, 8, seed=1)
    pl, arrays = _setup(c, "double", "0" * 12, max_memory=4096)
    assert pl.slices > 1
    ex = Executor(pl.tree, pl.simplified.variable)
    seen: list[int] = []
    core = ex.contract_core

    def blas() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    def spy(*a: Any, **kw: Any) -> Any:
        seen.extend(blas())
        return core(*a, **kw)

    ex.contract_core = spy  # type: ignore[method-assign]
    with threadpool_limits(2, user_api="blas"):
        before = blas()
        got = contract(ex, arrays, threads=2, progress=False)
        after = blas()
    assert 2 in before  # (other BLAS libraries loaded by other tests may allow only 1)
    assert seen and set(seen) == {1}
    assert after == before
    want = contract(Executor(pl.tree, pl.simplified.variable), arrays, threads=1, progress=False)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
