"""OpenQASM 2.0 reader and writer: round trips, semantics, errors, Qiskit interop and fuzzing."""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qvalley import QasmError
from qvalley.circuit import (
    GATES,
    Circuit,
    Condition,
    Gate,
    Measure,
    OpaqueGate,
    Operation,
    Parameter,
    Register,
    Reset,
)
from qvalley.formats import loads as formats_loads
from qvalley.formats import qasm2
from qvalley.testing import circuit_unitary

HEAD = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _random_gate(rng: random.Random, n: int) -> tuple[Gate, tuple[int, ...]]:
    name = rng.choice(sorted(GATES))
    spec = GATES[name]
    params = [rng.uniform(-2 * math.pi, 2 * math.pi) for _ in range(spec.num_params)]
    return Gate(name, params), tuple(rng.sample(range(n), spec.num_qubits))


def _random_circuit(seed: int, n: int = 4, depth: int = 30) -> Circuit:
    rng = random.Random(seed)
    c = Circuit(n)
    for _ in range(depth):
        g, qs = _random_gate(rng, n)
        c.append(g, qs)
    return c


def _close_up_to_phase(a: np.ndarray, b: np.ndarray, atol: float = 1e-8) -> bool:
    k = np.unravel_index(np.argmax(np.abs(b)), b.shape)
    if abs(a[k]) < 1e-12:
        return False
    phase = b[k] / a[k]
    return bool(np.allclose(a * phase, b, atol=atol))


# ==== round trips ================================================================================
@pytest.mark.parametrize("name", sorted(GATES))
def test_round_trip_every_gate(name: str) -> None:
    rng = random.Random(name)
    spec = GATES[name]
    for _ in range(3):
        c = Circuit(4, qregs=(Register("a", 1), Register("b", 3)))
        params = [rng.uniform(-10, 10) for _ in range(spec.num_params)]
        qubits = rng.sample(range(4), spec.num_qubits)
        c.append(Gate(name, params), qubits)
        c.append(Gate(name, params), qubits)  # used twice: one definition suffices
        text = qasm2.dumps(c)
        back = qasm2.loads(text)
        assert back == c
        for op, orig in zip(back.operations, c.operations, strict=True):
            assert [_bits(float(p)) for p in op.gate.params] == [
                _bits(float(p)) for p in orig.gate.params]
        assert text.count("\ngate ") == len(set(_defined_names(text)))


def _defined_names(text: str) -> list[str]:
    return [line.split()[1].split("(")[0] for line in text.splitlines()
            if line.startswith("gate ")]


def test_round_trip_all_gates_in_one_circuit() -> None:
    c = Circuit(5)
    rng = random.Random(7)
    for name in sorted(GATES):
        spec = GATES[name]
        c.append(Gate(name, [rng.uniform(-3, 3) for _ in range(spec.num_params)]),
                 rng.sample(range(5), spec.num_qubits))
    text = qasm2.dumps(c)
    assert qasm2.loads(text) == c
    names = _defined_names(text)
    assert len(names) == len(set(names))
    # gates of the specification's qelib1.inc are never redefined
    assert not set(names) & {"u3", "u2", "u1", "cx", "id", "x", "y", "z", "h", "s", "sdg", "t",
                             "tdg", "rx", "ry", "rz", "cz", "cy", "ch", "ccx", "crz", "cu1", "cu3"}


def test_round_trip_registers_measure_reset_barrier_condition() -> None:
    c = Circuit(5, 4, qregs=(Register("q", 2), Register("anc", 3)),
                cregs=(Register("c", 1), Register("flags", 3)))
    c.h(0).cx(0, 2).barrier().barrier(1, 3).measure(0, 0).measure(4, 3).reset(2)
    c.append(Gate("x"), 1, condition=((1, 2, 3), 5))
    c.append(Gate("fsim", (0.25, -1.5)), (3, 4), condition=((0,), 1))
    c.append(Measure(), 3, 1, condition=((1, 2, 3), 0))
    c.append(Reset(), 4, condition=((0,), 0))
    text = qasm2.dumps(c)
    assert qasm2.loads(text) == c
    assert "barrier q,anc;" in text  # whole registers are written by name


def test_round_trip_floats_bit_identical() -> None:
    rng = random.Random(3)
    values = [0.0, -0.0, 1.0, -1.0, 1e-300, -2.5e-17, 1e16, 123456789.123, math.pi, -math.pi,
              math.pi / 2, -math.pi / 4, 3 * math.pi / 4, 2 * math.pi, math.pi / 3,
              5e-324, 1.7976931348623157e308, 0.1, 1 / 3]
    values += [rng.uniform(-100, 100) for _ in range(200)]
    values += [math.pi * rng.randint(-20, 20) / rng.choice([1, 2, 3, 4, 6, 8, 16]) for _ in
               range(100)]
    c = Circuit(1)
    for v in values:
        c.rz(v, 0)
    back = qasm2.loads(qasm2.dumps(c))
    got = [op.gate.params[0] for op in back.operations]
    assert [_bits(float(v)) for v in got] == [_bits(v) for v in values]


