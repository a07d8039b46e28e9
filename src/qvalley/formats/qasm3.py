"""OpenQASM 3 import and export of the gate-model subset qvalley represents.

:func:`loads` parses a program with the reference parser (``openqasm3.parse``) and walks its syntax
tree into a :class:`~qvalley.Circuit`; :func:`dumps` writes a circuit back. ``loads(dumps(c)) == c``
for every circuit made of named gates, measurements, resets, barriers and conditions on one bit or
one whole register, symbolic parameters and global phase included.

What is read:

* ``OPENQASM 3.x;`` (optional), ``include "stdgates.inc";`` (built in, never read from disk;
  ``qelib1.inc`` is accepted the same way), ``#pragma`` lines and ``@annotations`` (ignored).
* ``qubit[n] q;``, ``qubit q;``, ``bit[n] c;``, ``bit c;``, ``qreg q[n];``, ``creg c[n];``,
  ``output bit[n] c;`` and ``bit[n] c = measure q;``: registers in declaration order. Or physical
  qubits ``$0``, ``$1``, … (qubit k is ``$k``; not mixed with declared qubits), as transpilers write.
* ``input float[64] theta;`` (or ``angle``/``int``): a free :class:`~qvalley.Parameter`.
  ``const`` (and initialised ``float``/``angle``/``int``) declarations: named values.
* Expressions: numbers, ``pi``/``π``, ``tau``/``τ``, ``euler``/``ℇ``, ``+ - * / **``, unary ``-``,
  ``sin cos tan exp ln log sqrt arcsin arccos arctan``, casts to ``float``/``angle``.
* Gates: the standard library (``stdgates.inc`` plus ``U`` and ``gphase``), every native qvalley
  gate name, qvalley's aliases and Amazon Braket's names (``cnot``, ``phaseshift``, ``v``, ``vi``,
  ``si``, ``ti``, ``i``, ``cphaseshift``, ``cphaseshift00/01/10``, ``xx``, ``yy``, ``zz``,
  ``pswap``, ``ccnot``, ``cv``, ``gpi``, ``gpi2``, ``ms``, ``prx``). ``gate`` definitions are
  inlined; a definition named like a known gate whose unitary equals that gate (up to a constant
  global phase, which is kept) is read as the native gate, so gates qvalley writes as definitions
  come back as themselves.
* Modifiers ``inv @``, ``ctrl @``, ``ctrl(k) @``, ``negctrl @`` and ``pow(k) @`` (see
  :func:`loads`), broadcasting over registers, index sets ``q[{0, 2}]`` and inclusive slices
  ``q[0:2]``, negative indices.
* ``c[0] = measure q[0];``, ``c = measure q;``, ``measure q -> c;``, ``reset``, ``barrier``.
* ``if (c[0] == 1)``, ``if (c == 3)``, ``if (c[0])``, ``if (!c[0])``, conditions joined with
  ``&&``, blocks (every statement gets the condition) and ``else`` on a one-bit condition.

Anything else (loops, ``def`` subroutines, classical assignment, ``switch``, ``delay``, ``box``,
``defcal``/``cal``, ``extern``) raises :class:`~qvalley.QasmError` naming
the construct and its line and column, as do syntax errors.

Gate semantics follow the usual matrices (Qiskit's): ``U(θ,φ,λ)`` is qvalley ``u``, ``u3`` is
``u``, ``u2`` is ``u2`` and ``u1`` is ``p`` without the extra global phases that recent revisions
of the specification's ``stdgates.inc`` give ``u2``/``u3``; ``cu(θ,φ,λ,γ)`` is controlled
``e^{iγ} U(θ,φ,λ)``.

Writing: the header, ``input float[64]`` per free parameter (sorted), ``gate`` definitions (exact,
global phase included) for gates outside ``stdgates.inc``, ``qubit[n]``/``bit[n]`` per register,
``gphase`` for a non-zero global phase, then one statement per operation. Conditions are written
``if (c[0])`` / ``if (!c[0])`` for one bit (a bit compares with booleans, and Qiskit's reader
insists on that) and ``if (c == 5)`` for a whole register in order. A one-qubit
:class:`~qvalley.UnitaryGate` is written as ``U(θ,φ,λ)`` with its phase folded into the global
``gphase`` (so it reads back as ``u``); wider unitaries and opaque gates raise
:class:`~qvalley.QasmError`.

Examples:
    >>> from qvalley import Circuit, Parameter
    >>> c = Circuit(2, 2).h(0).rzz(Parameter("theta") / 2, 0, 1).measure(0, 0)
    >>> loads(dumps(c)) == c
    True
    >>> loads('OPENQASM 3.0; include "stdgates.inc"; qubit[2] q; ctrl @ x q[0], q[1];').gate_counts
    {'cx': 1}
"""

from __future__ import annotations

import cmath
import contextlib
import inspect
import io
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np
import openqasm3
from openqasm3 import ast
from openqasm3.parser import QASM3ParsingError

from .._errors import CircuitError, ParameterError, QasmError
from ..circuit.circuit import Circuit, Condition, Operation, Register
from ..circuit.gates import (
    ALIASES,
    GATES,
    Barrier,
    Gate,
    Instruction,
    Measure,
    OpaqueGate,
    Reset,
    UnitaryGate,
    zyz_angles,
)
from ..circuit.parameter import Parameter, ParameterExpression, ParamValue, apply_function

__all__ = ["dumps", "loads"]

PI = math.pi

# Guards against programs that would exhaust memory.
_MAX_REGISTER = 1 << 20
_MAX_OPS = 1 << 21
_MAX_MATRIX_QUBITS = 8
_MAX_REPEAT = 16

# A step of a gate's expansion: (qvalley gate name, params, operand positions).
_Step = tuple[str, tuple[ParamValue, ...], tuple[int, ...]]

_CONSTANTS = {"pi": PI, "π": PI, "tau": 2 * PI, "τ": 2 * PI, "euler": math.e, "ℇ": math.e}
# OpenQASM function name -> qvalley function name.
_FUNCTIONS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "exp": "exp", "ln": "ln", "log": "ln",
    "sqrt": "sqrt", "arcsin": "asin", "arccos": "acos", "arctan": "atan",
    "asin": "asin", "acos": "acos", "atan": "atan",
}
_FUNCTIONS_OUT = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "ln": "log"}

# Gates of stdgates.inc (plus the builtin U) that qvalley has natively: qvalley name -> QASM name.
_STD_OUT = {name: name for name in (
    "id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "rx", "ry", "rz", "p", "u2",
    "cx", "cy", "cz", "ch", "cp", "crx", "cry", "crz", "cu", "swap", "ccx", "cswap")}
_STD_OUT["u"] = "U"
_STD_NAMES = frozenset(_STD_OUT.values()) | {"CX", "phase", "cphase", "u1", "u3", "gphase"}

_KEYWORDS = frozenset({
    "OPENQASM", "include", "defcalgrammar", "def", "cal", "defcal", "gate", "extern", "box", "let",
    "break", "continue", "if", "else", "end", "return", "for", "while", "in", "switch", "case",
    "default", "nop", "pragma", "input", "output", "const", "readonly", "mutable", "qreg", "qubit",
    "creg", "bool", "bit", "int", "uint", "float", "angle", "complex", "array", "void", "duration",
    "stretch", "gphase", "inv", "pow", "ctrl", "negctrl", "dim", "durationof", "delay", "reset",
    "measure", "barrier", "true", "false", "im", "sizeof", "U", "arccos", "arcsin", "arctan",
    "ceiling", "cos", "exp", "floor", "log", "mod", "popcount", "rotl", "rotr", "sin", "sqrt",
    "tan", "real", "imag", "pi", "tau", "euler", "π", "τ", "ℇ",
})
_IDENT = re.compile(r"^[^\W\d]\w*$")


