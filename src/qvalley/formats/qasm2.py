"""OpenQASM 2.0 reader and writer.

:func:`loads` parses a complete OpenQASM 2.0 program (Cross et al. 2017) with a hand-written
tokenizer and recursive-descent parser; :func:`dumps` writes a :class:`~qvalley.Circuit` back.

Reading:

* The ``OPENQASM 2.x;`` header is optional; when present it must come first and name version 2.
* ``include "qelib1.inc";`` is built in and never read from disk. It provides the gates of the
  specification's ``qelib1.inc`` plus Qiskit's extensions (``u``, ``p``, ``sx``, ``sxdg``,
  ``swap``, ``cswap``, ``crx``, ``cry``, ``cp``, ``csx``, ``cu``, ``rxx``, ``rzz``, ``u0``,
  ``rccx``, ``rc3x``, ``c3x``, ``c3sqrtx``, ``c4x``). Including it a second time does nothing; any
  other include file is an error naming the file. ``U`` and ``CX`` are always available.
* Gates with a qvalley counterpart become that gate (``u3`` → ``u``, ``u1`` → ``p``,
  ``cu1`` → ``cp``, ``cu3`` → ``cu`` with γ = 0, ``u0`` → ``id``); ``rccx``, ``rc3x``, ``c3x``,
  ``c3sqrtx`` and ``c4x`` are expanded through built-in definitions that reproduce their matrices
  exactly.
* User ``gate`` definitions are inlined: a call becomes the gates of its body. Exception: a
  definition named after a qvalley gate (``fsim``, ``iswap``, ``sx`` ...) whose body has *exactly*
  that gate's matrix (checked numerically at two parameter points) is read as the native gate.
  This is how the files written by :func:`dumps` come back unchanged. A name from Qiskit's
  extension of ``qelib1.inc`` (``sx``, ``swap`` ...) may be redefined once, as Qiskit's reader
  allows; names from the specification's ``qelib1.inc`` may not.
* ``opaque`` gates become :class:`~qvalley.circuit.OpaqueGate` (they parse; simulators refuse them).
* Expressions follow Qiskit's reader: ``^`` is power, right-associative and binding tighter than
  unary minus (``-pi^2`` is ``-(pi^2)``, ``2^-1`` is ``0.5``). Outside gate bodies only numbers
  and ``pi`` may appear: OpenQASM 2 has no free parameters, so a circuit written with symbolic
  parameters by :func:`dumps` does not load back (the reader reports the unknown identifier).
* Every error is a :class:`~qvalley.QasmError` with path, line, column (1-based) and the offending
  token (``""`` at end of input).

Writing:

* The header is ``OPENQASM 2.0;`` and ``include "qelib1.inc";``. Gates of the specification's
  ``qelib1.inc`` are written by name (``u`` as ``u3``, ``p`` as ``u1``, ``cp`` as ``cu1``,
  ``cu`` with γ = 0 as ``cu3``). Every other gate gets a ``gate`` definition under its own
  qvalley name, built from qvalley's decomposition; names Qiskit knows (``sx``, ``swap``,
  ``cu`` ...) keep Qiskit's signatures, so the file loads in ``qiskit.qasm2.loads`` with or without
  ``LEGACY_CUSTOM_INSTRUCTIONS`` and in ``QuantumCircuit.from_qasm_str``.
* A definition whose decomposition carries a global phase γ ends with ``u1(γ) a; x a; u1(γ) a;
  x a;`` (= e^{iγ}·I), so definitions are exact, not merely up to phase.
* The circuit's own ``global_phase`` and ``name`` cannot be expressed in OpenQASM 2 and are dropped
  (so are barriers over no qubits).
* Floats are written so they read back bit-identically (``pi/2`` style when exact, else ``repr``).
* :class:`~qvalley.circuit.UnitaryGate` cannot be written (raise :class:`~qvalley.QasmError`;
  one-qubit ones can be lowered first with ``circuit.expand()``). Conditions must cover one whole
  classical register, in order.

Examples:
    >>> from qvalley import Circuit, QasmError
    >>> c = loads('OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; h q[0]; cx q[0], q[1];')
    >>> c.gate_counts
    {'h': 1, 'cx': 1}
    >>> print(dumps(Circuit(1).rx(-0.5, 0).p(3.141592653589793 / 2, 0)), end="")
    OPENQASM 2.0;
    include "qelib1.inc";
    qreg q[1];
    rx(-0.5) q[0];
    u1(pi/2) q[0];
    >>> try:
    ...     loads("qreg q[1];\\nh q[0];")
    ... except QasmError as err:
    ...     print(err.line, err.column, repr(err.token))
    2 1 'h'
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from .._errors import CircuitError, QasmError
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
)
from ..circuit.parameter import Parameter, ParameterExpression, ParamValue

#: Most operations one program may expand to (guards against exponential gate nesting).
MAX_OPERATIONS = 10_000_000
#: Most qubits, and most classical bits, one program may declare.
MAX_BITS = 1 << 20
#: Deepest nesting of parentheses, unary signs, powers and function calls in one expression.
MAX_NESTING = 64

_RESERVED = frozenset({
    "OPENQASM", "include", "qreg", "creg", "gate", "opaque", "measure", "reset", "barrier", "if",
    "pi", "U", "CX", "sin", "cos", "tan", "exp", "ln", "sqrt",
})
_FUNCS: dict[str, Callable[[float], float]] = {
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "exp": math.exp, "ln": math.log,
    "sqrt": math.sqrt,
}
_IDENT = re.compile(r"[a-z][A-Za-z0-9_]*\Z")


# ==== tokens =====================================================================================
class Token(NamedTuple):
    """One lexical token with its 1-based position.

    Attributes:
        kind: ``"id"``, ``"int"``, ``"real"``, ``"string"``, ``"sym"`` or ``"eof"``.
        text: the token's source text (``""`` for end of input).
        line: 1-based line.
        col: 1-based column.
    """

    kind: str
    text: str
    line: int
    col: int


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\r\f\v\n]+)
    |(?P<lc>//[^\n]*)
    |(?P<bc>/\*.*?\*/)
    |(?P<badc>/\*)
    |(?P<real>(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+)
    |(?P<int>[0-9]+)
    |(?P<id>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<string>"[^"\n]*")
    |(?P<badstr>")
    |(?P<sym>->|==|[;,()\[\]{}+\-*/^])
    |(?P<bad>.)
    """,
    re.X | re.S,
)
_KEEP = frozenset({"real", "int", "id", "string", "sym"})


