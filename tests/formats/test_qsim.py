"""Tests of the qsim circuit text format (``qvalley.formats.qsim``).

Conventions are pinned three ways: against the matrices qsim itself builds (transcribed from
``lib/gates_qsim.h`` as qsim's interleaved re/im arrays), against ``cirq.unitary`` of the Cirq gate
each qsim gate corresponds to, and against qsimcirq simulating that Cirq gate.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qvalley
from qvalley import Circuit, FormatError, Gate, Parameter
from qvalley.circuit import GATES, Barrier, OpaqueGate, UnitaryGate
from qvalley.formats import qsim
from qvalley.testing import circuit_unitary

PI = math.pi
H = 0.5
IS2 = 0.7071067811865475


def _raw(values: list[float]) -> np.ndarray:
    """A qsim matrix from its interleaved (re, im) row-major storage."""
    arr = np.asarray(values, dtype=float)
    z = arr[0::2] + 1j * arr[1::2]
    d = math.isqrt(z.size)
    return z.reshape(d, d)


def _rot(phi: float) -> tuple[float, float]:
    return math.cos(-0.5 * phi), math.sin(-0.5 * phi)


def _rxy(theta: float, phi: float) -> list[float]:
    cp, sp = _rot(phi)
    ct, st_ = math.cos(theta) * sp, math.sin(theta) * sp
    return [cp, 0, st_, ct, -st_, ct, cp, 0]


def _fs(theta: float, phi: float) -> list[float]:
    ct, st_, cp, sp = math.cos(theta), math.sin(theta), math.cos(phi), math.sin(phi)
    return [1, 0, 0, 0, 0, 0, 0, 0,
            0, 0, ct, 0, 0, -st_, 0, 0,
            0, 0, 0, -st_, ct, 0, 0, 0,
            0, 0, 0, 0, 0, 0, cp, -sp]


def _diag4(last: tuple[float, float]) -> list[float]:
    return [1, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 1, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 1, 0, 0, 0,
            0, 0, 0, 0, 0, 0, *last]


# qsim's own matrices (lib/gates_qsim.h): gate name -> (params, interleaved matrix).
TH, PH = 0.83, -1.27
QSIM_RAW: dict[str, tuple[tuple[float, ...], list[float]]] = {
    "id1": ((), [1, 0, 0, 0, 0, 0, 1, 0]),
    "h": ((), [IS2, 0, IS2, 0, IS2, 0, -IS2, 0]),
    "t": ((), [1, 0, 0, 0, 0, 0, IS2, IS2]),
    "x": ((), [0, 0, 1, 0, 1, 0, 0, 0]),
    "y": ((), [0, 0, 0, -1, 0, 1, 0, 0]),
    "z": ((), [1, 0, 0, 0, 0, 0, -1, 0]),
    "x_1_2": ((), [H, H, H, -H, H, -H, H, H]),
    "y_1_2": ((), [H, H, -H, -H, H, H, H, H]),
    "rx": ((PH,), [_rot(PH)[0], 0, 0, _rot(PH)[1], 0, _rot(PH)[1], _rot(PH)[0], 0]),
    "ry": ((PH,), [_rot(PH)[0], 0, _rot(PH)[1], 0, -_rot(PH)[1], 0, _rot(PH)[0], 0]),
    "rz": ((PH,), [_rot(PH)[0], _rot(PH)[1], 0, 0, 0, 0, _rot(PH)[0], -_rot(PH)[1]]),
    "rxy": ((TH, PH), _rxy(TH, PH)),
    "hz_1_2": ((), [H, H, 0, -IS2, IS2, 0, H, H]),
    "s": ((), [1, 0, 0, 0, 0, 0, 0, 1]),
    "id2": ((), _diag4((1, 0))),
    "cz": ((), _diag4((-1, 0))),
    "cnot": ((), [1, 0, 0, 0, 0, 0, 0, 0,
                  0, 0, 0, 0, 0, 0, 1, 0,
                  0, 0, 0, 0, 1, 0, 0, 0,
                  0, 0, 1, 0, 0, 0, 0, 0]),
    "sw": ((), [1, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 1, 0, 0, 0,
                0, 0, 1, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 1, 0]),
    "is": ((), [1, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 1, 0, 0,
                0, 0, 0, 1, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 1, 0]),
    "fs": ((TH, PH), _fs(TH, PH)),
    "cp": ((PH,), _diag4((math.cos(PH), -math.sin(PH)))),
}
QSIM_RAW["cx"] = QSIM_RAW["cnot"]


def _line(name: str, params: tuple[float, ...], nq: int) -> str:
    """A one-gate qsim file applying ``name`` to qubits 0..nq-1 (one qubit for ``p``)."""
    words = [str(q) for q in range(nq)] + [repr(p) for p in params]
    return f"{max(nq, 1)}\n0 {name} {' '.join(words)}\n"


def _same_up_to_phase(a: np.ndarray, b: np.ndarray, atol: float = 1e-9) -> bool:
    k = np.unravel_index(np.argmax(np.abs(a)), a.shape)
    phase = b[k] / a[k]
    return bool(abs(abs(phase) - 1) < atol and np.allclose(a * phase, b, atol=atol))


# ---- gate conventions -----------------------------------------------------------------------


def test_gate_table_covers_qsim_gate_set() -> None:
    assert set(qsim.QSIM_GATES) == set(QSIM_RAW) | {"p"}


@pytest.mark.parametrize("name", sorted(QSIM_RAW))
def test_gate_matrix_equals_qsims_own_matrix(name: str) -> None:
    params, raw = QSIM_RAW[name]
    nq = qsim.QSIM_GATES[name].num_qubits
    c = qsim.loads(_line(name, params, nq))
    assert c.global_phase == 0
    np.testing.assert_allclose(circuit_unitary(c), _raw(raw), atol=1e-12)


def test_asymmetric_gates_follow_the_listed_qubit_order() -> None:
    # cnot 1 0: control 1 (index bit 1), target 0 (bit 0): swaps |10> and |11>.
    u = circuit_unitary(qsim.loads("2\n0 cnot 1 0\n"))
    np.testing.assert_array_equal(u, np.eye(4)[[0, 1, 3, 2]])
    c = qsim.loads("3\n0 cx 2 0\n1 fs 2 1 0.4 0.9\n")
    assert [op.qubits for op in c.operations] == [(2, 0), (2, 1)]


def test_rxy_and_cp_translations() -> None:
    c = qsim.loads("1\n0 rxy 0 0.3 1.1\n")
    assert c.operations[0].gate == Gate("u", (1.1, 0.3 - PI / 2, PI / 2 - 0.3))
    c = qsim.loads("2\n0 cp 0 1 0.7\n")
    assert c.operations[0].gate == Gate("cp", (-0.7,))  # qsim's cp has e^{-iφ}
    c = qsim.loads("2\n0 id2 0 1\n")
    assert [op.name for op in c.operations] == ["id", "id"]


def test_global_phase_gate() -> None:
    c = qsim.loads("1\n0 p 0.5\n1 p 0.25\n")
    assert c.operations == [] and c.global_phase == pytest.approx(0.75)
    np.testing.assert_allclose(circuit_unitary(c), np.exp(0.75j) * np.eye(2), atol=1e-12)


def _cirq_gates() -> dict[str, Callable[..., object]]:
    cirq = pytest.importorskip("cirq")
    return {
        "id1": lambda: cirq.I,
        "h": lambda: cirq.H,
        "t": lambda: cirq.T,
        "x": lambda: cirq.X,
        "y": lambda: cirq.Y,
        "z": lambda: cirq.Z,
        "x_1_2": lambda: cirq.X**0.5,
        "y_1_2": lambda: cirq.Y**0.5,
        "hz_1_2": lambda: cirq.PhasedXPowGate(phase_exponent=0.25, exponent=0.5),
        "rx": lambda p: cirq.rx(p),
        "ry": lambda p: cirq.ry(p),
        "rz": lambda p: cirq.rz(p),
        "rxy": lambda t, p: cirq.PhasedXPowGate(phase_exponent=t / PI, exponent=p / PI,
                                                global_shift=-0.5),
        "s": lambda: cirq.S,
        "id2": lambda: cirq.IdentityGate(2),
        "cz": lambda: cirq.CZ,
        "cnot": lambda: cirq.CNOT,
        "cx": lambda: cirq.CNOT,
        "sw": lambda: cirq.SWAP,
        "is": lambda: cirq.ISWAP,
        "fs": lambda t, p: cirq.FSimGate(t, p),
        "cp": lambda p: cirq.FSimGate(0.0, p),
    }


def _cirq_unitary_le(gate: object, nq: int) -> np.ndarray:
    """``cirq.unitary`` in qvalley's little-endian order (operand 0 = bit 0)."""
    import cirq

    qs = cirq.LineQubit.range(nq)
    return cirq.Circuit(gate.on(*qs)).unitary(qubit_order=qs[::-1])  # type: ignore[attr-defined]


