"""The one-pass ``small_contract`` kernel against its numpy twin, and the executor with and without it."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qvalley
from qvalley.bench.rcs import sycamore_rcs
from qvalley.sim.tensornet import Executor, TensorNetworkSimulator, replay
from qvalley.sim.tensornet import executor as executor_mod
from qvalley.sim.tensornet.kernels import (
    permute_copy,
    permute_dot,
    permute_plan,
    small_contract,
    small_contract_reference,
)

pytestmark = pytest.mark.usefixtures("tn_cache")


def _geometry(rng: np.random.Generator, dims: list[int], ncon: int, nkeep_s: int) -> dict[str, Any]:
    """A random ``x`` of shape ``dims`` whose axes ``ncon`` (random picks) are contracted with a
    small ``(k, n)`` matrix; the output is a random permutation of kept + new axes."""
    nd = len(dims)
    con = sorted(rng.choice(nd, ncon, replace=False).tolist())
    kept = [d for d in range(nd) if d not in con]
    xstr = np.cumprod([1] + dims[::-1])[:-1][::-1]  # C strides of x
    newdims = [int(v) for v in rng.integers(1, 4, nkeep_s)]
    outdims = [dims[d] for d in kept] + newdims  # logical output axes
    perm = rng.permutation(len(outdims)).tolist()  # memory order of the output
    ostr_mem = np.cumprod([1] + [outdims[p] for p in perm][::-1])[:-1][::-1]
    ostr = np.empty(len(outdims), np.int64)
    for pos, p in enumerate(perm):
        ostr[p] = ostr_mem[pos]

    def offs(ds: list[int], ss: list[int]) -> np.ndarray:
        off = np.zeros(1, np.int64)
        for d, s in zip(ds, ss):
            off = (off[:, None] + np.arange(d, dtype=np.int64)[None, :] * s).reshape(-1)
        return off

    kshape = np.array([dims[d] for d in kept] or [1], np.int64)
    kxs = np.array([xstr[d] for d in kept] or [0], np.int64)
    kos = np.array(list(ostr[: len(kept)]) or [0], np.int64)
    cx = offs([dims[d] for d in con], [int(xstr[d]) for d in con])
    co = offs(newdims, [int(s) for s in ostr[len(kept):]])
    return {"kshape": kshape, "kxs": kxs, "kos": kos, "cx": cx, "co": co,
            "total": int(np.prod(outdims)), "k": cx.size, "n": co.size}


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.lists(st.integers(1, 5), min_size=1, max_size=7),
       st.integers(0, 3), st.integers(0, 2), st.sampled_from([np.complex64, np.complex128]))
def test_small_contract_matches_reference(seed: int, dims: list[int], ncon: int, nkeep_s: int,
                                          dt: Any) -> None:
    rng = np.random.default_rng(seed)
    ncon = min(ncon, len(dims))
    g = _geometry(rng, dims, ncon, nkeep_s)
    x = (rng.standard_normal(int(np.prod(dims))) + 1j * rng.standard_normal(int(np.prod(dims)))).astype(dt)
    s_full = (rng.standard_normal((g["n"], g["k"])) + 1j * rng.standard_normal((g["n"], g["k"]))).astype(dt)
    s = s_full.T  # a permuted (non-contiguous) small operand
    s = np.ascontiguousarray(s) if seed % 2 else s
    got = np.full(g["total"], np.nan, dt)
    want = np.full(g["total"], np.nan, dt)
    args = (g["kshape"], g["kxs"], g["kos"], g["cx"], g["co"])
    small_contract(x, got, *args, np.ascontiguousarray(s))
    small_contract_reference(x, want, *args, s)
    assert not np.isnan(got).any()  # every output element written
    tol = 1e-4 if dt == np.complex64 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (1 + np.abs(want).max()))


def test_small_contract_strided_inner_dimension() -> None:
    # last kept dimension with stride 3 in x and stride 2 in out (the non-vectorised branch)
    rng = np.random.default_rng(5)
    x = rng.standard_normal(3 * 40) + 1j * rng.standard_normal(3 * 40)  # x[t, c], c of size 3
    s = rng.standard_normal((3, 2)) + 0j
    kshape, kxs, kos = np.array([40]), np.array([3]), np.array([2])
    cx, co = np.array([0, 1, 2]), np.array([0, 1])
    got, want = np.empty(80, complex), np.empty(80, complex)
    small_contract(x, got, kshape, kxs, kos, cx, co, s)
    small_contract_reference(x, want, kshape, kxs, kos, cx, co, s)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(got.reshape(40, 2), x.reshape(40, 3) @ s, rtol=1e-13)


class _FakeXp:
    """A stand-in array module (not numpy) so the executor takes its einsum path."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)


