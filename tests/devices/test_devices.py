"""Device profiles and calibration: layouts as published, values round-trip, history is
deterministic and drifts, and the Qiskit export carries the calibration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qvalley import DeviceError
from qvalley.devices import (
    Calibration,
    DeviceProfile,
    calibration_at,
    calibration_history,
    generate_calibration,
    get_device,
    list_devices,
    to_qiskit_target,
)
from qvalley.noise.model import pauli_to_average_error

ROOT = Path(__file__).resolve().parents[2]
GRID = ("zuchongzhi-2.1", "sycamore-53", "oriental-136", "valley-512")


def test_generated_device_data_is_current() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "tools/gen_devices.py"), "--check"])
    assert r.returncode == 0, "run `python tools/gen_devices.py` and commit the result"


@pytest.mark.parametrize(("name", "qubits", "couplers"), [
    ("zuchongzhi-2.1", 66, 110), ("sycamore-53", 53, 86), ("oriental-136", 136, 247),
    ("valley-512", 512, 976)])
def test_layout_sizes(name: str, qubits: int, couplers: int) -> None:
    dev = get_device(name)
    assert dev.num_qubits == qubits and len(dev.coupling_map()) == couplers
    assert len(dev.coordinates) == qubits


@pytest.mark.parametrize("name", GRID)
def test_couplers_join_grid_neighbours_and_patterns_tile_them(name: str) -> None:
    dev = get_device(name)
    coords = dev.coordinates
    for a, b in dev.coupling_map():
        (ra, ca), (rb, cb) = coords[a], coords[b]
        assert abs(ra - rb) + abs(ca - cb) == 1
    for family in ("ABCD", "EFGH"):
        pairs = [p for letter in family for p in dev.patterns[letter]]
        assert sorted(pairs) == dev.coupling_map(), f"{family} does not tile every coupler once"
        for letter in family:
            flat = [q for p in dev.patterns[letter] for q in p]
            assert len(flat) == len(set(flat)), f"pattern {letter} is not a matching"


def test_zuchongzhi_offset_lattice() -> None:
    """11 rows of 6; qubit 6r+c couples to two qubits of each neighbouring row (one at the edge)."""
    dev = get_device("zuchongzhi-2.1")
    for r in range(11):
        for c in range(6):
            q = 6 * r + c
            down = {p for p in dev.neighbours(q) if p // 6 == r + 1}
            up = {p for p in dev.neighbours(q) if p // 6 == r - 1}
            assert all(abs(p // 6 - r) == 1 for p in dev.neighbours(q))  # no coupler within a row
            edge = (c == 0 and r % 2 == 0) or (c == 5 and r % 2 == 1)
            if r < 10:
                assert len(down) == (1 if edge else 2)
            if r > 0:
                assert len(up) == (1 if edge else 2)


def test_sycamore_matches_published_qubit_set() -> None:
    dev = get_device("sycamore-53")
    assert (2, 3) not in dev.coordinates  # the inoperable qubit of the 54-site chip
    assert dev.coordinates[0] == (0, 5) and dev.coordinates[-1] == (9, 4)
    degree = [len(dev.neighbours(q)) for q in range(53)]
    assert max(degree) == 4 and degree.count(4) > 20


def test_profiles_round_trip_and_compare_as_values() -> None:
    for name in list_devices():
        dev = get_device(name)
        again = DeviceProfile.from_json(json.dumps(dev.to_dict()))
        assert again == dev and again is not dev
        assert again.to_dict() == dev.to_dict()
    assert get_device("sycamore-53") != get_device("zuchongzhi-2.1")


def test_published_averages_are_cited() -> None:
    zcz = get_device("zuchongzhi-2.1")
    assert not zcz.modelled
    assert zcz.averages["readout_error"].value == pytest.approx(1 - 0.9774)
    assert "Sci. Bull. 67, 240" in zcz.averages["readout_error"].source
    assert any("180501" in s for s in zcz.sources)
    assert "Nature 574, 505" in get_device("sycamore-53").averages["error_2q"].source
    for name in ("oriental-136", "valley-512"):
        dev = get_device(name)
        assert dev.modelled and "modelled" in dev.description


def test_ideal_device_is_all_to_all_and_noiseless() -> None:
    dev = get_device("ideal")
    assert dev.all_to_all and dev.coupling_map() == [] and dev.is_coupled(0, 1000)
    assert not dev.is_coupled(3, 3)
    assert calibration_at(dev) is None
    assert "ccx" in dev.native_gates


def test_unknown_device_names_the_choices_and_suggests() -> None:
    with pytest.raises(DeviceError, match=r"available: zuchongzhi-2.1.*did you mean 'sycamore-53'"):
        get_device("sycamore53")


def test_profile_file_errors_name_the_file_and_field(tmp_path: Path) -> None:
    data = get_device("sycamore-53").to_dict()
    good = tmp_path / "chip.json"
    good.write_text(json.dumps(data))
    assert get_device(str(good)) == get_device("sycamore-53")
    bad = dict(data, couplers=[[0, 99]])
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(DeviceError, match=r"bad.json: couplers: pair \[0, 99\]"):
        get_device(str(p))
    p.write_text("{ not json")
    with pytest.raises(DeviceError, match=r"bad.json:1:3: invalid JSON"):
        get_device(str(p))
    p.write_text(json.dumps({k: v for k, v in data.items() if k != "num_qubits"}))
    with pytest.raises(DeviceError, match="missing field 'num_qubits'"):
        get_device(str(p))
    with pytest.raises(DeviceError, match="cannot read"):
        get_device(str(tmp_path / "missing.json"))
    shared = dict(data, patterns={"A": [[0, 1], [1, 4]]})
    p.write_text(json.dumps(shared))
    with pytest.raises(DeviceError, match="pattern A puts a qubit in two couplers"):
        get_device(str(p))


# ---- calibration --------------------------------------------------------------------------------
def test_calibration_is_deterministic_and_complete() -> None:
    dev = get_device("zuchongzhi-2.1")
    a = calibration_at(dev, "2023-03-01T15:00:00+08:00")
    b = calibration_at("zuchongzhi-2.1", "2023-03-01T07:00:00Z")
    assert a == b and a is not None
    assert a.id == "zuchongzhi-2.1@2023-03-01" and a.timestamp == "2023-03-01T00:00:00+00:00"
    assert len(a.qubits) == 66 and set(a.couplers) == set(dev.coupling_map())
    for q in a.qubits:
        assert 0 < q.t2 <= 2 * q.t1
        assert 0 < q.readout_p1_given_0 < q.readout_p0_given_1 < 0.5
        assert 0 < q.error_1q < 0.05 and q.duration_1q > 0 and q.frequency > 1e9
    for c in a.couplers.values():
        assert 0 < c.error_2q < 0.2 and c.duration_2q > 0
        assert abs(c.fsim_theta - np.pi / 2) < 0.3 and abs(c.fsim_phi - np.pi / 6) < 0.3


def test_chip_averages_follow_the_published_ones() -> None:
    dev = get_device("zuchongzhi-2.1")
    hist = calibration_history(dev, "2022-01-01", "2022-03-31")
    assert len(hist) == 90
    for key in ("error_1q", "error_2q", "readout_error", "t1"):
        mean = np.mean([c.averages()[key] for c in hist])
        assert mean == pytest.approx(dev.averages[key].value, rel=0.1), key


def test_history_drifts_day_to_day_and_has_defects() -> None:
    hist = calibration_history("sycamore-53", "2020-01-01", "2020-02-29")
    assert len({c.id for c in hist}) == len(hist) == 60
    t1 = np.array([[q.t1 for q in c.qubits] for c in hist])  # days x qubits
    day_to_day = np.abs(np.diff(np.log(t1), axis=0))
    assert 0.01 < np.median(day_to_day) < 0.5  # drifts, but a qubit stays itself
    per_qubit = np.log(t1).mean(axis=0)
    assert per_qubit.std() > np.median(day_to_day)  # qubits differ more than days do
    drops = (t1 < 0.6 * np.median(t1, axis=0)).sum()
    assert drops > 0  # two-level-system defects happen


def test_calibration_round_trips_and_validates() -> None:
    cal = calibration_at("oriental-136", "2025-06-01")
    assert cal is not None
    assert Calibration.from_json(cal.to_json()) == cal
    broken = cal.to_dict()
    broken["qubits"][3]["t2"] = 3 * broken["qubits"][3]["t1"]
    with pytest.raises(DeviceError, match=r"qubit 3: T2 .* exceeds 2·T1"):
        Calibration.from_dict(broken)
    with pytest.raises(DeviceError, match="malformed calibration"):
        Calibration.from_dict({"qubits": []})
    assert cal.coupler(1, 0) == cal.couplers[(0, 1)]
    with pytest.raises(DeviceError, match="no coupler between qubits 0 and 5"):
        cal.coupler(0, 5)


@pytest.mark.parametrize(("at", "words"), [
    ("2019-10-22T23:59:59Z", "no calibration before its first one"),
    ("yesterday", "not ISO 8601"),
])
def test_bad_times_are_clear(at: str, words: str) -> None:
    with pytest.raises(DeviceError, match=words):
        calibration_at("sycamore-53", at)


def test_snapshot_changes_at_midnight_utc() -> None:
    late = calibration_at("valley-512", "2026-05-01T23:59:59Z")
    early = calibration_at("valley-512", "2026-05-02T00:00:00Z")
    assert late is not None and early is not None
    assert late.id != early.id and late == generate_calibration(get_device("valley-512"), 120)


# ---- Qiskit export ------------------------------------------------------------------------------
def test_qiskit_target_carries_layout_and_calibration() -> None:
    pytest.importorskip("qiskit")
    dev = get_device("sycamore-53")
    cal = calibration_at(dev, "2020-05-05")
    assert cal is not None
    t = to_qiskit_target(dev, cal)
    assert t.num_qubits == 53
    assert set(t.operation_names) == {"sx", "sy", "sw", "rz", "fsim", "measure"}
    pairs = {tuple(sorted(q)) for q in t.qargs_for_operation_name("fsim")}
    assert pairs == set(dev.coupling_map())
    assert len(t.qargs_for_operation_name("fsim")) == 2 * 86  # both directions
    a, b = dev.coupling_map()[7]
    assert t["fsim"][(b, a)].error == pytest.approx(pauli_to_average_error(cal.couplers[(a, b)].error_2q, 2))
    assert t["sx"][(4,)].error == pytest.approx(pauli_to_average_error(cal.qubits[4].error_1q, 1))
    assert t["rz"][(4,)].error == 0.0
    assert t["measure"][(9,)].error == pytest.approx(cal.qubits[9].readout_error)


def test_qiskit_transpiles_onto_an_exported_target() -> None:
    pytest.importorskip("qiskit")
    from qiskit import QuantumCircuit, transpile

    dev = get_device("oriental-136")
    t = to_qiskit_target(dev, calibration_at(dev, "2025-02-01"))
    qc = QuantumCircuit(4)
    qc.h(0)
    for i in range(3):
        qc.cx(i, i + 1)
    out = transpile(qc, target=t, basis_gates=None, optimization_level=1, seed_transpiler=1)
    for inst in out.data:
        qs = [out.find_bit(q).index for q in inst.qubits]
        if len(qs) == 2:
            assert dev.is_coupled(*qs)


def test_custom_qiskit_gates_have_qvalleys_matrices() -> None:
    pytest.importorskip("qiskit")
    from qiskit.quantum_info import Operator

    from qvalley.circuit.gates import GATES

    rng = np.random.default_rng()
    theta, phi = rng.uniform(-np.pi, np.pi, 2)
    from qvalley.devices.qiskit import _custom_gates

    gates = _custom_gates()
    cases = [(gates["sy"](), GATES["sy"].matrix()), (gates["sw"](), GATES["sw"].matrix()),
             (gates["fsim"](theta, phi), GATES["fsim"].matrix(theta, phi))]
    for gate, matrix in cases:
        assert np.allclose(Operator(gate).data, np.asarray(matrix), atol=1e-12), gate.name


@pytest.mark.parametrize("name", ["zuchongzhi-2.1", "sycamore-53"])
def test_qiskit_transpiles_onto_fsim_only_targets_and_qvalley_runs_the_result(name: str) -> None:
    pytest.importorskip("qiskit")
    from qiskit import QuantumCircuit, qasm3, transpile
    from qiskit.quantum_info import Statevector

    import qvalley
    from qvalley.emulator import run_on_device

    dev = get_device(name)
    t = to_qiskit_target(dev, calibration_at(dev, "2024-05-01"))
    qc = QuantumCircuit(3, 3)
    qc.ry(0.8, 0)
    qc.cx(0, 1)
    qc.rx(1.1, 2)
    qc.cz(1, 2)
    qc.swap(0, 2)
    qc.cx(2, 0)
    exact = Statevector(qc.remove_final_measurements(inplace=False)).probabilities_dict()
    qc.measure([0, 1, 2], [0, 1, 2])
    shots = 4000
    for level in range(4):
        out = transpile(qc, target=t, optimization_level=level, seed_transpiler=level)
        for inst in out.data:
            qs = [out.find_bit(q).index for q in inst.qubits]
            if len(qs) == 2:
                assert inst.operation.name == "fsim" and dev.is_coupled(*qs)
        counts = run_on_device(qvalley.loads(qasm3.dumps(out), format="qasm3"), get_device("ideal"),
                               shots=shots, seed=level).counts
        tvd = 0.5 * sum(abs(counts.get(k, 0) / shots - exact.get(k, 0.0)) for k in set(counts) | set(exact))
        assert tvd < 0.05, (level, tvd)


@pytest.mark.parametrize(("change", "words"), [
    (lambda d: d["calibration_model"].pop("epoch"), "calibration_model.epoch is missing"),
    (lambda d: d["calibration_model"].update(t2="abc"), "calibration_model.t2 must be"),
    (lambda d: d["averages"]["t1"].update(value=-1), r"averages.t1.value = -1 is out of range"),
    (lambda d: d["averages"]["readout_error"].update(value=float("nan")), "out of range"),
    (lambda d: d.update(native_gates="cz"), "native_gates must be a list"),
    (lambda d: d["averages"].pop("error_2q"), r"needs averages \['error_2q'\]"),
])
def test_profile_calibration_model_is_checked(change: object, words: str, tmp_path: Path) -> None:
    data = get_device("sycamore-53").to_dict()
    change(data)  # type: ignore[operator]
    p = tmp_path / "chip.json"
    p.write_text(json.dumps(data))
    with pytest.raises(DeviceError, match=words):
        get_device(str(p))


def test_odd_files_and_times_are_clear(tmp_path: Path) -> None:
    p = tmp_path / "notutf8.json"
    p.write_bytes(b"\xff\xfe{")
    with pytest.raises(DeviceError, match="not UTF-8"):
        get_device(str(p))
    with pytest.raises(DeviceError, match="out of range"):
        calibration_at("sycamore-53", "9999-12-31T23:00:00-05:00")
