"""Random circuit sampling on a device, scored by linear cross-entropy benchmarking (XEB).

The experiment of the quantum-advantage papers (Arute et al., Nature 574, 505 (2019); Wu et al.,
PRL 127, 180501 (2021); Zhu et al., Sci. Bull. 67, 240 (2022)):

1. pick a connected region of ``n`` qubits of the chip (:func:`select_region`) and draw a random
   circuit of ``m`` cycles on it with the chip's coupler patterns and per-coupler fSim angles
   (:func:`device_rcs`);
2. sample bitstrings ``x_i`` from the (emulated, noisy) processor;
3. score them with the ideal probabilities ``p(x_i)`` of the noiseless circuit:
   ``F_XEB = 2^n ⟨p(x_i)⟩ − 1`` (:func:`linear_xeb`), which is 1 for perfect sampling of a
   Porter–Thomas distribution and 0 for uniform noise;
4. compare with the *digital error model* ``F ≈ Π(1−e_1q) Π(1−e_2q) Π(1−e_readout)`` over every
   gate and measured qubit, with the Pauli error rates of the calibration
   (:func:`predicted_fidelity`).

Virtual qubit ``v`` of an RCS circuit sits on physical qubit ``region[v]``.

Examples:
    >>> import numpy as np
    >>> f, err = linear_xeb(np.full(1000, 1 / 16), num_qubits=4)  # uniform outcomes
    >>> round(f, 12), round(err, 12)
    (0.0, 0.0)
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from .._errors import DeviceError
from ..circuit import Circuit
from .rcs import FSIM_PHI, FSIM_THETA, PATTERN_SEQUENCE, rcs_circuit


def select_region(device: Any, num_qubits: int) -> list[int]:
    """A connected set of ``num_qubits`` physical qubits near the middle of ``device``, ascending.

    Grown breadth-first over the couplers from the qubit nearest the chip's centroid, always
    adding the frontier qubit closest to the centroid (ties by index), so regions are compact and
    deterministic. A device without couplers (``ideal``) gives ``0..n-1``.
    """
    total = int(device.num_qubits)
    if not 1 <= num_qubits <= total:
        raise DeviceError(f"{device.name} has {total} qubits; cannot select {num_qubits}")
    if device.couplers is None or not device.coordinates:
        return list(range(num_qubits))
    coords = np.asarray(device.coordinates, dtype=float)
    centre = coords.mean(axis=0)
    dist = np.linalg.norm(coords - centre, axis=1)
    adjacency: dict[int, list[int]] = {q: [] for q in range(total)}
    for a, b in device.couplers:
        adjacency[a].append(b)
        adjacency[b].append(a)
    start = int(np.lexsort((np.arange(total), dist))[0])
    chosen = {start}
    frontier = set(adjacency[start])
    while len(chosen) < num_qubits:
        if not frontier:
            raise DeviceError(f"{device.name}: no connected region of {num_qubits} qubits "
                              f"(the component holding qubit {start} has {len(chosen)})")
        q = min(frontier, key=lambda x: (dist[x], x))
        frontier.discard(q)
        chosen.add(q)
        frontier.update(r for r in adjacency[q] if r not in chosen)
    return sorted(chosen)


@dataclass(frozen=True)
class RCSInstance:
    """A random circuit on virtual qubits ``0..n-1``; virtual ``v`` runs on ``region[v]``."""

    circuit: Circuit
    region: tuple[int, ...]
    device: str
    cycles: int
    sequence: str
    seed: int | None

    def physical_circuit(self, num_qubits: int) -> Circuit:
        """The same circuit over the device's physical qubit indices (``num_qubits`` wide)."""
        out = Circuit(num_qubits, name=self.circuit.name)
        for op in self.circuit.operations:
            out.append(op.gate, [self.region[q] for q in op.qubits])
        return out