# ---- gate sequences ------------------------------------------------------------------------------
@dataclass
class _Seq:
    """A gate on ``nq`` local qubits expressed as native gates in time order plus a global phase."""

    nq: int
    ops: list[tuple[Gate, tuple[int, ...]]] = field(default_factory=list)
    phase: ParamValue = 0.0

    @property
    def numeric(self) -> bool:
        return not isinstance(self.phase, ParameterExpression) and not any(
            g.parameters for g, _ in self.ops
        )


def _is_zero(v: ParamValue) -> bool:
    return not isinstance(v, ParameterExpression) and v == 0


def _add(a: ParamValue, b: ParamValue) -> ParamValue:
    """``a + b`` that keeps an expression unchanged when the other side is exactly zero."""
    if _is_zero(b):
        return a
    if _is_zero(a):
        return b
    return a + b


def _scale(v: ParamValue, k: float) -> ParamValue:
    if k == 1:
        return v
    return v * k


def _seq_of(steps: Iterable[_Step], nq: int, phase: ParamValue = 0.0) -> _Seq:
    return _Seq(nq, [(Gate(n, p), tuple(pos)) for n, p, pos in steps], phase)


def _apply(full: np.ndarray, m: np.ndarray, pos: tuple[int, ...], k: int) -> np.ndarray:
    """``m`` (operand j = bit j of its index) applied to qubits ``pos`` of each column of
    ``full``."""
    g = len(pos)
    d = full.shape[1]
    psi = full.reshape((2,) * k + (d,))  # axis a <-> qubit k-1-a, last axis: column
    mt = m.reshape((2,) * (2 * g))
    in_axes = [k - 1 - pos[j] for j in reversed(range(g))]
    out = np.tensordot(mt, psi, axes=(list(range(g, 2 * g)), in_axes))
    out = np.moveaxis(out, list(range(g)), in_axes)
    return out.reshape(1 << k, d)


def _seq_matrix(seq: _Seq) -> np.ndarray:
    """The unitary of a numeric sequence, global phase included."""
    full = np.eye(1 << seq.nq, dtype=np.complex128)
    for g, pos in seq.ops:
        full = _apply(full, g.matrix(), pos, seq.nq)
    return full * cmath.exp(1j * float(seq.phase))


def _control_matrix(u: np.ndarray) -> np.ndarray:
    """``u`` controlled by a new operand 0 (the low bit of the index)."""
    d = u.shape[0]
    m = np.eye(2 * d, dtype=np.complex128)
    m[1::2, 1::2] = u
    return m


_FIXED_CACHE: dict[int, list[tuple[str, np.ndarray]]] = {}


def _fixed_gates(nq: int) -> list[tuple[str, np.ndarray]]:
    """Parameterless native gates on ``nq`` qubits with their matrices."""
    if nq not in _FIXED_CACHE:
        _FIXED_CACHE[nq] = [(name, Gate(name).matrix()) for name, spec in GATES.items()
                            if spec.num_params == 0 and spec.num_qubits == nq]
    return _FIXED_CACHE[nq]


def _from_matrix(m: np.ndarray, nq: int) -> _Seq:
    """A sequence for a numeric unitary: a named gate when one matches exactly, else ``u`` with a
    phase (one qubit) or a :class:`UnitaryGate`."""
    for name, fm in _fixed_gates(nq):
        if np.allclose(m, fm, atol=1e-12, rtol=0):
            return _Seq(nq, [(Gate(name), tuple(range(nq)))])
    if nq == 1:
        theta, phi, lam, gamma = zyz_angles(m)
        return _Seq(1, [(Gate("u", (theta, phi, lam)), (0,))], gamma)
    return _Seq(nq, [(UnitaryGate(m), tuple(range(nq)))])


def _principal_power(m: np.ndarray, k: float) -> np.ndarray:
    """``m**k`` on the principal branch (eigenphases in (-π, π])."""
    w, v = np.linalg.eig(m)
    ang = np.angle(w)
    ang = np.where(ang <= -PI + 1e-9, PI, ang)
    return np.asarray(v @ np.diag(np.exp(1j * k * ang)) @ np.linalg.inv(v))


# ---- the built-in gate table ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Builtin:
    num_qubits: int
    num_params: tuple[int, ...]
    build: Callable[..., tuple[list[_Step], ParamValue]]


def _native(name: str) -> _Builtin:
    spec = GATES[name]
    ops = tuple(range(spec.num_qubits))
    return _Builtin(spec.num_qubits, (spec.num_params,), lambda *p: ([(name, p, ops)], 0.0))


def _renamed(name: str, nparams: int | None = None) -> _Builtin:
    spec = GATES[name]
    ops = tuple(range(spec.num_qubits))
    n = spec.num_params if nparams is None else nparams
    return _Builtin(spec.num_qubits, (n,), lambda *p: ([(name, p, ops)], 0.0))


def _alias(fn: Callable[..., tuple[str, tuple[ParamValue, ...]]]) -> _Builtin | None:
    try:
        n = len(inspect.signature(fn).parameters)
        name, _ = fn(*([0.0] * n))
    except (TypeError, ValueError):  # pragma: no cover - defensive against odd registry entries
        return None
    if name not in GATES:  # pragma: no cover
        return None
    ops = tuple(range(GATES[name].num_qubits))

    def build(*p: ParamValue) -> tuple[list[_Step], ParamValue]:
        canon, params = fn(*p)
        return [(canon, params, ops)], 0.0

    return _Builtin(GATES[name].num_qubits, (n,), build)


def _ms(phi0: ParamValue, phi1: ParamValue, theta: ParamValue = PI / 2) -> tuple[
        list[_Step], ParamValue]:
    """IonQ Mølmer–Sørensen: exp(-iθ/2 (cos φ0 X + sin φ0 Y) ⊗ (cos φ1 X + sin φ1 Y))."""
    return [("rz", (-phi0,), (0,)), ("rz", (-phi1,), (1,)), ("rxx", (theta,), (0, 1)),
            ("rz", (phi0,), (0,)), ("rz", (phi1,), (1,))], 0.0


def _phase_on_state(flips: tuple[int, ...]) -> Callable[..., tuple[list[_Step], ParamValue]]:
    """cp(λ) with ``x`` around the operands in ``flips``: phases a basis state other than |11>."""

    def build(lam: ParamValue) -> tuple[list[_Step], ParamValue]:
        xs: list[_Step] = [("x", (), (q,)) for q in flips]
        return [*xs, ("cp", (lam,), (0, 1)), *xs], 0.0

    return build


def _build_builtins() -> dict[str, _Builtin]:
    table: dict[str, _Builtin] = {}
    for alias, fn in ALIASES.items():
        b = _alias(fn)
        if b is not None:
            table[alias] = b
    for name in GATES:
        table[name] = _native(name)
    for qasm, name in (("U", "u"), ("CX", "cx"), ("phase", "p"), ("cphase", "cp"), ("u1", "p"),
                       ("u3", "u"), ("cnot", "cx"), ("ccnot", "ccx"), ("phaseshift", "p"),
                       ("v", "sx"), ("vi", "sxdg"), ("si", "sdg"), ("ti", "tdg"), ("i", "id"),
                       ("cphaseshift", "cp"), ("xx", "rxx"), ("yy", "ryy"), ("zz", "rzz"),
                       ("cv", "csx")):
        table[qasm] = _renamed(name)
    # Braket's cphaseshiftAB(λ) phases the state where operand 0 reads A and operand 1 reads B.
    for bits in ("00", "01", "10"):
        flips = tuple(q for q, b in enumerate(bits) if b == "0")
        table[f"cphaseshift{bits}"] = _Builtin(2, (1,), _phase_on_state(flips))
    # pswap(θ) = SWAP · diag(1, e^{iθ}, e^{iθ}, 1)
    table["pswap"] = _Builtin(2, (1,), lambda t: ([("p", (t,), (0,)), ("p", (t,), (1,)),
                                                   ("cp", (-2 * t,), (0, 1)),
                                                   ("swap", (), (0, 1))], 0.0))
    # IonQ native gates and IQM's phased RX, exactly as u / rz·rxx·rz.
    table["gpi"] = _Builtin(1, (1,), lambda f: ([("u", (PI, f, PI - f), (0,))], 0.0))
    table["gpi2"] = _Builtin(1, (1,), lambda f: ([("u", (PI / 2, f - PI / 2, PI / 2 - f),
                                                    (0,))], 0.0))
    table["prx"] = _Builtin(1, (2,), lambda t, f: ([("u", (t, f - PI / 2, PI / 2 - f), (0,))],
                                                   0.0))
    table["ms"] = _Builtin(2, (2, 3), _ms)
    return table


