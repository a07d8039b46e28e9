"""Qubit relabeling: keep the low index bits free of dense blocks by moving qubits between bits.

A dense block whose lowest target is one of the first few index bits has contiguous runs shorter
than a SIMD vector and runs several times slower per amplitude than one on higher bits. The
engine therefore stores logical qubit ``l`` at index bit ``phys[l]`` (a permutation, identity at
the start and the end of every :meth:`~.fast.FastBackend.apply_gates`): :func:`plan` walks the
fused blocks in dependency order, runs every block that avoids the low bits ``0..low-1``, and
when every ready dense block needs a qubit stored there, swaps the qubits stored low with those
whose next use lies furthest ahead (one in-place pass, :func:`swap_pass`). Diagonal blocks run at
full speed on any bits and never force a swap. At the end the permutation is undone in at most
a few passes, so states, samples and bit order (qubit ``k`` = bit ``k``) are unchanged.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .fusion import Block, CostModel, dependencies

LANE = 6  # index bits 0..5 lie inside one 64-amplitude run: every swap pass permutes within runs
MAX_UPPER = 6  # at most this many bits >= LANE per pass (scratch block of 64 << 6 amplitudes)


@dataclass
class SwapPass:
    """Exchange index bits ``a`` and ``b`` for every pair (disjoint pairs)."""

    pairs: list[tuple[int, int]]

    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(upper, hoffs, src)`` for :func:`~.kernels.permute_local` (exchanging bit pairs is its
        own inverse, so the table of sources is also the table of destinations)."""
        upper = sorted({q for p in self.pairs for q in p if q >= LANE})
        m = len(upper)
        pos = list(range(LANE)) + upper  # local bit i <-> index bit pos[i]
        local = {q: i for i, q in enumerate(pos)}
        e = np.arange(1 << (LANE + m), dtype=np.int64)
        src = e.copy()
        for a, b in self.pairs:
            la, lb = local[a], local[b]
            diff = ((e >> la) ^ (e >> lb)) & 1
            src ^= diff * ((1 << la) | (1 << lb))
        h = np.arange(1 << m, dtype=np.int64)
        hoffs = np.zeros(1 << m, dtype=np.int64)
        for i, q in enumerate(upper):
            hoffs |= ((h >> i) & 1) << q
        return np.array(upper, dtype=np.int64), hoffs, src


def _passes_for(pairs: Sequence[tuple[int, int]]) -> list[SwapPass]:
    """Disjoint transpositions split so that no pass names more than MAX_UPPER bits >= LANE."""
    out: list[SwapPass] = []
    cur: list[tuple[int, int]] = []
    upper: set[int] = set()
    for a, b in pairs:
        new = {q for q in (a, b) if q >= LANE} - upper
        if cur and len(upper) + len(new) > MAX_UPPER:
            out.append(SwapPass(cur))
            cur, upper = [], set()
            new = {q for q in (a, b) if q >= LANE}
        cur.append((a, b))
        upper |= new
    if cur:
        out.append(SwapPass(cur))
    return out


def restore_passes(phys: Sequence[int]) -> list[SwapPass]:
    """Passes that move logical qubit ``l`` from bit ``phys[l]`` back to bit ``l``.

    Any permutation is the product of two involutions (per cycle, two reflections), and an
    involution of bits is a set of disjoint swaps, so two rounds of swaps suffice."""
    n = len(phys)
    # content of bit p must go to bit target[p]
    target = [0] * n
    for lq, p in enumerate(phys):
        target[p] = lq
    seen = [False] * n
    r1: list[tuple[int, int]] = []
    r2: list[tuple[int, int]] = []
    for start in range(n):
        if seen[start] or target[start] == start:
            continue
        cyc = [start]
        seen[start] = True
        while target[cyc[-1]] != start:
            cyc.append(target[cyc[-1]])
            seen[cyc[-1]] = True
        m = len(cyc)  # bit cyc[i] must go to bit cyc[i+1]
        # r1: cyc[i] <-> cyc[-i]; then r2: cyc[i] <-> cyc[1-i]; r2 ∘ r1 maps cyc[i] -> cyc[i+1]
        for i in range(m):
            j = (-i) % m
            if i < j:
                r1.append((cyc[i], cyc[j]))
            j2 = (1 - i) % m
            if i < j2:
                r2.append((cyc[i], cyc[j2]))
    return _passes_for(sorted(r1)) + _passes_for(sorted(r2))


