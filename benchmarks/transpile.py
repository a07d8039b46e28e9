"""qvalley.transpile vs Qiskit transpile (optimization_level=3) on a grid coupling map.

Prints two-qubit gate counts, depths, seconds and qvalley/qiskit ratios; writes JSON with --out.

    python benchmarks/transpile.py --grid 6x6 [--small] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from qvalley import Circuit
from qvalley.transpile import transpile


def grid(r: int, c: int) -> list[tuple[int, int]]:
    out = []
    for i in range(r):
        for j in range(c):
            q = i * c + j
            if j + 1 < c:
                out.append((q, q + 1))
            if i + 1 < r:
                out.append((q, q + c))
    return out


def qft(n: int) -> Circuit:
    c = Circuit(n)
    for i in range(n):
        c.h(i)
        for j in range(i + 1, n):
            c.cp(math.pi / 2 ** (j - i), j, i)
    for i in range(n // 2):
        c.swap(i, n - 1 - i)
    return c


def ghz(n: int) -> Circuit:
    c = Circuit(n).h(0)
    for i in range(n - 1):
        c.cx(i, i + 1)
    return c


def cuccaro(bits: int) -> Circuit:
    """Ripple-carry adder: qubits cin, a0, b0, a1, b1, ..., cout."""
    n = 2 * bits + 2
    c = Circuit(n)
    a = [1 + 2 * i for i in range(bits)]
    b = [2 + 2 * i for i in range(bits)]
    cin, cout = 0, n - 1
    for i in range(bits):
        c.x(a[i])
        c.h(b[i])

    def maj(x: int, y: int, z: int) -> None:
        c.cx(z, y).cx(z, x).ccx(x, y, z)

    def uma(x: int, y: int, z: int) -> None:
        c.ccx(x, y, z).cx(z, x).cx(x, y)

    prev = cin
    for i in range(bits):
        maj(prev, b[i], a[i])
        prev = a[i]
    c.cx(a[-1], cout)
    for i in reversed(range(bits)):
        uma(cin if i == 0 else a[i - 1], b[i], a[i])
    return c


def qaoa(n: int, layers: int, seed: int) -> Circuit:
    rng = np.random.default_rng(seed)
    while True:  # random 3-regular graph by pairing
        stubs = list(np.repeat(np.arange(n), 3))
        rng.shuffle(stubs)
        edges = {(min(a, b), max(a, b)) for a, b in zip(stubs[::2], stubs[1::2])}
        if len(edges) == 3 * n // 2 and all(a != b for a, b in edges):
            break
    c = Circuit(n)
    for q in range(n):
        c.h(q)
    for layer in range(layers):
        for a, b in sorted(edges):
            c.rzz(0.4 + 0.1 * layer, int(a), int(b))
        for q in range(n):
            c.rx(0.7, q)
    return c


def random_circuit(n: int, depth: int, seed: int) -> Circuit:
    rng = np.random.default_rng(seed)
    c = Circuit(n)
    for _ in range(depth):
        perm = rng.permutation(n)
        for q in range(n):
            c.u(*[float(x) for x in rng.uniform(0, 2 * math.pi, 3)], q)
        for k in range(0, n - 1, 2):
            c.cx(int(perm[k]), int(perm[k + 1]))
    return c


def to_qiskit(c: Circuit):  # type: ignore[no-untyped-def]
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(c.num_qubits)
    for op in c.operations:
        getattr(qc, op.name)(*[float(p) for p in op.gate.params], *op.qubits)  # type: ignore[arg-type]
    return qc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grid", default="6x6")
    ap.add_argument("--small", action="store_true", help="smaller circuits (quick run)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--no-warmup", action="store_true",
                    help="time the first calls cold (qvalley then loads its cached numba kernels)")
    args = ap.parse_args()
    rows, cols = (int(x) for x in args.grid.lower().split("x"))
    edges = grid(rows, cols)
    from qiskit import transpile as qk_transpile
    from qiskit.transpiler import CouplingMap

    cmap = CouplingMap([list(e) for e in edges] + [[b, a] for a, b in edges])
    if args.small:
        cases = [("qft8", qft(8)), ("qft10", qft(10)), ("ghz12", ghz(12)), ("adder3", cuccaro(3)),
                 ("qaoa10x2", qaoa(10, 2, 1)), ("random8x6", random_circuit(8, 6, 2))]
    else:
        cases = [("qft8", qft(8)), ("qft12", qft(12)), ("qft16", qft(16)), ("ghz20", ghz(20)),
                 ("adder4", cuccaro(4)), ("qaoa16x2", qaoa(16, 2, 1)),
                 ("random12x10", random_circuit(12, 10, 2))]
    if not args.no_warmup:  # one small transpile each: first-call costs out of the table
        t0 = time.perf_counter()
        transpile(qft(4), coupling=edges, basis=["cz", "sx", "rz"], optimization_level=3)
        tq = time.perf_counter() - t0
        t0 = time.perf_counter()
        qk_transpile(to_qiskit(qft(4)), basis_gates=["cz", "sx", "rz"], coupling_map=cmap,
                     optimization_level=3, seed_transpiler=args.seed)
        print(f"warm-up (first call, excluded): qvalley {tq:.2f} s, "
              f"qiskit {time.perf_counter() - t0:.2f} s")
    results = []
    hdr = f"{'circuit':<12}{'qv 2q':>7}{'qk 2q':>7}{'ratio':>7}{'qv dep':>8}{'qk dep':>8}" \
          f"{'qv s':>8}{'qk s':>8}"
    print(f"grid {rows}x{cols}")
    print(hdr)
    for name, circ in cases:
        r = transpile(circ, coupling=edges, basis=["cz", "sx", "rz"], seed=args.seed,
                      optimization_level=3)
        t0 = time.perf_counter()
        qc = qk_transpile(to_qiskit(circ), basis_gates=["cz", "sx", "rz"], coupling_map=cmap,
                          optimization_level=3, seed_transpiler=args.seed)
        qs = time.perf_counter() - t0
        q2 = int(qc.count_ops().get("cz", 0))
        ratio = r.two_qubit_gates / max(q2, 1)
        results.append({"circuit": name, "qvalley_2q": r.two_qubit_gates, "qiskit_2q": q2,
                        "ratio": ratio, "qvalley_depth": r.depth, "qiskit_depth": qc.depth(),
                        "qvalley_s": r.seconds, "qiskit_s": qs})
        print(f"{name:<12}{r.two_qubit_gates:>7}{q2:>7}{ratio:>7.3f}{r.depth:>8}{qc.depth():>8}"
              f"{r.seconds:>8.2f}{qs:>8.2f}", flush=True)
    mean = float(np.mean([x["ratio"] for x in results]))
    print(f"mean 2q ratio qvalley/qiskit: {mean:.3f}")
    tq = sum(x["qvalley_s"] for x in results)
    tk = sum(x["qiskit_s"] for x in results)
    print(f"total seconds: qvalley {tq:.2f}, qiskit {tk:.2f} (time ratio {tq / tk:.2f})")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"grid": args.grid, "results": results, "mean_ratio": mean,
                       "qvalley_total_s": tq, "qiskit_total_s": tk}, fh, indent=1)


if __name__ == "__main__":
    main()
