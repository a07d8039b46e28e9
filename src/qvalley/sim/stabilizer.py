"""Clifford circuits with Pauli noise at full device scale, on stim's stabilizer simulator.

A qvalley circuit becomes a ``stim.Circuit``: named Clifford gates map one to one, rotations by a
multiple of π/2 become powers of S, √X or √Y, measurements and resets keep their order, and every
noise channel of a :class:`~qvalley.noise.NoiseModel` after a gate becomes a ``PAULI_CHANNEL_1``
or ``PAULI_CHANNEL_2``. A channel that is not a Pauli mixture (thermal relaxation, amplitude
damping) is replaced by its **Pauli twirl** (the Pauli channel with the same Pauli-diagonal of its
χ matrix) — the standard approximation for stabilizer simulation — and the result says so.
Readout errors, which may be asymmetric (p(0|1) ≠ p(1|0)), are applied exactly to the sampled
bits afterwards.

Examples:
    >>> from qvalley import Circuit
    >>> c = Circuit(3).h(0).cx(0, 1).cx(1, 2)
    >>> r = StabilizerSimulator().run(c, shots=200, seed=1)
    >>> sorted(r.counts), sum(r.counts.values())
    (['000', '111'], 200)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._errors import SimulationError
from ..circuit import Barrier, Circuit, Gate, Measure, Reset
from ..circuit.parameter import ParameterExpression
from .statevector.engine import Result, as_rng

CLIFFORD_1Q = {"id": "I", "x": "X", "y": "Y", "z": "Z", "h": "H", "s": "S", "sdg": "S_DAG",
               "sx": "SQRT_X", "sxdg": "SQRT_X_DAG", "sy": "SQRT_Y", "sydg": "SQRT_Y_DAG"}
CLIFFORD_2Q = {"cx": "CX", "cy": "CY", "cz": "CZ", "swap": "SWAP", "iswap": "ISWAP"}
# rotations by k·π/2 (k = 1, 2, 3): stim gate sequences, equal up to global phase
QUARTER_TURNS = {"rz": ("S", "Z", "S_DAG"), "p": ("S", "Z", "S_DAG"),
                 "rx": ("SQRT_X", "X", "SQRT_X_DAG"), "ry": ("SQRT_Y", "Y", "SQRT_Y_DAG")}
_PAULIS = "IXYZ"


def _import_stim() -> Any:
    try:
        import stim
    except ImportError:  # pragma: no cover - stim is a dependency
        raise SimulationError("the stabilizer method needs stim: pip install stim") from None
    return stim


def _quarter_turns(angle: Any) -> int | None:
    if isinstance(angle, ParameterExpression):
        try:
            angle = float(angle)
        except Exception:
            return None
    k = float(angle) / (math.pi / 2)
    r = round(k)
    return r % 4 if abs(k - r) < 1e-9 else None


def clifford_name(op: Any) -> list[str] | None:
    """The stim gates (in order) of a Clifford operation, or ``None`` if it is not Clifford."""
    name = op.name
    if name in CLIFFORD_1Q:
        return [CLIFFORD_1Q[name]]
    if name in CLIFFORD_2Q:
        return [CLIFFORD_2Q[name]]
    if name in QUARTER_TURNS:
        k = _quarter_turns(op.gate.params[0])
        if k is None:
            return None
        return [] if k == 0 else [QUARTER_TURNS[name][k - 1]]
    return None


def is_clifford(circuit: Circuit) -> bool:
    """Whether every gate of ``circuit`` is one the stabilizer method can run."""
    return all(not isinstance(op.gate, Gate) or clifford_name(op) is not None
               for op in circuit.operations)


def pauli_twirl(channel: Any) -> dict[str, float]:
    """Pauli probabilities ``{label: p}`` of the Pauli twirl of ``channel`` (label: rightmost
    character on operand 0): ``p_P = Σ_k |tr(P K_k)|² / d²``."""
    exact = channel.pauli_probabilities()
    if exact is not None:
        return dict(exact)
    from ..noise.channels import pauli_matrix

    n = channel.num_qubits
    d = 2 ** n
    out: dict[str, float] = {}
    for idx in range(4 ** n):
        label = "".join(_PAULIS[(idx >> (2 * j)) & 3] for j in reversed(range(n)))
        p = pauli_matrix(label)
        out[label] = float(sum(abs(np.trace(p @ k)) ** 2 for k in channel.kraus) / d ** 2)
    return out


def _pauli_args(probs: dict[str, float], n: int) -> list[float]:
    """stim's argument order: PAULI_CHANNEL_1(pX, pY, pZ); PAULI_CHANNEL_2 over 'AB' (A on the
    first target = our operand 0 = our label's rightmost character), IX..ZZ."""
    if n == 1:
        return [max(0.0, probs.get(c, 0.0)) for c in "XYZ"]
    args = []
    for a in _PAULIS:
        for b in _PAULIS:
            if a == b == "I":
                continue
            args.append(max(0.0, probs.get(b + a, 0.0)))
    return args


