"""Circuits are values: equality, repr, JSON, inverse, composition, depth, drawing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qvalley
from qvalley import Circuit, CircuitError, Gate, Parameter
from qvalley.circuit import GATES, Barrier, Condition, Measure, Operation, Register, Reset
from qvalley.circuit.parameter import ParameterExpression
from qvalley.testing import circuit_unitary


def random_circuit(n: int, depth: int, rng: np.random.Generator, measure: bool = False) -> Circuit:
    names = [k for k, s in GATES.items() if s.num_qubits <= n]
    c = Circuit(n, n if measure else 0)
    for _ in range(depth):
        name = names[rng.integers(len(names))]
        spec = GATES[name]
        qs = [int(q) for q in rng.choice(n, spec.num_qubits, replace=False)]
        c.append(Gate(name, rng.uniform(-4, 4, spec.num_params)), qs)
    if measure:
        for q in range(n):
            c.measure(q, q)
    return c


@st.composite
def circuits(draw: st.DrawFn) -> Circuit:
    n = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    c = random_circuit(n, draw(st.integers(0, 12)), np.random.default_rng(seed))
    if draw(st.booleans()):
        c = Circuit(n, 2, list(c.operations), global_phase=0.25)
        c.measure(0, 1).reset(0).barrier()
        c.append(Gate("x"), 0, condition=((0, 1), 2))
    return c


@settings(max_examples=60, deadline=None)
@given(circuits())
def test_json_round_trip_is_exact(c: Circuit) -> None:
    assert Circuit.from_json(c.to_json()) == c


@settings(max_examples=40, deadline=None)
@given(circuits())
def test_repr_evaluates_back(c: Circuit) -> None:
    ns = {"Circuit": Circuit, "Operation": Operation, "Gate": Gate, "Measure": Measure,
          "Reset": Reset, "Barrier": Barrier, "Condition": Condition, "Register": Register,
          "Parameter": Parameter, "ParameterExpression": ParameterExpression, "np": np,
          "array": np.array}
    assert eval(repr(c), ns) == c


def test_inverse_undoes_the_circuit() -> None:
    rng = np.random.default_rng()
    c = random_circuit(3, 25, rng)
    c.global_phase = 0.3
    u = circuit_unitary(c.compose(c.inverse()))
    assert np.allclose(u, np.eye(8), atol=1e-10)
    with pytest.raises(CircuitError, match="cannot invert"):
        Circuit(1, 1).measure(0, 0).inverse()


def test_expand_preserves_unitary_and_phase() -> None:
    c = random_circuit(3, 20, np.random.default_rng())
    lowered = c.expand()
    assert {op.name for op in lowered} <= {"u", "cx"}
    assert np.allclose(circuit_unitary(lowered), circuit_unitary(c), atol=1e-10)


def test_compose_maps_qubits() -> None:
    bell = Circuit(2).h(0).cx(0, 1)
    big = Circuit(3).compose(bell, qubits=[2, 0])
    assert [op.qubits for op in big] == [(2,), (2, 0)]
    assert (Circuit(2).x(0) + bell).gate_counts == {"x": 1, "h": 1, "cx": 1}


def test_depth_and_counts() -> None:
    c = Circuit(3, 1).h(0).h(1).cx(0, 1).barrier().x(2).measure(2, 0)
    assert c.depth() == 4  # the barrier aligns q2 with the cx layer
    assert Circuit(3, 1).h(0).h(1).cx(0, 1).x(2).measure(2, 0).depth() == 2
    assert c.gate_counts == {"h": 2, "cx": 1, "barrier": 1, "x": 1, "measure": 1}
    cond = Circuit(2, 1).measure(0, 0)
    cond.append(Gate("x"), 1, condition=((0,), 1))
    assert cond.depth() == 2


def test_bad_construction_names_the_problem() -> None:
    with pytest.raises(CircuitError, match="qubit 5 out of range"):
        Circuit(2).cx(0, 5)
    with pytest.raises(CircuitError, match="repeated qubit"):
        Circuit(2).cx(1, 1)
    with pytest.raises(CircuitError, match="classical bit 3"):
        Circuit(2, 1).measure(0, 3)
    with pytest.raises(CircuitError, match="does not fit"):
        Circuit(1, 1).append(Gate("x"), 0, condition=((0,), 2))
    with pytest.raises(CircuitError, match="malformed circuit JSON"):
        Circuit.from_json("{")


def test_parameters_bind_by_object_or_name() -> None:
    a, b = Parameter("a"), Parameter("b")
    c = Circuit(1).rx(2 * a, 0).rz(a + b, 0)
    assert c.parameters == {a, b}
    bound = c.bind({a: 0.5, "b": 0.25})
    assert not bound.parameters
    assert bound.operations[0].gate == Gate("rx", (1.0,))
    assert bound.operations[1].gate.params[0] == pytest.approx(0.75)
    with pytest.raises(qvalley.SimulationError, match="unbound"):
        qvalley.statevector(c)


def test_drawing_shows_every_wire_and_gate() -> None:
    c = Circuit(3, 1).h(0).cx(0, 2).rz(0.5, 1).measure(2, 0)
    text = str(c)
    lines = text.splitlines()
    assert lines[0].startswith("Circuit(3 qubits")
    assert lines[1].startswith("q0:") and "H" in lines[1] and "●" in lines[1]
    assert "│" in lines[2] and "RZ(0.5)" in lines[2]
    assert "X" in lines[3] and "M→c0" in lines[3]


def test_observable_matrix_matches_kron() -> None:
    obs = qvalley.Observable.from_list([("XZ", 0.5), ("YI", -1.0)])
    x = np.array([[0, 1], [1, 0]])
    z = np.diag([1, -1])
    y = np.array([[0, -1j], [1j, 0]])
    expect = 0.5 * np.kron(x, z) - np.kron(y, np.eye(2))
    assert np.allclose(obs.to_matrix(), expect)
    assert math.isclose(abs(obs.terms[0].coeff), 0.5)
