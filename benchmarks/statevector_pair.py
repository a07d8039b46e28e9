"""qvalley against qsim, interleaved: a fair ratio on a machine shared with other work.

Usage::

    .venv/bin/python benchmarks/statevector_pair.py --qubits 24 --rows random_layers,qft,sycamore_rcs
    .venv/bin/python benchmarks/statevector_pair.py --qubits 26 --rows random_layers --rounds 3

Both simulators are set up with the harness's ``prepare`` (same circuits, threads and settings as
``benchmarks/statevector.py``), run once untimed, then ``--rounds`` times alternating qvalley,
qsim, so that load from other processes falls on both alike. Prints medians, minima and ratios.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qubits", type=int, default=24)
    ap.add_argument("--rows", default="random_layers,qft,sycamore_rcs")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    threads = args.threads or os.cpu_count() or 1
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "QULACS_NUM_THREADS"):
        os.environ[var] = str(threads)

    import gc
    import statistics
    import time

    from qvalley.bench.circuits import qft, random_layers
    from qvalley.bench.rcs import grid_shape, sycamore_rcs
    from qvalley.bench.statevector import RCS_CYCLES, fidelity, prepare

    n = args.qubits
    rows, cols = grid_shape(n)
    make = {"random_layers": lambda: random_layers(n, 20, 0),
            "qft": lambda: qft(n, prepare=True, seed=0),
            "sycamore_rcs": lambda: sycamore_rcs(rows, cols, RCS_CYCLES, 0)}
    for row in args.rows.split(","):
        circuit = make[row]()
        preps = {name: prepare(name, circuit, threads) for name in ("qvalley", "qsim")}
        states = {name: p.state(p.run()).copy() for name, p in preps.items()}
        fid = fidelity(states["qvalley"], states["qsim"])
        del states
        times: dict[str, list[float]] = {name: [] for name in preps}
        for _ in range(args.rounds):
            for name, p in preps.items():
                gc.collect()
                t0 = time.perf_counter()
                raw = p.run()
                times[name].append(time.perf_counter() - t0)
                del raw
        q, s = times["qvalley"], times["qsim"]
        print(f"{row} n={n}: qvalley {statistics.median(q):.3f} s (min {min(q):.3f})  "
              f"qsim {statistics.median(s):.3f} s (min {min(s):.3f})  "
              f"ratio {statistics.median(q) / statistics.median(s):.2f}x  fidelity {fid:.6f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
