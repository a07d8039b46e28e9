"""Privacy amplification by Toeplitz hashing over GF(2), computed exactly.

An ``m x n`` Toeplitz matrix ``T[i, j] = t[i - j + n - 1]`` is fixed by ``n + m - 1`` public random
bits ``t``; the output key is ``y = T x mod 2``. ``y_i = sum_j t[i - j + n - 1] x_j`` is a slice of the
integer linear convolution ``t * x``, computed with a float64 FFT. Exactness: every convolution
value is an integer in ``[0, c]`` where ``c`` is the chunk length of ``x``; the FFT round-off is
bounded by about ``c * 2**-52 * log2(L) * 4`` for transform length ``L``, so with chunks of at most
``2**20`` input bits the error stays below ``1e-3``, far from the ``0.5`` that rounding tolerates.
``x`` is cut into such chunks, each chunk's convolution is rounded to integers, reduced mod 2 and the
parities are XOR-ed together (linearity). Every rounding is also checked at run time (the largest
distance to an integer must be below 0.25; otherwise :class:`QKDError` — never a silent wrong bit).
:func:`toeplitz_hash_reference` is the dense GF(2) matrix product for tests.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sfft

from .errors import QKDError

CHUNK_BITS = 1 << 20


def _check(x: NDArray[np.uint8], seed_bits: NDArray[np.uint8], m: int) -> tuple[int, int]:
    n = int(x.shape[0])
    if x.ndim != 1 or seed_bits.ndim != 1:
        raise QKDError("Toeplitz hashing needs 1-D bit arrays")
    if m < 0 or m > n:
        raise QKDError(f"output length {m} must be between 0 and the input length {n}")
    if seed_bits.shape[0] != n + m - 1 and m > 0:
        raise QKDError(f"a {m}x{n} Toeplitz matrix needs {n + m - 1} seed bits, got {seed_bits.shape[0]}")
    return n, m


def toeplitz_hash(x: NDArray[np.uint8], seed_bits: NDArray[np.uint8], m: int) -> NDArray[np.uint8]:
    """``T x mod 2`` for the ``m x len(x)`` Toeplitz matrix given by ``seed_bits`` (length n + m - 1).

    Examples:
        >>> import numpy as np
        >>> x = np.array([1, 0, 1, 1], dtype=np.uint8); t = np.array([1, 0, 0, 1, 1], dtype=np.uint8)
        >>> toeplitz_hash(x, t, 2).tolist() == toeplitz_hash_reference(x, t, 2).tolist()
        True
    """
    x = np.asarray(x, dtype=np.uint8)
    seed_bits = np.asarray(seed_bits, dtype=np.uint8)
    n, m = _check(x, seed_bits, m)
    if m == 0:
        return np.zeros(0, dtype=np.uint8)
    out = np.zeros(m, dtype=np.uint8)
    # y_i = sum_j t[i - j + n - 1] x_j ; for a chunk x[s:s+c], with u = t[n-1-s-(c-1) : n-1-s+m]
    # (length m + c - 1), y_i += sum_l u[i - l + c - 1] x[s + l] = (u * x_chunk)[i + c - 1].
    for s in range(0, n, CHUNK_BITS):
        xc = x[s : s + CHUNK_BITS].astype(np.float64)
        c = xc.shape[0]
        lo = n - 1 - s - (c - 1)
        u = seed_bits[lo : n - 1 - s + m].astype(np.float64)
        # cyclic convolution of length >= m + c - 1: wrap-around only reaches indices < c - 1
        length = sfft.next_fast_len(u.shape[0], real=True)
        conv = sfft.irfft(sfft.rfft(u, length) * sfft.rfft(xc, length), length)[c - 1 : c - 1 + m]
        rounded = np.rint(conv)
        if m and float(np.max(np.abs(conv - rounded))) >= 0.25:  # pragma: no cover - bound says never
            raise QKDError("Toeplitz FFT lost exactness (round-off >= 0.25); reduce CHUNK_BITS")
        out ^= (rounded.astype(np.int64) & 1).astype(np.uint8)
    return out


def toeplitz_hash_reference(x: NDArray[np.uint8], seed_bits: NDArray[np.uint8], m: int) -> NDArray[np.uint8]:
    """Dense GF(2) reference of :func:`toeplitz_hash` (builds the matrix; small inputs only)."""
    x = np.asarray(x, dtype=np.uint8)
    seed_bits = np.asarray(seed_bits, dtype=np.uint8)
    n, m = _check(x, seed_bits, m)
    if m == 0:
        return np.zeros(0, dtype=np.uint8)
    i = np.arange(m)[:, None]
    j = np.arange(n)[None, :]
    t = seed_bits[i - j + n - 1].astype(np.int64)
    return ((t @ x.astype(np.int64)) & 1).astype(np.uint8)
