"""Tensor-network benchmark: qvalley's executor against cotengra's ``tree.contract`` on the
identical tree and arrays (same precision, same BLAS threads, one process), and batched amplitudes
(B bitstrings per contraction through a batch index) against one contraction per bitstring with
the same simulator and against one-at-a-time (a fresh simulator per bitstring), same circuit.
Our executor's first call (its buffer pool empty: intermediates are written into fresh memory) is
timed apart from the repeated calls (best of ``--repeats``, the pool kept from the call before);
the pool is released before cotengra runs (``--theirs-first``: cotengra runs first, so that its
first call, not ours, meets the process's fresh memory).

With ``--threads T`` our executor contracts T slices at once (BLAS one thread each) and cotengra
runs with T BLAS threads (set through threadpoolctl). ``--profile N`` prints the N
slowest steps of the first slice, ours next to cotengra's same step (numpy's matmul/transposes
through cotengra's own tensordot), and ``--executor-only`` skips the batch-amplitude part.

Usage:
    .venv/bin/python benchmarks/tensornet.py [--device sycamore-53 --qubits 30 --cycles 12]
        [--file circuit.qsim] [--search-time 20] [--amplitudes 1000] [--json out.json]
        [--no-plain] [--unpooled] [--threads 2] [--profile 15] [--executor-only]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np


def _best(fn: Any, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def _blas_threads(n: int) -> bool:
    """Set the loaded BLAS libraries' thread count (``False`` where none is found)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(int(n), user_api="blas")  # (not as a context: stays until the next call)
    return any(i["user_api"] == "blas" for i in threadpool_info())


