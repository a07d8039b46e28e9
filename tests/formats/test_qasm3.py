"""OpenQASM 3 reader and writer: round trips, semantics of every construct, errors, interop."""

from __future__ import annotations

import cmath
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qvalley import Circuit, Condition, Gate, Parameter, QasmError, UnitaryGate
from qvalley.circuit import GATES, Barrier, Measure, OpaqueGate, Register, Reset
from qvalley.circuit.parameter import apply_function, cos, exp, ln, sin, sqrt
from qvalley.formats import loads as formats_loads
from qvalley.formats.qasm3 import dumps, loads
from qvalley.testing import circuit_unitary

HEADER = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
PI = math.pi

# ---- reference matrices, written out independently of qvalley (little-endian like qvalley) -------
I2 = np.eye(2, dtype=complex)
X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]])
Z = np.diag([1, -1]).astype(complex)
H = np.array([[1, 1], [1, -1]], dtype=complex) / math.sqrt(2)
S = np.diag([1, 1j])
T = np.diag([1, cmath.exp(1j * PI / 4)])
SX = 0.5 * np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]])


def rx(t: float) -> np.ndarray:
    return np.array([[math.cos(t / 2), -1j * math.sin(t / 2)],
                     [-1j * math.sin(t / 2), math.cos(t / 2)]])


def ry(t: float) -> np.ndarray:
    return np.array([[math.cos(t / 2), -math.sin(t / 2)], [math.sin(t / 2), math.cos(t / 2)]],
                    dtype=complex)


def rz(t: float) -> np.ndarray:
    return np.diag([cmath.exp(-0.5j * t), cmath.exp(0.5j * t)])


def phase(lam: float) -> np.ndarray:
    return np.diag([1, cmath.exp(1j * lam)])


def u3(t: float, f: float, lam: float) -> np.ndarray:
    c, s = math.cos(t / 2), math.sin(t / 2)
    return np.array([[c, -cmath.exp(1j * lam) * s],
                     [cmath.exp(1j * f) * s, cmath.exp(1j * (f + lam)) * c]])


def embed(u: np.ndarray, targets: list[int], n: int, controls: list[int] | None = None,
          on: list[int] | None = None) -> np.ndarray:
    """``u`` on ``targets`` (operand j -> qubit targets[j]) of n qubits, applied only when each
    control qubit reads the matching value of ``on`` (default 1)."""
    controls = controls or []
    on = on if on is not None else [1] * len(controls)
    dim = 1 << n
    out = np.zeros((dim, dim), dtype=complex)
    for col in range(dim):
        if not all((col >> c) & 1 == v for c, v in zip(controls, on, strict=True)):
            out[col, col] = 1
            continue
        sub = sum(((col >> t) & 1) << j for j, t in enumerate(targets))
        for r in range(1 << len(targets)):
            row = col
            for j, t in enumerate(targets):
                row = (row & ~(1 << t)) | (((r >> j) & 1) << t)
            out[row, col] += u[r, sub]
    return out


def big_to_little(m: np.ndarray) -> np.ndarray:
    """Reorder a matrix written with operand 0 as the most significant bit (Braket, textbooks)."""
    n = m.shape[0].bit_length() - 1
    perm = [int(format(i, f"0{n}b")[::-1], 2) for i in range(1 << n)]
    return m[np.ix_(perm, perm)]


def unitary_of(src: str) -> np.ndarray:
    return circuit_unitary(loads(HEADER + src))


def assert_unitary(src: str, expected: np.ndarray) -> None:
    got = unitary_of(src)
    assert np.allclose(got, expected, atol=1e-10), f"{src}\n{np.round(got, 3)}"


def equal_up_to_phase(a: np.ndarray, b: np.ndarray) -> bool:
    k = int(np.argmax(np.abs(b)))
    ratio = a.flat[k] / b.flat[k]
    return abs(abs(ratio) - 1) < 1e-8 and np.allclose(a, ratio * b, atol=1e-8)


# ---- round trips ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(GATES))
def test_round_trip_every_gate(name: str) -> None:
    spec = GATES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    c = Circuit(4, 0, global_phase=0.375)
    for _ in range(2):
        params = [float(v) for v in rng.uniform(-2 * PI, 2 * PI, spec.num_params)]
        qubits = [int(q) for q in rng.permutation(4)[: spec.num_qubits]]
        c.append(Gate(name, params), qubits)
    text = dumps(c)
    back = loads(text)
    assert back == c
    assert np.allclose(circuit_unitary(back), circuit_unitary(c), atol=1e-12)
    if name not in ("u", "u2") and f"gate {name}" in text:
        # The written definition itself is exact: read under another name it is inlined.
        renamed = loads(re.sub(rf"\b{name}\b", f"{name}_inlined", text))
        assert all(op.name != name for op in renamed)
        assert np.allclose(circuit_unitary(renamed), circuit_unitary(c), atol=1e-10)