def tokenize(text: str, path: str | None = None) -> list[Token]:
    """Split OpenQASM 2 source into tokens (comments and whitespace dropped), ending with EOF.

    Args:
        text: the program.
        path: file name used in error messages.

    Returns:
        The tokens, the last one of kind ``"eof"``.

    Raises:
        QasmError: on a character that starts no token, an unterminated string or comment.
    """
    tokens: list[Token] = []
    append = tokens.append
    line, line_start = 1, 0
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind in _KEEP:
            pos = m.start()
            append(Token(kind, m.group(), line, pos - line_start + 1))  # type: ignore[arg-type]
        elif kind == "ws" or kind == "bc":
            s = m.group()
            nls = s.count("\n")
            if nls:
                line += nls
                line_start = m.start() + s.rindex("\n") + 1
        elif kind != "lc":
            col = m.start() - line_start + 1
            if kind == "badc":
                raise QasmError("unterminated comment: '/*' has no closing '*/'", path=path,
                                line=line, column=col, token="/*")
            if kind == "badstr":
                raise QasmError("unterminated string: '\"' has no closing '\"' on this line",
                                path=path, line=line, column=col, token='"')
            ch = m.group()
            raise QasmError(f"unexpected character {ch!r}", path=path, line=line, column=col,
                            token=ch)
    append(Token("eof", "", line, len(text) - line_start + 1))
    return tokens


# ==== expressions ================================================================================
class _EvalError(Exception):
    """Internal: an expression could not be evaluated."""


