"""The :class:`Circuit` value type.

Bit order: qubit ``k`` is bit ``k`` of a statevector index (little-endian); in a bitstring qubit 0
(and classical bit 0) is the rightmost character. Same as Qiskit.

Examples:
    >>> c = Circuit(2, 2).h(0).cx(0, 1).measure(0, 0).measure(1, 1)
    >>> c.gate_counts
    {'h': 1, 'cx': 1, 'measure': 2}
    >>> Circuit.from_json(c.to_json()) == c
    True
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import CircuitError
from .gates import Barrier, Gate, Instruction, Measure, OpaqueGate, Reset, UnitaryGate
from .parameter import (
    Parameter,
    ParameterExpression,
    ParamValue,
    bind_value,
    value_from_json,
    value_to_json,
)


@dataclass(frozen=True)
class Register:
    """A named slice of a circuit's qubits or classical bits (OpenQASM ``qreg``/``creg``)."""

    name: str
    size: int


@dataclass(frozen=True)
class Condition:
    """Classical condition: the operation runs when the bits ``clbits`` read, as a little-endian
    integer (``clbits[0]`` is the least significant), equal ``value``."""

    clbits: tuple[int, ...]
    value: int


@dataclass(frozen=True)
class Operation:
    """An instruction applied to qubits (and classical bits), optionally under a condition."""

    gate: Instruction
    qubits: tuple[int, ...]
    clbits: tuple[int, ...] = ()
    condition: Condition | None = None

    @property
    def name(self) -> str:
        return self.gate.name

    def __repr__(self) -> str:
        extra = ""
        if self.clbits:
            extra += f", clbits={self.clbits!r}"
        if self.condition is not None:
            extra += f", condition={self.condition!r}"
        return f"Operation({self.gate!r}, {self.qubits!r}{extra})"


