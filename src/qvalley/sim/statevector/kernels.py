"""numba kernels for the fast statevector engine. Compiled with ``cache=True``.

Bit order: qubit ``k`` is bit ``k`` of the state index. A k-qubit gate is described by
``targets`` (sorted ascending), ``offs`` (for matrix column/row ``c``, the index offset
``Σ_j bit_j(c) << operand_j``) and its matrix: dense ``d×d``, or for a diagonal a lane table
(see :func:`~._unrolled.diagonal`) that turns any diagonal into one vector multiply per unit.

Layout for SIMD: a dense gate is applied to *units* of ``S`` consecutive groups; when the lowest
target is ``q0`` the ``2^q0`` groups sharing the high bits have consecutive base indices, so the
innermost loop of every kernel runs over ``S = min(2^q0, SMAX)`` contiguous amplitudes and LLVM
emits vector code. Every kernel has a numpy counterpart in :mod:`.reference` (tests compare them).

Dense kernels for k ≤ 4 are generated fully unrolled (:mod:`._unrolled`); wider blocks use the
generic loop here.

Programs: a fused circuit is a list of gates packed into flat arrays. :func:`run_tiled` applies a
run of gates whose targets all lie below ``tile_bits`` tile by tile (each tile of ``2^tile_bits``
amplitudes stays in cache while every gate of the run is applied to it), one parallel region per
run; gates with a higher target are applied over the whole state by :func:`run_gate`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from ._unrolled import MAX_LOWH_K as MAX_LOWH_K
from ._unrolled import dense1, dense2, dense3, dense4, diagonal, low3, lowh

SMAX = 64  # contiguous amplitudes per inner loop; a multiple of the widest SIMD width
LANE_BITS = 6  # log2(SMAX): diagonal targets below this are folded into a unit's lane table

_OPTS: dict[str, Any] = {"cache": True, "fastmath": True, "nogil": True, "boundscheck": False,
         "error_model": "numpy"}


@njit(**_OPTS)
def _insert_zeros(g: int, targets: np.ndarray) -> int:  # pragma: no cover - compiled
    for t in targets:
        g = ((g >> t) << (t + 1)) | (g & ((1 << t) - 1))
    return g


@njit(**_OPTS)
def _dense_units(psi, base0, u_lo, u_hi, S, m, offs, targets, tmp):  # pragma: no cover
    d = offs.size
    for u in range(u_lo, u_hi):
        b = base0 + _insert_zeros(u * S, targets)
        for r in range(d):
            for j in range(S):
                tmp[r, j] = 0
        for c in range(d):
            src = b + offs[c]
            for r in range(d):
                mrc = m[r, c]
                for j in range(S):
                    tmp[r, j] += mrc * psi[src + j]
        for r in range(d):
            dst = b + offs[r]
            for j in range(S):
                psi[dst + j] = tmp[r, j]


KIND_DENSE, KIND_DIAG, KIND_LOW3, KIND_LOWH = 0, 1, 2, 3
LOW = 3  # qubits below this address amplitudes inside one 8-amplitude chunk


@njit(**_OPTS)
def bin_count(x):  # pragma: no cover
    c = 0
    while x:
        c += x & 1
        x >>= 1
    return c


@njit(**_OPTS)
def _geometry(kind, k, targets, nbits):  # pragma: no cover
    """``(S, units)`` for a gate over ``2**nbits`` amplitudes: a unit is S groups whose lowest
    amplitudes are contiguous (kind 2: S consecutive 8-amplitude chunks)."""
    if kind == KIND_LOW3:
        S = min(SMAX, (1 << nbits) >> 3)
        return S, ((1 << nbits) >> 3) // S
    if kind == KIND_DIAG:
        S = min(SMAX, 1 << nbits)
        return S, (1 << nbits) // S
    if kind == KIND_LOWH:  # S chunks of 8 in which every high target bit is 0
        nh = 0
        hmin = nbits
        for t in targets:
            if t >= LOW:
                nh += 1
                hmin = min(hmin, t)
        S = min(SMAX, 1 << (hmin - LOW))
        return S, ((1 << nbits) >> (LOW + nh)) // S
    S = min(1 << targets[0], SMAX)
    return S, ((1 << nbits) >> k) // S


@njit(**_OPTS)
def _units(psi, base0, u_lo, u_hi, S, kind, k, mat, offs, targets, tmp):  # pragma: no cover
    """Apply one gate to units ``u_lo..u_hi`` (each ``S`` contiguous groups) from ``base0``."""
    if kind == KIND_DIAG:
        diagonal(psi, base0, u_lo, u_hi, S, mat, targets, LANE_BITS)
    elif kind == KIND_LOW3:
        low3(psi, base0, u_lo, u_hi, S, mat)
    elif kind == KIND_LOWH:
        lowmask = 0
        for t in targets:
            if t < LOW:
                lowmask |= 1 << t
        lowh(psi, base0, u_lo, u_hi, S, mat, offs, targets, lowmask, k - bin_count(lowmask))
    elif k == 1:
        dense1(psi, base0, u_lo, u_hi, S, mat, offs, targets)
    elif k == 2:
        dense2(psi, base0, u_lo, u_hi, S, mat, offs, targets)
    elif k == 3:
        dense3(psi, base0, u_lo, u_hi, S, mat, offs, targets)
    elif k == 4:
        dense4(psi, base0, u_lo, u_hi, S, mat, offs, targets)
    else:
        _dense_units(psi, base0, u_lo, u_hi, S, mat, offs, targets, tmp)


@njit(parallel=True, **_OPTS)
def run_tiled(psi, tile_bits, kinds, ks, mats, offs, targets):  # pragma: no cover
    """Apply gates ``0..len(kinds)-1`` (all targets < ``tile_bits``) tile by tile, in parallel."""
    ntiles = psi.size >> tile_bits
    ng = kinds.size
    for tile in prange(ntiles):
        tmp = np.empty((32, SMAX), dtype=psi.dtype)
        base0 = tile << tile_bits
        for g in range(ng):
            k = ks[g]
            tg = targets[g, :k]
            S, units = _geometry(kinds[g], k, tg, tile_bits)
            _units(psi, base0, 0, units, S, kinds[g], k, mats[g], offs[g, : 1 << k], tg, tmp)


@njit(parallel=True, **_OPTS)
def run_gate(psi, kind, k, mat, offs, targets, nchunks):  # pragma: no cover
    """Apply one gate over the whole state, the work split into ``nchunks`` parallel chunks."""
    nbits = 0
    while (1 << (nbits + 1)) <= psi.size:
        nbits += 1
    S, units = _geometry(kind, k, targets, nbits)
    step = (units + nchunks - 1) // nchunks
    for ch in prange(nchunks):
        lo = ch * step
        hi = min(units, lo + step)
        if lo < hi:
            tmp = np.empty((32, SMAX), dtype=psi.dtype)
            _units(psi, 0, lo, hi, S, kind, k, mat, offs, targets, tmp)


# ---- measurement, reset and readout ----------------------------------------------------------------
@njit(parallel=True, **_OPTS)
def prob_one(psi, q):  # pragma: no cover
    """Probability that qubit ``q`` reads 1 (float64 accumulation)."""
    half = psi.size >> 1
    total = 0.0
    for g in prange(half):
        i = (((g >> q) << (q + 1)) | (g & ((1 << q) - 1))) | (1 << q)
        a = psi[i]
        total += a.real * a.real + a.imag * a.imag
    return total


@njit(parallel=True, **_OPTS)
def collapse(psi, q, outcome, scale):  # pragma: no cover
    """Zero the amplitudes where qubit ``q`` != ``outcome`` and multiply the rest by ``scale``."""
    half = psi.size >> 1
    for g in prange(half):
        i0 = ((g >> q) << (q + 1)) | (g & ((1 << q) - 1))
        i1 = i0 | (1 << q)
        if outcome == 1:
            psi[i0] = 0
            psi[i1] *= scale
        else:
            psi[i1] = 0
            psi[i0] *= scale


@njit(parallel=True, **_OPTS)
def flip(psi, q):  # pragma: no cover
    """Apply X to qubit ``q`` in place."""
    half = psi.size >> 1
    for g in prange(half):
        i0 = ((g >> q) << (q + 1)) | (g & ((1 << q) - 1))
        i1 = i0 | (1 << q)
        a = psi[i0]
        psi[i0] = psi[i1]
        psi[i1] = a


@njit(parallel=True, **_OPTS)
def probabilities(psi, out):  # pragma: no cover
    for i in prange(psi.size):
        a = psi[i]
        out[i] = a.real * a.real + a.imag * a.imag


@njit(parallel=True, **_OPTS)
def pauli_expectation(psi, xmask, zmask, ny):  # pragma: no cover
    """``<ψ|P|ψ>`` for ``P = i^ny X^xmask Z^zmask`` ordering as for Pauli strings with Y = iXZ."""
    re = 0.0
    im = 0.0
    for i in prange(psi.size):
        a = psi[i]
        b = psi[i ^ xmask]
        # P|i> = i^ny (-1)^{popcount(i & zmask)} |i ^ xmask>; contributes conj(psi[i^x]) * psi[i]
        v = i & zmask
        par = 0
        while v:
            v &= v - 1
            par ^= 1
        s = 1.0 - 2.0 * par
        pr = (b.real * a.real + b.imag * a.imag) * s
        pi = (b.real * a.imag - b.imag * a.real) * s
        re += pr
        im += pi
    # multiply by i^ny
    r = ny % 4
    if r == 0:
        return complex(re, im)
    if r == 1:
        return complex(-im, re)
    if r == 2:
        return complex(-re, -im)
    return complex(im, -re)


@njit(**_OPTS)
def sample_sorted(psi, uniforms, out):  # pragma: no cover
    """Inverse-CDF sampling in one pass: ``uniforms`` sorted ascending in [0, total)."""
    acc = 0.0
    j = 0
    m = uniforms.size
    n = psi.size
    for i in range(n):
        a = psi[i]
        acc += a.real * a.real + a.imag * a.imag
        while j < m and uniforms[j] < acc:
            out[j] = i
            j += 1
        if j == m:
            break
    # rounding: anything left goes to the last non-zero amplitude
    last = n - 1
    while last > 0 and psi[last] == 0:
        last -= 1
    while j < m:
        out[j] = last
        j += 1


@njit(parallel=True, **_OPTS)
def norm2(psi):  # pragma: no cover
    """``Σ |ψ_i|²`` accumulated in float64."""
    total = 0.0
    for i in prange(psi.size):
        a = psi[i]
        total += a.real * a.real + a.imag * a.imag
    return total


# ---- qubit relabeling ------------------------------------------------------------------------------
@njit(parallel=True, **_OPTS)
def permute_local(psi, upper, hoffs, src):  # pragma: no cover
    """Permute amplitudes inside every block of ``64 << len(upper)`` amplitudes that share all
    index bits other than 0-5 and ``upper`` (sorted ascending, all >= 6): local index ``e`` (bits
    0-5 = index bits 0-5, bit ``6 + i`` = index bit ``upper[i]``) receives the amplitude from
    local index ``src[e]``. ``hoffs[h]`` is the index offset of upper-bit pattern ``h``. Each
    block is copied run by run into a scratch buffer (L1/L2 sized), then every 64-amplitude run
    is written back contiguously, gathering from the scratch (2-3x faster than scattering the
    stores across the block's runs, docs/performance.md)."""
    m = upper.size
    bs = SMAX << m
    nblocks = psi.size // bs
    for blk in prange(nblocks):
        tmp = np.empty(bs, dtype=psi.dtype)
        g = np.int64(blk) << LANE_BITS
        for t in upper:
            g = ((g >> t) << (t + 1)) | (g & ((1 << t) - 1))
        for h in range(1 << m):
            run = psi[g + hoffs[h]:g + hoffs[h] + SMAX]
            buf = tmp[h << LANE_BITS:(h + 1) << LANE_BITS]
            for j in range(SMAX):
                buf[j] = run[j]
        for h in range(1 << m):
            run = psi[g + hoffs[h]:g + hoffs[h] + SMAX]
            idx = src[h << LANE_BITS:(h + 1) << LANE_BITS]
            for j in range(SMAX):
                run[j] = tmp[idx[j]]