def test_exported_text_is_readable() -> None:
    text = qasm2.dumps(Circuit(2).rx(math.pi / 2, 0).p(-math.pi, 1).cp(0.125, 0, 1))
    lines = text.splitlines()
    assert lines[:2] == ["OPENQASM 2.0;", 'include "qelib1.inc";']
    assert "rx(pi/2) q[0];" in lines
    assert "u1(-pi) q[1];" in lines
    assert "cu1(0.125) q[0],q[1];" in lines


def test_global_phase_is_dropped() -> None:
    c = Circuit(1, global_phase=0.7).h(0)
    back = qasm2.loads(qasm2.dumps(c))
    assert back.global_phase == 0
    assert back.operations == c.operations


def test_opaque_round_trip() -> None:
    c = Circuit(3)
    c.append(OpaqueGate("magic", 2, (0.5, -1.25)), (2, 0))
    c.append(OpaqueGate("blob", 1), (1,))
    c.append(OpaqueGate("magic", 2, (1.0, 2.0)), (0, 1))
    text = qasm2.dumps(c)
    assert text.count("opaque magic") == 1
    assert qasm2.loads(text) == c


def test_parametric_circuit_is_written_as_text_but_does_not_load() -> None:
    theta = Parameter("theta")
    c = Circuit(1).rx(2 * theta, 0).rz(theta**2 - 1, 0)
    text = qasm2.dumps(c)
    assert "rx(2.0*theta) q[0];" in text
    assert "rz(theta^2.0 - 1.0) q[0];" in text
    with pytest.raises(QasmError, match="theta") as err:
        qasm2.loads(text)
    assert err.value.token == "theta"
    # binding gives a loadable program with the same numbers
    bound = c.bind({"theta": 0.3})
    assert qasm2.loads(qasm2.dumps(bound)) == bound


def test_dispatcher_routes_qasm2() -> None:
    c = formats_loads(HEAD + "qreg q[1];\nh q[0];\n")
    assert c.gate_counts == {"h": 1}


# ==== reading ====================================================================================
def _ops(src: str) -> list[Operation]:
    return qasm2.loads(HEAD + src).operations


def test_qelib_gates_map_to_native_gates() -> None:
    ops = _ops("qreg q[3];\nu3(0.1,0.2,0.3) q[0]; u2(0.4,0.5) q[0]; u1(0.6) q[1]; u0(7) q[0];\n"
               "cu1(0.7) q[0],q[1]; cu3(0.1,0.2,0.3) q[1],q[2]; U(1,2,3) q[2]; CX q[2],q[0];\n"
               "u(1,2,3) q[0]; p(0.5) q[0]; cp(0.25) q[0],q[2]; cu(1,2,3,4) q[0],q[1];\n"
               "id q[0]; sx q[1]; sxdg q[1]; swap q[0],q[1]; cswap q[0],q[1],q[2];\n"
               "crx(1) q[0],q[1]; cry(2) q[0],q[1]; crz(3) q[0],q[1]; csx q[0],q[1];\n"
               "rxx(1) q[0],q[1]; rzz(2) q[0],q[1]; ch q[0],q[1]; cy q[0],q[1]; cz q[1],q[0];\n"
               "ccx q[0],q[1],q[2];")
    got = [(op.gate.name, op.gate.params, op.qubits) for op in ops]
    assert got == [
        ("u", (0.1, 0.2, 0.3), (0,)), ("u2", (0.4, 0.5), (0,)), ("p", (0.6,), (1,)),
        ("id", (), (0,)), ("cp", (0.7,), (0, 1)), ("cu", (0.1, 0.2, 0.3, 0.0), (1, 2)),
        ("u", (1.0, 2.0, 3.0), (2,)), ("cx", (), (2, 0)), ("u", (1.0, 2.0, 3.0), (0,)),
        ("p", (0.5,), (0,)), ("cp", (0.25,), (0, 2)), ("cu", (1.0, 2.0, 3.0, 4.0), (0, 1)),
        ("id", (), (0,)), ("sx", (), (1,)), ("sxdg", (), (1,)), ("swap", (), (0, 1)),
        ("cswap", (), (0, 1, 2)), ("crx", (1.0,), (0, 1)), ("cry", (2.0,), (0, 1)),
        ("crz", (3.0,), (0, 1)), ("csx", (), (0, 1)), ("rxx", (1.0,), (0, 1)),
        ("rzz", (2.0,), (0, 1)), ("ch", (), (0, 1)), ("cy", (), (0, 1)), ("cz", (), (1, 0)),
        ("ccx", (), (0, 1, 2)),
    ]


def _controlled_matrix(u: np.ndarray, ncontrols: int) -> np.ndarray:
    """Controls on the low qubits, ``u`` on the top qubit (little-endian)."""
    dim = 2 << ncontrols
    m = np.eye(dim, dtype=complex)
    ones = (1 << ncontrols) - 1
    idx = [ones, ones | (1 << ncontrols)]
    m[np.ix_(idx, idx)] = u
    return m


@pytest.mark.parametrize(("name", "n", "target"), [
    ("c3x", 4, np.array([[0, 1], [1, 0]])),
    ("c4x", 5, np.array([[0, 1], [1, 0]])),
    ("c3sqrtx", 4, 0.5 * np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]])),
])
def test_multi_controlled_builtins_are_exact(name: str, n: int, target: np.ndarray) -> None:
    args = ",".join(f"q[{i}]" for i in range(n))
    c = qasm2.loads(HEAD + f"qreg q[{n}];\n{name} {args};")
    assert np.allclose(circuit_unitary(c), _controlled_matrix(target, n - 1), atol=1e-12)