def test_round_trip_registers_measure_reset_barrier_conditions() -> None:
    c = Circuit(5, 4, qregs=(Register("a", 2), Register("b", 3)),
                cregs=(Register("m", 3), Register("flag", 1)))
    c.h(0).cx(0, 3).barrier().barrier(1, 4).measure(0, 0).measure(3, 2).reset(3)
    c.append(Gate("x"), 1, condition=((0,), 1))
    c.append(Gate("rz", (0.5,)), 2, condition=((1,), 0))
    c.append(Gate("cx"), (1, 2), condition=((0, 1, 2), 5))
    c.append(Gate("h"), 4, condition=((3,), 1))
    c.append(Measure(), 4, 3, condition=((0,), 1))
    c.append(Reset(), 0, condition=((0, 1, 2), 0))
    text = dumps(c)
    assert "qubit[2] a;" in text and "bit[1] flag;" in text
    assert "if (m[0]) x a[1];" in text and "if (!m[1]) rz(0.5) b[0];" in text
    assert "if (m == 5) cx a[1], b[0];" in text
    assert loads(text) == c


def test_round_trip_empty_and_single_qubit_registers() -> None:
    assert loads(dumps(Circuit(0))) == Circuit(0)
    c = Circuit(1, 1, qregs=(Register("r", 1),), cregs=(Register("k", 1),)).x(0).measure(0, 0)
    assert loads(dumps(c)) == c


def test_parameterized_round_trip_and_bind() -> None:
    theta, phi = Parameter("theta"), Parameter("phi")
    c = Circuit(3, global_phase=theta / 2 - 0.25)
    c.rx(2 * theta + 0.5, 0).rzz(theta / phi, 0, 1).u(-theta, phi - (theta - 1), 3.0 * (phi * theta), 2)
    c.append(Gate("cu", (theta, phi, -theta, theta**2)), (1, 0))
    c.p(sin(theta) + cos(phi) - exp(-theta) + sqrt(phi) * ln(theta), 1)
    c.ry(apply_function("asin", theta / 4) + apply_function("acos", phi / 4)
         - apply_function("atan", theta), 2)
    c.rz(theta - (phi - theta) - -phi, 0).rz(theta / (phi / theta) * (theta * phi), 1)
    c.rz((-theta) ** 2 + theta ** (-phi) + (theta**phi) ** theta + theta ** phi ** theta, 2)
    c.fsim(theta, 2 * phi, 2, 0)
    text = dumps(c)
    decl = [line for line in text.splitlines() if line.startswith("input")]
    assert decl == ["input float[64] phi;", "input float[64] theta;"]
    back = loads(text)
    assert back == c
    assert back.parameters == {theta, phi}
    values: dict[Parameter | str, float] = {"theta": 0.7, "phi": 1.3}
    assert np.allclose(circuit_unitary(back.bind(values)), circuit_unitary(c.bind(values)))


def test_input_declarations_angle_and_int_read_as_parameters() -> None:
    c = loads(HEADER + "input angle a;\ninput int[32] k;\nqubit q;\nrx(a * k + pi) q;")
    assert {p.name for p in c.parameters} == {"a", "k"}
    bound = c.bind({"a": 0.25, "k": 2})
    assert np.allclose(circuit_unitary(bound), rx(0.5 + PI))


def test_gphase_top_level_and_in_definitions() -> None:
    c = loads(HEADER + "qubit q;\ngphase(pi/4);\ngphase(0.5);")
    assert c.operations == [] and c.global_phase == pytest.approx(PI / 4 + 0.5)
    c = loads(HEADER + "input float t;\nqubit q;\ngphase(t);")
    assert c.global_phase == Parameter("t")
    src = "gate g(a) r { gphase(a); x r; }\nqubit q;\ng(0.3) q;"
    assert_unitary(src, cmath.exp(0.3j) * X)
    # inside a definition the phase is the gate's: controlled, it becomes a relative phase
    assert_unitary("gate g(a) r { gphase(a); }\nqubit[2] q;\nctrl @ g(0.3) q[0], q[1];",
                   embed(phase(0.3), [0], 2))
    assert_unitary("qubit[2] q;\nctrl @ gphase(0.3) q[1];", embed(phase(0.3), [1], 2))
    assert_unitary("qubit[2] q;\nctrl(2) @ gphase(0.3) q[1], q[0];", np.diag([1, 1, 1, cmath.exp(0.3j)]))
    assert_unitary("qubit[2] q;\ninv @ gphase(0.3);", cmath.exp(-0.3j) * np.eye(4))
    c = Circuit(1, global_phase=-1.25).h(0)
    assert "gphase(-1.25);" in dumps(c) and loads(dumps(c)) == c


def test_constants_expressions_and_const_declarations() -> None:
    src = ("const float a = 2 * π / 8;\nfloat[64] b = tau / 4 + a;\nconst int n = 2;\n"
           "qubit[n] q;\nrx(a) q[0];\nry(b) q[n - 1];\nrz(euler ** 2 - exp(2) + ln(1) + log(1)) q[0];\n"
           "p(arcsin(1) + arccos(1) + arctan(1) + sin(0) + cos(0) + tan(0) + sqrt(4)) q[1];\n"
           "rx(float(1.5) - 3 / 2 + 1_000 * 0 + .5e1 - 5.) q[0];")
    c = loads(HEADER + src)
    params = [op.gate.params[0] for op in c]
    assert params[0] == pytest.approx(PI / 4)
    assert params[1] == pytest.approx(PI / 2 + PI / 4)
    assert params[2] == pytest.approx(0, abs=1e-12)
    assert params[3] == pytest.approx(PI / 2 + PI / 4 + 1 + 2)
    assert params[4] == pytest.approx(0, abs=1e-12)


