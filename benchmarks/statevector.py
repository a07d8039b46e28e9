"""Statevector benchmark: qvalley vs qsim, Qiskit Aer and Qulacs on the same circuits.

Usage::

    .venv/bin/python benchmarks/statevector.py                      # 20, 24, 26 qubits, 3 repeats
    .venv/bin/python benchmarks/statevector.py --qubits 12 --repeats 1   # quick smoke run
    .venv/bin/python benchmarks/statevector.py --no-peers --threads 8 --json-out out.json

Prints a table and writes the full results (machine, bandwidth, every timing) as JSON.
Thread environment variables are set before numba or any peer library is imported.
"""

from __future__ import annotations

import argparse
import os
import sys


def _parse_qubits(text: str) -> list[int]:
    try:
        qs = [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        msg = f"expected comma-separated integers, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not qs or min(qs) < 1:
        raise argparse.ArgumentTypeError(f"qubit counts must be positive integers, got {text!r}")
    return qs


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qubits", type=_parse_qubits, default=[20, 24, 26],
                    help="qubit counts of the random_layers rows (default 20,24,26); the largest "
                         "also sizes the qft and sycamore_rcs rows (24, or less if max < 24)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per row (median reported)")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for every simulator (default: all cores)")
    ap.add_argument("--precision", choices=("single", "double"), default="single",
                    help="precision of qvalley and Qiskit Aer (qsim: single; Qulacs: double)")
    ap.add_argument("--no-peers", action="store_true", help="time qvalley only")
    ap.add_argument("--qsim-fusion", type=int, default=3, help="qsim max fused gate size (f)")
    ap.add_argument("--json-out", default=os.path.join("results", "statevector.json"),
                    help="results JSON path (default results/statevector.json)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    threads = args.threads or os.cpu_count() or 1
    # before numba / OpenMP libraries are loaded
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["QULACS_NUM_THREADS"] = str(threads)
    os.environ["NUMBA_NUM_THREADS"] = str(threads)

    import json

    from qvalley.bench.statevector import format_table, run_benchmark

    def progress(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    result = run_benchmark(args.qubits, peers=not args.no_peers, repeats=args.repeats,
                           threads=threads, precision=args.precision, progress=progress,
                           qsim_fusion=args.qsim_fusion)
    print(format_table(result))
    if args.json_out:
        folder = os.path.dirname(args.json_out)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
            fh.write("\n")
        print(f"\nresults written to {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