@pytest.mark.peers
@pytest.mark.parametrize("name", sorted(QSIM_RAW))
def test_gate_matrix_equals_cirq(name: str) -> None:
    params, _ = QSIM_RAW[name]
    nq = qsim.QSIM_GATES[name].num_qubits
    gate = _cirq_gates()[name](*params)
    got = circuit_unitary(qsim.loads(_line(name, params, nq)))
    np.testing.assert_allclose(got, _cirq_unitary_le(gate, nq), atol=1e-12)


@pytest.mark.peers
def test_cp_is_cirq_cphase_with_negated_angle() -> None:
    cirq = pytest.importorskip("cirq")
    got = circuit_unitary(qsim.loads("2\n0 cp 0 1 0.6\n"))
    np.testing.assert_allclose(got, _cirq_unitary_le(cirq.CZPowGate(exponent=-0.6 / PI), 2),
                               atol=1e-12)


@pytest.mark.peers
def test_every_gate_against_qsimcirq_simulation() -> None:
    cirq = pytest.importorskip("cirq")
    qsimcirq = pytest.importorskip("qsimcirq")
    sim = qsimcirq.QSimSimulator()
    qs = cirq.LineQubit.range(2)
    prep = "0 rx 0 0.3\n0 rx 1 1.9\n1 ry 0 0.7\n1 ry 1 -0.4\n"
    cirq_prep = [cirq.rx(0.3)(qs[0]), cirq.rx(1.9)(qs[1]), cirq.ry(0.7)(qs[0]),
                 cirq.ry(-0.4)(qs[1])]
    for name, make in _cirq_gates().items():
        params, _ = QSIM_RAW[name]
        nq = qsim.QSIM_GATES[name].num_qubits
        args = " ".join([str(q) for q in range(nq)] + [repr(p) for p in params])
        c = qsim.loads(f"2\n{prep}2 {name} {args}\n")
        circuit = cirq.Circuit(cirq_prep, make(*params).on(*qs[:nq]))
        want = sim.simulate(circuit, qubit_order=qs[::-1]).final_state_vector
        got = qvalley.statevector(c, precision="double")
        np.testing.assert_allclose(got, want, atol=2e-6, err_msg=name)