# ---- gates: standard library, aliases, definitions -----------------------------------------------
@pytest.mark.parametrize(("src", "expected"), [
    ("U(0.3, 0.4, 0.5) q[0];", embed(u3(0.3, 0.4, 0.5), [0], 2)),
    ("u3(0.3, 0.4, 0.5) q[0];", embed(u3(0.3, 0.4, 0.5), [0], 2)),
    ("u2(0.4, 0.5) q[1];", embed(u3(PI / 2, 0.4, 0.5), [1], 2)),
    ("u1(0.5) q[0];", embed(phase(0.5), [0], 2)),
    ("phase(0.5) q[0];", embed(phase(0.5), [0], 2)),
    ("CX q[1], q[0];", embed(X, [0], 2, [1])),
    ("cphase(0.5) q[0], q[1];", np.diag([1, 1, 1, cmath.exp(0.5j)])),
    ("cu(0.3, 0.4, 0.5, 0.6) q[1], q[0];", embed(cmath.exp(0.6j) * u3(0.3, 0.4, 0.5), [0], 2, [1])),
    ("id q[0]; sx q[1];", embed(SX, [1], 2)),
    ("crz(0.7) q[0], q[1];", embed(rz(0.7), [1], 2, [0])),
])
def test_standard_gates_have_the_usual_matrices(src: str, expected: np.ndarray) -> None:
    assert_unitary("qubit[2] q;\n" + src, expected)


def _braket_ms(f0: float, f1: float, t: float) -> np.ndarray:
    c, s = math.cos(t / 2), math.sin(t / 2)
    e = cmath.exp
    return np.array([[c, 0, 0, -1j * e(-1j * (f0 + f1)) * s],
                     [0, c, -1j * e(-1j * (f0 - f1)) * s, 0],
                     [0, -1j * e(1j * (f0 - f1)) * s, c, 0],
                     [-1j * e(1j * (f0 + f1)) * s, 0, 0, c]])


_E = cmath.exp
# Braket's definitions, big-endian (operand 0 is the most significant bit of the index).
BRAKET = [
    ("cnot", (), np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])),
    ("phaseshift", (0.4,), phase(0.4)),
    ("v", (), SX),
    ("vi", (), SX.conj().T),
    ("si", (), S.conj().T),
    ("ti", (), T.conj().T),
    ("i", (), I2),
    ("cphaseshift", (0.4,), np.diag([1, 1, 1, _E(0.4j)])),
    ("cphaseshift00", (0.4,), np.diag([_E(0.4j), 1, 1, 1])),
    ("cphaseshift01", (0.4,), np.diag([1, _E(0.4j), 1, 1])),
    ("cphaseshift10", (0.4,), np.diag([1, 1, _E(0.4j), 1])),
    ("xx", (0.4,), math.cos(0.2) * np.eye(4) - 1j * math.sin(0.2) * np.kron(X, X)),
    ("yy", (0.4,), math.cos(0.2) * np.eye(4) - 1j * math.sin(0.2) * np.kron(Y, Y)),
    ("zz", (0.4,), np.diag([_E(-0.2j), _E(0.2j), _E(0.2j), _E(-0.2j)])),
    ("iswap", (), np.array([[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]])),
    ("pswap", (0.4,), np.array([[1, 0, 0, 0], [0, 0, _E(0.4j), 0], [0, _E(0.4j), 0, 0],
                                [0, 0, 0, 1]])),
    ("ecr", (), np.array([[0, 0, 1, 1j], [0, 0, 1j, 1], [1, -1j, 0, 0], [-1j, 1, 0, 0]])
     / math.sqrt(2)),
    # textbook Toffoli / Fredkin: flips 6 <-> 7, swaps 5 <-> 6
    ("ccnot", (), np.eye(8)[[0, 1, 2, 3, 4, 5, 7, 6]]),
    ("cswap", (), np.eye(8)[[0, 1, 2, 3, 4, 6, 5, 7]]),
    ("cv", (), np.block([[np.eye(2), np.zeros((2, 2))], [np.zeros((2, 2)), SX]])),
    ("gpi", (0.4,), np.array([[0, _E(-0.4j)], [_E(0.4j), 0]])),
    ("gpi2", (0.4,), np.array([[1, -1j * _E(-0.4j)], [-1j * _E(0.4j), 1]]) / math.sqrt(2)),
    ("ms", (0.4, 1.1, 0.7), _braket_ms(0.4, 1.1, 0.7)),
    ("ms", (0.4, 1.1), _braket_ms(0.4, 1.1, PI / 2)),
    ("prx", (0.7, 0.4), np.array([[math.cos(0.35), -1j * _E(-0.4j) * math.sin(0.35)],
                                  [-1j * _E(0.4j) * math.sin(0.35), math.cos(0.35)]])),
]


