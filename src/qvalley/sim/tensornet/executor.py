"""Our contraction executor for a cotengra ``ContractionTree``.

Each pairwise contraction is one matrix product on reshaped operands. For every step the
contracted axes are ordered (by the larger operand's block) so that an operand whose contracted
axes already form a block at its start or end is used as a (possibly transposed) strided view,
with no copy; only operands whose contracted axes are scattered are copied (tiled numba permute,
large left operands chunk by chunk into the matmul), and a copied operand's kept axes are put in
the order that lets later steps avoid copies. Large-×-small steps that would copy the large
operand run as one strided pass (:mod:`.kernels`), and a final inner product that would copy
an operand reads it through the copy's tiles instead (``kernels.permute_dot``).
Intermediates live in one planned arena per contraction from a :class:`~.pool.BufferPool`. The
steps are compiled once per tree and reused for every slice and every bitstring; measurements in
docs/performance.md.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .network import TensorNetworkError, _eq
from .pool import DEFAULT_MIN_BYTES, BufferPool


@dataclass(frozen=True)
class _Step:
    left: int
    right: int
    parent: int
    # left operand: permutation (None: none needed), rows first?  same for right
    lperm: tuple[int, ...] | None
    ltrans: bool
    rperm: tuple[int, ...] | None
    rtrans: bool
    m: int
    k: int
    n: int
    shape: tuple[int, ...]
    flip: bool  # compute (B^T A^T) so the result is laid out keep_b + keep_a
    eq: str | None  # einsum fallback for hyper/batch indices
    small: _Small | None = None  # one-pass kernel for a large operand times a small one
    h: int = 0  # > 0: batched matmul over the leading batch index of size h (both operands)
    lcopy: tuple[np.ndarray, ...] | None = None  # permute_copy geometry of lperm (large operands)
    rcopy: tuple[np.ndarray, ...] | None = None
    # a large left operand transposed chunk by chunk, each chunk's rows multiplied at once:
    # (permute_copy geometry of one chunk, x offset of each chunk, rows per chunk)
    lchunk: tuple[tuple[np.ndarray, ...], np.ndarray, int] | None = None
    # > 0: the left operand's contracted axes are one block in its middle, (P, k, Q) with
    # P = lbat: one matmul per leading position, (n, k) @ (k, Q), the result laid out
    # (P, n, Q) (keep_b between the left operand's leading and trailing kept axes), no copy
    lbat: int = 0
    # a full contraction to a scalar (m = n = 1) where one large operand needs a transpose:
    # one pass of kernels.permute_dot over both operands, no copy (the copied side's geometry
    # in lcopy or rcopy)
    dot: bool = False


@dataclass(frozen=True)
class _Small:
    """Geometry of a :func:`~.kernels.small_contract` step (see that module)."""

    big_left: bool  # the large operand is the step's left one
    sperm: tuple[int, ...] | None  # small operand -> (contracted, kept) order
    k: int
    n: int
    kshape: np.ndarray
    kxs: np.ndarray
    kos: np.ndarray
    cx: np.ndarray
    co: np.ndarray
    eq: str  # the same step as an einsum with this output layout (other array backends)


# transposed copies of at least this many elements use the tiled permute_copy kernel
PERMUTE_MIN = 1 << 14
# a left operand of at least CHUNK_MIN elements that needs a transpose is transposed and
# multiplied in chunks of about CHUNK_ELEMS elements (the chunk stays in cache for its matmul)
CHUNK_MIN = 1 << 20
CHUNK_ELEMS = 1 << 18
# a chunk fixes only leading axes of at least this input stride (elements): fixing an axis of
# smaller stride makes every chunk read a fraction of each cache line (measured 2x slower copies)
CHUNK_STRIDE_MIN = 8
CHUNK_ROWS_MIN = 64  # fewer rows per chunk: one full copy instead
# a left operand of at least BATCH_MIN elements whose contracted axes are one block in its
# middle with at least BATCH_Q elements of kept axes after it runs as a batched matmul over
# its leading axes (no copy; see _Step.lbat)
BATCH_MIN = 1 << 18
BATCH_Q = 32

# a step runs as one strided pass (no transpose, no GEMM) when its small operand has at most
# SMALL_MAX elements and its large one at least BIG_MIN, the matmul form would have to copy the
# large operand, the pass reads and writes runs of at least SMALL_INNER consecutive elements and
# the small matrix has at most SMALL_KN entries (measured: docs/performance.md)
SMALL_MAX = 256
BIG_MIN = 1 << 12
SMALL_INNER = 16
SMALL_KN = 64


def _small_sizes(sa: int, sb: int) -> bool:
    """Whether operands of ``sa`` and ``sb`` elements are sized for a one-pass step."""
    return min(sa, sb) <= SMALL_MAX and max(sa, sb) >= BIG_MIN


def _strides(term: Sequence[str], size: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    acc = 1
    for ix in reversed(term):
        out[ix] = acc
        acc *= size[ix]
    return out


def _small_layout(big: tuple[str, ...], contracted: list[str], keep_small: list[str],
                  nxt: set[str] | None, lead: str | None = None) -> tuple[str, ...]:
    """Output layout of a one-pass step: the large operand's kept axes in their order with the
    small operand's kept axes in place of the first contracted axis; if the next step is a
    matmul, the axes it sums over are moved to the end (a free reordering here); the batch
    index ``lead`` goes first."""
    out: list[str] = []
    placed = False
    for ix in big:
        if ix in contracted:
            if not placed:
                out += keep_small
                placed = True
        else:
            out.append(ix)
    if not placed:
        out += keep_small
    if nxt:
        out = [i for i in out if i not in nxt] + [i for i in out if i in nxt]
    if lead is not None and lead in out:
        out = [lead] + [i for i in out if i != lead]
    return tuple(out)


def _plan_small(a: tuple[str, ...], b: tuple[str, ...], out: set[str], size: dict[str, int],
                nxt: set[str] | None,
                lead: str | None = None) -> tuple[_Small, tuple[str, ...]] | None:
    sa, sb = math.prod(size[i] for i in a), math.prod(size[i] for i in b)
    if not _small_sizes(sa, sb):
        return None
    big_left = sa >= sb
    big, sm = (a, b) if big_left else (b, a)
    contracted = [i for i in sm if i in big]
    if any(i in out for i in contracted) or any(i not in out for i in a + b if i not in contracted):
        return None  # hyper or batch indices: not a plain contraction
    keep_small = [i for i in sm if i not in contracted]
    keep_big = [i for i in big if i not in contracted]
    res = _small_layout(big, contracted, keep_small, nxt, lead)
    sx = _strides(big, size)
    so = _strides(res, size)
    kshape: list[int] = []
    kxs: list[int] = []
    kos: list[int] = []
    for ix in keep_big:  # merge neighbours that stay neighbours in the output
        if size[ix] == 1:
            continue
        if kshape and kxs[-1] == sx[ix] * size[ix] and kos[-1] == so[ix] * size[ix]:
            kshape[-1] *= size[ix]
            kxs[-1], kos[-1] = sx[ix], so[ix]
        else:
            kshape.append(size[ix])
            kxs.append(sx[ix])
            kos.append(so[ix])
    if not kshape:
        kshape, kxs, kos = [1], [0], [0]
    if kxs[-1] != 1 or kos[-1] != 1 or kshape[-1] < SMALL_INNER:
        return None  # strided or short inner runs: the kernel is slower than transpose + GEMM
    if math.prod(size[i] for i in contracted) * math.prod(size[i] for i in keep_small) > SMALL_KN:
        return None  # compute-bound: GEMM is faster
    from .kernels import offsets

    order = tuple(sm.index(i) for i in contracted + keep_small)
    sperm = None if order == tuple(range(len(sm))) else order
    eq = _eq(a, b, res)
    i64 = np.int64
    small = _Small(big_left, sperm, math.prod(size[i] for i in contracted),
                   math.prod(size[i] for i in keep_small), np.array(kshape, i64),
                   np.array(kxs, i64), np.array(kos, i64),
                   offsets([size[i] for i in contracted], [sx[i] for i in contracted]),
                   offsets([size[i] for i in keep_small], [so[i] for i in keep_small]), eq)
    return small, res


def _block(pos: list[int], ndim: int) -> str | None:
    s = sorted(pos)
    if not s:
        return "end"
    if s == list(range(len(s))):
        return "start"
    if s == list(range(ndim - len(s), ndim)):
        return "end"
    return None


class _Dot(NamedTuple):
    """A pairwise step planned as a matmul (the matmul fields of :class:`_Step`)."""

    lperm: tuple[int, ...] | None
    ltrans: bool
    rperm: tuple[int, ...] | None
    rtrans: bool
    m: int
    k: int
    n: int
    ptm: tuple[str, ...]  # the result's index layout
    flip: bool
    h: int
    lbat: int


def _plan_pair(a: tuple[str, ...], b: tuple[str, ...], out: set[str],
               size: dict[str, int], nxt: set[str] | None = None,
               lead: str | None = None, death: dict[str, int] | None = None,
               batch: bool = False) -> _Dot | None:
    """A pairwise step as one matmul, or (``lead`` in both operands and the output) one
    batched matmul over ``lead``; the result starts with ``lead`` where an operand has it
    first. ``None``: not a plain contraction (hyper or batch indices), an einsum step.

    ``death`` (index -> the step that sums it): an operand that has to be copied anyway gets
    its kept axes in the order that helps the next steps: the left one's soonest summed last,
    the right one's soonest summed first, so the result's axes summed next tend to meet in a
    block (no copy of the result there)."""
    h = 0
    if lead is not None and lead in a and lead in b and lead in out:
        # batched: strip the batch index, plan the rest, both operands (h, ., .) views
        h = size[lead]
        pa0 = None if a[0] == lead else (a.index(lead),) + tuple(j for j, i in enumerate(a) if i != lead)
        pb0 = None if b[0] == lead else (b.index(lead),) + tuple(j for j, i in enumerate(b) if i != lead)
        a, b = tuple(i for i in a if i != lead), tuple(i for i in b if i != lead)
    shared = [i for i in a if i in b]
    contracted = [i for i in shared if i not in out]
    if len(contracted) != len(shared) or any(i not in out for i in a + b if i not in shared):
        return None
    pa = [a.index(i) for i in contracted]
    pb = [b.index(i) for i in contracted]
    ba, bb = _block(pa, len(a)), _block(pb, len(b))
    if batch and not h and ba is None and pa:
        mid = _middle(a, pa, b, size)
        if mid is not None:
            return _plan_batched(a, b, mid, contracted, size, death)
    # the contracted axes in the order of the larger operand's block, so that it needs no copy
    if bb is not None and (ba is None or math.prod(size[i] for i in b) > math.prod(size[i] for i in a)):
        order = [b[p] for p in sorted(pb)]
    elif ba is not None:
        order = [a[p] for p in sorted(pa)]
    else:
        order = contracted
    keep_a = [i for i in a if i not in contracted]
    keep_b = [i for i in b if i not in contracted]

    def arrange(term: tuple[str, ...], keep: list[str], cfirst: bool) -> tuple[tuple[int, ...] | None, bool]:
        # want term laid out as keep+order (cfirst False) or order+keep (cfirst True), or transpose
        natural_end = tuple(keep) + tuple(order)
        natural_start = tuple(order) + tuple(keep)
        if term == (natural_start if cfirst else natural_end):
            return None, False
        if term == (natural_end if cfirst else natural_start):
            return None, True
        if death is not None and lead is None:  # copied anyway: kept axes in the best order
            never = len(death) + 1
            keep[:] = sorted(keep, key=lambda i: death.get(i, never), reverse=not cfirst)
            natural_end = tuple(keep) + tuple(order)
            natural_start = tuple(order) + tuple(keep)
        target = natural_start if cfirst else natural_end
        return tuple(term.index(i) for i in target), False

    lperm, ltrans = arrange(a, keep_a, False)   # A as (m, k)
    rperm, rtrans = arrange(b, keep_b, True)    # B as (k, n)
    m = math.prod(size[i] for i in keep_a)
    k = math.prod(size[i] for i in order)
    n = math.prod(size[i] for i in keep_b)
    # lay the result out so that the indices its own next contraction sums over form a block
    flip = False
    if lead is not None and not h and (lead in keep_a or lead in keep_b):
        flip = lead in keep_b  # the batch index's operand first (it leads there if anywhere)
    elif nxt:
        first = tuple(keep_a + keep_b)
        if _block([first.index(i) for i in nxt if i in first], len(first)) is None:
            second = tuple(keep_b + keep_a)
            flip = _block([second.index(i) for i in nxt if i in second], len(second)) is not None
    ptm = tuple(keep_b + keep_a) if flip else tuple(keep_a + keep_b)
    if h:
        assert lead is not None
        # fold the batch-index move into the operand permutation (lead first, then the rest)
        lperm = _compose(pa0, lperm)
        rperm = _compose(pb0, rperm)
        ptm = (lead,) + ptm
    return _Dot(lperm, ltrans, rperm, rtrans, m, k, n, ptm, flip, h, 0)


def _middle(a: tuple[str, ...], pa: list[int], b: tuple[str, ...],
            size: dict[str, int]) -> int | None:
    """Where the contracted axes (positions ``pa``) of a large left operand ``a`` are one
    block strictly inside it with at least ``BATCH_Q`` kept elements after it: the block's
    first position (``None`` otherwise)."""
    s = sorted(pa)
    if s != list(range(s[0], s[0] + len(s))) or s[0] == 0 or s[-1] == len(a) - 1:
        return None
    na, nb = math.prod(size[i] for i in a), math.prod(size[i] for i in b)
    if na < BATCH_MIN or na < nb or math.prod(size[i] for i in a[s[-1] + 1:]) < BATCH_Q:
        return None
    return s[0]


def _plan_batched(a: tuple[str, ...], b: tuple[str, ...], s0: int, contracted: list[str],
                  size: dict[str, int], death: dict[str, int] | None) -> _Dot:
    """The left operand as (P, k, Q) views (its contracted block starts at ``s0``): the
    result is (P, n, Q); the right operand copied to (k, n) if it needs to be."""
    nc = len(contracted)
    order = list(a[s0:s0 + nc])
    keep_b = [i for i in b if i not in contracted]
    if tuple(b) == tuple(order + keep_b):
        rperm, rtrans = None, False
    elif tuple(b) == tuple(keep_b + order):
        rperm, rtrans = None, True
    else:
        if death is not None:
            never = len(death) + 1
            keep_b.sort(key=lambda i: death.get(i, never))
        rperm, rtrans = tuple(b.index(i) for i in order + keep_b), False
    p = math.prod(size[i] for i in a[:s0])
    m = p * math.prod(size[i] for i in a[s0 + nc:])
    k = math.prod(size[i] for i in order)
    n = math.prod(size[i] for i in keep_b)
    ptm = tuple(a[:s0]) + tuple(keep_b) + tuple(a[s0 + nc:])
    return _Dot(None, False, rperm, rtrans, m, k, n, ptm, False, 0, p)


def _compose(first: tuple[int, ...] | None, rest: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """One transpose for "batch axis to the front" (``first``) then ``rest`` on the other axes."""
    if first is None and rest is None:
        return None
    base = first if first is not None else tuple(range(1 + len(rest or ())))
    tail = base[1:]
    return (base[0],) + (tuple(tail[j] for j in rest) if rest is not None else tail)


class Executor:
    """Contract the arrays of a tree's inputs along that tree, slice by slice.

    Args:
        tree: a cotengra ``ContractionTree`` (sliced or not).
        variable: per input, whether its array changes between calls (for caching).
        small_kernel: run steps of a large operand with a small one as one strided pass
            (:mod:`.kernels`) instead of transpose + matmul.
        lead: a batch index (in the output and in several inputs): steps where both operands
            carry it are batched matmuls, and intermediates keep it as their first axis.
        pool: write intermediates of at least ``pool_min_bytes`` (and transposed copies) into
            reused buffers of a :class:`~.pool.BufferPool` instead of fresh memory (numpy
            arrays only). The buffers stay allocated between calls (the next slice and call
            reuse them) until :meth:`release_buffers`; set ``pooling = False`` to turn it off.
        pool_min_bytes: smallest intermediate taken from the pool.
        reorder: where a step copies an operand anyway, order its kept axes by the step that
            sums them (see :func:`_plan_pair`), so later steps copy less.
        arena: with pooling, place the pooled intermediates of one contraction at offsets
            planned before it runs (:meth:`_arena_plan`) in one buffer from the pool, about the
            size of the most memory live at once (less fresh memory to fault in on the first
            call than buffer-by-buffer best fit).
        chunked: transpose a large left operand and multiply it chunk by chunk (each chunk
            of about ``CHUNK_ELEMS`` elements while it is in cache) instead of one full copy.
        batched: a large left operand whose contracted axes are one block in its middle is
            read as (P, k, Q) views, one matmul per leading position, and the result is laid
            out (P, n, Q) (:attr:`_Step.lbat`) instead of copying the operand.
    """

    def __init__(self, tree: Any, variable: Sequence[bool] | None = None,
                 small_kernel: bool = True, lead: str | None = None, pool: bool = True,
                 pool_min_bytes: int = DEFAULT_MIN_BYTES, reorder: bool = True,
                 arena: bool = True, chunked: bool = True, batched: bool = True) -> None:
        self.tree = tree
        self.pooling = pool
        self.pool = BufferPool(pool_min_bytes)
        self.arena = arena
        self._arena_plans: dict[tuple[int, frozenset[int] | None], _ArenaPlan] = {}
        self.arena_misses = 0  # calls that left their arena plan (fresh memory from there on)
        sliced = set(tree.sliced_inds)
        self.sliced = tuple(tree.sliced_inds)
        self.nslices = int(tree.nslices)
        inputs = [tuple(i for i in term if i not in sliced) for term in tree.inputs]
        self.inputs = inputs
        size = dict(tree.size_dict)
        self.size = size
        ninp = len(inputs)
        self.output = tuple(i for i in tree.output if i not in sliced)
        self.full_output = tuple(tree.output)
        self.out_sliced = tuple(i for i in tree.output if i in sliced)
        slot: dict[Any, int] = {}
        for leaf_i in range(ninp):
            slot[tree.input_to_node(leaf_i)] = leaf_i
        terms: dict[int, tuple[str, ...]] = dict(enumerate(inputs))
        var = {i: bool(variable[i]) if variable is not None else True for i in range(ninp)}
        hasslice = {i: any(ix in sliced for ix in tree.inputs[i]) for i in range(ninp)}
        steps: list[_Step] = []
        self.prereduce: dict[int, tuple[str, tuple[str, ...]]] = {}
        nxt = ninp
        if tree.N == 1:
            self.root = 0
        order = list(tree.traverse())
        summed_next: dict[Any, set[str]] = {}

        death: dict[str, int] = {}  # index -> the step that sums it
        for t, (p, lft, r) in enumerate(order):
            pout = set(tree.get_inds(p))
            common = (set(tree.get_inds(lft)) & set(tree.get_inds(r))) - pout - sliced
            summed_next[lft] = summed_next[r] = common
            for ix in common:
                death[ix] = t
        for p, lft, r in order:
            li, ri = slot[lft], slot[r]
            out = set(i for i in tree.get_inds(p) if i not in sliced)
            a, b = terms[li], terms[ri]
            plan = _plan_pair(a, b, out, size, summed_next.get(p), lead,
                              death if reorder else None, batched)
            sm = None
            if small_kernel and plan is not None and not plan.h:
                sa, sb = math.prod(size[i] for i in a), math.prod(size[i] for i in b)
                if _small_sizes(sa, sb) and (plan.lperm if sa >= sb else plan.rperm) is not None:
                    sm = _plan_small(a, b, out, size, summed_next.get(p), lead)
            if sm is not None:
                steps.append(_Step(li, ri, nxt, None, False, None, False, 0, 0, 0,
                                   tuple(size[i] for i in sm[1]), False, None, sm[0]))
                terms[nxt] = sm[1]
            elif plan is None:
                ptm = tuple(i for i in tree.get_inds(p) if i not in sliced)
                steps.append(_Step(li, ri, nxt, None, False, None, False, 0, 0, 0, (), False,
                                   _eq(a, b, ptm)))
                terms[nxt] = ptm
            else:
                lp, rp, ptm = plan.lperm, plan.rperm, plan.ptm
                lcopy, rcopy = _copy_plan(a, lp, size), _copy_plan(b, rp, size)
                # (a copy geometry implies a large operand; the other one is then laid out
                # in the contracted order already)
                dot = (plan.m == plan.n == 1 and not plan.h and not plan.lbat
                       and (lcopy is None) != (rcopy is None) and (lp is None) != (rp is None))
                steps.append(_Step(li, ri, nxt, lp, plan.ltrans, rp, plan.rtrans, plan.m,
                                   plan.k, plan.n, tuple(size[i] for i in ptm), plan.flip, None,
                                   None, plan.h, lcopy, rcopy,
                                   (_chunk_plan(a, lp, plan.k, size)
                                    if chunked and not plan.h and not dot else None), plan.lbat,
                                   dot))
                terms[nxt] = ptm
            var[nxt] = var[li] or var[ri]
            hasslice[nxt] = hasslice[li] or hasslice[ri]
            slot[p] = nxt
            self.root = nxt
            nxt += 1
        self.steps = steps
        self.terms = terms  # node -> its index layout (inputs and intermediates)
        self.const = {s.parent for s in steps if not var[s.parent] and not hasslice[s.parent]}
        root_term = terms[self.root]
        self.final_perm = tuple(root_term.index(i) for i in self.output)
        self.cache: dict[int, Any] = {}

    # -- one slice ------------------------------------------------------------------------
    def slice_arrays(self, arrays: Sequence[Any], i: int) -> list[Any]:
        """The input arrays of slice ``i`` (sliced indices fixed)."""
        if not self.sliced:
            return list(arrays)
        loc = self.tree.slice_key(i)
        out = []
        for term, arr in zip(self.tree.inputs, arrays, strict=True):
            if any(ix in loc for ix in term):
                arr = arr[tuple(loc.get(ix, slice(None)) for ix in term)]
            out.append(arr)
        return out

    def _arena_plan(self, itemsize: int, cached: frozenset[int] | None) -> _ArenaPlan:
        """Offsets of the pooled buffers of one :meth:`contract_core` call (elements of
        ``itemsize`` bytes; ``cached``: the cached subtree results, ``None`` without the cache)
        in one arena. The take/give events are those :meth:`contract_core` makes (checked
        while it runs, see :class:`_Arena`); buffers are placed largest first at the lowest
        offset free for their whole lifetime."""
        key = (itemsize, cached)
        plan = self._arena_plans.get(key)
        if plan is not None:
            return plan
        mb = self.pool.min_bytes
        nsize = {i: math.prod(self.size[x] for x in t) for i, t in enumerate(self.inputs)}
        events: list[tuple[bool, Any, int]] = []  # (take?, key, bytes)
        own: set[int] = set()

        def take(k: Any, n: int) -> bool:
            if n == 0 or n * itemsize < mb:
                return False
            events.append((True, k, n * itemsize))
            return True

        for j, s in enumerate(self.steps):
            nsize[s.parent] = math.prod(s.shape)
            if cached is not None and s.parent in cached:
                for node in (s.left, s.right):
                    if node in own:
                        own.remove(node)
                        events.append((False, node, 0))
                continue
            keep = s.parent == self.root or (cached is not None and s.parent in self.const)
            got = False
            tmps = []
            if s.small is not None:
                got = not keep and take(s.parent, nsize[s.parent])
            elif s.dot:
                pass  # no temporaries; the scalar result is not pooled
            elif s.eq is None:
                nl = s.lchunk[2] * s.k if s.lchunk is not None else nsize[s.left]
                if s.lperm is not None and take(("t", j, 0), nl):
                    tmps.append(("t", j, 0))
                if s.rperm is not None and take(("t", j, 1), nsize[s.right]):
                    tmps.append(("t", j, 1))
                got = not keep and take(s.parent, nsize[s.parent])
            events += [(False, t, 0) for t in tmps]
            for node in (s.left, s.right):
                if node in own:
                    own.remove(node)
                    events.append((False, node, 0))
            if got:
                own.add(s.parent)
        life: dict[Any, list[int]] = {}
        for t, (is_take, k, nb) in enumerate(events):
            if is_take:
                life[k] = [t, len(events), nb]
            else:
                life[k][1] = t
        placed: list[tuple[int, int, int, int]] = []  # (offset, end, first, last event)
        offsets: dict[Any, int] = {}
        for k, (t0, t1, nb) in sorted(life.items(), key=lambda kv: (-kv[1][2], kv[1][0])):
            off = 0
            for o, e, _, _ in sorted(p for p in placed if p[2] < t1 and t0 < p[3]):
                if off + nb <= o:
                    break
                off = max(off, -(-e // ARENA_ALIGN) * ARENA_ALIGN)
            placed.append((off, off + nb, t0, t1))
            offsets[k] = off
        plan = _ArenaPlan(events, offsets, max((p[1] for p in placed), default=0))
        self._arena_plans[key] = plan
        return plan

    def release_buffers(self) -> None:
        """Free the pooled buffers kept for the next contraction (they are made again on
        demand)."""
        self.pool.release()

    def contract_core(self, arrays: Sequence[Any], xp: Any = np, use_cache: bool = False,
                      timings: list[float] | None = None) -> Any:
        """Contract one (already sliced) set of input arrays; returns the output tensor.

        With pooling, intermediates live in buffers of :attr:`pool` and go back to it once the
        step that consumes them has run; input arrays, cached subtree results and the returned
        result are never pooled buffers (the caller owns the result). ``timings``, if given,
        gets the wall time of each step appended (in step order; a profiling aid)."""
        buf: dict[int, Any] = dict(enumerate(arrays))
        cache = self.cache if use_cache else None
        pool: BufferPool | _Arena | None = self.pool if self.pooling and xp is np else None
        arena: _Arena | None = None
        if pool is not None and self.arena and arrays:
            itemsize = np.result_type(*arrays).itemsize
            plan = self._arena_plan(itemsize, frozenset(cache) if cache is not None else None)
            if plan.nbytes:
                arena = pool = _Arena(plan, self.pool.take(plan.nbytes, np.uint8), self.pool.min_bytes)
        own: dict[int, np.ndarray] = {}  # node -> the pool buffer its array lives in

        def free(node: int) -> None:
            ob = own.pop(node, None)
            if ob is not None:
                pool.give(ob)  # type: ignore[union-attr]

        clock = time.perf_counter
        for s in self.steps:
            t0 = clock() if timings is not None else 0.0
            if cache is not None and s.parent in cache:
                buf[s.parent] = cache[s.parent]
                buf.pop(s.left, None)
                buf.pop(s.right, None)
                free(s.left)
                free(s.right)
                if timings is not None:
                    timings.append(clock() - t0)
                continue
            a = buf.pop(s.left)
            b = buf.pop(s.right)
            # the result goes into a pool buffer unless it outlives the call (root, cache)
            keep = s.parent == self.root or (cache is not None and s.parent in self.const)
            opool = None if keep else pool
            tmps: list[np.ndarray] = []
            ob: np.ndarray | None = None
            if s.small is not None:
                c, ob = _run_small(s.small, a, b, s.shape, xp, opool)
            elif s.eq is not None:
                c = xp.einsum(s.eq, a, b)
                if any(node in own and np.may_share_memory(c, own[node]) for node in (s.left, s.right)):
                    c = c.copy()  # a view of an operand's pool buffer, which goes back below
            elif s.dot and xp is np and a.flags.c_contiguous and b.flags.c_contiguous:
                c = _dot(s, a, b)
            elif s.lchunk is not None and xp is np and a.flags.c_contiguous:
                dt = np.result_type(a, b)
                chunk = _take(pool, s.lchunk[2] * s.k, dt)  # (taken first, as planned)
                if chunk is None:
                    chunk = np.empty(s.lchunk[2] * s.k, dt)
                else:
                    tmps.append(chunk)
                if s.rperm is not None:
                    b = _transposed(b, s.rperm, xp, pool, tmps, s.rcopy)
                c, ob = _chunked(s, a, b, chunk, opool)
            elif s.lbat:
                if s.rperm is not None:
                    b = _transposed(b, s.rperm, xp, pool, tmps, s.rcopy)
                c, ob = _batched(s, a, b, xp, opool)
            else:
                if s.lperm is not None:
                    a = _transposed(a, s.lperm, xp, pool, tmps, s.lcopy)
                if s.rperm is not None:
                    b = _transposed(b, s.rperm, xp, pool, tmps, s.rcopy)
                if s.h:  # batched over the leading batch index: (h, m, k) @ (h, k, n)
                    a2 = (a.reshape(s.h, s.k, s.m).swapaxes(1, 2) if s.ltrans
                          else a.reshape(s.h, s.m, s.k))
                    b2 = (b.reshape(s.h, s.n, s.k).swapaxes(1, 2) if s.rtrans
                          else b.reshape(s.h, s.k, s.n))
                    x1, x2 = (b2.swapaxes(1, 2), a2.swapaxes(1, 2)) if s.flip else (a2, b2)
                else:
                    a2 = a.reshape(s.k, s.m).T if s.ltrans else a.reshape(s.m, s.k)
                    b2 = b.reshape(s.n, s.k).T if s.rtrans else b.reshape(s.k, s.n)
                    x1, x2 = (b2.T, a2.T) if s.flip else (a2, b2)
                oshape = x1.shape[:-1] + x2.shape[-1:]
                ob = _take(opool, math.prod(oshape), np.result_type(x1, x2))
                if ob is None:
                    c = xp.matmul(x1, x2).reshape(s.shape)
                else:
                    c = np.matmul(x1, x2, out=ob.reshape(oshape)).reshape(s.shape)
            del a, b
            for t in tmps:
                pool.give(t)  # type: ignore[union-attr]
            free(s.left)
            free(s.right)
            if ob is not None:
                own[s.parent] = ob
            if cache is not None and s.parent in self.const:
                cache[s.parent] = c
            buf[s.parent] = c
            if timings is not None:
                timings.append(clock() - t0)
        if arena is not None:
            if not arena.ok or arena.i != len(arena.plan.events):
                self.arena_misses += 1
            if arena.buf is not None:
                self.pool.give(arena.buf)
        res = buf[self.root]
        if self.final_perm != tuple(range(len(self.final_perm))):
            res = res.transpose(self.final_perm)
        return res

    def contract_slices(self, arrays: Sequence[Any], indices: Sequence[int], xp: Any = np,
                        use_cache: bool = False) -> list[Any]:
        return [self.contract_core(self.slice_arrays(arrays, i), xp, use_cache) for i in indices]


ARENA_ALIGN = 4096  # byte alignment of the buffers in an arena


@dataclass(frozen=True)
class _ArenaPlan:
    events: list[tuple[bool, Any, int]]  # (take?, buffer key, bytes) in call order
    offsets: dict[Any, int]  # buffer key -> byte offset in the arena
    nbytes: int  # arena size


class _Arena:
    """The pool of one contraction: buffers at planned offsets of one arena, lent while the
    calls follow the plan's events; at the first call that does not (another size, another
    order of gives) it stops lending from the arena (fresh memory for the rest of the call),
    so no two live buffers ever share memory."""

    def __init__(self, plan: _ArenaPlan, buf: np.ndarray | None, min_bytes: int) -> None:
        self.plan = plan
        self.buf = buf
        self.min_bytes = min_bytes
        self.i = 0
        self.ok = buf is not None
        self.keys: dict[int, Any] = {}

    def take(self, n: int, dtype: Any) -> np.ndarray | None:
        dt = np.dtype(dtype)
        need = int(n) * dt.itemsize
        if need < self.min_bytes or n == 0:
            return None
        ev = self.plan.events
        if self.ok and self.i < len(ev) and ev[self.i][0] and ev[self.i][2] == need:
            k = ev[self.i][1]
            self.i += 1
            off = self.plan.offsets[k]
            a = self.buf[off:off + need].view(dt)  # type: ignore[index]
            self.keys[id(a)] = k
            return a
        self.ok = False
        return np.empty(n, dtype=dt)

    def give(self, a: np.ndarray) -> None:
        k = self.keys.pop(id(a), None)
        if not self.ok or k is None:
            return
        ev = self.plan.events
        if self.i < len(ev) and not ev[self.i][0] and ev[self.i][1] == k:
            self.i += 1
        else:
            self.ok = False


def _take(pool: BufferPool | _Arena | None, n: int, dt: Any) -> np.ndarray | None:
    return None if pool is None else pool.take(n, dt)


def _copy_plan(term: tuple[str, ...], perm: tuple[int, ...] | None,
               size: dict[str, int]) -> tuple[np.ndarray, ...] | None:
    """:func:`~.kernels.permute_plan` for transposing an operand of ``term`` by ``perm``
    (``None`` for no or small transposes)."""
    shape = tuple(size[i] for i in term)
    if perm is None or math.prod(shape) < PERMUTE_MIN:
        return None
    from .kernels import permute_plan

    return permute_plan(shape, perm)


def _chunk_plan(term: tuple[str, ...], perm: tuple[int, ...] | None, k: int,
                size: dict[str, int]) -> tuple[tuple[np.ndarray, ...], np.ndarray, int] | None:
    """Chunks of the transposed left operand (``term`` by ``perm``, rows first, ``k``
    columns): the leading axes of the transposed layout are fixed per chunk, as few as leave
    at most ``CHUNK_ELEMS`` elements but only axes of input stride ``CHUNK_STRIDE_MIN`` or
    more (``None`` for small operands or one chunk: one full copy)."""
    shape = tuple(size[i] for i in term)
    total = math.prod(shape)
    if perm is None or total < CHUNK_MIN:
        return None
    xs = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        xs[d] = xs[d + 1] * shape[d + 1]
    sizes = [shape[p] for p in perm]
    strides = [xs[p] for p in perm]
    q, rest = 0, total
    while (rest > max(CHUNK_ELEMS, k) and rest // sizes[q] >= k and q < len(sizes) - 1
           and strides[q] >= CHUNK_STRIDE_MIN):
        rest //= sizes[q]
        q += 1
    if q == 0 or rest % k or rest // k < CHUNK_ROWS_MIN:
        return None
    from .kernels import offsets, strided_plan

    return strided_plan(sizes[q:], strides[q:]), offsets(sizes[:q], strides[:q]), rest // k


def _chunked(s: _Step, a: np.ndarray, b: np.ndarray, chunk: np.ndarray,
             opool: BufferPool | _Arena | None) -> tuple[np.ndarray, Any]:
    """A matmul step whose left operand is transposed chunk by chunk (:attr:`_Step.lchunk`)
    through ``chunk`` (``rows * k`` elements)."""
    from .kernels import permute_copy

    assert s.lchunk is not None
    geom, bases, rows = s.lchunk
    dt = chunk.dtype
    b2 = b.reshape(s.n, s.k).T if s.rtrans else b.reshape(s.k, s.n)
    ob = _take(opool, s.m * s.n, dt)
    flat = np.empty(s.m * s.n, dt) if ob is None else ob
    xa = a.reshape(-1)
    a_c = chunk.reshape(rows, s.k)
    out = flat.reshape(s.n, s.m) if s.flip else flat.reshape(s.m, s.n)
    bt = b2.T
    for ci in range(bases.size):
        permute_copy(xa[int(bases[ci]):], chunk, *geom)
        r0 = ci * rows
        if s.flip:
            np.matmul(bt, a_c.T, out=out[:, r0:r0 + rows])
        else:
            np.matmul(a_c, b2, out=out[r0:r0 + rows])
    return flat.reshape(s.shape), ob


def _dot(s: _Step, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A scalar step (:attr:`_Step.dot`): the inner product of the operand that needs a
    transpose (read through its copy geometry) with the other one, in one pass."""
    from .kernels import permute_dot

    x, y, geom = (a, b, s.lcopy) if s.lcopy is not None else (b, a, s.rcopy)
    assert geom is not None
    val = permute_dot(x.reshape(-1), y.reshape(-1), *geom)
    return np.array(val, dtype=np.result_type(a, b)).reshape(s.shape)