@pytest.mark.parametrize("prec", ["double", "single"])
def test_executor_small_kernel_on_rcs_matches_plain_and_statevector(prec: str) -> None:
    c = sycamore_rcs(4, 5, 8, seed=7)
    sv = qvalley.statevector(c, precision="double")
    # a FLOPs-minimising tree absorbs small tensors into large ones (the "combo" default avoids that)
    sim = TensorNetworkSimulator(c, prec, search_time=0.5, max_repeats=8, minimize="flops")
    sim.plan()
    net, pl, _ = sim._plans[()]
    dt = np.complex64 if prec == "single" else np.complex128
    arrays = [x.astype(dt) for x in replay(pl.simplified, net.arrays, net.variable)]
    on = Executor(pl.tree, pl.simplified.variable, small_kernel=True)
    off = Executor(pl.tree, pl.simplified.variable, small_kernel=False)
    # (whether a step of this tree takes the one-pass kernel depends on the layouts; the rules
    # are tested on fixed networks below)
    assert all(s.small is None for s in off.steps)

    def total(ex: Executor, xp: Any = np) -> complex:
        parts = [ex.contract_core(ex.slice_arrays(arrays, i), xp) for i in range(ex.nslices)]
        return complex(np.asarray(sum(parts[1:], parts[0])).reshape(-1)[0])

    a_on, a_off, a_fake = total(on), total(off), total(on, _FakeXp())
    want = complex(sv[0])  # the plan is for bitstring 0...0
    tol = 1e-5 if prec == "single" else 1e-10
    assert abs(a_on - want) <= tol * abs(want)
    assert abs(a_off - want) <= tol * abs(want)
    assert abs(a_fake - want) <= tol * abs(want)
    if prec == "double":
        assert abs(a_on - a_off) <= 1e-12 * abs(a_off)


def _tree(inputs: list[tuple[str, ...]], output: tuple[str, ...], size: dict[str, int]) -> Any:
    import cotengra as ctg

    path = ctg.array_contract_path(inputs, output, size, optimize="greedy")
    return ctg.ContractionTree.from_path(inputs, output, size, path=path)


def _rand(rng: np.random.Generator, shape: tuple[int, ...], dt: Any) -> np.ndarray:
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)


