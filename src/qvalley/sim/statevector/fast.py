"""The fast statevector backend: gate fusion + cache-tiled numba kernels, single or double precision.

Bit order: qubit ``k`` is bit ``k`` of the state index (little-endian).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache

import numba
import numpy as np

from ...circuit.observable import Observable
from ..memory import check_statevector_memory
from . import kernels, relabel
from .engine import GateList
from .fusion import MAX_FUSED, Block, CostModel, cost_model, fuse, schedule

# Relabeling (see :mod:`.relabel`) is possible from this many qubits (a swap pass needs 64 << 6
# amplitudes); ``relabel="auto"`` considers it from RELABEL_AUTO_QUBITS, below which the extra
# parallel regions of the swap passes cost more than the low-bit kernels they avoid.
RELABEL_MIN_QUBITS = 12
RELABEL_AUTO_QUBITS = 18

# Amplitudes per cache tile: 2^16 complex64 = 512 KiB, well inside a 1-4 MiB L2.
TILE_BYTES = 1 << 19


def pack_block(block: Block, dtype: type) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:
    """Flatten a block into kernel arguments ``(kind, k, mat, offs, targets)``.

    ``offs[c]`` is the index offset of matrix row/column ``c`` (operand j = bit j of c), so the
    kernels never need the operand order; ``targets`` is sorted ascending."""
    k = block.k
    d = 1 << k
    qubits = list(block.qubits)
    low = sorted(q for q in qubits if q < kernels.LOW)
    mat: np.ndarray
    if block.diagonal:
        kind = kernels.KIND_DIAG
        mat = diagonal_table(qubits, block.matrix, dtype)
    elif qubits == [0, 1, 2]:
        kind = kernels.KIND_LOW3
        mat = np.asarray(block.matrix, dtype=dtype)
    elif low and len(low) < k <= kernels.MAX_LOWH_K:
        # low qubits first, then high, both ascending: the operand order of the lowh kernels
        kind = kernels.KIND_LOWH
        order = low + sorted(q for q in qubits if q >= kernels.LOW)
        idx = np.array([sum(((c >> j) & 1) << qubits.index(q) for j, q in enumerate(order))
                        for c in range(d)])
        mat = np.asarray(np.asarray(block.matrix)[np.ix_(idx, idx)], dtype=dtype)
        qubits = order
    else:
        kind = kernels.KIND_DENSE
        mat = np.asarray(block.matrix, dtype=dtype)
    offs = np.zeros(d, dtype=np.int64)
    for c in range(d):
        offs[c] = sum(((c >> j) & 1) << q for j, q in enumerate(qubits))
    targets = np.array(sorted(qubits), dtype=np.int64)
    return kind, k, mat, offs, targets


def diagonal_table(qubits: list[int], diag: np.ndarray, dtype: type) -> np.ndarray:
    """The lane table of a diagonal on ``qubits`` (operand j = bit j of ``diag``'s index):
    ``tab[h, j]`` multiplies lane ``j`` of a :data:`~.kernels.SMAX`-amplitude unit whose bits on the
    targets at or above :data:`~.kernels.LANE_BITS` (ascending) read ``h``."""
    lanes = np.arange(kernels.SMAX, dtype=np.int64)
    high = sorted(q for q in qubits if q >= kernels.LANE_BITS)
    h = np.arange(1 << len(high), dtype=np.int64)[:, None]
    col = np.zeros((h.size, lanes.size), dtype=np.int64)
    for j, q in enumerate(qubits):
        bit = (lanes[None, :] >> q) & 1 if q < kernels.LANE_BITS else (h >> high.index(q)) & 1
        col |= bit << j
    return np.asarray(np.asarray(diag)[col], dtype=dtype)


def _pack_run(blocks: list[Block], dtype: type) -> tuple[np.ndarray, ...]:
    ng = len(blocks)
    packed = [pack_block(b, dtype) for b in blocks]
    rows = max(p[2].shape[0] for p in packed)
    cols = max(p[2].shape[1] for p in packed)
    dmax = max(1 << b.k for b in blocks)
    kinds = np.zeros(ng, dtype=np.int64)
    ks = np.zeros(ng, dtype=np.int64)
    mats: np.ndarray = np.zeros((ng, rows, cols), dtype=dtype)
    offs = np.zeros((ng, dmax), dtype=np.int64)
    targets = np.zeros((ng, MAX_FUSED), dtype=np.int64)
    for g, (kind, k, mat, off, tg) in enumerate(packed):
        d = 1 << k
        kinds[g], ks[g] = kind, k
        mats[g, :mat.shape[0], :mat.shape[1]] = mat
        offs[g, :d] = off
        targets[g, :k] = tg
    return kinds, ks, mats, offs, targets


@lru_cache(maxsize=4)
def _model(precision: str) -> CostModel:
    return cost_model(precision)


class FastBackend:
    """numba backend on a complex64/complex128 numpy vector."""

    name = "fast"

    def __init__(self, precision: str = "single", max_fused: int | None = None,
                 tiling: bool = True, relabel: str = "auto", relabel_low: int = 6) -> None:
        self.precision = precision
        self.dtype = np.complex64 if precision == "single" else np.complex128
        self.max_fused = MAX_FUSED if max_fused is None else max(1, min(MAX_FUSED, max_fused))
        self.tiling = tiling
        # qubit relabeling (:mod:`.relabel`): "auto" (when the cost model predicts a gain), "on"
        # or "off"; ``relabel_low`` index bits are kept free of dense blocks
        if relabel not in ("auto", "on", "off"):
            raise ValueError(f"relabel must be 'auto', 'on' or 'off', got {relabel!r}")
        self.relabel = relabel
        self.relabel_low = relabel_low
        self.threads = numba.get_num_threads()
        # optional ``(runs_done, runs_total)`` callback, e.g. the CLI's progress bar
        self.on_progress: Callable[[int, int], None] | None = None

    # ---- evolution ----------------------------------------------------------------------------
    def zero_state(self, n: int) -> np.ndarray:
        check_statevector_memory(n, np.dtype(self.dtype).itemsize)
        s = np.zeros(1 << n, dtype=self.dtype)
        s[0] = 1
        return s

    def tile_bits(self, n: int) -> int:
        per = np.dtype(self.dtype).itemsize
        tb = max(1, (TILE_BYTES // per).bit_length() - 1)
        # leave at least 4 tiles per thread for load balance
        spare = (4 * self.threads).bit_length()
        return max(1, min(tb, n - spare)) if n > spare else n

    def plan(self, gates: GateList, n: int) -> list[list[Block] | relabel.SwapPass]:
        """Fused, scheduled steps for ``gates`` on an ``n``-qubit state (exposed for inspection):
        runs of blocks on index bits, and, with relabeling, swap passes between them."""
        tb = self.tile_bits(n) if self.tiling else -1
        model = replace(_model(self.precision), tile_bits=max(tb, 0) if n > tb else 0)
        low = self.relabel_low
        least = RELABEL_AUTO_QUBITS if self.relabel == "auto" else RELABEL_MIN_QUBITS
        if self.relabel == "off" or not (0 < low <= relabel.LANE and n >= least):
            blocks = fuse(gates, self.max_fused, model, promote_low=n >= 3)
            return list(schedule(blocks, tb))
        # with relabeling, dense blocks never sit on the low bits: cost every block as a high one.
        # Keep whichever plan the cost model predicts cheaper (swap passes against the extra cost
        # of the low-bit kernels).
        plain = fuse(gates, self.max_fused, model, promote_low=n >= 3)
        high = replace(model, dense_low={}, low3=0.0, mid={})
        blocks = fuse(gates, self.max_fused, high, promote_low=False)
        planned = relabel.plan(blocks, n, low, model, tb)
        swaps = sum(isinstance(step, relabel.SwapPass) for step in planned)
        cost_plain = sum(model.block_cost(b.qubits, b.diagonal) for b in plain)
        cost_relabel = (sum(high.block_cost(b.qubits, b.diagonal) for b in blocks)
                        + swaps * model.swap_cost())
        if self.relabel == "auto" and cost_plain <= cost_relabel:
            return list(schedule(plain, tb))
        steps: list[list[Block] | relabel.SwapPass] = []
        for step in planned:
            if isinstance(step, relabel.SwapPass):
                steps.append(step)
            else:
                steps.extend(schedule(step, tb))
        return steps

    def apply_gates(self, state: np.ndarray, gates: GateList) -> np.ndarray:
        if not gates:
            return state
        n = state.size.bit_length() - 1
        tb = self.tile_bits(n)
        nchunks = 4 * self.threads
        steps = self.plan(gates, n)
        for done, run in enumerate(steps):
            if self.on_progress is not None:
                self.on_progress(done, len(steps))
            if isinstance(run, relabel.SwapPass):
                kernels.permute_local(state, *run.tables())
            elif len(run) > 1 or (self.tiling and max(run[0].qubits) < tb and n > tb):
                kernels.run_tiled(state, tb, *_pack_run(run, self.dtype))
            else:
                kernels.run_gate(state, *pack_block(run[0], self.dtype), nchunks)
        return state

    # ---- questions about a state --------------------------------------------------------------
    def prob_one(self, state: np.ndarray, q: int) -> float:
        return float(kernels.prob_one(state, q))

    def collapse(self, state: np.ndarray, q: int, outcome: int, prob: float) -> np.ndarray:
        kernels.collapse(state, q, outcome, self.dtype(1 / np.sqrt(prob)).real)
        return state

    def flip(self, state: np.ndarray, q: int) -> np.ndarray:
        kernels.flip(state, q)
        return state

    def probabilities(self, state: np.ndarray) -> np.ndarray:
        out = np.empty(state.size, dtype=np.float64)
        kernels.probabilities(state, out)
        return out

    def to_numpy(self, state: np.ndarray) -> np.ndarray:
        return state

    def copy(self, state: np.ndarray) -> np.ndarray:
        check_statevector_memory(state.size.bit_length() - 1, np.dtype(self.dtype).itemsize)
        return state.copy()

    def expectation(self, state: np.ndarray, obs: Observable) -> complex:
        total = 0j
        for term in obs.terms:
            x = z = ny = 0
            for q, p in term.ops:
                if p in "XY":
                    x |= 1 << q
                if p in "ZY":
                    z |= 1 << q
                ny += p == "Y"
            total += term.coeff * kernels.pauli_expectation(state, x, z, ny)
        return complex(total)

    def sample_indices(self, state: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
        total = float(kernels.norm2(state))
        u = np.sort(rng.random(shots)) * total
        out = np.empty(shots, dtype=np.int64)
        kernels.sample_sorted(state, u, out)
        # return in random order so per-shot memory is unbiased
        return rng.permutation(out)