def _batched(s: _Step, a: Any, b: Any, xp: Any,
             opool: BufferPool | _Arena | None) -> tuple[Any, np.ndarray | None]:
    """A step with a (P, k, Q) left operand (:attr:`_Step.lbat`): ``(n, k) @ (k, Q)`` for
    each of the P leading positions, the result (P, n, Q)."""
    p = s.lbat
    q = s.m // p
    a3 = a.reshape(p, s.k, q)
    bt = b.reshape(s.n, s.k) if s.rtrans else b.reshape(s.k, s.n).T
    ob = _take(opool, s.m * s.n, np.result_type(a3, bt)) if xp is np else None
    if ob is None:
        return xp.matmul(bt, a3).reshape(s.shape), None
    return np.matmul(bt, a3, out=ob.reshape(p, s.n, q)).reshape(s.shape), ob


def _transposed(a: Any, perm: tuple[int, ...], xp: Any, pool: BufferPool | _Arena | None,
                tmps: list[np.ndarray], geom: tuple[np.ndarray, ...] | None = None) -> Any:
    """``a.transpose(perm)`` as a C-contiguous copy (into a pool buffer, listed in ``tmps``);
    with ``geom`` and a C-contiguous numpy ``a`` by :func:`~.kernels.permute_copy`."""
    at = a.transpose(perm)
    t = _take(pool, at.size, at.dtype)
    fast = geom is not None and xp is np and a.flags.c_contiguous
    if t is None:
        if not fast:
            return xp.ascontiguousarray(at)
        t = np.empty(at.size, at.dtype)
    else:
        tmps.append(t)
    out = t.reshape(at.shape)
    if fast:
        from .kernels import permute_copy

        permute_copy(a.reshape(-1), t, *geom)  # type: ignore[misc]
    else:
        np.copyto(out, at)
    return out