@pytest.mark.parametrize(("big", "small", "uses_kernel"), [
    (("a", "c", "b"), ("c", "d"), True),   # contracted axis inside x: matmul would copy x
    (("a", "b", "c"), ("c", "d"), False),  # contracted axes a block at the end: plain matmul
    (("c", "a", "b"), ("c", "d"), False),  # ... or at the start (transposed view)
    (("a", "c", "e"), ("c", "d"), False),  # inner run of 2 elements: transpose + matmul
    (("a", "c", "b"), ("c", "f"), False),  # small matrix of 4 x 32 > SMALL_KN entries
])
@pytest.mark.parametrize("dt", [np.complex64, np.complex128])
def test_small_step_rule(big: tuple[str, ...], small: tuple[str, ...], uses_kernel: bool,
                         dt: Any) -> None:
    """The one-pass kernel runs a large x small step only where the matmul form would copy the
    large operand, its inner runs are long and the small matrix is small; either way the
    result equals einsum."""
    size = {"a": 8, "b": 128, "c": 4, "d": 8, "e": 2, "f": 32}  # x: 4096 elements
    if "e" in big:
        size["a"] = 512
    output = tuple(i for i in big + small if (big + small).count(i) == 1)
    tree = _tree([big, small], output, size)
    rng = np.random.default_rng(3)
    arrays = [_rand(rng, tuple(size[i] for i in t), dt) for t in (big, small)]
    ex = Executor(tree)
    assert any(s.small is not None for s in ex.steps) == uses_kernel
    got = ex.contract_core(arrays)
    want = np.einsum(f"{''.join(big)},{''.join(small)}->{''.join(output)}", *arrays)
    tol = 1e-5 if dt == np.complex64 else 1e-13
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**31 - 1), st.lists(st.integers(1, 4), min_size=1, max_size=8),
       st.sampled_from([np.complex64, np.complex128]), st.sampled_from([4, 8, 32]),
       st.sampled_from([1, 4, 64]))
def test_permute_copy_matches_transpose(seed: int, shape: list[int], dt: Any, po: int,
                                        pi: int) -> None:
    rng = np.random.default_rng(seed)
    perm = tuple(int(p) for p in rng.permutation(len(shape)))
    x = _rand(rng, tuple(shape), dt)
    out = np.full(x.size, np.nan, dt)
    permute_copy(x.reshape(-1), out, *permute_plan(tuple(shape), perm, po, pi))
    np.testing.assert_array_equal(out, np.ascontiguousarray(x.transpose(perm)).reshape(-1))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.lists(st.integers(1, 4), min_size=1, max_size=8),
       st.sampled_from([np.complex64, np.complex128]), st.sampled_from([4, 32]),
       st.sampled_from([1, 64]))
def test_permute_dot_is_inner_product_with_transpose(seed: int, shape: list[int], dt: Any,
                                                     po: int, pi: int) -> None:
    rng = np.random.default_rng(seed)
    perm = tuple(int(p) for p in rng.permutation(len(shape)))
    x = _rand(rng, tuple(shape), dt)
    y = _rand(rng, tuple(shape[p] for p in perm), dt)
    got = permute_dot(x.reshape(-1), y.reshape(-1), *permute_plan(tuple(shape), perm, po, pi))
    want = np.sum(y.astype(np.complex128) * x.transpose(perm).astype(np.complex128))
    tol = 1e-5 if dt == np.complex64 else 1e-13
    assert abs(got - want) <= tol * (1 + np.abs(y).sum() * np.abs(x).max())


@pytest.mark.parametrize("dt", [np.complex64, np.complex128])
@pytest.mark.parametrize("pool_min_bytes", [0, 1 << 20])
def test_final_inner_product_without_copy(dt: Any, pool_min_bytes: int) -> None:
    """A contraction to a scalar whose last step pairs two large tensors with their axes in
    different orders runs as one permute_dot pass (no transposed copy, nothing pooled for
    it): equal to einsum and to the executor's matmul form."""
    size = {"a": 16, "b": 8, "c": 32, "d": 4, "e": 16, "f": 2}
    inputs = [("a", "b", "c", "f"), ("f", "d", "e"), ("e", "c", "a", "d", "b")]
    import cotengra as ctg

    tree = ctg.ContractionTree.from_path(inputs, (), size, path=[(0, 1), (0, 1)])
    rng = np.random.default_rng(6)
    arrays = [_rand(rng, tuple(size[i] for i in t), dt) for t in inputs]
    ex = Executor(tree, small_kernel=False, pool_min_bytes=pool_min_bytes)
    assert ex.steps[-1].dot and not ex.steps[0].dot
    want = np.einsum("abcf,fde,ecadb->", *arrays)
    tol = 1e-5 if dt == np.complex64 else 1e-13
    for _ in range(2):  # the second call reuses the arena
        got = ex.contract_core(arrays)
        assert got.shape == () and got.dtype == dt
        assert abs(got - want) <= tol * abs(want)
    assert ex.arena_misses == 0
    ref = Executor(tree, small_kernel=False)
    ref.steps[-1] = dataclasses.replace(ref.steps[-1], dot=False)  # the same step as a matmul
    assert abs(ref.contract_core(arrays) - got) <= tol * abs(want)


