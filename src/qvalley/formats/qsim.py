"""qsim's circuit text format: the format of Google's published Sycamore circuit files.

The first non-comment line holds the number of qubits; every further line is one gate::

    time gate_name qubit(s) [parameters]

Lines that are empty or start with ``#`` are skipped. ``time`` is a non-negative integer "moment":
gates sharing a time act on disjoint qubits. Reference: qsim's ``docs/input_format.md`` and its
parser ``lib/circuit_qsim_parser.h`` with the matrices of ``lib/gates_qsim.h``.

Gates, with the qvalley form each one is read as. qsim matrices use the same bit order as qvalley
(operand ``j`` is bit ``j`` of the matrix index, ``cnot q0 q1`` flips ``q1`` when ``q0`` is 1),
and every mapping below is exact, global phase included:

==========================  =======================================  =============================
qsim                        meaning                                  qvalley
==========================  =======================================  =============================
``id1 q``                   identity                                 ``id``
``h``, ``t``, ``s``         Hadamard, diag(1, e^{iπ/4}), diag(1, i)  ``h``, ``t``, ``s``
``x``, ``y``, ``z``         Paulis                                   ``x``, ``y``, ``z``
``x_1_2``, ``y_1_2``        √X, √Y (Cirq's ``X**0.5``, ``Y**0.5``)   ``sx``, ``sy``
``hz_1_2``                  √W, W = (X+Y)/√2                         ``sw``
``rx q φ``, ``ry``, ``rz``  exp(-iφP/2)                              ``rx``, ``ry``, ``rz``
``rxy q θ φ``               exp(-iφ(cosθ X + sinθ Y)/2)              ``u(φ, θ-π/2, π/2-θ)``
``id2 a b``                 identity                                 ``id`` on ``a`` and ``b``
``cz a b``                  controlled Z                             ``cz``
``cnot a b`` / ``cx``       control ``a``, target ``b``              ``cx``
``sw a b``                  swap                                     ``swap``
``is a b``                  iSWAP                                    ``iswap``
``fs a b θ φ``              fSim(θ, φ) as Cirq's ``FSimGate``        ``fsim(θ, φ)``
``cp a b φ``                diag(1, 1, 1, e^{-iφ}) (note the sign)   ``cp(-φ)``
``p φ``                     global phase e^{iφ} (newer qsim only)    added to ``global_phase``
``m q...``                  measure each qubit                       ``measure(q, q)``
``c k... G args``           ``G`` controlled by qubits ``k...``      named gate or ``UnitaryGate``
==========================  =======================================  =============================

Reading:
    * Operations are ordered by time (stable, so lines with equal times keep file order). qsim
      itself rejects a line whose time is not after the previous time of each of its qubits;
      qvalley accepts such files and orders by time. A qubit used twice at one time is an error.
      The times themselves are not kept: a qvalley circuit is a plain gate list.
    * Measurements write classical bit ``q`` for qubit ``q``: a circuit with any ``m`` line gets
      ``num_clbits == num_qubits`` (register ``c``); a qubit measured twice overwrites its bit.
    * ``c`` lines become ``cx``/``cy``/``cz``/``ch``/``cs``/``csx``/``crx``/``cry``/``crz``/
      ``cu``/``cp``/``cswap``/``ccx``/``ccz`` (or ``p``/``cp`` for a controlled global phase)
      where one matches exactly, otherwise a :class:`~qvalley.circuit.UnitaryGate` of at most
      eight qubits.
    * Only the plain line format is read: not the expressions, symbols, noise or classical
      control of qsim's newer circuit language. Errors are :class:`~qvalley.FormatError` with
      line, column and token.

Writing:
    * Lines keep the circuit's operation order. Each gets the earliest time that is after the
      previous gate on its qubits and not before the line above it (ASAP layering restricted to
      the circuit order, so the file is sorted by time and reading it back gives the very same
      operation list); barriers align the times of their qubits. Consecutive measurements at
      one time share an ``m`` line.
    * Gates without a qsim name are lowered exactly through their decompositions (``p`` and
      ``sdg``/``tdg`` become ``rz``; ``u`` becomes ``rz`` then ``rxy``). The file therefore
      equals the circuit only **up to global phase**; the circuit's ``global_phase`` is dropped
      too. Controlled gates with a qsim form (``cy``, ``ch``, ``ccx`` ...) are written with the
      ``c`` prefix unless ``portable=True``.
    * Classical conditions, ``reset``, opaque gates, multi-qubit ``UnitaryGate`` s, unbound
      parameters and measurements into a classical bit other than the qubit's own index cannot
      be written: :class:`~qvalley.FormatError`.

Examples:
    >>> c = loads("2\\n0 h 0\\n1 cnot 0 1\\n2 m 1\\n")
    >>> c.gate_counts, c.num_clbits
    ({'h': 1, 'cx': 1, 'measure': 1}, 2)
    >>> print(dumps(Circuit(2).sx(0).fsim(1.5707963267948966, 0.5235987755982988, 0, 1)), end="")
    2
    0 x_1_2 0
    1 fs 0 1 1.5707963267948966 0.5235987755982988
"""