@pytest.mark.parametrize(("name", "n"), [("rccx", 3), ("rc3x", 4)])
def test_relative_phase_toffolis(name: str, n: int) -> None:
    args = ",".join(f"q[{i}]" for i in range(n))
    u = circuit_unitary(qasm2.loads(HEAD + f"qreg q[{n}];\n{name} {args};"))
    x = _controlled_matrix(np.array([[0, 1], [1, 0]]), n - 1)
    assert np.allclose(np.abs(u), x, atol=1e-12)  # X on the target up to relative phases


def test_nested_user_gates_with_parameter_expressions() -> None:
    src = """qreg q[2];
    gate bell a, b { h a; cx a, b; }
    gate twist(theta, phi) a, b { bell a, b; rz(theta*phi - pi/2) b; U(theta, 0, -phi) a; }
    gate outer(x) a, b { twist(x, 2*x) b, a; barrier a, b; twist(-x^2, sin(x)) a, b; }
    outer(0.3) q[0], q[1];
    """
    got = qasm2.loads(HEAD + src)
    x = 0.3
    want = Circuit(2)
    want.h(1).cx(1, 0).rz(x * (2 * x) - math.pi / 2, 0).u(x, 0.0, -(2 * x), 1)
    want.barrier(0, 1)
    want.h(0).cx(0, 1).rz(-(x**2) * math.sin(x) - math.pi / 2, 1).u(-(x**2), 0.0, -math.sin(x), 0)
    assert got == want


def test_user_gate_named_like_a_qvalley_gate_is_native_only_when_exact() -> None:
    exact = """qreg q[2];
    gate rzx(param0) q0,q1 { h q1; cx q0,q1; rz(param0) q1; cx q0,q1; h q1; }
    rzx(0.7) q[0], q[1];
    """
    assert [op.gate for op in _ops(exact)] == [Gate("rzx", (0.7,))]
    wrong = """qreg q[2];
    gate fsim(theta, phi) a, b { rxx(theta) a, b; }
    fsim(0.7, 0.1) q[0], q[1];
    """
    assert [op.gate for op in _ops(wrong)] == [Gate("rxx", (0.7,))]
    swapped_params = """qreg q[2];
    gate cu(g, t, p, l) a, b { cu3(t, p, l) a, b; }
    cu(0, 1, 2, 3) q[0], q[1];
    """
    assert [op.gate.name for op in _ops(swapped_params)] == ["cu"]
    assert _ops(swapped_params)[0].gate.params == (1.0, 2.0, 3.0, 0.0)


def test_extension_gate_may_be_redefined_once() -> None:
    ops = _ops("qreg q[2];\ngate swap a, b { cx a, b; }\nswap q[0], q[1];")
    assert [op.gate for op in ops] == [Gate("cx")]
    with pytest.raises(QasmError, match="already defined"):
        _ops("gate swap a, b { cx a, b; }\ngate swap a, b { cx b, a; }")
    ops = _ops("qreg q[1];\nopaque sx a;\nsx q[0];")
    assert isinstance(ops[0].gate, OpaqueGate)


def test_opaque_reading() -> None:
    ops = _ops("qreg q[3];\nopaque magic(a, b) x, y;\nmagic(0.5, pi) q[2], q[0];\n"
               "gate wrap c, d { magic(1, 2) d, c; }\nwrap q[0], q[1];")
    assert ops == [Operation(OpaqueGate("magic", 2, (0.5, math.pi)), (2, 0)),
                   Operation(OpaqueGate("magic", 2, (1.0, 2.0)), (1, 0))]


def test_broadcast() -> None:
    c = qasm2.loads(HEAD + """qreg q[2]; qreg r[2]; creg c[2];
    h q;
    cx q, r;
    cx q[0], r;
    rx(0.5) r;
    measure q -> c;
    reset r;
    barrier q, r[1], q[0];
    """)
    got = [(op.gate.name, op.qubits, op.clbits) for op in c.operations]
    assert got == [
        ("h", (0,), ()), ("h", (1,), ()),
        ("cx", (0, 2), ()), ("cx", (1, 3), ()),
        ("cx", (0, 2), ()), ("cx", (0, 3), ()),
        ("rx", (2,), ()), ("rx", (3,), ()),
        ("measure", (0,), (0,)), ("measure", (1,), (1,)),
        ("reset", (2,), ()), ("reset", (3,), ()),
        ("barrier", (0, 1, 3), ()),
    ]
    assert c.qregs == (Register("q", 2), Register("r", 2))
    assert c.cregs == (Register("c", 2),)


def test_conditions() -> None:
    c = qasm2.loads(HEAD + """qreg q[2]; creg a[1]; creg b[3];
    gate pair x, y { h x; cx x, y; }
    if (b == 5) x q[0];
    if (a == 1) pair q[1], q[0];
    if (b == 0) measure q[0] -> a[0];
    """)
    cb = Condition((1, 2, 3), 5)
    ca = Condition((0,), 1)
    assert c.operations == [
        Operation(Gate("x"), (0,), (), cb),
        Operation(Gate("h"), (1,), (), ca),
        Operation(Gate("cx"), (1, 0), (), ca),
        Operation(Measure(), (0,), (0,), Condition((1, 2, 3), 0)),
    ]


