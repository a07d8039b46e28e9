"""Gate fusion with a cost model, and scheduling of fused blocks into cache tiles.

:func:`fuse` merges neighbouring gates greedily into blocks of at most ``max_qubits`` qubits: a gate
joins the latest block touching any of its qubits when the merged block is predicted to cost no more
than the two apart. Costs come from a :class:`CostModel` (seconds per amplitude for a dense or
diagonal block of k qubits, measured once per machine and cached on disk). A block of diagonal
gates stays diagonal: one multiply per amplitude whatever its width.

:func:`schedule` orders blocks (respecting dependencies) so that blocks whose qubits all lie below
the tile width run back to back; the engine applies each such run tile by tile while the tile sits
in cache.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

MAX_FUSED = 5  # kernels hold matrices up to 32×32


@dataclass
class Block:
    """A fused gate: ``qubits`` in operand order (operand j = bit j of the matrix index)."""

    qubits: list[int]
    matrix: np.ndarray  # dense d×d, or the diagonal (length d) when ``diagonal``
    diagonal: bool
    count: int = 1  # how many source gates it holds

    @property
    def k(self) -> int:
        return len(self.qubits)


def _is_diagonal(m: np.ndarray) -> bool:
    return not np.any(np.abs(m[_off_diagonal(m.shape[0])]) >= 1e-14)


@cache
def _off_diagonal(d: int) -> np.ndarray:
    return ~np.eye(d, dtype=bool)


@cache
def _embedding(pos: tuple[int, ...], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Index tables for :func:`_embed`: for every basis index of the ``k``-operand space, the
    index of the small matrix (its bits at ``pos``) and whether two indices agree elsewhere."""
    i = np.arange(1 << k)
    sub = np.zeros_like(i)
    for j, p in enumerate(pos):
        sub |= ((i >> p) & 1) << j
    mask = sum(1 << p for p in pos)
    rest = i & ~mask
    return sub, rest[:, None] == rest[None, :]


def _embed(m: np.ndarray, pos: Sequence[int], k: int) -> np.ndarray:
    """The ``2^k``-dimensional matrix of ``m`` acting on operand positions ``pos`` of ``k``."""
    sub, same = _embedding(tuple(pos), k)
    return np.where(same, m[sub[:, None], sub[None, :]], 0)


LOW_QUBITS = 3  # a block whose lowest qubit is below this has runs shorter than a SIMD vector
MID_QUBITS = 6  # lowest qubit LOW_QUBITS..MID_QUBITS-1: runs of 8-32 amplitudes (CostModel.mid)
LOW3 = [0, 1, 2]  # gates confined to these qubits are promoted to one 8×8 block shape


@dataclass
class CostModel:
    """Predicted nanoseconds per amplitude for applying a k-qubit block, dense or diagonal, with
    a separate table (``dense_low``) for dense blocks touching a qubit below :data:`LOW_QUBITS`,
    where the contiguous runs are too short to vectorize, and per-bit costs (``mid``) of a dense
    2-qubit block whose lowest qubit is 3, 4 or 5 (runs of 8-32 amplitudes, which vectorize
    partly: 1.2-3.7x a block on higher bits on a 2-core AVX2 machine); other widths there are
    scaled by ``dense[k] / dense[2]``. Dense blocks that will run inside a cache tile are priced
    from ``tiled`` (compute-bound there, not memory-bound as a full pass). (A diagonal runs the
    same kernel whichever qubits it touches.)"""

    dense: dict[int, float] = field(default_factory=dict)
    diag: dict[int, float] = field(default_factory=dict)
    dense_low: dict[int, float] = field(default_factory=dict)
    low3: float = 0.0  # a dense block on exactly qubits (0, 1, 2): its own kernel
    swap: float = 0.0  # a relabeling pass (six low bits swapped with high ones); 0: unmeasured
    mid: dict[int, float] = field(default_factory=dict)
    # dense blocks applied inside a cache tile (all qubits below ``tile_bits``), where the kernel
    # is compute-bound rather than memory-bound: the width that pays differs from a full pass
    tiled: dict[int, float] = field(default_factory=dict)
    tile_bits: int = 0  # set per plan by the backend; 0: price every block as a full pass

    def swap_cost(self) -> float:
        return self.swap or 2.0 * self.cost(1, False)

    def block_cost(self, qubits: Sequence[int], diagonal: bool) -> float:
        if not diagonal and list(qubits) == LOW3 and self.low3:
            return self.low3
        lo = min(qubits)
        k = len(qubits)
        if not diagonal and lo >= LOW_QUBITS and self.tiled and max(qubits) < self.tile_bits:
            base = self.tiled[k] if k in self.tiled else self.cost(k, False)
            if lo in self.mid and 2 in self.dense:
                base *= self.mid[lo] / self.dense[2]
            return base
        if not diagonal and lo in self.mid and 2 in self.dense:
            return self.cost(k, False) * self.mid[lo] / self.dense[2]
        return self.cost(k, diagonal, not diagonal and lo < LOW_QUBITS)

    def cost(self, k: int, diagonal: bool, low: bool = False) -> float:
        if low and not diagonal and self.dense_low:
            table = self.dense_low
        else:
            table = self.diag if diagonal else self.dense
        if k in table:
            return table[k]
        # extrapolate: dense work doubles per qubit, diagonal grows slowly
        top = max(table)
        return table[top] * ((2.0 ** (k - top)) if not diagonal else (1 + 0.1 * (k - top)))

    @classmethod
    def default(cls) -> CostModel:
        """A static model for when calibration is off: dense cost ~ memory pass + 2^k MACs."""
        dense = {k: 1.0 + 0.25 * (1 << k) for k in range(1, MAX_FUSED + 1)}
        diag = {k: 1.0 + 0.05 * k for k in range(1, MAX_FUSED + 1)}
        return cls(dense, diag, {k: 4 * v for k, v in dense.items()}, 2 * dense[3])


