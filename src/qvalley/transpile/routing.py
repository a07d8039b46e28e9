"""SABRE routing (Li, Ding, Xie 2019) and noise-aware initial layout.

Routing works on a dependency graph of operations over virtual qubits. Two-qubit operations whose
physical qubits are not coupled block; SWAPs are chosen by the SABRE heuristic (front layer plus an
extended set of the next gates weighted 0.5, multiplied by a per-qubit decay factor).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numba import njit

from .._errors import TranspileError
from .target import Target

EXTENDED_SIZE = 20
EXTENDED_WEIGHT = 0.5
DECAY_DELTA = 0.001
DECAY_RESET = 5


class Dag:
    """Dependencies of a list of operations (qubits and classical bits)."""

    def __init__(self, qubits: Sequence[tuple[int, ...]], bits: Sequence[tuple[int, ...]]) -> None:
        self.qubits = list(qubits)
        n = len(self.qubits)
        self.succ: list[list[int]] = [[] for _ in range(n)]
        self.npred = [0] * n
        lastq: dict[int, int] = {}
        lastc: dict[int, int] = {}
        for i, (qs, cs) in enumerate(zip(self.qubits, bits)):
            preds = {lastq[q] for q in qs if q in lastq} | {lastc[c] for c in cs if c in lastc}
            for p in preds:
                self.succ[p].append(i)
            self.npred[i] = len(preds)
            for q in qs:
                lastq[q] = i
            for c in cs:
                lastc[c] = i
        self._arrays: tuple[np.ndarray, ...] | None = None

    def arrays(self) -> tuple[np.ndarray, ...]:
        """``(qa, qb, npred, succ_ptr, succ_idx)`` as int64 arrays for the kernel: ``qa``/``qb``
        the first/second qubit (-1 when absent), successors of ``i`` in
        ``succ_idx[succ_ptr[i]:succ_ptr[i+1]]``."""
        if self._arrays is None:
            n = len(self.qubits)
            qa = np.full(n, -1, dtype=np.int64)
            qb = np.full(n, -1, dtype=np.int64)
            for i, qs in enumerate(self.qubits):
                if len(qs) > 2:
                    raise TranspileError(f"internal: routing a {len(qs)}-qubit operation")
                if qs:
                    qa[i] = qs[0]
                if len(qs) == 2:
                    qb[i] = qs[1]
            ptr = np.zeros(n + 1, dtype=np.int64)
            ptr[1:] = np.cumsum([len(x) for x in self.succ])
            idx = np.array([s for x in self.succ for s in x], dtype=np.int64)
            self._arrays = (qa, qb, np.array(self.npred, dtype=np.int64), ptr, idx)
        return self._arrays


def _valve(target: Target, valve: int | None) -> int:
    """SWAPs without progress before the release valve walks one gate together."""
    return 10 * target.num_qubits + 20 if valve is None else int(valve)


def sabre_route_reference(
    dag: Dag, target: Target, layout: Sequence[int], rng: np.random.Generator,
    valve: int | None = None,
) -> tuple[list[tuple[int, int, int]], list[int], int]:
    """Plain-Python reference of :func:`sabre_route` (sets and lists; the numba kernel must choose
    the same SWAPs). Ready front gates are taken in sorted order.

    Route ``dag`` from ``layout`` (virtual → physical, length ``target.num_qubits``).

    Returns ``(steps, final_layout, num_swaps)``: steps are ``(op_index, -1, -1)`` for an operation
    or ``(-1, p, q)`` for a SWAP on physical coupler ``(p, q)``, in execution order.
    """
    dist = target.dist
    nbrs = target.neighbors
    l2p = list(layout)
    p2l = [0] * len(l2p)
    for v, p in enumerate(l2p):
        p2l[p] = v
    npred = list(dag.npred)
    qubits = dag.qubits
    succ = dag.succ
    steps: list[tuple[int, int, int]] = []
    front: set[int] = set()
    decay = np.ones(target.num_qubits)
    nswaps = 0
    limit = _valve(target, valve)

    def execute(start: list[int]) -> None:
        stack = list(start)
        while stack:
            i = stack.pop()
            qs = qubits[i]
            if len(qs) == 2 and dist[l2p[qs[0]], l2p[qs[1]]] != 1:
                front.add(i)
                continue
            front.discard(i)
            steps.append((i, -1, -1))
            for s in succ[i]:
                npred[s] -= 1
                if npred[s] == 0:
                    stack.append(s)

    execute([i for i in range(len(qubits)) if npred[i] == 0][::-1])
    since_exec = 0
    swaps_since_reset = 0
    while front:
        ready = sorted(i for i in front if dist[l2p[qubits[i][0]], l2p[qubits[i][1]]] == 1)
        if ready:
            execute(ready)
            decay[:] = 1.0
            since_exec = 0
            continue
        if since_exec > limit:
            # release valve: walk the closest front gate together along a shortest path
            g = min(front, key=lambda i: (dist[l2p[qubits[i][0]], l2p[qubits[i][1]]], i))
            a, b = l2p[qubits[g][0]], l2p[qubits[g][1]]
            while dist[a, b] > 1:
                nxt = next(x for x in nbrs[a] if dist[x, b] == dist[a, b] - 1)
                _swap(l2p, p2l, a, nxt)
                steps.append((-1, min(a, nxt), max(a, nxt)))
                nswaps += 1
                a = nxt
            since_exec = 0
            continue
        # extended set
        ext: list[int] = []
        seen = set(front)
        queue = [s for i in sorted(front) for s in succ[i]]
        qi = 0
        while qi < len(queue) and len(ext) < EXTENDED_SIZE:
            s = queue[qi]
            qi += 1
            if s in seen:
                continue
            seen.add(s)
            if len(qubits[s]) == 2:
                ext.append(s)
            queue.extend(succ[s])
        cands: set[tuple[int, int]] = set()
        for i in front:
            for v in qubits[i]:
                p = l2p[v]
                for x in nbrs[p]:
                    cands.add((min(p, x), max(p, x)))
        cp, cq = np.array(sorted(cands)).T[:, :, None]  # (C, 1) each
        score = (_distances(dist, l2p, qubits, front, cp, cq)
                 + EXTENDED_WEIGHT * _distances(dist, l2p, qubits, ext, cp, cq)) \
            * np.maximum(decay[cp[:, 0]], decay[cq[:, 0]])
        best = np.flatnonzero(score <= score.min() + 1e-12)
        pick = int(best[int(rng.integers(len(best)))]) if len(best) > 1 else int(best[0])
        p, q = int(cp[pick, 0]), int(cq[pick, 0])
        _swap(l2p, p2l, p, q)
        steps.append((-1, p, q))
        nswaps += 1
        since_exec += 1
        swaps_since_reset += 1
        if swaps_since_reset >= DECAY_RESET:
            decay[:] = 1.0
            swaps_since_reset = 0
        else:
            decay[p] += DECAY_DELTA
            decay[q] += DECAY_DELTA
    return steps, l2p, nswaps


def sabre_route(
    dag: Dag, target: Target, layout: Sequence[int], rng: np.random.Generator
) -> tuple[list[tuple[int, int, int]], list[int], int]:
    """Route ``dag`` from ``layout`` (virtual → physical, length ``target.num_qubits``).

    Returns ``(steps, final_layout, num_swaps)``: steps are ``(op_index, -1, -1)`` for an operation
    or ``(-1, p, q)`` for a SWAP on physical coupler ``(p, q)``, in execution order. Runs the numba
    kernel; :func:`sabre_route_reference` is the plain-Python twin (same SWAPs, same ``rng`` use).
    """
    steps, l2p, nswaps = sabre_route_arrays(dag, target, layout, rng, _sabre_nb)
    return [(int(a), int(b), int(c)) for a, b, c in steps], [int(x) for x in l2p], nswaps


def sabre_route_arrays(dag: Dag, target: Target, layout: Sequence[int] | np.ndarray,
                       rng: np.random.Generator,
                       kernel: object = None, valve: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`sabre_route` with array output: ``steps`` (K×3 int64), final layout, swap count.

    ``kernel`` is the compiled kernel (default) or :func:`_sabre_kernel` itself (the Python twin).
    """
    qa, qb, npred, sptr, sidx = dag.arrays()
    nptr, nidx, edges = target_arrays(target)
    fn = _sabre_nb if kernel is None else kernel
    steps, nsteps, l2p, nswaps = fn(  # type: ignore[operator]
        qa, qb, npred, sptr, sidx, target.dist, nptr, nidx, edges,
        np.asarray(layout, dtype=np.int64), rng, _valve(target, valve))
    return steps[:nsteps], l2p, int(nswaps)