def device_rcs(device: Any, num_qubits: int, cycles: int, seed: int | None = 0,
               sequence: str = PATTERN_SEQUENCE, calibration: Any = None) -> RCSInstance:
    """A random circuit of ``cycles`` cycles on a connected ``num_qubits`` region of ``device``.

    Coupler patterns come from the device profile (letters of ``sequence``); each coupler's fSim
    angles from ``calibration`` when given (``fsim_theta``/``fsim_phi``), else ``(π/2, π/6)``.
    A device whose native two-qubit gate is not fSim still gets fSim gates: transpile to run them.
    """
    patterns = getattr(device, "patterns", None) or {}
    if not patterns:
        raise DeviceError(f"{device.name} has no coupler patterns; random circuit sampling needs a "
                          "grid device such as zuchongzhi-2.1 or sycamore-53")
    sequence = sequence.upper()
    if not sequence:
        raise DeviceError("empty coupler pattern sequence (e.g. ABCDCDAB)")
    unknown = sorted(set(sequence) - set(patterns))
    if unknown:
        raise DeviceError(f"pattern sequence {sequence!r}: unknown pattern(s) {unknown} on "
                          f"{device.name} (available: {''.join(sorted(patterns))})")
    region = select_region(device, num_qubits)
    index = {p: v for v, p in enumerate(region)}
    virtual = {letter: [(index[a], index[b]) for a, b in pairs if a in index and b in index]
               for letter, pairs in patterns.items()}
    angles: dict[tuple[int, int], tuple[float, float]] = {}
    for pairs in virtual.values():
        for a, b in pairs:
            pa, pb = region[a], region[b]
            cal = calibration.couplers.get((min(pa, pb), max(pa, pb))) if calibration else None
            angles[(min(a, b), max(a, b))] = ((cal.fsim_theta, cal.fsim_phi) if cal is not None
                                              else (FSIM_THETA, FSIM_PHI))
    name = f"rcs_{device.name}_n{num_qubits}_m{cycles}_s{seed}"
    c = rcs_circuit(num_qubits, cycles, virtual, sequence, seed, angles, name=name)
    return RCSInstance(c, tuple(region), str(device.name), cycles, sequence, seed)


def linear_xeb(sample_probabilities: Iterable[float], num_qubits: int) -> tuple[float, float]:
    """``(F, stderr)``: ``F = 2^n ⟨p(x_i)⟩ − 1`` over the ideal probabilities of the samples, and
    the standard error of that mean."""
    p = np.asarray(list(sample_probabilities) if not isinstance(sample_probabilities, np.ndarray)
                   else sample_probabilities, dtype=float)
    if p.size == 0:
        raise ValueError("linear XEB needs at least one sample")
    scaled = p * float(2 ** num_qubits)
    err = float(scaled.std(ddof=1) / math.sqrt(p.size)) if p.size > 1 else float("nan")
    return float(scaled.mean() - 1.0), err


def xeb_from_counts(counts: Mapping[str, int], ideal: np.ndarray) -> tuple[float, float]:
    """Linear XEB of measured ``counts`` (bitstrings, qubit 0 rightmost) against the ideal
    probability vector ``ideal`` (index bit ``k`` = qubit ``k``)."""
    n = int(ideal.size).bit_length() - 1
    probs = np.concatenate([np.full(int(k), ideal[int(b, 2)]) for b, k in counts.items() if k])
    return linear_xeb(probs, n)


def predicted_fidelity(circuit: Circuit, calibration: Any, region: Sequence[int],
                       measured: Iterable[int] | None = None) -> float:
    """The digital error model ``Π(1−e_1q) Π(1−e_2q) Π(1−e_readout)``.

    Every one-qubit gate on virtual ``v`` costs ``error_1q`` of physical ``region[v]``, every
    two-qubit gate the ``error_2q`` of its coupler, and every measured qubit (default: all) its mean
    readout error ``(p(0|1) + p(1|0)) / 2``.
    """
    log_f = 0.0
    for op in circuit.operations:
        qs = [region[q] for q in op.qubits]
        if op.name in ("barrier", "measure"):
            continue
        if len(qs) == 1:
            log_f += math.log1p(-calibration.qubits[qs[0]].error_1q)
        elif len(qs) == 2:
            pair = (min(qs), max(qs))
            if pair not in calibration.couplers:
                raise DeviceError(f"no coupler between physical qubits {pair[0]} and {pair[1]}")
            log_f += math.log1p(-calibration.couplers[pair].error_2q)
        else:
            raise DeviceError(f"'{op.name}' acts on {len(qs)} qubits; the error model covers one- "
                              "and two-qubit gates (transpile first)")
    for v in (range(circuit.num_qubits) if measured is None else measured):
        qc = calibration.qubits[region[v]]
        log_f += math.log1p(-(qc.readout_p0_given_1 + qc.readout_p1_given_0) / 2)
    return math.exp(log_f)


