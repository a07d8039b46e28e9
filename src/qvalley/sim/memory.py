"""Memory guard: refuse a simulation before allocating more than the machine has."""

from __future__ import annotations

import os

from .._errors import SimulationLimitError


def available_memory() -> int:
    """Bytes of memory available to a new allocation (``MemAvailable``; fallbacks elsewhere)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic platforms
        return 1 << 62


def _fmt(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if nbytes < 1024 or unit == "EiB":
            return f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} EiB"  # pragma: no cover


def check_statevector_memory(num_qubits: int, bytes_per_amp: int, copies: float = 1.0) -> None:
    """Raise :class:`SimulationLimitError` if ``copies`` states of ``num_qubits`` do not fit."""
    need = (1 << num_qubits) * bytes_per_amp * copies
    have = available_memory()
    if need > have:
        raise SimulationLimitError(
            f"a {num_qubits}-qubit statevector needs {_fmt(need)} but only {_fmt(have)} is "
            f"available; use fewer qubits, precision='single', or another method "
            f"(tensor network for amplitudes of shallow circuits, stabilizer for Clifford circuits)"
        )