def _as_tuple(x: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(x, (int, np.integer)):
        return (int(x),)
    return tuple(int(v) for v in x)


@dataclass(eq=False)
class Circuit:
    """A quantum circuit over ``num_qubits`` qubits and ``num_clbits`` classical bits.

    Builder methods (``h``, ``cx``, ``rx`` ...) append and return the circuit so calls chain.
    Treat a finished circuit as a value: ``==`` compares structure, ``to_json``/``from_json``
    round-trip exactly, ``repr`` evaluates back to an equal circuit.
    """

    num_qubits: int
    num_clbits: int = 0
    operations: list[Operation] = field(default_factory=list)
    global_phase: ParamValue = 0.0
    qregs: tuple[Register, ...] = ()
    cregs: tuple[Register, ...] = ()
    name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.num_qubits, (int, np.integer)) or self.num_qubits < 0:
            raise CircuitError(f"num_qubits must be a non-negative integer, got {self.num_qubits!r}")
        if not isinstance(self.num_clbits, (int, np.integer)) or self.num_clbits < 0:
            raise CircuitError(f"num_clbits must be a non-negative integer, got {self.num_clbits!r}")
        self.num_qubits = int(self.num_qubits)
        self.num_clbits = int(self.num_clbits)
        if not self.qregs and self.num_qubits:
            self.qregs = (Register("q", self.num_qubits),)
        if not self.cregs and self.num_clbits:
            self.cregs = (Register("c", self.num_clbits),)
        self.qregs = tuple(self.qregs)
        self.cregs = tuple(self.cregs)
        if sum(r.size for r in self.qregs) != self.num_qubits:
            raise CircuitError("quantum registers do not add up to num_qubits")
        if sum(r.size for r in self.cregs) != self.num_clbits:
            raise CircuitError("classical registers do not add up to num_clbits")
        ops = list(self.operations)
        self.operations = []
        for op in ops:
            self._append_op(op)

    # ---- building -----------------------------------------------------------------------------
    def _check_qubits(self, qubits: tuple[int, ...], what: str) -> None:
        for q in qubits:
            if not 0 <= q < self.num_qubits:
                raise CircuitError(
                    f"{what}: qubit {q} out of range for a {self.num_qubits}-qubit circuit"
                )
        if len(set(qubits)) != len(qubits):
            raise CircuitError(f"{what}: repeated qubit in {qubits}")

    def _check_clbits(self, clbits: tuple[int, ...], what: str) -> None:
        for c in clbits:
            if not 0 <= c < self.num_clbits:
                raise CircuitError(
                    f"{what}: classical bit {c} out of range for {self.num_clbits} bits"
                )

    def _append_op(self, op: Operation) -> None:
        g = op.gate
        what = g.name
        if len(op.qubits) != g.num_qubits:
            raise CircuitError(f"{what} acts on {g.num_qubits} qubits, got {len(op.qubits)}")
        if len(op.clbits) != g.num_clbits:
            raise CircuitError(f"{what} writes {g.num_clbits} classical bits, got {len(op.clbits)}")
        self._check_qubits(op.qubits, what)
        self._check_clbits(op.clbits, what)
        if op.condition is not None:
            self._check_clbits(op.condition.clbits, f"condition of {what}")
            if not 0 <= op.condition.value < (1 << len(op.condition.clbits)):
                raise CircuitError(f"condition value {op.condition.value} does not fit its bits")
        self.operations.append(op)

    def append(
        self,
        gate: Instruction | str,
        qubits: int | Sequence[int],
        clbits: int | Sequence[int] = (),
        condition: Condition | tuple[Sequence[int], int] | None = None,
        params: Sequence[object] = (),
    ) -> Circuit:
        """Append ``gate`` (an :class:`Instruction` or a gate name with ``params``)."""
        inst = Gate(gate, params) if isinstance(gate, str) else gate
        if condition is not None and not isinstance(condition, Condition):
            bits, value = condition
            condition = Condition(_as_tuple(bits), int(value))
        self._append_op(Operation(inst, _as_tuple(qubits), _as_tuple(clbits), condition))
        return self

    def _g(self, name: str, params: tuple[object, ...], qubits: tuple[int, ...]) -> Circuit:
        return self.append(Gate(name, params), qubits)

    def id(self, q: int) -> Circuit:
        return self._g("id", (), (q,))

    def x(self, q: int) -> Circuit:
        return self._g("x", (), (q,))

    def y(self, q: int) -> Circuit:
        return self._g("y", (), (q,))

    def z(self, q: int) -> Circuit:
        return self._g("z", (), (q,))

    def h(self, q: int) -> Circuit:
        return self._g("h", (), (q,))

    def s(self, q: int) -> Circuit:
        return self._g("s", (), (q,))

    def sdg(self, q: int) -> Circuit:
        return self._g("sdg", (), (q,))

    def t(self, q: int) -> Circuit:
        return self._g("t", (), (q,))

    def tdg(self, q: int) -> Circuit:
        return self._g("tdg", (), (q,))

    def sx(self, q: int) -> Circuit:
        return self._g("sx", (), (q,))

    def sxdg(self, q: int) -> Circuit:
        return self._g("sxdg", (), (q,))

    def sy(self, q: int) -> Circuit:
        return self._g("sy", (), (q,))

    def sw(self, q: int) -> Circuit:
        return self._g("sw", (), (q,))

    def rx(self, theta: ParamValue, q: int) -> Circuit:
        return self._g("rx", (theta,), (q,))

    def ry(self, theta: ParamValue, q: int) -> Circuit:
        return self._g("ry", (theta,), (q,))

    def rz(self, theta: ParamValue, q: int) -> Circuit:
        return self._g("rz", (theta,), (q,))

    def p(self, lam: ParamValue, q: int) -> Circuit:
        return self._g("p", (lam,), (q,))

    def u(self, theta: ParamValue, phi: ParamValue, lam: ParamValue, q: int) -> Circuit:
        return self._g("u", (theta, phi, lam), (q,))

    def cx(self, c: int, t: int) -> Circuit:
        return self._g("cx", (), (c, t))

    def cy(self, c: int, t: int) -> Circuit:
        return self._g("cy", (), (c, t))

    def cz(self, c: int, t: int) -> Circuit:
        return self._g("cz", (), (c, t))

    def ch(self, c: int, t: int) -> Circuit:
        return self._g("ch", (), (c, t))

    def cp(self, lam: ParamValue, c: int, t: int) -> Circuit:
        return self._g("cp", (lam,), (c, t))

    def crx(self, theta: ParamValue, c: int, t: int) -> Circuit:
        return self._g("crx", (theta,), (c, t))

    def cry(self, theta: ParamValue, c: int, t: int) -> Circuit:
        return self._g("cry", (theta,), (c, t))

    def crz(self, theta: ParamValue, c: int, t: int) -> Circuit:
        return self._g("crz", (theta,), (c, t))

    def swap(self, a: int, b: int) -> Circuit:
        return self._g("swap", (), (a, b))

    def iswap(self, a: int, b: int) -> Circuit:
        return self._g("iswap", (), (a, b))

    def rxx(self, theta: ParamValue, a: int, b: int) -> Circuit:
        return self._g("rxx", (theta,), (a, b))

    def ryy(self, theta: ParamValue, a: int, b: int) -> Circuit:
        return self._g("ryy", (theta,), (a, b))

    def rzz(self, theta: ParamValue, a: int, b: int) -> Circuit:
        return self._g("rzz", (theta,), (a, b))

    def fsim(self, theta: ParamValue, phi: ParamValue, a: int, b: int) -> Circuit:
        return self._g("fsim", (theta, phi), (a, b))

    def ccx(self, c0: int, c1: int, t: int) -> Circuit:
        return self._g("ccx", (), (c0, c1, t))

    def cswap(self, c: int, a: int, b: int) -> Circuit:
        return self._g("cswap", (), (c, a, b))

    def unitary(self, matrix: object, qubits: Sequence[int], label: str | None = None) -> Circuit:
        return self.append(UnitaryGate(matrix, label), qubits)

    def measure(self, qubit: int, clbit: int) -> Circuit:
        return self.append(Measure(), qubit, clbit)

    def measure_all(self) -> Circuit:
        """Measure qubit k into classical bit k, adding classical bits (register ``meas``) if needed."""
        if self.num_clbits < self.num_qubits:
            extra = self.num_qubits - self.num_clbits
            self.cregs = self.cregs + (Register("meas" if self.cregs else "c", extra),)
            self.num_clbits = self.num_qubits
        for q in range(self.num_qubits):
            self.measure(q, q)
        return self

    def reset(self, qubit: int) -> Circuit:
        return self.append(Reset(), qubit)

    def barrier(self, *qubits: int) -> Circuit:
        qs = qubits or tuple(range(self.num_qubits))
        return self.append(Barrier(len(qs)), qs)

    # ---- registers ----------------------------------------------------------------------------
    def qreg_offset(self, name: str) -> int:
        return _offset(self.qregs, name, "quantum")

    def creg_offset(self, name: str) -> int:
        return _offset(self.cregs, name, "classical")

    # ---- queries ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.operations)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations)

    @property
    def gate_counts(self) -> dict[str, int]:
        """Operation counts by name, in first-appearance order."""
        out: dict[str, int] = {}
        for op in self.operations:
            out[op.name] = out.get(op.name, 0) + 1
        return out

    def count_ops(self) -> dict[str, int]:
        return self.gate_counts

    def depth(self) -> int:
        """Number of layers: each operation sits one past the latest of its qubits and bits.
        Barriers align their qubits but add no layer."""
        qlev = [0] * self.num_qubits
        clev = [0] * self.num_clbits
        for op in self.operations:
            bits = list(op.clbits) + (list(op.condition.clbits) if op.condition else [])
            start = max([qlev[q] for q in op.qubits] + [clev[c] for c in bits] + [0])
            level = start if isinstance(op.gate, Barrier) else start + 1
            for q in op.qubits:
                qlev[q] = level
            for c in bits:
                clev[c] = level
        return max(qlev + clev + [0])

    @property
    def parameters(self) -> frozenset[Parameter]:
        out: frozenset[Parameter] = frozenset()
        for op in self.operations:
            out |= op.gate.parameters
        if isinstance(self.global_phase, ParameterExpression):
            out |= self.global_phase.parameters
        return out

    @property
    def is_unitary(self) -> bool:
        """True when every operation is a gate (or barrier) with no condition."""
        return all(
            (op.gate.is_unitary or isinstance(op.gate, Barrier)) and op.condition is None
            for op in self.operations
        )

    # ---- transformations ----------------------------------------------------------------------
    def copy(self) -> Circuit:
        return Circuit(self.num_qubits, self.num_clbits, list(self.operations), self.global_phase,
                       self.qregs, self.cregs, self.name)

    def bind(self, values: Mapping[Parameter | str, float]) -> Circuit:
        """A copy with ``values`` substituted for parameters (by :class:`Parameter` or name)."""
        ops = [
            Operation(op.gate.bind(values), op.qubits, op.clbits, op.condition)
            for op in self.operations
        ]
        return Circuit(self.num_qubits, self.num_clbits, ops, bind_value(self.global_phase, values),
                       self.qregs, self.cregs, self.name)

    def inverse(self) -> Circuit:
        """The adjoint circuit. Raises :class:`CircuitError` for measure, reset or conditions."""
        ops = []
        for op in reversed(self.operations):
            if isinstance(op.gate, Barrier):
                ops.append(op)
                continue
            if not isinstance(op.gate, Gate) or op.condition is not None:
                raise CircuitError(f"cannot invert a circuit containing '{op.name}'")
            ops.append(Operation(op.gate.inverse(), op.qubits))
        return Circuit(self.num_qubits, self.num_clbits, ops, -self.global_phase, self.qregs,
                       self.cregs, self.name)

    def compose(
        self,
        other: Circuit,
        qubits: Sequence[int] | None = None,
        clbits: Sequence[int] | None = None,
    ) -> Circuit:
        """A new circuit: ``self`` followed by ``other`` mapped onto ``qubits``/``clbits``."""
        qmap = list(range(other.num_qubits)) if qubits is None else [int(q) for q in qubits]
        cmap = list(range(other.num_clbits)) if clbits is None else [int(c) for c in clbits]
        if len(qmap) != other.num_qubits or len(cmap) != other.num_clbits:
            raise CircuitError("compose: qubit/clbit maps must cover the other circuit")
        out = self.copy()
        for op in other.operations:
            cond = op.condition
            if cond is not None:
                cond = Condition(tuple(cmap[c] for c in cond.clbits), cond.value)
            out._append_op(Operation(op.gate, tuple(qmap[q] for q in op.qubits),
                                     tuple(cmap[c] for c in op.clbits), cond))
        out.global_phase = self.global_phase + other.global_phase
        return out

    def __add__(self, other: Circuit) -> Circuit:
        if not isinstance(other, Circuit):
            return NotImplemented
        if other.num_qubits > self.num_qubits or other.num_clbits > self.num_clbits:
            raise CircuitError("cannot add a wider circuit; use compose() with qubit maps")
        return self.compose(other)

    def expand(self, basis: Iterable[str] = ("u", "cx")) -> Circuit:
        """Lower every gate outside ``basis`` through its decomposition, recursively.

        The result has the same unitary including global phase. Gates without a decomposition
        (multi-qubit :class:`UnitaryGate`) are kept.
        """
        keep = set(basis)
        out = Circuit(self.num_qubits, self.num_clbits, [], self.global_phase, self.qregs,
                      self.cregs, self.name)
        phase: ParamValue = self.global_phase

        def emit(gate: Gate, qubits: tuple[int, ...], cond: Condition | None) -> None:
            nonlocal phase
            dec = None if gate.name in keep else gate.decompose()
            if dec is None:
                out._append_op(Operation(gate, qubits, (), cond))
                return
            steps, ph = dec
            if cond is not None and ph != 0:
                raise CircuitError(f"cannot expand conditional '{gate.name}' with a phase")
            phase = phase + ph
            for g, pos in steps:
                emit(g, tuple(qubits[i] for i in pos), cond)

        for op in self.operations:
            if isinstance(op.gate, Gate):
                emit(op.gate, op.qubits, op.condition)
            else:
                out._append_op(op)
        out.global_phase = phase if isinstance(phase, ParameterExpression) else float(phase)
        return out

    # ---- value semantics ----------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Circuit):
            return NotImplemented
        return (
            self.num_qubits == other.num_qubits
            and self.num_clbits == other.num_clbits
            and self.qregs == other.qregs
            and self.cregs == other.cregs
            and self.operations == other.operations
            and _phase_eq(self.global_phase, other.global_phase)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = [str(self.num_qubits), str(self.num_clbits)]
        if self.operations:
            body = ",\n    ".join(repr(op) for op in self.operations)
            parts.append(f"operations=[\n    {body},\n]")
        if self.global_phase != 0:
            parts.append(f"global_phase={self.global_phase!r}")
        if self.qregs != ((Register("q", self.num_qubits),) if self.num_qubits else ()):
            parts.append(f"qregs={self.qregs!r}")
        if self.cregs != ((Register("c", self.num_clbits),) if self.num_clbits else ()):
            parts.append(f"cregs={self.cregs!r}")
        if self.name:
            parts.append(f"name={self.name!r}")
        return f"Circuit({', '.join(parts)})"

    def __str__(self) -> str:
        from .drawing import draw

        return draw(self)

    def draw(self) -> str:
        """A text diagram, one line per qubit, time left to right."""
        return str(self)

    # ---- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        ops = []
        for op in self.operations:
            d: dict[str, Any] = {"gate": op.gate.name, "qubits": list(op.qubits)}
            g = op.gate
            if isinstance(g, UnitaryGate):
                m = g.matrix()
                d["matrix"] = [[[float(z.real), float(z.imag)] for z in row] for row in m]
                if g.label:
                    d["label"] = g.label
            elif isinstance(g, OpaqueGate):
                d["opaque"] = True
            if g.params:
                d["params"] = [value_to_json(p) for p in g.params]
            if op.clbits:
                d["clbits"] = list(op.clbits)
            if op.condition is not None:
                d["condition"] = {"clbits": list(op.condition.clbits), "value": op.condition.value}
            ops.append(d)
        return {
            "format": "qvalley.circuit/1",
            "num_qubits": self.num_qubits,
            "num_clbits": self.num_clbits,
            "qregs": [[r.name, r.size] for r in self.qregs],
            "cregs": [[r.name, r.size] for r in self.cregs],
            "global_phase": value_to_json(self.global_phase),
            "name": self.name,
            "operations": ops,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Circuit:
        try:
            ops = []
            for o in d["operations"]:
                name = o["gate"]
                params = [value_from_json(p) for p in o.get("params", [])]
                qubits = tuple(o["qubits"])
                inst: Instruction
                if name == "measure":
                    inst = Measure()
                elif name == "reset":
                    inst = Reset()
                elif name == "barrier":
                    inst = Barrier(len(qubits))
                elif name == "unitary":
                    m = np.array([[complex(re, im) for re, im in row] for row in o["matrix"]])
                    inst = UnitaryGate(m, o.get("label"))
                elif o.get("opaque"):
                    inst = OpaqueGate(name, len(qubits), params)
                else:
                    inst = Gate(name, params)
                cond = o.get("condition")
                ops.append(Operation(inst, qubits, tuple(o.get("clbits", ())),
                                     Condition(tuple(cond["clbits"]), int(cond["value"]))
                                     if cond else None))
            return cls(
                int(d["num_qubits"]),
                int(d.get("num_clbits", 0)),
                ops,
                value_from_json(d.get("global_phase", 0.0)),
                tuple(Register(n, int(s)) for n, s in d.get("qregs", ())),
                tuple(Register(n, int(s)) for n, s in d.get("cregs", ())),
                d.get("name"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, CircuitError):
                raise
            raise CircuitError(f"malformed circuit JSON: {exc!r}") from None

    @classmethod
    def from_json(cls, text: str | Mapping[str, Any]) -> Circuit:
        if isinstance(text, str):
            try:
                text = json.loads(text)
            except json.JSONDecodeError as exc:
                raise CircuitError(f"malformed circuit JSON: {exc}") from None
        if not isinstance(text, Mapping):
            raise CircuitError("malformed circuit JSON: expected an object")
        return cls.from_dict(text)


def _phase_eq(a: ParamValue, b: ParamValue) -> bool:
    if isinstance(a, ParameterExpression) or isinstance(b, ParameterExpression):
        return bool(a == b)
    return abs(float(a) - float(b)) < 1e-12


def _offset(regs: tuple[Register, ...], name: str, kind: str) -> int:
    off = 0
    for r in regs:
        if r.name == name:
            return off
        off += r.size
    raise CircuitError(f"no {kind} register named '{name}'")
