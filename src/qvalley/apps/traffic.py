"""Traffic flow: route each car along one of its ``k`` shortest routes to minimise congestion.

Congestion is ``Σ_e L_e²`` with ``L_e`` the number of cars using road ``e``. With a binary
``x_{c,r}`` (car ``c`` takes route ``r``) the load is linear in ``x``, so the objective is a QUBO;
one-hot penalties ``P (Σ_r x_{c,r} - 1)²`` make each car take exactly one route. Variable
``c·k + r`` is ``x_{c,r}``. Solved exactly, by QAOA (the most probable feasible assignment) and by
simulated annealing.

A network file is JSON ``{"nodes": [[id, x_m, y_m], ...], "edges": [[u, v, length_m], ...]}``;
the shipped default is a 4×4 city grid with 200 m and 300 m blocks.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from ._errors import AppsError
from .qubo import QUBO, bits_of, simulated_annealing, solve_exact


def load_network(path: str | None = None) -> nx.Graph:
    """The road network from ``path`` or the shipped city grid."""
    try:
        if path is None:
            text = resources.files("qvalley.apps").joinpath("data", "city_grid.json").read_text()
        else:
            text = Path(path).read_text()
        d = json.loads(text)
        g = nx.Graph()
        for node in d["nodes"]:
            g.add_node(int(node[0]), pos=(float(node[1]), float(node[2])))
        for u, v, length in d["edges"]:
            if int(u) not in g or int(v) not in g:
                raise ValueError(f"edge ({u}, {v}) uses an unknown node")
            if not float(length) > 0:
                raise ValueError(f"edge ({u}, {v}) has non-positive length {length}")
            g.add_edge(int(u), int(v), length=float(length))
    except FileNotFoundError:
        raise AppsError(f"{path}: no such network file") from None
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise AppsError(f"{path}: not a road network JSON with nodes and edges ({exc})") from None
    if g.number_of_edges() == 0 or not nx.is_connected(g):
        raise AppsError(f"{path or 'city grid'}: the road network must be connected with ≥ 1 road")
    return g


def default_cars(g: nx.Graph, n_cars: int, seed: int | None = 0) -> list[tuple[int, int]]:
    """``n_cars`` origin–destination pairs between distinct nodes at least 3 hops apart (seeded)."""
    rng = np.random.default_rng(seed)
    nodes = sorted(g.nodes)
    hops = dict(nx.all_pairs_shortest_path_length(g))
    pairs = [(a, b) for a in nodes for b in nodes if a != b and hops[a][b] >= 3]
    if not pairs:
        raise AppsError("the network is too small for car trips of ≥ 3 roads")
    # concentrate trips through the centre to create congestion worth removing
    pick = rng.choice(len(pairs), size=n_cars, replace=len(pairs) < n_cars)
    return [pairs[int(i)] for i in pick]


def _key(u: int, v: int) -> tuple[int, int]:
    return (u, v) if u < v else (v, u)


@dataclass(frozen=True)
class TrafficProblem:
    cars: tuple[tuple[int, int], ...]
    routes: tuple[tuple[tuple[int, ...], ...], ...]  # per car, k node paths
    edges: tuple[tuple[int, int], ...]
    penalty: float

    @property
    def k(self) -> int:
        return len(self.routes[0])

    def incidence(self) -> np.ndarray:
        """``A[e, c·k + r] = 1`` when route ``r`` of car ``c`` uses road ``e``."""
        idx = {e: i for i, e in enumerate(self.edges)}
        a = np.zeros((len(self.edges), len(self.cars) * self.k))
        for c, rs in enumerate(self.routes):
            for r, path in enumerate(rs):
                for u, v in itertools.pairwise(path):
                    a[idx[_key(u, v)], c * self.k + r] = 1
        return a

    def to_qubo(self) -> QUBO:
        a = self.incidence()
        q = a.T @ a  # Σ_e L_e^2 = xᵀ AᵀA x
        n = q.shape[0]
        lin = np.zeros(n)
        off = 0.0
        for c in range(len(self.cars)):
            s = slice(c * self.k, (c + 1) * self.k)
            # P (Σ x - 1)^2 = P (Σ_{r≠r'} x x' - Σ x + 1)
            block = np.ones((self.k, self.k)) - np.eye(self.k)
            q[s, s] += self.penalty * block
            lin[s] -= self.penalty
            off += self.penalty
        return QUBO(lin, q, off)

    def feasible(self, x: Any) -> bool:
        v = np.asarray(x).reshape(len(self.cars), self.k)
        return bool(np.all(v.sum(axis=1) == 1))

    def loads(self, x: Any) -> np.ndarray:
        return self.incidence() @ np.asarray(x, dtype=float)

    def congestion(self, x: Any) -> float:
        return float(np.sum(self.loads(x) ** 2))


def build_problem(g: nx.Graph, cars: list[tuple[int, int]], k: int) -> TrafficProblem:
    if k < 1:
        raise AppsError(f"--routes must be positive, got {k}")
    routes = []
    for o, d in cars:
        if o not in g or d not in g:
            raise AppsError(f"car trip {o}→{d} uses a node not in the network")
        gen = nx.shortest_simple_paths(g, o, d, weight="length")
        rs = [tuple(p) for p in itertools.islice(gen, k)]
        while len(rs) < k:  # fewer than k simple routes: repeat the last
            rs.append(rs[-1])
        routes.append(tuple(rs))
    edges = tuple(sorted(_key(u, v) for u, v in g.edges))
    longest = max(len(p) - 1 for rs in routes for p in rs)
    return TrafficProblem(tuple(cars), tuple(routes), edges, float(2 * longest * len(cars) + 1))


@dataclass(frozen=True)
class TrafficResult:
    num_qubits: int
    before: float
    exact: float
    qaoa: float
    annealing: float
    qaoa_feasible_probability: float
    max_load_before: float
    max_load_after: float
    choice: tuple[int, ...]
    p: int

    def to_dict(self) -> dict[str, Any]:
        return {"num_qubits": self.num_qubits, "congestion_before": self.before,
                "congestion_exact": self.exact, "congestion_qaoa": self.qaoa,
                "congestion_annealing": self.annealing,
                "qaoa_feasible_probability": self.qaoa_feasible_probability,
                "max_load_before": self.max_load_before, "max_load_after": self.max_load_after,
                "routes_chosen": list(self.choice), "p": self.p}


def solve_traffic(prob: TrafficProblem, *, p: int = 2, seed: int | None = 0
                  ) -> tuple[TrafficResult, np.ndarray, np.ndarray]:
    """Solve; returns the result and the per-road loads before (shortest routes) and after (exact)."""
    from .qaoa import optimize_qaoa, qaoa_state

    q = prob.to_qubo()
    n = q.num_variables
    if n > 22:
        raise AppsError(f"{n} qubits (cars × routes) is too many for QAOA on the statevector "
                        "(at most 22)")
    nc, k = len(prob.cars), prob.k
    x0 = np.zeros(n, dtype=int)
    x0[np.arange(nc) * k] = 1  # everybody takes their shortest route
    ex = solve_exact(q)
    diag = q.diagonal()
    scale = max(float(np.std(diag)), 1e-12)
    r = optimize_qaoa(diag / scale, p)
    psi = qaoa_state(diag / scale, np.array(r.gammas), np.array(r.betas))
    probs = psi.real**2 + psi.imag**2
    idx = np.arange(diag.size)
    onehot = np.ones(diag.size, dtype=bool)
    for c in range(nc):
        cnt = sum((idx >> (c * k + j)) & 1 for j in range(k))
        onehot &= cnt == 1
    feas_p = float(probs[onehot].sum())
    best_q = int(idx[onehot][np.argmax(probs[onehot])])
    xq = bits_of(best_q, n)
    sa = simulated_annealing(q, sweeps=300, reads=8, seed=seed)
    xe = np.array(ex.x)
    choice = tuple(int(np.argmax(xe[c * k:(c + 1) * k])) for c in range(nc))
    before_l, after_l = prob.loads(x0), prob.loads(xe)
    res = TrafficResult(n, prob.congestion(x0), prob.congestion(xe), prob.congestion(xq),
                        prob.congestion(sa.x) if prob.feasible(sa.x) else float("nan"), feas_p,
                        float(before_l.max()), float(after_l.max()), choice, p)
    return res, before_l, after_l


def plot_traffic(path: str, g: nx.Graph, prob: TrafficProblem, before: np.ndarray,
                 after: np.ndarray) -> None:
    """PNG with road loads before (shortest routes) and after (optimised); temp file + rename."""
    import os
    import tempfile

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pos = nx.get_node_attributes(g, "pos")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, loads, title in ((axes[0], before, "shortest routes"), (axes[1], after, "optimised")):
        widths = [1 + 3 * loads[i] for i in range(len(prob.edges))]
        colors = [loads[i] for i in range(len(prob.edges))]
        nx.draw_networkx(g, pos, ax=ax, edgelist=list(prob.edges), width=widths, edge_color=colors,
                         edge_cmap=plt.cm.inferno_r, edge_vmin=0, edge_vmax=max(before.max(), 1),
                         node_size=120, font_size=7)
        ax.set_title(f"{title}: Σ load² = {float(np.sum(loads**2)):g}")
        ax.axis("off")
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=110)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