_TARGET_ARRAYS: dict[int, tuple[object, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}


def target_arrays(target: Target) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour lists (CSR: ``nptr``, ``nidx``, same order as ``target.neighbors``) and the
    sorted coupler array (E×2) of ``target``, cached per target object."""
    hit = _TARGET_ARRAYS.get(id(target))
    if hit is not None and hit[0] is target:
        return hit[1]
    n = target.num_qubits
    nptr = np.zeros(n + 1, dtype=np.int64)
    nptr[1:] = np.cumsum([len(x) for x in target.neighbors])
    nidx = np.array([x for nb in target.neighbors for x in nb], dtype=np.int64)
    edges = np.array(sorted(target.edges), dtype=np.int64).reshape(-1, 2)
    if len(_TARGET_ARRAYS) > 64:
        _TARGET_ARRAYS.clear()
    _TARGET_ARRAYS[id(target)] = (target, (nptr, nidx, edges))
    return nptr, nidx, edges


def _sabre_kernel(qa: np.ndarray, qb: np.ndarray, npred0: np.ndarray, sptr: np.ndarray,
                  sidx: np.ndarray, dist: np.ndarray, nptr: np.ndarray, nidx: np.ndarray,
                  edges: np.ndarray, layout: np.ndarray, rng: np.random.Generator,
                  valve: int) -> tuple[np.ndarray, int, np.ndarray, int]:
    """SABRE over integer arrays (compiled by numba as ``_sabre_nb``; runs as Python too).

    Same decisions as :func:`sabre_route_reference`: front layer kept sorted, extended set by
    breadth-first walk from the sorted front, candidates = couplers touching a front qubit in
    sorted order, score = (mean front distance + 0.5 · mean extended distance) · max decay, ties
    broken by ``rng.integers(0, k)``. Returns ``(steps, nsteps, final_l2p, nswaps)``.
    """
    nops = qa.shape[0]
    nphys = layout.shape[0]
    nedges = edges.shape[0]
    l2p = layout.copy()
    p2l = np.empty(nphys, dtype=np.int64)
    for v in range(nphys):
        p2l[l2p[v]] = v
    npred = npred0.copy()
    cap = 2 * nops + 16
    steps = np.empty((cap, 3), dtype=np.int64)
    nsteps = 0
    front = np.empty(nphys + 1, dtype=np.int64)  # sorted gate indices; one gate per qubit at most
    nfront = 0
    stack = np.empty(nops + 1, dtype=np.int64)
    decay = np.ones(nphys)
    queue = np.empty(sidx.shape[0] + 1, dtype=np.int64)
    seen = np.zeros(nops, dtype=np.int64)  # stamp of the last extended-set walk that saw it
    stamp = 0
    ext = np.empty(EXTENDED_SIZE, dtype=np.int64)
    active = np.zeros(nphys, dtype=np.bool_)
    cand = np.empty(nedges, dtype=np.int64)
    score = np.empty(nedges)
    best = np.empty(nedges, dtype=np.int64)
    nswaps = 0
    # initial: every gate without predecessors, smallest index executed first
    top = 0
    for i in range(nops - 1, -1, -1):
        if npred[i] == 0:
            stack[top] = i
            top += 1
    since_exec = 0
    swaps_since_reset = 0
    while True:
        # execute the stack (a depth-first walk over newly ready gates)
        while top > 0:
            top -= 1
            i = stack[top]
            if qb[i] >= 0 and dist[l2p[qa[i]], l2p[qb[i]]] != 1:
                k = nfront  # insert i into the sorted front (if absent)
                present = False
                for j in range(nfront):
                    if front[j] == i:
                        present = True
                        break
                if not present:
                    while k > 0 and front[k - 1] > i:
                        front[k] = front[k - 1]
                        k -= 1
                    front[k] = i
                    nfront += 1
                continue
            for j in range(nfront):  # remove i from the front (if present)
                if front[j] == i:
                    for m in range(j, nfront - 1):
                        front[m] = front[m + 1]
                    nfront -= 1
                    break
            if nsteps == steps.shape[0]:
                bigger = np.empty((2 * steps.shape[0], 3), dtype=np.int64)
                bigger[:nsteps] = steps[:nsteps]
                steps = bigger
            steps[nsteps, 0] = i
            steps[nsteps, 1] = -1
            steps[nsteps, 2] = -1
            nsteps += 1
            for j in range(sptr[i], sptr[i + 1]):
                s = sidx[j]
                npred[s] -= 1
                if npred[s] == 0:
                    stack[top] = s
                    top += 1
        if nfront == 0:
            break
        # ready front gates, pushed in ascending order (so popped descending, like the reference)
        nready = 0
        for j in range(nfront):
            g = front[j]
            if dist[l2p[qa[g]], l2p[qb[g]]] == 1:
                stack[top] = g
                top += 1
                nready += 1
        if nready > 0:
            decay[:] = 1.0
            since_exec = 0
            continue
        if since_exec > valve:
            # release valve: walk the closest front gate together along a shortest path
            g = front[0]
            dbest = dist[l2p[qa[g]], l2p[qb[g]]]
            for j in range(1, nfront):
                d = dist[l2p[qa[front[j]]], l2p[qb[front[j]]]]
                if d < dbest:
                    dbest = d
                    g = front[j]
            a = l2p[qa[g]]
            b = l2p[qb[g]]
            while dist[a, b] > 1:
                nxt = -1
                for j in range(nptr[a], nptr[a + 1]):
                    if dist[nidx[j], b] == dist[a, b] - 1:
                        nxt = nidx[j]
                        break
                if nsteps == steps.shape[0]:
                    bigger = np.empty((2 * steps.shape[0], 3), dtype=np.int64)
                    bigger[:nsteps] = steps[:nsteps]
                    steps = bigger
                vp = p2l[a]
                vq = p2l[nxt]
                p2l[a] = vq
                p2l[nxt] = vp
                l2p[vp] = nxt
                l2p[vq] = a
                steps[nsteps, 0] = -1
                steps[nsteps, 1] = min(a, nxt)
                steps[nsteps, 2] = max(a, nxt)
                nsteps += 1
                nswaps += 1
                a = nxt
            since_exec = 0
            continue
        # extended set: breadth-first from the sorted front, the first EXTENDED_SIZE 2q gates
        stamp += 1
        for j in range(nfront):
            seen[front[j]] = stamp
        qlen = 0
        for j in range(nfront):
            g = front[j]
            for m in range(sptr[g], sptr[g + 1]):
                queue[qlen] = sidx[m]
                qlen += 1
        qi = 0
        next_ = 0
        while qi < qlen and next_ < EXTENDED_SIZE:
            s = queue[qi]
            qi += 1
            if seen[s] == stamp:
                continue
            seen[s] = stamp
            if qb[s] >= 0:
                ext[next_] = s
                next_ += 1
            for m in range(sptr[s], sptr[s + 1]):
                queue[qlen] = sidx[m]
                qlen += 1
        # candidate SWAPs: couplers touching a physical qubit of a front gate, in sorted order
        for j in range(nfront):
            active[l2p[qa[front[j]]]] = True
            active[l2p[qb[front[j]]]] = True
        ncand = 0
        for e in range(nedges):
            if active[edges[e, 0]] or active[edges[e, 1]]:
                cand[ncand] = e
                ncand += 1
        for j in range(nfront):
            active[l2p[qa[front[j]]]] = False
            active[l2p[qb[front[j]]]] = False
        smin = np.inf
        for c in range(ncand):
            cp = edges[cand[c], 0]
            cq = edges[cand[c], 1]
            fs = 0
            for j in range(nfront):
                a = l2p[qa[front[j]]]
                b = l2p[qb[front[j]]]
                a = cq if a == cp else (cp if a == cq else a)
                b = cq if b == cp else (cp if b == cq else b)
                fs += dist[a, b]
            es = 0
            for j in range(next_):
                a = l2p[qa[ext[j]]]
                b = l2p[qb[ext[j]]]
                a = cq if a == cp else (cp if a == cq else a)
                b = cq if b == cp else (cp if b == cq else b)
                es += dist[a, b]
            ext_mean = es / next_ if next_ > 0 else 0.0
            sc = (fs / nfront + EXTENDED_WEIGHT * ext_mean) * max(decay[cp], decay[cq])
            score[c] = sc
            if sc < smin:
                smin = sc
        nbest = 0
        for c in range(ncand):
            if score[c] <= smin + 1e-12:
                best[nbest] = c
                nbest += 1
        pick = best[rng.integers(0, nbest)] if nbest > 1 else best[0]
        p = edges[cand[pick], 0]
        q = edges[cand[pick], 1]
        vp = p2l[p]
        vq = p2l[q]
        p2l[p] = vq
        p2l[q] = vp
        l2p[vp] = q
        l2p[vq] = p
        if nsteps == steps.shape[0]:
            bigger = np.empty((2 * steps.shape[0], 3), dtype=np.int64)
            bigger[:nsteps] = steps[:nsteps]
            steps = bigger
        steps[nsteps, 0] = -1
        steps[nsteps, 1] = p
        steps[nsteps, 2] = q
        nsteps += 1
        nswaps += 1
        since_exec += 1
        swaps_since_reset += 1
        if swaps_since_reset >= DECAY_RESET:
            decay[:] = 1.0
            swaps_since_reset = 0
        else:
            decay[p] += DECAY_DELTA
            decay[q] += DECAY_DELTA
    return steps, nsteps, l2p, nswaps


_sabre_nb = njit(cache=True)(_sabre_kernel)


def _distances(dist: np.ndarray, l2p: list[int], qubits: Sequence[tuple[int, ...]], gates: Iterable[int],
               cp: np.ndarray, cq: np.ndarray) -> np.ndarray:
    """Mean coupling distance of the 2q ``gates`` after each candidate swap ``(cp[k], cq[k])``."""
    pairs = np.array([(l2p[qubits[i][0]], l2p[qubits[i][1]]) for i in gates],
                     dtype=np.intp).reshape(-1, 2)
    if len(pairs) == 0:
        return np.zeros(len(cp))
    a, b = pairs[:, 0][None, :], pairs[:, 1][None, :]
    a = np.where(a == cp, cq, np.where(a == cq, cp, a))
    b = np.where(b == cp, cq, np.where(b == cq, cp, b))
    return dist[a, b].mean(axis=1)


def _swap(l2p: list[int], p2l: list[int], p: int, q: int) -> None:
    vp, vq = p2l[p], p2l[q]
    p2l[p], p2l[q] = vq, vp
    l2p[vp], l2p[vq] = q, p


# ---- layout ----------------------------------------------------------------------------------
def interaction_components(n: int, pairs: Sequence[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    comps: dict[int, list[int]] = {}
    for v in range(n):
        comps.setdefault(find(v), []).append(v)
    return sorted(comps.values(), key=lambda c: -len(c))


def greedy_layout(
    n_virtual: int, pairs: Sequence[tuple[int, int]], target: Target, rng: np.random.Generator,
    jitter: float = 0.0,
) -> list[int]:
    """Place virtual qubits by interaction degree onto connected low-error physical regions.

    Returns a full virtual → physical permutation of length ``target.num_qubits`` (virtual qubits
    ``n_virtual..`` are idle ancillas). Raises :class:`TranspileError` when an interaction
    component fits in no connected region of the coupling map.
    """
    nphys = target.num_qubits
    weight: dict[tuple[int, int], int] = {}
    for a, b in pairs:
        key = (min(a, b), max(a, b))
        weight[key] = weight.get(key, 0) + 1
    adj: list[dict[int, int]] = [{} for _ in range(n_virtual)]
    for (a, b), w in weight.items():
        adj[a][b] = w
        adj[b][a] = w
    # physical quality: low error, high degree
    qual = np.array([len(target.neighbors[p]) for p in range(nphys)], dtype=float)
    if target.error_2q:
        for p in range(nphys):
            errs = [target.edge_error(p, x) for x in target.neighbors[p]]
            qual[p] -= 20 * (float(np.mean(errs)) if errs else 1.0)
    if target.readout_error is not None:
        qual -= 5 * np.array(target.readout_error)
    if jitter:
        qual += jitter * rng.random(nphys)
    comp_of = [0] * nphys
    for ci, tcomp in enumerate(target.components):
        for p in tcomp:
            comp_of[p] = ci
    free_in = [len(c) for c in target.components]
    l2p = [-1] * nphys
    used = [False] * nphys
    for comp in interaction_components(n_virtual, list(weight)):
        if len(comp) == 1 and not adj[comp[0]]:
            continue  # idle qubits placed last
        fits = [ci for ci in range(len(target.components)) if free_in[ci] >= len(comp)]
        if not fits:
            raise TranspileError(
                f"circuit has {len(comp)} interacting qubits but no connected region of "
                f"'{target.name}' has that many free qubits "
                f"(regions: {[len(c) for c in target.components]})")
        ci = min(fits, key=lambda c: free_in[c])
        region = [p for p in target.components[ci] if not used[p]]
        order = sorted(comp, key=lambda v: -sum(adj[v].values()))
        placed: list[int] = []
        start = order[0]
        pstart = max(region, key=lambda p: (qual[p], -p))
        todo = set(comp)
        cur = start
        cand_p = pstart
        while True:
            l2p[cur] = cand_p
            used[cand_p] = True
            placed.append(cur)
            todo.discard(cur)
            free_in[ci] -= 1
            if not todo:
                break
            cur = max(todo, key=lambda v: (sum(w for u, w in adj[v].items() if l2p[u] >= 0),
                                           sum(adj[v].values()), -v))
            free = [p for p in target.components[ci] if not used[p]]

            def cost(p: int, cur: int = cur) -> float:
                c = sum(w * float(target.dist[p, l2p[u]]) for u, w in adj[cur].items()
                        if l2p[u] >= 0)
                return c - 0.01 * qual[p]

            cand_p = min(free, key=lambda p: (cost(p), p))
    rest = [p for p in range(nphys) if not used[p]]
    rest.sort(key=lambda p: -qual[p])
    it = iter(rest)
    for v in range(nphys):
        if l2p[v] < 0:
            l2p[v] = next(it)
    return l2p


def check_fits(n_virtual: int, pairs: Sequence[tuple[int, int]], target: Target) -> None:
    if n_virtual > target.num_qubits:
        raise TranspileError(
            f"circuit has {n_virtual} qubits but device '{target.name}' has only "
            f"{target.num_qubits}")
    biggest = max((len(c) for c in target.components), default=0)
    comps = interaction_components(n_virtual, pairs)
    if comps and len(comps[0]) > biggest:
        raise TranspileError(
            f"circuit needs {len(comps[0])} connected qubits but the largest connected region of "
            f"device '{target.name}' has {biggest}")
