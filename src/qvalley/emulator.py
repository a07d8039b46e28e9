"""Run a circuit "on a device": transpile when needed, model the device's noise, pick a method.

:func:`run_on_device` is what ``qvalley run FILE --device NAME`` calls:

1. a circuit that already uses only the device's native gates on its couplers runs as it is (its
   qubit indices are physical); anything else is transpiled (:func:`qvalley.transpile.transpile`)
   with the calibration guiding the layout;
2. only the physical qubits the circuit touches are simulated (a 5-qubit circuit on the 66-qubit
   chip is a 5-qubit simulation), with the calibration of exactly those qubits and couplers;
3. the method (:func:`choose_method`): ``statevector`` without noise; with noise ``density``
   (exact) up to :data:`DENSITY_AUTO_MAX` qubits; ``stabilizer`` (stim) for larger Clifford
   circuits; ``trajectories`` otherwise; ``tensornet`` (noiseless, any width) when asked for,
   with its slices on a Dask cluster when ``cluster`` is given. ``auto`` says why in ``reason``.

Examples:
    >>> from qvalley import Circuit
    >>> r = run_on_device(Circuit(2).h(0).cx(0, 1), "ideal", shots=100, seed=1)
    >>> r.method, r.transpiled, sorted(r.counts)
    ('statevector', False, ['00', '11'])
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np

from ._errors import DeviceError, SimulationError, SimulationLimitError
from .circuit import Barrier, Circuit, Measure, Operation

METHODS = ("auto", "statevector", "density", "trajectories", "stabilizer", "tensornet")
DENSITY_AUTO_MAX = 10  # auto picks the exact density matrix up to here, trajectories above
DENSITY_MAX = 13
STATEVECTOR_MAX = 30
STABILIZER_MAX = 100_000


@dataclass(frozen=True)
class DeviceRun:
    """Counts of a circuit run on an emulated device, with how it was run."""

    counts: dict[str, int]
    shots: int
    num_qubits: int
    device: str
    method: str
    transpiled: bool
    noise: bool
    reason: str
    seconds: float
    simulated_qubits: list[int] = field(default_factory=list)
    initial_layout: list[int] | None = None
    final_layout: list[int] | None = None
    calibration: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "shots": self.shots, "num_qubits": self.num_qubits,
                "method": self.method, "seconds": self.seconds, "device": self.device,
                "transpiled": self.transpiled, "noise": self.noise, "method_reason": self.reason,
                "simulated_qubits": self.simulated_qubits, "initial_layout": self.initial_layout,
                "final_layout": self.final_layout, "calibration": self.calibration}


def native_fit(circuit: Circuit, device: Any) -> str | None:
    """``None`` when ``circuit`` runs on ``device`` as it is, else the first reason it does not."""
    if circuit.num_qubits > device.num_qubits:
        return f"{circuit.num_qubits} qubits > {device.num_qubits}"
    natives = set(device.native_gates)
    for i, op in enumerate(circuit.operations):
        if isinstance(op.gate, (Measure, Barrier)) or op.name == "reset":
            continue
        if op.name not in natives:
            return f"operation {i} '{op.name}' is not native"
        if device.couplers is None:
            continue
        if len(op.qubits) > 2:
            return f"operation {i} '{op.name}' acts on {len(op.qubits)} qubits"
        if len(op.qubits) == 2 and not device.is_coupled(*op.qubits):
            return f"operation {i} '{op.name}' on {list(op.qubits)} has no coupler"
    return None


def _compact(circuit: Circuit) -> tuple[Circuit, list[int]]:
    """The circuit restricted to the qubits it touches, renumbered ``0..k-1`` in ascending order."""
    # a barrier touches no state: its qubits do not count, and it keeps only the simulated ones
    used = sorted({q for op in circuit.operations if not isinstance(op.gate, Barrier)
                   for q in op.qubits})
    if not used:
        used = [0]
    index = {p: v for v, p in enumerate(used)}
    ops = []
    for op in circuit.operations:
        qs = tuple(index[q] for q in op.qubits if q in index)
        if isinstance(op.gate, Barrier):
            if qs:
                ops.append(Operation(Barrier(len(qs)), qs))
            continue
        ops.append(Operation(op.gate, qs, op.clbits, op.condition))
    return Circuit(len(used), circuit.num_clbits, ops, circuit.global_phase, cregs=circuit.cregs,
                   name=circuit.name), used


def restrict_calibration(calibration: Any, used: list[int]) -> Any:
    """The calibration of physical qubits ``used`` renumbered ``0..k-1`` (couplers among them)."""
    index = {p: v for v, p in enumerate(used)}
    couplers = {(index[a], index[b]): c for (a, b), c in calibration.couplers.items()
                if a in index and b in index}
    return SimpleNamespace(qubits=[calibration.qubits[p] for p in used], couplers=couplers)


def choose_method(method: str, num_qubits: int, noise: bool, clifford: bool = False,
                  pauli_noise: bool = True) -> tuple[str, str]:
    """``(method, reason)`` for ``num_qubits`` simulated qubits; raises a clear error naming the
    methods that can hold them when the requested one cannot.

    ``auto``: without noise the exact statevector up to :data:`STATEVECTOR_MAX` qubits; with noise
    the exact density matrix up to :data:`DENSITY_AUTO_MAX`; a Clifford circuit beyond those sizes
    goes to the stabilizer method (any size); anything else noisy to trajectories.
    """
    if method not in METHODS:
        raise SimulationError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    if method == "tensornet":  # exact contraction of the noiseless circuit, any width
        if noise:
            raise SimulationError("the tensornet method is noiseless: use --no-noise, or method "
                                  "density or trajectories for a noisy run")
        return "tensornet", "requested: tensor-network contraction (noiseless, any width)"
    limits = {"statevector": STATEVECTOR_MAX, "density": DENSITY_MAX,
              "trajectories": STATEVECTOR_MAX, "stabilizer": STABILIZER_MAX}
    twirl = "" if pauli_noise or not noise else " (non-Pauli channels Pauli-twirled)"
    if method == "auto":
        if not noise and num_qubits <= STATEVECTOR_MAX:
            method, reason = "statevector", "no noise: one exact statevector"
        elif noise and num_qubits <= DENSITY_AUTO_MAX:
            method = "density"
            reason = f"noise on {num_qubits} <= {DENSITY_AUTO_MAX} qubits: exact density matrix"
        elif clifford:
            method = "stabilizer"
            reason = (f"Clifford circuit on {num_qubits} qubits: stabilizer tableau (stim)" + twirl)
        elif noise:
            method = "trajectories"
            reason = (f"noise on {num_qubits} > {DENSITY_AUTO_MAX} qubits: quantum trajectories "
                      "on the statevector engine")
        else:
            method, reason = "statevector", "no noise"
    else:
        reason = "requested" + (twirl if method == "stabilizer" else "")
        if method == "statevector" and noise:
            raise SimulationError("the statevector method is noiseless: use --no-noise, or "
                                  "method density or trajectories for a noisy run")
        if method == "stabilizer" and not clifford:
            raise SimulationError("the stabilizer method runs Clifford circuits only; this one has "
                                  "non-Clifford gates (use statevector, density or trajectories)")
    if num_qubits > limits[method]:
        can = [m for m, k in limits.items() if num_qubits <= k and (noise or m != "density")
               and (m != "statevector" or not noise) and (m != "stabilizer" or clifford)]
        raise SimulationLimitError(
            f"the {method} method holds at most {limits[method]} qubits; this run needs "
            f"{num_qubits}" + (f" (methods that can: {', '.join(can)})" if can else
                               " and no method can hold them (the stabilizer method needs a "
                               "Clifford circuit)"))
    return method, reason


def run_on_device(circuit: Circuit, device: Any, *, shots: int = 1024,
                  seed: int | np.random.Generator | None = None, noise: bool = True,
                  method: str = "auto", calibration: Any = None, at: Any = None,
                  precision: str = "single", cluster: Any = None) -> DeviceRun:
    """Run ``circuit`` on ``device`` (a profile or its name). See the module docstring."""
    from .devices import calibration_at, get_device
    from .sim import get_simulator
    from .sim.stabilizer import StabilizerSimulator, is_clifford

    t0 = time.perf_counter()
    dev = get_device(device) if isinstance(device, str) else device
    if circuit.num_qubits > dev.num_qubits:
        raise DeviceError(f"the circuit has {circuit.num_qubits} qubits; {dev.name} has "
                          f"{dev.num_qubits}")
    cal = calibration if calibration is not None else calibration_at(dev, at)
    if not any(isinstance(op.gate, Measure) for op in circuit.operations):
        circuit = circuit.copy().measure_all()
    layouts: tuple[list[int] | None, list[int] | None] = (None, None)
    transpiled = native_fit(circuit, dev) is not None
    physical = circuit
    if transpiled:
        from .transpile import transpile

        # level 1 keeps a Clifford circuit Clifford (two-qubit resynthesis yields arbitrary angles)
        tr = transpile(circuit, dev, calibration=cal, seed=seed if isinstance(seed, int) else 0,
                       optimization_level=1 if is_clifford(circuit) else 2)
        physical = tr.circuit
        layouts = (tr.initial_layout, tr.final_layout)
    small, used = _compact(physical)
    noisy = bool(noise) and cal is not None
    model = None
    if noisy:
        from .noise import NoiseModel

        model = NoiseModel.from_device(SimpleNamespace(num_qubits=small.num_qubits,
                                                       native_gates=dev.native_gates),
                                       restrict_calibration(cal, used))
    chosen, reason = choose_method(method, small.num_qubits, noisy, is_clifford(small),
                                   model is None or model.is_pauli())
    if chosen == "tensornet":
        from .sim.tensornet import run as tensornet_run

        result = tensornet_run(small, shots, seed, precision="double", cluster=cluster)
    elif chosen == "statevector":
        result = get_simulator("statevector", precision).run(small, shots, seed)
    elif chosen == "stabilizer":
        result = StabilizerSimulator(model).run(small, shots, seed)
    elif chosen == "density":
        from .sim.density import DensityMatrixSimulator

        result = DensityMatrixSimulator(model).run(small, shots, seed)
    else:
        from .sim.trajectories import TrajectorySimulator

        result = TrajectorySimulator(model, precision=precision).run(small, shots, seed)
    return DeviceRun(counts=dict(result.counts), shots=result.shots,
                     num_qubits=circuit.num_qubits, device=dev.name, method=chosen,
                     transpiled=transpiled, noise=noisy, reason=reason,
                     seconds=time.perf_counter() - t0, simulated_qubits=used,
                     initial_layout=layouts[0], final_layout=layouts[1],
                     calibration=getattr(cal, "id", None))


__all__ = ["METHODS", "DeviceRun", "choose_method", "native_fit", "restrict_calibration", "run_on_device"]