def _profile(ex: Any, tree: Any, arrays: list[Any], top: int) -> list[dict[str, Any]]:
    """Per-step wall times of slice 0: our executor (a repeated call) and cotengra's contractor
    step by step (its tensordot/einsum, as ``tree.contract`` runs them)."""
    from cotengra.contract import einsum as ctg_einsum
    from cotengra.contract import tensordot as ctg_tensordot

    ex.contract_core(ex.slice_arrays(arrays, 0))
    ours: list[float] = []
    ex.contract_core(ex.slice_arrays(arrays, 0), timings=ours)
    ex.release_buffers()
    theirs: list[float] = []
    temps = dict(enumerate(tree.slice_arrays(arrays, 0)))
    for pi, li, ri, tdot, arg, perm in tree.get_contractor().contractions:
        t0 = time.perf_counter()
        x, y = temps.pop(li), temps.pop(ri)
        if tdot:
            r = ctg_tensordot(x, y, arg)
            r = np.transpose(r, perm) if perm else r
        else:
            r = ctg_einsum(arg, x, y)
        temps[pi] = r
        theirs.append(time.perf_counter() - t0)
    rows = []
    for j, st in enumerate(ex.steps):
        kind = ("one-pass" if st.small is not None else "einsum" if st.eq is not None
                else "chunked" if st.lchunk is not None else "batched" if st.lbat else "matmul")
        copies = "".join(c for c, p in (("L", st.lperm), ("R", st.rperm)) if p is not None)
        rows.append({"step": j, "out_log2": float(np.log2(max(1, int(np.prod(st.shape or (1,)))))),
                     "kind": kind, "copies": copies, "m": st.m, "k": st.k, "n": st.n,
                     "ours_s": ours[j], "cotengra_s": theirs[j]})
    rows.sort(key=lambda r: -max(r["ours_s"], r["cotengra_s"]))
    print(f"slice 0: ours {sum(ours):.3f} s, cotengra {sum(theirs):.3f} s over {len(ours)} steps")
    print(f"{'step':>5} {'out':>5} {'kind':<9} {'copies':<6} {'m':>9} {'k':>5} {'n':>5} "
          f"{'ours s':>8} {'cotengra s':>10}")
    for r in rows[:top]:
        print(f"{r['step']:>5} {r['out_log2']:>5.1f} {r['kind']:<9} {r['copies']:<6} {r['m']:>9} "
              f"{r['k']:>5} {r['n']:>5} {r['ours_s']:>8.3f} {r['cotengra_s']:>10.3f}")
    return rows[:top]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="sycamore-53")
    ap.add_argument("--qubits", type=int, default=30)
    ap.add_argument("--cycles", type=int, default=12)
    ap.add_argument("--file", default=None, help="a circuit file instead of a device RCS circuit")
    ap.add_argument("--search-time", type=float, default=20.0)
    ap.add_argument("--max-memory", default="8GiB")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--amplitudes", type=int, default=1000)
    ap.add_argument("--single", type=int, default=20, help="one-at-a-time calls to time")
    ap.add_argument("--minimize", default="combo", help="path objective: combo or flops")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="most bitstrings per batched contraction (default: the simulator's)")
    ap.add_argument("--no-plain", action="store_true",
                    help="skip the row without the one-pass small kernel (saves time on big trees)")
    ap.add_argument("--unpooled", action="store_true",
                    help="also time our executor once with the buffer pool off")
    ap.add_argument("--threads", type=int, default=1,
                    help="our slice threads and cotengra's BLAS threads")
    ap.add_argument("--profile", type=int, default=0, help="print the N slowest steps")
    ap.add_argument("--executor-only", action="store_true", help="skip the batch part")
    ap.add_argument("--precision", default="double,single")
    ap.add_argument("--theirs-first", action="store_true",
                    help="time cotengra before our executor (default: after it)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()

    import qvalley
    from qvalley.sim.tensornet import TensorNetworkSimulator, replay

    if a.file:
        circuit = qvalley.load(a.file)
        name = a.file
    else:
        from qvalley.bench.xeb import device_rcs
        from qvalley.devices import get_device

        circuit = device_rcs(get_device(a.device), a.qubits, a.cycles, seed=0).circuit
        name = f"{a.device} RCS n{a.qubits} m{a.cycles}"
    n = circuit.num_qubits
    rows: list[dict[str, Any]] = []
    from qvalley.sim.tensornet import contract as tn_contract

    blas_ok = _blas_threads(1)
    for prec in a.precision.split(","):
        sim = TensorNetworkSimulator(circuit, prec, a.max_memory, a.search_time, threads=1,
                                     minimize=a.minimize)
        t0 = time.perf_counter()
        plan = sim.plan()
        search = time.perf_counter() - t0
        net, pl, _ = sim._plans[()]
        dt = np.complex64 if prec == "single" else np.complex128
        arrays = [x.astype(dt) for x in replay(pl.simplified, net.arrays, net.variable)]
        ex = pl.executor
        tree = pl.tree

        def run(e: Any) -> Any:
            if a.threads > 1:
                return tn_contract(e, arrays, threads=a.threads, progress=False)
            parts = [e.contract_core(e.slice_arrays(arrays, i)) for i in range(e.nslices)]
            return sum(parts[1:], parts[0])

        def ours() -> Any:
            return run(ex)

        from qvalley.sim.tensornet import Executor
        from qvalley.sim.tensornet.kernels import warm

        warm(dt)  # load the compiled kernels from numba's disk cache before any timing

        ex_plain = Executor(tree, pl.simplified.variable, small_kernel=False)

        def plain() -> Any:  # our executor without the one-pass small kernel (transpose + matmul)
            parts = [ex_plain.contract_core(ex_plain.slice_arrays(arrays, i))
                     for i in range(ex_plain.nslices)]
            return sum(parts[1:], parts[0])

        def theirs() -> Any:
            return tree.contract(arrays)

        def time_theirs() -> tuple[complex, float]:
            _blas_threads(a.threads)
            t0 = time.perf_counter()
            v = complex(np.asarray(theirs()).reshape(-1)[0])
            t = min(time.perf_counter() - t0, _best(theirs, a.repeats - 1) if a.repeats > 1
                    else float("inf"))
            _blas_threads(1)
            return v, t

        if a.theirs_first:  # cotengra meets the process's memory fresh, ours after it
            v2, t_theirs = time_theirs()
        t0 = time.perf_counter()
        v1 = complex(np.asarray(ours()).reshape(-1)[0])  # first call: the pool is empty
        t_first = time.perf_counter() - t0
        t_ours = _best(ours, a.repeats)  # repeated calls: buffers reused
        pool_bytes = ex.pool.free_bytes
        arena_misses = ex.arena_misses
        ex.release_buffers()
        t_unpooled = None
        if a.unpooled:
            ex_np = Executor(tree, pl.simplified.variable, pool=False)
            t_unpooled = _best(lambda: run(ex_np), 1)
        if not a.theirs_first:
            v2, t_theirs = time_theirs()
        prof = _profile(ex, tree, arrays, a.profile) if a.profile else None  # (after the timings)
        row = {"precision": prec, "log10_flops": plan.log10_flops,
               "largest_tensor_log2": plan.largest_tensor_log2, "slices": plan.slices,
               "search_s": search, "qvalley_s": t_ours, "qvalley_first_s": t_first,
               "qvalley_unpooled_s": t_unpooled, "pool_GiB": pool_bytes / 2**30,
               "cotengra_s": t_theirs, "speedup": t_theirs / t_ours,
               "speedup_first": t_theirs / t_first, "rel_diff": abs(v1 - v2) / abs(v2),
               "threads": a.threads, "blas_threads_set": blas_ok, "arena_misses": arena_misses,
               "profile": prof}
        if not a.no_plain:
            v0 = complex(np.asarray(plain()).reshape(-1)[0])
            t_plain = _best(plain, a.repeats)
            row.update({"qvalley_no_small_s": t_plain, "small_kernel_gain": t_plain / t_ours,
                        "rel_diff_small_vs_plain": abs(v1 - v0) / abs(v0)})
            ex_plain.release_buffers()
        rows.append(row)
    if a.executor_only:
        _print_rows(name, n, rows)
        if a.json:
            with open(a.json, "w") as fh:
                json.dump({"circuit": name, "num_qubits": n, "executor": rows}, fh, indent=2)
        return
    rng = np.random.default_rng(1)
    bits = ["".join(map(str, rng.integers(0, 2, n))) for _ in range(a.amplitudes)]
    batch_sim = TensorNetworkSimulator(circuit, "single", a.max_memory, a.search_time, threads=1,
                                       batch_size=a.batch_size, minimize=a.minimize)
    batch_sim.plan()  # the one-bitstring plan (disk cache); its batched form is made in the call
    t0 = time.perf_counter()
    amps = batch_sim.amplitudes(bits)  # grouped by open qubits, B bitstrings per contraction
    t_batch = (time.perf_counter() - t0) / len(bits)
    bsize = max((k[1] for k in batch_sim._bplans), default=0)
    chose = batch_sim._batched.get(((), bsize))  # measured choice: batched or one at a time
    batch_sim.release_buffers()
    reuse_sim = TensorNetworkSimulator(circuit, "single", a.max_memory, a.search_time, threads=1,
                                       minimize=a.minimize)
    reuse_sim.plan()
    t0 = time.perf_counter()
    amps_reuse = reuse_sim.amplitudes(bits, batch=False)  # one contraction per bitstring
    t_reuse = (time.perf_counter() - t0) / len(bits)
    reuse_sim.release_buffers()
    scale = np.abs(amps_reuse).max()
    batch_diff = float(np.abs(amps - amps_reuse).max() / scale)
    singles = []
    for b in bits[: a.single]:
        t0 = time.perf_counter()
        s = TensorNetworkSimulator(circuit, "single", a.max_memory, a.search_time, threads=1,
                                   minimize=a.minimize)
        v = s.amplitudes([b])[0]
        singles.append(time.perf_counter() - t0)
        s.release_buffers()
        assert abs(v - amps[bits.index(b)]) <= 1e-4 * abs(v) + 1e-12
    t_single = statistics.median(singles)
    out = {"circuit": name, "num_qubits": n, "executor": rows,
           "batch": {"amplitudes": len(bits), "batch_size": bsize, "batched_chosen": chose,
                     "per_amplitude_batch_s": t_batch,
                     "per_amplitude_reused_plan_s": t_reuse,
                     "per_amplitude_single_s": t_single, "speedup": t_single / t_batch,
                     "speedup_over_reused_plan": t_reuse / t_batch,
                     "max_abs_diff_batch_vs_reused": batch_diff}}
    _print_rows(name, n, rows)
    b = out["batch"]
    print(f"{b['amplitudes']} amplitudes (complex64): {b['per_amplitude_batch_s'] * 1e3:.2f} ms each "
          f"batched (B={bsize}, batches kept after the trial: {chose}) vs "
          f"{b['per_amplitude_single_s'] * 1e3:.2f} ms one at a time "
          f"(median of {a.single}; plan from the disk cache) -> {b['speedup']:.1f}x; "
          f"one simulator, one contraction per bitstring: {t_reuse * 1e3:.2f} ms "
          f"({b['speedup_over_reused_plan']:.2f}x; max diff {batch_diff:.1e} of max |amp|)")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=2)