def _run_small(g: _Small, a: Any, b: Any, shape: tuple[int, ...], xp: Any,
               pool: BufferPool | _Arena | None = None) -> tuple[Any, np.ndarray | None]:
    """One-pass step; returns the result and the pool buffer it lives in (or ``None``)."""
    if xp is not np:
        return xp.einsum(g.eq, a, b), None
    x, sm = (a, b) if g.big_left else (b, a)
    dt = np.result_type(x.dtype, sm.dtype)
    x = np.ascontiguousarray(x, dtype=dt)
    if g.sperm is not None:
        sm = sm.transpose(g.sperm)
    mat = np.ascontiguousarray(sm, dtype=dt).reshape(g.k, g.n)
    total = math.prod(shape)
    ob = _take(pool, total, dt)
    out = np.empty(total, dtype=dt) if ob is None else ob
    from .kernels import small_contract, small_contract_tiled, tiled_applies

    kern = small_contract_tiled if tiled_applies(g.kshape, g.kxs, g.kos, dt) else small_contract
    kern(x.reshape(-1), out, g.kshape, g.kxs, g.kos, g.cx, g.co, mat)
    return out.reshape(shape), ob


def pairwise_sum(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Sum in a balanced binary tree (error grows with log of the count, order fixed)."""
    parts = list(parts)
    if not parts:
        raise TensorNetworkError("nothing to sum")
    while len(parts) > 1:
        parts = [parts[i] + parts[i + 1] if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    return parts[0]


class _Progress:
    def __init__(self, total: int, enabled: bool | None) -> None:
        self.total = total
        self.done = 0
        self.on = sys.stderr.isatty() if enabled is None else enabled
        self.t0 = time.perf_counter()

    def update(self, k: int = 1) -> None:
        self.done += k
        if self.on:
            frac = self.done / max(self.total, 1)
            bar = "#" * int(30 * frac)
            sys.stderr.write(f"\rslices [{bar:<30}] {self.done}/{self.total} "
                             f"{time.perf_counter() - self.t0:.1f}s")
            if self.done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def _load_checkpoint(path: Path, key: str) -> dict[int, np.ndarray]:
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                raise TensorNetworkError(f"checkpoint {path} belongs to another contraction; "
                                         "delete it or choose another file")
            return {int(i): z[f"s{int(i)}"] for i in z["done"]}
    except (OSError, KeyError, ValueError) as exc:
        raise TensorNetworkError(f"checkpoint {path} is unreadable: {exc}") from None


def _save_checkpoint(path: Path, key: str, done: dict[int, np.ndarray]) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    payload: dict[str, Any] = {f"s{i}": v for i, v in done.items()}
    payload["key"] = np.array(key)
    payload["done"] = np.array(sorted(done), dtype=np.int64)
    np.savez(tmp, **payload)
    os.replace(tmp, path)


def _dask_slices(ex: Executor, arrays: list[np.ndarray], indices: list[int]) -> list[np.ndarray]:
    return ex.contract_slices(arrays, indices)


def contract(ex: Executor, arrays: Sequence[np.ndarray], *, threads: int | None = None,
             cluster: Any = None, checkpoint: str | Path | None = None, key: str = "",
             progress: bool | None = None, backend: str = "numpy", use_cache: bool = False,
             chunk: int | None = None,
             on_slice: Callable[[int], None] | None = None) -> np.ndarray:
    """Sum of all slices of the contraction, computed locally (threads), on Dask, or on a GPU.

    ``cluster`` is a ``distributed.Client``, an address ``"tcp://host:8786"`` or ``"local"``.
    Finished slice results are written to ``checkpoint`` (temp file + rename) every few seconds
    and picked up again when the same contraction (same ``key``) is resumed. Slice results are
    summed pairwise in slice order, so the result does not depend on scheduling.
    """
    arrays = list(arrays)
    nsl = ex.nslices
    ck = Path(checkpoint) if checkpoint is not None else None
    done: dict[int, np.ndarray] = _load_checkpoint(ck, key) if ck is not None else {}
    todo = [i for i in range(nsl) if i not in done]
    bar = _Progress(nsl, progress)
    bar.update(len(done)) if done else None
    last = time.perf_counter()

    def record(i: int, r: np.ndarray) -> None:
        nonlocal last
        done[i] = np.asarray(r)
        bar.update()
        if on_slice is not None:
            on_slice(i)
        if ck is not None and time.perf_counter() - last > 2.0:
            _save_checkpoint(ck, key, done)
            last = time.perf_counter()

    if backend != "numpy":
        xp = _gpu_module(backend)
        dev = [xp.asarray(a) for a in arrays]
        for i in todo:
            r = ex.contract_core(ex.slice_arrays(dev, i), xp)
            record(i, r.get() if hasattr(r, "get") else r.cpu().numpy())
    elif cluster is not None:
        client, own = _client(cluster)
        try:
            # one copy of the arrays and the compiled executor per worker, shared by all tasks
            fut_arrays = client.scatter(arrays, broadcast=True, hash=False)
            fut_ex = client.scatter([ex], broadcast=True, hash=False)[0]
            size = chunk or max(1, len(todo) // (8 * max(1, len(client.ncores()))))
            groups = [todo[j:j + size] for j in range(0, len(todo), size)]
            futs = {client.submit(_dask_slices, fut_ex, fut_arrays, g, pure=False): g for g in groups}
            from distributed import as_completed

            for f in as_completed(list(futs)):
                for i, r in zip(futs[f], f.result(), strict=True):
                    record(i, r)
        finally:
            if own:
                client.close()
                cl = getattr(client, "_qvalley_cluster", None)
                if cl is not None:
                    cl.close()
    else:
        nthreads = threads or 1
        if nthreads <= 1 or len(todo) <= 1:
            for i in todo:
                record(i, ex.contract_core(ex.slice_arrays(arrays, i), np, use_cache))
        else:
            from threadpoolctl import threadpool_limits

            # one BLAS thread per slice thread: BLAS's own threads on top oversubscribe the
            # cores (measured: the CLI's n53 m10 amplitude 9.5-14.2 s against 7.6 s)
            with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(nthreads) as pool:
                futs2 = {i: pool.submit(ex.contract_core, ex.slice_arrays(arrays, i)) for i in todo}
                for i, f2 in futs2.items():
                    record(i, f2.result())
    if ck is not None:
        _save_checkpoint(ck, key, done)
    return gather(ex, done)


def gather(ex: Executor, done: dict[int, np.ndarray]) -> np.ndarray:
    """Combine slice results: slices over summed indices add up (pairwise, in slice order);
    slices over output indices fill their part of the output."""
    if not ex.out_sliced:
        return pairwise_sum([done[i] for i in range(ex.nslices)])
    groups: dict[tuple[int, ...], list[np.ndarray]] = {}
    for i in range(ex.nslices):
        loc = ex.tree.slice_key(i)
        groups.setdefault(tuple(int(loc[ix]) for ix in ex.out_sliced), []).append(done[i])
    first = next(iter(groups.values()))[0]
    full = np.zeros(tuple(ex.size[i] for i in ex.full_output), dtype=first.dtype)
    for where, parts in groups.items():
        w = dict(zip(ex.out_sliced, where, strict=True))
        full[tuple(w.get(ix, slice(None)) for ix in ex.full_output)] = pairwise_sum(parts)
    return full


def _client(cluster: Any) -> tuple[Any, bool]:
    try:
        import distributed
    except ImportError:
        raise TensorNetworkError("Dask slices need dask[distributed]: "
                                 "pip install 'qvalley[cluster]'") from None
    if isinstance(cluster, distributed.Client):
        return cluster, False
    if cluster == "local":
        lc = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                      dashboard_address=None)
        c = distributed.Client(lc)
        c._qvalley_cluster = lc  # type: ignore[attr-defined]
        return c, True
    try:
        return distributed.Client(str(cluster), timeout=10), True
    except (OSError, TimeoutError) as exc:
        raise TensorNetworkError(f"cannot reach the Dask scheduler at {cluster}: {exc}") from None


def _gpu_module(backend: str) -> Any:
    if backend == "cupy":
        try:
            import cupy
        except ImportError:
            raise TensorNetworkError("the cupy backend needs CuPy: pip install cupy-cuda12x") from None
        return cupy
    raise TensorNetworkError(f"unknown array backend {backend!r} (choose numpy or cupy)")
