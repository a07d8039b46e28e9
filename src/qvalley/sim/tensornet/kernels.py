"""One-pass strided contraction of a large tensor with a small matrix (numba, ``cache=True``).

Most of the time of a Sycamore amplitude goes into steps where a large intermediate absorbs a
small tensor: ``out[kept, j] = Σ_c x[kept, c] s[c, j]`` with ``k = |c|`` and ``n = |j|`` a few
units, the contracted axes of ``x`` scattered among its kept ones. A matmul needs the contracted
axes as one block, i.e. a full transposed copy of ``x`` first (slow: many size-2 axes) and then a
memory-bound GEMM with ``k, n ≤ 16``. :func:`small_contract` does it in one pass over ``x`` with
any strides on both sides, so the output can be laid out as the next step wants at no cost.

Geometry (element strides, all ``int64``): the kept multi-index runs over ``kshape`` with strides
``kxs`` into ``x`` and ``kos`` into ``out``; contracted combination ``c`` sits at offset ``cx[c]``
from a kept position of ``x``; output column ``j`` at offset ``co[j]`` in ``out``. The last kept
dimension is the inner loop (tiles of ``S`` consecutive elements, vectorisable when its strides
are 1). :func:`small_contract_tiled` is the same for unit inner strides with wider tiles (used
for complex64). :func:`small_contract_reference` is the plain numpy twin with the same signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import njit

S = 16  # inner tile: consecutive positions of the last kept dimension

_OPTS: dict[str, Any] = {"cache": True, "fastmath": True, "nogil": True, "boundscheck": False,
                         "error_model": "numpy"}


@njit(**_OPTS)
def small_contract(x, out, kshape, kxs, kos, cx, co, s):  # pragma: no cover - compiled
    """``out[kept + co[j]] = Σ_c x[kept + cx[c]] · s[c, j]`` over every kept position
    (``x`` and ``out`` flat; see the module docstring for the geometry). The outer positions (all
    kept dimensions but the last) run in C order."""
    nd = kshape.size
    k, n = s.shape
    L = kshape[nd - 1]
    sx = kxs[nd - 1]
    so = kos[nd - 1]
    outer = 1
    for d in range(nd - 1):
        outer *= kshape[d]
    tmp = np.empty((n, S), dtype=out.dtype)
    idx = np.zeros(nd, np.int64)
    xb = 0
    ob = 0
    for _o in range(outer):
        for t0 in range(0, L, S):
            w = min(S, L - t0)
            for j in range(n):
                for t in range(w):
                    tmp[j, t] = 0
            if sx == 1:
                for c in range(k):
                    xc = xb + cx[c] + t0
                    for j in range(n):
                        scj = s[c, j]
                        for t in range(w):
                            tmp[j, t] += scj * x[xc + t]
            else:
                for c in range(k):
                    xc = xb + cx[c] + t0 * sx
                    for j in range(n):
                        scj = s[c, j]
                        for t in range(w):
                            tmp[j, t] += scj * x[xc + t * sx]
            if so == 1:
                for j in range(n):
                    oc = ob + co[j] + t0
                    for t in range(w):
                        out[oc + t] = tmp[j, t]
            else:
                for j in range(n):
                    oc = ob + co[j] + t0 * so
                    for t in range(w):
                        out[oc + t * so] = tmp[j, t]
        d = nd - 2
        while d >= 0:
            idx[d] += 1
            xb += kxs[d]
            ob += kos[d]
            if idx[d] < kshape[d]:
                break
            xb -= kxs[d] * kshape[d]
            ob -= kos[d] * kshape[d]
            idx[d] = 0
            d -= 1


T = 256  # inner tile of :func:`small_contract_tiled`


@njit(**_OPTS)
def small_contract_tiled(x, out, kshape, kxs, kos, cx, co, s):  # pragma: no cover - compiled
    """:func:`small_contract` for a last kept dimension with stride 1 on both sides
    (``kxs[-1] == kos[-1] == 1``): tiles of ``T`` elements and inner loops over 0-based slice
    views, which numba vectorises better. Measured faster in complex64 (docs/performance.md);
    complex128 keeps :func:`small_contract`."""
    nd = kshape.size
    k, n = s.shape
    L = kshape[nd - 1]
    outer = 1
    for d in range(nd - 1):
        outer *= kshape[d]
    tmp = np.empty((n, T), dtype=out.dtype)
    idx = np.zeros(nd, np.int64)
    xb = 0
    ob = 0
    for _o in range(outer):
        for t0 in range(0, L, T):
            w = min(T, L - t0)
            tmp[:, :] = 0
            for c in range(k):
                xv = x[xb + cx[c] + t0: xb + cx[c] + t0 + w]
                for j in range(n):
                    scj = s[c, j]
                    tj = tmp[j]
                    for t in range(w):
                        tj[t] += scj * xv[t]
            for j in range(n):
                ov = out[ob + co[j] + t0: ob + co[j] + t0 + w]
                tj = tmp[j]
                for t in range(w):
                    ov[t] = tj[t]
        d = nd - 2
        while d >= 0:
            idx[d] += 1
            xb += kxs[d]
            ob += kos[d]
            if idx[d] < kshape[d]:
                break
            xb -= kxs[d] * kshape[d]
            ob -= kos[d] * kshape[d]
            idx[d] = 0
            d -= 1


def tiled_applies(kshape: np.ndarray, kxs: np.ndarray, kos: np.ndarray, dtype: Any) -> bool:
    """Whether a step runs with :func:`small_contract_tiled` (complex64, unit inner strides,
    an inner dimension of at least 16)."""
    return (np.dtype(dtype) == np.complex64 and int(kxs[-1]) == 1 and int(kos[-1]) == 1
            and int(kshape[-1]) >= 16)


def small_contract_reference(x: np.ndarray, out: np.ndarray, kshape: np.ndarray,
                             kxs: np.ndarray, kos: np.ndarray, cx: np.ndarray, co: np.ndarray,
                             s: np.ndarray) -> None:
    """numpy twin of :func:`small_contract` (same arguments, same result in ``out``)."""
    kx = offsets(kshape.tolist(), kxs.tolist())
    ko = offsets(kshape.tolist(), kos.tolist())
    vals = x[kx[:, None] + cx[None, :]] @ s  # (kept, n)
    out[ko[:, None] + co[None, :]] = vals


def warm(dtype: Any = np.complex128) -> None:
    """Compile (or load from numba's disk cache) the kernels for ``dtype`` on a tiny input."""
    dt = np.dtype(dtype)
    i64 = np.int64
    x = np.ones(64, dt)
    out = np.empty(64, dt)
    args = (np.array([16], i64), np.array([1], i64), np.array([1], i64),
            np.array([0, 16, 32, 48], i64), np.array([0], i64), np.ones((4, 1), dt))
    small_contract(x, out, *args)
    small_contract_tiled(x, out, *args)
    permute_copy(x, out, *permute_plan((4, 16), (1, 0)))
    permute_dot(x, out, *permute_plan((4, 16), (1, 0)))


# -- permuted copies -----------------------------------------------------------------------------
#
# ``np.copyto(out, x.transpose(perm))`` on the executor's tensors (20-25 axes of size 2) runs at a
# fraction of memory bandwidth: numpy's inner loop is the output's last axis, often 2-4 elements
# with a large input stride. :func:`permute_copy` copies tiles instead: the output's last axes
# (``PO`` consecutive writes, the inner loop) times the input's innermost other axes (up to
# ``PI`` elements), so that the cache lines of both sides are used whole while the tile is in
# L1; the remaining axes are the outer loop.

PO = 32  # output elements per tile row (consecutive writes)
PI = 64  # tile rows: the input's innermost axes not among the row's


@njit(**_OPTS)
def permute_copy(x, out, oshape, oxs, oos, ixo, ioo, bxo):  # pragma: no cover - compiled
    """``out[outer·oos + ioo[i] + b] = x[outer·oxs + ixo[i] + bxo[b]]`` for every outer
    position (C order over ``oshape``, strides ``oxs`` into ``x`` and ``oos`` into ``out``),
    tile row ``i`` and row entry ``b`` (consecutive in ``out``); ``x`` and ``out`` flat."""
    nd = oshape.size
    nb = bxo.size
    ni = ixo.size
    outer = 1
    for d in range(nd):
        outer *= oshape[d]
    idx = np.zeros(nd, np.int64)
    xb = 0
    ob = 0
    for _o in range(outer):
        for i in range(ni):
            xi = xb + ixo[i]
            oi = ob + ioo[i]
            for b in range(nb):
                out[oi + b] = x[xi + bxo[b]]
        d = nd - 1
        while d >= 0:
            idx[d] += 1
            xb += oxs[d]
            ob += oos[d]
            if idx[d] < oshape[d]:
                break
            xb -= oxs[d] * oshape[d]
            ob -= oos[d] * oshape[d]
            idx[d] = 0
            d -= 1


@njit(**_OPTS)
def permute_dot(x, y, oshape, oxs, oos, ixo, ioo, bxo):  # pragma: no cover - compiled
    """``Σ_o y[o] · x[src(o)]`` over every position ``o`` of the permuted layout that
    :func:`permute_copy` with the same geometry would write (``y`` flat in that layout): an
    inner product with no copy of ``x``. Each tile is summed in the inputs' dtype (one partial
    sum per row entry), the tiles' sums in complex128."""
    nd = oshape.size
    nb = bxo.size
    ni = ixo.size
    outer = 1
    for d in range(nd):
        outer *= oshape[d]
    idx = np.zeros(nd, np.int64)
    xb = 0
    ob = 0
    total = 0j
    acc = np.zeros(nb, y.dtype)  # one partial sum per row entry: independent chains
    for _o in range(outer):
        acc[:] = 0
        for i in range(ni):
            xi = xb + ixo[i]
            oi = ob + ioo[i]
            for b in range(nb):
                acc[b] += y[oi + b] * x[xi + bxo[b]]
        for b in range(nb):
            total += acc[b]
        d = nd - 1
        while d >= 0:
            idx[d] += 1
            xb += oxs[d]
            ob += oos[d]
            if idx[d] < oshape[d]:
                break
            xb -= oxs[d] * oshape[d]
            ob -= oos[d] * oshape[d]
            idx[d] = 0
            d -= 1
    return total


def offsets(dims: Sequence[int], strides: Sequence[int]) -> np.ndarray:
    """Element offsets of every multi-index over ``dims`` (C order) with ``strides``."""
    off = np.zeros(1, np.int64)
    for n, s in zip(dims, strides, strict=True):
        off = (off[:, None] + np.arange(n, dtype=np.int64)[None, :] * s).reshape(-1)
    return off


def permute_plan(shape: tuple[int, ...], perm: tuple[int, ...], po: int = PO,
                 pi: int = PI) -> tuple[np.ndarray, ...]:
    """Geometry of ``x.transpose(perm)`` (``x`` C-contiguous of ``shape``) for
    :func:`permute_copy`: ``(oshape, oxs, oos, ixo, ioo, bxo)``; see :func:`strided_plan`."""
    xs = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        xs[d] = xs[d + 1] * shape[d + 1]
    return strided_plan([shape[p] for p in perm], [xs[p] for p in perm], po, pi)


def strided_plan(sizes: list[int], xstrides: list[int], po: int = PO,
                 pi: int = PI) -> tuple[np.ndarray, ...]:
    """Geometry for :func:`permute_copy` of a strided view of ``x`` (axis sizes and element
    strides in the output's order) into a C-contiguous output.

    Tile rows: the output's last axes up to ``po`` elements (at least one axis). Tile rows
    ``i``: the axes of smallest ``x`` stride not in a row, up to ``pi`` elements. Outer axes: the
    rest in output order, neighbours merged where they are neighbours in ``x`` too."""
    ax = [d for d in range(len(sizes)) if sizes[d] != 1]  # output axes, C order
    n = {d: sizes[d] for d in ax}
    sx = {d: xstrides[d] for d in ax}
    so: dict[int, int] = {}
    acc = 1
    for d in reversed(ax):
        so[d] = acc
        acc *= n[d]
    row: list[int] = []
    size = 1
    for d in reversed(ax):  # the output's last axes
        if size * n[d] > po and row:
            break
        row.append(d)
        size *= n[d]
    row.reverse()
    rows: list[int] = []
    size = 1
    for d in sorted((d for d in ax if d not in row), key=lambda d: sx[d]):  # innermost in x
        if size * n[d] > pi:
            break
        rows.append(d)
        size *= n[d]
    rows.sort()
    mo: list[list[int]] = []  # merged outer axes: [size, x stride, out stride]
    for d in ax:
        if d in row or d in rows:
            continue
        if mo and mo[-1][1] == sx[d] * n[d] and mo[-1][2] == so[d] * n[d]:
            mo[-1] = [mo[-1][0] * n[d], sx[d], so[d]]
        else:
            mo.append([n[d], sx[d], so[d]])
    if not mo:
        mo = [[1, 0, 0]]
    i64 = np.int64
    return (np.array([m[0] for m in mo], i64), np.array([m[1] for m in mo], i64),
            np.array([m[2] for m in mo], i64),
            offsets([n[d] for d in rows], [sx[d] for d in rows]),
            offsets([n[d] for d in rows], [so[d] for d in rows]),
            offsets([n[d] for d in row], [sx[d] for d in row]))
