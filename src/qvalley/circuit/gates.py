"""The standard gate library: exact matrices, inverses and decompositions.

Operand order and bit order: operand ``j`` of a k-qubit gate is bit ``j`` of the row/column index of
its matrix (little-endian, as Qiskit). For controlled gates the controls come first: ``cx`` on
``(c, t)`` flips ``t`` when ``c`` is 1.

Every named gate except the basis (``u`` and ``cx``) has a decomposition into other gates plus a global
phase, so ``expand`` can lower any circuit to ``{u, cx}`` exactly.

Examples:
    >>> Gate("h").matrix().round(3).real
    array([[ 0.707,  0.707],
           [ 0.707, -0.707]])
    >>> Gate("rx", (0.5,)).inverse()
    Gate('rx', (-0.5,))
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .._errors import CircuitError, ParameterError
from .parameter import Parameter, ParameterExpression, ParamValue, bind_value

PI = math.pi
_R2 = 1 / math.sqrt(2)

# A decomposition step: (gate name, params, operand positions). Phase is added to the global phase.
Step = tuple[str, tuple[ParamValue, ...], tuple[int, ...]]


@dataclass(frozen=True)
class GateSpec:
    """Static facts of a named gate."""

    name: str
    num_qubits: int
    num_params: int
    matrix: Callable[..., np.ndarray]
    inverse: Callable[..., tuple[str, tuple[ParamValue, ...]]]
    decomposition: Callable[..., tuple[list[Step], ParamValue]] | None = None
    diagonal: bool = False
    doc: str = ""


GATES: dict[str, GateSpec] = {}
# Other spellings accepted by ``Gate(...)`` and the readers; they map to a canonical name and params.
ALIASES: dict[str, Callable[..., tuple[str, tuple[ParamValue, ...]]]] = {}


def _reg(
    name: str,
    nq: int,
    npar: int,
    matrix: Callable[..., np.ndarray],
    inverse: Callable[..., tuple[str, tuple[ParamValue, ...]]],
    decomposition: Callable[..., tuple[list[Step], ParamValue]] | None = None,
    diagonal: bool = False,
    doc: str = "",
) -> None:
    GATES[name] = GateSpec(name, nq, npar, matrix, inverse, decomposition, diagonal, doc)


def _const(m: object) -> Callable[[], np.ndarray]:
    arr = np.array(m, dtype=complex)
    arr.setflags(write=False)
    return lambda: arr


def _self_inv(name: str) -> Callable[..., tuple[str, tuple[ParamValue, ...]]]:
    return lambda *p: (name, p)


def _neg_inv(name: str) -> Callable[..., tuple[str, tuple[ParamValue, ...]]]:
    return lambda *p: (name, tuple(-x for x in p))


def _to(name: str) -> Callable[..., tuple[str, tuple[ParamValue, ...]]]:
    return lambda: (name, ())


def _controlled(u: np.ndarray, nctrl: int = 1) -> np.ndarray:
    """Controls on the low operands (bits 0..nctrl-1), ``u`` on the operands above them."""
    du = u.shape[0]
    dc = 1 << nctrl
    m = np.eye(dc * du, dtype=complex)
    on = dc - 1
    idx = [on + dc * k for k in range(du)]
    m[np.ix_(idx, idx)] = u
    return m


def _u(theta: float, phi: float, lam: float) -> np.ndarray:
    c, s = math.cos(theta / 2), math.sin(theta / 2)
    return np.array(
        [[c, -cmath.exp(1j * lam) * s], [cmath.exp(1j * phi) * s, cmath.exp(1j * (phi + lam)) * c]]
    )


def _rx(t: float) -> np.ndarray:
    c, s = math.cos(t / 2), math.sin(t / 2)
    return np.array([[c, -1j * s], [-1j * s, c]])


def _ry(t: float) -> np.ndarray:
    c, s = math.cos(t / 2), math.sin(t / 2)
    return np.array([[c, -s], [s, c]], dtype=complex)


def _rz(t: float) -> np.ndarray:
    return np.diag([cmath.exp(-0.5j * t), cmath.exp(0.5j * t)])


def _p(lam: float) -> np.ndarray:
    return np.diag([1, cmath.exp(1j * lam)])


def _pauli_rot(pauli: np.ndarray) -> Callable[[float], np.ndarray]:
    def m(t: float) -> np.ndarray:
        return math.cos(t / 2) * np.eye(4) - 1j * math.sin(t / 2) * pauli

    return m


_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]])
_Z = np.diag([1.0 + 0j, -1.0])
_H = _R2 * np.array([[1, 1], [1, -1]], dtype=complex)
_SX = 0.5 * np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]])
_SY = 0.5 * np.array([[1 + 1j, -1 - 1j], [1 + 1j, 1 + 1j]])
_SW = np.array([[0.5 + 0.5j, -1j * _R2], [_R2, 0.5 + 0.5j]])


def _fsim(theta: float, phi: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array(
        [[1, 0, 0, 0], [0, c, -1j * s, 0], [0, -1j * s, c, 0], [0, 0, 0, cmath.exp(-1j * phi)]]
    )


def _d(*steps: Step, phase: ParamValue = 0.0) -> tuple[list[Step], ParamValue]:
    return list(steps), phase


# ---- one-qubit gates -----------------------------------------------------------------------------
_reg("id", 1, 0, _const(np.eye(2)), _to("id"), lambda: _d(("u", (0.0, 0.0, 0.0), (0,))),
     diagonal=True, doc="identity")
_reg("x", 1, 0, _const(_X), _to("x"), lambda: _d(("u", (PI, 0.0, PI), (0,))), doc="Pauli X")
_reg("y", 1, 0, _const(_Y), _to("y"), lambda: _d(("u", (PI, PI / 2, PI / 2), (0,))), doc="Pauli Y")
_reg("z", 1, 0, _const(_Z), _to("z"), lambda: _d(("p", (PI,), (0,))), diagonal=True, doc="Pauli Z")
_reg("h", 1, 0, _const(_H), _to("h"), lambda: _d(("u", (PI / 2, 0.0, PI), (0,))), doc="Hadamard")
for _name, _inv, _ang in (("s", "sdg", PI / 2), ("sdg", "s", -PI / 2), ("t", "tdg", PI / 4),
                          ("tdg", "t", -PI / 4)):
    _reg(_name, 1, 0, _const(_p(_ang)), _to(_inv),
         (lambda a: lambda: _d(("p", (a,), (0,))))(_ang), diagonal=True, doc=f"phase {_ang:.4f}")
_reg("sx", 1, 0, _const(_SX), _to("sxdg"), lambda: _d(("rx", (PI / 2,), (0,)), phase=PI / 4),
     doc="√X (qsim x_1_2)")
_reg("sxdg", 1, 0, _const(_SX.conj().T), _to("sx"),
     lambda: _d(("rx", (-PI / 2,), (0,)), phase=-PI / 4), doc="√X†")
_reg("sy", 1, 0, _const(_SY), _to("sydg"), lambda: _d(("ry", (PI / 2,), (0,)), phase=PI / 4),
     doc="√Y (qsim y_1_2)")
_reg("sydg", 1, 0, _const(_SY.conj().T), _to("sy"),
     lambda: _d(("ry", (-PI / 2,), (0,)), phase=-PI / 4), doc="√Y†")
_reg("sw", 1, 0, _const(_SW), _to("swdg"),
     lambda: _d(("p", (-PI / 4,), (0,)), ("sx", (), (0,)), ("p", (PI / 4,), (0,))),
     doc="√W, W=(X+Y)/√2 (qsim hz_1_2)")
_reg("swdg", 1, 0, _const(_SW.conj().T), _to("sw"),
     lambda: _d(("p", (-PI / 4,), (0,)), ("sxdg", (), (0,)), ("p", (PI / 4,), (0,))), doc="√W†")
_reg("rx", 1, 1, _rx, _neg_inv("rx"), lambda t: _d(("u", (t, -PI / 2, PI / 2), (0,))),
     doc="exp(-iθX/2)")
_reg("ry", 1, 1, _ry, _neg_inv("ry"), lambda t: _d(("u", (t, 0.0, 0.0), (0,))), doc="exp(-iθY/2)")
_reg("rz", 1, 1, _rz, _neg_inv("rz"), lambda t: _d(("p", (t,), (0,)), phase=-t / 2),
     diagonal=True, doc="exp(-iθZ/2)")
_reg("p", 1, 1, _p, _neg_inv("p"), lambda lam: _d(("u", (0.0, 0.0, lam), (0,))), diagonal=True,
     doc="diag(1, e^{iλ})")
_reg("u", 1, 3, _u, lambda t, f, lam: ("u", (-t, -lam, -f)), None, doc="U(θ,φ,λ) = U3")
_reg("u2", 1, 2, lambda f, lam: _u(PI / 2, f, lam), lambda f, lam: ("u", (-PI / 2, -lam, -f)),
     lambda f, lam: _d(("u", (PI / 2, f, lam), (0,))), doc="U(π/2,φ,λ)")

# ---- two-qubit gates -----------------------------------------------------------------------------
_reg("cx", 2, 0, _const(_controlled(_X)), _to("cx"), None, doc="controlled X (CNOT)")
_reg("cy", 2, 0, _const(_controlled(_Y)), _to("cy"),
     lambda: _d(("sdg", (), (1,)), ("cx", (), (0, 1)), ("s", (), (1,))), doc="controlled Y")
_reg("cz", 2, 0, _const(_controlled(_Z)), _to("cz"),
     lambda: _d(("h", (), (1,)), ("cx", (), (0, 1)), ("h", (), (1,))), diagonal=True,
     doc="controlled Z")
_reg("ch", 2, 0, _const(_controlled(_H)), _to("ch"),
     lambda: _d(("s", (), (1,)), ("h", (), (1,)), ("t", (), (1,)), ("cx", (), (0, 1)),
                ("tdg", (), (1,)), ("h", (), (1,)), ("sdg", (), (1,))), doc="controlled H")
_reg("cp", 2, 1, lambda lam: _controlled(_p(lam)), _neg_inv("cp"),
     lambda lam: _d(("p", (lam / 2,), (0,)), ("cx", (), (0, 1)), ("p", (-lam / 2,), (1,)),
                    ("cx", (), (0, 1)), ("p", (lam / 2,), (1,))), diagonal=True,
     doc="controlled phase")
_reg("crx", 2, 1, lambda t: _controlled(_rx(t)), _neg_inv("crx"),
     lambda t: _d(("p", (PI / 2,), (1,)), ("cx", (), (0, 1)), ("u", (-t / 2, 0.0, 0.0), (1,)),
                  ("cx", (), (0, 1)), ("u", (t / 2, -PI / 2, 0.0), (1,))), doc="controlled RX")
_reg("cry", 2, 1, lambda t: _controlled(_ry(t)), _neg_inv("cry"),
     lambda t: _d(("ry", (t / 2,), (1,)), ("cx", (), (0, 1)), ("ry", (-t / 2,), (1,)),
                  ("cx", (), (0, 1))), doc="controlled RY")
_reg("crz", 2, 1, lambda t: _controlled(_rz(t)), _neg_inv("crz"),
     lambda t: _d(("rz", (t / 2,), (1,)), ("cx", (), (0, 1)), ("rz", (-t / 2,), (1,)),
                  ("cx", (), (0, 1))), diagonal=True, doc="controlled RZ")
_reg("cu", 2, 4, lambda t, f, lam, g: _controlled(cmath.exp(1j * g) * _u(t, f, lam)),
     lambda t, f, lam, g: ("cu", (-t, -lam, -f, -g)),
     lambda t, f, lam, g: _d(("p", (g,), (0,)), ("p", ((lam + f) / 2,), (0,)),
                             ("p", ((lam - f) / 2,), (1,)), ("cx", (), (0, 1)),
                             ("u", (-t / 2, 0.0, -(f + lam) / 2), (1,)), ("cx", (), (0, 1)),
                             ("u", (t / 2, f, 0.0), (1,))),
     doc="controlled e^{iγ}U(θ,φ,λ)")
_reg("cs", 2, 0, _const(_controlled(_p(PI / 2))), _to("csdg"),
     lambda: _d(("cp", (PI / 2,), (0, 1))), diagonal=True, doc="controlled S")
_reg("csdg", 2, 0, _const(_controlled(_p(-PI / 2))), _to("cs"),
     lambda: _d(("cp", (-PI / 2,), (0, 1))), diagonal=True, doc="controlled S†")
_reg("csx", 2, 0, _const(_controlled(_SX)),
     lambda: ("cu", (-PI / 2, -PI / 2, PI / 2, -PI / 4)),
     lambda: _d(("h", (), (1,)), ("cs", (), (0, 1)), ("h", (), (1,))), doc="controlled √X")
_reg("swap", 2, 0, _const([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]]),
     _to("swap"), lambda: _d(("cx", (), (0, 1)), ("cx", (), (1, 0)), ("cx", (), (0, 1))), doc="SWAP")
_reg("iswap", 2, 0, _const([[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]]),
     lambda: ("fsim", (PI / 2, 0.0)),
     lambda: _d(("rxx", (-PI / 2,), (0, 1)), ("ryy", (-PI / 2,), (0, 1))), doc="iSWAP")
_reg("ecr", 2, 0, _const(_R2 * np.array([[0, 1, 0, 1j], [1, 0, -1j, 0], [0, 1j, 0, 1],
                                          [-1j, 0, 1, 0]])), _to("ecr"),
     lambda: _d(("rzx", (PI / 4,), (0, 1)), ("x", (), (0,)), ("rzx", (-PI / 4,), (0, 1))),
     doc="echoed cross-resonance")
_reg("rxx", 2, 1, _pauli_rot(np.kron(_X, _X)), _neg_inv("rxx"),
     lambda t: _d(("h", (), (0,)), ("h", (), (1,)), ("cx", (), (0, 1)), ("rz", (t,), (1,)),
                  ("cx", (), (0, 1)), ("h", (), (0,)), ("h", (), (1,))), doc="exp(-iθ XX/2)")
_reg("ryy", 2, 1, _pauli_rot(np.kron(_Y, _Y)), _neg_inv("ryy"),
     lambda t: _d(("rx", (PI / 2,), (0,)), ("rx", (PI / 2,), (1,)), ("cx", (), (0, 1)),
                  ("rz", (t,), (1,)), ("cx", (), (0, 1)), ("rx", (-PI / 2,), (0,)),
                  ("rx", (-PI / 2,), (1,))), doc="exp(-iθ YY/2)")
_reg("rzz", 2, 1, _pauli_rot(np.kron(_Z, _Z)), _neg_inv("rzz"),
     lambda t: _d(("cx", (), (0, 1)), ("rz", (t,), (1,)), ("cx", (), (0, 1))), diagonal=True,
     doc="exp(-iθ ZZ/2)")
# kron(X, Z) puts Z on operand 0 (low bit) and X on operand 1.
_reg("rzx", 2, 1, _pauli_rot(np.kron(_X, _Z)), _neg_inv("rzx"),
     lambda t: _d(("h", (), (1,)), ("cx", (), (0, 1)), ("rz", (t,), (1,)), ("cx", (), (0, 1)),
                  ("h", (), (1,))), doc="exp(-iθ Z⊗X/2), Z on the first operand")
_reg("fsim", 2, 2, _fsim, _neg_inv("fsim"),
     lambda t, f: _d(("rxx", (t,), (0, 1)), ("ryy", (t,), (0, 1)), ("cp", (-f,), (0, 1))),
     doc="fSim(θ,φ) as in Cirq/qsim")

# ---- three-qubit gates ---------------------------------------------------------------------------
_reg("ccx", 3, 0, _const(_controlled(_X, 2)), _to("ccx"),
     lambda: _d(("h", (), (2,)), ("cx", (), (1, 2)), ("tdg", (), (2,)), ("cx", (), (0, 2)),
                ("t", (), (2,)), ("cx", (), (1, 2)), ("tdg", (), (2,)), ("cx", (), (0, 2)),
                ("t", (), (1,)), ("t", (), (2,)), ("h", (), (2,)), ("cx", (), (0, 1)),
                ("t", (), (0,)), ("tdg", (), (1,)), ("cx", (), (0, 1))), doc="Toffoli")
_reg("ccz", 3, 0, _const(_controlled(_Z, 2)), _to("ccz"),
     lambda: _d(("h", (), (2,)), ("ccx", (), (0, 1, 2)), ("h", (), (2,))), diagonal=True,
     doc="doubly controlled Z")
_reg("cswap", 3, 0, _const(_controlled(np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0],
                                                  [0, 0, 0, 1]], dtype=complex))),
     _to("cswap"),
     lambda: _d(("cx", (), (2, 1)), ("ccx", (), (0, 1, 2)), ("cx", (), (2, 1))), doc="Fredkin")

ALIASES.update({
    "u3": lambda t, f, lam: ("u", (t, f, lam)),
    "u1": lambda lam: ("p", (lam,)),
    "cu1": lambda lam: ("cp", (lam,)),
    "cu3": lambda t, f, lam: ("cu", (t, f, lam, 0.0)),
    "cnot": lambda: ("cx", ()),
    "toffoli": lambda: ("ccx", ()),
    "fredkin": lambda: ("cswap", ()),
    "phase": lambda lam: ("p", (lam,)),
    "cphase": lambda lam: ("cp", (lam,)),
    "i": lambda: ("id", ()),
    "sqrt_x": lambda: ("sx", ()),
})


# ---- gate values ---------------------------------------------------------------------------------
def _norm_param(p: object) -> ParamValue:
    if isinstance(p, ParameterExpression):
        return p if p.parameters else float(p)
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
        raise CircuitError(f"gate parameter must be a number or a Parameter expression, got {p!r}")
    v = float(p)
    if not math.isfinite(v):
        raise CircuitError(f"gate parameter must be finite, got {v}")
    return v


class Instruction:
    """Anything that can sit in a circuit: a unitary :class:`Gate` or measure/reset/barrier."""

    __slots__ = ("name", "num_clbits", "num_qubits", "params")

    name: str
    num_qubits: int
    num_clbits: int
    params: tuple[ParamValue, ...]

    def __init__(self, name: str, num_qubits: int, num_clbits: int = 0,
                 params: tuple[ParamValue, ...] = ()) -> None:
        self.name = name
        self.num_qubits = num_qubits
        self.num_clbits = num_clbits
        self.params = params

    @property
    def is_unitary(self) -> bool:
        return False

    @property
    def parameters(self) -> frozenset[Parameter]:
        out: frozenset[Parameter] = frozenset()
        for p in self.params:
            if isinstance(p, ParameterExpression):
                out |= p.parameters
        return out

    def bind(self, values: Mapping[Parameter | str, float]) -> Instruction:
        return self

    def _key(self) -> tuple[object, ...]:
        return (type(self).__name__, self.name, self.num_qubits, self.num_clbits, self.params)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Instruction):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Instruction({self.name!r}, {self.num_qubits}, {self.num_clbits}, {self.params!r})"


class Measure(Instruction):
    """Measure one qubit in the Z basis into one classical bit."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("measure", 1, 1)

    def __repr__(self) -> str:
        return "Measure()"


