"""The device commands as a user sees them: JSON schemas, files written over physical qubits,
one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import qvalley
from qvalley.cli.main import main
from qvalley.devices import get_device

GHZ5 = ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[5];\ncreg c[5];\nh q[0];\n'
        "cx q[0],q[1];\ncx q[1],q[2];\ncx q[2],q[3];\ncx q[0],q[4];\nmeasure q -> c;\n")


@pytest.fixture
def ghz5(tmp_path: Path) -> Path:
    p = tmp_path / "ghz5.qasm"
    p.write_text(GHZ5)
    return p


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


def test_devices_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "--json"]) == 0
    rows = _json(capsys)
    assert isinstance(rows, list)
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) >= {"zuchongzhi-2.1", "sycamore-53", "oriental-136", "valley-512", "ideal"}
    for r in rows:
        assert set(r) == {"name", "num_qubits", "couplers", "native_gates", "modelled"}
    z = by_name["zuchongzhi-2.1"]
    assert z["num_qubits"] == 66 and len(z["couplers"]) == 110 and not z["modelled"]
    assert all(len(c) == 2 and c[0] < c[1] for c in z["couplers"])
    assert {"sx", "sy", "sw", "fsim"} <= set(z["native_gates"])
    assert by_name["valley-512"]["modelled"] and by_name["ideal"]["couplers"] == []


def test_device_show_at_a_time(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "show", "sycamore-53", "--json", "--at", "2020-02-02T10:00:00Z"]) == 0
    out = _json(capsys)
    assert out["profile"]["name"] == "sycamore-53"  # type: ignore[index]
    cal = out["calibration"]  # type: ignore[index]
    assert cal["id"] == "sycamore-53@2020-02-02" and len(cal["qubits"]) == 53
    assert main(["device", "show", "zuchongzhi-2.1"]) == 0
    text = capsys.readouterr().out
    assert "mean 2q error" in text and "published readout_error" in text and "2.2600%" in text


def test_transpile_writes_physical_circuit(tmp_path: Path, ghz5: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.qasm"
    assert main(["transpile", str(ghz5), "--device", "zuchongzhi-2.1", "-o", str(out), "--json"]) == 0
    r = _json(capsys)
    assert set(r) == {"initial_layout", "final_layout", "two_qubit_gates", "depth", "seconds"}  # type: ignore[arg-type]
    dev = get_device("zuchongzhi-2.1")
    phys = qvalley.load(out)
    assert phys.num_qubits == 66
    n2 = 0
    for op in phys.operations:
        if op.name in ("measure", "barrier"):
            continue
        assert op.name in dev.native_gates
        if len(op.qubits) == 2:
            n2 += 1
            assert dev.is_coupled(*op.qubits)
    assert n2 == r["two_qubit_gates"]  # type: ignore[index]
    # the physical circuit, read back through the final layout, prepares the same GHZ state
    used = r["final_layout"]  # type: ignore[index]
    assert len(used) == 5 and len(set(used)) == 5
    active = sorted({q for op in phys.operations for q in op.qubits})
    index = {p: i for i, p in enumerate(active)}
    small = qvalley.Circuit(len(active))
    for op in phys.operations:
        if op.name not in ("measure", "barrier"):
            small.append(op.gate, [index[q] for q in op.qubits])
    psi = qvalley.statevector(small, "double")
    ones = sum(1 << index[p] for p in used)
    assert abs(psi[0]) ** 2 == pytest.approx(0.5, abs=1e-6)
    assert abs(psi[ones]) ** 2 == pytest.approx(0.5, abs=1e-6)


def test_run_on_device_json(ghz5: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(ghz5), "--device", "zuchongzhi-2.1", "--shots", "2000", "--seed", "3",
                 "--json"]) == 0
    r = _json(capsys)
    assert {"counts", "shots", "num_qubits", "method", "seconds", "device", "transpiled"} <= set(r)  # type: ignore[arg-type]
    assert r["device"] == "zuchongzhi-2.1" and r["transpiled"] is True  # type: ignore[index]
    assert r["method"] == "density" and "density" in r["method_reason"]  # type: ignore[index]
    counts = r["counts"]  # type: ignore[index]
    good = counts.get("00000", 0) + counts.get("11111", 0)
    assert 0.7 * 2000 < good < 0.99 * 2000  # noisy, but a GHZ state
    assert main(["run", str(ghz5), "--device", "zuchongzhi-2.1", "--no-noise", "--seed", "3",
                 "--json"]) == 0
    r = _json(capsys)
    assert r["method"] == "statevector" and set(r["counts"]) == {"00000", "11111"}  # type: ignore[index]


def test_run_native_circuit_is_not_transpiled(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    c = qvalley.Circuit(66, 2).sx(0).fsim(np.pi / 2, np.pi / 6, 0, 6).measure(0, 0).measure(6, 1)
    p = tmp_path / "native.json"
    p.write_text(c.to_json())
    assert main(["run", str(p), "--device", "zuchongzhi-2.1", "--method", "trajectories",
                 "--shots", "300", "--seed", "1", "--json"]) == 0
    r = _json(capsys)
    assert r["transpiled"] is False and r["method"] == "trajectories"  # type: ignore[index]
    assert r["simulated_qubits"] == [0, 6]  # type: ignore[index]


def test_clifford_run_at_full_device_scale(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    dev = get_device("valley-512")
    c = qvalley.Circuit(512).h(0)
    # a GHZ state grown along a spanning tree of the couplers (every cz on a coupler)
    seen, frontier = {0}, [0]
    while frontier:
        q = frontier.pop(0)
        for p in dev.neighbours(q):
            if p not in seen:
                seen.add(p)
                frontier.append(p)
                c.h(p).cz(q, p).h(p)
    p = tmp_path / "ghz512.json"
    p.write_text(c.to_json())
    assert main(["run", str(p), "--device", "valley-512", "--shots", "200", "--seed", "2",
                 "--json"]) == 0
    r = _json(capsys)
    assert r["method"] == "stabilizer" and r["num_qubits"] == 512  # type: ignore[index]
    counts = r["counts"]  # type: ignore[index]
    weights = [k.count("1") for k, m in counts.items() for _ in range(m)]
    # near all-0 or all-1: readout flips a few bits, a gate error flips a subtree of the GHZ tree
    assert sum(min(w, 512 - w) < 64 for w in weights) >= 0.7 * 200
    assert min(weights) < 64 and max(weights) > 448  # both branches of the superposition


def test_too_many_qubits_for_a_method_names_the_ones_that_can(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = qvalley.Circuit(20).h(0)
    for i in range(19):
        c.cx(i, i + 1)
    c.t(3)
    p = tmp_path / "big.json"
    p.write_text(c.to_json())
    assert main(["run", str(p), "--device", "ideal", "--method", "density", "--no-noise"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "methods that can" in err and "statevector" in err


def test_rcs_writes_a_circuit_on_the_region(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rcs.qsim"
    assert main(["rcs", "--device", "sycamore-53", "--qubits", "12", "--cycles", "6", "--seed", "4",
                 "--pattern", "EFGH", "-o", str(out), "--json"]) == 0
    info = _json(capsys)
    c = qvalley.load(out)
    assert c.num_qubits == 12 and info["region"] and len(info["region"]) == 12  # type: ignore[index]
    assert c.gate_counts["fsim"] > 0
    assert main(["rcs", "--device", "sycamore-53", "--qubits", "12", "--cycles", "6", "--seed", "4",
                 "--pattern", "EFGH", "-o", str(tmp_path / "again.qsim")]) == 0
    assert (tmp_path / "again.qsim").read_text() == out.read_text()


def test_xeb_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "xeb.png"
    assert main(["xeb", "--device", "zuchongzhi-2.1", "--qubits", "6", "--cycles", "4",
                 "--shots", "300", "--seed", "5", "--plot", str(png), "--json"]) == 0
    r = _json(capsys)
    assert {"xeb", "xeb_stderr", "predicted_fidelity", "num_qubits", "cycles", "shots"} <= set(r)  # type: ignore[arg-type]
    assert r["num_qubits"] == 6 and r["cycles"] == 4 and r["shots"] == 300  # type: ignore[index]
    assert 0 < r["predicted_fidelity"] < 1 and r["xeb_stderr"] > 0  # type: ignore[index]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv", [
    ["devices", "--json", "--bogus"],
    ["device", "show", "nope"],
    ["device", "show", "sycamore-53", "--at", "1999-01-01"],
    ["transpile", "IN", "--device", "sycamore-53", "-o", "out.txt"],
    ["run", "IN", "--device", "no-such-chip"],
    ["xeb", "--device", "ideal", "--qubits", "4", "--cycles", "2"],
    ["xeb", "--device", "sycamore-53", "--qubits", "60", "--cycles", "2"],
    ["xeb", "--device", "sycamore-53", "--qubits", "4", "--cycles", "2", "--plot", "x.jpg"],
    ["rcs", "--device", "sycamore-53", "--qubits", "4", "--cycles", "2", "--pattern", "AZ",
     "-o", "x.qsim"],
])
def test_device_user_errors_exit_2(argv: list[str], ghz5: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    argv = [str(ghz5) if a == "IN" else str(tmp_path / a) if a.startswith(("out", "x.")) else a
            for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ghz5.qasm"]  # nothing half-written


def test_transpile_too_big_for_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "big.json"
    p.write_text(qvalley.Circuit(60).h(59).to_json())
    assert main(["transpile", str(p), "--device", "sycamore-53", "-o", str(tmp_path / "o.qasm")]) == 2
    assert "53" in capsys.readouterr().err
    assert not (tmp_path / "o.qasm").exists()


def test_barrier_does_not_widen_the_simulation(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    c = qvalley.Circuit(53, 1).rz(0.3, 0).barrier(*range(53)).measure(0, 0)
    p = tmp_path / "natbar.json"
    p.write_text(c.to_json())
    assert main(["run", str(p), "--device", "sycamore-53", "--shots", "100", "--seed", "1",
                 "--json"]) == 0
    r = _json(capsys)
    assert r["simulated_qubits"] == [0] and r["transpiled"] is False  # type: ignore[index]


@pytest.mark.parametrize("argv", [
    ["rcs", "--device", "sycamore-53", "--qubits", "6", "--cycles", "2", "-o", "NODIR/r.qasm"],
    ["transpile", "IN", "--device", "sycamore-53", "-o", "NODIR/x.qasm"],
    ["xeb", "--device", "sycamore-53", "--qubits", "4", "--cycles", "2", "--plot", "NODIR/x.png"],
])
def test_missing_output_folder_is_one_line_exit_2(argv: list[str], ghz5: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    argv = [str(ghz5) if a == "IN" else str(tmp_path / a) if a.startswith("NODIR") else a
            for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
