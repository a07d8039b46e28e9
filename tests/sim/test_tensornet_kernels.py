"""The one-pass ``small_contract`` kernel against its numpy twin, and the executor with and without it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qvalley
from qvalley.bench.rcs import sycamore_rcs
from qvalley.sim.tensornet import Executor, TensorNetworkSimulator, replay
from qvalley.sim.tensornet.kernels import small_contract, small_contract_reference

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
    assert any(s.small is not None for s in on.steps), "the RCS tree has large x small steps"
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