@pytest.mark.parametrize(("name", "params", "matrix"), BRAKET,
                         ids=[f"{n}{len(p)}" for n, p, _ in BRAKET])
def test_braket_gate_names(name: str, params: tuple[float, ...], matrix: np.ndarray) -> None:
    n = matrix.shape[0].bit_length() - 1
    args = f"({', '.join(map(repr, params))})" if params else ""
    qubits = ", ".join(f"q[{i}]" for i in range(n))
    got = circuit_unitary(loads(f"OPENQASM 3.0;\nqubit[{n}] q;\n{name}{args} {qubits};"))
    assert np.allclose(got, big_to_little(matrix), atol=1e-12)


def test_braket_style_program() -> None:
    src = ("OPENQASM 3.0;\nbit[2] b;\nqubit[2] q;\nh q[0];\ncnot q[0], q[1];\nxx(0.1) q[0], q[1];\n"
           "#pragma braket result probability\nb[0] = measure q[0];\nb[1] = measure q[1];\n")
    c = loads(src)
    assert c.gate_counts == {"h": 1, "cx": 1, "rxx": 1, "measure": 2}


def test_gate_definitions_are_inlined() -> None:
    src = ("gate rot(a, b) r { rx(a) r; rz(b) r; }\n"
           "gate pair(a) r, s { rot(a, 2 * a) r; cx r, s; inv @ rot(a, a) s; }\n"
           "qubit[2] q;\npair(0.3) q[1], q[0];")
    c = loads(HEADER + src)
    assert [op.name for op in c] == ["rx", "rz", "cx", "rz", "rx"]
    expected = (embed(rx(-0.3), [0], 2) @ embed(rz(-0.3), [0], 2) @ embed(X, [0], 2, [1])
                @ embed(rz(0.6), [1], 2) @ embed(rx(0.3), [1], 2))
    assert np.allclose(circuit_unitary(c), expected)


def test_definition_named_like_a_native_gate_is_read_as_that_gate() -> None:
    # exact definition -> native gate
    c = loads(HEADER + "gate rzz(t) a, b { cx a, b; rz(t) b; cx a, b; }\nqubit[2] q;\n"
              "rzz(0.5) q[0], q[1];")
    assert c.operations[0].gate == Gate("rzz", (0.5,)) and c.global_phase == 0
    # equal up to a constant phase -> native gate, phase kept in the circuit
    c = loads(HEADER + "gate sxdg a { s a; h a; s a; }\nqubit q;\nsxdg q;")
    assert c.gate_counts == {"sxdg": 1}
    assert np.allclose(circuit_unitary(c), S @ H @ S)
    # different meaning -> the user's definition wins
    c = loads(HEADER + "gate iswap a, b { cx a, b; }\nqubit[2] q;\niswap q[0], q[1];")
    assert c.gate_counts == {"cx": 1}


# ---- modifiers -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("src", "gate"), [
    ("ctrl @ x q[0], q[1];", Gate("cx")),
    ("ctrl @ ctrl @ x q[0], q[1], q[2];", Gate("ccx")),
    ("ctrl(2) @ x q[0], q[1], q[2];", Gate("ccx")),
    ("ctrl @ cx q[0], q[1], q[2];", Gate("ccx")),
    ("ctrl @ z q[0], q[1];", Gate("cz")),
    ("ctrl @ ctrl @ z q[0], q[1], q[2];", Gate("ccz")),
    ("ctrl @ y q[0], q[1];", Gate("cy")),
    ("ctrl @ h q[0], q[1];", Gate("ch")),
    ("ctrl @ s q[0], q[1];", Gate("cs")),
    ("ctrl @ sdg q[0], q[1];", Gate("csdg")),
    ("ctrl @ sx q[0], q[1];", Gate("csx")),
    ("ctrl @ p(0.5) q[0], q[1];", Gate("cp", (0.5,))),
    ("ctrl @ rx(0.5) q[0], q[1];", Gate("crx", (0.5,))),
    ("ctrl @ ry(0.5) q[0], q[1];", Gate("cry", (0.5,))),
    ("ctrl @ rz(0.5) q[0], q[1];", Gate("crz", (0.5,))),
    ("ctrl @ U(0.1, 0.2, 0.3) q[0], q[1];", Gate("cu", (0.1, 0.2, 0.3, 0.0))),
    ("ctrl @ swap q[0], q[1], q[2];", Gate("cswap")),
    ("inv @ s q[0];", Gate("sdg")),
    ("inv @ rx(0.5) q[0];", Gate("rx", (-0.5,))),
    ("pow(0.5) @ x q[0];", Gate("sx")),
    ("pow(-1) @ t q[0];", Gate("tdg")),
    ("pow(0.25) @ rx(0.8) q[0];", Gate("rx", (0.2,))),
    ("pow(2.5) @ rzz(0.2) q[0], q[1];", Gate("rzz", (0.5,))),
])
def test_modifiers_map_to_native_gates(src: str, gate: Gate) -> None:
    c = loads(HEADER + "qubit[3] q;\n" + src)
    assert [op.gate for op in c] == [gate]