WINDOW = 8  # how many recent blocks a gate may join


def _merge(blk: Block, m: np.ndarray, qs: Sequence[int], diag: bool) -> None:
    union = list(blk.qubits) + [q for q in qs if q not in blk.qubits]
    k = len(union)
    pos = [union.index(q) for q in qs]
    if blk.diagonal and diag:
        # diagonals: entry i of the union is old[i's low bits] * new[i's bits at pos]
        sub, _ = _embedding(tuple(pos), k)
        low = np.arange(1 << k) & ((1 << blk.k) - 1)
        blk.matrix = blk.matrix[low] * np.diag(m)[sub]
    else:
        old_m = np.diag(blk.matrix) if blk.diagonal else blk.matrix
        # the block's operands are the union's first ones: its matrix is I ⊗ old
        grown = old_m if k == blk.k else np.kron(np.eye(1 << (k - blk.k)), old_m)
        blk.matrix = _embed(m, pos, k) @ grown
    blk.qubits = union
    blk.diagonal = blk.diagonal and diag
    blk.count += 1


def fuse(gates: Sequence[tuple[np.ndarray, tuple[int, ...]]], max_qubits: int,
         model: CostModel, promote_low: bool = False) -> list[Block]:
    """Fuse ``(matrix, qubits)`` gates into :class:`Block` s in a valid execution order.

    A gate may join any block at or after the last block that touched one of its qubits (it then
    runs at that block's place, which commutes with everything in between). Among the recent
    candidates it joins the one where the cost model predicts the largest saving, blocks that
    already share a qubit first; if no merge saves time it opens a new block.

    With ``promote_low`` (a state of at least 3 qubits and ``max_qubits`` ≥ 3), every gate confined
    to qubits 0-2 is first widened to an 8×8 gate on (0, 1, 2) (a diagonal stays diagonal), so all
    blocks confined to those qubits have that one shape, which has its own vectorized kernel.
    """
    blocks: list[Block] = []
    last: dict[int, int] = {}
    promote_low = promote_low and max_qubits >= len(LOW3)
    for m, qs in gates:
        m = np.asarray(m, dtype=np.complex128)
        diag = _is_diagonal(m)
        if promote_low and max(qs) < len(LOW3) and list(qs) != LOW3:
            m = _embed(m, list(qs), len(LOW3))
            qs = tuple(LOW3)
        earliest = max((last[q] for q in qs if q in last), default=-1)
        alone = model.block_cost(qs, diag)
        best, best_gain = -1, 0.0
        # the block that last touched one of the gate's qubits is always a candidate, however
        # many blocks on other qubits came after it; besides it, the WINDOW most recent ones
        cands = list(range(len(blocks) - 1, max(earliest, len(blocks) - WINDOW, 0) - 1, -1))
        if earliest >= 0 and (not cands or cands[-1] != earliest):
            cands.append(earliest)
        for b in cands:
            blk = blocks[b]
            union = set(blk.qubits) | set(qs)
            k = len(union)
            if k > max_qubits:
                continue
            gain = (model.block_cost(blk.qubits, blk.diagonal) + alone
                    - model.block_cost(list(union), blk.diagonal and diag))
            shares = k < blk.k + len(qs)
            gain += 1e-9 if shares else 0.0
            if gain >= 0 and (best < 0 or gain > best_gain):
                best, best_gain = b, gain
        if best >= 0:
            _merge(blocks[best], m, qs, diag)
            for q in qs:
                last[q] = best
            continue
        blocks.append(Block(list(qs), np.diag(m).copy() if diag else m.copy(), diag))
        for q in qs:
            last[q] = len(blocks) - 1
    return blocks