_BUILTINS = _build_builtins()

# ctrl @ gate -> native controlled gate: name -> (controlled name, params builder, positions).
_CTRL: dict[str, tuple[str, Callable[..., tuple[ParamValue, ...]], tuple[int, ...] | None]] = {
    **{g: (c, lambda *p: p, None) for g, c in (
        ("x", "cx"), ("y", "cy"), ("z", "cz"), ("h", "ch"), ("p", "cp"), ("rx", "crx"),
        ("ry", "cry"), ("rz", "crz"), ("s", "cs"), ("sdg", "csdg"), ("sx", "csx"),
        ("swap", "cswap"), ("cx", "ccx"), ("cz", "ccz"))},
    "t": ("cp", lambda: (PI / 4,), None),
    "tdg": ("cp", lambda: (-PI / 4,), None),
    "u": ("cu", lambda t, f, lam: (t, f, lam, 0.0), None),
    "u2": ("cu", lambda f, lam: (PI / 2, f, lam, 0.0), None),
    "id": ("id", lambda: (), (1,)),
}
# pow(k) @ gate for any real k: rotations scale their angle, fixed phase gates become p / cp.
_POW_SCALE = frozenset({"rx", "ry", "rz", "p", "rxx", "ryy", "rzz", "rzx", "crx", "cry", "crz",
                        "cp"})
_POW_PHASE = {"z": ("p", PI), "s": ("p", PI / 2), "sdg": ("p", -PI / 2), "t": ("p", PI / 4),
              "tdg": ("p", -PI / 4), "cz": ("cp", PI), "cs": ("cp", PI / 2),
              "csdg": ("cp", -PI / 2)}

_UNSUPPORTED: dict[type, str] = {
    ast.ForInLoop: "for loops",
    ast.WhileLoop: "while loops",
    ast.SubroutineDefinition: "subroutine definitions (def)",
    ast.ReturnStatement: "return statements",
    ast.BreakStatement: "break statements",
    ast.ContinueStatement: "continue statements",
    ast.EndStatement: "end statements",
    ast.ClassicalAssignment: "classical assignments",
    ast.SwitchStatement: "switch statements",
    ast.DelayInstruction: "delay instructions",
    ast.Box: "box statements",
    ast.CalibrationDefinition: "defcal calibrations",
    ast.CalibrationGrammarDeclaration: "defcalgrammar declarations",
    ast.CalibrationStatement: "cal blocks",
    ast.ExternDeclaration: "extern declarations",
    ast.AliasStatement: "let aliases",
    ast.ExpressionStatement: "expression statements",
}


# ---- reading -------------------------------------------------------------------------------------
def loads(text: str, path: str | None = None) -> Circuit:
    """Read an OpenQASM 3 program into a :class:`~qvalley.Circuit`.

    Modifiers act from the gate outwards. ``inv`` inverts; ``ctrl``/``negctrl`` add control
    operands in front and map to native controlled gates where qvalley has one (``ctrl @ x`` is
    ``cx``, ``ctrl @ ctrl @ x`` is ``ccx``, ``ctrl @ rx`` is ``crx``, ``ctrl @ U`` is ``cu`` ...),
    other one-qubit gates become ``cu`` and other numeric gates a controlled
    :class:`~qvalley.UnitaryGate`; ``negctrl`` wraps the control in ``x``. ``pow(k)`` scales the
    angle of rotation gates for any real ``k``, repeats (or inverts and repeats) for small integer
    ``k``, and otherwise takes the principal matrix power of numeric gates. A global phase that
    would apply only under an ``if`` is unobservable and is dropped.

    Args:
        text: the program.
        path: file name used in error messages.

    Returns:
        The circuit, parameterised by the program's ``input`` variables.

    Raises:
        QasmError: on a syntax error or a construct qvalley cannot represent, with line and column.
    """
    program = _parse(text, path)
    return _Reader(text, path).read(program)


def _parse(text: str, path: str | None) -> ast.Program:
    sink = io.StringIO()
    try:
        with contextlib.redirect_stderr(sink):
            return openqasm3.parse(text)
    except QASM3ParsingError as exc:
        raise _syntax_error(exc, sink.getvalue(), path) from None
    except RecursionError:
        raise QasmError("program nests too deeply to parse", path=path) from None
    except Exception as exc:  # the reference parser can fail in other ways on malformed input
        raise QasmError(f"could not parse the program ({type(exc).__name__}: {exc})",
                        path=path) from None


def _syntax_error(exc: QASM3ParsingError, printed: str, path: str | None) -> QasmError:
    m = re.match(r"L(\d+):C(\d+): (.*)", str(exc), re.S)
    if m:
        return QasmError(m.group(3).strip(), path=path, line=int(m.group(1)),
                         column=int(m.group(2)) + 1)
    cause = exc.__cause__
    rec: Any = cause.args[0] if cause is not None and cause.args else cause
    token = getattr(rec, "offendingToken", None)
    if token is None:
        m = re.match(r"line (\d+):(\d+) (.*)", printed)
        if m:
            return QasmError(m.group(3).strip(), path=path, line=int(m.group(1)),
                             column=int(m.group(2)) + 1)
        return QasmError("syntax error", path=path)
    text = token.text if token.type != -1 else None
    message = f"syntax error at '{text}'" if text is not None else "unexpected end of input"
    with contextlib.suppress(Exception):  # the expected-token set is a nicety only
        recog = rec.recognizer
        expected = rec.getExpectedTokens().toString(recog.literalNames, recog.symbolicNames)
        if expected and len(expected) <= 60:
            message += f" (expected {expected})"
    return QasmError(message, path=path, line=token.line, column=token.column + 1, token=text)


@dataclass
class _Reg:
    offset: int
    size: int


@dataclass
class _GateDef:
    node: ast.QuantumGateDefinition
    order: int
    # None: not yet checked; False: inline; else (builtin, constant phase difference).
    native: tuple[_Builtin, float] | bool | None = None


