"""The qvalley exception hierarchy: every error a user can cause is a :class:`QValleyError`."""

from __future__ import annotations


class QValleyError(Exception):
    """Root of every error qvalley raises on purpose."""


class CircuitError(QValleyError, ValueError):
    """A circuit or gate was built or used wrongly (bad qubit index, wrong parameter count, ...)."""


class ParameterError(CircuitError):
    """A symbolic parameter is unbound where a number is needed, or an expression is malformed."""


class FormatError(QValleyError, ValueError):
    """Text in a circuit format could not be read or written.

    Carries ``path``, ``line`` and ``column`` (1-based, ``None`` when unknown) and the offending
    ``token``; ``str(error)`` reads ``PATH:LINE:COL: error: message`` like a compiler.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        token: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.token = token
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.path or "<string>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: error: {self.message}"

    def with_path(self, path: str) -> FormatError:
        """Return the same error located in ``path``."""
        err = type(self)(self.message, path=path, line=self.line, column=self.column, token=self.token)
        return err


class QasmError(FormatError):
    """An OpenQASM 2 or 3 program is malformed or uses something qvalley cannot represent."""


class SimulationError(QValleyError):
    """A circuit cannot be simulated as asked (opaque gate, unbound parameter, ...)."""


class SimulationLimitError(SimulationError, MemoryError):
    """The simulation would need more memory than the machine has."""


class DeviceError(QValleyError, ValueError):
    """An unknown device, a bad device profile or calibration, or a request the device cannot serve."""


class TranspileError(QValleyError):
    """A circuit cannot be mapped onto a device (too many qubits, disconnected coupling map, ...)."""


class NoiseError(QValleyError, ValueError):
    """A noise channel or model is invalid (probabilities outside [0, 1], T2 > 2·T1, ...)."""


__all__ = [
    "CircuitError",
    "DeviceError",
    "FormatError",
    "NoiseError",
    "ParameterError",
    "QValleyError",
    "QasmError",
    "SimulationError",
    "SimulationLimitError",
    "TranspileError",
]
