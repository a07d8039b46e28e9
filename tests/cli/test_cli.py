"""The CLI as a user sees it: exit codes, one-line errors, JSON schemas, files written whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import qvalley
from qvalley.cli.main import main

BELL = ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\n'
        "measure q -> c;\n")


@pytest.fixture
def bell(tmp_path: Path) -> Path:
    p = tmp_path / "bell.qasm"
    p.write_text(BELL)
    return p


def test_run_json_schema(bell: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(bell), "--shots", "200", "--seed", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"counts", "shots", "num_qubits", "method", "seconds"}
    assert out["shots"] == 200 and out["num_qubits"] == 2 and out["method"] == "statevector"
    assert set(out["counts"]) <= {"00", "11"} and sum(out["counts"].values()) == 200
    assert out["seconds"] >= 0


def test_run_is_reproducible_with_seed(bell: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["run", str(bell), "--seed", "11", "--json"])
    a = json.loads(capsys.readouterr().out)["counts"]
    main(["run", str(bell), "--seed", "11", "--json"])
    assert json.loads(capsys.readouterr().out)["counts"] == a


def test_info_json(bell: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(bell), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"num_qubits": 2, "num_clbits": 2, "depth": 3,
                   "gate_counts": {"h": 1, "cx": 1, "measure": 2}}


def test_statevector_writes_npy_in_our_bit_order(tmp_path: Path, bell: Path) -> None:
    out = tmp_path / "s.npy"
    assert main(["statevector", str(bell), "--out", str(out), "--precision", "double"]) == 0
    sv = np.load(out)
    assert sv.dtype == np.complex128 and sv.ndim == 1
    assert np.allclose(sv, [2**-0.5, 0, 0, 2**-0.5])


def test_convert_round_trip(tmp_path: Path, bell: Path) -> None:
    for ext in (".qasm3", ".qsim", ".json"):
        out = tmp_path / f"x{ext}"
        assert main(["convert", str(bell), str(out)]) == 0
        again = qvalley.load(out)
        assert np.allclose(qvalley.statevector(again, "double"),
                           qvalley.statevector(qvalley.load(bell), "double"))


def test_format_error_is_one_line_with_location(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.qasm"
    bad.write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncx q[0], q[5];\n')
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith(f"{bad}:4:")
    assert "error:" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "missing.qasm"],
        ["run", "x.txt"],
        ["statevector", "missing.qasm", "--out", "/nonexistent-dir/s.npy"],
    ],
)
def test_user_errors_exit_2_without_traceback(argv: list[str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1


def test_bad_flags_exit_2(bell: Path) -> None:
    for argv in (["run", str(bell), "--shots", "0"], ["run", str(bell), "--precision", "half"],
                 ["bench", "--qubits", "a,b"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2


def test_failed_conversion_leaves_no_file(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "c.json"
    c = qvalley.Circuit(2).unitary(np.eye(4), [0, 1])  # a 2-qubit matrix has no qsim form
    src.write_text(c.to_json())
    out = tmp_path / "out.qsim"
    assert main(["convert", str(src), str(out)]) == 2
    assert "error" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]  # no output, no temp file
    out.write_text("previous contents")
    assert main(["convert", str(src), str(out)]) == 2
    assert out.read_text() == "previous contents"  # an existing file is left as it was


def test_console_script_runs(bell: Path) -> None:
    exe = Path(sys.executable).parent / "qvalley"
    if not exe.exists():
        pytest.skip("console script not installed")
    r = subprocess.run([str(exe), "run", str(bell), "--json", "--seed", "1"], capture_output=True,
                       text=True, env={**os.environ}, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["num_qubits"] == 2


@pytest.mark.parametrize("argv", [[], ["run"], ["run", "x.qasm", "--shots", "-3"], ["nonsense"],
                                  ["qkd"], ["device", "show"]])
def test_usage_errors_are_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "error:" in err and "--help" in err