from __future__ import annotations

import cmath
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .._errors import CircuitError, FormatError
from ..circuit import Barrier, Circuit, Gate, Measure, Operation, UnitaryGate
from ..circuit.parameter import ParameterExpression, ParamValue

PI = math.pi

#: Widest gate (controls plus targets) a ``c`` line may become as a ``UnitaryGate``.
MAX_UNITARY_QUBITS = 8
#: Largest qubit count accepted on the first line.
MAX_QUBITS = 1 << 20

# A qvalley step of a qsim gate: (gate name, params, operand positions).
_Step = tuple[str, tuple[float, ...], tuple[int, ...]]


@dataclass(frozen=True)
class QsimGate:
    """One qsim gate name: arity, parameter names and its exact qvalley translation.

    ``steps(*params)`` gives ``(qvalley gate name, params, operand positions)`` triples and
    ``phase(*params)`` (when set) a global phase to add.
    """

    name: str
    num_qubits: int
    params: tuple[str, ...]
    steps: Callable[..., list[_Step]]
    phase: Callable[..., float] | None = None

    @property
    def usage(self) -> str:
        qubits = ["qubit"] if self.num_qubits == 1 else [f"qubit{i + 1}"
                                                         for i in range(self.num_qubits)]
        return " ".join(["time", self.name, *qubits, *self.params])


def _one(name: str) -> Callable[..., list[_Step]]:
    return lambda *p: [(name, tuple(p), (0,))]


def _two(name: str) -> Callable[..., list[_Step]]:
    return lambda *p: [(name, tuple(p), (0, 1))]


def _gates() -> dict[str, QsimGate]:
    table = [
        QsimGate("id1", 1, (), _one("id")),
        QsimGate("h", 1, (), _one("h")),
        QsimGate("t", 1, (), _one("t")),
        QsimGate("x", 1, (), _one("x")),
        QsimGate("y", 1, (), _one("y")),
        QsimGate("z", 1, (), _one("z")),
        QsimGate("x_1_2", 1, (), _one("sx")),
        QsimGate("y_1_2", 1, (), _one("sy")),
        QsimGate("rx", 1, ("phi",), _one("rx")),
        QsimGate("ry", 1, ("phi",), _one("ry")),
        QsimGate("rz", 1, ("phi",), _one("rz")),
        # exp(-iφ(cosθ X + sinθ Y)/2) = rz(θ) rx(φ) rz(-θ) = U(φ, θ - π/2, π/2 - θ) exactly.
        QsimGate("rxy", 1, ("theta", "phi"),
                  lambda theta, phi: [("u", (phi, theta - PI / 2, PI / 2 - theta), (0,))]),
        QsimGate("hz_1_2", 1, (), _one("sw")),
        QsimGate("s", 1, (), _one("s")),
        QsimGate("id2", 2, (), lambda: [("id", (), (0,)), ("id", (), (1,))]),
        QsimGate("cz", 2, (), _two("cz")),
        QsimGate("cnot", 2, (), _two("cx")),
        QsimGate("cx", 2, (), _two("cx")),
        QsimGate("sw", 2, (), _two("swap")),
        QsimGate("is", 2, (), _two("iswap")),
        QsimGate("fs", 2, ("theta", "phi"), _two("fsim")),
        # qsim's cp(φ) is diag(1, 1, 1, e^{-iφ}) = fs(0, φ); qvalley's cp(λ) has e^{+iλ}.
        QsimGate("cp", 2, ("phi",), lambda phi: [("cp", (-phi,), (0, 1))]),
        QsimGate("p", 0, ("phi",), lambda phi: [], phase=lambda phi: phi),
    ]
    return {g.name: g for g in table}


