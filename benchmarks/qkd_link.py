"""QKD link benchmark: pulse simulation, Cascade and Toeplitz hashing, fast paths vs references.

Run:  .venv/bin/python benchmarks/qkd_link.py [--json OUT.json] [--quick]

Every fast path is timed against its plain reference on the same inputs in this one process, so the
ratios are meaningful even on a loaded machine; absolute rates depend on the load.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from qvalley.network.qkd import LinkParameters, h2, simulate_pulses
from qvalley.network.qkd.amplification import toeplitz_hash, toeplitz_hash_reference
from qvalley.network.qkd.cascade import cascade, cascade_reference
from qvalley.network.qkd.protocol import _scan, _scan_reference


def best(fn: Callable[[], Any], repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", default=None)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    a = ap.parse_args()
    rep = 1 if a.quick else 3
    gys = LinkParameters.gys()
    out: dict[str, Any] = {}

    pulses = 10**6 if a.quick else 10**7
    print(f"pulse simulation, GYS, 25 km, {pulses:.0e} pulses (best of {rep})")
    print(f"{'eve':18s} {'pulses/s':>12s}")
    simulate_pulses(gys, 25e3, 10**4, seed=0)
    for eve in ("none", "intercept-resend", "pns"):
        t = best(lambda eve=eve: simulate_pulses(gys, 25e3, pulses, eve=eve, seed=1), rep)
        out[f"pulses_per_s_{eve}"] = pulses / t
        print(f"{eve:18s} {pulses / t:12.3e}")
    rng = np.random.default_rng(0)
    w = rng.bit_generator.random_raw(1 << 22)
    thr_cls = np.array([45875, 58982], dtype=np.uint64)
    thr_evt = np.array([2**40, 2**38, 0], dtype=np.uint64)
    _scan(w[:10], thr_cls, thr_evt)
    tk = best(lambda: _scan(w, thr_cls, thr_evt), rep)
    tr = best(lambda: _scan_reference(w, thr_cls, thr_evt), rep)
    out["pulse_scan_speedup_vs_numpy"] = tr / tk
    print(f"per-pulse scan, numba vs numpy reference: {tr / tk:.2f}x "
          f"({w.size / tk:.3e} vs {w.size / tr:.3e} /s)")

    n = 20_000 if a.quick else 100_000
    print(f"\nCascade, {n} bits, 10 passes (f = leaked / (n H2(QBER)))")
    print(f"{'QBER':>6s} {'f':>7s} {'kbit/s':>10s} {'ok':>4s}")
    cascade(np.zeros(8, np.uint8), np.zeros(8, np.uint8), 0.01, 0)
    for q in (0.01, 0.02, 0.03, 0.05):
        alice = rng.integers(0, 2, n, dtype=np.uint8)
        bob = alice ^ (rng.random(n) < q).astype(np.uint8)
        e = float(np.mean(alice != bob))
        res = cascade(alice, bob, q, seed=1)
        t = best(lambda alice=alice, bob=bob, q=q: cascade(alice, bob, q, seed=1), rep)
        f = res.leaked_bits / (n * h2(e))
        ok = bool(np.array_equal(res.corrected, alice))
        out[f"cascade_q{q}"] = {"f": f, "kbit_per_s": n / t / 1e3, "corrected": ok}
        print(f"{q:6.2f} {f:7.3f} {n / t / 1e3:10.0f} {ok!s:>4s}")
    m = 5_000
    alice = rng.integers(0, 2, m, dtype=np.uint8)
    bob = alice ^ (rng.random(m) < 0.03).astype(np.uint8)
    tk = best(lambda: cascade(alice, bob, 0.03, seed=2), rep)
    tr = best(lambda: cascade_reference(alice, bob, 0.03, seed=2), 1)
    out["cascade_speedup_vs_reference_5k"] = tr / tk
    print(f"Cascade numba vs plain-Python reference (5000 bits, QBER 3%): {tr / tk:.0f}x")

    nb = 10**5 if a.quick else 10**6
    mb = nb // 2
    x = rng.integers(0, 2, nb, dtype=np.uint8)
    seed_bits = rng.integers(0, 2, nb + mb - 1, dtype=np.uint8)
    toeplitz_hash(x[:64], seed_bits[: 64 + 31], 32)
    t = best(lambda: toeplitz_hash(x, seed_bits, mb), rep)
    out["toeplitz_mbit_per_s_1e6"] = nb / t / 1e6
    print(f"\nToeplitz {mb}x{nb} (exact FFT): {nb / t / 1e6:.2f} Mbit/s in")
    ns = 4000
    xs, ts = x[:ns], seed_bits[: ns + ns // 2 - 1]
    tf = best(lambda: toeplitz_hash(xs, ts, ns // 2), rep)
    td = best(lambda: toeplitz_hash_reference(xs, ts, ns // 2), rep)
    out["toeplitz_speedup_vs_dense_4000"] = td / tf
    same = bool(np.array_equal(toeplitz_hash(xs, ts, ns // 2), toeplitz_hash_reference(xs, ts, ns // 2)))
    print(f"Toeplitz FFT vs dense GF(2) reference at {ns} bits: {td / tf:.1f}x (equal: {same})")

    if a.json:
        d = os.path.dirname(os.path.abspath(a.json))
        fd, tmp = tempfile.mkstemp(dir=d, suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(out, fh, indent=2)
        os.replace(tmp, a.json)


if __name__ == "__main__":
    main()
