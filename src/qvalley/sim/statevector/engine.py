"""The statevector simulator: one driver over interchangeable backends.

The driver lowers a :class:`~qvalley.Circuit` to numeric gate lists, handles measurement, reset and
classical conditions by *branching* (each branch carries its shots; a mid-circuit measurement splits
a branch's shots binomially between the two outcomes), and samples terminal measurements from the
final state of each branch in one pass. Backends (numpy reference, numba fast engine) only apply
unitary gate lists and answer a few questions about a state.

Bit order: qubit ``k`` is bit ``k`` of a state index; in bitstrings qubit/clbit 0 is rightmost.
"""

from __future__ import annotations

import cmath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..._errors import ParameterError, SimulationError
from ...circuit import Barrier, Circuit, Gate, Measure, Observable, Operation, Register, Reset
from ...circuit.parameter import ParameterExpression

GateList = list[tuple[np.ndarray, tuple[int, ...]]]


class Backend(Protocol):
    """What the driver needs from a statevector backend. ``State`` is backend-specific."""

    name: str

    def zero_state(self, n: int) -> Any: ...
    def apply_gates(self, state: Any, gates: GateList) -> Any: ...
    def prob_one(self, state: Any, q: int) -> float: ...
    def collapse(self, state: Any, q: int, outcome: int, prob: float) -> Any: ...
    def flip(self, state: Any, q: int) -> Any: ...
    def probabilities(self, state: Any) -> np.ndarray: ...
    def to_numpy(self, state: Any) -> np.ndarray: ...
    def copy(self, state: Any) -> Any: ...
    def expectation(self, state: Any, obs: Observable) -> complex: ...
    def sample_indices(self, state: Any, shots: int, rng: np.random.Generator) -> np.ndarray: ...


def as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from an int seed, an existing Generator, or fresh entropy."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


@dataclass
class Result:
    """Outcome of :meth:`StatevectorSimulator.run`.

    ``counts`` maps bitstrings (classical bit 0 rightmost) to how often they were seen.
    """

    counts: dict[str, int]
    shots: int
    num_qubits: int
    method: str = "statevector"


def _gate_matrix(op: Operation) -> np.ndarray:
    gate = op.gate
    assert isinstance(gate, Gate)
    try:
        return gate.matrix()
    except ParameterError as exc:
        raise SimulationError(f"cannot simulate: {exc}; bind parameters first") from None


def _phase_value(circuit: Circuit) -> float:
    ph = circuit.global_phase
    if isinstance(ph, ParameterExpression):
        try:
            return float(ph)
        except ParameterError as exc:
            raise SimulationError(f"cannot simulate: global phase: {exc}") from None
    return float(ph)


def _check_simulable(circuit: Circuit) -> None:
    for i, op in enumerate(circuit.operations):
        g = op.gate
        if not isinstance(g, (Gate, Measure, Reset, Barrier)):
            raise SimulationError(
                f"operation {i} ('{g.name}' on qubits {list(op.qubits)}) is opaque: it has no "
                f"definition, so it cannot be simulated"
            )


def split_terminal_measurements(circuit: Circuit) -> tuple[list[Operation], list[tuple[int, int]]]:
    """Split off measurements that nothing later depends on.

    Returns ``(body, terminal)`` where ``terminal`` lists ``(qubit, clbit)`` pairs sampled from
    the final state. A measurement is terminal when no later operation touches its qubit or its
    classical bit (barriers aside) and it is unconditional.
    """
    ops = circuit.operations
    busy_q: set[int] = set()
    busy_c: set[int] = set()
    terminal_idx: set[int] = set()
    for i in range(len(ops) - 1, -1, -1):
        op = ops[i]
        if isinstance(op.gate, Barrier):
            continue
        cbits = set(op.clbits) | (set(op.condition.clbits) if op.condition else set())
        if (isinstance(op.gate, Measure) and op.condition is None and op.qubits[0] not in busy_q
                and op.clbits[0] not in busy_c):
            terminal_idx.add(i)
            busy_c.add(op.clbits[0])  # an earlier write to this clbit is overwritten: not terminal
            continue
        busy_q.update(op.qubits)
        busy_c.update(cbits)
    body = [op for i, op in enumerate(ops) if i not in terminal_idx]
    terminal = [(ops[i].qubits[0], ops[i].clbits[0]) for i in sorted(terminal_idx)]
    return body, terminal