Step = list[Block] | SwapPass


def plan(blocks: Sequence[Block], n: int, low: int = 3,
         model: CostModel | None = None, tile_bits: int = 0) -> list[Step]:
    """Blocks (on logical qubits, in a valid order) as a list of steps on index bits: runs of
    blocks remapped to the bits their qubits are stored at, and swap passes between them. The
    last steps restore the identity layout.

    With a cost ``model``, a swap is made only when the blocks that would otherwise run on the
    low bits before the incoming qubits are needed cost more extra (low against high kernels)
    than the swap pass itself; without one, whenever every ready dense block needs a low bit.
    Qubits are brought in from bits ``LANE..tile_bits-1`` where enough of them are free for long
    enough, so the qubits moved out stay below ``tile_bits`` and their blocks still run in cache
    tiles."""
    nb = len(blocks)
    preds, succs = dependencies(blocks)
    phys = list(range(n))
    inv = list(range(n))
    ready = [i for i in range(nb) if preds[i] == 0]
    heapq.heapify(ready)
    done = [False] * nb
    steps: list[Step] = []
    run: list[Block] = []

    def blocked(b: Block) -> bool:
        return not b.diagonal and any(phys[q] < low for q in b.qubits)

    def emit(i: int) -> None:
        b = blocks[i]
        run.append(Block([phys[q] for q in b.qubits], b.matrix, b.diagonal, b.count))
        done[i] = True
        for s in succs[i]:
            preds[s] -= 1
            if preds[s] == 0:
                heapq.heappush(ready, s)

    while ready:
        held: list[int] = []
        progressed = False
        while ready:
            i = heapq.heappop(ready)
            if blocked(blocks[i]):
                held.append(i)
            else:
                emit(i)
                progressed = True
        for i in held:
            heapq.heappush(ready, i)
        if not ready:
            break
        if progressed:
            continue
        # every ready block needs a low bit: store low the qubits used furthest ahead
        nxt = [nb] * n
        for i in range(nb - 1, -1, -1):
            if not done[i] and not blocks[i].diagonal:
                for q in blocks[i].qubits:
                    nxt[q] = i
        order = sorted(range(n), key=lambda q: (-nxt[q], phys[q]))
        want = order[:low]
        near = [q for q in order if phys[q] < low or LANE <= phys[q] < tile_bits][:low]
        if len(near) == low and min(nxt[q] for q in near) > ready[0]:
            want = near
        if all(nxt[q] <= ready[0] for q in want):
            emit(heapq.heappop(ready))  # too few qubits to choose from: run it on the low bits
            continue
        if model is not None:
            horizon = min(nxt[q] for q in want if phys[q] >= low) if any(
                phys[q] >= low for q in want) else nb
            extra = 0.0
            for i in range(ready[0], min(horizon, nb)):
                b = blocks[i]
                if not done[i] and blocked(b):
                    qs = [phys[q] for q in b.qubits]
                    extra += (model.block_cost(qs, False)
                              - model.cost(len(qs), False, low=False))
            if extra < model.swap_cost():
                emit(heapq.heappop(ready))  # cheaper to run on the low bits than to swap
                continue
        out = [inv[p] for p in range(low) if inv[p] not in want]
        into = [q for q in want if phys[q] >= low]
        pairs = []
        for y, x in zip(out, sorted(into, key=lambda q: phys[q])):
            py, px = phys[y], phys[x]
            pairs.append((py, px))
            phys[y], phys[x] = px, py
            inv[py], inv[px] = x, y
        if run:
            steps.append(run)
            run = []
        steps.extend(_passes_for(pairs))
    if run:
        steps.append(run)
    steps.extend(restore_passes(phys))
    return steps