class Reset(Instruction):
    """Reset one qubit to |0>."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("reset", 1, 0)

    def __repr__(self) -> str:
        return "Reset()"


class Barrier(Instruction):
    """A barrier over ``num_qubits`` qubits: no effect on simulation, blocks optimisation."""

    __slots__ = ()

    def __init__(self, num_qubits: int) -> None:
        super().__init__("barrier", num_qubits, 0)

    def __repr__(self) -> str:
        return f"Barrier({self.num_qubits})"


class OpaqueGate(Instruction):
    """A gate known only by name and arity (OpenQASM ``opaque``): it parses but cannot be simulated."""

    __slots__ = ()

    def __init__(self, name: str, num_qubits: int, params: Sequence[ParamValue] = ()) -> None:
        super().__init__(name, num_qubits, 0, tuple(_norm_param(p) for p in params))

    def bind(self, values: Mapping[Parameter | str, float]) -> OpaqueGate:
        return OpaqueGate(self.name, self.num_qubits, [bind_value(p, values) for p in self.params])

    def __repr__(self) -> str:
        return f"OpaqueGate({self.name!r}, {self.num_qubits}, {self.params!r})"


class Gate(Instruction):
    """A named unitary gate from :data:`GATES` with its parameters.

    Args:
        name: canonical name (``"cx"``) or an alias (``"cnot"``, ``"u3"``, ``"cu1"`` ...).
        params: numbers or :class:`ParameterExpression` s, as many as the gate takes.
    """

    __slots__ = ()

    def __init__(self, name: str, params: Sequence[object] = ()) -> None:
        key = name.lower()
        params = tuple(params)
        if key not in GATES and key in ALIASES:
            fn = ALIASES[key]
            try:
                key, params = fn(*params)
            except TypeError:
                raise CircuitError(f"gate '{name}' got {len(params)} parameters") from None
        spec = GATES.get(key)
        if spec is None:
            raise CircuitError(f"unknown gate '{name}'")
        if len(params) != spec.num_params:
            raise CircuitError(
                f"gate '{name}' takes {spec.num_params} parameters, got {len(params)}"
            )
        super().__init__(key, spec.num_qubits, 0, tuple(_norm_param(p) for p in params))

    @property
    def is_unitary(self) -> bool:
        return True

    @property
    def spec(self) -> GateSpec:
        return GATES[self.name]

    @property
    def is_diagonal(self) -> bool:
        return self.spec.diagonal

    def _float_params(self) -> tuple[float, ...]:
        out = []
        for p in self.params:
            if isinstance(p, ParameterExpression):
                try:
                    out.append(float(p))
                except ParameterError as exc:
                    raise ParameterError(f"gate '{self.name}': {exc}") from None
            else:
                out.append(p)
        return tuple(out)

    def matrix(self) -> np.ndarray:
        """The gate's unitary (complex128), operand ``j`` = bit ``j`` of the index."""
        return np.array(self.spec.matrix(*self._float_params()), dtype=np.complex128)

    def inverse(self) -> Gate:
        name, params = self.spec.inverse(*self.params)
        return Gate(name, params)

    def decompose(self) -> tuple[list[tuple[Gate, tuple[int, ...]]], ParamValue] | None:
        """``(steps, phase)`` with steps ``(gate, operand positions)`` in time order, or ``None``
        for the basis gates ``u`` and ``cx``."""
        fn = self.spec.decomposition
        if fn is None:
            return None
        steps, phase = fn(*self.params)
        return [(Gate(n, p), q) for n, p, q in steps], phase

    def bind(self, values: Mapping[Parameter | str, float]) -> Gate:
        if not self.parameters:
            return self
        return Gate(self.name, [bind_value(p, values) for p in self.params])

    def __repr__(self) -> str:
        if self.params:
            return f"Gate({self.name!r}, {self.params!r})"
        return f"Gate({self.name!r})"


