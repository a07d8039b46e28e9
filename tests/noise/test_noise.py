"""Noise channels, noise models, density-matrix and trajectory simulation, readout mitigation."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qvalley
from qvalley import Circuit, Gate, SimulationLimitError
from qvalley._errors import NoiseError
from qvalley.circuit import GATES
from qvalley.noise import (
    Channel,
    NoiseModel,
    PauliChannel,
    ReadoutError,
    amplitude_damping,
    average_gate_infidelity,
    compose,
    depolarizing,
    mitigate_counts,
    nearest_probability_distribution,
    pauli_channel,
    pauli_matrix,
    phase_damping,
    readout_errors_from_counts,
    tensor,
    thermal_relaxation,
)
from qvalley.sim.density import DensityMatrixSimulator
from qvalley.sim.trajectories import TrajectorySimulator

unit = st.floats(0.0, 1.0, allow_nan=False)


def _cptp(ch: Channel) -> None:
    d = 1 << ch.num_qubits
    total = sum(k.conj().T @ k for k in ch.kraus)
    assert np.allclose(total, np.eye(d), atol=1e-9)
    assert np.linalg.eigvalsh(ch.choi()).min() > -1e-9


def random_circuit(n: int, depth: int, rng: np.random.Generator) -> Circuit:
    names = [k for k, s in GATES.items() if s.num_qubits <= min(n, 2)]
    c = Circuit(n)
    for _ in range(depth):
        name = names[rng.integers(len(names))]
        spec = GATES[name]
        qs = [int(q) for q in rng.choice(n, spec.num_qubits, replace=False)]
        c.append(Gate(name, rng.uniform(-4, 4, spec.num_params)), qs)
    return c


# ---- channels ---------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(p=st.floats(0.0, 16 / 15, allow_nan=False), g=unit, lam=unit, n=st.integers(1, 2))
def test_channels_are_cptp(p: float, g: float, lam: float, n: int) -> None:
    for ch in (depolarizing(p, n), amplitude_damping(g), phase_damping(lam),
               compose(amplitude_damping(g), phase_damping(lam)), tensor(amplitude_damping(g),
                                                                         depolarizing(min(p, 1.0)))):
        _cptp(ch)


@settings(max_examples=40, deadline=None)
@given(t1=st.floats(1e-6, 1e-3), ratio=st.floats(0.01, 2.0), t=st.floats(0, 1e-4), pe=unit)
def test_thermal_relaxation_is_cptp_and_matches_decay(t1: float, ratio: float, t: float, pe: float) -> None:
    ch = thermal_relaxation(t1, ratio * t1, t, pe)
    _cptp(ch)
    rho = np.array([[0.5, 0.5], [0.5, 0.5]], dtype=complex)  # |+><+|
    out = sum(k @ rho @ k.conj().T for k in ch.kraus)
    assert out[0, 1] == pytest.approx(0.5 * math.exp(-t / (ratio * t1)), abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(px=st.floats(0, 0.3), py=st.floats(0, 0.3), pz=st.floats(0, 0.3))
def test_pauli_channel_round_trips(px: float, py: float, pz: float) -> None:
    ch = pauli_channel(px, py, pz)
    probs = Channel(ch.kraus).pauli_probabilities()  # recovered from the bare Kraus operators
    assert probs is not None
    for label, want in (("X", px), ("Y", py), ("Z", pz)):
        assert probs.get(label, 0.0) == pytest.approx(want, abs=1e-12)
    assert Channel(ch.kraus) == ch
    assert Channel.from_json(ch.to_json()) == ch


def test_qiskit_pauli_string_convention() -> None:
    # rightmost character acts on operand 0 = bit 0
    assert np.allclose(pauli_matrix("IX"), np.kron(np.eye(2), [[0, 1], [1, 0]]))
    ch = PauliChannel({"IX": 1.0})
    assert np.allclose(ch.kraus[0] @ np.array([1, 0, 0, 0]), [0, 1, 0, 0])


def test_channel_properties_and_repr() -> None:
    assert depolarizing(0.1).is_pauli() and depolarizing(0.1).is_unitary_mixture()
    assert not amplitude_damping(0.1).is_unitary_mixture()
    assert phase_damping(0.2).is_pauli()  # phase damping is a Z mixture
    assert not thermal_relaxation(50e-6, 30e-6, 1e-6).is_pauli()
    assert repr(depolarizing(0.01, 2)) == "depolarizing(0.01, 2)"
    assert eval(repr(amplitude_damping(0.25)), vars(qvalley.noise)) == amplitude_damping(0.25)
    # average gate infidelity of depolarizing: e = p (d-1)/d
    assert average_gate_infidelity(depolarizing(0.03)) == pytest.approx(0.015)
    assert average_gate_infidelity(depolarizing(0.03, 2)) == pytest.approx(0.03 * 3 / 4)
    tr = thermal_relaxation(math.inf, math.inf, 1e-6)
    assert tr == depolarizing(0.0)
    c = compose(thermal_relaxation(40e-6, 30e-6, 2e-6), amplitude_damping(0.1))
    assert Channel.from_json(c.to_json()) == c
    assert len(c.kraus) <= 4


def test_qiskit_aer_channels_agree() -> None:
    noise = pytest.importorskip("qiskit_aer.noise")
    from qiskit.quantum_info import SuperOp

    def same(ours: Channel, theirs: object) -> None:
        assert np.allclose(ours.superop(), SuperOp(theirs).data, atol=1e-10)

    for p in (0.0, 0.013, 0.4, 1.0):
        same(depolarizing(p, 1), noise.depolarizing_error(p, 1))
        same(depolarizing(p, 2), noise.depolarizing_error(p, 2))
    for g in (0.0, 0.07, 0.9):
        same(amplitude_damping(g), noise.amplitude_damping_error(g))
        same(phase_damping(g), noise.phase_damping_error(g))
    for t1, t2, t, pe in ((50e-6, 70e-6, 1e-6, 0.0), (50e-6, 20e-6, 3e-7, 0.0),
                          (30e-6, 55e-6, 5e-6, 0.1), (80e-6, 160e-6, 2e-5, 0.0)):
        same(thermal_relaxation(t1, t2, t, pe), noise.thermal_relaxation_error(t1, t2, t, pe))
    same(pauli_channel(0.1, 0.02, 0.03), noise.pauli_error([("X", 0.1), ("Y", 0.02), ("Z", 0.03),
                                                            ("I", 0.85)]))
    same(PauliChannel({"XI": 0.2, "ZY": 0.1}), noise.pauli_error([("XI", 0.2), ("ZY", 0.1), ("II", 0.7)]))
    # our tensor puts the first channel on operand 0; Qiskit's a.expand(b) does too
    a, b = amplitude_damping(0.2), phase_damping(0.3)
    same(tensor(a, b), noise.amplitude_damping_error(0.2).expand(noise.phase_damping_error(0.3)))
    same(compose(a, b), noise.amplitude_damping_error(0.2).compose(noise.phase_damping_error(0.3)))


@pytest.mark.parametrize("call, words", [
    (lambda: depolarizing(1.4), "depolarizing probability p"),
    (lambda: depolarizing(-0.1), "[0, 1.33333]"),
    (lambda: amplitude_damping(2), "gamma"),
    (lambda: phase_damping(float("nan")), "lam"),
    (lambda: thermal_relaxation(50e-6, 120e-6, 1e-6), "t2 <= 2*t1"),
    (lambda: thermal_relaxation(50e-6, 40e-6, -1e-6), "duration"),
    (lambda: thermal_relaxation(0, 40e-6, 1e-6), "t1"),
    (lambda: pauli_channel(0.5, 0.4, 0.3), "at most 1"),
    (lambda: PauliChannel({"XQ": 0.1}), "I, X, Y, Z"),
    (lambda: Channel([np.eye(2) * 0.9]), "trace preserving"),
    (lambda: ReadoutError(1.5, 0.0), "p0_given_1"),
    (lambda: compose(depolarizing(0.1), depolarizing(0.1, 2)), "compose"),
    (lambda: NoiseModel().add("cx", depolarizing(0.1, 3)), "3-qubit channel"),
    (lambda: NoiseModel().add("h", depolarizing(0.1), qubits=(0, 1)), "qubits=(0, 1)"),
])
def test_bad_parameters_raise_noise_error(call: object, words: str) -> None:
    with pytest.raises(NoiseError, match=__import__("re").escape(words)):
        call()  # type: ignore[operator]


def test_readout_error_matrix() -> None:
    e = ReadoutError(0.05, 0.02)
    assert np.allclose(e.matrix, [[0.98, 0.05], [0.02, 0.95]])
    assert np.allclose(e.matrix.sum(axis=0), 1)


# ---- noise model ------------------------------------------------------------------------------
def test_noise_model_rules_and_json() -> None:
    m = (NoiseModel().add("all_1q", depolarizing(0.01)).add("x", amplitude_damping(0.1), qubits=1)
         .add("cx", depolarizing(0.02, 2)).add("all_2q", phase_damping(0.1))
         .readout(2, ReadoutError(0.1, 0.0)))
    circ = Circuit(3).h(0).x(1).x(0).cx(0, 1).cz(1, 2)
    ops = circ.operations
    assert m.channels_for(ops[0]) == [(depolarizing(0.01), (0,))]
    assert m.channels_for(ops[1]) == [(amplitude_damping(0.1), (1,))]
    assert m.channels_for(ops[2]) == [(depolarizing(0.01), (0,))]
    assert m.channels_for(ops[3]) == [(depolarizing(0.02, 2), (0, 1))]
    assert m.channels_for(ops[4]) == [(phase_damping(0.1), (1,)), (phase_damping(0.1), (2,))]
    assert NoiseModel().add("all_1q", depolarizing(0.1)).add("cx", phase_damping(0.2)).is_pauli()
    assert not m.is_pauli()
    assert NoiseModel.from_json(m.to_json()) == m
    assert NoiseModel.ideal().is_ideal()


def _device(n: int = 3) -> tuple[object, object]:
    profile = SimpleNamespace(native_gates=("rz", "sx", "x", "cz"), num_qubits=n)
    qubits = [SimpleNamespace(t1=60e-6 + 10e-6 * q, t2=50e-6, error_1q=5e-4 * (q + 1), duration_1q=30e-9,
                              readout_p0_given_1=0.03, readout_p1_given_0=0.01) for q in range(n)]
    couplers = {(q, q + 1): SimpleNamespace(error_2q=8e-3, duration_2q=200e-9) for q in range(n - 1)}
    return profile, SimpleNamespace(qubits=qubits, couplers=couplers)


def test_from_device_error_budget() -> None:
    profile, cal = _device()
    m = NoiseModel.from_device(profile, cal)
    c = Circuit(3).sx(1).cz(1, 2).cz(2, 1)
    chans = m.channels_for(c.operations[0])
    assert [q for _, q in chans] == [(1,), (1,)]
    total = compose(chans[0][0], chans[1][0])
    # error_1q of qubit 1 is a Pauli error: average gate error e_P * d / (d + 1)
    assert average_gate_infidelity(total) == pytest.approx(1e-3 * 2 / 3, rel=1e-9)
    for op in c.operations[1:]:
        chans = m.channels_for(op)
        assert all(q == op.qubits for _, q in chans)
        total = compose(chans[0][0], chans[1][0])
        assert average_gate_infidelity(total) == pytest.approx(8e-3 * 4 / 5, rel=1e-9)
    assert m.channels_for(Circuit(3).rz(0.3, 1).operations[0]) == []  # virtual Z: no noise
    assert m.readout_error(0) == ReadoutError(0.03, 0.01)
    assert NoiseModel.from_json(m.to_json()) == m
    plain = NoiseModel.from_device(profile, cal, thermal=False)
    # without relaxation the depolarizing channel's Pauli error is exactly the calibrated error
    (ch, _), = plain.channels_for(c.operations[0])
    assert ch == depolarizing(1e-3 * 4 / 3)
    assert ch.pauli_probabilities() is not None
    assert 1 - ch.pauli_probabilities().get("I", 0.0) == pytest.approx(1e-3)


# ---- density matrix ---------------------------------------------------------------------------
def test_noiseless_density_matrix_is_pure_state() -> None:
    rng = np.random.default_rng()
    for n in (1, 3, 5):
        c = random_circuit(n, 8 * n, rng)
        psi = qvalley.statevector(c, precision="double")
        rho = DensityMatrixSimulator().density_matrix(c)
        assert np.allclose(rho, np.outer(psi, psi.conj()), atol=1e-10)


def test_density_limit_names_other_methods() -> None:
    with pytest.raises(SimulationLimitError, match="trajectories"):
        DensityMatrixSimulator().density_matrix(Circuit(14).h(0))


def test_density_mid_circuit_measurement_and_reset() -> None:
    sim = DensityMatrixSimulator(NoiseModel().readout(0, ReadoutError(0.0, 0.2)))
    c = Circuit(2, 2).h(0).measure(0, 0).reset(0).append("x", 1, condition=([0], 1)).measure(1, 1)
    # clbit 0 reads 1 when the qubit was 1 (p 1/2) or falsely (p 1/2 * 0.2); x on q1 follows the bit
    d = sim.distribution(c)
    assert d == pytest.approx({"00": 0.4, "11": 0.6})
    assert sim.distribution(c, readout=False) == pytest.approx({"00": 0.5, "11": 0.5})
    rho = sim.density_matrix(Circuit(1, 1).h(0).measure(0, 0).h(0))
    assert np.allclose(rho, np.eye(2) / 2)
    r = sim.run(c, shots=1000, seed=3)
    assert r.method == "density" and sum(r.counts.values()) == 1000


def _ghz_model() -> NoiseModel:
    m = NoiseModel().add("all_1q", depolarizing(0.02)).add("all_1q", thermal_relaxation(50e-6, 40e-6, 1e-6))
    m.add("all_2q", depolarizing(0.05, 2)).add("all_2q", amplitude_damping(0.03))
    for q in range(4):
        m.readout(q, ReadoutError(0.03, 0.01 * (q + 1)))
    return m


def test_density_equals_qiskit_aer_density_matrix() -> None:
    pytest.importorskip("qiskit_aer")
    import qiskit
    from qiskit_aer import AerSimulator
    from qiskit_aer import noise as an

    c = Circuit(3).h(0).cx(0, 1).ry(0.7, 2).cx(1, 2).rz(0.3, 0).h(2)
    qc = qiskit.QuantumCircuit(3)
    qc.h(0)
    qc.cx(0, 1)
    qc.ry(0.7, 2)
    qc.cx(1, 2)
    qc.rz(0.3, 0)
    qc.h(2)
    qc.save_probabilities()
    aer = an.NoiseModel()
    one = an.depolarizing_error(0.02, 1).compose(an.thermal_relaxation_error(50e-6, 40e-6, 1e-6))
    two = an.depolarizing_error(0.05, 2).compose(
        an.amplitude_damping_error(0.03).tensor(an.amplitude_damping_error(0.03)))
    aer.add_all_qubit_quantum_error(one, ["h", "ry", "rz"])
    aer.add_all_qubit_quantum_error(two, ["cx"])
    res = AerSimulator(method="density_matrix", noise_model=aer).run(qc, shots=1).result()
    want = np.asarray(res.data(0)["probabilities"])
    sim = DensityMatrixSimulator(_ghz_model())
    got = sim.probabilities(c)
    assert np.allclose(got, want, atol=1e-6)
    # readout errors act on the probabilities as the tensor product of confusion matrices
    full = np.eye(1)
    for q in range(3):
        full = np.kron(_ghz_model().readout_error(q).matrix, full)  # type: ignore[union-attr]
    dist = sim.distribution(c)
    assert np.allclose([dist[format(i, "03b")] for i in range(8)], full @ want, atol=1e-6)
    assert np.allclose(sim.probabilities(c, readout=True), full @ want, atol=1e-6)


# ---- trajectories -----------------------------------------------------------------------------
def _tv(p: dict[str, float], counts: dict[str, int]) -> float:
    shots = sum(counts.values())
    return 0.5 * sum(abs(p.get(k, 0.0) - counts.get(k, 0) / shots) for k in set(p) | set(counts))


def test_trajectories_agree_with_density_matrix() -> None:
    m = _ghz_model()
    c = Circuit(4).h(0).cx(0, 1).cx(1, 2).cx(2, 3).x(3)
    exact = DensityMatrixSimulator(m).distribution(c)
    r = TrajectorySimulator(m, backend="reference", precision="double").run(
        c, shots=12000, seed=11, trajectories=1500)
    assert r.method == "trajectories" and sum(r.counts.values()) == 12000
    # 16 outcomes, 1500-12000 effective samples: expected TV ≈ 0.015-0.03
    assert _tv(exact, r.counts) < 0.035
    again = TrajectorySimulator(m, backend="reference", precision="double").run(
        c, shots=12000, seed=11, trajectories=1500)
    assert again.counts == r.counts


def test_batched_and_one_at_a_time_trajectories_both_match_the_density_matrix(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """State-dependent Kraus draws (relaxation) on several batches, and the unbatched path."""
    import qvalley.sim.trajectories as traj

    m = NoiseModel().add("all_1q", thermal_relaxation(20e-6, 15e-6, 2e-6))
    m.add("all_2q", depolarizing(0.05, 2)).readout(2, ReadoutError(0.06, 0.02))
    c = Circuit(3).h(0).ry(0.7, 1).cx(0, 1).x(2).cx(1, 2).rx(0.4, 2)
    exact = DensityMatrixSimulator(m).distribution(c)
    monkeypatch.setattr(traj, "BATCH_AMPLITUDES", 1 << 9)  # 64 trajectories a batch
    batched = TrajectorySimulator(m, backend="reference", precision="double").run(
        c, shots=6000, seed=3, trajectories=6000)
    assert _tv(exact, batched.counts) < 0.03  # 8 outcomes, 6000 samples: expected TV ≈ 0.01
    monkeypatch.setattr(traj, "BATCH_MAX_QUBITS", 0)
    single = TrajectorySimulator(m, backend="reference", precision="double").run(
        c, shots=3000, seed=3, trajectories=3000)
    assert _tv(exact, single.counts) < 0.04


def test_trajectories_fast_backend_mid_circuit() -> None:
    m = NoiseModel().add("all_1q", amplitude_damping(0.2)).add("cx", depolarizing(0.1, 2))
    m.readout(1, ReadoutError(0.1, 0.05))
    c = Circuit(2, 2).x(0).cx(0, 1).measure(0, 0).append("x", 1, condition=([0], 1)).measure(1, 1)
    exact = DensityMatrixSimulator(m).distribution(c)
    r = TrajectorySimulator(m, backend="fast").run(c, shots=3000, seed=5, trajectories=300)
    assert _tv(exact, r.counts) < 0.06
    r2 = TrajectorySimulator(m, backend="fast").run(c, shots=1500, seed=5)  # one shot per trajectory cap
    assert _tv(exact, r2.counts) < 0.06


def test_trajectories_ideal_matches_statevector() -> None:
    c = Circuit(3).h(0).cx(0, 1).cx(0, 2)
    r = TrajectorySimulator(backend="reference").run(c, shots=500, seed=1)
    assert set(r.counts) == {"000", "111"}


# ---- mitigation -------------------------------------------------------------------------------
def test_mitigation_recovers_product_state() -> None:
    errs = [ReadoutError(0.08, 0.03), ReadoutError(0.05, 0.1), ReadoutError(0.02, 0.02)]
    c = Circuit(3).ry(1.1, 0).x(1).ry(0.4, 2)
    noisy = DensityMatrixSimulator(NoiseModel().readout(0, errs[0]).readout(1, errs[1]).readout(2, errs[2]))
    true = DensityMatrixSimulator().distribution(c)
    measured = noisy.distribution(c)
    for method in ("tensored", "matrix"):
        got = mitigate_counts(measured, errs, method=method)
        assert _tv(true, {k: round(v * 1e9) for k, v in got.items()}) < 1e-6
    counts = noisy.run(c, shots=20000, seed=2).counts
    got = mitigate_counts(counts, {0: errs[0], 1: errs[1], 2: errs[2]})
    assert all(v >= 0 for v in got.values()) and sum(got.values()) == pytest.approx(1)
    assert 0.5 * sum(abs(true.get(k, 0) - got.get(k, 0)) for k in set(true) | set(got)) < 0.03


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=4, max_size=4).filter(lambda v: sum(v) > 0),
       st.floats(0, 0.3), st.floats(0, 0.3))
def test_mitigation_always_valid(counts: list[int], a: float, b: float) -> None:
    cts = {format(i, "02b"): k for i, k in enumerate(counts)}
    got = mitigate_counts(cts, [ReadoutError(a, b), ReadoutError(b, a)])
    assert all(v >= 0 for v in got.values())
    assert sum(got.values()) == pytest.approx(1)


def test_nearest_probability_distribution_is_closest() -> None:
    rng = np.random.default_rng(4)
    for _ in range(20):
        q = rng.normal(size=6)
        q += (1 - q.sum()) / 6
        p = nearest_probability_distribution(q)
        assert p.min() >= 0 and p.sum() == pytest.approx(1)
        for _ in range(20):  # no random simplex point is closer
            r = rng.dirichlet(np.ones(6))
            assert np.linalg.norm(p - q) <= np.linalg.norm(r - q) + 1e-12


def test_readout_errors_from_counts() -> None:
    got = readout_errors_from_counts({"00": 90, "01": 10}, {"11": 80, "10": 20})
    assert got[0] == ReadoutError(0.2, 0.1) and got[1] == ReadoutError(0.0, 0.0)