def test_modifiers_keep_symbolic_parameters() -> None:
    c = loads(HEADER + "input float t;\nqubit[2] q;\nctrl @ rz(t) q[0], q[1];\n"
              "pow(0.5) @ p(t) q[0];\ninv @ ctrl @ U(t, 0, t) q[1], q[0];")
    t = Parameter("t")
    assert [op.gate for op in c] == [Gate("crz", (t,)), Gate("p", (t * 0.5,)),
                                     Gate("cu", (-t, -t, -0.0, -0.0))]


@pytest.mark.parametrize(("src", "expected"), [
    ("ctrl @ x q[2], q[0];", embed(X, [0], 3, [2])),
    ("negctrl @ x q[0], q[1];", embed(X, [1], 3, [0], [0])),
    ("negctrl(2) @ h q[0], q[2], q[1];", embed(H, [1], 3, [0, 2], [0, 0])),
    ("ctrl @ negctrl @ ry(0.4) q[1], q[0], q[2];", embed(ry(0.4), [2], 3, [1, 0], [1, 0])),
    ("ctrl(2) @ rx(0.4) q[0], q[1], q[2];", embed(rx(0.4), [2], 3, [0, 1])),
    ("ctrl @ sy q[2], q[1];", embed(0.5 * np.array([[1 + 1j, -1 - 1j], [1 + 1j, 1 + 1j]]),
                                    [1], 3, [2])),
    ("ctrl @ rxx(0.4) q[0], q[1], q[2];",
     embed(math.cos(0.2) * np.eye(4) - 1j * math.sin(0.2) * np.kron(X, X), [1, 2], 3, [0])),
    ("ctrl @ t q[1], q[0];", embed(T, [0], 3, [1])),
    ("inv @ ctrl @ sx q[0], q[1];", embed(SX.conj().T, [1], 3, [0])),
    ("pow(2) @ h q[0];", np.eye(8)),
    ("pow(3) @ sx q[1];", embed(SX @ SX @ SX, [1], 3)),
    ("pow(-2) @ t q[1];", embed(np.diag([1, -1j]), [1], 3)),
    ("pow(0.5) @ z q[0];", embed(S, [0], 3)),
    ("pow(0.5) @ s q[0];", embed(T, [0], 3)),
    ("pow(1.5) @ h q[2];", None),
    ("pow(0.5) @ pow(0.5) @ swap q[0], q[2];", None),
    ("inv @ pow(2) @ ctrl @ U(0.3, 0.2, 0.1) q[0], q[1];",
     embed(np.linalg.matrix_power(u3(0.3, 0.2, 0.1), 2).conj().T, [1], 3, [0])),
])
def test_modifier_unitaries(src: str, expected: np.ndarray | None) -> None:
    got = unitary_of("qubit[3] q;\n" + src)
    if expected is None:  # principal powers, computed here by eigendecomposition
        if "h" in src:
            w, v = np.linalg.eig(H)
            expected = embed(v @ np.diag(w.astype(complex) ** 1.5) @ np.linalg.inv(v), [2], 3)
        else:
            sw = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=complex)
            w, v = np.linalg.eigh(sw)
            root4 = v @ np.diag(w.astype(complex) ** 0.25) @ v.conj().T
            expected = embed(root4, [0, 2], 3)
    assert np.allclose(got, expected, atol=1e-10), np.round(got, 3)


def test_modifiers_on_user_gates() -> None:
    src = ("gate g(a) r, s { h r; cx r, s; rz(a) s; gphase(-a / 2); }\n"
           "qubit[3] q;\nctrl @ g(0.6) q[2], q[0], q[1];\n")
    g = np.exp(-0.3j) * embed(rz(0.6), [1], 2) @ embed(X, [1], 2, [0]) @ embed(H, [0], 2)
    assert_unitary(src, embed(g, [0, 1], 3, [2]))
    assert_unitary(src.replace("ctrl @ g(0.6) q[2], q[0], q[1]", "inv @ g(0.6) q[2], q[0]"),
                   embed(g.conj().T, [2, 0], 3))
    assert_unitary(src.replace("ctrl @ g(0.6) q[2], q[0], q[1]", "pow(2) @ g(0.6) q[0], q[1]"),
                   embed(g @ g, [0, 1], 3))


def test_broadcast_slices_sets_and_negative_indices() -> None:
    c = loads(HEADER + "qubit[3] q;\nqreg r[3];\nh q;\ncx q, r;\nx q[0:1];\ny q[{0, 2}];\n"
              "z q[-1];\ncz q[0], r[0:2:2];\nrz(0.1) r[1:];")
    names = [(op.name, op.qubits) for op in c]
    assert names == [("h", (0,)), ("h", (1,)), ("h", (2,)), ("cx", (0, 3)), ("cx", (1, 4)),
                     ("cx", (2, 5)), ("x", (0,)), ("x", (1,)), ("y", (0,)), ("y", (2,)),
                     ("z", (2,)), ("cz", (0, 3)), ("cz", (0, 5)), ("rz", (4,)), ("rz", (5,))]
    assert c.qregs == (Register("q", 3), Register("r", 3))