SYCAMORE_4Q = """\
# A Sycamore-style random circuit: 4 qubits, 3 cycles of √X/√Y/√W and fSim(≈π/2, ≈π/6).
4
0 x_1_2 0
0 y_1_2 1
0 hz_1_2 2
0 x_1_2 3
1 fs 0 1 1.5157741664070026 0.5567125777724111
1 fs 2 3 1.5177580142210796 0.49481085782254924
2 hz_1_2 0
2 x_1_2 1
2 y_1_2 2
2 hz_1_2 3
3 fs 1 2 1.5248701123841428 0.5209607373123007
4 y_1_2 0
4 hz_1_2 1
4 x_1_2 2
4 y_1_2 3
5 rz 0 0.2612
5 fs 2 3 1.5707963267948966 0.5235987755982988
6 x_1_2 0
6 y_1_2 1
6 hz_1_2 2
6 x_1_2 3
"""


def _sycamore_cirq() -> tuple[object, list[object]]:
    cirq = pytest.importorskip("cirq")
    q = cirq.LineQubit.range(4)
    sx, sy = cirq.X**0.5, cirq.Y**0.5
    sw = cirq.PhasedXPowGate(phase_exponent=0.25, exponent=0.5)
    circuit = cirq.Circuit(
        [sx(q[0]), sy(q[1]), sw(q[2]), sx(q[3])],
        [cirq.FSimGate(1.5157741664070026, 0.5567125777724111)(q[0], q[1]),
         cirq.FSimGate(1.5177580142210796, 0.49481085782254924)(q[2], q[3])],
        [sw(q[0]), sx(q[1]), sy(q[2]), sw(q[3])],
        [cirq.FSimGate(1.5248701123841428, 0.5209607373123007)(q[1], q[2])],
        [sy(q[0]), sw(q[1]), sx(q[2]), sy(q[3])],
        [cirq.rz(0.2612)(q[0]), cirq.FSimGate(PI / 2, PI / 6)(q[2], q[3])],
        [sx(q[0]), sy(q[1]), sw(q[2]), sx(q[3])],
    )
    return circuit, q


def test_sycamore_style_file_parses() -> None:
    c = qsim.loads(SYCAMORE_4Q)
    assert c.num_qubits == 4 and c.num_clbits == 0 and c.global_phase == 0
    assert c.gate_counts == {"sx": 6, "sy": 5, "sw": 5, "fsim": 4, "rz": 1}
    assert c.depth() == 7


@pytest.mark.peers
def test_sycamore_style_statevector_matches_qsimcirq_and_cirq() -> None:
    cirq = pytest.importorskip("cirq")
    qsimcirq = pytest.importorskip("qsimcirq")
    circuit, q = _sycamore_cirq()
    order = q[::-1]  # big-endian over reversed qubits = qvalley's little-endian
    got = qvalley.statevector(qsim.loads(SYCAMORE_4Q), precision="double")
    exact = cirq.Simulator(dtype=np.complex128).simulate(circuit, qubit_order=order)
    np.testing.assert_allclose(got, exact.final_state_vector, atol=1e-12)
    fast = qsimcirq.QSimSimulator().simulate(circuit, qubit_order=order)
    np.testing.assert_allclose(got, fast.final_state_vector, atol=2e-6)