class StabilizerSimulator:
    """``run(circuit, shots, seed)`` for Clifford circuits with Pauli (or twirled) noise."""

    method = "stabilizer"

    def __init__(self, noise: Any = None) -> None:
        self.noise = noise
        self.twirled = False  # set when a non-Pauli channel was approximated by its twirl

    def to_stim(self, circuit: Circuit) -> tuple[Any, list[tuple[int, int]]]:
        """The ``stim.Circuit`` and, per measurement record, ``(qubit, clbit)``."""
        stim = _import_stim()
        out = stim.Circuit()
        records: list[tuple[int, int]] = []
        noise = self.noise
        for i, op in enumerate(circuit.operations):
            g = op.gate
            if op.condition is not None:
                raise SimulationError(f"operation {i} '{op.name}' is classically conditioned; the "
                                      "stabilizer method runs unconditioned circuits only")
            if isinstance(g, Barrier):
                out.append("TICK")
                continue
            if isinstance(g, Measure):
                if noise is not None:
                    self._noise(out, noise, op)
                out.append("M", list(op.qubits))
                records.append((op.qubits[0], op.clbits[0]))
                continue
            if isinstance(g, Reset):
                out.append("R", list(op.qubits))
                if noise is not None:
                    self._noise(out, noise, op)
                continue
            names = clifford_name(op)
            if names is None:
                raise SimulationError(
                    f"operation {i} '{op.name}' on qubit(s) {list(op.qubits)} is not a Clifford gate; "
                    "the stabilizer method runs Clifford circuits only (use statevector, density or "
                    "trajectories)")
            for name in names:
                out.append(name, list(op.qubits))
            if noise is not None:
                self._noise(out, noise, op)
        return out, records

    def _noise(self, out: Any, noise: Any, op: Any) -> None:
        for ch, qs in noise.channels_for(op):
            probs = ch.pauli_probabilities()
            if probs is None:
                probs = pauli_twirl(ch)
                self.twirled = True
            n = len(qs)
            if n > 2:
                raise SimulationError(f"a {n}-qubit noise channel on '{op.name}' is beyond the "
                                      "stabilizer method (one- and two-qubit channels only)")
            args = _pauli_args(probs, n)
            if any(a > 0 for a in args):
                out.append(f"PAULI_CHANNEL_{n}", list(qs), args)

    def run(self, circuit: Circuit, shots: int = 1024,
            seed: int | np.random.Generator | None = None) -> Result:
        """Sample ``shots`` records; a circuit without measurements is measured on every qubit."""
        if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
            raise SimulationError(f"shots must be a positive integer, got {shots!r}")
        rng = as_rng(seed)
        if not any(isinstance(op.gate, Measure) for op in circuit.operations):
            circuit = circuit.copy().measure_all()
        stim_circuit, records = self.to_stim(circuit)
        sampler = stim_circuit.compile_sampler(seed=int(rng.integers(2**63)))
        raw = np.asarray(sampler.sample(int(shots)), dtype=np.uint8)
        if self.noise is not None:
            for j, (q, _) in enumerate(records):
                err = self.noise.readout_error(q)
                if err is not None:
                    col = raw[:, j]
                    flip = rng.random(col.shape) < np.where(col == 1, err.p0_given_1,
                                                            err.p1_given_0)
                    raw[:, j] = col ^ flip
        width = circuit.num_clbits
        bits = np.zeros((int(shots), width), dtype=np.uint8)
        for j, (_, c) in enumerate(records):  # a later write to a clbit wins
            bits[:, width - 1 - c] = raw[:, j]
        rows, counts = np.unique(bits, axis=0, return_counts=True)
        out = {"".join("1" if b else "0" for b in row): int(k) for row, k in zip(rows, counts)}
        return Result(out, int(shots), circuit.num_qubits, self.method)


__all__ = ["StabilizerSimulator", "clifford_name", "is_clifford", "pauli_twirl"]
