from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qvalley.cli.main import main


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        rc = main(args)
    except SystemExit as e:
        rc = int(e.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def test_qaoa_maxcut_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(["qaoa", "maxcut", "--graph", "cube", "--p", "1", "--json"], capsys)
    assert rc == 0
    d = json.loads(out)
    assert {"expected_cut", "max_cut", "ratio", "best_bitstring", "parameters"} <= set(d)
    assert abs(d["expected_cut"] - 8.3094) < 1e-4
    assert d["max_cut"] == 12 and len(d["best_bitstring"]) == 8


def test_qaoa_maxcut_edge_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "g.txt"
    f.write_text("# a weighted path\n0 1 2.0\n1 2\n")
    rc, out, _ = _run(["qaoa", "maxcut", "--graph", str(f), "--p", "2", "--json"], capsys)
    assert rc == 0
    d = json.loads(out)
    assert d["max_cut"] == 3.0
    assert d["best_bitstring"] in ("010", "101")


@pytest.mark.parametrize("text", ["0 x\n", "0 1 2 3\n", "{\"edges\": 3}", "0 2\n"])
def test_qaoa_bad_graph_file_is_one_line(tmp_path: Path, text: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "g.txt"
    f.write_text(text)
    rc, _, err = _run(["qaoa", "maxcut", "--graph", str(f)], capsys)
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err


def test_console_script_no_traceback() -> None:
    p = subprocess.run([sys.executable, "-m", "qvalley.cli.main", "qaoa", "maxcut", "--graph", "nope"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "nope" in p.stderr and "Traceback" not in p.stderr


def test_vqe_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(["vqe", "--molecule", "H2", "--bond-length", "0.735", "--json"], capsys)
    assert rc == 0
    d = json.loads(out)
    assert {"energy", "reference_energy", "error", "iterations", "evaluations", "seconds",
            "num_qubits"} <= set(d)
    assert abs(d["energy"] - -1.1373060) < 1e-6 and d["num_qubits"] == 4


def test_vqe_scan_with_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "curve.png"
    rc, out, _ = _run(["vqe", "--molecule", "H2", "--scan", "0.5:1.5:0.5", "--plot", str(png),
                       "--json"], capsys)
    assert rc == 0
    pts = json.loads(out)["points"]
    assert [p["bond_length"] for p in pts] == [0.5, 1.0, 1.5]
    assert all(abs(p["error"]) < 1.6e-3 for p in pts)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_vqe_device_needs_hea(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(["vqe", "--molecule", "H2", "--bond-length", "0.735", "--device", "ideal"],
                      capsys)
    assert rc == 2 and "--ansatz hea" in err


def test_traffic_and_portfolio_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "loads.png"
    rc, out, _ = _run(["traffic", "--cars", "3", "--routes", "2", "--p", "1", "--plot", str(png),
                       "--json"], capsys)
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert rc == 0
    d = json.loads(out)
    assert d["congestion_exact"] <= d["congestion_before"] and d["num_qubits"] == 6
    from importlib import resources

    path = str(resources.files("qvalley.apps").joinpath("data", "portfolio_4.json"))
    rc, out, _ = _run(["portfolio", "--file", path, "--json"], capsys)
    assert rc == 0 and json.loads(out)["selection"] == [1, 0, 1, 0]


def test_cli_optimizer_names_match_library() -> None:
    from qvalley.apps.optimizers import METHODS
    from qvalley.cli.apps import OPTIMIZERS

    assert tuple(OPTIMIZERS) == tuple(METHODS)