def dependencies(blocks: Sequence[Block]) -> tuple[list[int], list[list[int]]]:
    """The blocks' dependency graph: for each block the number of earlier blocks it must follow
    (the last earlier block on each of its qubits) and the list of blocks that follow it."""
    preds = [0] * len(blocks)
    succs: list[list[int]] = [[] for _ in blocks]
    last: dict[int, int] = {}
    for i, b in enumerate(blocks):
        deps = {last[q] for q in b.qubits if q in last}
        preds[i] = len(deps)
        for d in deps:
            succs[d].append(i)
        for q in b.qubits:
            last[q] = i
    return preds, succs


def schedule(blocks: Sequence[Block], tile_bits: int) -> list[list[Block]]:
    """Order blocks into runs: a run of "low" blocks (all qubits < ``tile_bits``) applied tile by
    tile, or a single "high" block. Dependencies (shared qubits) are respected."""
    n = len(blocks)
    preds, succs = dependencies(blocks)
    low = [max(b.qubits) < tile_bits for b in blocks]
    ready_low = [i for i in range(n) if preds[i] == 0 and low[i]]
    ready_high = [i for i in range(n) if preds[i] == 0 and not low[i]]
    runs: list[list[Block]] = []
    current: list[Block] = []

    def release(i: int) -> None:
        for s in succs[i]:
            preds[s] -= 1
            if preds[s] == 0:
                (ready_low if low[s] else ready_high).append(s)

    while ready_low or ready_high:
        if ready_low:
            ready_low.sort()
            i = ready_low.pop(0)
            current.append(blocks[i])
            release(i)
            continue
        if current:
            runs.append(current)
            current = []
        ready_high.sort()
        i = ready_high.pop(0)
        runs.append([blocks[i]])
        release(i)
    if current:
        runs.append(current)
    return runs


# ---- calibration -----------------------------------------------------------------------------------
_TABLES = ("dense", "diag", "dense_low", "mid", "tiled")
TILED_K = 3  # widths measured inside a tile; wider blocks are compute-bound anywhere
TILED_COPIES = 4  # blocks per timed tiled run