class _Reader:
    """Walks one program's syntax tree into a circuit."""

    def __init__(self, text: str, path: str | None) -> None:
        self.text = text
        self.path = path
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.qregs: dict[str, _Reg] = {}
        self.cregs: dict[str, _Reg] = {}
        self.qreg_list: list[Register] = []
        self.creg_list: list[Register] = []
        self.num_qubits = 0
        self.physical = False  # the program addresses hardware qubits $k
        self.num_clbits = 0
        self.consts: dict[str, ParamValue] = {}
        self.inputs: dict[str, ParamValue] = {}
        self.gates: dict[str, _GateDef] = {}
        self.ops: list[Operation] = []
        self.phase: ParamValue = 0.0

    # ---- errors ------------------------------------------------------------------------------
    def _loc(self, node: object) -> tuple[int | None, int | None]:
        span = getattr(node, "span", None)
        if span is None:
            return None, None
        line, col = span.start_line, span.start_column
        if isinstance(node, ast.Identifier) and 1 <= line <= len(self.line_starts):
            # The reference parser gives leaf identifiers a character offset, not a column.
            start = self.line_starts[line - 1]
            if (not self.text.startswith(node.name, start + col)
                    and self.text.startswith(node.name, col) and col >= start):
                col -= start
        return line, col + 1

    def _err(self, message: str, node: object, token: str | None = None) -> NoReturn:
        line, col = self._loc(node)
        raise QasmError(message, path=self.path, line=line, column=col, token=token)

    # ---- program -----------------------------------------------------------------------------
    def read(self, program: ast.Program) -> Circuit:
        if program.version is not None and not program.version.startswith("3"):
            raise QasmError(f"this is an OpenQASM {program.version} program; the OpenQASM 3 reader "
                            "reads version 3 only", path=self.path, line=1, column=1)
        for stmt in program.statements:
            if isinstance(stmt, ast.Pragma):
                continue
            self._statement(stmt, None, top=True)
        try:
            return Circuit(self.num_qubits, self.num_clbits, self.ops, self.phase,
                           tuple(self.qreg_list), tuple(self.creg_list))
        except CircuitError as exc:
            raise QasmError(str(exc), path=self.path) from None

    def _statement(self, stmt: ast.QASMNode, cond: Condition | None, top: bool = False) -> None:
        try:
            self._dispatch(stmt, cond, top)
        except QasmError:
            raise
        except (CircuitError, ParameterError, ArithmeticError, ValueError) as exc:
            self._err(str(exc), stmt)

    def _dispatch(self, stmt: ast.QASMNode, cond: Condition | None, top: bool) -> None:
        if isinstance(stmt, ast.QuantumGate):
            self._gate_statement(stmt, cond)
        elif isinstance(stmt, ast.QuantumPhase):
            self._phase_statement(stmt, cond)
        elif isinstance(stmt, ast.QuantumMeasurementStatement):
            self._measure_statement(stmt, cond)
        elif isinstance(stmt, ast.QuantumReset):
            for q in self._qubit_list(stmt.qubits):
                self._append(Operation(Reset(), (q,), (), cond))
        elif isinstance(stmt, ast.QuantumBarrier):
            qubits: list[int] = []
            for operand in stmt.qubits:
                if not isinstance(operand, (ast.Identifier, ast.IndexedIdentifier)):
                    self._err("unsupported barrier operand", operand)
                qubits.extend(self._qubit_list(operand))
            if not stmt.qubits:
                qubits = list(range(self.num_qubits))
            self._check_distinct(qubits, stmt)
            self._append(Operation(Barrier(len(qubits)), tuple(qubits), (), cond))
        elif isinstance(stmt, ast.BranchingStatement):
            self._branch(stmt, cond)
        elif isinstance(stmt, ast.CompoundStatement):
            self._block(stmt.statements, cond, stmt)
        elif not top:
            self._err(f"{self._describe(stmt)} cannot appear inside an if block or scope", stmt)
        elif isinstance(stmt, ast.Include):
            if stmt.filename not in ("stdgates.inc", "qelib1.inc"):
                self._err(f"cannot include '{stmt.filename}': only stdgates.inc is built in "
                          "(files are never read)", stmt, stmt.filename)
        elif isinstance(stmt, ast.QubitDeclaration):
            size = None if stmt.size is None else self._int(stmt.size, "register size")
            self._declare(stmt.qubit, size, quantum=True)
        elif isinstance(stmt, ast.ClassicalDeclaration):
            self._classical_declaration(stmt)
        elif isinstance(stmt, ast.IODeclaration):
            self._io_declaration(stmt)
        elif isinstance(stmt, ast.ConstantDeclaration):
            self._define_value(stmt.identifier, self._eval(stmt.init_expression, self._top_env()))
        elif isinstance(stmt, ast.QuantumGateDefinition):
            name = stmt.name.name
            if name in self.gates or name == "gphase":
                self._err(f"gate '{name}' is already defined", stmt.name, name)
            self.gates[name] = _GateDef(stmt, len(self.gates))
        else:
            self._err(f"{self._describe(stmt)} are not supported", stmt)

    @staticmethod
    def _describe(stmt: object) -> str:
        for cls, text in _UNSUPPORTED.items():
            if isinstance(stmt, cls):
                return text
        names = {ast.Include: "include statements", ast.QubitDeclaration: "qubit declarations",
                 ast.ClassicalDeclaration: "classical declarations",
                 ast.IODeclaration: "input/output declarations",
                 ast.ConstantDeclaration: "const declarations",
                 ast.QuantumGateDefinition: "gate definitions"}
        return names.get(type(stmt), f"'{type(stmt).__name__}' statements")

    # ---- declarations ------------------------------------------------------------------------
    def _check_new_name(self, ident: ast.Identifier) -> str:
        name = ident.name
        if name.startswith("$"):
            self._err("physical qubits are not supported", ident, name)
        if (name in self.qregs or name in self.cregs or name in self.consts
                or name in self.inputs or name in _CONSTANTS):
            self._err(f"'{name}' is already declared", ident, name)
        return name

    def _declare(self, ident: ast.Identifier, size: int | None, quantum: bool) -> _Reg:
        name = self._check_new_name(ident)
        if quantum and self.physical:
            self._err("qubit registers cannot be declared in a program that uses physical qubits",
                      ident, name)
        n = 1 if size is None else size
        if not 0 <= n <= _MAX_REGISTER:
            self._err(f"register size {n} is out of range", ident, name)
        if quantum:
            reg = _Reg(self.num_qubits, n)
            self.qregs[name] = reg
            self.qreg_list.append(Register(name, n))
            self.num_qubits += n
        else:
            reg = _Reg(self.num_clbits, n)
            self.cregs[name] = reg
            self.creg_list.append(Register(name, n))
            self.num_clbits += n
        return reg

    def _classical_declaration(self, stmt: ast.ClassicalDeclaration) -> None:
        typ = stmt.type
        if isinstance(typ, ast.BitType):
            size = None if typ.size is None else self._int(typ.size, "register size")
            init = stmt.init_expression
            if init is not None and not isinstance(init, ast.QuantumMeasurement):
                self._err("initialising bits with a value is not supported", init)
            reg = self._declare(stmt.identifier, size, quantum=False)
            if isinstance(init, ast.QuantumMeasurement):
                qubits = self._qubit_list(init.qubit)
                if len(qubits) != reg.size:
                    self._err(f"measuring {len(qubits)} qubits into {reg.size} bits", stmt)
                for i, q in enumerate(qubits):
                    self._append(Operation(Measure(), (q,), (reg.offset + i,)))
            return
        if isinstance(typ, (ast.FloatType, ast.AngleType, ast.IntType, ast.UintType)):
            init = stmt.init_expression
            if init is None or isinstance(init, ast.QuantumMeasurement):
                self._err(f"classical variable '{stmt.identifier.name}' needs a constant initial "
                          "value (classical computation is not supported)", stmt)
            self._define_value(stmt.identifier, self._eval(init, self._top_env()))
            return
        self._err(f"classical variables of type {type(typ).__name__} are not supported", typ)

    def _io_declaration(self, stmt: ast.IODeclaration) -> None:
        typ = stmt.type
        if stmt.io_identifier == ast.IOKeyword.output:
            if isinstance(typ, ast.BitType):
                size = None if typ.size is None else self._int(typ.size, "register size")
                self._declare(stmt.identifier, size, quantum=False)
                return
            self._err("only bit registers can be outputs", stmt)
        if not isinstance(typ, (ast.FloatType, ast.AngleType, ast.IntType, ast.UintType)):
            self._err("only float, angle and int inputs are supported", stmt)
        name = self._check_new_name(stmt.identifier)
        try:
            self.inputs[name] = Parameter(name)
        except ParameterError:
            self._err(f"'{name}' cannot be a parameter name", stmt.identifier, name)

    def _define_value(self, ident: ast.Identifier, value: ParamValue) -> None:
        name = self._check_new_name(ident)
        self.consts[name] = value

    def _top_env(self) -> dict[str, ParamValue]:
        return {**self.consts, **self.inputs}

    # ---- expressions -------------------------------------------------------------------------
    def _eval(self, node: ast.Expression, env: dict[str, ParamValue]) -> ParamValue:
        """Evaluate a classical expression to a float or a parameter expression."""
        if isinstance(node, ast.IntegerLiteral):
            try:
                return float(node.value)
            except OverflowError:
                self._err("integer literal too large", node)
        if isinstance(node, ast.FloatLiteral):
            return self._finite(float(node.value), node)
        if isinstance(node, ast.Identifier):
            if node.name in env:
                return env[node.name]
            if node.name in _CONSTANTS:
                return _CONSTANTS[node.name]
            self._err(f"unknown identifier '{node.name}'", node, node.name)
        if isinstance(node, ast.UnaryExpression) and node.op == ast.UnaryOperator["-"]:
            v = self._eval(node.expression, env)
            return -v
        if isinstance(node, ast.BinaryExpression):
            op = node.op.name
            if op in ("+", "-", "*", "/", "**"):
                a = self._eval(node.lhs, env)
                b = self._eval(node.rhs, env)
                return self._binary(op, a, b, node)
        if isinstance(node, ast.FunctionCall):
            fname = _FUNCTIONS.get(node.name.name)
            if fname is None:
                self._err(f"unsupported function '{node.name.name}'", node, node.name.name)
            if len(node.arguments) != 1:
                self._err(f"'{node.name.name}' takes one argument", node)
            arg = self._eval(node.arguments[0], env)
            try:
                out = apply_function(fname, arg)
            except ParameterError as exc:
                self._err(str(exc), node)
            return out if isinstance(out, ParameterExpression) else self._finite(out, node)
        if isinstance(node, ast.Cast) and isinstance(node.type, (ast.FloatType, ast.AngleType)):
            return self._eval(node.argument, env)
        self._err(f"unsupported expression ({type(node).__name__})", node)

    def _binary(self, op: str, a: ParamValue, b: ParamValue, node: ast.QASMNode) -> ParamValue:
        if isinstance(a, ParameterExpression) or isinstance(b, ParameterExpression):
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if op == "/":
                return a / b
            return a**b
        try:
            if op == "+":
                v = a + b
            elif op == "-":
                v = a - b
            elif op == "*":
                v = a * b
            elif op == "/":
                v = a / b
            else:
                v = math.pow(a, b)
        except (ZeroDivisionError, OverflowError, ValueError) as exc:
            self._err(f"cannot evaluate expression: {exc}", node)
        return self._finite(v, node)

    def _finite(self, v: float, node: ast.QASMNode) -> float:
        if not math.isfinite(v):
            self._err("expression is not a finite number", node)
        return v

    def _number(self, node: ast.Expression, what: str,
                env: dict[str, ParamValue] | None = None) -> float:
        v = self._eval(node, self.consts if env is None else env)
        if isinstance(v, ParameterExpression):
            self._err(f"{what} must be a constant, not an input parameter", node)
        return v

    def _int(self, node: ast.Expression, what: str) -> int:
        v = self._number(node, what)
        if not float(v).is_integer():
            self._err(f"{what} must be an integer, got {v!r}", node)
        return int(v)

    # ---- operands ----------------------------------------------------------------------------
    def _indices(self, node: ast.QASMNode, element: object, size: int) -> list[int]:
        """Resolve one index element (integer, slice or set) of a register of ``size``."""
        items: list[object]
        if isinstance(element, ast.DiscreteSet):
            items = list(element.values)
        elif isinstance(element, list) and len(element) == 1:
            items = [element[0]]
        else:
            self._err("multi-dimensional indexing is not supported", node)
        out: list[int] = []

        def norm(i: int, where: ast.QASMNode) -> int:
            j = i + size if i < 0 else i
            if not 0 <= j < size:
                self._err(f"index {i} out of range for a register of size {size}", where)
            return j

        for item in items:
            if isinstance(item, ast.RangeDefinition):
                start = 0 if item.start is None else self._int(item.start, "slice start")
                end = size - 1 if item.end is None else self._int(item.end, "slice end")
                step = 1 if item.step is None else self._int(item.step, "slice step")
                if step == 0:
                    self._err("slice step cannot be zero", item)
                start = norm(start, item) if size else start
                end = end + size if end < 0 else end
                stop = end + 1 if step > 0 else end - 1
                if abs(stop - start) // abs(step) > _MAX_REGISTER:
                    self._err("slice too long", item)
                out.extend(norm(i, item) for i in range(start, stop, step))
            elif isinstance(item, ast.Expression):
                out.append(norm(self._int(item, "index"), item))
            else:
                self._err("unsupported index", node)
        return out

    def _lookup(self, ident: ast.Identifier, quantum: bool) -> _Reg:
        table = self.qregs if quantum else self.cregs
        name = ident.name
        if name.startswith("$"):
            return self._physical(ident)
        if name not in table:
            other = self.cregs if quantum else self.qregs
            kind = "qubit" if quantum else "bit"
            if name in other:
                self._err(f"'{name}' is not a {kind} register", ident, name)
            self._err(f"unknown {kind} register '{name}'", ident, name)
        return table[name]

    def _physical(self, ident: ast.Identifier) -> _Reg:
        """Hardware qubit ``$k`` is qubit k; the circuit is as wide as the highest one used."""
        name = ident.name
        if self.qreg_list:
            self._err("physical qubits cannot be mixed with declared qubit registers", ident, name)
        if not name[1:].isdigit() or int(name[1:]) >= _MAX_REGISTER:
            self._err(f"'{name}' is not a physical qubit ($0, $1, ...)", ident, name)
        k = int(name[1:])
        self.physical = True
        self.num_qubits = max(self.num_qubits, k + 1)
        return _Reg(k, 1)

    def _operand(self, node: object, quantum: bool = True) -> tuple[list[int], bool]:
        """Flat indices of an operand and whether it named a whole register or slice."""
        if isinstance(node, ast.Identifier):
            reg = self._lookup(node, quantum)
            return list(range(reg.offset, reg.offset + reg.size)), True
        if isinstance(node, ast.IndexedIdentifier):
            reg = self._lookup(node.name, quantum)
            if len(node.indices) != 1:
                self._err("multi-dimensional indexing is not supported", node)
            element = node.indices[0]
            idx = self._indices(node, element, reg.size)
            single = (isinstance(element, list) and len(element) == 1
                      and not isinstance(element[0], ast.RangeDefinition))
            return [reg.offset + i for i in idx], not single
        self._err("unsupported operand", node)

    def _qubit_list(self, node: object) -> list[int]:
        return self._operand(node, True)[0]

    def _check_distinct(self, qubits: Sequence[int], node: ast.QASMNode) -> None:
        if len(set(qubits)) != len(qubits):
            self._err("the same qubit appears twice in one operation", node)

    def _broadcast(self, operands: Sequence[object], node: ast.QASMNode) -> list[tuple[int, ...]]:
        resolved = [self._operand(o) for o in operands]
        lengths = {len(idx) for idx, many in resolved if many}
        if len(lengths) > 1:
            self._err("registers of different sizes in one broadcast operation", node)
        n = lengths.pop() if lengths else 1
        apps = [tuple(idx[i] if many else idx[0] for idx, many in resolved) for i in range(n)]
        for qs in apps:
            self._check_distinct(qs, node)
        return apps

    # ---- statements --------------------------------------------------------------------------
    def _append(self, op: Operation) -> None:
        if len(self.ops) >= _MAX_OPS:
            raise QasmError(f"program expands to more than {_MAX_OPS} operations", path=self.path)
        self.ops.append(op)

    def _emit(self, seq: _Seq, qubits: tuple[int, ...], cond: Condition | None) -> None:
        for g, pos in seq.ops:
            self._append(Operation(g, tuple(qubits[p] for p in pos), (), cond))
        if cond is None:
            self.phase = _add(self.phase, seq.phase)

    def _gate_statement(self, stmt: ast.QuantumGate, cond: Condition | None) -> None:
        env = self._top_env()
        seq = self._call(stmt, env, None, len(stmt.qubits))
        for qubits in self._broadcast(stmt.qubits, stmt):
            self._emit(seq, qubits, cond)

    def _phase_statement(self, stmt: ast.QuantumPhase, cond: Condition | None) -> None:
        env = self._top_env()
        seq = self._phase_call(stmt, env, len(stmt.qubits))
        if seq.nq == 0:
            self._emit(seq, (), cond)
            return
        for qubits in self._broadcast(stmt.qubits, stmt):
            self._emit(seq, qubits, cond)

    def _measure_statement(self, stmt: ast.QuantumMeasurementStatement,
                           cond: Condition | None) -> None:
        qubits = self._qubit_list(stmt.measure.qubit)
        if stmt.target is None:
            self._err("a measurement must store its result in a bit", stmt)
        bits = self._operand(stmt.target, quantum=False)[0]
        if len(bits) != len(qubits):
            self._err(f"measuring {len(qubits)} qubits into {len(bits)} bits", stmt)
        for q, c in zip(qubits, bits, strict=True):
            self._append(Operation(Measure(), (q,), (c,), cond))

    def _block(self, stmts: Sequence[ast.QASMNode], cond: Condition | None,
               node: ast.QASMNode) -> set[int]:
        """Run ``stmts`` under ``cond``; return the classical bits they write."""
        written: set[int] = set()
        watched = set(cond.clbits) if cond is not None else set()
        for i, stmt in enumerate(stmts):
            if written & watched and i > 0:
                self._err("a statement after a measurement into the if-condition's bits cannot "
                          "be expressed (the condition would be re-evaluated)", stmt)
            start = len(self.ops)
            self._statement(stmt, cond)
            for op in self.ops[start:]:
                written.update(op.clbits)
        return written

    def _branch(self, stmt: ast.BranchingStatement, cond: Condition | None) -> None:
        if_cond = self._condition(stmt.condition)
        written = self._block(stmt.if_block, _merge(cond, if_cond, self, stmt), stmt)
        if not stmt.else_block:
            return
        if len(if_cond.clbits) != 1:
            self._err("'else' is only supported for a condition on a single bit", stmt)
        if written & set(if_cond.clbits):
            self._err("'else' after a block that measures into the condition's bit cannot be "
                      "expressed", stmt)
        negated = Condition(if_cond.clbits, 1 - if_cond.value)
        self._block(stmt.else_block, _merge(cond, negated, self, stmt), stmt)

    def _condition(self, node: ast.Expression) -> Condition:
        if isinstance(node, ast.BinaryExpression) and node.op.name == "&&":
            return _merge(self._condition(node.lhs), self._condition(node.rhs), self, node)
        if isinstance(node, ast.UnaryExpression) and node.op.name == "!":
            inner = self._condition(node.expression)
            if len(inner.clbits) != 1:
                self._err("'!' is only supported on a single bit", node)
            return Condition(inner.clbits, 1 - inner.value)
        if isinstance(node, ast.BinaryExpression) and node.op.name in ("==", "!="):
            lhs, rhs = node.lhs, node.rhs
            if not self._is_bits(lhs):
                lhs, rhs = rhs, lhs
            if not self._is_bits(lhs):
                self._err("unsupported condition: compare a bit or bit register with a constant",
                          node)
            bits = self._bits(lhs)
            value = self._cond_value(rhs)
            if not 0 <= value < (1 << len(bits)):
                self._err(f"value {value} does not fit in {len(bits)} bits", rhs)
            if node.op.name == "!=":
                if len(bits) != 1:
                    self._err("'!=' is only supported on a single bit", node)
                value = 1 - value
            return Condition(tuple(bits), value)
        if self._is_bits(node):
            bits = self._bits(node)
            if len(bits) != 1:
                self._err("a register used as a condition must be compared with a value", node)
            return Condition(tuple(bits), 1)
        self._err("unsupported condition (use a bit or bit register compared with a constant)",
                  node)

    def _is_bits(self, node: object) -> bool:
        if isinstance(node, ast.Identifier):
            return node.name in self.cregs
        return (isinstance(node, ast.IndexExpression)
                and isinstance(node.collection, ast.Identifier)
                and node.collection.name in self.cregs)

    def _bits(self, node: ast.Expression) -> list[int]:
        if isinstance(node, ast.Identifier):
            reg = self.cregs[node.name]
            return list(range(reg.offset, reg.offset + reg.size))
        assert isinstance(node, ast.IndexExpression) and isinstance(node.collection, ast.Identifier)
        reg = self.cregs[node.collection.name]
        return [reg.offset + i for i in self._indices(node, node.index, reg.size)]

    def _cond_value(self, node: ast.Expression) -> int:
        if isinstance(node, ast.BooleanLiteral):
            return int(node.value)
        if isinstance(node, ast.BitstringLiteral):
            return int(node.value)
        if isinstance(node, ast.IntegerLiteral):
            return int(node.value)
        return self._int(node, "condition value")

    # ---- gate calls --------------------------------------------------------------------------
    def _modifiers(self, mods: Sequence[ast.QuantumGateModifier],
                   env: dict[str, ParamValue]) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for m in mods:
            kind = m.modifier.name
            if kind in ("ctrl", "negctrl"):
                n = 1 if m.argument is None else self._number(m.argument, f"{kind} count", env)
                if not float(n).is_integer() or n < 1:
                    self._err(f"{kind} count must be a positive integer", m)
                out.append((kind, n))
            elif kind == "pow":
                if m.argument is None:
                    self._err("pow needs an exponent", m)
                out.append((kind, self._number(m.argument, "pow exponent", env)))
            else:
                out.append((kind, 0.0))
        return out

    def _call(self, stmt: ast.QuantumGate, env: dict[str, ParamValue], within: _GateDef | None,
              num_operands: int) -> _Seq:
        """The sequence for a gate call (modifiers applied), checked against its operand count."""
        name = stmt.name.name
        if stmt.duration is not None:
            self._err("gate durations are not supported", stmt)
        mods = self._modifiers(stmt.modifiers, env)
        params = tuple(self._eval(a, env) for a in stmt.arguments)
        user = self.gates.get(name)
        if user is not None and within is not None and user.order >= within.order:
            user = None  # not yet defined where the enclosing gate was defined
        builtin = _BUILTINS.get(name)
        if user is not None:
            nq = len(user.node.qubits)
            nparams: tuple[int, ...] = (len(user.node.arguments),)
        elif builtin is not None:
            nq, nparams = builtin.num_qubits, builtin.num_params
        else:
            self._err(f"unknown gate '{name}'", stmt.name, name)
        if len(params) not in nparams:
            want = " or ".join(str(n) for n in nparams)
            self._err(f"gate '{name}' takes {want} parameters, got {len(params)}", stmt, name)
        controls = sum(int(v) for k, v in mods if k in ("ctrl", "negctrl"))
        if nq + controls != num_operands:
            self._err(f"gate '{name}' with its modifiers acts on {nq + controls} qubits, got "
                      f"{num_operands}", stmt, name)
        if user is not None:
            seq = self._user_gate(user, params, stmt)
        else:
            assert builtin is not None
            steps, phase = builtin.build(*params)
            seq = _seq_of(steps, nq, phase)
        return self._modify(seq, mods, stmt)

    def _phase_call(self, stmt: ast.QuantumPhase, env: dict[str, ParamValue],
                    num_operands: int) -> _Seq:
        mods = self._modifiers(stmt.modifiers, env)
        controls = sum(int(v) for k, v in mods if k in ("ctrl", "negctrl"))
        if controls and controls != num_operands:
            self._err(f"gphase with {controls} controls got {num_operands} qubits", stmt)
        # Without controls the result acts on no qubit: any operands only name its scope.
        return self._modify(_Seq(0, [], self._eval(stmt.argument, env)), mods, stmt)

    def _user_gate(self, gdef: _GateDef, params: tuple[ParamValue, ...],
                   node: ast.QASMNode) -> _Seq:
        name = gdef.node.name.name
        if gdef.native is None:
            gdef.native = self._match_builtin(gdef)
        if isinstance(gdef.native, tuple):
            builtin, delta = gdef.native
            steps, phase = builtin.build(*params)
            return _seq_of(steps, builtin.num_qubits, _add(phase, delta))
        try:
            return self._expand(gdef, params)
        except QasmError as exc:
            line = self._loc(node)[0]
            raise QasmError(f"in gate '{name}' called at line {line}: {exc.message}",
                            path=self.path, line=exc.line, column=exc.column,
                            token=exc.token) from None

    def _expand(self, gdef: _GateDef, params: tuple[ParamValue, ...]) -> _Seq:
        """Inline a gate definition with ``params``."""
        d = gdef.node
        env: dict[str, ParamValue] = dict(self.consts)
        for arg, value in zip(d.arguments, params, strict=True):
            env[arg.name] = value
        local = {q.name: i for i, q in enumerate(d.qubits)}
        if len(local) != len(d.qubits):
            self._err("repeated qubit argument in gate definition", d)
        out = _Seq(len(d.qubits))
        for stmt in d.body:
            try:
                if isinstance(stmt, ast.QuantumBarrier):
                    continue
                if isinstance(stmt, (ast.QuantumGate, ast.QuantumPhase)):
                    pos = []
                    for operand in stmt.qubits:
                        if not isinstance(operand, ast.Identifier) or operand.name not in local:
                            self._err("gate bodies may only use the gate's own qubit arguments",
                                      operand)
                        pos.append(local[operand.name])
                    self._check_distinct(pos, stmt)
                    if isinstance(stmt, ast.QuantumGate):
                        seq = self._call(stmt, env, gdef, len(pos))
                    else:
                        seq = self._phase_call(stmt, env, len(pos))
                    if seq.nq == 0:
                        pos = []
                    out.ops.extend((g, tuple(pos[p] for p in ps)) for g, ps in seq.ops)
                    out.phase = _add(out.phase, seq.phase)
                    if len(out.ops) > _MAX_OPS:
                        self._err("gate definition expands to too many operations", stmt)
                else:
                    self._err(f"{self._describe(stmt)} cannot appear in a gate definition", stmt)
            except QasmError:
                raise
            except (CircuitError, ParameterError, ArithmeticError, ValueError) as exc:
                self._err(str(exc), stmt)
        return out

    def _match_builtin(self, gdef: _GateDef) -> tuple[_Builtin, float] | bool:
        """Whether a definition named like a known gate is that gate up to a constant phase."""
        d = gdef.node
        builtin = _BUILTINS.get(d.name.name)
        nparams = len(d.arguments)
        if (builtin is None or builtin.num_qubits != len(d.qubits) or nparams not in
                builtin.num_params or builtin.num_qubits > _MAX_MATRIX_QUBITS):
            return False
        rng = np.random.default_rng(20240607)
        delta: float | None = None
        for _ in range(2 if nparams else 1):
            params = tuple(float(v) for v in rng.uniform(-PI, PI, nparams))
            try:
                mine = self._expand(gdef, params)
                if not mine.numeric:
                    return False
                got = _seq_matrix(mine)
            except QasmError:
                return False
            steps, phase = builtin.build(*params)
            want = _seq_matrix(_seq_of(steps, builtin.num_qubits, phase))
            k = int(np.argmax(np.abs(want)))
            d_here = cmath.phase(got.flat[k] / want.flat[k])
            if not np.allclose(got, want * cmath.exp(1j * d_here), atol=1e-9, rtol=0):
                return False
            if delta is not None and abs(cmath.exp(1j * delta) - cmath.exp(1j * d_here)) > 1e-9:
                return False
            delta = d_here
        assert delta is not None
        return builtin, (0.0 if abs(delta) < 1e-10 else delta)

    # ---- modifiers ---------------------------------------------------------------------------
    def _modify(self, seq: _Seq, mods: list[tuple[str, float]], node: ast.QASMNode) -> _Seq:
        for kind, value in reversed(mods):
            if kind == "inv":
                seq = _inverse(seq)
            elif kind == "pow":
                seq = self._power(seq, value, node)
            else:
                for _ in range(int(value)):
                    seq = self._control(seq, kind == "negctrl", node)
        return seq

    def _power(self, seq: _Seq, k: float, node: ast.QASMNode) -> _Seq:
        if k == 0:
            return _Seq(seq.nq)
        if not seq.ops:
            return _Seq(seq.nq, [], _scale(seq.phase, k))
        if len(seq.ops) == 1:
            g, pos = seq.ops[0]
            if g.name in _POW_SCALE and (_is_zero(seq.phase) or float(k).is_integer()):
                return _Seq(seq.nq, [(Gate(g.name, [_scale(p, k) for p in g.params]), pos)],
                            _scale(seq.phase, k))
            if g.name in _POW_PHASE and _is_zero(seq.phase) and not float(k).is_integer():
                name, angle = _POW_PHASE[g.name]
                return _Seq(seq.nq, [(Gate(name, (angle * k,)), pos)])
        if float(k).is_integer() and abs(k) <= _MAX_REPEAT:
            base = seq if k >= 0 else _inverse(seq)
            out = _Seq(seq.nq)
            for _ in range(int(abs(k))):
                out.ops.extend(base.ops)
                out.phase = _add(out.phase, base.phase)
            return out
        if not seq.numeric:
            self._err(f"pow({k!r}) of a gate with symbolic parameters is only supported for "
                      "rotation gates and small integer exponents", node)
        if seq.nq > _MAX_MATRIX_QUBITS:
            self._err("pow of a gate this wide is not supported", node)
        m = _seq_matrix(seq)
        if float(k).is_integer():
            p = np.linalg.matrix_power(m if k >= 0 else m.conj().T, int(abs(k)))
        else:
            p = _principal_power(m, k)
        return _from_matrix(p, seq.nq)

    def _control(self, seq: _Seq, negative: bool, node: ast.QASMNode) -> _Seq:
        """``seq`` controlled by a new operand 0 (its operands shift up by one)."""
        out = _Seq(seq.nq + 1)
        if len(seq.ops) == 1 and seq.ops[0][0].name == "u":
            g, pos = seq.ops[0]
            t, f, lam = g.params
            out.ops.append((Gate("cu", (t, f, lam, seq.phase)), (0, pos[0] + 1)))
        else:
            for g, pos in seq.ops:
                shifted = tuple(p + 1 for p in pos)
                out.ops.append(self._controlled_gate(g, shifted, node))
            if not _is_zero(seq.phase):
                out.ops.append((Gate("p", (seq.phase,)), (0,)))
        if negative:
            flip = (Gate("x"), (0,))
            out.ops = [flip, *out.ops, flip]
        return out

    def _controlled_gate(self, g: Gate, shifted: tuple[int, ...],
                         node: ast.QASMNode) -> tuple[Gate, tuple[int, ...]]:
        entry = _CTRL.get(g.name)
        if entry is not None and not isinstance(g, UnitaryGate):
            name, fn, positions = entry
            if positions is not None:
                return Gate(name, fn(*g.params)), tuple(shifted[p - 1] for p in positions)
            return Gate(name, fn(*g.params)), (0, *shifted)
        if g.parameters:
            self._err(f"cannot control '{g.name}' with symbolic parameters", node)
        m = g.matrix()
        if g.num_qubits == 1:
            theta, phi, lam, gamma = zyz_angles(m)
            return Gate("cu", (theta, phi, lam, gamma)), (0, *shifted)
        if g.num_qubits + 1 > _MAX_MATRIX_QUBITS:
            self._err("controlled gate too wide to build as a matrix", node)
        return UnitaryGate(_control_matrix(m)), (0, *shifted)