def _small_thresholds(make: Any) -> Any:
    """``make()`` with the permute-copy and chunking thresholds lowered to tiny sizes."""
    names = {"PERMUTE_MIN": 0, "CHUNK_MIN": 0, "CHUNK_ELEMS": 4, "CHUNK_ROWS_MIN": 1,
             "CHUNK_STRIDE_MIN": 1, "BATCH_MIN": 0, "BATCH_Q": 1}
    old = {k: getattr(executor_mod, k) for k in names}
    for k, v in names.items():
        setattr(executor_mod, k, v)
    try:
        return make()
    finally:
        for k, v in old.items():
            setattr(executor_mod, k, v)


def test_chunks_fix_only_axes_of_large_input_stride() -> None:
    """A chunk of a transposed left operand fixes its leading axes only while their input
    stride is at least CHUNK_STRIDE_MIN elements (a fixed axis of smaller stride would make
    every chunk read part of each cache line): stopped there, or no chunks at all."""
    from qvalley.sim.tensornet.executor import CHUNK_STRIDE_MIN, _chunk_plan

    term = tuple(f"i{d}" for d in range(22))
    size = dict.fromkeys(term, 2)
    rev = tuple(range(21, -1, -1))  # leading output axis = the input's innermost (stride 1)
    assert _chunk_plan(term, rev, 4, size) is None
    # leading output axes: input strides 2^21, 2^20, then 2^(log2 CHUNK_STRIDE_MIN - 1)
    small = 21 - (CHUNK_STRIDE_MIN.bit_length() - 2)
    perm = (0, 1, small) + tuple(d for d in range(2, 22) if d != small)
    plan = _chunk_plan(term, perm, 4, size)
    assert plan is not None
    _geom, bases, rows = plan
    assert bases.size == 4 and rows * 4 == 2**20  # two axes fixed, the third kept whole


@pytest.mark.parametrize("dt", [np.complex64, np.complex128])
@pytest.mark.parametrize("flip_next", [False, True])
def test_chunked_transpose_matmul(dt: Any, flip_next: bool) -> None:
    """A left operand with its contracted axes scattered, transposed and multiplied in chunks
    (result laid out either way round): equal to einsum and to the unchunked executor."""
    size = {"a": 4, "b": 8, "c": 4, "e": 8, "d": 16, "f": 2, "g": 3}
    big, small = ("a", "c", "b", "e"), ("e", "c", "d")
    inputs = [big, small, ("b", "f") if flip_next else ("d", "g")]
    output = ("a", "d", "f") if flip_next else ("a", "b", "g")
    import cotengra as ctg

    tree = ctg.ContractionTree.from_path(inputs, output, size, path=[(0, 1), (0, 1)])
    rng = np.random.default_rng(4)
    arrays = [_rand(rng, tuple(size[i] for i in t), dt) for t in inputs]
    ex = _small_thresholds(lambda: Executor(tree, small_kernel=False))
    assert ex.steps[0].lchunk is not None and ex.steps[0].lchunk[1].size > 1
    assert ex.steps[0].flip == flip_next
    plain = Executor(tree, small_kernel=False, chunked=False)
    eq = ",".join("".join(t) for t in inputs) + "->" + "".join(output)
    want = np.einsum(eq, *arrays)
    tol = 1e-5 if dt == np.complex64 else 1e-13
    got = ex.contract_core(arrays)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    np.testing.assert_allclose(got, plain.contract_core(arrays), rtol=tol,
                               atol=tol * np.abs(want).max())


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(2, 6), st.sampled_from([np.complex64, np.complex128]),
       st.booleans(), st.booleans(), st.booleans())