@dataclass(frozen=True)
class XEBResult:
    """One XEB experiment: the estimate, its standard error and the digital error model."""

    xeb: float
    xeb_stderr: float
    predicted_fidelity: float
    num_qubits: int
    cycles: int
    shots: int
    device: str
    region: tuple[int, ...]
    method: str
    noise: bool
    seconds: float
    ideal_xeb: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"xeb": self.xeb, "xeb_stderr": self.xeb_stderr,
                "predicted_fidelity": self.predicted_fidelity, "num_qubits": self.num_qubits,
                "cycles": self.cycles, "shots": self.shots, "device": self.device,
                "region": list(self.region), "method": self.method, "noise": self.noise,
                "seconds": self.seconds, "ideal_xeb": self.ideal_xeb}


def run_xeb(device: Any, num_qubits: int, cycles: int, shots: int = 10000,
            seed: int | None = 0, noise: bool = True, calibration: Any = None,
            sequence: str = PATTERN_SEQUENCE, thermal: bool = True,
            trajectories: int | None = None) -> XEBResult:
    """Emulate the whole experiment: circuit, noisy sampling, ideal probabilities, XEB.

    Noisy sampling uses quantum trajectories on the statevector engine with the device's noise
    model on the chosen region (:meth:`qvalley.noise.NoiseModel.from_device`; ``thermal=False``
    leaves out T1/T2 relaxation so the model is exactly the digital error model). Without noise the
    samples come from the ideal distribution and the prediction is 1.
    """
    import time

    from ..sim import probabilities

    t0 = time.perf_counter()
    if calibration is None and noise:
        from ..devices import calibration_at

        calibration = calibration_at(device)
    inst = device_rcs(device, num_qubits, cycles, seed, sequence, calibration)
    ideal = probabilities(inst.circuit, precision="double")
    rng = np.random.default_rng(seed)
    if noise:
        from ..emulator import restrict_calibration
        from ..noise import NoiseModel
        from ..sim.trajectories import TrajectorySimulator

        profile = SimpleNamespace(num_qubits=num_qubits, native_gates=tuple(device.native_gates))
        model = NoiseModel.from_device(profile, restrict_calibration(calibration, list(inst.region)),
                                       thermal=thermal)
        measured = inst.circuit.copy().measure_all()
        res = TrajectorySimulator(model, backend=_trajectory_backend(num_qubits), precision="double").run(
            measured, shots, rng, trajectories=trajectories)
        f, err = xeb_from_counts(res.counts, ideal)
        predicted = predicted_fidelity(inst.circuit, calibration, inst.region)
        method = res.method
    else:
        samples = rng.choice(ideal.size, size=shots, p=ideal / ideal.sum())
        f, err = linear_xeb(ideal[samples], num_qubits)
        predicted, method = 1.0, "statevector"
    # what perfect sampling would score: 1 once the circuit is deep enough for Porter-Thomas
    # statistics, more for shallow circuits (then XEB overstates the fidelity)
    ideal_xeb = float(2**num_qubits * np.sum(ideal**2) - 1)
    return XEBResult(f, err, predicted, num_qubits, cycles, shots, str(device.name), inst.region,
                     method, noise, time.perf_counter() - t0, ideal_xeb)


def _trajectory_backend(num_qubits: int) -> str:
    """numpy below 16 qubits, where the fast engine's per-run fusion planning costs more than the
    gates themselves; the numba engine above."""
    return "reference" if num_qubits < 16 else "fast"


def plot_xeb(points: Sequence[Mapping[str, float]], path: str, title: str | None = None) -> None:
    """Write a PNG of XEB against cycles: measured points with ±1σ error bars and the digital error
    model's prediction. ``points`` are dicts with ``cycles``, ``xeb``, ``xeb_stderr`` and
    ``predicted_fidelity``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = sorted(points, key=lambda p: p["cycles"])
    m = [p["cycles"] for p in pts]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(m, [p["xeb"] for p in pts], yerr=[p["xeb_stderr"] for p in pts], fmt="o",
                capsize=3, label="emulated (linear XEB ± 1σ)")
    ax.plot(m, [p["predicted_fidelity"] for p in pts], "-", label="digital error model")
    ax.set_xlabel("cycles m")
    ax.set_ylabel("fidelity")
    ax.set_yscale("log" if all(p["predicted_fidelity"] > 0 for p in pts) and len(pts) > 1
                  else "linear")
    if title:
        ax.set_title(title)
    ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    from ..formats import write_atomic

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    write_atomic(path, buf.getvalue())


__all__ = [
    "RCSInstance",
    "XEBResult",
    "device_rcs",
    "linear_xeb",
    "plot_xeb",
    "predicted_fidelity",
    "run_xeb",
    "select_region",
    "xeb_from_counts",
]