def test_comments_whitespace_and_optional_header() -> None:
    src = ("// leading comment\r\n/* block\n comment */ qreg q[1]; /**/ U(0, 0, 0) q[0]; // end\n"
           "CX q[0],\n\tq[0];")
    with pytest.raises(QasmError) as err:
        qasm2.loads(src)
    assert (err.value.line, err.value.column, err.value.token) == (5, 2, "q")
    c = qasm2.loads("qreg q[1]; /* no header */ U(pi, 0, pi) q[0];")
    assert c.operations == [Operation(Gate("u", (math.pi, 0.0, math.pi)), (0,))]
    assert qasm2.loads("OPENQASM 2;\nqreg q[1];").num_qubits == 1


def test_repeated_qelib_include_is_harmless() -> None:
    assert qasm2.loads(HEAD + 'include "qelib1.inc";\nqreg q[1];\nh q[0];').gate_counts == {
        "h": 1}


def test_zero_size_registers_and_empty_program() -> None:
    c = qasm2.loads(HEAD + "qreg q[0]; creg c[0]; qreg r[1]; h r;")
    assert c.num_qubits == 1 and c.qregs == (Register("q", 0), Register("r", 1))
    assert qasm2.loads(qasm2.dumps(c)) == c
    assert qasm2.loads("").num_qubits == 0


# ==== expressions ================================================================================
PRECEDENCE_CASES = {
    "-pi^2": -(math.pi**2),
    "-2^2": -4.0,
    "2^3^2": 512.0,
    "2^-1": 0.5,
    "2^-2^2": 2.0 ** -(2.0**2),
    "-2^-2": -0.25,
    "(-2)^2": 4.0,
    "2*-3": -6.0,
    "--2": 2.0,
    "+2": 2.0,
    "1/2/4": 0.125,
    "2-3-4": -5.0,
    "1 + 2*3^2": 19.0,
    "sin(1)^2": math.sin(1) ** 2,
    "-sin(2)^2": -(math.sin(2) ** 2),
    "2*pi^2": 2 * math.pi**2,
    "ln(2) + exp(1) - sqrt(2)/tan(0.3)*cos(0.1)": (math.log(2) + math.exp(1)
                                                  - math.sqrt(2) / math.tan(0.3) * math.cos(0.1)),
    "1e3 + .5 + 5. + 1.e2 + 2.5E-1": 1000 + 0.5 + 5 + 100 + 0.25,
}


@pytest.mark.parametrize("expr", sorted(PRECEDENCE_CASES))
def test_expression_values(expr: str) -> None:
    (op,) = _ops(f"qreg q[1];\nrx({expr}) q[0];")
    assert op.gate.params[0] == pytest.approx(PRECEDENCE_CASES[expr], rel=1e-15, abs=0)


def test_expression_precedence_matches_qiskit() -> None:
    qasm2_qiskit = pytest.importorskip("qiskit.qasm2")
    for expr in PRECEDENCE_CASES:
        text = f"{HEAD}qreg q[1];\nrx({expr}) q[0];"
        theirs = float(qasm2_qiskit.loads(text).data[0].operation.params[0])
        (ours,) = qasm2.loads(text).operations
        assert ours.gate.params[0] == pytest.approx(theirs, rel=1e-15, abs=0), expr


@given(st.recursive(
    st.one_of(st.floats(0, 100, allow_nan=False).map(repr), st.just("pi"), st.just("x")),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from("+-*/^"), inner).map(lambda t: f"{t[0]}{t[1]}{t[2]}"),
        inner.map(lambda s: f"-{s}"),
        inner.map(lambda s: f"({s})"),
        st.tuples(st.sampled_from(["sin", "cos", "sqrt"]), inner).map(
            lambda t: f"{t[0]}({t[1]})")),
    max_leaves=12))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_rendered_expressions_evaluate_identically(text: str) -> None:
    try:
        expr = qasm2.parse_expression(text)
    except QasmError:
        return
    again = qasm2.parse_expression(str(expr))
    env = {"x": 0.731}
    try:
        want = expr.value(env)
    except Exception:  # evaluation failures are tested elsewhere
        return
    got = again.value(env)
    assert _bits(got) == _bits(want) or (math.isnan(got) and math.isnan(want))


