"""SABRE routing (Li, Ding, Xie 2019) and noise-aware initial layout.

Routing works on a dependency graph of operations over virtual qubits. Two-qubit operations whose
physical qubits are not coupled block; SWAPs are chosen by the SABRE heuristic (front layer plus an
extended set of the next gates weighted 0.5, multiplied by a per-qubit decay factor).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

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


def sabre_route(
    dag: Dag, target: Target, layout: Sequence[int], rng: np.random.Generator
) -> tuple[list[tuple[int, int, int]], list[int], int]:
    """Route ``dag`` from ``layout`` (virtual → physical, length ``target.num_qubits``).

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
        ready = [i for i in front if dist[l2p[qubits[i][0]], l2p[qubits[i][1]]] == 1]
        if ready:
            execute(ready)
            decay[:] = 1.0
            since_exec = 0
            continue
        if since_exec > 10 * target.num_qubits + 20:
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
