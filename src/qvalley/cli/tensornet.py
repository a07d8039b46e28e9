"""``qvalley amplitude`` and ``qvalley plan``: tensor-network contraction from the command line,
plus the ``--method tensornet`` paths of ``qvalley run`` and ``qvalley xeb``.

Bitstrings use qvalley's bit order: qubit 0 is the rightmost character.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .._errors import QValleyError

Handler = Callable[[argparse.Namespace], int]


def _search_time(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--search-time must be seconds, got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"--search-time must be > 0, got {text!r}")
    return v


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("file")
    p.add_argument("--precision", choices=("single", "double"), default="double")
    p.add_argument("--max-memory", default="8GiB",
                   help="cap on the largest intermediate (e.g. 8GiB, 512MB); slices to fit")
    p.add_argument("--search-time", type=_search_time, default=5.0,
                   help="seconds of contraction-path search (cached on disk)")
    p.add_argument("--json", action="store_true")


def register(sub: Any) -> dict[str, Handler]:
    am = sub.add_parser("amplitude", help="exact amplitudes by tensor-network contraction")
    _common(am)
    am.add_argument("--bitstring", action="append", required=True,
                    help="basis state, qubit 0 rightmost (repeat for several)")
    am.add_argument("--cluster", default=None,
                    help="Dask scheduler address (tcp://host:8786) or 'local'")
    am.add_argument("--threads", type=int, default=None, help="local threads for slices")
    am.add_argument("--checkpoint", default=None,
                    help="file for finished slice sums; rerun with it to resume")
    pl = sub.add_parser("plan", help="cost of a tensor-network contraction, before contracting")
    _common(pl)
    return {"amplitude": cmd_amplitude, "plan": cmd_plan}


def _sim(a: argparse.Namespace, circuit: Any) -> Any:
    from ..sim.tensornet import TensorNetworkSimulator

    return TensorNetworkSimulator(circuit, a.precision, a.max_memory, a.search_time,
                                  threads=getattr(a, "threads", None),
                                  cluster=getattr(a, "cluster", None),
                                  checkpoint=getattr(a, "checkpoint", None))


def _load(path: str) -> Any:
    from ..formats import load

    return load(path)


def cmd_amplitude(a: argparse.Namespace) -> int:
    circuit = _load(a.file)
    sim = _sim(a, circuit)
    t0 = time.perf_counter()
    amps = sim.amplitudes(a.bitstring)
    seconds = time.perf_counter() - t0
    plan = sim.plan(next(iter(sim._plans)) if sim._plans else ())
    out = {"amplitudes": {b: [float(v.real), float(v.imag)] for b, v in zip(a.bitstring, amps,
                                                                           strict=True)},
           "log10_flops": plan.log10_flops, "largest_tensor_log2": plan.largest_tensor_log2,
           "slices": plan.slices, "seconds": seconds}
    if a.json:
        print(json.dumps(out))
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{a.file}: {circuit.num_qubits} qubits, {seconds:.3f} s "
                    f"(10^{plan.log10_flops:.2f} FLOPs, largest 2^{plan.largest_tensor_log2:.1f}, "
                    f"{plan.slices} slices, {a.precision})")
    t.add_column("bitstring (qubit 0 rightmost)")
    t.add_column("amplitude", justify="right")
    t.add_column("probability", justify="right")
    for b, v in zip(a.bitstring, amps, strict=True):
        t.add_row(b, f"{complex(v):.6e}", f"{abs(v) ** 2:.6e}")
    Console().print(t)
    return 0


def cmd_plan(a: argparse.Namespace) -> int:
    circuit = _load(a.file)
    rep = _sim(a, circuit).plan().report()
    rep["num_qubits"] = circuit.num_qubits
    if a.json:
        print(json.dumps(rep))
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{a.file}: contraction plan for one amplitude")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_row("log10 FLOPs", f"{rep['log10_flops']:.3f}")
    t.add_row("largest intermediate", f"2^{rep['largest_tensor_log2']:.1f} elements, "
              f"{rep['largest_tensor_bytes'] / 2**20:.3f} MiB")
    t.add_row("slices", str(rep["slices"]))
    t.add_row("tensors after simplification", str(rep["tensors"]))
    t.add_row("estimated time here", f"{rep['estimated_seconds']:.3g} s "
              f"(at {rep['measured_rate_flops'] / 1e9:.1f} G multiply-adds/s)")
    t.add_row("path search", f"{rep['search_seconds']:.2f} s")
    Console().print(t)
    return 0


def run_tensornet(a: argparse.Namespace) -> int:
    """``qvalley run FILE --method tensornet``: sampling by contraction (no device, no noise)."""
    from ..sim.tensornet import run

    circuit = _load(a.file)
    t0 = time.perf_counter()
    res = run(circuit, a.shots, a.seed, a.precision)
    seconds = time.perf_counter() - t0
    if a.json:
        print(json.dumps({"counts": res.counts, "shots": res.shots, "num_qubits": res.num_qubits,
                          "method": "tensornet", "seconds": seconds}))
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{a.file}: {res.num_qubits} qubits, {res.shots} shots, {seconds:.3f} s "
                    f"(tensornet, {a.precision})")
    t.add_column("bitstring (bit 0 rightmost)")
    t.add_column("count", justify="right")
    for bits, k in sorted(res.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:32]:
        t.add_row(bits, str(k))
    Console().print(t)
    return 0


def tensornet_xeb(device: Any, num_qubits: int, cycles: int, shots: int, seed: int | None,
                  noise: bool) -> Any:
    """XEB of an RCS experiment at sizes beyond a statevector.

    Samples come from the digital error model: with probability F (the calibration's predicted
    fidelity; 1 without noise) a sample is drawn from the ideal distribution (tensor-network
    sampling), otherwise uniformly. The ideal probabilities of all samples come from batched
    tensor-network amplitudes. ``ideal_xeb`` is estimated from the ideal samples
    (``2^n E[p] - 1``) beyond 22 qubits.
    """
    from ..bench.xeb import XEBResult, device_rcs, linear_xeb, predicted_fidelity
    from ..devices import calibration_at
    from ..sim.tensornet import TensorNetworkSimulator

    t0 = time.perf_counter()
    cal = calibration_at(device) if noise else None
    inst = device_rcs(device, num_qubits, cycles, seed, calibration=cal) if cal is not None \
        else device_rcs(device, num_qubits, cycles, seed)
    f_pred = predicted_fidelity(inst.circuit, cal, inst.region) if cal is not None else 1.0
    rng = np.random.default_rng(seed)
    sim = TensorNetworkSimulator(inst.circuit, "double", search_time=2.0)
    k = int(rng.binomial(shots, min(max(f_pred, 0.0), 1.0)))
    ideal_counts = sim.sample(k, rng) if k else {}
    bits = [b for b, c in ideal_counts.items() for _ in range(c)]
    bits += ["".join(map(str, rng.integers(0, 2, num_qubits))) for _ in range(shots - k)]
    uniq = sorted(set(bits))
    amp = dict(zip(uniq, sim.amplitudes(uniq), strict=True))
    p = np.array([abs(amp[b]) ** 2 for b in bits])
    f, err = linear_xeb(p, num_qubits)
    ideal_p = np.array([abs(amp[b]) ** 2 for b in ideal_counts for _ in range(ideal_counts[b])])
    ideal_xeb = float(2**num_qubits * ideal_p.mean() - 1) if ideal_p.size else float("nan")
    return XEBResult(f, err, f_pred, num_qubits, cycles, shots, str(device.name), inst.region,
                     "tensornet", bool(noise), time.perf_counter() - t0, ideal_xeb)


__all__ = ["QValleyError", "cmd_amplitude", "cmd_plan", "register", "run_tensornet",
           "tensornet_xeb"]