# ==== errors =====================================================================================
ERROR_CASES = [
    # (source after HEAD, line, column, token, message fragment)
    ("qreg q[2];\nh r[0];", 4, 3, "r", "undeclared register 'r'"),
    ("qreg q[2];\nh q[2];", 4, 5, "2", "index 2 is out of range for register q[2]"),
    ("qreg q[2];\ncreg q[3];", 4, 6, "q", "already declared at line 3"),
    ("qreg q[2];\nrx(1, 2) q[0];", 4, 1, "rx", "takes 1 parameter, got 2"),
    ("qreg q[2];\ncx q[0];", 4, 1, "cx", "acts on 2 qubits, got 1"),
    ("qreg q[2];\nqreg r[3];\ncx q, r;", 5, 7, "r", "different sizes"),
    ("qreg q[2];\ncx q[1], q[1];", 4, 10, "q", "used twice"),
    ("qreg q[2];\ncx q[0], q;", 4, 10, "q", "used twice"),
    ("qreg q[1];\ncreg c[2];\nif (d == 1) x q[0];", 5, 5, "d", "undeclared register 'd'"),
    ("qreg q[1];\ncreg c[2];\nif (c == 4) x q[0];", 5, 10, "4", "does not fit"),
    ("qreg q[1];\ncreg c[2];\nif (q == 0) x q[0];", 5, 5, "q", "quantum register"),
    ("qreg q[1];\ncreg c[2];\nif (c[0] == 1) x q[0];", 5, 6, "[", "whole classical register"),
    ("qreg q[1];\ncreg c[2];\nif (c == 1) barrier q;", 5, 13, "barrier", "expected a gate call"),
    ("qreg q[1];\nrx(theta) q[0];", 4, 4, "theta", "no free parameters"),
    ("qreg q[1];\nh q[0]", 4, 7, "", "expected ',' or ';', found end of input"),
    ("qreg q[1];\n/* open", 4, 1, "/*", "unterminated comment"),
    ('include "other.inc";', 3, 9, '"other.inc"', "cannot include 'other.inc'"),
    ("gate g a { h b; }", 3, 14, "b", "'b' is not a qubit argument of gate 'g'"),
    ("gate g a { g a; }", 3, 12, "g", "gate 'g' is not defined"),
    ("gate g a { later a; }\ngate later a { h a; }", 3, 12, "later", "not defined"),
    ("gate g(t) a { rx(s) a; }", 3, 18, "s", "'s' is not a parameter of gate 'g'"),
    ("gate h a { x a; }", 3, 6, "h", "already defined"),
    ("gate g a, a { h a; }", 3, 11, "a", "declared twice"),
    ("gate g a, b { cx a, a; }", 3, 21, "a", "used twice"),
    ("gate g a { h a[0]; }", 3, 15, "[", "cannot be indexed"),
    ("gate g a { measure a -> c; }", 3, 12, "measure", "gate call or barrier"),
    ("gate g a { h a;", 3, 16, "", "'}' to close the body of gate 'g'"),
    ("opaque g a;\nopaque g b;", 4, 8, "g", "already defined at line 3"),
    ("qreg q[1];\nrx(1/0) q[0];", 4, 4, "1", "division by zero"),
    ("qreg q[1];\nrx(ln(0)) q[0];", 4, 4, "ln", "math domain error"),
    ("qreg q[1];\nrx(sqrt(-1)) q[0];", 4, 4, "sqrt", "math domain error"),
    ("qreg q[1];\nrx(10^400) q[0];", 4, 4, "10", "overflow"),
    ("qreg q[1];\nrx(1e308*10) q[0];", 4, 4, "1e308", "not a finite number"),
    ("qreg q[1];\nrx((-8)^(1/3)) q[0];", 4, 4, "(", "math domain error"),
    ("qreg q[1];\ngate g(t) a { rx(1/t) a; }\ng(0) q[0];", 5, 1, "g", "body of gate 'g'"),
    ("qreg q[1];\nrx(asin(1)) q[0];", 4, 4, "asin", "unknown function 'asin'"),
    ("qreg q[1];\nrx(sin 1) q[0];", 4, 8, "1", "expected '(' after the function 'sin'"),
    ("qreg q[1];\nrx() q[0];", 4, 1, "rx", "takes 1 parameter, got 0"),
    ("qreg q[1];\nrx(1 +) q[0];", 4, 7, ")", "expected an expression"),
    ("qreg q[1];\nx q[0]; @", 4, 9, "@", "unexpected character '@'"),
    ("qreg q[1];\nOPENQASM 2.0;", 4, 1, "OPENQASM", "must be the first statement"),
    ("qreg q[1];\ncreg c[1];\nmeasure q -> c[0];", 5, 14, "c", "equal size"),
    ("qreg q[1];\nmeasure q[0] -> q[0];", 4, 17, "q", "quantum register; expected a classical"),
    ("qreg q[1];\ncreg c[1];\nh c[0];", 5, 3, "c", "classical register; expected a quantum"),
    ("qreg gate[1];", 3, 6, "gate", "reserved word"),
    ("qreg q[-1];", 3, 8, "-", "expected the register size"),
    ("qreg q[1]\nh q[0];", 4, 1, "h", "expected ';'"),
    ("qreg q[1];\nfoo q[0];", 4, 1, "foo", "gate 'foo' is not defined"),
    ("qreg q[1];\n) q[0];", 4, 1, ")", "expected a statement"),
    ('qreg q[1];\ninclude "qelib1.inc', 4, 9, '"', "unterminated string"),
]


@pytest.mark.parametrize(("src", "line", "col", "token", "fragment"), ERROR_CASES)
def test_errors_are_located(src: str, line: int, col: int, token: str, fragment: str) -> None:
    with pytest.raises(QasmError) as err:
        qasm2.loads(HEAD + src, path="prog.qasm")
    e = err.value
    assert fragment in e.message
    assert (e.line, e.column, e.token) == (line, col, token)
    assert e.path == "prog.qasm"
    assert str(e).startswith(f"prog.qasm:{line}:{col}: error: ")


