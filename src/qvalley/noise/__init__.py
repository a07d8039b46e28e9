"""Noise: channels (Kraus, Pauli, thermal relaxation ...), noise models, readout mitigation.

Bit order: operand ``j`` of a channel is bit ``j`` of its Kraus matrices' index; in Pauli strings
and bitstrings qubit 0 is the rightmost character (as Qiskit).
"""

from __future__ import annotations

from .channels import (
    Channel,
    PauliChannel,
    ReadoutError,
    amplitude_damping,
    compose,
    depolarizing,
    identity,
    pauli_channel,
    pauli_matrix,
    phase_damping,
    tensor,
    thermal_relaxation,
)
from .mitigation import (
    mitigate_counts,
    nearest_probability_distribution,
    readout_calibration_matrices,
    readout_errors_from_counts,
)
from .model import NoiseModel, average_gate_infidelity

__all__ = [
    "Channel",
    "NoiseModel",
    "PauliChannel",
    "ReadoutError",
    "amplitude_damping",
    "average_gate_infidelity",
    "compose",
    "depolarizing",
    "identity",
    "mitigate_counts",
    "nearest_probability_distribution",
    "pauli_channel",
    "pauli_matrix",
    "phase_damping",
    "readout_calibration_matrices",
    "readout_errors_from_counts",
    "tensor",
    "thermal_relaxation",
]