def _cache_path() -> Path:
    base = os.environ.get("QVALLEY_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "qvalley")
    return Path(base) / "fusion_cost.json"


CALIBRATION_ROUNDS = 7
# kernels slower than this (ns per amplitude, compute-bound: wide or low-bit blocks) are timed on
# the first 2^CALIBRATION_SMALL_BITS amplitudes, so calibration stays a few seconds on any machine
CALIBRATION_SLOW_NS = 3.0
CALIBRATION_SMALL_BITS = 20


def calibrate(precision: str, nbits: int = 23, threads: int | None = None,
              rounds: int = CALIBRATION_ROUNDS) -> CostModel:
    """Measure dense and diagonal block costs on this machine (a few seconds with compiled kernels).

    Every kernel is timed once per round, round-robin, and keeps its fastest round: a burst of
    load from other processes then slows one round of every kernel, not every round of one. At
    ``2^nbits`` amplitudes one call takes milliseconds, long against a scheduler time slice.
    Compute-bound kernels (slower than ``CALIBRATION_SLOW_NS`` on the warm-up call) are timed on
    ``2^CALIBRATION_SMALL_BITS`` amplitudes instead: their cost per amplitude does not depend on
    the state's size, and at 2^23 the widest ones took ~20 s in all on an AVX2 machine.
    """
    from . import kernels
    from .fast import TILE_BYTES, _pack_run, pack_block
    from .relabel import LANE, SwapPass

    dtype = np.complex64 if precision == "single" else np.complex128
    psi = np.zeros(1 << nbits, dtype=dtype)
    psi[0] = 1
    rng = np.random.default_rng(0)
    nchunks = 4 * (threads or os.cpu_count() or 1)
    small = min(nbits, CALIBRATION_SMALL_BITS)
    model = CostModel()
    cases: list[tuple[dict[int, float] | None, int, tuple[int, int, np.ndarray, np.ndarray,
                                                         np.ndarray]]] = []
    for low, diag in ((False, False), (False, True), (True, False)):
        table = {(False, False): model.dense, (False, True): model.diag,
                 (True, False): model.dense_low}[(low, diag)]
        for k in range(1, MAX_FUSED + 1):
            # high targets at or above the lane width, as the fused blocks mostly are
            qs = [int(q) for q in rng.choice(np.arange(6, small), size=k, replace=False)]
            if low:
                qs[0] = 0
            m = np.exp(1j * rng.uniform(0, 6, 1 << k)) if diag else np.eye(1 << k)
            cases.append((table, k, pack_block(Block(qs, m, diag), dtype)))
    cases.append((None, 3, pack_block(Block(list(LOW3), np.eye(8), False), dtype)))
    for lo in range(LOW_QUBITS, MID_QUBITS):
        cases.append((model.mid, lo, pack_block(Block([lo, small - 1], np.eye(4), False), dtype)))
    swap = SwapPass([(j, int(q)) for j, q in enumerate(rng.choice(np.arange(LANE, nbits),
                                                                   size=LANE,
                                                                   replace=False))]).tables()
    best = [float("inf")] * (len(cases) + 1)
    views = []
    part = psi[:1 << small]
    for _, _, args in cases:
        kernels.run_gate(part, *args, nchunks)  # compile
        t0 = time.perf_counter()
        kernels.run_gate(part, *args, nchunks)
        slow = (time.perf_counter() - t0) / part.size * 1e9 > CALIBRATION_SLOW_NS
        views.append(part if slow else psi)
    kernels.permute_local(psi, *swap)
    tb = min(nbits - 3, (TILE_BYTES // np.dtype(dtype).itemsize).bit_length() - 1)
    tiled = []
    for k in range(1, TILED_K + 1):
        qs = [int(q) for q in rng.choice(np.arange(6, tb), size=k, replace=False)]
        run = _pack_run([Block(qs, np.eye(1 << k), False)] * TILED_COPIES, dtype)
        kernels.run_tiled(psi, tb, *run)  # compile
        tiled.append(run)
    tbest = [float("inf")] * len(tiled)
    for _ in range(rounds):
        for i, run in enumerate(tiled):
            t0 = time.perf_counter()
            kernels.run_tiled(psi, tb, *run)
            tbest[i] = min(tbest[i], (time.perf_counter() - t0) / (TILED_COPIES * psi.size))
        for i, (_, _, args) in enumerate(cases):
            view = views[i]
            t0 = time.perf_counter()
            kernels.run_gate(view, *args, nchunks)
            best[i] = min(best[i], (time.perf_counter() - t0) / view.size)
        t0 = time.perf_counter()
        kernels.permute_local(psi, *swap)
        best[-1] = min(best[-1], time.perf_counter() - t0)
    for (tab, k, _), t in zip(cases, best):
        ns = t * 1e9
        if tab is None:
            model.low3 = ns
        else:
            tab[k] = ns
    model.swap = best[-1] / psi.size * 1e9
    model.tiled = {k: t * 1e9 for k, t in enumerate(tbest, start=1)}
    _sanitize(model)
    return model


def _sanitize(model: CostModel) -> None:
    """Make a measured model obey what must hold whatever the noise: a wider dense block costs at
    least a narrower one, and a block on bits 3-5 at least one on higher bits. (One noisy entry,
    say a 1-qubit block measured above a 2-qubit one, otherwise makes fusion merge everything.)"""
    for table in (model.dense, model.dense_low, model.tiled):
        top = 0.0
        for k in sorted(table):
            top = table[k] = max(table[k], top)
    if 2 in model.dense:
        for lo in model.mid:
            model.mid[lo] = max(model.mid[lo], model.dense[2])


def cost_model(precision: str) -> CostModel:
    """The machine's cost model, measured on first use and cached in ``~/.cache/qvalley``.

    Set ``QVALLEY_CALIBRATE=0`` to use a static model instead.
    """
    if os.environ.get("QVALLEY_CALIBRATE", "1") == "0":
        return CostModel.default()
    key = f"v10-{precision}-{os.cpu_count()}"
    path = _cache_path()
    try:
        data = json.loads(path.read_text())
        entry = data[key]
        dense, diag, dense_low, mid, tiled = ({int(k): float(v) for k, v in entry[t].items()}
                                              for t in _TABLES)
        return CostModel(dense, diag, dense_low, float(entry["low3"]), float(entry["swap"]), mid,
                         tiled)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    model = calibrate(precision)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        data[key] = {**{t: getattr(model, t) for t in _TABLES}, "low3": model.low3,
                     "swap": model.swap}
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home only costs a recalibration next time
    return model
