"""Cascade information reconciliation (Brassard & Salvail 1993) with the usual efficiency improvements.

Both ends hold bit strings; Bob corrects his towards Alice's by asking for block parities. Implemented:

* block sizes ``k1``, ``2 k1``, then ``n / 2`` for all later passes (after Martinez-Mateo, Pacher,
  Peev, Ciurana & Martin, "Demystifying the information reconciliation protocol Cascade", QIC 15
  (2015)), each pass on a fresh public random permutation (pass 0: identity); ``k1 = 1 / qber``;
* BINARY search reveals one parity per level (Bob infers the other half from the known block parity);
* the cascade effect: a corrected bit flips the parity of its block in every earlier pass, and those
  blocks are searched again;
* no parity is revealed twice: top-level block parities are sent once per pass.

Leakage is the number of parity bits Alice discloses. The simulated conversation is deterministic
given ``seed``. :func:`cascade` (numba) and :func:`cascade_reference` (plain Python/numpy, same
signature, same permutations) return identical results; tests compare them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from .errors import QKDError


@dataclass(frozen=True)
class CascadeResult:
    """Outcome of one reconciliation.

    Attributes:
        corrected: Bob's corrected bits (uint8 0/1).
        leaked_bits: parity bits disclosed by Alice.
        errors_corrected: bits Bob flipped.
        passes: passes run.
        pass_leak: parities disclosed per pass (the pass's message size, for authentication).
        parities: every parity bit Alice disclosed, in order (pass ``p``'s are contiguous).
    """

    corrected: NDArray[np.uint8]
    leaked_bits: int
    errors_corrected: int
    passes: int
    pass_leak: tuple[int, ...]
    parities: NDArray[np.uint8]


def first_block_size(qber: float, n: int) -> int:
    """Pass-0 block size for an estimated QBER: ``round(1 / qber)`` within [4, n].

    ``1 / qber`` (one expected error per block) measured best for the block schedule of
    :func:`block_sizes` (f = 1.06-1.08 at QBER 1-5% on 1e5 bits; 0.73 / qber gave 1.06-1.09).
    """
    q = min(max(qber, 1e-4), 0.25)
    k = max(4, round(1.0 / q))
    return int(min(k, max(n, 1)))


def block_sizes(k1: int, n: int, passes: int) -> list[int]:
    """Block size per pass: ``k1``, then ``2 * k1``, then ``ceil(n / 2)`` for every later pass.

    Large late blocks (Martinez-Mateo et al. 2015) cost two top-level parities per pass; the few
    errors left after two passes are then found by one binary search each.
    """
    half = max((n + 1) // 2, 1)
    out = [min(k1, n)]
    if passes > 1:
        out.append(min(2 * k1, n))
    out += [max(min(half, n), out[-1])] * (passes - 2)
    return out[:passes]


def _permutations(n: int, passes: int, seed: int) -> NDArray[np.int64]:
    rng = np.random.default_rng(seed)
    perms = np.empty((passes, n), dtype=np.int64)
    perms[0] = np.arange(n)
    for p in range(1, passes):
        perms[p] = rng.permutation(n)
    return perms


def _check(alice: NDArray[np.uint8], bob: NDArray[np.uint8], qber: float, passes: int) -> None:
    if alice.shape != bob.shape or alice.ndim != 1:
        raise QKDError(
            f"Cascade needs two 1-D bit strings of equal length, got {alice.shape} and {bob.shape}"
        )
    if not 0 <= qber < 0.5 or passes < 1:
        raise QKDError(f"Cascade needs 0 <= qber < 0.5 and passes >= 1, got qber={qber}, passes={passes}")


def _cascade_py(a, b, perms, ks, log):  # type: ignore[no-untyped-def]
    """The algorithm, written once: runs as plain Python (reference) or compiled by numba."""
    npass = perms.shape[0]
    n = a.shape[0]
    pos = np.empty((npass, n), dtype=np.int64)  # position of bit j in pass p's order
    for p in range(npass):
        for i in range(n):
            pos[p, perms[p, i]] = i
    maxblocks = (n + ks[0] - 1) // ks[0]
    par_a = np.zeros((npass, maxblocks), dtype=np.uint8)
    par_b = np.zeros((npass, maxblocks), dtype=np.uint8)
    pass_leak = np.zeros(npass, dtype=np.int64)
    leak = 0
    flips = 0
    stack_p = np.empty(n * npass + 16, dtype=np.int64)
    stack_blk = np.empty(n * npass + 16, dtype=np.int64)
    for p in range(npass):
        k = ks[p]
        nb = (n + k - 1) // k
        for blk in range(nb):
            sa = 0
            sb = 0
            for i in range(blk * k, min((blk + 1) * k, n)):
                sa ^= a[perms[p, i]]
                sb ^= b[perms[p, i]]
            par_a[p, blk] = sa
            par_b[p, blk] = sb
            log[leak + blk] = sa
        leak += nb
        pass_leak[p] += nb
        top = 0
        for blk in range(nb):
            if par_a[p, blk] != par_b[p, blk]:
                stack_p[top] = p
                stack_blk[top] = blk
                top += 1
        while top > 0:
            top -= 1
            q = stack_p[top]
            blk = stack_blk[top]
            if par_a[q, blk] == par_b[q, blk]:
                continue
            kq = ks[q]
            lo = blk * kq
            hi = min((blk + 1) * kq, n)
            while hi - lo > 1:  # BINARY: Alice reveals the left half's parity
                mid = (lo + hi) // 2
                sa = 0
                sb = 0
                for i in range(lo, mid):
                    sa ^= a[perms[q, i]]
                    sb ^= b[perms[q, i]]
                log[leak] = sa
                leak += 1
                pass_leak[p] += 1
                if sa != sb:
                    hi = mid
                else:
                    lo = mid
            j = perms[q, lo]
            b[j] ^= 1
            flips += 1
            for r in range(p + 1):  # cascade: the bit's block flips parity in every pass so far
                rb = pos[r, j] // ks[r]
                par_b[r, rb] ^= 1
                if par_a[r, rb] != par_b[r, rb]:
                    stack_p[top] = r
                    stack_blk[top] = rb
                    top += 1
    return b, leak, flips, pass_leak


_cascade_nb = njit(cache=True)(_cascade_py)


def _run(
    fn: object,
    alice: NDArray[np.uint8],
    bob: NDArray[np.uint8],
    qber: float,
    seed: int,
    passes: int,
    k1: int | None,
) -> CascadeResult:
    alice = np.ascontiguousarray(alice, dtype=np.uint8)
    bob = np.ascontiguousarray(bob, dtype=np.uint8)
    _check(alice, bob, qber, passes)
    n = alice.shape[0]
    if n == 0:
        return CascadeResult(bob.copy(), 0, 0, 0, (), np.zeros(0, dtype=np.uint8))
    k = first_block_size(qber, n) if k1 is None else int(k1)
    ks = np.array(block_sizes(k, n, passes), dtype=np.int64)
    perms = _permutations(n, passes, seed)
    cap = int(sum((n + int(k_) - 1) // int(k_) for k_ in ks)) + (n + 1) * (int(math.log2(n)) + 2)
    log = np.zeros(cap, dtype=np.uint8)
    b, leak, flips, pl = fn(alice, bob.copy(), perms, ks, log)  # type: ignore[operator]
    return CascadeResult(
        np.asarray(b, dtype=np.uint8),
        int(leak),
        int(flips),
        passes,
        tuple(int(x) for x in pl),
        log[: int(leak)],
    )


def cascade(
    alice: NDArray[np.uint8],
    bob: NDArray[np.uint8],
    qber: float,
    seed: int,
    passes: int = 10,
    k1: int | None = None,
) -> CascadeResult:
    """Reconcile Bob's bits to Alice's (numba fast path).

    Args:
        alice: Alice's bits (0/1).
        bob: Bob's noisy copy (same length).
        qber: estimated error rate (sets the first block size).
        seed: seed of the public pass permutations.
        passes: number of passes (block size doubles each pass).
        k1: first block size (default from ``qber``).

    Returns:
        A :class:`CascadeResult`.
    """
    return _run(_cascade_nb, alice, bob, qber, seed, passes, k1)


def cascade_reference(
    alice: NDArray[np.uint8],
    bob: NDArray[np.uint8],
    qber: float,
    seed: int,
    passes: int = 10,
    k1: int | None = None,
) -> CascadeResult:
    """Plain-Python reference of :func:`cascade` (same signature and result; slow)."""
    return _run(_cascade_py, alice, bob, qber, seed, passes, k1)