# ---- classical -----------------------------------------------------------------------------------
def test_measurement_forms() -> None:
    src = ("qubit[2] q;\nqubit s;\nbit[2] c;\ncreg d[2];\nbit e;\n"
           "c[0] = measure q[1];\nc = measure q;\nmeasure q -> d;\nmeasure s -> e;\n"
           "bit[2] f = measure q;\nbit g = measure s;\nmeasure q[0] -> d[1];")
    c = loads(HEADER + src)
    assert [(op.qubits, op.clbits) for op in c] == [
        ((1,), (0,)), ((0,), (0,)), ((1,), (1,)), ((0,), (2,)), ((1,), (3,)), ((2,), (4,)),
        ((0,), (5,)), ((1,), (6,)), ((2,), (7,)), ((0,), (3,))]
    assert all(isinstance(op.gate, Measure) for op in c)
    assert [r.name for r in c.cregs] == ["c", "d", "e", "f", "g"]


def test_reset_and_barrier() -> None:
    c = loads(HEADER + "qubit[2] q;\nqubit r;\nreset q;\nreset r;\nbarrier;\nbarrier q[1], r;")
    assert [(op.name, op.qubits) for op in c] == [
        ("reset", (0,)), ("reset", (1,)), ("reset", (2,)), ("barrier", (0, 1, 2)),
        ("barrier", (1, 2))]
    assert isinstance(c.operations[3].gate, Barrier)


def test_if_statements() -> None:
    src = ("qubit[2] q;\nbit[2] c;\nbit b;\n"
           "if (c[0] == 1) x q[0];\n"
           "if (c == 2) { x q[0]; h q[1]; }\n"
           "if (c[1]) z q[0];\n"
           "if (!c[1]) z q[1];\n"
           "if (b == false) y q[0];\n"
           "if (c[0] != 1) y q[1];\n"
           "if (3 == c) s q[0];\n"
           "if (c == 0b01) t q[0];\n"
           "if (b) { x q[1]; } else { y q[1]; }\n"
           "if (c[0] == 1 && c[1] == 0) h q[0];\n"
           "if (b) { if (c == 1) { x q[0]; } }\n"
           "if (c[1]) b = measure q[0];\n"
           "if (c[0]) reset q[1];")
    c = loads(HEADER + src)
    conds = [(op.name, op.condition) for op in c]
    assert conds == [
        ("x", Condition((0,), 1)), ("x", Condition((0, 1), 2)), ("h", Condition((0, 1), 2)),
        ("z", Condition((1,), 1)), ("z", Condition((1,), 0)), ("y", Condition((2,), 0)),
        ("y", Condition((0,), 0)), ("s", Condition((0, 1), 3)), ("t", Condition((0, 1), 1)),
        ("x", Condition((2,), 1)), ("y", Condition((2,), 0)), ("h", Condition((0, 1), 1)),
        ("x", Condition((2, 0, 1), 3)), ("measure", Condition((1,), 1)),
        ("reset", Condition((0,), 1))]


def test_conditional_phase_is_dropped_but_gates_kept() -> None:
    c = loads(HEADER + "gate g r { gphase(0.3); x r; }\nqubit q;\nbit b;\nif (b) g q;")
    assert c.global_phase == 0 and c.operations[0].condition == Condition((0,), 1)


