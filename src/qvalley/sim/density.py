"""Exact density-matrix simulation with noise (numpy, double precision).

``ρ`` is kept as a vector of ``4^n`` amplitudes, the row-major flattening of the ``2^n × 2^n``
matrix: bit ``q`` of the flat index is qubit ``q`` of the column (bra), bit ``q + n`` qubit ``q`` of
the row (ket). A k-qubit gate ``U`` or channel ``{K}`` is one ``4^k × 4^k`` superoperator
``Σ K ⊗ conj(K)`` applied with :func:`~qvalley.sim.statevector.reference.apply_matrix` on qubits
``(q..., q+n...)``.

Mid-circuit measurements and classical conditions are handled exactly by *branching*: each branch
carries its (unnormalized-probability) weight and classical register; terminal measurements are
read off the diagonal, with readout errors applied to the probabilities through the confusion
matrices. ``run`` samples shots from that exact distribution. The global phase is irrelevant.

Bit order: qubit ``k`` is bit ``k`` of a basis index; in bitstrings classical bit 0 is rightmost.

Examples:
    >>> from qvalley import Circuit
    >>> from qvalley.noise import NoiseModel, ReadoutError
    >>> sim = DensityMatrixSimulator(NoiseModel().readout(0, ReadoutError(0.0, 0.1)))
    >>> sim.distribution(Circuit(1, 1).measure(0, 0))
    {'0': 0.9, '1': 0.1}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import SimulationError, SimulationLimitError
from ..circuit import Barrier, Circuit, Gate, Measure, Operation, Reset
from ..noise.channels import Channel
from ..noise.model import NoiseModel
from .memory import check_statevector_memory
from .statevector.engine import (
    Result,
    _check_simulable,
    _gate_matrix,
    _holds,
    _measure_into_fresh,
    as_rng,
    split_terminal_measurements,
)
from .statevector.reference import apply_matrix

MAX_QUBITS = 13
_EPS = 1e-14
_RESET = Channel([np.array([[1, 0], [0, 0]]), np.array([[0, 1], [0, 0]])], 1)


def superoperator(kraus: Sequence[np.ndarray]) -> np.ndarray:
    """``Σ K ⊗ conj(K)``: the superoperator on (row qubits high, column qubits low) of a flat ρ."""
    return sum(np.kron(k, k.conj()) for k in kraus)  # type: ignore[return-value]


def readout_tensor(probs: np.ndarray, n: int, pairs: Sequence[tuple[int, int]],
                   readout: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Distribution of terminal measurement records.

    ``probs`` are basis-state probabilities over ``n`` qubits; ``pairs`` the ``(qubit, clbit)``
    terminal measurements; ``readout[q]`` the confusion matrix ``M[measured, true]`` of qubit ``q``.
    Returns ``(values, p)``: classical-register values (only the measured bits set) and their
    probabilities.
    """
    qs = sorted({q for q, _ in pairs})
    t = probs.reshape((2,) * n)
    keep = [n - 1 - q for q in qs]
    others = tuple(a for a in range(n) if a not in keep)
    m = t.sum(axis=others) if others else t
    m = np.transpose(m, list(reversed(range(len(qs))))) if qs else m  # axis j <-> qs[j]
    operands: list[Any] = [m, list(range(len(qs)))]
    base = len(qs)
    for j, (q, _) in enumerate(pairs):
        operands += [readout.get(q, np.eye(2)), [base + j, qs.index(q)]]
    out = np.einsum(*operands, list(range(base, base + len(pairs))), optimize="greedy")
    p = np.asarray(out).reshape(-1)
    k = len(pairs)
    idx = np.arange(1 << k)
    vals = np.zeros(1 << k, dtype=np.int64)
    for j, (_, c) in enumerate(pairs):
        vals |= ((idx >> (k - 1 - j)) & 1) << c
    return vals, p


