"""Emulated processors: device profiles (JSON package data), calibration snapshots and history,
and export to Qiskit.

Shipped devices: ``zuchongzhi-2.1`` (66 qubits), ``sycamore-53``, ``oriental-136`` and
``valley-512`` (modelled chips: no public layout exists) and ``ideal``. Physical qubit ``q`` is bit
``q`` of a statevector index, as everywhere in qvalley.

Examples:
    >>> [get_device(n).num_qubits for n in list_devices()]
    [66, 53, 136, 512, 1024]
    >>> calibration_at("ideal") is None
    True
"""

from __future__ import annotations

from .calibration import (
    Calibration,
    CouplerCalibration,
    QubitCalibration,
    calibration_at,
    calibration_history,
    generate_calibration,
    parse_time,
    snapshot_day,
)
from .profile import SCHEMA, Average, DeviceProfile, get_device, list_devices
from .qiskit import to_qiskit_target

__all__ = [
    "SCHEMA",
    "Average",
    "Calibration",
    "CouplerCalibration",
    "DeviceProfile",
    "QubitCalibration",
    "calibration_at",
    "calibration_history",
    "generate_calibration",
    "get_device",
    "list_devices",
    "parse_time",
    "snapshot_day",
    "to_qiskit_target",
]