def _inverse(seq: _Seq) -> _Seq:
    return _Seq(seq.nq, [(g.inverse(), pos) for g, pos in reversed(seq.ops)],
                seq.phase if _is_zero(seq.phase) else -seq.phase)


def _merge(a: Condition | None, b: Condition, reader: _Reader, node: ast.QASMNode) -> Condition:
    """The conjunction of two conditions (bits of ``a`` first)."""
    if a is None:
        return b
    want: dict[int, int] = {}
    for cond in (a, b):
        for i, bit in enumerate(cond.clbits):
            v = (cond.value >> i) & 1
            if want.get(bit, v) != v:
                reader._err("contradictory conditions on the same bit", node)
            want[bit] = v
    bits = tuple(want)
    return Condition(bits, sum(want[bit] << i for i, bit in enumerate(bits)))


# ---- writing -------------------------------------------------------------------------------------
def dumps(circuit: Circuit) -> str:
    """Write ``circuit`` as an OpenQASM 3 program.

    Args:
        circuit: the circuit; parameters become ``input float[64]`` declarations.

    Returns:
        The program text, ending with a newline.

    Raises:
        QasmError: for opaque gates, unitary gates on more than one qubit, conditions on bits
            other than one bit or one whole register, and register or parameter names that are
            not OpenQASM identifiers or that clash with a gate name (``t``, ``x``, ...).
    """
    return _Writer(circuit).write()


