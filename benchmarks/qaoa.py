"""QAOA benchmark: MaxCut on a random 3-regular graph, one energy and one exact gradient, against
Qiskit (circuit → ``Statevector`` → ``expectation_value``) in the same process on the same angles.

Usage: ``.venv/bin/python benchmarks/qaoa.py [--nodes 16] [--p 3] [--json OUT.json]``
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import networkx as nx
import numpy as np

from qvalley.apps.qaoa import qaoa_expectation, qaoa_maxcut, qaoa_value_and_grad
from qvalley.apps.qubo import maxcut_qubo


def _best(f: Callable[[], object], repeat: int = 5) -> float:
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return float(best)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=16)
    ap.add_argument("--p", type=int, default=3)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    g = nx.random_regular_graph(3, a.nodes, seed=7)
    diag = maxcut_qubo(g).diagonal()
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 2 * a.p)
    t_e = _best(lambda: qaoa_expectation(diag, x))
    t_g = _best(lambda: qaoa_value_and_grad(diag, x))
    rows: dict[str, object] = {"nodes": a.nodes, "p": a.p, "ours_energy_s": t_e, "ours_grad_s": t_g}
    table = [("qvalley energy (diagonal)", t_e, 1.0), ("qvalley adjoint gradient", t_g, t_g / t_e)]
    try:
        from qiskit import QuantumCircuit
        from qiskit.quantum_info import SparsePauliOp, Statevector
    except ImportError:
        print("qiskit not installed: peer comparison skipped")
    else:
        n = a.nodes
        terms = []
        for u, v in g.edges:
            lbl = ["I"] * n
            lbl[n - 1 - u] = lbl[n - 1 - v] = "Z"
            terms += [("I" * n, -0.5), ("".join(lbl), 0.5)]
        op = SparsePauliOp.from_list(terms).simplify()

        def qiskit_energy() -> float:
            qc = QuantumCircuit(n)
            qc.h(range(n))
            for layer in range(a.p):
                for u, v in g.edges:
                    qc.rzz(x[layer], u, v)
                for q in range(n):
                    qc.rx(2 * x[a.p + layer], q)
            return float(np.real(Statevector(qc).expectation_value(op)))

        e_q = qiskit_energy()
        assert abs(e_q - qaoa_expectation(diag, x)) < 1e-8, (e_q, qaoa_expectation(diag, x))
        t_q = _best(qiskit_energy, 3)
        rows["qiskit_energy_s"] = t_q
        table.append(("qiskit circuit + Statevector + expectation", t_q, t_q / t_e))
    t0 = time.perf_counter()
    r = qaoa_maxcut(g, a.p)
    rows["optimise_seconds"] = time.perf_counter() - t0
    rows["ratio"] = r.ratio
    print(f"MaxCut, random 3-regular graph, {a.nodes} nodes, p={a.p}: optimised (grid + INTERP + "
          f"L-BFGS-B) in {rows['optimise_seconds']:.2f} s, ratio {r.ratio:.4f}")
    print(f"{'operation':48s} {'seconds':>10s} {'× one qvalley energy':>22s}")
    for name, t, q in table:
        print(f"{name:48s} {t:10.5f} {q:22.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
