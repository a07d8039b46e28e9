"""Simulators. One protocol (``run``/``statevector``/``expectation``); :func:`get_simulator`
chooses the implementation, so callers never branch on methods themselves.

Bit order: qubit ``k`` is bit ``k`` of a statevector index; bitstrings print qubit 0 rightmost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .._errors import SimulationError
from ..circuit import Circuit, Observable
from .statevector.engine import Result, StatevectorSimulator, check_precision

ENGINES = ("fast", "reference")


def get_simulator(method: str = "statevector", precision: str = "single",
                  engine: str = "fast") -> StatevectorSimulator:
    """A simulator for ``method`` (``"statevector"`` or ``"auto"``) in ``precision``.

    ``engine="fast"`` is the numba engine; ``"reference"`` the plain numpy one.
    """
    check_precision(precision)
    if method not in ("statevector", "auto"):
        raise SimulationError(f"unknown simulation method {method!r} (available: statevector)")
    if engine == "fast":
        from .statevector.fast import FastBackend

        return StatevectorSimulator(FastBackend(precision))
    if engine == "reference":
        from .statevector.reference import ReferenceBackend

        return StatevectorSimulator(ReferenceBackend(precision))
    raise SimulationError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")


def _circuit(circuit: Circuit) -> Circuit:
    if not isinstance(circuit, Circuit):
        raise SimulationError(f"expected a qvalley Circuit, got {type(circuit).__name__}")
    return circuit


def statevector(circuit: Circuit, precision: str = "single", engine: str = "fast") -> np.ndarray:
    """The final statevector (terminal measurements ignored) as a 1-D complex numpy array.

    Index bit ``k`` is qubit ``k`` (little-endian, as Qiskit). ``precision="single"`` gives
    complex64, ``"double"`` complex128.

    Examples:
        >>> import qvalley
        >>> qvalley.statevector(qvalley.Circuit(2).h(0).cx(0, 1), precision="double").round(3)
        array([0.707+0.j, 0.   +0.j, 0.   +0.j, 0.707+0.j])
    """
    return get_simulator("statevector", precision, engine).statevector(_circuit(circuit))


def sample(circuit: Circuit, shots: int = 1024, seed: int | np.random.Generator | None = None,
           precision: str = "single", engine: str = "fast") -> dict[str, int]:
    """Measurement counts ``{bitstring: count}``; classical bit 0 is the rightmost character.

    Terminal measurements are sampled from the final state in one pass; mid-circuit measurement,
    reset and classical conditions are simulated per branch of shots. A circuit without any
    measurement is measured on all qubits.

    Examples:
        >>> import qvalley
        >>> counts = qvalley.sample(qvalley.Circuit(2).h(0).cx(0, 1), shots=100, seed=1)
        >>> sorted(counts), sum(counts.values())
        (['00', '11'], 100)
    """
    return run(circuit, shots, seed, precision, engine).counts


def run(circuit: Circuit, shots: int = 1024, seed: int | np.random.Generator | None = None,
        precision: str = "single", engine: str = "fast") -> Result:
    """Like :func:`sample` but returns the full :class:`Result`."""
    return get_simulator("statevector", precision, engine).run(_circuit(circuit), shots, seed)


def probabilities(circuit: Circuit, precision: str = "single", engine: str = "fast") -> np.ndarray:
    """Probabilities of every basis state (float64), index bit ``k`` = qubit ``k``."""
    return get_simulator("statevector", precision, engine).probabilities(_circuit(circuit))


def marginal_probabilities(circuit: Circuit, qubits: Sequence[int], precision: str = "single",
                           engine: str = "fast") -> np.ndarray:
    """Probabilities over ``qubits`` only: index bit ``j`` is ``qubits[j]``."""
    circuit = _circuit(circuit)
    qs = [int(q) for q in qubits]
    if len(set(qs)) != len(qs) or any(not 0 <= q < circuit.num_qubits for q in qs):
        raise SimulationError(f"marginal qubits {qs} must be distinct and within the circuit")
    p = probabilities(circuit, precision, engine)
    n = circuit.num_qubits
    t = p.reshape((2,) * n)
    keep_axes = [n - 1 - q for q in qs]
    other = tuple(a for a in range(n) if a not in keep_axes)
    m = t.sum(axis=other) if other else t
    # remaining axes are in increasing axis order; reorder so qubits[j] is bit j of the index
    remaining = sorted(keep_axes)
    order = [remaining.index(n - 1 - q) for q in reversed(qs)]
    return np.ascontiguousarray(np.transpose(m, order)).reshape(-1)


def amplitudes(circuit: Circuit, bitstrings: Iterable[str | int], precision: str = "single",
               engine: str = "fast") -> np.ndarray:
    """Amplitudes of the given basis states (bitstrings with qubit 0 rightmost, or integers)."""
    circuit = _circuit(circuit)
    n = circuit.num_qubits
    idx = []
    for b in bitstrings:
        if isinstance(b, str):
            if len(b) != n or any(ch not in "01" for ch in b):
                raise SimulationError(f"bitstring {b!r} must be {n} characters of 0/1")
            idx.append(int(b, 2))
        else:
            if not 0 <= int(b) < (1 << n):
                raise SimulationError(f"basis index {b} out of range for {n} qubits")
            idx.append(int(b))
    sv = statevector(circuit, precision, engine)
    return sv[np.array(idx, dtype=np.int64)]


def expectation(circuit: Circuit, observable: Observable, precision: str = "single",
                engine: str = "fast") -> float:
    """``<ψ|O|ψ>`` for a Pauli-sum observable (real part; O is assumed Hermitian)."""
    sim = get_simulator("statevector", precision, engine)
    return float(sim.expectation(_circuit(circuit), observable).real)


__all__ = ["ENGINES", "Result", "amplitudes", "expectation", "get_simulator",
           "marginal_probabilities", "probabilities", "run", "sample", "statevector"]