class Expr:
    """A parsed OpenQASM 2 expression (immutable tree).

    ``prec`` of a rendered node: 1 sum, 2 product, 3 unary minus, 4 power, 5 atom.
    """

    __slots__ = ()

    def value(self, env: Mapping[str, float]) -> float:
        """Evaluate with ``env`` giving the values of identifiers."""
        raise NotImplementedError

    def render(self) -> tuple[str, int]:
        """OpenQASM text of this expression and its precedence level."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.render()[0]


class _Num(Expr):
    __slots__ = ("v",)

    def __init__(self, v: float) -> None:
        self.v = v

    def value(self, env: Mapping[str, float]) -> float:
        return self.v

    def render(self) -> tuple[str, int]:
        return _fmt_float(self.v)


class _Name(Expr):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def value(self, env: Mapping[str, float]) -> float:
        return env[self.name]

    def render(self) -> tuple[str, int]:
        return self.name, 5


class _Neg(Expr):
    __slots__ = ("x",)

    def __init__(self, x: Expr) -> None:
        self.x = x

    def value(self, env: Mapping[str, float]) -> float:
        return -self.x.value(env)

    def render(self) -> tuple[str, int]:
        if isinstance(self.x, _Num):
            return _fmt_float(-self.x.v)
        s, p = self.x.render()
        return "-" + (s if p >= 3 else f"({s})"), 3


class _Chain(Expr):
    """A left-associative chain ``a op b op c``: level 1 for ``+ -``, level 2 for ``* /``."""

    __slots__ = ("first", "level", "rest")

    def __init__(self, first: Expr, rest: tuple[tuple[str, Expr], ...], level: int) -> None:
        self.first = first
        self.rest = rest
        self.level = level

    def value(self, env: Mapping[str, float]) -> float:
        acc = self.first.value(env)
        for op, e in self.rest:
            v = e.value(env)
            if op == "+":
                acc += v
            elif op == "-":
                acc -= v
            elif op == "*":
                acc *= v
            else:
                if v == 0:
                    raise _EvalError("division by zero")
                acc /= v
        return acc

    def render(self) -> tuple[str, int]:
        s, p = self.first.render()
        out = [s if p >= self.level else f"({s})"]
        for op, e in self.rest:
            t, q = e.render()
            t = t if q > self.level else f"({t})"
            out.append(f" {op} {t}" if self.level == 1 else f"{op}{t}")
        return "".join(out), self.level


class _Pow(Expr):
    __slots__ = ("base", "exp")

    def __init__(self, base: Expr, exp: Expr) -> None:
        self.base = base
        self.exp = exp

    def value(self, env: Mapping[str, float]) -> float:
        return math.pow(self.base.value(env), self.exp.value(env))

    def render(self) -> tuple[str, int]:
        b, p = self.base.render()
        e, q = self.exp.render()
        return f"{b if p >= 5 else f'({b})'}^{e if q >= 3 else f'({e})'}", 4


class _Func(Expr):
    __slots__ = ("arg", "fn")

    def __init__(self, fn: str, arg: Expr) -> None:
        self.fn = fn
        self.arg = arg

    def value(self, env: Mapping[str, float]) -> float:
        return _FUNCS[self.fn](self.arg.value(env))

    def render(self) -> tuple[str, int]:
        return f"{self.fn}({self.arg.render()[0]})", 5


def _evaluate(expr: Expr, env: Mapping[str, float]) -> float:
    """Evaluate ``expr``; every arithmetic failure becomes :class:`_EvalError`."""
    try:
        v = expr.value(env)
    except _EvalError:
        raise
    except ZeroDivisionError:
        raise _EvalError("division by zero") from None
    except OverflowError:
        raise _EvalError("numeric overflow") from None
    except (ValueError, ArithmeticError):
        raise _EvalError("math domain error (for example ln of a non-positive number)") from None
    if not math.isfinite(v):
        raise _EvalError("the result is not a finite number")
    return v


_PI_DENOMS = (1, 2, 3, 4, 6, 8, 12, 16, 32, 64)


def _fmt_float(x: float) -> tuple[str, int]:
    """Text for ``x`` that reads back bit-identically, and its precedence level.

    Exact multiples ``k*pi/d`` are written that way (evaluated as the reader does:
    ``((±k)*pi)/d``); everything else uses :func:`repr` (with ``.0`` inserted before an exponent,
    as the OpenQASM 2 grammar wants a decimal point).
    """
    if 1e-6 < abs(x) < 1e3:
        r = x / math.pi
        for d in _PI_DENOMS:
            k = round(r * d)
            if k == 0 or abs(k) > 8 * d or abs(r * d - k) > 1e-9:
                continue
            if math.gcd(k, d) != 1:
                continue
            v = math.copysign(1.0, k) * math.pi if abs(k) == 1 else float(k) * math.pi
            if d != 1:
                v = v / d
            if v == x:
                sign = "-" if k < 0 else ""
                num = "pi" if abs(k) == 1 else f"{abs(k)}*pi"
                text = sign + num + ("" if d == 1 else f"/{d}")
                if d == 1 and abs(k) == 1:
                    return text, 3 if k < 0 else 5
                return text, 2
    text = repr(float(x))
    if "e" in text and "." not in text:
        mant, ex = text.split("e")
        text = f"{mant}.0e{ex}"
    return text, 3 if text.startswith("-") else 5


# ==== gate definitions ===========================================================================
@dataclass(frozen=True, slots=True)
class _Stmt:
    """One statement of a gate body: a call (``gate`` set) or a barrier (``gate`` is None)."""

    gate: _GateDef | None
    params: tuple[Expr, ...]
    args: tuple[int, ...]
    tok: Token


@dataclass(frozen=True, slots=True)
class _GateDef:
    """A gate the program can call.

    ``kind`` is ``"native"`` (``build`` makes the qvalley instruction), ``"macro"`` (``body`` is
    inlined) or ``"opaque"``. ``origin`` is ``"core"`` (U, CX), ``"spec"`` (specification
    qelib1), ``"ext"`` (Qiskit's qelib1 extensions, redefinable) or ``"user"``.
    """

    name: str
    nparams: int
    nqubits: int
    kind: str
    origin: str
    build: Callable[[tuple[float, ...]], Instruction] | None = None
    params: tuple[str, ...] = ()
    body: tuple[_Stmt, ...] = ()
    line: int | None = None


def _native(name: str, nparams: int, nqubits: int, target: str, origin: str,
            extra: tuple[float, ...] = (), keep: bool = True) -> _GateDef:
    def build(p: tuple[float, ...]) -> Instruction:
        return Gate(target, (p + extra) if keep else ())

    return _GateDef(name, nparams, nqubits, "native", origin, build)


def _spec_gates() -> list[_GateDef]:
    out = [
        _native("u3", 3, 1, "u", "spec"),
        _native("u2", 2, 1, "u2", "spec"),
        _native("u1", 1, 1, "p", "spec"),
        _native("cx", 0, 2, "cx", "spec"),
        _native("id", 0, 1, "id", "spec"),
        _native("cu1", 1, 2, "cp", "spec"),
        _native("cu3", 3, 2, "cu", "spec", extra=(0.0,)),
        _native("crz", 1, 2, "crz", "spec"),
        _native("ccx", 0, 3, "ccx", "spec"),
    ]
    out += [_native(n, 0, 1, n, "spec") for n in ("x", "y", "z", "h", "s", "sdg", "t", "tdg")]
    out += [_native(n, 1, 1, n, "spec") for n in ("rx", "ry", "rz")]
    out += [_native(n, 0, 2, n, "spec") for n in ("cz", "cy", "ch")]
    return out


def _ext_gates() -> list[_GateDef]:
    out = [
        _native("u0", 1, 1, "id", "ext", keep=False),
        _native("u", 3, 1, "u", "ext"),
        _native("p", 1, 1, "p", "ext"),
        _native("cp", 1, 2, "cp", "ext"),
        _native("cu", 4, 2, "cu", "ext"),
        _native("swap", 0, 2, "swap", "ext"),
        _native("csx", 0, 2, "csx", "ext"),
        _native("cswap", 0, 3, "cswap", "ext"),
    ]
    out += [_native(n, 0, 1, n, "ext") for n in ("sx", "sxdg")]
    out += [_native(n, 1, 2, n, "ext") for n in ("crx", "cry", "rxx", "rzz")]
    return out


def _mcphase_lines(qubits: Sequence[str], angle: str) -> list[str]:
    """Body lines for the phase e^{iλ·x₀x₁…xₙ₋₁} with ``angle`` = λ/2^(n-1) in OpenQASM text.

    Uses x₀⋯xₙ₋₁ = 2^(1-n) Σ_{S≠∅} (-1)^{|S|-1} ⊕_{i∈S} xᵢ: each parity is computed onto the
    last qubit of S with CX gates, phased with ``u1`` and uncomputed, so no global phase appears.
    """
    n = len(qubits)
    lines: list[str] = []
    for mask in range(1, 1 << n):
        members = [qubits[i] for i in range(n) if mask >> i & 1]
        *rest, target = members
        sign = "" if len(members) % 2 else "-"
        lines += [f"cx {c},{target};" for c in rest]
        lines.append(f"u1({sign}{angle}) {target};")
        lines += [f"cx {c},{target};" for c in reversed(rest)]
    return lines


def _ext_macro_source() -> str:
    """OpenQASM source of the extension gates that qvalley has no native form for."""
    rccx = "h c; t c; cx b,c; tdg c; cx a,c; t c; cx b,c; tdg c; h c;"
    rc3x = ("h d; t d; cx c,d; tdg d; h d; cx a,d; t d; cx b,d; tdg d; cx a,d; t d; cx b,d; "
            "tdg d; h d; t d; cx c,d; tdg d; h d;")
    c3x = " ".join(["h d;", *_mcphase_lines("abcd", "pi/8"), "h d;"])
    c3sqrtx = " ".join(["h d;", *_mcphase_lines("abcd", "pi/16"), "h d;"])
    c4x = " ".join(["h e;", *_mcphase_lines("abcde", "pi/16"), "h e;"])
    return "\n".join([
        f"gate rccx a,b,c {{ {rccx} }}",
        f"gate rc3x a,b,c,d {{ {rc3x} }}",
        f"gate c3x a,b,c,d {{ {c3x} }}",
        f"gate c3sqrtx a,b,c,d {{ {c3sqrtx} }}",
        f"gate c4x a,b,c,d,e {{ {c4x} }}",
    ])


_CORE: Mapping[str, _GateDef] = {
    "U": _native("U", 3, 1, "u", "core"),
    "CX": _native("CX", 0, 2, "cx", "core"),
}


@functools.cache
def _qelib1() -> Mapping[str, _GateDef]:
    """The gates of the built-in ``qelib1.inc`` (built once)."""
    qelib: dict[str, _GateDef] = {g.name: g for g in _spec_gates() + _ext_gates()}
    p = _Parser(_ext_macro_source(), "<qelib1.inc>")
    p.gates.update(qelib)
    p.origin = "ext"
    p.parse_program()
    qelib.update({k: v for k, v in p.gates.items() if k not in _CORE})
    return qelib


# ==== numeric check of definitions ===============================================================
_PROBES = ((0.4170220047, 1.2203244934, -0.8562786961, 0.3023325726, 1.1467558908),
           (-1.0766883038, 0.9862602113, 0.6455607270, -0.7967443120, 1.3876225316))


def _unitary(ops: Sequence[Operation], n: int) -> np.ndarray:
    """Matrix of gate operations on ``n`` qubits (little-endian, barriers skipped)."""
    dim = 1 << n
    u = np.eye(dim, dtype=np.complex128)
    for op in ops:
        if isinstance(op.gate, Barrier):
            continue
        assert isinstance(op.gate, Gate)
        k = len(op.qubits)
        g = op.gate.matrix().reshape((2,) * (2 * k))
        axes = [n - 1 - q for q in reversed(op.qubits)]
        t = np.tensordot(g, u.reshape((2,) * n + (dim,)), axes=(list(range(k, 2 * k)), axes))
        u = np.moveaxis(t, list(range(k)), axes).reshape(dim, dim)
    return u


# ==== parser =====================================================================================
@dataclass(frozen=True, slots=True)
class _Reg:
    name: str
    offset: int
    size: int
    quantum: bool
    line: int


@dataclass(frozen=True, slots=True)
class _Arg:
    reg: _Reg
    index: int | None
    tok: Token


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class _Parser:
    """Recursive-descent parser for one program; builds the circuit as it goes."""

    def __init__(self, text: str, path: str | None) -> None:
        self.path = path
        self.toks = tokenize(text, path)
        self.pos = 0
        self.depth = 0
        self.origin = "user"
        self.gates: dict[str, _GateDef] = dict(_CORE)
        self.regs: dict[str, _Reg] = {}
        self.qregs: list[Register] = []
        self.cregs: list[Register] = []
        self.nq = 0
        self.nc = 0
        self.ops: list[Operation] = []
        self.included = False

    # ---- token helpers --------------------------------------------------------------------------
    def error(self, message: str, tok: Token) -> QasmError:
        return QasmError(message, path=self.path, line=tok.line, column=tok.col, token=tok.text)

    @property
    def tok(self) -> Token:
        return self.toks[self.pos]

    def advance(self) -> Token:
        t = self.toks[self.pos]
        if t.kind != "eof":
            self.pos += 1
        return t

    @staticmethod
    def describe(tok: Token) -> str:
        return "end of input" if tok.kind == "eof" else f"'{tok.text}'"

    def expected(self, what: str, tok: Token | None = None) -> QasmError:
        t = tok or self.tok
        return self.error(f"expected {what}, found {self.describe(t)}", t)

    def at(self, text: str) -> bool:
        t = self.tok
        return t.text == text and t.kind in ("sym", "id")

    def expect(self, text: str, what: str | None = None) -> Token:
        if not self.at(text):
            raise self.expected(what or f"'{text}'")
        return self.advance()

    def ident(self, what: str) -> Token:
        t = self.tok
        if t.kind != "id":
            raise self.expected(what)
        if t.text in _RESERVED:
            raise self.error(f"expected {what}, found the reserved word '{t.text}'", t)
        return self.advance()

    def integer(self, what: str) -> tuple[int, Token]:
        t = self.tok
        if t.kind != "int":
            raise self.expected(what)
        if len(t.text) > 4000:
            raise self.error("integer literal is too long", t)
        self.advance()
        return int(t.text), t

    # ---- program ------------------------------------------------------------------------------
    def parse_program(self) -> None:
        if self.at("OPENQASM"):
            self.advance()
            t = self.tok
            if t.kind not in ("real", "int"):
                raise self.expected("a version number such as 2.0", t)
            major, _, minor = t.text.partition(".")
            if major.lstrip("0") != "2" or not (minor == "" or minor.isdigit()):
                raise self.error(
                    f"unsupported OpenQASM version {t.text} (this reader handles 2.x)", t)
            self.advance()
            self.expect(";")
        while self.tok.kind != "eof":
            self.statement()

    def statement(self) -> None:
        t = self.tok
        word = t.text if t.kind == "id" else ""
        if word == "OPENQASM":
            raise self.error("the OPENQASM header must be the first statement", t)
        if word == "include":
            self.include()
        elif word in ("qreg", "creg"):
            self.register()
        elif word == "gate":
            self.gate_definition()
        elif word == "opaque":
            self.opaque()
        elif word == "if":
            self.conditional()
        elif word == "barrier":
            self.barrier()
        elif word in ("measure", "reset", "U", "CX") or (t.kind == "id" and word not in _RESERVED):
            self.quantum_op(None)
        else:
            raise self.expected("a statement", t)

    def include(self) -> None:
        self.advance()
        t = self.tok
        if t.kind != "string":
            raise self.expected('a file name in quotes, as in include "qelib1.inc";', t)
        self.advance()
        self.expect(";")
        name = t.text[1:-1]
        if name != "qelib1.inc":
            raise self.error(
                f"cannot include '{name}': only the built-in \"qelib1.inc\" is available "
                "(include files are never read from disk)", t)
        if self.included:
            return
        self.included = True
        for g in _qelib1().values():
            old = self.gates.get(g.name)
            if old is None:
                self.gates[g.name] = g
            elif g.origin == "spec":
                raise self.error(
                    f"including qelib1.inc redefines gate '{g.name}' (defined at line {old.line})",
                    t)

    def register(self) -> None:
        kw = self.advance()
        quantum = kw.text == "qreg"
        name = self.ident("a register name")
        self.expect("[")
        size, stok = self.integer("the register size")
        self.expect("]")
        self.expect(";")
        old = self.regs.get(name.text)
        if old is not None:
            raise self.error(f"register '{name.text}' is already declared at line {old.line}",
                             name)
        total = (self.nq if quantum else self.nc) + size
        if total > MAX_BITS:
            raise self.error(f"too many {'qubits' if quantum else 'classical bits'} "
                             f"(at most {MAX_BITS})", stok)
        reg = _Reg(name.text, self.nq if quantum else self.nc, size, quantum, name.line)
        self.regs[name.text] = reg
        if quantum:
            self.qregs.append(Register(name.text, size))
            self.nq = total
        else:
            self.cregs.append(Register(name.text, size))
            self.nc = total

    # ---- declarations ---------------------------------------------------------------------------
    def new_gate_name(self) -> Token:
        name = self.ident("a gate name")
        old = self.gates.get(name.text)
        if old is not None and not (old.origin == "ext" and self.origin == "user"):
            where = ("in qelib1.inc" if old.origin in ("spec", "ext")
                     else "as a built-in" if old.origin == "core" else f"at line {old.line}")
            raise self.error(f"gate '{name.text}' is already defined {where}", name)
        return name

    def name_list(self, what: str, taken: set[str]) -> list[str]:
        names: list[str] = []
        while True:
            t = self.ident(what)
            if t.text in taken or t.text in names:
                raise self.error(f"'{t.text}' is declared twice in this gate signature", t)
            names.append(t.text)
            if not self.at(","):
                return names
            self.advance()

    def signature(self) -> tuple[Token, list[str], list[str]]:
        name = self.new_gate_name()
        params: list[str] = []
        if self.at("("):
            self.advance()
            if not self.at(")"):
                params = self.name_list("a parameter name", set())
            self.expect(")", "',' or ')'")
        qubits = self.name_list("a qubit argument name", set(params))
        return name, params, qubits

    def opaque(self) -> None:
        self.advance()
        name, params, qubits = self.signature()
        self.expect(";", "',' or ';'")
        n, nq = name.text, len(qubits)

        def build(p: tuple[float, ...]) -> Instruction:
            return OpaqueGate(n, nq, p)

        self.gates[n] = _GateDef(n, len(params), nq, "opaque", self.origin, build, tuple(params),
                                 line=name.line)

    def gate_definition(self) -> None:
        self.advance()
        name, params, qubits = self.signature()
        self.expect("{", "',' or '{'")
        pset = frozenset(params)
        body: list[_Stmt] = []
        while not self.at("}"):
            body.append(self.body_statement(name.text, pset, qubits))
        self.advance()
        gdef = _GateDef(name.text, len(params), len(qubits), "macro", self.origin, None,
                        tuple(params), tuple(body), name.line)
        if self.origin == "user":
            gdef = self.recognise(gdef, name)
        self.gates[name.text] = gdef

    def body_statement(self, gname: str, params: frozenset[str], qubits: list[str]) -> _Stmt:
        t = self.tok
        if t.kind == "eof":
            raise self.expected(f"'}}' to close the body of gate '{gname}'", t)
        if t.kind != "id" or (t.text in _RESERVED and t.text not in ("U", "CX", "barrier")):
            raise self.error(
                f"expected a gate call or barrier in the body of gate '{gname}', found "
                f"{self.describe(t)}", t)
        self.advance()
        exprs: list[Expr] = []
        callee: _GateDef | None = None
        if t.text != "barrier":
            callee = self.lookup_gate(t)
            if self.at("("):
                exprs = [e for e, _ in self.expr_list(params, gname)]
            self.check_nparams(callee, len(exprs), t)
        args: list[int] = []
        while True:
            a = self.tok
            if a.kind != "id" or a.text not in qubits:
                if a.kind == "id" and a.text not in _RESERVED:
                    raise self.error(f"'{a.text}' is not a qubit argument of gate '{gname}'", a)
                raise self.expected(f"a qubit argument of gate '{gname}'", a)
            self.advance()
            if self.at("["):
                raise self.error("qubit arguments cannot be indexed inside a gate body", self.tok)
            idx = qubits.index(a.text)
            if idx not in args:
                args.append(idx)
            elif callee is not None:
                raise self.error(f"qubit '{a.text}' is used twice in one gate call", a)
            if not self.at(","):
                break
            self.advance()
        self.expect(";", "',' or ';'")
        if callee is not None:
            self.check_nqubits(callee, len(args), t)
        return _Stmt(callee, tuple(exprs), tuple(args), t)

    def recognise(self, gdef: _GateDef, tok: Token) -> _GateDef:
        """Turn a definition into the native qvalley gate of the same name when it has exactly
        that gate's matrix."""
        name = gdef.name
        if name not in GATES and name not in ALIASES:
            return gdef
        try:
            probe = Gate(name, [0.5] * gdef.nparams)
        except CircuitError:
            return gdef
        if probe.num_qubits != gdef.nqubits or gdef.nqubits > 6:
            return gdef
        probes = _PROBES if gdef.nparams else ((),)
        for point in probes:
            vals = tuple(point[: gdef.nparams])
            ops: list[Operation] = []
            try:
                self.expand(gdef, vals, tuple(range(gdef.nqubits)), None, tok, ops, limit=4096)
                if not all(isinstance(op.gate, (Gate, Barrier)) for op in ops):
                    return gdef
                want = Gate(name, vals).matrix()
            except (QasmError, CircuitError):
                return gdef
            if not np.allclose(_unitary(ops, gdef.nqubits), want, rtol=0.0, atol=1e-9):
                return gdef

        def build(p: tuple[float, ...]) -> Instruction:
            return Gate(name, p)

        return replace(gdef, kind="native", build=build)

    # ---- gate application -----------------------------------------------------------------------
    def lookup_gate(self, tok: Token) -> _GateDef:
        g = self.gates.get(tok.text)
        if g is not None:
            return g
        hint = ""
        if not self.included and tok.text in _qelib1():
            hint = ' (missing include "qelib1.inc"?)'
        raise self.error(f"gate '{tok.text}' is not defined{hint}", tok)

    def check_nparams(self, g: _GateDef, n: int, tok: Token) -> None:
        if n != g.nparams:
            raise self.error(
                f"gate '{g.name}' takes {_plural(g.nparams, 'parameter')}, got {n}", tok)

    def check_nqubits(self, g: _GateDef, n: int, tok: Token) -> None:
        if n != g.nqubits:
            raise self.error(
                f"gate '{g.name}' acts on {_plural(g.nqubits, 'qubit')}, got {n}", tok)

    def leaf(self, g: _GateDef, vals: tuple[float, ...], tok: Token) -> Instruction:
        assert g.build is not None
        try:
            return g.build(vals)
        except CircuitError as exc:
            raise self.error(f"gate '{g.name}': {exc}", tok) from None

    def eval_in(self, e: Expr, env: Mapping[str, float], g: _GateDef, st: _Stmt,
                tok: Token) -> float:
        try:
            return _evaluate(e, env)
        except _EvalError as exc:
            raise self.error(
                f"cannot evaluate a parameter in the body of gate '{g.name}' "
                f"(line {st.tok.line}): {exc}", tok) from None

    def expand(self, g: _GateDef, vals: tuple[float, ...], qubits: tuple[int, ...],
               cond: Condition | None, tok: Token, out: list[Operation],
               limit: int | None = None) -> None:
        """Append the operations of ``g`` applied to ``qubits`` to ``out`` (bodies inlined,
        iteratively so deep nesting cannot overflow the Python stack). More than ``limit``
        operations in ``out`` (default :data:`MAX_OPERATIONS`) is an error."""
        if limit is None:
            limit = MAX_OPERATIONS
        if g.kind != "macro":
            out.append(Operation(self.leaf(g, vals, tok), qubits, (), cond))
        else:
            frames: list[tuple[_GateDef, Iterator[_Stmt], dict[str, float], tuple[int, ...]]]
            frames = [(g, iter(g.body), dict(zip(g.params, vals, strict=True)), qubits)]
            while frames:
                owner, it, env, qmap = frames[-1]
                st = next(it, None)
                if st is None:
                    frames.pop()
                    continue
                qs = tuple(qmap[i] for i in st.args)
                if st.gate is None:  # a barrier has no effect, so it never carries the condition
                    out.append(Operation(Barrier(len(qs)), qs))
                    continue
                sub = tuple(self.eval_in(e, env, owner, st, tok) for e in st.params)
                if st.gate.kind == "macro":
                    frames.append((st.gate, iter(st.gate.body),
                                   dict(zip(st.gate.params, sub, strict=True)), qs))
                else:
                    out.append(Operation(self.leaf(st.gate, sub, tok), qs, (), cond))
                if len(out) > limit:
                    break
        if len(out) > limit:
            raise self.error(f"the program expands to more than {limit} operations", tok)

    def argument(self, quantum: bool) -> _Arg:
        t = self.tok
        kind = "quantum" if quantum else "classical"
        if t.kind != "id" or t.text in _RESERVED:
            raise self.expected(f"a {kind} register or bit", t)
        self.advance()
        reg = self.regs.get(t.text)
        if reg is None:
            raise self.error(f"undeclared register '{t.text}'", t)
        if reg.quantum != quantum:
            other = "classical" if quantum else "quantum"
            raise self.error(f"'{t.text}' is a {other} register; expected a {kind} one", t)
        index: int | None = None
        if self.at("["):
            self.advance()
            index, itok = self.integer("an index")
            self.expect("]")
            if index >= reg.size:
                raise self.error(
                    f"index {index} is out of range for register {reg.name}[{reg.size}]", itok)
        return _Arg(reg, index, t)

    def arg_list(self, quantum: bool) -> list[_Arg]:
        args = [self.argument(quantum)]
        while self.at(","):
            self.advance()
            args.append(self.argument(quantum))
        return args

    def broadcast(self, args: Sequence[_Arg]) -> Iterator[tuple[int, ...]]:
        """Yield the flat bit indices of each instance of a broadcast application."""
        size: int | None = None
        first: _Arg | None = None
        for a in args:
            if a.index is None:
                if size is None:
                    size, first = a.reg.size, a
                elif a.reg.size != size:
                    assert first is not None
                    raise self.error(
                        f"cannot broadcast over registers of different sizes: {first.reg.name}"
                        f" has {first.reg.size}, {a.reg.name} has {a.reg.size}", a.tok)
        for k in range(1 if size is None else size):
            yield tuple(a.reg.offset + (k if a.index is None else a.index) for a in args)

    def check_distinct(self, args: Sequence[_Arg], qubits: tuple[int, ...]) -> None:
        seen: set[int] = set()
        for a, q in zip(args, qubits, strict=True):
            if q in seen:
                raise self.error(
                    f"qubit {a.reg.name}[{q - a.reg.offset}] is used twice in one gate "
                    "application", a.tok)
            seen.add(q)

    def quantum_op(self, cond: Condition | None) -> None:
        t = self.advance()
        if t.text == "measure":
            src = self.argument(True)
            self.expect("->", "'->'")
            dst = self.argument(False)
            self.expect(";")
            if (src.index is None) != (dst.index is None) or (
                    src.index is None and src.reg.size != dst.reg.size):
                raise self.error(
                    "measure needs two registers of equal size or two single bits", dst.tok)
            for q, c in self.broadcast([src, dst]):
                self.emit(Operation(Measure(), (q,), (c,), cond), t)
            return
        if t.text == "reset":
            arg = self.argument(True)
            self.expect(";")
            for (q,) in self.broadcast([arg]):
                self.emit(Operation(Reset(), (q,), (), cond), t)
            return
        g = self.lookup_gate(t)
        vals: list[float] = []
        if self.at("("):
            for e, etok in self.expr_list(None, None):
                try:
                    vals.append(_evaluate(e, {}))
                except _EvalError as exc:
                    raise self.error(f"cannot evaluate parameter: {exc}", etok) from None
        self.check_nparams(g, len(vals), t)
        args = self.arg_list(True)
        self.expect(";", "',' or ';'")
        self.check_nqubits(g, len(args), t)
        params = tuple(vals)
        for qubits in self.broadcast(args):
            self.check_distinct(args, qubits)
            self.expand(g, params, qubits, cond, t, self.ops)

    def emit(self, op: Operation, tok: Token) -> None:
        self.ops.append(op)
        if len(self.ops) > MAX_OPERATIONS:
            raise self.error(f"the program expands to more than {MAX_OPERATIONS} operations", tok)

    def barrier(self) -> None:
        t = self.advance()
        args = self.arg_list(True)
        self.expect(";", "',' or ';'")
        qubits: dict[int, None] = {}
        for a in args:
            rng = range(a.reg.size) if a.index is None else (a.index,)
            for k in rng:
                qubits[a.reg.offset + k] = None
        qs = tuple(qubits)
        self.emit(Operation(Barrier(len(qs)), qs), t)

    def conditional(self) -> None:
        self.advance()
        self.expect("(")
        t = self.tok
        if t.kind != "id" or t.text in _RESERVED:
            raise self.expected("a classical register name", t)
        self.advance()
        reg = self.regs.get(t.text)
        if reg is None:
            raise self.error(f"undeclared register '{t.text}'", t)
        if reg.quantum:
            raise self.error(f"'{t.text}' is a quantum register; 'if' needs a classical one", t)
        if self.at("["):
            raise self.error(
                "OpenQASM 2 can only condition on a whole classical register, not one bit",
                self.tok)
        self.expect("==", "'=='")
        value, vtok = self.integer("an integer to compare with")
        self.expect(")")
        if value >= 1 << reg.size:
            raise self.error(
                f"value {value} does not fit in the {reg.size}-bit register '{reg.name}'", vtok)
        nxt = self.tok
        if nxt.kind != "id" or (nxt.text in _RESERVED
                                and nxt.text not in ("measure", "reset", "U", "CX")):
            raise self.expected("a gate call, measure or reset after 'if (...)'", nxt)
        clbits = tuple(range(reg.offset, reg.offset + reg.size))
        self.quantum_op(Condition(clbits, value))

    # ---- expressions --------------------------------------------------------------------------
    def expr_list(self, params: frozenset[str] | None, gname: str | None,
                  free: bool = False) -> list[tuple[Expr, Token]]:
        self.expect("(")
        out: list[tuple[Expr, Token]] = []
        if self.at(")"):
            self.advance()
            return out
        while True:
            start = self.tok
            out.append((self.expression(params, gname, free), start))
            if self.at(","):
                self.advance()
                continue
            self.expect(")", "',' or ')'")
            return out

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"expression is nested too deeply (more than {MAX_NESTING} levels)",
                             self.tok)

    def expression(self, params: frozenset[str] | None, gname: str | None,
                   free: bool = False) -> Expr:
        """Parse ``expr := term (('+'|'-') term)*``."""
        first = self.term(params, gname, free)
        rest: list[tuple[str, Expr]] = []
        while self.tok.kind == "sym" and self.tok.text in ("+", "-"):
            op = self.advance().text
            rest.append((op, self.term(params, gname, free)))
        return _Chain(first, tuple(rest), 1) if rest else first

    def term(self, params: frozenset[str] | None, gname: str | None, free: bool) -> Expr:
        first = self.unary(params, gname, free)
        rest: list[tuple[str, Expr]] = []
        while self.tok.kind == "sym" and self.tok.text in ("*", "/"):
            op = self.advance().text
            rest.append((op, self.unary(params, gname, free)))
        return _Chain(first, tuple(rest), 2) if rest else first

    def unary(self, params: frozenset[str] | None, gname: str | None, free: bool) -> Expr:
        t = self.tok
        if t.kind == "sym" and t.text in ("-", "+"):
            self.advance()
            self.nest()
            inner = self.unary(params, gname, free)
            self.depth -= 1
            return _Neg(inner) if t.text == "-" else inner
        base = self.atom(params, gname, free)
        if self.at("^"):
            self.advance()
            self.nest()
            exponent = self.unary(params, gname, free)
            self.depth -= 1
            return _Pow(base, exponent)
        return base

    def atom(self, params: frozenset[str] | None, gname: str | None, free: bool) -> Expr:
        t = self.tok
        if t.kind in ("int", "real"):
            self.advance()
            v = float(t.text)
            if not math.isfinite(v):
                raise self.error("number is too large", t)
            return _Num(v)
        if t.kind == "sym" and t.text == "(":
            self.advance()
            self.nest()
            inner = self.expression(params, gname, free)
            self.depth -= 1
            self.expect(")", "')'")
            return inner
        if t.kind == "id":
            self.advance()
            if t.text == "pi":
                return _Num(math.pi)
            if t.text in _FUNCS:
                if not self.at("("):
                    raise self.expected(f"'(' after the function '{t.text}'")
                self.advance()
                self.nest()
                arg = self.expression(params, gname, free)
                self.depth -= 1
                self.expect(")", "')'")
                return _Func(t.text, arg)
            if self.at("("):
                raise self.error(f"unknown function '{t.text}' (OpenQASM 2 has sin, cos, tan, "
                                 "exp, ln and sqrt)", t)
            if free and t.text not in _RESERVED:
                return _Name(t.text)
            if params is not None and t.text in params:
                return _Name(t.text)
            if gname is not None:
                raise self.error(f"'{t.text}' is not a parameter of gate '{gname}'", t)
            raise self.error(f"unknown identifier '{t.text}' in an expression (OpenQASM 2 has no "
                             "free parameters: only numbers and pi may appear outside a gate "
                             "body)", t)
        raise self.expected("an expression", t)

    # ---- result -------------------------------------------------------------------------------
    def circuit(self) -> Circuit:
        try:
            return Circuit(self.nq, self.nc, self.ops, 0.0, tuple(self.qregs), tuple(self.cregs))
        except CircuitError as exc:  # pragma: no cover - the parser validates everything first
            raise self.error(str(exc), self.tok) from None