def _check_unitary(m: np.ndarray, what: str) -> np.ndarray:
    m = np.asarray(m, dtype=np.complex128)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise CircuitError(f"{what}: matrix must be square, got shape {m.shape}")
    d = m.shape[0]
    if d < 2 or d & (d - 1):
        raise CircuitError(f"{what}: matrix dimension must be a power of two ≥ 2, got {d}")
    if not np.allclose(m.conj().T @ m, np.eye(d), atol=1e-8):
        raise CircuitError(f"{what}: matrix is not unitary (‖U†U − I‖ too large)")
    return m


class UnitaryGate(Gate):
    """A gate given by its unitary matrix (validated). Operand ``j`` = bit ``j`` of the index.

    Examples:
        >>> UnitaryGate([[0, 1], [1, 0]]).num_qubits
        1
    """

    __slots__ = ("_matrix", "label")

    def __init__(self, matrix: object, label: str | None = None) -> None:
        m = _check_unitary(np.array(matrix, dtype=np.complex128), "unitary gate")
        m.setflags(write=False)
        self._matrix = m
        self.label = label
        Instruction.__init__(self, "unitary", int(m.shape[0]).bit_length() - 1, 0, ())

    @property
    def is_diagonal(self) -> bool:
        return bool(np.count_nonzero(self._matrix - np.diag(np.diag(self._matrix))) == 0)

    @property
    def spec(self) -> GateSpec:  # pragma: no cover - unitary gates have no spec
        raise CircuitError("a unitary gate has no named specification")

    def matrix(self) -> np.ndarray:
        return self._matrix.copy()

    def inverse(self) -> UnitaryGate:
        return UnitaryGate(self._matrix.conj().T, self.label)

    def decompose(self) -> tuple[list[tuple[Gate, tuple[int, ...]]], ParamValue] | None:
        """One-qubit unitaries decompose to ``u`` and a phase (ZYZ); wider ones are primitive."""
        if self.num_qubits != 1:
            return None
        theta, phi, lam, phase = zyz_angles(self._matrix)
        return [(Gate("u", (theta, phi, lam)), (0,))], phase

    def bind(self, values: Mapping[Parameter | str, float]) -> UnitaryGate:
        return self

    def _key(self) -> tuple[object, ...]:
        return ("unitary", self._matrix.shape, self._matrix.tobytes(), self.label)

    def __repr__(self) -> str:
        rows = np.array2string(self._matrix, separator=", ", precision=17, threshold=1 << 30)
        lab = f", label={self.label!r}" if self.label else ""
        return f"UnitaryGate(np.array({rows}){lab})"


def zyz_angles(u: np.ndarray) -> tuple[float, float, float, float]:
    """Angles ``(θ, φ, λ, γ)`` with ``u = e^{iγ} U(θ, φ, λ)`` for a 2×2 unitary."""
    eps = 1e-12
    theta = 2 * math.atan2(abs(u[1, 0]), abs(u[0, 0]))
    if abs(u[0, 0]) <= eps:  # anti-diagonal: choose γ = 0
        return theta, cmath.phase(u[1, 0]), cmath.phase(-u[0, 1]), 0.0
    gamma = cmath.phase(u[0, 0])
    if abs(u[1, 0]) <= eps:  # diagonal: only φ + λ is defined
        return theta, 0.0, cmath.phase(u[1, 1]) - gamma, gamma
    phi = cmath.phase(u[1, 0]) - gamma
    lam = cmath.phase(u[1, 1]) - gamma - phi
    return theta, phi, lam, gamma


__all__ = [
    "ALIASES",
    "GATES",
    "Barrier",
    "Gate",
    "GateSpec",
    "Instruction",
    "Measure",
    "OpaqueGate",
    "Reset",
    "UnitaryGate",
    "zyz_angles",
]