#: The unitary qsim gates by name (``m`` and the ``c`` prefix are handled separately).
QSIM_GATES: dict[str, QsimGate] = _gates()

_INT = re.compile(r"[0-9]+")
_SIGNED_INT = re.compile(r"[+-][0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TOKEN = re.compile(r"\S+")
_MAX_DIGITS = 18

# ---- reading ------------------------------------------------------------------------------------


@dataclass
class _Entry:
    """The operations of one gate line, with its time."""

    time: int
    ops: list[Operation]
    phase: float = 0.0
    measures: bool = False


class _LineReader:
    """Token cursor over one line; every error it raises points at a token or the line's end."""

    def __init__(self, path: str | None, lineno: int, line: str) -> None:
        self.path = path
        self.lineno = lineno
        self.end_col = len(line) + 1
        self.tokens = [(m.group(), m.start() + 1) for m in _TOKEN.finditer(line)]
        self.pos = 0

    def error(self, message: str, col: int | None = None, token: str | None = None) -> FormatError:
        return FormatError(message, path=self.path, line=self.lineno, column=col, token=token)

    def at_end(self) -> bool:
        return self.pos >= len(self.tokens)

    def peek(self) -> str | None:
        return None if self.at_end() else self.tokens[self.pos][0]

    def take(self, what: str) -> tuple[str, int]:
        if self.at_end():
            raise self.error(f"expected {what}, found the end of the line", self.end_col)
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def integer(self, what: str, tok: str, col: int) -> int:
        if _SIGNED_INT.fullmatch(tok) and tok.startswith("-"):
            raise self.error(f"{what} must not be negative, got '{tok}'", col, tok)
        if not _INT.fullmatch(tok):
            raise self.error(f"expected {what} (a non-negative integer), got '{tok}'", col, tok)
        if len(tok.lstrip("0")) > _MAX_DIGITS:
            raise self.error(f"{what} '{tok}' is too large", col, tok)
        return int(tok)

    def qubit(self, num_qubits: int, usage: str) -> tuple[int, int, str]:
        tok, col = self.take(f"a qubit index (usage: {usage})")
        q = self.integer("a qubit index", tok, col)
        if q >= num_qubits:
            raise self.error(
                f"qubit {q} is out of range for a {num_qubits}-qubit circuit", col, tok)
        return q, col, tok

    def param(self, name: str, usage: str) -> float:
        tok, col = self.take(f"parameter '{name}' (usage: {usage})")
        if not _FLOAT.fullmatch(tok):
            raise self.error(f"expected a number for parameter '{name}', got '{tok}'", col, tok)
        value = float(tok)
        if not math.isfinite(value):
            raise self.error(f"parameter '{name}' is out of range: '{tok}'", col, tok)
        return value

    def finish(self, usage: str) -> None:
        if not self.at_end():
            tok, col = self.tokens[self.pos]
            raise self.error(f"unexpected token '{tok}' (usage: {usage})", col, tok)


def _embed(u: np.ndarray, positions: Sequence[int], width: int) -> np.ndarray:
    """``u`` acting on ``positions`` of a ``width``-qubit register, as a full matrix."""
    dim = 1 << width
    k = len(positions)
    mask = sum(1 << p for p in positions)
    full = np.zeros((dim, dim), dtype=np.complex128)
    for col in range(dim):
        sub_in = sum(((col >> p) & 1) << i for i, p in enumerate(positions))
        rest = col & ~mask
        for sub_out in range(1 << k):
            row = rest | sum(((sub_out >> i) & 1) << p for i, p in enumerate(positions))
            full[row, col] = u[sub_out, sub_in]
    return full


def _controlled_matrix(u: np.ndarray, nctrl: int) -> np.ndarray:
    """Controls on the low operands, ``u`` on the operands above them (qvalley's layout)."""
    du = u.shape[0]
    dc = 1 << nctrl
    m = np.eye(dc * du, dtype=np.complex128)
    idx = [dc - 1 + dc * k for k in range(du)]
    m[np.ix_(idx, idx)] = u
    return m


# Gates ``g`` whose singly controlled form is a named qvalley gate: name -> (name, params) maker.
_CONTROLLED_1: dict[str, Callable[[tuple[ParamValue, ...]], tuple[str, tuple[ParamValue, ...]]]] = {
    "x": lambda p: ("cx", p),
    "y": lambda p: ("cy", p),
    "z": lambda p: ("cz", p),
    "h": lambda p: ("ch", p),
    "s": lambda p: ("cs", p),
    "t": lambda p: ("cp", (PI / 4,)),
    "sx": lambda p: ("csx", p),
    "rx": lambda p: ("crx", p),
    "ry": lambda p: ("cry", p),
    "rz": lambda p: ("crz", p),
    "u": lambda p: ("cu", (*p, 0.0)),
    "swap": lambda p: ("cswap", p),
    "cx": lambda p: ("ccx", p),
    "cz": lambda p: ("ccz", p),
}
_CONTROLLED_2 = {"x": "ccx", "z": "ccz"}


def _controlled_ops(
    nctrl: int, steps: list[tuple[Gate, tuple[int, ...]]], phase: float, width: int,
) -> list[tuple[Gate, tuple[int, ...]]] | None:
    """Named qvalley gates for ``steps`` (on ``width`` targets) controlled by ``nctrl`` qubits.

    Operand positions: controls ``0..nctrl-1``, targets after them. ``None`` when no named
    gate matches exactly.
    """
    total = nctrl + width
    if not steps:  # a controlled global phase
        if nctrl == 1:
            return [(Gate("p", (phase,)), (0,))]
        if nctrl == 2:
            return [(Gate("cp", (phase,)), (0, 1))]
        return None
    if phase == 0 and all(g.name == "id" for g, _ in steps):
        return [(Gate("id"), (i,)) for i in range(total)]
    if phase != 0 or len(steps) != 1 or steps[0][1] != tuple(range(width)):
        return None
    gate = steps[0][0]
    targets = tuple(range(nctrl, total))
    if nctrl == 1 and gate.name in _CONTROLLED_1:
        name, params = _CONTROLLED_1[gate.name](gate.params)
        return [(Gate(name, params), (0, *targets))]
    if nctrl == 2 and gate.name in _CONTROLLED_2:
        return [(Gate(_CONTROLLED_2[gate.name]), (0, 1, *targets))]
    return None


def _target_matrix(steps: list[tuple[Gate, tuple[int, ...]]], phase: float,
                   width: int) -> np.ndarray:
    out = np.eye(1 << width, dtype=np.complex128)
    for gate, pos in steps:
        out = _embed(gate.matrix(), pos, width) @ out
    return complex(cmath.exp(1j * phase)) * out


class _Reader:
    """Reads the header and gate lines, checking qubits against the header and earlier lines."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.num_qubits = 0
        self.busy: dict[tuple[int, int], int] = {}  # (time, qubit) -> line

    def header(self, r: _LineReader) -> None:
        tok, col = r.take("the number of qubits")
        if not (_INT.fullmatch(tok) or _SIGNED_INT.fullmatch(tok)):
            raise r.error(
                f"the first line must hold the number of qubits, got '{tok}'", col, tok)
        if tok.startswith("-") or not tok.lstrip("+-0"):
            raise r.error(f"the number of qubits must be positive, got '{tok}'", col, tok)
        n = r.integer("the number of qubits", tok, col)
        if n > MAX_QUBITS:
            raise r.error(f"{n} qubits is more than qvalley accepts ({MAX_QUBITS})", col, tok)
        if not r.at_end():
            extra, ecol = r.tokens[r.pos]
            raise r.error(f"unexpected token '{extra}' after the number of qubits", ecol, extra)
        self.num_qubits = n

    def _use(self, r: _LineReader, time: int, qubits: Sequence[tuple[int, int, str]]) -> None:
        seen: set[int] = set()
        for q, col, tok in qubits:
            if q in seen:
                raise r.error(f"qubit {q} appears twice in one gate", col, tok)
            seen.add(q)
            other = self.busy.get((time, q))
            if other is not None:
                raise r.error(f"qubit {q} is already used at time {time} (line {other})", col, tok)
        for q, _, _ in qubits:
            self.busy[(time, q)] = r.lineno

    def _gate(self, r: _LineReader, name: str, ncol: int) -> QsimGate:
        spec = QSIM_GATES.get(name)
        if spec is None:
            raise r.error(f"unknown gate '{name}'", ncol, name)
        return spec

    def _operands(self, r: _LineReader, spec: QsimGate
                  ) -> tuple[list[tuple[int, int, str]], tuple[float, ...]]:
        qubits = [r.qubit(self.num_qubits, spec.usage) for _ in range(spec.num_qubits)]
        params = tuple(r.param(p, spec.usage) for p in spec.params)
        r.finish(spec.usage)
        return qubits, params

    def gate_line(self, r: _LineReader) -> _Entry:
        tok, col = r.take("a time")
        time = r.integer("the time", tok, col)
        name, ncol = r.take("a gate name")
        if name == "m":
            return self._measure(r, time)
        if name == "c":
            return self._controlled(r, time, ncol)
        spec = self._gate(r, name, ncol)
        qubits, params = self._operands(r, spec)
        self._use(r, time, qubits)
        qs = [q for q, _, _ in qubits]
        ops = [Operation(Gate(n, p), tuple(qs[i] for i in pos))
               for n, p, pos in spec.steps(*params)]
        phase = spec.phase(*params) if spec.phase is not None else 0.0
        return _Entry(time, ops, phase)

    def _measure(self, r: _LineReader, time: int) -> _Entry:
        usage = "time m qubit [qubit ...]"
        qubits = [r.qubit(self.num_qubits, usage)]
        while not r.at_end():
            qubits.append(r.qubit(self.num_qubits, usage))
        self._use(r, time, qubits)
        ops = [Operation(Measure(), (q,), (q,)) for q, _, _ in qubits]
        return _Entry(time, ops, measures=True)

    def _controlled(self, r: _LineReader, time: int, ccol: int) -> _Entry:
        usage = "time c control [control ...] gate qubit(s) [parameters]"
        controls: list[tuple[int, int, str]] = []
        while _INT.fullmatch(r.peek() or "") or _SIGNED_INT.fullmatch(r.peek() or ""):
            controls.append(r.qubit(self.num_qubits, usage))
        if not controls:
            tok = r.peek()
            col = r.end_col if tok is None else r.tokens[r.pos][1]
            raise r.error(f"'c' needs at least one control qubit (usage: {usage})", col, tok)
        name, ncol = r.take(f"the name of the controlled gate (usage: {usage})")
        if name in ("c", "m"):
            raise r.error(f"'{name}' cannot be controlled", ncol, name)
        spec = self._gate(r, name, ncol)
        targets, params = self._operands(r, spec)
        ctrl_set = {q for q, _, _ in controls}
        for q, col, tok in targets:
            if q in ctrl_set:
                raise r.error(f"qubit {q} is both a control and a target", col, tok)
        self._use(r, time, controls + targets)
        steps = [(Gate(n, p), pos) for n, p, pos in spec.steps(*params)]
        phase = spec.phase(*params) if spec.phase is not None else 0.0
        nctrl = len(controls)
        qubits = [q for q, _, _ in controls] + [q for q, _, _ in targets]
        named = _controlled_ops(nctrl, steps, phase, spec.num_qubits)
        if named is not None:
            ops = [Operation(g, tuple(qubits[i] for i in pos)) for g, pos in named]
            return _Entry(time, ops)
        if len(qubits) > MAX_UNITARY_QUBITS:
            raise r.error(
                f"controlled '{name}' on {len(qubits)} qubits has no qvalley gate; as a unitary "
                f"it may span at most {MAX_UNITARY_QUBITS} qubits", ccol, "c")
        m = _controlled_matrix(_target_matrix(steps, phase, spec.num_qubits), nctrl)
        label = "c" * nctrl + "-" + name
        return _Entry(time, [Operation(UnitaryGate(m, label), tuple(qubits))])


def loads(text: str, path: str | None = None) -> Circuit:
    """Read a circuit in qsim's text format.

    Args:
        text: the file's contents.
        path: file name used in error messages only.

    Returns:
        The circuit, operations ordered by time; ``num_clbits == num_qubits`` when it measures.

    Raises:
        FormatError: for any malformed input, with line, column and offending token.
    """
    if not isinstance(text, str):
        raise FormatError(f"qsim text must be a str, got {type(text).__name__}", path=path)
    if text.startswith("\ufeff"):  # a UTF-8 byte order mark
        text = text[1:]
    reader = _Reader(path)
    entries: list[_Entry] = []
    have_header = False
    lines = text.split("\n")
    for lineno, raw in enumerate(lines, 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        r = _LineReader(path, lineno, line)
        if r.at_end() or r.tokens[0][0].startswith("#"):
            continue
        if not have_header:
            reader.header(r)
            have_header = True
        else:
            entries.append(reader.gate_line(r))
    if not have_header:
        last = lines[-1] if lines else ""
        raise FormatError("empty qsim file: expected the number of qubits", path=path,
                          line=len(lines), column=len(last) + 1)
    entries.sort(key=lambda e: e.time)  # stable: equal times keep file order
    measured = any(e.measures for e in entries)
    phase = math.fsum(e.phase for e in entries)
    try:
        return Circuit(reader.num_qubits, reader.num_qubits if measured else 0,
                       [op for e in entries for op in e.ops], phase)
    except CircuitError as exc:  # pragma: no cover - the reader validates everything first
        raise FormatError(str(exc), path=path) from None


# ---- writing ------------------------------------------------------------------------------------

# qvalley gate -> qsim name; parameters written as they are unless noted in _write_op.
_DIRECT = {
    "id": "id1", "h": "h", "t": "t", "x": "x", "y": "y", "z": "z", "s": "s",
    "sx": "x_1_2", "sy": "y_1_2", "sw": "hz_1_2", "rx": "rx", "ry": "ry", "rz": "rz",
    "cz": "cz", "cx": "cnot", "iswap": "is", "fsim": "fs", "cp": "cp", "swap": "sw",
}
# qvalley controlled gate -> (number of controls, qsim name of the controlled gate).
_CONTROLLED = {
    "cy": (1, "y"), "ch": (1, "h"), "cs": (1, "s"), "csx": (1, "x_1_2"), "crx": (1, "rx"),
    "cry": (1, "ry"), "crz": (1, "rz"), "cswap": (1, "sw"), "ccx": (2, "x"), "ccz": (2, "z"),
}
# Gates listed in qsim's docs/input_format.md (what ``portable=True`` restricts itself to).
_PORTABLE = frozenset(_DIRECT) - {"swap"}


@dataclass
class _Line:
    qubits: tuple[int, ...]
    words: list[str]  # the line after the time, e.g. ["fs", "0", "1", "1.57", "0.52"]
    measure: bool = False


def _num(x: ParamValue) -> str:
    return repr(float(x) + 0.0)  # + 0.0 turns -0.0 into 0.0


def _write_op(gate: Gate, qubits: tuple[int, ...]) -> list[_Line]:
    name = gate.name
    qs = [str(q) for q in qubits]
    params = gate.params
    if name == "cp":  # qsim's cp carries e^{-iφ}
        return [_Line(qubits, ["cp", *qs, _num(-float(params[0]))])]
    if name in _DIRECT:
        return [_Line(qubits, [_DIRECT[name], *qs, *(_num(p) for p in params)])]
    if name in _CONTROLLED:
        nctrl, target = _CONTROLLED[name]
        words = ["c", *qs[:nctrl], target, *qs[nctrl:], *(_num(p) for p in params)]
        return [_Line(qubits, words)]
    if name == "p":  # diag(1, e^{iλ}) = e^{iλ/2} rz(λ)
        return [_Line(qubits, ["rz", *qs, _num(params[0])])]
    if name == "u":  # U(θ,φ,λ) = e^{i(φ+λ)/2} rxy(φ + π/2, θ) · rz(φ + λ)
        theta, phi, lam = (float(p) for p in params)
        out = []
        if phi + lam != 0:
            out.append(_Line(qubits, ["rz", *qs, _num(phi + lam)]))
        if theta != 0:
            out.append(_Line(qubits, ["rxy", *qs, _num(phi + PI / 2), _num(theta)]))
        return out or [_Line(qubits, ["id1", *qs])]
    raise FormatError(  # pragma: no cover - expand() leaves only the names handled above
        f"gate '{name}' has no qsim form")


def _measure_line(time: int, qubits: list[int]) -> str:
    return f"{time} m {' '.join(str(q) for q in qubits)}"


def _check(circuit: Circuit) -> None:
    for i, op in enumerate(circuit.operations):
        g = op.gate
        where = f"operation {i} ('{op.name}' on qubits {list(op.qubits)})"
        if op.condition is not None:
            raise FormatError(f"{where} has a classical condition; qsim files cannot express it")
        if isinstance(g, Measure):
            if op.clbits != op.qubits:
                raise FormatError(
                    f"{where} writes classical bit {op.clbits[0]}; qsim measurements have no "
                    f"classical bits, so qubit q must be measured into bit q")
            continue
        if isinstance(g, Barrier):
            continue
        if not isinstance(g, Gate):
            raise FormatError(f"{where} cannot be written in qsim format")
        if isinstance(g, UnitaryGate) and g.num_qubits > 1:
            raise FormatError(f"{where}: a {g.num_qubits}-qubit unitary matrix has no qsim form")
        free = [p for p in g.params if isinstance(p, ParameterExpression)]
        if free:
            names = sorted(str(x) for p in free for x in p.parameters)
            raise FormatError(f"{where} has unbound parameters ({', '.join(names)}); bind them")


def dumps(circuit: Circuit, *, portable: bool = False) -> str:
    """Write ``circuit`` in qsim's text format.

    Args:
        circuit: the circuit; see the module notes for what can be written.
        portable: use only the gates of qsim's ``docs/input_format.md`` plus ``m`` (no ``c``
            controls, no ``sw``), lowering the rest, for older readers of the format.

    Returns:
        The text, one line per gate, ending in a newline. It equals the circuit up to global
        phase.

    Raises:
        FormatError: when the circuit holds something qsim files cannot express.
    """
    if not isinstance(circuit, Circuit):
        raise FormatError(f"expected a qvalley Circuit, got {type(circuit).__name__}")
    if circuit.num_qubits < 1:
        raise FormatError("a qsim file needs at least one qubit")
    _check(circuit)
    keep = set(_PORTABLE) | {"p", "u"}
    if not portable:
        keep |= set(_DIRECT) | set(_CONTROLLED)
    try:
        lowered = circuit.expand(basis=keep)
    except CircuitError as exc:  # pragma: no cover - _check rules out what expand rejects
        raise FormatError(str(exc)) from None

    # Each line gets the earliest time after the last line on its qubits and not before the
    # previous line, so the file is sorted by time *and* in circuit order (reading it back gives
    # the same operation list).
    last = [-1] * circuit.num_qubits
    floor = 0
    out = [str(circuit.num_qubits)]
    open_m: tuple[int, list[int]] | None = None  # the measurement line being collected
    for op in lowered.operations:
        if isinstance(op.gate, Barrier):
            t = max((last[q] for q in op.qubits), default=-1)
            for q in op.qubits:
                last[q] = t
            continue
        if isinstance(op.gate, Measure):
            lines = [_Line(op.qubits, [], measure=True)]
        else:
            assert isinstance(op.gate, Gate)
            if isinstance(op.gate, UnitaryGate):  # pragma: no cover - one-qubit ones expand
                raise FormatError("a unitary matrix gate has no qsim form")
            lines = _write_op(op.gate, op.qubits)
        for ln in lines:
            t = max(floor, *(last[q] + 1 for q in ln.qubits))
            for q in ln.qubits:
                last[q] = t
            floor = t
            if ln.measure and open_m is not None and open_m[0] == t:
                open_m[1].extend(ln.qubits)
                continue
            if open_m is not None:
                out.append(_measure_line(*open_m))
                open_m = None
            if ln.measure:
                open_m = (t, list(ln.qubits))
            else:
                out.append(f"{t} {' '.join(ln.words)}")
    if open_m is not None:
        out.append(_measure_line(*open_m))
    return "\n".join(out) + "\n"


__all__ = ["MAX_QUBITS", "MAX_UNITARY_QUBITS", "QSIM_GATES", "QsimGate", "dumps", "loads"]