# ---- controlled gates -----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "name", "params", "qubits"), [
    ("0 c 0 x 1", "cx", (), (0, 1)),
    ("0 c 2 y 0", "cy", (), (2, 0)),
    ("0 c 0 z 1", "cz", (), (0, 1)),
    ("0 c 0 h 2", "ch", (), (0, 2)),
    ("0 c 1 s 0", "cs", (), (1, 0)),
    ("0 c 1 t 0", "cp", (PI / 4,), (1, 0)),
    ("0 c 0 x_1_2 1", "csx", (), (0, 1)),
    ("0 c 0 rx 1 0.5", "crx", (0.5,), (0, 1)),
    ("0 c 0 ry 1 0.5", "cry", (0.5,), (0, 1)),
    ("0 c 0 rz 1 0.5", "crz", (0.5,), (0, 1)),
    ("0 c 0 sw 1 2", "cswap", (), (0, 1, 2)),
    ("0 c 0 1 x 2", "ccx", (), (0, 1, 2)),
    ("0 c 2 1 z 0", "ccz", (), (2, 1, 0)),
    ("0 c 0 cnot 1 2", "ccx", (), (0, 1, 2)),
    ("0 c 0 cz 1 2", "ccz", (), (0, 1, 2)),
    ("0 c 1 p 0.5", "p", (0.5,), (1,)),
    ("0 c 1 0 p 0.5", "cp", (0.5,), (1, 0)),
])
def test_controlled_lines_become_named_gates(
    text: str, name: str, params: tuple[float, ...], qubits: tuple[int, ...],
) -> None:
    c = qsim.loads(f"3\n{text}\n")
    assert len(c.operations) == 1
    op = c.operations[0]
    assert op.gate == Gate(name, params) and op.qubits == qubits


def _controlled_le(target: np.ndarray, nctrl: int) -> np.ndarray:
    du, dc = target.shape[0], 1 << nctrl
    m = np.eye(du * dc, dtype=complex)
    idx = [dc - 1 + dc * k for k in range(du)]
    m[np.ix_(idx, idx)] = target
    return m


@pytest.mark.parametrize("text", [
    "0 c 0 fs 1 2 0.4 1.2", "0 c 0 1 rxy 2 0.3 0.8", "0 c 2 cp 0 1 0.9", "0 c 0 1 2 x 3",
    "0 c 0 is 1 2", "0 c 3 hz_1_2 1", "0 c 2 rxy 1 0.3 0.8", "0 c 0 1 2 p -0.3",
    "0 c 1 id2 0 3", "0 c 0 y_1_2 1",
])
def test_controlled_lines_are_exact(text: str) -> None:
    c = qsim.loads(f"4\n{text}\n")
    body = text.split()
    k = body.index(next(t for t in body[2:] if not t.isdigit()))
    controls = [int(t) for t in body[2:k]]
    name = body[k]
    spec = qsim.QSIM_GATES[name]
    targets = [int(t) for t in body[k + 1:k + 1 + spec.num_qubits]]
    params = tuple(float(t) for t in body[k + 1 + spec.num_qubits:])
    target_u = circuit_unitary(qsim.loads(_line(name, params, spec.num_qubits)))
    if spec.num_qubits == 0:
        target_u = target_u[:1, :1]
    small = _controlled_le(target_u, len(controls))
    # the same gate built directly on controls + targets of a 4-qubit register
    want = circuit_unitary(Circuit(4).unitary(small, controls + targets))
    np.testing.assert_allclose(circuit_unitary(c), want, atol=1e-12)


@pytest.mark.peers
def test_controlled_fsim_matches_cirq() -> None:
    cirq = pytest.importorskip("cirq")
    c = qsim.loads("3\n0 c 0 fs 1 2 0.4 1.2\n")
    assert isinstance(c.operations[0].gate, UnitaryGate)
    want = _cirq_unitary_le(cirq.FSimGate(0.4, 1.2).controlled(1), 3)
    np.testing.assert_allclose(circuit_unitary(c), want, atol=1e-12)


def test_controlled_gate_too_wide_for_a_unitary() -> None:
    controls = " ".join(str(q) for q in range(9))
    with pytest.raises(FormatError, match="at most 8 qubits") as err:
        qsim.loads(f"11\n0 c {controls} fs 9 10 1 1\n")
    assert err.value.line == 2 and err.value.column == 3


# ---- times, measurement, structure ----------------------------------------------------------