class DensityMatrixSimulator:
    """Exact noisy simulation; see the module docstring.

    Args:
        noise: the :class:`~qvalley.noise.NoiseModel` (``None`` = ideal).
        max_qubits: refuse wider circuits (a 13-qubit ρ is 1 GiB); raise it deliberately.
    """

    method = "density"

    def __init__(self, noise: NoiseModel | None = None, max_qubits: int = MAX_QUBITS) -> None:
        self.noise = noise if noise is not None else NoiseModel()
        self.max_qubits = int(max_qubits)

    # ---- evolution -----------------------------------------------------------------------------
    def _check(self, circuit: Circuit) -> None:
        if not isinstance(circuit, Circuit):
            raise SimulationError(f"expected a qvalley Circuit, got {type(circuit).__name__}")
        n = circuit.num_qubits
        if n > self.max_qubits:
            raise SimulationLimitError(
                f"the density-matrix method is limited to {self.max_qubits} qubits, the circuit has "
                f"{n}; use method 'trajectories' (noisy, up to the statevector limit) or "
                f"'statevector' (noiseless)"
            )
        check_statevector_memory(2 * n, 16, copies=3)
        _check_simulable(circuit)

    def _apply(self, rho: np.ndarray, n: int, kraus: Sequence[np.ndarray], qubits: Sequence[int]
               ) -> np.ndarray:
        qs = list(qubits)
        return apply_matrix(rho, superoperator(kraus), qs + [q + n for q in qs])

    def _channels(self, rho: np.ndarray, n: int, op: Operation) -> np.ndarray:
        for ch, qs in self.noise.channels_for(op):
            rho = self._apply(rho, n, ch.kraus, qs)
        return rho

    def _branches(self, circuit: Circuit, body: Sequence[Operation]
                  ) -> list[tuple[np.ndarray, int, float]]:
        """Final ``(ρ normalized, classical value, weight)`` of every branch with weight > 0."""
        n = max(circuit.num_qubits, 1)
        dim = 1 << n
        rho0 = np.zeros(dim * dim, dtype=np.complex128)
        rho0[0] = 1.0
        stack: list[tuple[int, np.ndarray, int, float]] = [(0, rho0, 0, 1.0)]
        done: list[tuple[np.ndarray, int, float]] = []
        while stack:
            i, rho, cval, w = stack.pop()
            while i < len(body):
                op = body[i]
                i += 1
                if op.condition is not None and not _holds(op, cval):
                    continue
                g = op.gate
                if isinstance(g, Barrier):
                    continue
                if isinstance(g, Gate):
                    rho = self._apply(rho, n, [_gate_matrix(op)], op.qubits)
                    rho = self._channels(rho, n, op)
                    continue
                q = op.qubits[0]
                if isinstance(g, Reset):
                    rho = self._apply(rho, n, _RESET.kraus, (q,))
                    rho = self._channels(rho, n, op)
                    continue
                assert isinstance(g, Measure)
                rho = self._channels(rho, n, op)
                diag = rho.reshape(dim, dim).diagonal().real
                idx = np.arange(dim)
                p1 = float(min(max(diag[(idx >> q) & 1 == 1].sum(), 0.0), 1.0))
                err = self.noise.readout_error(q)
                conf = err.matrix if err is not None else np.eye(2)
                c = op.clbits[0]
                branches = []
                for o, po in ((0, 1.0 - p1), (1, p1)):
                    if po <= _EPS:
                        continue
                    mask = ((idx >> q) & 1) == o
                    proj = rho.reshape(dim, dim) * np.outer(mask, mask) / po
                    for r in (0, 1):
                        pr = float(conf[r, o])
                        if pr * po * w <= _EPS:
                            continue
                        branches.append((i, proj.reshape(-1), (cval & ~(1 << c)) | (r << c), w * po * pr))
                stack.extend(branches[:-1])
                i, rho, cval, w = branches[-1]
            done.append((rho, cval, w))
        return done

    def _prepare(self, circuit: Circuit, measure_all: bool
                 ) -> tuple[Circuit, list[Operation], list[tuple[int, int]]]:
        self._check(circuit)
        if measure_all and not any(isinstance(op.gate, Measure) for op in circuit.operations):
            circuit = _measure_into_fresh(circuit)
        body, terminal = split_terminal_measurements(circuit)
        return circuit, body, terminal

    # ---- public --------------------------------------------------------------------------------
    def density_matrix(self, circuit: Circuit) -> np.ndarray:
        """The final ``2^n × 2^n`` density matrix (terminal measurements ignored; mid-circuit
        measurements averaged over their outcomes). Index bit ``k`` is qubit ``k``."""
        circuit, body, _ = self._prepare(circuit, measure_all=False)
        n = max(circuit.num_qubits, 1)
        dim = 1 << n
        total = np.zeros((dim, dim), dtype=np.complex128)
        for rho, _, w in self._branches(circuit, body):
            total += w * rho.reshape(dim, dim)
        if circuit.num_qubits == 0:
            return np.ones((1, 1), dtype=np.complex128)
        return total

    def probabilities(self, circuit: Circuit, readout: bool = False) -> np.ndarray:
        """Basis-state probabilities (float64, index bit ``k`` = qubit ``k``) of the final state;
        with ``readout=True`` each qubit's readout error is applied as if all were measured."""
        rho = self.density_matrix(circuit)
        p = np.clip(rho.diagonal().real, 0.0, None)
        n = circuit.num_qubits
        if readout and n:
            t = p.reshape((2,) * n)
            for q in range(n):
                err = self.noise.readout_error(q)
                if err is not None:
                    ax = n - 1 - q
                    t = np.moveaxis(np.tensordot(err.matrix, t, axes=([1], [ax])), 0, ax)
            p = t.reshape(-1)
        return p

    def distribution(self, circuit: Circuit, readout: bool = True) -> dict[str, float]:
        """Exact probabilities of every classical record ``{bitstring: p}`` (clbit 0 rightmost).

        A circuit without measurements is measured on all qubits. ``readout=False`` ignores
        readout errors (of mid-circuit measurements too)."""
        model = self.noise
        if not readout:
            self.noise = _without_readout(model)
        try:
            circuit, body, terminal = self._prepare(circuit, measure_all=True)
            n = max(circuit.num_qubits, 1)
            dim = 1 << n
            clear = 0
            for _, c in terminal:
                clear |= 1 << c
            conf = {q: e.matrix for q, e in self.noise.readout_errors.items()}
            out: dict[int, float] = {}
            for rho, cval, w in self._branches(circuit, body):
                if not terminal:
                    out[cval] = out.get(cval, 0.0) + w
                    continue
                for q, c in terminal:  # channels on "measure" act just before it
                    rho = self._channels(rho, n, Operation(Measure(), (q,), (c,)))
                probs = np.clip(rho.reshape(dim, dim).diagonal().real, 0.0, None)
                vals, p = readout_tensor(probs, n, terminal, conf)
                base = cval & ~clear
                for v, pv in zip(vals.tolist(), p.tolist()):
                    if pv > 0:
                        key = base | v
                        out[key] = out.get(key, 0.0) + w * pv
        finally:
            self.noise = model
        width = circuit.num_clbits
        total = sum(out.values())
        return {format(v, f"0{width}b") if width else "": p / total for v, p in sorted(out.items())}

    def run(self, circuit: Circuit, shots: int = 1024,
            seed: int | np.random.Generator | None = None) -> Result:
        """Sample ``shots`` records from the exact distribution (see :meth:`distribution`)."""
        if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
            raise SimulationError(f"shots must be a positive integer, got {shots!r}")
        rng = as_rng(seed)
        dist = self.distribution(circuit)
        keys = list(dist)
        p = np.array([dist[k] for k in keys])
        k = rng.multinomial(int(shots), p / p.sum())
        counts = {key: int(c) for key, c in zip(keys, k.tolist()) if c}
        return Result(counts, int(shots), circuit.num_qubits, self.method)


def _without_readout(model: NoiseModel) -> NoiseModel:
    out = NoiseModel()
    out._rules = dict(model.rules)
    return out


__all__ = ["MAX_QUBITS", "DensityMatrixSimulator", "readout_tensor", "superoperator"]
