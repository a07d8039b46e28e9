"""The fast engine equals the numpy reference and independent simulators (Qiskit, Cirq)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import qvalley
from qvalley import Circuit, Gate, Observable, SimulationError, SimulationLimitError
from qvalley.circuit import GATES
from qvalley.sim import get_simulator


def random_circuit(n: int, depth: int, rng: np.random.Generator) -> Circuit:
    names = [k for k, s in GATES.items() if s.num_qubits <= n]
    c = Circuit(n)
    for _ in range(depth):
        name = names[rng.integers(len(names))]
        spec = GATES[name]
        qs = [int(q) for q in rng.choice(n, spec.num_qubits, replace=False)]
        c.append(Gate(name, rng.uniform(-4, 4, spec.num_params)), qs)
    return c


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 11, 14])
def test_fast_equals_reference_on_random_circuits(n: int) -> None:
    rng = np.random.default_rng()  # fresh seed each run
    c = random_circuit(n, 12 * n, rng)
    c.global_phase = float(rng.uniform(0, 6))
    ref = qvalley.statevector(c, precision="double", engine="reference")
    assert np.allclose(qvalley.statevector(c, precision="double"), ref, atol=1e-10)
    single = qvalley.statevector(c, precision="single")
    assert single.dtype == np.complex64
    assert np.allclose(single, ref, atol=2e-5)


@pytest.mark.parametrize("name", sorted(GATES))
def test_every_gate_at_every_position(name: str) -> None:
    rng = np.random.default_rng()
    spec = GATES[name]
    n = 6
    prep = random_circuit(n, 30, rng)  # a generic state so every amplitude matters
    for first in range(n):
        qs = [first] + [int(q) for q in rng.choice([q for q in range(n) if q != first],
                                                    spec.num_qubits - 1, replace=False)]
        c = prep.copy().append(Gate(name, rng.uniform(-4, 4, spec.num_params)), qs)
        ref = qvalley.statevector(c, precision="double", engine="reference")
        assert np.allclose(qvalley.statevector(c, precision="double"), ref, atol=1e-10), qs


def test_tiled_and_untiled_paths_agree_on_a_wide_circuit() -> None:
    rng = np.random.default_rng()
    c = random_circuit(18, 120, rng)
    ref = get_simulator(precision="double", engine="reference").statevector(c)
    for tiling in (True, False):
        from qvalley.sim.statevector.engine import StatevectorSimulator
        from qvalley.sim.statevector.fast import FastBackend

        sim = StatevectorSimulator(FastBackend("double", tiling=tiling))
        assert np.allclose(sim.statevector(c), ref, atol=1e-10)


def test_bell_state_bit_order_is_little_endian() -> None:
    sv = qvalley.statevector(Circuit(3).x(0), precision="double")
    assert sv[1] == 1  # qubit 0 set -> index 1
    counts = qvalley.sample(Circuit(3).x(0), shots=10, seed=0)
    assert counts == {"001": 10}  # qubit 0 is the rightmost character


def test_sampling_matches_probabilities() -> None:
    rng = np.random.default_rng()
    c = random_circuit(4, 30, rng)
    p = qvalley.probabilities(c, precision="double")
    shots = 40000
    counts = qvalley.sample(c, shots=shots, seed=int(rng.integers(1 << 31)))
    freq = np.zeros(16)
    for bits, k in counts.items():
        freq[int(bits, 2)] = k / shots
    assert np.abs(freq - p).max() < 5 * math.sqrt(0.25 / shots)
    assert qvalley.sample(c, 100, seed=3) == qvalley.sample(c, 100, seed=3)


def test_terminal_measurements_map_qubits_to_clbits() -> None:
    c = Circuit(2, 3).x(1).measure(1, 2).measure(0, 0)
    assert qvalley.sample(c, shots=8, seed=1) == {"100": 8}


def test_mid_circuit_measurement_and_conditionals() -> None:
    # teleport-like feed-forward: measure q0 of |+>, flip q1 when it read 1 -> q1 copies q0
    c = Circuit(2, 2).h(0).measure(0, 0)
    c.append(Gate("x"), 1, condition=((0,), 1))
    c.measure(1, 1)
    counts = qvalley.sample(c, shots=4000, seed=5)
    assert set(counts) == {"00", "11"}
    assert abs(counts["00"] - 2000) < 200
    for engine in ("fast", "reference"):
        assert set(qvalley.sample(c, shots=500, seed=2, engine=engine)) == {"00", "11"}


def test_reset_returns_qubit_to_zero_mid_circuit() -> None:
    c = Circuit(2, 2).h(0).cx(0, 1).reset(0).measure(0, 0).measure(1, 1)
    counts = qvalley.sample(c, shots=2000, seed=9)
    assert set(counts) == {"00", "10"}
    assert abs(counts["10"] - 1000) < 150


def test_measuring_twice_into_the_same_bit_keeps_the_last() -> None:
    c = Circuit(1, 1).measure(0, 0).x(0).measure(0, 0)
    assert qvalley.sample(c, shots=20, seed=0) == {"1": 20}


def test_statevector_refuses_mid_circuit_measurement() -> None:
    c = Circuit(1, 1).h(0).measure(0, 0).h(0)
    with pytest.raises(SimulationError, match="mid-circuit"):
        qvalley.statevector(c)
    # terminal measurements are simply ignored
    assert np.allclose(abs(qvalley.statevector(Circuit(1, 1).h(0).measure(0, 0))) ** 2, 0.5)


def test_opaque_gate_cannot_be_simulated() -> None:
    from qvalley.circuit import OpaqueGate

    c = Circuit(1).append(OpaqueGate("mystery", 1), 0)
    with pytest.raises(SimulationError, match="opaque"):
        qvalley.sample(c, 10)


@pytest.mark.parametrize("precision", ["single", "double"])
def test_expectation_matches_dense_matrix(precision: str) -> None:
    rng = np.random.default_rng()
    c = random_circuit(5, 40, rng)
    labels = ["".join(rng.choice(list("IXYZ"), 5)) for _ in range(6)]
    obs = Observable.from_list([(lab, float(rng.normal())) for lab in labels])
    psi = qvalley.statevector(c, precision="double", engine="reference")
    want = float(np.real(np.vdot(psi, obs.to_matrix() @ psi)))
    for engine in ("fast", "reference"):
        got = qvalley.expectation(c, obs, precision=precision, engine=engine)
        assert got == pytest.approx(want, abs=1e-4 if precision == "single" else 1e-10)


def test_marginals_and_amplitudes() -> None:
    rng = np.random.default_rng()
    c = random_circuit(4, 30, rng)
    p = qvalley.probabilities(c, precision="double")
    m = qvalley.marginal_probabilities(c, [2, 0], precision="double")
    idx = np.arange(16)
    for v in range(4):
        sel = (((idx >> 2) & 1) == (v & 1)) & (((idx >> 0) & 1) == (v >> 1))
        assert m[v] == pytest.approx(p[sel].sum())
    sv = qvalley.statevector(c, precision="double")
    amps = qvalley.amplitudes(c, ["0101", 3], precision="double")
    assert np.allclose(amps, sv[[5, 3]])
    with pytest.raises(SimulationError, match="bitstring"):
        qvalley.amplitudes(c, ["01"])


def test_memory_guard_names_qubits_and_alternatives(monkeypatch: pytest.MonkeyPatch) -> None:
    from qvalley.sim import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 20)
    with pytest.raises(SimulationLimitError, match=r"a 30-qubit statevector needs 8\.0 GiB"):
        qvalley.statevector(Circuit(30).h(0))
    with pytest.raises(SimulationLimitError, match="tensor network"):
        qvalley.statevector(Circuit(30).h(0))


def test_bad_arguments_are_simulation_errors() -> None:
    with pytest.raises(SimulationError, match="precision"):
        qvalley.statevector(Circuit(1), precision="half")
    with pytest.raises(SimulationError, match="shots"):
        qvalley.sample(Circuit(1), shots=0)
    with pytest.raises(SimulationError, match="Circuit"):
        qvalley.statevector("not a circuit")  # type: ignore[arg-type]


# ---- independent simulators ----------------------------------------------------------------------
def _to_qiskit(c: Circuit):  # type: ignore[no-untyped-def]
    qiskit = pytest.importorskip("qiskit")
    from qiskit.circuit.library import UnitaryGate as QUnitary

    qc = qiskit.QuantumCircuit(c.num_qubits, global_phase=float(c.global_phase))
    for op in c:
        qc.append(QUnitary(op.gate.matrix()), list(op.qubits))  # type: ignore[attr-defined]
    return qc


def test_equals_qiskit_statevector() -> None:
    pytest.importorskip("qiskit")
    from qiskit.quantum_info import Statevector

    rng = np.random.default_rng()
    for n in (3, 7):
        c = random_circuit(n, 40, rng)
        want = Statevector(_to_qiskit(c)).data
        assert np.allclose(qvalley.statevector(c, precision="double"), want, atol=1e-10)


def test_equals_cirq_simulator() -> None:
    cirq = pytest.importorskip("cirq")
    rng = np.random.default_rng()
    n = 6
    c = random_circuit(n, 40, rng)
    qs = cirq.LineQubit.range(n)
    ops = []
    for op in c:
        m = op.gate.matrix()  # type: ignore[attr-defined]
        k = len(op.qubits)
        # cirq's matrix order: first qubit most significant -> reverse our operand order
        perm = list(reversed(range(k)))
        mc = m.reshape((2,) * 2 * k).transpose(perm + [k + p for p in perm]).reshape(m.shape)
        ops.append(cirq.MatrixGate(mc).on(*[qs[q] for q in op.qubits]))
    out = cirq.Simulator(dtype=np.complex128).simulate(cirq.Circuit(ops), qubit_order=qs[::-1])
    assert cirq.allclose_up_to_global_phase(out.final_state_vector,
                                            qvalley.statevector(c, precision="double"), atol=1e-8)