def test_comments_blank_lines_crlf_and_bom() -> None:
    text = "\ufeff# header\r\n\r\n3\r\n# a comment\r\n0 h 0\r\n  \t \r\n1 cnot 0 1\r\n"
    c = qsim.loads(text)
    assert [op.name for op in c.operations] == ["h", "cx"]
    assert qsim.loads("2\n0\th\t1") == Circuit(2).h(1)


def test_operations_are_ordered_by_time_stably() -> None:
    c = qsim.loads("3\n2 x 0\n0 h 0\n1 h 2\n1 cz 0 1\n0 y 2\n")
    assert [(op.name, op.qubits) for op in c.operations] == [
        ("h", (0,)), ("y", (2,)), ("h", (2,)), ("cz", (0, 1)), ("x", (0,))]


def test_qubit_used_twice_at_one_time_is_an_error() -> None:
    with pytest.raises(FormatError) as err:
        qsim.loads("3\n0 h 0\n0 cz 1 2\n1 x 1\n0 c 2 x 0\n")
    e = err.value
    assert (e.line, e.column, e.token) == (5, 5, "2")
    assert "already used at time 0 (line 3)" in e.message


def test_measurement_clbits() -> None:
    c = qsim.loads("3\n0 h 0\n1 m 2 0\n2 x 0\n3 m 0\n")
    assert c.num_clbits == 3
    ms = [(op.qubits, op.clbits) for op in c.operations if op.name == "measure"]
    assert ms == [((2,), (2,)), ((0,), (0,)), ((0,), (0,))]
    assert qsim.loads("2\n0 h 0\n").num_clbits == 0


def test_measured_state_samples_like_the_file_says() -> None:
    c = qsim.loads("2\n0 x 1\n1 m 0 1\n")
    assert qvalley.sample(c, shots=20, seed=3) == {"10": 20}


# ---- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "line", "column", "token", "message"), [
    ("", 1, 1, None, "expected the number of qubits"),
    ("# only a comment\n", 2, 1, None, "expected the number of qubits"),
    ("0\n", 1, 1, "0", "must be positive"),
    ("-3\n", 1, 1, "-3", "must be positive"),
    ("four\n", 1, 1, "four", "number of qubits"),
    ("2.5\n", 1, 1, "2.5", "number of qubits"),
    ("4 0 h 0\n", 1, 3, "0", "after the number of qubits"),
    ("99999999999\n", 1, 1, "99999999999", "more than qvalley accepts"),
    ("2\n0 hadamard 0\n", 2, 3, "hadamard", "unknown gate 'hadamard'"),
    ("2\n0 H 0\n", 2, 3, "H", "unknown gate"),
    ("2\n0 h 2\n", 2, 5, "2", "out of range for a 2-qubit circuit"),
    ("2\n0 h\n", 2, 4, None, "expected a qubit index"),
    ("2\n0 h 0 1\n", 2, 7, "1", "unexpected token '1'"),
    ("2\n0 cz 0\n", 2, 7, None, "time cz qubit1 qubit2"),
    ("2\n0 cz 1 1\n", 2, 8, "1", "appears twice"),
    ("2\n0 rx 0\n", 2, 7, None, "expected parameter 'phi'"),
    ("2\n0 fs 0 1 0.5\n", 2, 13, None, "expected parameter 'phi'"),
    ("2\n0 rx 0 0.5 0.5\n", 2, 12, "0.5", "unexpected token"),
    ("2\n0 rx 0 pi/2\n", 2, 8, "pi/2", "expected a number"),
    ("2\n0 rx 0 nan\n", 2, 8, "nan", "expected a number"),
    ("2\n0 rx 0 1e400\n", 2, 8, "1e400", "out of range"),
    ("2\n0 rx 0 1_0\n", 2, 8, "1_0", "expected a number"),
    ("2\n0 h x\n", 2, 5, "x", "expected a qubit index"),
    ("2\n0 h -1\n", 2, 5, "-1", "must not be negative"),
    ("2\n0 h ٣\n", 2, 5, "٣", "expected a qubit index"),
    ("2\n-1 h 0\n", 2, 1, "-1", "must not be negative"),
    ("2\n1.5 h 0\n", 2, 1, "1.5", "expected the time"),
    ("2\nh 0\n", 2, 1, "h", "expected the time"),
    ("2\n0\n", 2, 2, None, "expected a gate name"),
    ("2\n123456789012345678901 h 0\n", 2, 1, "123456789012345678901", "too large"),
    ("2\n0 h 0 # note\n", 2, 7, "#", "unexpected token '#'"),
    ("2\n0 m\n", 2, 4, None, "expected a qubit index"),
    ("2\n0 m 0 x\n", 2, 7, "x", "expected a qubit index"),
    ("2\n0 m 1 1\n", 2, 7, "1", "appears twice"),
    ("2\n0 c x 1\n", 2, 5, "x", "at least one control"),
    ("2\n0 c 0\n", 2, 6, None, "name of the controlled gate"),
    ("2\n0 c 0 m 1\n", 2, 7, "m", "cannot be controlled"),
    ("2\n0 c 0 c 1 x 1\n", 2, 7, "c", "cannot be controlled"),
    ("2\n0 c 0 x 0\n", 2, 9, "0", "both a control and a target"),
    ("2\n0 c 0 0 x 1\n", 2, 7, "0", "appears twice"),
    ("2\n0 c 0 foo 1\n", 2, 7, "foo", "unknown gate"),
    ("2\n0 h 0\n0 x 0\n", 3, 5, "0", "already used at time 0 (line 2)"),
])
def test_errors_point_at_line_column_and_token(
    text: str, line: int, column: int, token: str | None, message: str,
) -> None:
    with pytest.raises(FormatError) as err:
        qsim.loads(text, path="circ.qsim")
    e = err.value
    assert (e.line, e.column, e.token) == (line, column, token), str(e)
    assert message in e.message
    assert e.path == "circ.qsim" and str(e).startswith(f"circ.qsim:{line}:{column}: error: ")


