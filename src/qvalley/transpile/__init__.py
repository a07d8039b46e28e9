"""Map circuits onto processors: native-gate translation, layout, SABRE routing, optimisation.

Bit order: qubit ``k`` is bit ``k`` of a statevector index (little-endian), as everywhere in
qvalley. The output circuit acts on the device's physical qubits; ``final_layout[v]`` tells which
physical qubit holds virtual qubit ``v`` at the end.
"""

from __future__ import annotations

from .core import TranspileResult, transpile
from .synthesis import num_cx, synthesize_1q, synthesize_2q
from .target import Target, build_target

__all__ = [
    "Target",
    "TranspileResult",
    "build_target",
    "num_cx",
    "synthesize_1q",
    "synthesize_2q",
    "transpile",
]
