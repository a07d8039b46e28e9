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
are 1). :func:`small_contract_reference` is the plain numpy twin with the same signature.
"""

from __future__ import annotations

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


def small_contract_reference(x: np.ndarray, out: np.ndarray, kshape: np.ndarray,
                             kxs: np.ndarray, kos: np.ndarray, cx: np.ndarray, co: np.ndarray,
                             s: np.ndarray) -> None:
    """numpy twin of :func:`small_contract` (same arguments, same result in ``out``)."""
    kx = np.zeros(1, dtype=np.int64)
    ko = np.zeros(1, dtype=np.int64)
    for d in range(kshape.size):
        r = np.arange(int(kshape[d]), dtype=np.int64)
        kx = (kx[:, None] + r[None, :] * int(kxs[d])).reshape(-1)
        ko = (ko[:, None] + r[None, :] * int(kos[d])).reshape(-1)
    vals = x[kx[:, None] + cx[None, :]] @ s  # (kept, n)
    out[ko[:, None] + co[None, :]] = vals