def test_non_string_input() -> None:
    with pytest.raises(FormatError, match="must be a str"):
        qsim.loads(b"1\n0 h 0\n")  # type: ignore[arg-type]


TOKENS = ["0", "1", "2", "3", "7", "-1", "00", "1.5", "-0.25", "1e3", "1e999", "nan", "x",
          "h", "t", "s", "y", "z", "x_1_2", "y_1_2", "hz_1_2", "rx", "ry", "rz", "rxy", "id1",
          "id2", "cz", "cx", "cnot", "sw", "is", "fs", "cp", "p", "m", "c", "#", "foo", "+3",
          ".", "99999999999999999999999", "\t", "\r", "١"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(TOKENS), max_size=8), min_size=0, max_size=8),
       st.sampled_from(["1", "3", "4", "0", ""]))
def test_random_token_lines_raise_only_format_error(lines: list[list[str]], head: str) -> None:
    text = head + "\n" + "\n".join(" ".join(toks) for toks in lines)
    try:
        c = qsim.loads(text)
    except FormatError as e:
        assert e.line is not None
        return
    assert isinstance(c, Circuit)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789 .-+eE\n\r\t#cmpxyzhfsi_ä\x00")),
               max_size=120))
def test_random_text_raises_only_format_error(text: str) -> None:
    with contextlib.suppress(FormatError):
        qsim.loads(text)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(SYCAMORE_4Q)), st.integers(0, len(SYCAMORE_4Q)),
       st.sampled_from(["", " ", "x", "9", "-", "\n", "0", "."]))
def test_truncated_or_mutated_file_raises_only_format_error(cut: int, at: int, ins: str) -> None:
    for text in (SYCAMORE_4Q[:cut], SYCAMORE_4Q[:at] + ins + SYCAMORE_4Q[at + 1:]):
        try:
            qsim.loads(text)
        except FormatError as e:
            assert e.line is not None


# ---- writing --------------------------------------------------------------------------------


def test_dumps_assigns_times_in_circuit_order_and_merges_measurements() -> None:
    c = (Circuit(3, 3).h(0).h(1).cx(0, 1).x(2).fsim(0.5, 0.25, 1, 2).measure(0, 0)
         .measure(2, 2).measure(1, 1))
    assert qsim.dumps(c) == (
        "3\n0 h 0\n0 h 1\n1 cnot 0 1\n1 x 2\n2 fs 1 2 0.5 0.25\n2 m 0\n3 m 2 1\n")
    # measurements are merged only when nothing lies between them
    c = Circuit(2, 2).h(0).measure(0, 0).h(1).measure(1, 1)
    assert qsim.dumps(c) == "2\n0 h 0\n1 m 0\n1 h 1\n2 m 1\n"
    assert qsim.dumps(Circuit(3).measure_all()) == "3\n0 m 0 1 2\n"