def test_missing_include_hint_and_version_errors() -> None:
    with pytest.raises(QasmError, match=r'missing include "qelib1.inc"'):
        qasm2.loads("qreg q[1];\nh q[0];")
    for version in ("3.0", "1.0", "2.0e1", "x"):
        with pytest.raises(QasmError) as err:
            qasm2.loads(f"OPENQASM {version};")
        assert (err.value.line, err.value.column) == (1, 10)
    with pytest.raises(QasmError, match=r"unsupported OpenQASM version 3\.0"):
        qasm2.loads("OPENQASM 3.0;")
    assert qasm2.loads("OPENQASM 2.1;").num_qubits == 0


def test_pathological_nesting_is_an_error_not_a_crash() -> None:
    deep = "(" * 5000 + "1" + ")" * 5000
    with pytest.raises(QasmError, match="nested too deeply"):
        qasm2.loads(f"{HEAD}qreg q[1];\nrx({deep}) q[0];")
    with pytest.raises(QasmError, match="nested too deeply"):
        qasm2.loads(f"{HEAD}qreg q[1];\nrx({'-' * 5000}1) q[0];")
    long_chain = "+".join(["1"] * 20000)
    (op,) = qasm2.loads(f"{HEAD}qreg q[1];\nrx({long_chain}) q[0];").operations
    assert op.gate.params == (20000.0,)


def test_deeply_nested_gate_definitions_expand_iteratively() -> None:
    defs = ["gate g0 a { h a; }"] + [f"gate g{i} a {{ g{i - 1} a; }}" for i in range(1, 3000)]
    c = qasm2.loads(HEAD + "\n".join(defs) + "\nqreg q[1];\ng2999 q[0];")
    assert c.operations == [Operation(Gate("h"), (0,))]


def test_expansion_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qasm2, "MAX_OPERATIONS", 1000)
    defs = ["gate d0 a { x a; x a; }"] + [f"gate d{i} a {{ d{i - 1} a; d{i - 1} a; }}"
                                          for i in range(1, 12)]
    with pytest.raises(QasmError, match="more than 1000 operations") as err:
        qasm2.loads(HEAD + "\n".join(defs) + "\nqreg q[1];\nd11 q[0];")
    assert err.value.token == "d11"
    with pytest.raises(QasmError, match="more than 1000 operations"):
        qasm2.loads(HEAD + "qreg q[2000];\nh q;")


def test_non_string_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        qasm2.loads(b"qreg q[1];")  # type: ignore[arg-type]


# ==== writing errors =============================================================================
def test_unitary_gate_cannot_be_written() -> None:
    c = Circuit(1).unitary(np.array([[0, 1], [1, 0]]), [0])
    with pytest.raises(QasmError, match="unitary"):
        qasm2.dumps(c)
    assert qasm2.loads(qasm2.dumps(c.expand())).num_qubits == 1


def test_condition_must_cover_one_whole_register() -> None:
    c = Circuit(1, 2).x(0)
    c.append(Gate("x"), 0, condition=((0,), 1))
    with pytest.raises(QasmError, match="whole classical register"):
        qasm2.dumps(c)
    c2 = Circuit(1, 2)
    c2.append(Gate("x"), 0, condition=((1, 0), 1))  # whole register, but out of order
    with pytest.raises(QasmError, match="whole classical register"):
        qasm2.dumps(c2)


@pytest.mark.parametrize("bad", ["Q", "9q", "gate", "pi", "cx", "sx", "q-1"])
def test_bad_register_names_are_refused(bad: str) -> None:
    with pytest.raises(QasmError, match="register name"):
        qasm2.dumps(Circuit(1, qregs=(Register(bad, 1),)).h(0))


def test_duplicate_register_names_and_opaque_clashes_are_refused() -> None:
    with pytest.raises(QasmError, match="two registers"):
        qasm2.dumps(Circuit(1, 1, qregs=(Register("r", 1),), cregs=(Register("r", 1),)))
    with pytest.raises(QasmError, match="qelib1"):
        qasm2.dumps(Circuit(1).append(OpaqueGate("h", 1), 0))
    with pytest.raises(QasmError, match="clashes"):
        qasm2.dumps(Circuit(2).append(OpaqueGate("fsim", 2), (0, 1)).fsim(0.1, 0.2, 0, 1))
    with pytest.raises(QasmError, match="different signatures"):
        qasm2.dumps(Circuit(2).append(OpaqueGate("m", 1), 0).append(OpaqueGate("m", 2), (0, 1)))
    with pytest.raises(QasmError, match="identifier"):
        qasm2.dumps(Circuit(1).rx(Parameter("Theta"), 0))
    with pytest.raises(QasmError, match="cannot write the expression"):
        from qvalley.circuit.parameter import apply_function
        qasm2.dumps(Circuit(1).rx(apply_function("asin", Parameter("t")), 0))


# ==== Qiskit interoperability ====================================================================
def _qiskit_readers() -> list[tuple[str, Callable[[str], Any]]]:
    q2 = pytest.importorskip("qiskit.qasm2")
    from qiskit import QuantumCircuit

    return [
        ("qasm2.loads", q2.loads),
        ("qasm2.loads legacy",
         lambda t: q2.loads(t, custom_instructions=q2.LEGACY_CUSTOM_INSTRUCTIONS)),
        ("from_qasm_str", QuantumCircuit.from_qasm_str),
    ]