def test_executor_with_permute_copy_matches_einsum(seed: int, ntensors: int, dt: Any,
                                                   reorder: bool, chunked: bool,
                                                   batched: bool) -> None:
    """Every transposed operand through :func:`permute_copy` (its size threshold lowered to 0)
    on random networks, kept axes of copied operands reordered or not, left operands transposed
    and multiplied in chunks of 4 elements or not, left operands with a middle contracted block
    as batched views (any size) or not: the executor equals einsum."""
    rng = np.random.default_rng(seed)
    letters = "abcdefghij"
    used: dict[str, int] = {}
    inputs = []
    for _ in range(ntensors):
        free = [x for x in letters if used.get(x, 0) < 2]
        k = min(int(rng.integers(1, 5)), len(free))
        if k == 0:
            break
        term = tuple(str(x) for x in rng.choice(free, k, replace=False))
        for x in term:
            used[x] = used.get(x, 0) + 1
        inputs.append(term)
    output = tuple(ix for ix, k in used.items() if k == 1)
    size = {ix: int(rng.integers(1, 4)) for ix in letters}
    tree = _tree(inputs, output, size)
    arrays = [_rand(rng, tuple(size[i] for i in t), dt) for t in inputs]
    ex = _small_thresholds(lambda: Executor(tree, reorder=reorder, chunked=chunked,
                                            batched=batched))
    got = ex.contract_core(arrays)
    eq = ",".join("".join(t) for t in inputs) + "->" + "".join(output)
    want = np.einsum(eq, *arrays)
    tol = 1e-4 if dt == np.complex64 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (1 + np.abs(want).max()))


@pytest.mark.parametrize("dt", [np.complex64, np.complex128])
@pytest.mark.parametrize(("small", "rcopy"), [
    (("c", "e", "d"), False),  # right operand already (k, n): a plain view
    (("d", "c", "e"), False),  # ... (n, k): transposed view
    (("e", "d", "c"), True),   # contracted axes out of the left block's order: copied
])
def test_batched_middle_block(dt: Any, small: tuple[str, ...], rcopy: bool) -> None:
    """A large left operand whose contracted axes are one block in its middle is not copied:
    one matmul per leading position, the result laid out (leading, right kept, trailing); equal
    to einsum and to the executor without the rule, also through a next step and the arena."""
    size = {"a": 8, "b": 256, "c": 4, "e": 2, "d": 8, "g": 3, "f": 16}
    big = ("a", "c", "e", "b", "f")  # 2^18 elements: contracted (c, e) inside
    inputs = [big, small, ("d", "b", "g")]
    output = ("a", "f", "g")
    import cotengra as ctg

    tree = ctg.ContractionTree.from_path(inputs, output, size, path=[(0, 1), (0, 1)])
    rng = np.random.default_rng(5)
    arrays = [_rand(rng, tuple(size[i] for i in t), dt) for t in inputs]
    ex = Executor(tree, small_kernel=False)
    st0 = ex.steps[0]
    assert st0.lbat == size["a"] and st0.lperm is None and (st0.rperm is not None) == rcopy
    assert ex.terms[st0.parent] == ("a", "d", "b", "f")
    plain = Executor(tree, small_kernel=False, batched=False)
    assert plain.steps[0].lbat == 0
    eq = ",".join("".join(t) for t in inputs) + "->" + "".join(output)
    want = np.einsum(eq, *arrays)
    tol = 1e-5 if dt == np.complex64 else 1e-13
    for _ in range(2):  # second call: intermediates from the arena
        got = ex.contract_core(arrays)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    assert ex.arena_misses == 0
    np.testing.assert_allclose(got, plain.contract_core(arrays), rtol=tol,
                               atol=tol * np.abs(want).max())
