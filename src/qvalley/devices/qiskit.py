"""Export a device profile and calibration as a Qiskit ``Target`` (needs ``qiskit``).

Every native gate becomes an instruction with per-qubit (or, for two-qubit gates, per-coupler in
both directions) ``InstructionProperties(duration, error)``; ``measure`` carries the mean readout
error. Errors are converted from the calibration's Pauli error rates to average gate errors
(``e·d/(d+1)``), the quantity Qiskit's noise tooling reads. Gates without a Qiskit standard class
(``sy``, ``sw``, ``fsim``) are named custom gates with the same parameters.
"""

from __future__ import annotations

from typing import Any

from .._errors import QValleyError
from .calibration import Calibration
from .profile import DeviceProfile


def _qiskit_gate(name: str) -> Any:
    from qiskit.circuit import Gate, Parameter
    from qiskit.circuit import library as lib

    simple = {"x": lib.XGate, "y": lib.YGate, "z": lib.ZGate, "h": lib.HGate, "sx": lib.SXGate,
              "cx": lib.CXGate, "cz": lib.CZGate, "id": lib.IGate, "iswap": lib.iSwapGate,
              "ecr": lib.ECRGate, "s": lib.SGate, "t": lib.TGate}
    if name in simple:
        return simple[name]()
    one = {"rz": lib.RZGate, "rx": lib.RXGate, "ry": lib.RYGate, "p": lib.PhaseGate}
    if name in one:
        return one[name](Parameter("θ"))
    if name == "fsim":
        return Gate("fsim", 2, [Parameter("θ"), Parameter("φ")])
    if name in ("sy", "sw"):
        return Gate(name, 1, [])
    raise QValleyError(f"native gate '{name}' has no Qiskit export")


def to_qiskit_target(profile: DeviceProfile, calibration: Calibration | None = None) -> Any:
    """A ``qiskit.transpiler.Target`` for ``profile`` (errors and durations from
    ``calibration`` when given)."""
    try:
        from qiskit.circuit.library import Measure
        from qiskit.transpiler import InstructionProperties, Target
    except ImportError:
        raise QValleyError("exporting a Qiskit Target needs qiskit: pip install "
                           "'qvalley[peers]'") from None
    from ..noise.model import pauli_to_average_error

    if profile.couplers is None:
        raise QValleyError(f"{profile.name} is all-to-all; a Qiskit Target needs a coupling map")
    n = profile.num_qubits
    target = Target(description=profile.name, num_qubits=n)
    from ..circuit.gates import GATES

    for name in profile.native_gates:
        width = GATES[name].num_qubits
        gate = _qiskit_gate(name)
        props: dict[tuple[int, ...], Any] = {}
        if width == 1:
            for q in range(n):
                c = calibration.qubits[q] if calibration else None
                virtual = name == "rz"
                props[(q,)] = InstructionProperties(  # unknown (None) without a calibration
                    duration=0.0 if virtual else None if c is None else c.duration_1q,
                    error=0.0 if virtual else None if c is None else
                    pauli_to_average_error(c.error_1q, 1))
        elif width == 2:
            for a, b in profile.coupling_map():
                cc = calibration.couplers.get((a, b)) if calibration else None
                p = InstructionProperties(
                    duration=None if cc is None else cc.duration_2q,
                    error=None if cc is None else pauli_to_average_error(cc.error_2q, 2))
                props[(a, b)] = p
                props[(b, a)] = p
        else:
            continue
        target.add_instruction(gate, props, name=name)
    target.add_instruction(Measure(), {
        (q,): InstructionProperties(
            error=None if calibration is None else calibration.qubits[q].readout_error)
        for q in range(n)})
    return target


__all__ = ["to_qiskit_target"]