def test_dumps_writes_every_native_gate_by_its_qsim_name() -> None:
    c = (Circuit(3).id(0).h(0).t(0).x(0).y(0).z(0).s(0).sx(0).sy(0).sw(0).rx(0.1, 0)
         .ry(0.2, 0).rz(0.3, 0).cz(0, 1).cx(1, 0).swap(0, 2).iswap(1, 2).fsim(0.4, 0.5, 0, 1)
         .cp(0.6, 1, 2).cy(0, 1).ch(1, 2).ccx(0, 1, 2).cswap(0, 1, 2)
         .crx(0.7, 0, 1).cry(0.8, 1, 0).crz(0.9, 2, 0))
    c.append("cs", (0, 1)).append("csx", (1, 2)).append("ccz", (2, 1, 0))
    names = [line.split()[1:] for line in qsim.dumps(c).splitlines()[1:]]
    assert names == [
        ["id1", "0"], ["h", "0"], ["t", "0"], ["x", "0"], ["y", "0"], ["z", "0"], ["s", "0"],
        ["x_1_2", "0"], ["y_1_2", "0"], ["hz_1_2", "0"], ["rx", "0", "0.1"],
        ["ry", "0", "0.2"], ["rz", "0", "0.3"], ["cz", "0", "1"], ["cnot", "1", "0"],
        ["sw", "0", "2"], ["is", "1", "2"], ["fs", "0", "1", "0.4", "0.5"],
        ["cp", "1", "2", "-0.6"], ["c", "0", "y", "1"], ["c", "1", "h", "2"],
        ["c", "0", "1", "x", "2"], ["c", "0", "sw", "1", "2"],
        ["c", "0", "rx", "1", "0.7"], ["c", "1", "ry", "0", "0.8"], ["c", "2", "rz", "0", "0.9"],
        ["c", "0", "s", "1"], ["c", "1", "x_1_2", "2"], ["c", "2", "1", "z", "0"],
    ]
    assert qsim.loads(qsim.dumps(c)) == c


def test_dumps_floats_round_trip_exactly() -> None:
    vals = [PI / 2, 1e-300, -2.5e17, 0.1 + 0.2, -0.0]
    c = Circuit(1)
    for v in vals:
        c.rz(v, 0)
    text = qsim.dumps(c)
    assert "-0.0" not in text
    assert [op.gate.params[0] for op in qsim.loads(text).operations] == vals


def test_dumps_lowers_other_gates_exactly_up_to_phase() -> None:
    c = Circuit(3).sdg(0).tdg(1).p(0.3, 2).u(0.4, 0.5, 0.6, 0).rzz(0.7, 0, 1)
    c.append("ecr", (1, 2)).append("cu", (0, 2), params=(0.1, 0.2, 0.3, 0.4))
    c.unitary(np.array([[0, 1j], [1j, 0]]), [1])
    c.global_phase = 0.9
    back = qsim.loads(qsim.dumps(c))
    assert back.global_phase == 0
    assert _same_up_to_phase(circuit_unitary(c), circuit_unitary(back))


def test_u_is_written_as_rz_then_rxy() -> None:
    assert qsim.dumps(Circuit(1).u(0.4, 0.5, 0.6, 0)) == (
        f"1\n0 rz 0 {0.5 + 0.6!r}\n1 rxy 0 {0.5 + PI / 2!r} 0.4\n")
    assert qsim.dumps(Circuit(1).u(0.0, 0.0, 0.0, 0)) == "1\n0 id1 0\n"


def test_portable_output_uses_only_documented_gates() -> None:
    documented = {"id1", "h", "t", "x", "y", "z", "x_1_2", "y_1_2", "rx", "ry", "rz", "rxy",
                  "hz_1_2", "s", "id2", "cz", "cnot", "is", "fs", "cp", "m"}
    c = Circuit(3).ccx(0, 1, 2).swap(0, 1).ch(1, 2).cry(0.3, 2, 0).iswap(0, 2).measure_all()
    text = qsim.dumps(c, portable=True)
    assert {line.split()[1] for line in text.splitlines()[1:]} <= documented
    unitary = c.copy()
    unitary.operations = [op for op in c.operations if op.name != "measure"]
    back = qsim.loads(text)
    back.operations = [op for op in back.operations if op.name != "measure"]
    assert _same_up_to_phase(circuit_unitary(unitary), circuit_unitary(back))


def test_barriers_align_times() -> None:
    c = Circuit(2).h(0).x(0).barrier(0, 1).h(1)
    assert qsim.dumps(c) == "2\n0 h 0\n1 x 0\n2 h 1\n"
    # a gate never gets an earlier time than the line above it: the file keeps circuit order
    assert qsim.dumps(Circuit(2).h(0).x(0).h(1)) == "2\n0 h 0\n1 x 0\n1 h 1\n"
    assert qsim.dumps(Circuit(2).h(0).h(1).x(0)) == "2\n0 h 0\n0 h 1\n1 x 0\n"
    assert qsim.dumps(Circuit(1).append(Barrier(0), ()).x(0)) == "1\n0 x 0\n"


