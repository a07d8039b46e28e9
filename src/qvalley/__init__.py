"""qvalley: an open quantum computing platform.

The small public surface: circuits (:class:`Circuit`, :class:`Gate`, :class:`Parameter`,
:class:`Observable`), formats (:func:`load`, :func:`loads`, :func:`dumps`) and simulation
(:func:`statevector`, :func:`sample`, :func:`expectation`, :func:`probabilities`, :func:`amplitudes`).

Bit order everywhere: qubit ``k`` is bit ``k`` of a statevector index (little-endian); in a
bitstring qubit 0 is the rightmost character, as in Qiskit.
"""

from __future__ import annotations

from ._errors import (
    CircuitError,
    DeviceError,
    FormatError,
    NoiseError,
    ParameterError,
    QasmError,
    QValleyError,
    SimulationError,
    SimulationLimitError,
    TranspileError,
)
from .circuit import (
    Circuit,
    Condition,
    Gate,
    Observable,
    Operation,
    Parameter,
    ParameterExpression,
    UnitaryGate,
)
from .formats import dump, dumps, load, loads
from .sim import amplitudes, expectation, marginal_probabilities, probabilities, sample, statevector

__version__ = "0.1.0"

__all__ = [
    "Circuit",
    "CircuitError",
    "Condition",
    "DeviceError",
    "FormatError",
    "Gate",
    "NoiseError",
    "Observable",
    "Operation",
    "Parameter",
    "ParameterError",
    "ParameterExpression",
    "QValleyError",
    "QasmError",
    "SimulationError",
    "SimulationLimitError",
    "TranspileError",
    "UnitaryGate",
    "__version__",
    "amplitudes",
    "dump",
    "dumps",
    "expectation",
    "load",
    "loads",
    "marginal_probabilities",
    "probabilities",
    "sample",
    "statevector",
]