# ---- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("src", "line", "column", "needle"), [
    ("OPENQASM 3.0;\nqubit[2] q;\nh q[0]\ncx q[0], q[1];", 4, 1, "cx"),
    ("OPENQASM 3.0;\nqubit q;\nh q;\nh(", 4, 3, "end of input"),
    ("OPENQASM 3.0;\nqubit q; $ h q;", 2, 10, "token recognition"),
    ("OPENQASM 3.0;\nqubit q;\n  foo q;", 3, 3, "unknown gate 'foo'"),
    ("OPENQASM 3.0;\nqubit[2] q;\nfor int i in [0:1] { x q[i]; }", 3, 1, "for loops"),
    ("OPENQASM 3.0;\nbit b;\nwhile (b) { }", 3, 1, "while loops"),
    ("OPENQASM 3.0;\nqubit q;\ndef f(qubit a) { x a; }", 3, 1, "subroutine"),
    ("OPENQASM 3.0;\nbit b;\nb = 1;", 3, 1, "classical assignment"),
    ("OPENQASM 3.0;\nqubit q;\ndelay[10ns] q;", 3, 1, "delay"),
    ("OPENQASM 3.0;\nqubit q;\nbox { x q; }", 3, 1, "box"),
    ("OPENQASM 3.0;\ndefcalgrammar \"openpulse\";", 2, 1, "defcalgrammar"),
    ("OPENQASM 3.0;\ninclude \"other.inc\";", 2, 1, "other.inc"),
    ("OPENQASM 3.0;\nqubit q;\nx r;", 3, 3, "unknown qubit register 'r'"),
    ("OPENQASM 3.0;\nqubit[2] q;\nx q[2];", 3, 5, "out of range"),
    ("OPENQASM 3.0;\nqubit[2] q;\ncx q[0], q[0];", 3, 1, "same qubit"),
    ("OPENQASM 3.0;\nqubit[2] q;\nrx q[0];", 3, 1, "takes 1 parameters"),
    ("OPENQASM 3.0;\nqubit[2] q;\nctrl @ x q[0];", 3, 1, "acts on 2 qubits"),
    ("OPENQASM 3.0;\ninput float t;\nqubit q;\npow(0.5) @ U(t, 0, 0) q;", 4, 1, "symbolic"),
    ("OPENQASM 3.0;\ninput float t;\nqubit[3] q;\nctrl @ rxx(t) q[0], q[1], q[2];", 4, 1,
     "cannot control 'rxx'"),
    ("OPENQASM 3.0;\ninput float t;\nqubit q;\npow(t) @ x q;", 4, 5, "pow exponent"),
    ("OPENQASM 3.0;\nqubit q;\nbit[2] c;\nif (c == 1) { x q; } else { h q; }", 4, 1, "else"),
    ("OPENQASM 3.0;\nqubit q;\nbit[2] c;\nif (c == 4) x q;", 4, 10, "does not fit"),
    ("OPENQASM 3.0;\nqubit q;\nbit b;\nif (b) { b = measure q; x q; }", 4, 25, "re-evaluated"),
    ("OPENQASM 3.0;\nqubit q;\nrx(1/0) q;", 3, 4, "division"),
    ("OPENQASM 3.0;\nqubit q;\nrx(unknown) q;", 3, 4, "unknown identifier"),
    ("OPENQASM 3.0;\nqubit q;\nmeasure q;", 3, 1, "store"),
    ("OPENQASM 3.0;\nqubit q;\nqubit q;", 3, 7, "already declared"),
    ("OPENQASM 3.0;\ngate g a { g a; }\nqubit q;\ng q;", 2, 12, "unknown gate 'g'"),
    ("OPENQASM 3.0;\nqubit q;\nx $0;", 3, 3, "physical qubits cannot be mixed"),
    ("OPENQASM 3.0;\nx $0;\nqubit q;", 3, 7, "cannot be declared in a program that uses physical"),
    ("OPENQASM 2.0;\nqreg q[1];", 1, 1, "version"),
    ("OPENQASM 3.0;\nqubit q;\nx q; rx(sinh(1)) q;", 3, 9, "unsupported function"),
])
def test_errors_carry_line_and_column(src: str, line: int, column: int, needle: str) -> None:
    with pytest.raises(QasmError) as info:
        loads(src, path="prog.qasm")
    err = info.value
    assert needle in err.message, err.message
    assert (err.line, err.column) == (line, column), str(err)
    assert str(err).startswith(f"prog.qasm:{line}:{column}: error:")


def test_physical_qubits_address_qubit_k() -> None:
    c = loads('OPENQASM 3.0;\ninclude "stdgates.inc";\nbit[2] c;\nh $3;\ncx $3, $1;\n'
              'c[0] = measure $3;\nc[1] = measure $1;\n')
    want = Circuit(4, 2).h(3).cx(3, 1).measure(3, 0).measure(1, 1)
    assert c.num_qubits == 4 and list(c.operations) == list(want.operations)


def test_syntax_error_names_the_token_and_is_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(QasmError) as info:
        loads("OPENQASM 3.0;\nqubit[2] q;\nh q[0]\ncx q[0], q[1];")
    assert info.value.token == "cx"
    assert "expected ';'" in info.value.message
    with pytest.raises(QasmError):
        loads("OPENQASM 3.0;\nqubit q; $ h q;")
    assert capfd.readouterr().err == ""


def test_writer_errors() -> None:
    with pytest.raises(QasmError, match="opaque"):
        dumps(Circuit(1).append(OpaqueGate("magic", 1), 0))
    with pytest.raises(QasmError, match="2-qubit unitary"):
        dumps(Circuit(2).unitary(np.eye(4), (0, 1)))
    c = Circuit(2, 3).append(Gate("x"), 0, condition=((0, 2), 1))
    with pytest.raises(QasmError, match="conditions on one bit"):
        dumps(c)
    with pytest.raises(QasmError, match="clashes"):
        dumps(Circuit(1).rx(Parameter("t"), 0))
    with pytest.raises(QasmError, match="clashes"):
        dumps(Circuit(2, qregs=(Register("iswap", 2),)).iswap(0, 1))
    with pytest.raises(QasmError, match="identifier"):
        dumps(Circuit(1, qregs=(Register("my reg", 1),)))
    with pytest.raises(QasmError, match="identifier"):
        dumps(Circuit(1).rx(Parameter("pi"), 0))