@pytest.mark.peers
@pytest.mark.parametrize("seed", range(4))
def test_our_export_loads_in_qiskit_with_equal_unitary(seed: int) -> None:
    readers = _qiskit_readers()
    from qiskit.quantum_info import Operator

    c = _random_circuit(seed, n=4, depth=25)
    if seed == 0:  # make sure every gate appears at least once
        rng = random.Random(99)
        for name in sorted(GATES):
            spec = GATES[name]
            c.append(Gate(name, [rng.uniform(-3, 3) for _ in range(spec.num_params)]),
                     rng.sample(range(4), spec.num_qubits))
    text = qasm2.dumps(c)
    want = circuit_unitary(c)
    for label, read in readers:
        qc = read(text)
        got = Operator(qc).data
        assert np.allclose(got, want, atol=1e-9), label  # exact: definitions keep their phase


@pytest.mark.peers
def test_our_export_with_measurements_loads_in_qiskit() -> None:
    readers = _qiskit_readers()
    c = Circuit(3, 3, qregs=(Register("q", 1), Register("r", 2)),
                cregs=(Register("c", 1), Register("d", 2)))
    c.h(0).fsim(0.1, 0.2, 1, 2).measure(0, 0).barrier()
    c.append(Gate("iswap"), (0, 2), condition=((1, 2), 3))
    c.append(OpaqueGate("magic", 1, (0.5,)), (1,))
    c.measure(1, 1).reset(2)
    text = qasm2.dumps(c)
    for label, read in readers:
        qc = read(text)
        assert qc.num_qubits == 3 and qc.num_clbits == 3, label
        assert [r.name for r in qc.qregs] == ["q", "r"], label


def _extra_qiskit_gates() -> list[tuple[object, list[int]]]:
    from qiskit.circuit import library as lib

    return [
        (lib.iSwapGate(), [0, 1]), (lib.ECRGate(), [1, 2]), (lib.RZXGate(0.3), [2, 0]),
        (lib.RYYGate(0.2), [0, 3]), (lib.CSGate(), [3, 1]), (lib.CSdgGate(), [1, 2]),
        (lib.CCZGate(), [0, 1, 2]), (lib.XXPlusYYGate(0.3, 0.2), [0, 1]),
        (lib.XXMinusYYGate(0.4, 0.1), [2, 3]), (lib.DCXGate(), [1, 0]),
        (lib.RGate(0.1, 0.2), [3]), (lib.RCCXGate(), [0, 2, 3]), (lib.RC3XGate(), [3, 2, 1, 0]),
        (lib.C3XGate(), [1, 2, 3, 0]), (lib.C3SXGate(), [0, 1, 3, 2]),
        (lib.CUGate(0.1, 0.2, 0.3, 0.4), [2, 1]), (lib.U1Gate(0.3), [0]),
        (lib.U3Gate(0.1, 0.2, 0.3), [1]), (lib.CU1Gate(0.5), [0, 3]),
        (lib.CU3Gate(0.4, 0.5, 0.6), [3, 0]), (lib.SXdgGate(), [2]), (lib.SwapGate(), [1, 3]),
        (lib.CSXGate(), [0, 2]), (lib.RZZGate(0.7), [1, 2]), (lib.RXXGate(0.8), [0, 3]),
        (lib.PhaseGate(0.9), [2]), (lib.UGate(1, 2, 3), [3]), (lib.CSwapGate(), [2, 0, 1]),
    ]


@pytest.mark.peers
@pytest.mark.parametrize("seed", range(4))
def test_qiskit_export_loads_here_with_equal_unitary(seed: int) -> None:
    q2 = pytest.importorskip("qiskit.qasm2")
    from qiskit import QuantumCircuit
    from qiskit.circuit.random import random_circuit
    from qiskit.quantum_info import Operator

    qc = random_circuit(4, 6, max_operands=3, seed=seed)
    if seed == 0:
        extra = QuantumCircuit(4)
        for gate, qubits in _extra_qiskit_gates():
            extra.append(gate, qubits)
        qc = qc.compose(extra)
    text = q2.dumps(qc)
    ours = circuit_unitary(qasm2.loads(text))
    theirs = Operator(QuantumCircuit.from_qasm_str(text)).data
    assert np.allclose(ours, theirs, atol=1e-9)  # same text, same reading
    assert _close_up_to_phase(ours, Operator(qc).data)  # Qiskit's export drops phases