class StatevectorSimulator:
    """Statevector simulation of circuits on a :class:`Backend`."""

    method = "statevector"

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    # ---- unitary evolution --------------------------------------------------------------------
    def _gate_list(self, ops: Sequence[Operation], phase: float = 0.0) -> GateList:
        gates: GateList = []
        if phase:
            gates.append((cmath.exp(1j * phase) * np.eye(2, dtype=complex), (0,)))
        for op in ops:
            if isinstance(op.gate, Barrier):
                continue
            gates.append((_gate_matrix(op), op.qubits))
        return gates

    def final_state(self, circuit: Circuit) -> Any:
        """The backend state after all operations, ignoring terminal measurements.

        Raises :class:`SimulationError` for mid-circuit measurement, reset or conditions (the state
        is then random: use :meth:`run`).
        """
        _check_simulable(circuit)
        body, _ = split_terminal_measurements(circuit)
        for op in body:
            if not isinstance(op.gate, (Gate, Barrier)) or op.condition is not None:
                raise SimulationError(
                    f"the final state is random: '{op.name}' on qubit(s) {list(op.qubits)} is a "
                    f"mid-circuit {'conditional' if op.condition else 'non-unitary'} operation; "
                    f"use sample()/run() instead"
                )
        n = max(circuit.num_qubits, 1)
        state = self.backend.zero_state(n)
        if circuit.num_qubits == 0:
            return state
        return self.backend.apply_gates(state, self._gate_list(body, _phase_value(circuit)))

    def statevector(self, circuit: Circuit) -> np.ndarray:
        """Final state as a complex numpy array (qubit k = bit k of the index)."""
        return self.backend.to_numpy(self.final_state(circuit))

    def probabilities(self, circuit: Circuit) -> np.ndarray:
        return self.backend.probabilities(self.final_state(circuit))

    def expectation(self, circuit: Circuit, observable: Observable) -> complex:
        if observable.num_qubits > circuit.num_qubits:
            raise SimulationError(
                f"observable acts on {observable.num_qubits} qubits, circuit has {circuit.num_qubits}")
        return self.backend.expectation(self.final_state(circuit), observable)

    # ---- sampling -----------------------------------------------------------------------------
    def run(self, circuit: Circuit, shots: int = 1024,
            seed: int | np.random.Generator | None = None) -> Result:
        """Sample ``shots`` measurement records.

        A circuit with no measurement at all is measured on every qubit (bitstrings over qubits).
        """
        if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
            raise SimulationError(f"shots must be a positive integer, got {shots!r}")
        _check_simulable(circuit)
        rng = as_rng(seed)
        if not any(isinstance(op.gate, Measure) for op in circuit.operations):
            circuit = _measure_into_fresh(circuit)
        body, terminal = split_terminal_measurements(circuit)
        width = circuit.num_clbits
        counts: dict[int, int] = {}
        be = self.backend
        n = max(circuit.num_qubits, 1)
        # stack of branches: (op index, state, classical value, shots). The global phase does not
        # change any probability, so sampling ignores it.
        stack: list[tuple[int, Any, int, int]] = [(0, None, 0, int(shots))]
        while stack:
            i, state, cval, nshots = stack.pop()
            if state is None:
                state = be.zero_state(n)
            pending: list[Operation] = []
            while i < len(body):
                op = body[i]
                if op.condition is not None and not _holds(op, cval):
                    i += 1
                    continue
                if isinstance(op.gate, Gate):
                    pending.append(op)
                    i += 1
                    continue
                if isinstance(op.gate, Barrier):
                    i += 1
                    continue
                state = be.apply_gates(state, self._gate_list(pending))
                pending = []
                q = op.qubits[0]
                p1 = min(max(be.prob_one(state, q), 0.0), 1.0)
                n1 = int(rng.binomial(nshots, p1))
                outcomes = [(o, k) for o, k in ((0, nshots - n1), (1, n1)) if k > 0]
                branches = []
                for j, (o, k) in enumerate(outcomes):
                    st = state if j == len(outcomes) - 1 else be.copy(state)
                    st = be.collapse(st, q, o, p1 if o else 1.0 - p1)
                    nv = cval
                    if isinstance(op.gate, Reset):
                        if o:
                            st = be.flip(st, q)
                    else:
                        c = op.clbits[0]
                        nv = (cval & ~(1 << c)) | (o << c)
                    branches.append((i + 1, st, nv, k))
                # continue with the last branch here, push the others
                stack.extend(branches[:-1])
                i, state, cval, nshots = branches[-1]
            state = be.apply_gates(state, self._gate_list(pending))
            self._sample_terminal(state, terminal, cval, nshots, rng, counts)
        out = {format(v, f"0{width}b") if width else "": k for v, k in sorted(counts.items())}
        return Result(out, int(shots), circuit.num_qubits, self.method)

    def _sample_terminal(self, state: Any, terminal: list[tuple[int, int]], cval: int,
                         shots: int, rng: np.random.Generator, counts: dict[int, int]) -> None:
        if not terminal:
            counts[cval] = counts.get(cval, 0) + shots
            return
        idx = self.backend.sample_indices(state, shots, rng)
        uniq, k = np.unique(idx, return_counts=True)
        clear = 0
        for _, c in terminal:
            clear |= 1 << c
        for u, cnt in zip(uniq.tolist(), k.tolist()):
            v = cval & ~clear
            for q, c in terminal:
                v |= ((u >> q) & 1) << c
            counts[v] = counts.get(v, 0) + int(cnt)


def _holds(op: Operation, cval: int) -> bool:
    cond = op.condition
    assert cond is not None
    v = 0
    for j, c in enumerate(cond.clbits):
        v |= ((cval >> c) & 1) << j
    return v == cond.value


def _measure_into_fresh(circuit: Circuit) -> Circuit:
    """Measure every qubit into new classical bits appended after any existing ones."""
    out = circuit.copy()
    base = out.num_clbits
    out.cregs = out.cregs + (Register("meas" if base else "c", out.num_qubits),)
    out.num_clbits = base + out.num_qubits
    for q in range(out.num_qubits):
        out.measure(q, base + q)
    return out


def check_precision(precision: str) -> str:
    if precision not in ("single", "double"):
        raise SimulationError(f"precision must be 'single' or 'double', got {precision!r}")
    return precision