def test_one_qubit_unitary_is_written_as_u_with_phase() -> None:
    m = u3(0.4, 0.5, 0.6) * cmath.exp(0.3j)
    c = Circuit(1).unitary(m, (0,))
    back = loads(dumps(c))
    assert back.gate_counts == {"u": 1}
    assert np.allclose(circuit_unitary(back), m)


def test_dispatcher_reads_qasm3_by_header() -> None:
    c = formats_loads(HEADER + "qubit[2] q;\nctrl @ h q[0], q[1];")
    assert c.gate_counts == {"ch": 1}


# ---- interop with Qiskit -------------------------------------------------------------------------
def test_qiskit_export_reads_with_equal_unitary() -> None:
    qiskit_qasm3 = pytest.importorskip("qiskit.qasm3")
    from qiskit.circuit import Parameter as QiskitParameter
    from qiskit.circuit.random import random_circuit
    from qiskit.quantum_info import Operator

    for seed in range(12):
        qc = random_circuit(4, 5, max_operands=3, seed=seed)
        ours = loads(qiskit_qasm3.dumps(qc))
        # Qiskit's exporter drops global phases, so compare up to one.
        assert equal_up_to_phase(circuit_unitary(ours), Operator(qc).data), seed
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2)
    theta = QiskitParameter("theta")
    qc.rx(2 * theta, 0)
    qc.rzz(theta, 0, 1)
    ours = loads(qiskit_qasm3.dumps(qc))
    assert {p.name for p in ours.parameters} == {"theta"}
    bound = qc.assign_parameters({theta: 0.4})
    assert equal_up_to_phase(circuit_unitary(ours.bind({"theta": 0.4})), Operator(bound).data)


def test_our_export_reads_in_qiskit() -> None:
    qiskit_qasm3 = pytest.importorskip("qiskit.qasm3")
    pytest.importorskip("qiskit_qasm3_import")
    from qiskit.quantum_info import Operator

    rng = np.random.default_rng(7)
    c = Circuit(4, global_phase=0.7)
    for name, spec in sorted(GATES.items()):
        params = [float(v) for v in rng.uniform(-3, 3, spec.num_params)]
        c.append(Gate(name, params), [int(q) for q in rng.permutation(4)[: spec.num_qubits]])
    qc = qiskit_qasm3.loads(dumps(c))
    assert np.allclose(Operator(qc).data, circuit_unitary(c), atol=1e-9)


# ---- robustness ----------------------------------------------------------------------------------
SEEDS = [
    HEADER + "qubit[3] q;\nbit[3] c;\nh q[0];\ncx q[0], q[1];\nctrl @ rx(pi/2) q[1], q[2];\n"
    "c = measure q;\nif (c == 3) x q[2];",
    HEADER + "input float[64] theta;\ngate g(a) r, s { rz(a) r; inv @ cx r, s; gphase(a); }\n"
    "qubit[2] q;\ng(theta * 2) q[0], q[1];\npow(0.5) @ g(0.1) q[1], q[0];\nbarrier q;",
    "OPENQASM 3.0;\nqreg q[2];\ncreg c[2];\nU(0.1, 0.2, 0.3) q[0];\nmeasure q -> c;\n"
    "if (c[0]) { reset q[1]; } else { negctrl @ x q[1], q[0]; }",
]
TOKENS = [";", "q", "q[0]", "[", "]", "(", ")", "{", "}", "@", "ctrl", "inv", "pow(2)", "gate",
          "measure", "->", "=", "==", "if", "else", "pi", "-", "*", "/", "**", ",", "qubit",
          "bit", "input", "1", "0", "2.5", "-1", "1e400", "$", "\"", "//", "/*", "\n", " ",
          "gphase", "x", "cx", "h", "negctrl", "reset", "barrier", "for", "c", "theta", "π",
          "sin(", "0b10", ":", "c[1]", "qreg", "99"]


@st.composite
def mutated_programs(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 12)))
        kind = draw(st.sampled_from(["truncate", "delete", "insert", "replace", "duplicate"]))
        if kind == "truncate":
            text = text[:i]
        elif kind == "delete":
            text = text[:i] + text[j:]
        elif kind == "insert":
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        elif kind == "replace":
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[j:]
        else:
            text = text[:j] + text[i:j] + text[j:]
    return text


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated_programs(), st.text(max_size=40)))
def test_malformed_programs_raise_only_qasm_error(text: str) -> None:
    try:
        c = loads(text)
    except QasmError as exc:
        assert exc.message
        return
    assert isinstance(c, Circuit)
    try:  # whatever was read can be written (or is refused cleanly) and reads back
        out = dumps(c)
    except QasmError:
        return
    assert loads(out).num_qubits == c.num_qubits


def test_unitary_gate_from_modifier_reads_but_is_refused_by_writer() -> None:
    c = loads(HEADER + "qubit[4] q;\nctrl @ ctrl(2) @ x q[0], q[1], q[2], q[3];")
    assert isinstance(c.operations[0].gate, UnitaryGate)
    assert np.allclose(circuit_unitary(c), embed(X, [3], 4, [0, 1, 2]))
    with pytest.raises(QasmError, match="unitary"):
        dumps(c)
