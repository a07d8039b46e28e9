"""Export a device profile and calibration as a Qiskit ``Target`` (needs ``qiskit``).

Every native gate becomes an instruction with per-qubit (or, for two-qubit gates, per-coupler in
both directions) ``InstructionProperties(duration, error)``; ``measure`` carries the mean readout
error. Errors are converted from the calibration's Pauli error rates to average gate errors
(``e·d/(d+1)``), the quantity Qiskit's noise tooling reads. Gates without a Qiskit standard class
(``sy``, ``sw``, ``fsim``) are custom gates with the same names, parameters and exact definitions
(``√Y = e^{iπ/4} RY(π/2)``, ``√W = e^{iπ/4} RZ(π/4) RX(π/2) RZ(−π/4)``,
``fSim(θ, φ) = CP(−φ) RYY(θ) RXX(θ)``), so Qiskit can simulate and export them; and Qiskit's
session equivalence library learns ``CZ = fSim(0, π)``, so ``transpile(circuit, target=...)``
reaches an fSim-only native set (qvalley's own transpiler then uses the calibrated angles).
"""

from __future__ import annotations

from typing import Any

from .._errors import QValleyError
from .calibration import Calibration
from .profile import DeviceProfile

_CUSTOM: dict[str, Any] = {}


def _custom_gates() -> dict[str, Any]:
    """Qiskit gate classes for qvalley's ``sy``, ``sw`` and ``fsim`` (built once, on first use)."""
    if _CUSTOM:
        return _CUSTOM
    import math

    from qiskit.circuit import Gate, QuantumCircuit
    from qiskit.circuit.equivalence_library import SessionEquivalenceLibrary
    from qiskit.circuit.library import CZGate

    class SYGate(Gate):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__("sy", 1, [])

        def _define(self) -> None:
            qc = QuantumCircuit(1, global_phase=math.pi / 4)
            qc.ry(math.pi / 2, 0)
            self.definition = qc

    class SWGate(Gate):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__("sw", 1, [])

        def _define(self) -> None:
            qc = QuantumCircuit(1, global_phase=math.pi / 4)
            qc.rz(-math.pi / 4, 0)
            qc.rx(math.pi / 2, 0)
            qc.rz(math.pi / 4, 0)
            self.definition = qc

    class FSimGate(Gate):  # type: ignore[misc]
        def __init__(self, theta: Any, phi: Any) -> None:
            super().__init__("fsim", 2, [theta, phi])

        def _define(self) -> None:
            theta, phi = self.params
            qc = QuantumCircuit(2)
            qc.rxx(theta, 0, 1)
            qc.ryy(theta, 0, 1)
            qc.cp(-phi, 0, 1)
            self.definition = qc

    cz = QuantumCircuit(2)
    cz.append(FSimGate(0.0, math.pi), [0, 1])
    SessionEquivalenceLibrary.add_equivalence(CZGate(), cz)
    _CUSTOM.update(sy=SYGate, sw=SWGate, fsim=FSimGate)
    return _CUSTOM


def _qiskit_gate(name: str) -> Any:
    from qiskit.circuit import Parameter
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
        return _custom_gates()["fsim"](Parameter("θ"), Parameter("φ"))
    if name in ("sy", "sw"):
        return _custom_gates()[name]()
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
