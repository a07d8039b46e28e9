"""The stim-backed stabilizer method against qvalley's gate matrices, statevector and density matrix."""

from __future__ import annotations

import math

import numpy as np
import pytest
import stim

from qvalley import Circuit, SimulationError
from qvalley.circuit.gates import GATES
from qvalley.noise import NoiseModel, ReadoutError, depolarizing, pauli_channel, thermal_relaxation
from qvalley.noise.model import average_gate_infidelity
from qvalley.sim import probabilities
from qvalley.sim.density import DensityMatrixSimulator
from qvalley.sim.stabilizer import (
    CLIFFORD_1Q,
    CLIFFORD_2Q,
    QUARTER_TURNS,
    StabilizerSimulator,
    is_clifford,
    pauli_twirl,
)


def _equal_up_to_phase(a: np.ndarray, b: np.ndarray) -> bool:
    i = np.unravel_index(np.argmax(np.abs(b)), b.shape)
    return bool(np.allclose(a * (b[i] / a[i]), b, atol=1e-9))


@pytest.mark.parametrize("name", sorted(CLIFFORD_1Q) + sorted(CLIFFORD_2Q))
def test_named_cliffords_match_stim(name: str) -> None:
    ours = GATES[name].matrix()
    theirs = stim.Tableau.from_named_gate({**CLIFFORD_1Q, **CLIFFORD_2Q}[name]).to_unitary_matrix(
        endian="little")
    assert _equal_up_to_phase(ours, theirs)


@pytest.mark.parametrize("name", sorted(QUARTER_TURNS))
@pytest.mark.parametrize("k", [1, 2, 3, -1, 4])
def test_quarter_turn_rotations_match_stim(name: str, k: int) -> None:
    c = Circuit(1).append(name, [0], params=[k * math.pi / 2])
    assert is_clifford(c)
    sim = StabilizerSimulator()
    stim_circuit, _ = sim.to_stim(c)
    stim_circuit.insert(0, stim.CircuitInstruction("I", [0]))  # keep qubit 0 when k = 0 mod 4
    theirs = stim_circuit.to_tableau().to_unitary_matrix(endian="little")
    assert _equal_up_to_phase(GATES[name].matrix(k * math.pi / 2), theirs)


def _random_clifford(n: int, depth: int, rng: np.random.Generator) -> Circuit:
    c = Circuit(n)
    ones, twos = sorted(CLIFFORD_1Q), sorted(CLIFFORD_2Q)
    for _ in range(depth):
        if rng.random() < 0.5:
            c.append(str(rng.choice(ones)), [int(rng.integers(n))])
        else:
            a, b = (int(x) for x in rng.choice(n, 2, replace=False))
            c.append(str(rng.choice(twos)), [a, b])
    return c


def test_noiseless_samples_follow_the_statevector_distribution() -> None:
    rng = np.random.default_rng()
    for _ in range(5):
        c = _random_clifford(5, 40, rng)
        p = probabilities(c, precision="double")
        shots = 8000
        counts = StabilizerSimulator().run(c, shots, seed=int(rng.integers(2**31))).counts
        support = {i for i in range(32) if p[i] > 1e-9}
        assert {int(b, 2) for b in counts} <= support
        for i in support:  # stabilizer distributions are uniform on their support
            want = p[i] * shots
            assert abs(counts.get(format(i, "05b"), 0) - want) < 5 * math.sqrt(want) + 1


def test_pauli_noise_and_asymmetric_readout_agree_with_the_density_matrix() -> None:
    model = (NoiseModel().add("h", pauli_channel(0.02, 0.01, 0.03))
             .add("cx", depolarizing(0.05, 2)).readout(0, ReadoutError(0.08, 0.02))
             .readout(2, ReadoutError(0.01, 0.05)))
    c = Circuit(3).h(0).cx(0, 1).cx(1, 2).s(2).h(2).measure_all()
    exact = DensityMatrixSimulator(model).distribution(c)
    shots = 40000
    counts = StabilizerSimulator(model).run(c, shots, seed=7).counts
    tv = 0.5 * sum(abs(counts.get(k, 0) / shots - exact.get(k, 0.0)) for k in set(exact) | set(counts))
    assert tv < 0.015


def test_thermal_relaxation_is_twirled_keeping_its_average_fidelity() -> None:
    ch = thermal_relaxation(30e-6, 20e-6, 2e-6)
    probs = pauli_twirl(ch)
    assert sum(probs.values()) == pytest.approx(1.0)
    assert probs["X"] == pytest.approx(probs["Y"]) and probs["Z"] > 0
    twirled = pauli_channel(probs["X"], probs["Y"], probs["Z"])
    assert average_gate_infidelity(twirled) == pytest.approx(average_gate_infidelity(ch))
    sim = StabilizerSimulator(NoiseModel().add("x", ch))
    sim.run(Circuit(1).x(0), 10, seed=1)
    assert sim.twirled


def test_512_qubit_ghz_with_readout_noise() -> None:
    n, p = 512, 0.01
    c = Circuit(n).h(0)
    for q in range(n - 1):
        c.cx(q, q + 1)
    model = NoiseModel()
    for q in range(n):
        model.readout(q, ReadoutError(p, p))
    counts = StabilizerSimulator(model).run(c, 500, seed=3).counts
    distances = [min(b.count("1"), b.count("0")) * k for b, k in counts.items()]
    assert sum(distances) / 500 == pytest.approx(n * p, rel=0.15)


def test_non_clifford_gates_and_conditions_are_refused_clearly() -> None:
    with pytest.raises(SimulationError, match=r"operation 1 't' on qubit\(s\) \[0\] is not a Clifford"):
        StabilizerSimulator().run(Circuit(1).h(0).t(0), 10)
    assert not is_clifford(Circuit(1).rz(0.3, 0))