@pytest.mark.parametrize(("circuit", "message"), [
    (Circuit(0), "at least one qubit"),
    (Circuit(1).rx(Parameter("theta"), 0), "unbound parameters (theta)"),
    (Circuit(2, 2).measure(0, 1), "classical bit 1"),
    (Circuit(1, 1).measure(0, 0).append("x", 0, condition=([0], 1)), "classical condition"),
    (Circuit(1).reset(0), "cannot be written"),
    (Circuit(2).append(OpaqueGate("magic", 2), (0, 1)), "cannot be written"),
    (Circuit(2).unitary(np.eye(4), [0, 1]), "2-qubit unitary"),
])
def test_dumps_errors(circuit: Circuit, message: str) -> None:
    with pytest.raises(FormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        qsim.dumps(circuit)


def test_bound_parameters_are_written() -> None:
    theta = Parameter("theta")
    c = Circuit(1).rx(theta * 2, 0).bind({theta: 0.25})
    assert qsim.dumps(c) == "1\n0 rx 0 0.5\n"


@pytest.mark.parametrize("name", sorted(GATES))
def test_every_library_gate_can_be_written(name: str) -> None:
    spec = GATES[name]
    params = [0.3 + 0.4 * i for i in range(spec.num_params)]
    c = Circuit(3).append(Gate(name, params), tuple(range(spec.num_qubits)))
    for portable in (False, True):
        back = qsim.loads(qsim.dumps(c, portable=portable))
        assert _same_up_to_phase(circuit_unitary(c), circuit_unitary(back)), (name, portable)


# ---- round trips ----------------------------------------------------------------------------

NATIVE = {  # qvalley gates with an exact qsim spelling: name -> number of parameters
    "id": 0, "h": 0, "t": 0, "x": 0, "y": 0, "z": 0, "s": 0, "sx": 0, "sy": 0, "sw": 0,
    "rx": 1, "ry": 1, "rz": 1, "cz": 0, "cx": 0, "swap": 0, "iswap": 0, "fsim": 2, "cp": 1,
    "cy": 0, "ch": 0, "cs": 0, "csx": 0, "crx": 1, "cry": 1, "crz": 1, "cswap": 0, "ccx": 0,
    "ccz": 0,
}


@st.composite
def native_circuits(draw: st.DrawFn) -> Circuit:
    n = draw(st.integers(1, 4))
    angle = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
    names = [nm for nm in sorted(NATIVE) if GATES[nm].num_qubits <= n]
    ops: list[tuple[str, list[float], tuple[int, ...]]] = []
    for _ in range(draw(st.integers(0, 14))):
        if draw(st.integers(0, 5)) == 0:
            q = draw(st.integers(0, n - 1))
            ops.append(("measure", [], (q,)))
            continue
        name = draw(st.sampled_from(names))
        qubits = tuple(draw(st.permutations(range(n)))[: GATES[name].num_qubits])
        ops.append((name, [draw(angle) for _ in range(NATIVE[name])], qubits))
    measured = any(name == "measure" for name, _, _ in ops)
    c = Circuit(n, n if measured else 0)
    for name, params, qubits in ops:
        if name == "measure":
            c.measure(qubits[0], qubits[0])
        else:
            c.append(Gate(name, params), qubits)
    return c


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(native_circuits())
def test_round_trip_of_native_circuits(c: Circuit) -> None:
    text = qsim.dumps(c)
    back = qsim.loads(text)
    assert back == c
    assert qsim.dumps(back) == text
    times = [int(line.split()[0]) for line in text.splitlines()[1:]]
    assert times == sorted(times)


def test_round_trip_is_exact_in_time_order() -> None:
    c = (Circuit(4, 4).sx(0).sy(1).sw(2).h(3).fsim(1.2, 0.5, 0, 1).cp(0.3, 2, 3)
         .rz(-0.7, 1).ccx(0, 2, 3).iswap(1, 2).measure(0, 0).measure(3, 3))
    assert qsim.loads(qsim.dumps(c)) == c


def test_sycamore_file_round_trips() -> None:
    c = qsim.loads(SYCAMORE_4Q)
    text = qsim.dumps(c)
    assert qsim.loads(text) == c
    # The times are recomputed (qvalley keeps no moments), the gate lines are the file's own.
    lines = [ln for ln in SYCAMORE_4Q.splitlines()[2:]]
    assert sorted(ln.split(" ", 1)[1] for ln in text.splitlines()[1:]) == sorted(
        ln.split(" ", 1)[1] for ln in lines)


def test_dispatcher_and_files(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    c = qvalley.loads(SYCAMORE_4Q, format="qsim")
    assert c == qsim.loads(SYCAMORE_4Q)
    target = tmp_path / "circ.qsim"
    qvalley.dump(c, target)
    assert qvalley.load(target) == c
    bad = tmp_path / "bad.qsim"
    bad.write_text("2\n0 h 0\n0 foo 1\n")
    with pytest.raises(FormatError) as err:
        qvalley.load(bad)
    assert err.value.path == str(bad) and err.value.line == 3 and err.value.token == "foo"