@pytest.mark.peers
def test_qelib_gates_match_qiskit_classes() -> None:
    pytest.importorskip("qiskit")
    from qiskit import QuantumCircuit
    from qiskit.circuit import library as lib
    from qiskit.quantum_info import Operator

    cases = [
        ("rccx", lib.RCCXGate(), [0, 2, 1]), ("rc3x", lib.RC3XGate(), [3, 2, 1, 0]),
        ("c3x", lib.C3XGate(), [1, 2, 3, 0]), ("c3sqrtx", lib.C3SXGate(), [0, 1, 3, 2]),
        ("c4x", lib.C4XGate(), [4, 0, 3, 1, 2]), ("cu", lib.CUGate(0.1, 0.2, 0.3, 0.4), [2, 1]),
        ("cu3", lib.CU3Gate(0.4, 0.5, 0.6), [3, 0]), ("cu1", lib.CU1Gate(0.5), [0, 3]),
        ("u3", lib.U3Gate(0.1, 0.2, 0.3), [1]), ("u2", lib.U2Gate(0.1, 0.2), [1]),
        ("u1", lib.U1Gate(0.3), [0]), ("u", lib.UGate(1, 2, 3), [3]),
        ("p", lib.PhaseGate(0.9), [2]), ("sx", lib.SXGate(), [2]), ("sxdg", lib.SXdgGate(), [2]),
        ("swap", lib.SwapGate(), [1, 3]), ("cswap", lib.CSwapGate(), [2, 0, 1]),
        ("csx", lib.CSXGate(), [0, 2]), ("crx", lib.CRXGate(0.3), [2, 0]),
        ("cry", lib.CRYGate(0.4), [1, 3]), ("crz", lib.CRZGate(0.5), [3, 1]),
        ("cp", lib.CPhaseGate(0.6), [0, 1]), ("rxx", lib.RXXGate(0.8), [0, 3]),
        ("rzz", lib.RZZGate(0.7), [1, 2]), ("ch", lib.CHGate(), [2, 3]),
        ("cy", lib.CYGate(), [3, 2]), ("cz", lib.CZGate(), [1, 0]), ("ccx", lib.CCXGate(), [2, 0, 1]),
        ("rx", lib.RXGate(0.2), [0]), ("ry", lib.RYGate(0.3), [0]), ("rz", lib.RZGate(0.4), [0]),
        ("id", lib.IGate(), [0]), ("u0", lib.IGate(), [1]),
    ]
    for name, gate, qubits in cases:
        n = max(qubits) + 1
        params = [float(p) for p in gate.params] if name != "u0" else [2.5]
        ptext = "(" + ",".join(repr(p) for p in params) + ")" if params else ""
        text = f"{HEAD}qreg q[{n}];\n{name}{ptext} " + ",".join(f"q[{i}]" for i in qubits) + ";"
        qc = QuantumCircuit(n)
        qc.append(gate, qubits)
        ours = circuit_unitary(qasm2.loads(text))
        assert np.allclose(ours, Operator(qc).data, atol=1e-12), name


# ==== fuzzing ====================================================================================
VALID_PROGRAMS = [
    HEAD + "qreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n",
    HEAD + "qreg a[2]; qreg b[2]; creg c[2];\ngate g(t, s) x, y { rz(t*s - pi/2) x; cx x, y; }\n"
    "g(0.1, -2^2) a, b;\nbarrier a, b[0];\nif (c == 3) g(1, 2) b[1], a[0];\nreset a;\n",
    HEAD + "opaque magic(p) a, b;\nqreg q[3];\nmagic(sin(0.5)/2) q[2], q[0];\n"
    "// comment\n/* block */ ccx q[0], q[1], q[2];\nu3(0.1, 0.2, 0.3) q[1];\n",
    qasm2.dumps(_random_circuit(5, n=3, depth=8)),
]
VOCAB = ["OPENQASM", "2.0", "include", '"qelib1.inc"', '"x.inc"', "qreg", "creg", "gate",
         "opaque", "measure", "reset", "barrier", "if", "U", "CX", "h", "cx", "rx", "u3", "q",
         "c", "g", "a", "b", "pi", "sin", "ln", "sqrt", "0", "1", "2", "3", "0.5", "1e3", ".5",
         ";", ",", "(", ")", "[", "]", "{", "}", "->", "==", "+", "-", "*", "/", "^", "//x\n",
         "/*", "*/", '"', "@", "\n"]


def _check_only_qasm_errors(text: str) -> None:
    try:
        c = qasm2.loads(text, path="fuzz.qasm")
    except QasmError as e:
        assert e.path == "fuzz.qasm"
        assert isinstance(e.line, int) and e.line >= 1
        assert isinstance(e.column, int) and e.column >= 1
        assert isinstance(e.token, str)
        assert e.message
    else:
        assert isinstance(c, Circuit)


@given(st.text(max_size=300))
@settings(max_examples=150, deadline=None)
def test_fuzz_random_text(text: str) -> None:
    _check_only_qasm_errors(text)


@given(st.lists(st.sampled_from(VOCAB), max_size=60))
@settings(max_examples=200, deadline=None)
def test_fuzz_token_soup(tokens: list[str]) -> None:
    _check_only_qasm_errors(" ".join(tokens))
    _check_only_qasm_errors(HEAD + "qreg q[2]; creg c[2];\n" + " ".join(tokens))


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_fuzz_mutated_valid_programs(data: st.DataObject) -> None:
    text = data.draw(st.sampled_from(VALID_PROGRAMS))
    _check_only_qasm_errors(text)  # the originals are valid
    qasm2.loads(text)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        how = data.draw(st.sampled_from(["truncate", "delete", "insert", "replace"]))
        if how == "truncate":
            text = text[:i]
        elif how == "delete":
            j = data.draw(st.integers(i, min(len(text), i + 12)))
            text = text[:i] + text[j:]
        elif how == "insert":
            text = text[:i] + " " + data.draw(st.sampled_from(VOCAB)) + " " + text[i:]
        else:
            j = data.draw(st.integers(i, min(len(text), i + 3)))
            text = text[:i] + data.draw(st.text(max_size=3)) + text[j:]
        _check_only_qasm_errors(text)