def loads(text: str, path: str | None = None) -> Circuit:
    """Parse an OpenQASM 2.0 program.

    Args:
        text: the program text.
        path: file name for error messages (nothing is read from it).

    Returns:
        The circuit: registers in declaration order, user gates inlined.

    Raises:
        QasmError: for any syntax or semantic error, located by path, line and column.
        TypeError: when ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"OpenQASM text must be a str, got {type(text).__name__}")
    p = _Parser(text, path)
    p.parse_program()
    return p.circuit()


def parse_expression(text: str, *, free: bool = True) -> Expr:
    """Parse one OpenQASM 2 expression (identifiers allowed when ``free``).

    Raises:
        QasmError: on a malformed expression.
    """
    p = _Parser(text, None)
    e = p.expression(None, None, free)
    if p.tok.kind != "eof":
        raise p.expected("the end of the expression")
    return e


# ==== writer =====================================================================================
_SPEC_SAME = frozenset({"id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "rx", "ry", "rz", "u2",
                        "cx", "cy", "cz", "ch", "crz", "ccx"})
_SPEC_RENAME = {"u": "u3", "p": "u1", "cp": "cu1"}
_PARAM_NAMES = ("theta", "phi", "lam", "gamma")


def _arg_names(n: int) -> list[str]:
    return list("abcde"[:n]) if n <= 5 else [f"q{i}" for i in range(n)]


def _param_names(n: int) -> list[str]:
    return list(_PARAM_NAMES[:n]) if n <= len(_PARAM_NAMES) else [f"p{i}" for i in range(n)]


def _spelling(gate: Gate) -> tuple[str, tuple[ParamValue, ...], bool]:
    """``(OpenQASM name, parameters, needs a gate definition)`` for a qvalley gate."""
    name, params = gate.name, gate.params
    if name in _SPEC_SAME:
        return name, params, False
    if name in _SPEC_RENAME:
        return _SPEC_RENAME[name], params, False
    if name == "cu" and not isinstance(params[3], ParameterExpression) and params[3] == 0:
        return "cu3", params[:3], False
    return name, params, True


def _fmt_value(v: ParamValue) -> str:
    if not isinstance(v, ParameterExpression):
        return _fmt_float(float(v))[0]
    for p in v.parameters:
        if not _IDENT.match(p.name) or p.name in _RESERVED:
            raise QasmError(f"parameter name '{p.name}' is not a valid OpenQASM 2 identifier")
    try:
        return str(parse_expression(str(v).replace("**", "^")))
    except QasmError as exc:
        raise QasmError(f"cannot write the expression '{v}' in OpenQASM 2: {exc.message}") from None


class _Writer:
    """Builds the text of :func:`dumps`."""

    def __init__(self, circuit: Circuit) -> None:
        self.c = circuit
        self.defs: dict[str, str] = {}
        self.visiting: set[str] = set()
        self.opaques: dict[str, tuple[int, int]] = {}

    def call(self, gate: Gate, args: Sequence[str]) -> str:
        name, params, needs = _spelling(gate)
        if needs:
            self.define(gate.name)
        ptext = f"({','.join(_fmt_value(p) for p in params)})" if params else ""
        return f"{name}{ptext} {','.join(args)};"

    def define(self, name: str) -> None:
        if name in self.defs:
            return
        if name in self.visiting:  # pragma: no cover - would need a cyclic decomposition
            raise QasmError(f"gate '{name}' has a cyclic decomposition")
        old = _qelib1().get(name)
        if not _IDENT.match(name) or name in _RESERVED or (old is not None
                                                           and old.origin == "spec"):
            raise QasmError(f"cannot write a definition of the qvalley gate '{name}': the name "
                            "is not a valid OpenQASM 2 identifier or is taken by qelib1.inc")
        self.visiting.add(name)
        spec = GATES[name]
        pnames = _param_names(spec.num_params)
        qnames = _arg_names(spec.num_qubits)
        gate = Gate(name, [Parameter(p) for p in pnames])
        dec = gate.decompose()
        if dec is None:
            raise QasmError(f"gate '{name}' has no decomposition, so it cannot be defined in "
                            "OpenQASM 2")
        steps, phase = dec
        body = [self.call(g, [qnames[i] for i in pos]) for g, pos in steps]
        if isinstance(phase, ParameterExpression) or phase != 0:
            ph = _fmt_value(phase)
            a = qnames[0]
            body += [f"u1({ph}) {a};", f"x {a};", f"u1({ph}) {a};", f"x {a};"]
        ptext = f"({','.join(pnames)})" if pnames else ""
        self.defs[name] = f"gate {name}{ptext} {','.join(qnames)} {{ {' '.join(body)} }}"
        self.visiting.discard(name)

    def opaque(self, g: Instruction) -> None:
        sig = (len(g.params), g.num_qubits)
        old = self.opaques.get(g.name)
        if old is not None and old != sig:
            raise QasmError(f"opaque gate '{g.name}' is used with two different signatures")
        if not _IDENT.match(g.name) or g.name in _RESERVED:
            raise QasmError(f"opaque gate name '{g.name}' is not a valid OpenQASM 2 identifier")
        if g.name in _qelib1():
            raise QasmError(f"opaque gate name '{g.name}' clashes with a gate of qelib1.inc")
        self.opaques[g.name] = sig

    def render(self) -> str:
        c = self.c
        qname: list[str] = []
        cname: list[str] = []
        reg_starts: dict[int, Register] = {}
        whole: dict[tuple[int, ...], str] = {}
        seen: set[str] = set()
        for regs, names, quantum in ((c.qregs, qname, True), (c.cregs, cname, False)):
            for r in regs:
                if not _IDENT.match(r.name) or r.name in _RESERVED:
                    raise QasmError(f"register name '{r.name}' is not a valid OpenQASM 2 "
                                    "identifier")
                if r.name in seen:
                    raise QasmError(f"two registers are named '{r.name}'")
                seen.add(r.name)
                if quantum:
                    if r.size:
                        reg_starts[len(names)] = r
                else:
                    whole.setdefault(tuple(range(len(names), len(names) + r.size)), r.name)
                names.extend(f"{r.name}[{k}]" for k in range(r.size))
        lines: list[str] = []
        for op in c.operations:
            g = op.gate
            prefix = ""
            if op.condition is not None:
                reg_name = whole.get(op.condition.clbits)
                if reg_name is None:
                    raise QasmError(
                        f"cannot write the condition of '{g.name}' on bits "
                        f"{list(op.condition.clbits)}: OpenQASM 2 can only condition on a whole "
                        "classical register")
                if isinstance(g, Barrier):
                    raise QasmError("OpenQASM 2 cannot condition a barrier")
                prefix = f"if ({reg_name} == {op.condition.value}) "
            qs = [qname[q] for q in op.qubits]
            if isinstance(g, Measure):
                stmt = f"measure {qs[0]} -> {cname[op.clbits[0]]};"
            elif isinstance(g, Reset):
                stmt = f"reset {qs[0]};"
            elif isinstance(g, Barrier):
                if not qs:
                    continue
                stmt = f"barrier {','.join(self.barrier_args(op.qubits, qname, reg_starts))};"
            elif isinstance(g, UnitaryGate):
                raise QasmError(
                    "a unitary-matrix gate cannot be written in OpenQASM 2 (lower one-qubit "
                    "unitaries with circuit.expand() first)")
            elif isinstance(g, OpaqueGate):
                self.opaque(g)
                ptext = f"({','.join(_fmt_value(p) for p in g.params)})" if g.params else ""
                stmt = f"{g.name}{ptext} {','.join(qs)};"
            elif isinstance(g, Gate):
                stmt = self.call(g, qs)
            else:
                raise QasmError(f"cannot write the instruction '{g.name}' in OpenQASM 2")
            lines.append(prefix + stmt)
        for name in self.opaques:
            if name in self.defs:
                raise QasmError(f"opaque gate '{name}' clashes with the qvalley gate '{name}'")
        used = set(self.opaques) | set(self.defs) | set(_qelib1())
        for name in seen:
            if name in used:
                raise QasmError(f"register name '{name}' clashes with the gate '{name}'")
        head = ['OPENQASM 2.0;', 'include "qelib1.inc";']
        for name, (np_, nq) in self.opaques.items():
            ptext = f"({','.join(_param_names(np_))})" if np_ else ""
            head.append(f"opaque {name}{ptext} {','.join(_arg_names(nq))};")
        head += self.defs.values()
        head += [f"qreg {r.name}[{r.size}];" for r in c.qregs]
        head += [f"creg {r.name}[{r.size}];" for r in c.cregs]
        return "\n".join(head + lines) + "\n"

    @staticmethod
    def barrier_args(qubits: tuple[int, ...], qname: list[str],
                     reg_starts: Mapping[int, Register]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(qubits):
            q = qubits[i]
            r = reg_starts.get(q)
            if r is not None and qubits[i:i + r.size] == tuple(range(q, q + r.size)):
                out.append(r.name)
                i += r.size
            else:
                out.append(qname[q])
                i += 1
        return out


def dumps(circuit: Circuit) -> str:
    """Write ``circuit`` as an OpenQASM 2.0 program.

    Args:
        circuit: the circuit. Its ``global_phase`` and ``name`` are not written (OpenQASM 2 has
            no way to express them).

    Returns:
        The program text, ending with a newline.

    Raises:
        QasmError: for what OpenQASM 2 cannot express: unitary-matrix gates, conditions that are
            not on one whole classical register, invalid or clashing register/opaque names.
    """
    return _Writer(circuit).render()


__all__ = ["MAX_BITS", "MAX_NESTING", "MAX_OPERATIONS", "Expr", "Token", "dumps", "loads",
           "parse_expression", "tokenize"]