def _check_identifier(name: str, what: str) -> None:
    if not _IDENT.match(name) or name in _KEYWORDS:
        raise QasmError(f"{what} name '{name}' cannot be written as an OpenQASM 3 identifier")
    if name in _STD_NAMES:
        raise QasmError(f"{what} name '{name}' clashes with the stdgates.inc gate of that name")


def _fmt_float(v: float) -> str:
    if not math.isfinite(v):
        raise QasmError(f"cannot write the non-finite number {v!r}")
    return repr(float(v))


def _fmt(v: ParamValue) -> str:
    if isinstance(v, ParameterExpression):
        return v.to_text(_FUNCTIONS_OUT)
    return _fmt_float(v)


class _Writer:
    def __init__(self, circuit: Circuit) -> None:
        self.c = circuit
        self.qnames: list[str] = []
        self.cnames: list[str] = []
        self.defined: dict[str, str] = {}  # gate name -> definition text
        self.def_order: list[str] = []
        names: set[str] = set()
        for regs, out, kind in ((circuit.qregs, self.qnames, "qubit register"),
                                (circuit.cregs, self.cnames, "bit register")):
            for r in regs:
                _check_identifier(r.name, kind)
                if r.name in names:
                    raise QasmError(f"two registers are named '{r.name}'")
                names.add(r.name)
                out.extend(f"{r.name}[{i}]" for i in range(r.size))
        self.params = sorted(circuit.parameters, key=lambda p: p.name)
        for p in self.params:
            _check_identifier(p.name, "parameter")
            if p.name in names:
                raise QasmError(f"parameter '{p.name}' has the same name as a register")
            names.add(p.name)
        self.names = names
        prefix = "_g"
        while any(n.startswith(prefix) for n in names):
            prefix += "_"
        self.prefix = prefix
        self.reg_spans: dict[tuple[int, ...], str] = {}
        off = 0
        for r in circuit.cregs:
            self.reg_spans[tuple(range(off, off + r.size))] = r.name
            off += r.size

    def write(self) -> str:
        c = self.c
        body: list[str] = []
        phase = c.global_phase
        for op in c.operations:
            line, extra = self._operation(op)
            if op.condition is None:
                phase = _add(phase, extra)
            body.append(self._conditioned(op.condition, line))
        for name in self.def_order:
            if name in self.names:
                raise QasmError(f"register or parameter name '{name}' clashes with the gate "
                                "definition of that name")
        lines = ["OPENQASM 3.0;", 'include "stdgates.inc";']
        lines += [f"input float[64] {p.name};" for p in self.params]
        lines += [self.defined[name] for name in self.def_order]
        lines += [f"qubit[{r.size}] {r.name};" for r in c.qregs]
        lines += [f"bit[{r.size}] {r.name};" for r in c.cregs]
        if not _is_zero(phase):
            lines.append(f"gphase({_fmt(phase)});")
        return "\n".join(lines + body) + "\n"

    def _conditioned(self, cond: Condition | None, stmt: str) -> str:
        if cond is None:
            return stmt
        if len(cond.clbits) == 1:
            # 'c[0]' / '!c[0]' rather than 'c[0] == 1': a bit compares with bools, not ints.
            bit = self.cnames[cond.clbits[0]]
            return f"if ({bit if cond.value else '!' + bit}) {stmt}"
        if cond.clbits in self.reg_spans:
            return f"if ({self.reg_spans[cond.clbits]} == {cond.value}) {stmt}"
        raise QasmError("OpenQASM 3 export supports conditions on one bit or one whole register "
                        f"in order, not on bits {list(cond.clbits)}")

    def _operation(self, op: Operation) -> tuple[str, ParamValue]:
        """The statement for ``op`` and the global phase it leaves to add."""
        g: Instruction = op.gate
        qs = ", ".join(self.qnames[q] for q in op.qubits)
        if isinstance(g, Measure):
            return f"{self.cnames[op.clbits[0]]} = measure {qs};", 0.0
        if isinstance(g, Reset):
            return f"reset {qs};", 0.0
        if isinstance(g, Barrier):
            return (f"barrier {qs};" if qs else "barrier;"), 0.0
        if isinstance(g, UnitaryGate):
            if g.num_qubits != 1:
                raise QasmError(f"cannot write a {g.num_qubits}-qubit unitary gate to OpenQASM 3; "
                                "decompose it into named gates first")
            theta, phi, lam, gamma = zyz_angles(g.matrix())
            return f"U({_fmt(theta)}, {_fmt(phi)}, {_fmt(lam)}) {qs};", gamma
        if isinstance(g, OpaqueGate):
            raise QasmError(f"opaque gate '{g.name}' cannot be written to OpenQASM 3")
        if not isinstance(g, Gate):
            raise QasmError(f"cannot write instruction '{g.name}' to OpenQASM 3")
        return f"{self._gate_name(g.name)}{self._args(g.params)} {qs};", 0.0

    @staticmethod
    def _args(params: Sequence[ParamValue]) -> str:
        return f"({', '.join(_fmt(p) for p in params)})" if params else ""

    def _gate_name(self, name: str) -> str:
        """The OpenQASM name of a native gate, defining it first when stdgates.inc lacks it."""
        if name in _STD_OUT:
            return _STD_OUT[name]
        if name not in self.defined:
            self.defined[name] = ""  # placeholder against cycles
            spec = GATES[name]
            if spec.decomposition is None:
                raise QasmError(f"gate '{name}' has no definition to write to OpenQASM 3")
            pnames = [f"{self.prefix}p{i}" for i in range(spec.num_params)]
            qnames = [f"{self.prefix}q{i}" for i in range(spec.num_qubits)]
            steps, phase = spec.decomposition(*(Parameter(n) for n in pnames))
            lines = []
            for sname, sparams, pos in steps:
                gate = Gate(sname, sparams)
                lines.append(f"  {self._gate_name(gate.name)}{self._args(gate.params)} "
                             f"{', '.join(qnames[p] for p in pos)};")
            if not _is_zero(phase):
                lines.append(f"  gphase({_fmt(phase)});")
            head = f"gate {name}({', '.join(pnames)})" if pnames else f"gate {name}"
            self.defined[name] = f"{head} {', '.join(qnames)} {{\n" + "\n".join(lines) + "\n}"
            self.def_order.append(name)
        return name