def _print_rows(name: str, n: int, rows: list[dict[str, Any]]) -> None:
    print(f"{name}: {n} qubits; threads {rows[0]['threads'] if rows else 1}")
    print(f"{'precision':<9} {'log10 FLOPs':>11} {'largest':>8} {'slices':>6} {'search s':>8} "
          f"{'first s':>10} {'qvalley s':>10} {'no-small s':>10} {'cotengra s':>10} "
          f"{'ratio 1st':>9} {'ratio':>6} {'rel diff':>9}")
    for r in rows:
        nosmall = r.get("qvalley_no_small_s")
        print(f"{r['precision']:<9} {r['log10_flops']:>11.2f} {r['largest_tensor_log2']:>8.1f} "
              f"{r['slices']:>6} {r['search_s']:>8.1f} {r['qvalley_first_s']:>10.4f} "
              f"{r['qvalley_s']:>10.4f} "
              f"{'-' if nosmall is None else f'{nosmall:.4f}':>10} "
              f"{r['cotengra_s']:>10.4f} {r['speedup_first']:>9.2f} {r['speedup']:>6.2f} "
              f"{r['rel_diff']:>9.1e}")
        if r["qvalley_unpooled_s"] is not None:
            print(f"{'':<9} unpooled (one call): {r['qvalley_unpooled_s']:.4f} s")
        print(f"{'':<9} pool kept between calls: {r['pool_GiB']:.2f} GiB; "
              f"calls off their arena plan: {r['arena_misses']}")


if __name__ == "__main__":
    main()
