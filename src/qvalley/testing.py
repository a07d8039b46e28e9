"""Consistency checks that every gate (and any user-defined one) must pass.

``assert_gate_consistent(gate)`` proves: the matrix is unitary, ``inverse()`` undoes the gate, and the
decomposition (recursively lowered to ``u``/``cx``) has exactly the gate's matrix, global phase
included.
"""

from __future__ import annotations

import cmath

import numpy as np

from .circuit import Circuit, Gate
from .sim.statevector.reference import apply_matrix


def circuit_unitary(circuit: Circuit) -> np.ndarray:
    """The unitary of a measurement-free circuit, by the reference engine (column j = U|j>)."""
    u = np.eye(1 << circuit.num_qubits, dtype=np.complex128)
    for op in circuit.operations:
        if op.gate.name == "barrier":
            continue
        assert isinstance(op.gate, Gate), f"not unitary: {op.gate.name}"
        u = apply_matrix(u, op.gate.matrix(), op.qubits)
    return u * cmath.exp(1j * float(circuit.global_phase))


def assert_gate_consistent(gate: Gate, atol: float = 1e-10) -> None:
    """Raise ``AssertionError`` unless ``gate`` is unitary, invertible and decomposes exactly."""
    m = gate.matrix()
    d = 1 << gate.num_qubits
    assert m.shape == (d, d), f"{gate!r}: matrix shape {m.shape} for {gate.num_qubits} qubits"
    assert np.allclose(m.conj().T @ m, np.eye(d), atol=atol), f"{gate!r}: matrix is not unitary"
    inv = gate.inverse()
    assert inv.num_qubits == gate.num_qubits
    assert np.allclose(inv.matrix() @ m, np.eye(d), atol=atol), f"{gate!r}: inverse·gate ≠ I"
    dec = gate.decompose()
    if dec is None:
        return
    qs = tuple(range(gate.num_qubits))
    c = Circuit(gate.num_qubits).append(gate, qs)
    lowered = c.expand()
    assert all(op.gate.name in ("u", "cx") for op in lowered.operations), (
        f"{gate!r}: expand() left {sorted({op.gate.name for op in lowered.operations})}")
    got = circuit_unitary(lowered)
    assert np.allclose(got, m, atol=atol), (
        f"{gate!r}: decomposition differs from matrix (max |Δ| = {np.abs(got - m).max():.2e})")
