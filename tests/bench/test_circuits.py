"""Benchmark circuits (structure, determinism) and the peer translations of the harness."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qvalley import Circuit
from qvalley.bench.circuits import brickwork_pairs, qft, random_layers
from qvalley.bench.rcs import (
    FSIM_PHI,
    FSIM_THETA,
    PATTERN_SEQUENCE,
    SINGLE_QUBIT_GATES,
    cycle_pattern,
    grid_shape,
    pattern_couplers,
    sycamore_rcs,
)
from qvalley.bench.statevector import (
    benchmark_cases,
    fidelity,
    format_table,
    memory_pass,
    prepare,
    run_benchmark,
)
from qvalley.sim import statevector as qv_statevector


def _reference(c: Circuit) -> np.ndarray:
    return qv_statevector(c, precision="double", engine="reference")


# ---- random_layers -------------------------------------------------------------------------------
def test_random_layers_structure() -> None:
    n, layers = 7, 5
    c = random_layers(n, layers=layers, seed=3)
    ops = c.operations
    pos = 0
    for layer in range(layers):
        singles = ops[pos:pos + n]
        assert [op.qubits[0] for op in singles] == list(range(n))
        assert all(op.name in ("rx", "ry", "rz") for op in singles)
        assert all(0.0 <= float(op.gate.params[0]) < 2 * math.pi for op in singles)
        pos += n
        pairs = brickwork_pairs(n, layer)
        czs = ops[pos:pos + len(pairs)]
        assert all(op.name == "cz" for op in czs)
        assert [op.qubits for op in czs] == pairs
        assert pairs[0][0] == layer % 2  # alternating offsets
        pos += len(pairs)
    assert pos == len(ops)
    assert brickwork_pairs(6, 0) == [(0, 1), (2, 3), (4, 5)]
    assert brickwork_pairs(6, 1) == [(1, 2), (3, 4)]


def test_random_layers_default_size_and_determinism() -> None:
    c = random_layers(20)
    assert len(c.operations) == 20 * 20 + 10 * 10 + 10 * 9
    assert random_layers(9, seed=5) == random_layers(9, seed=5)
    assert random_layers(9, seed=5) != random_layers(9, seed=6)
    kinds = {op.name for op in random_layers(20, seed=1).operations}
    assert kinds == {"rx", "ry", "rz", "cz"}


# ---- qft -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("x", [0, 1, 6, 13])
def test_qft_is_the_dft(x: int) -> None:
    n = 4
    c = Circuit(n)
    for q in range(n):
        if x >> q & 1:
            c.x(q)
    sv = _reference(c.compose(qft(n)))
    e = np.zeros(1 << n)
    e[x] = 1
    np.testing.assert_allclose(sv, np.fft.ifft(e) * math.sqrt(1 << n), atol=1e-12)


def test_qft_counts_and_preparation() -> None:
    n = 6
    counts = qft(n).gate_counts
    assert counts == {"h": n, "cp": n * (n - 1) // 2, "swap": n // 2}
    prepared = qft(n, prepare=True, seed=2)
    assert [op.name for op in prepared.operations[:n]] == ["ry"] * n
    assert prepared == qft(n, prepare=True, seed=2)
    assert prepared != qft(n, prepare=True, seed=3)
    assert qft(n, swaps=False).gate_counts.get("swap") is None


# ---- Sycamore RCS --------------------------------------------------------------------------------
@pytest.mark.parametrize(("rows", "cols"), [(4, 6), (3, 4), (5, 5), (1, 7)])
@pytest.mark.parametrize("family", ["ABCD", "EFGH"])
def test_patterns_are_matchings_covering_the_grid(rows: int, cols: int, family: str) -> None:
    edges: list[tuple[int, int]] = []
    for p in family:
        cp = pattern_couplers(rows, cols, p)
        flat = [q for pair in cp for q in pair]
        assert len(flat) == len(set(flat)), f"pattern {p} is not a matching"
        for a, b in cp:
            (ra, ca), (rb, cb) = divmod(a, cols), divmod(b, cols)
            assert abs(ra - rb) + abs(ca - cb) == 1  # grid neighbours
            assert (ca == cb) == (p in "ABGH")  # A, B, G, H vertical; C, D, E, F horizontal
            if p in "EF":  # aligned: the left end's column parity
                assert min(ca, cb) % 2 == "EF".index(p)
            if p in "GH":
                assert min(ra, rb) % 2 == "GH".index(p)
        edges += cp
    n_edges = rows * (cols - 1) + (rows - 1) * cols
    assert len(edges) == len(set(edges)) == n_edges


def test_sycamore_rcs_structure() -> None:
    rows, cols, cycles = 4, 6, 14
    n = rows * cols
    c = sycamore_rcs(rows, cols, cycles, seed=11)
    assert c.num_qubits == n
    ops = c.operations
    pos = 0
    last: list[str | None] = [None] * n
    for cycle in range(cycles + 1):
        layer = ops[pos:pos + n]
        assert [op.qubits[0] for op in layer] == list(range(n))
        for op in layer:
            assert op.name in SINGLE_QUBIT_GATES
            assert op.name != last[op.qubits[0]], "same single-qubit gate twice in a row"
            last[op.qubits[0]] = op.name
        pos += n
        if cycle == cycles:
            break
        pattern = PATTERN_SEQUENCE[cycle % 8]
        assert cycle_pattern(cycle) == pattern
        couplers = pattern_couplers(rows, cols, pattern)
        fs = ops[pos:pos + len(couplers)]
        assert [op.qubits for op in fs] == couplers
        assert all(op.name == "fsim" for op in fs)
        assert all(tuple(map(float, op.gate.params)) == (FSIM_THETA, FSIM_PHI) for op in fs)
        pos += len(couplers)
    assert pos == len(ops)
    assert c.gate_counts["sx"] + c.gate_counts["sy"] + c.gate_counts["sw"] == n * (cycles + 1)
    assert PATTERN_SEQUENCE == "ABCDCDAB"


def test_sycamore_rcs_determinism_and_grid_shape() -> None:
    assert sycamore_rcs(3, 4, 5, seed=1) == sycamore_rcs(3, 4, 5, seed=1)
    assert sycamore_rcs(3, 4, 5, seed=1) != sycamore_rcs(3, 4, 5, seed=2)
    assert grid_shape(24) == (4, 6)
    assert grid_shape(16) == (4, 4)
    assert grid_shape(13) == (1, 13)
    with pytest.raises(ValueError):
        pattern_couplers(2, 2, "Z")


# ---- harness -------------------------------------------------------------------------------------
def test_benchmark_cases_rows() -> None:
    cases = benchmark_cases((26, 20, 24))
    assert [(c.circuit_name, c.qubits) for c in cases] == [
        ("random_layers", 20), ("random_layers", 24), ("random_layers", 26),
        ("qft", 24), ("sycamore_rcs", 24)]
    assert [c.verify for c in cases] == [True, False, False, True, True]
    assert "4x6 grid, 14 cycles" in cases[-1].note
    small = benchmark_cases((8, 10))
    assert [(c.circuit_name, c.qubits) for c in small][-2:] == [("qft", 10), ("sycamore_rcs", 10)]
    assert "10 not 24 qubits" in small[-1].note


def _mixed_circuit(n: int = 8, seed: int = 4) -> Circuit:
    """Every gate the translators handle, with asymmetric placements."""
    rng = np.random.default_rng(seed)
    c = Circuit(n)
    for q in range(n):
        c.ry(float(rng.uniform(0, math.pi)), q)
    for q in range(n):
        c.rx(float(rng.uniform(0, 6)), q).rz(float(rng.uniform(0, 6)), q)
        c.sx(q).sy(q).sw(q).h(q)
    c.cz(0, 3).cp(0.7, 2, 5).cp(1.1, 6, 1).swap(1, 7).fsim(0.4, 1.3, 2, 6).fsim(1.2, 0.2, 5, 0)
    c.cx(3, 4).x(2).z(5)
    return c


@pytest.mark.parametrize(
    ("peer", "module"), [("qsim", "qsimcirq"), ("qiskit-aer", "qiskit_aer"), ("qulacs", "qulacs")]
)
@pytest.mark.parametrize("which", ["mixed", "random_layers", "qft", "sycamore_rcs"])
def test_peer_translation_matches_qvalley(peer: str, module: str, which: str) -> None:
    pytest.importorskip(module)
    circuits = {
        "mixed": _mixed_circuit,
        "random_layers": lambda: random_layers(8, layers=6, seed=2),
        "qft": lambda: qft(8, prepare=True, seed=1),
        "sycamore_rcs": lambda: sycamore_rcs(2, 4, cycles=8, seed=3),
    }
    c = circuits[which]()
    ref = _reference(c)
    run = prepare(peer, c, threads=1, precision="double")
    state = run.state(run.run())
    assert state.shape == ref.shape
    assert fidelity(ref, state) > 1 - 1e-9
    # same bit order and same global phase, elementwise (qsim is single precision)
    np.testing.assert_allclose(state, ref, atol=1e-5 if run.precision == "single" else 1e-10)


def test_memory_pass_reports_bandwidth() -> None:
    bw = memory_pass(10, threads=1, repeats=2)
    assert bw["pass_seconds"] > 0
    assert bw["GBps"] > 0


def test_run_benchmark_smoke() -> None:
    lines: list[str] = []
    result = run_benchmark((5, 6), peers=True, repeats=1, threads=1, progress=lines.append,
                           engine="reference")
    assert result["threads"] == 1
    assert result["precision"] == "single"
    rows = result["rows"]
    assert [(r["circuit"], r["qubits"]) for r in rows] == [
        ("random_layers", 5), ("random_layers", 6), ("qft", 6), ("sycamore_rcs", 6)]
    assert set(result["bandwidth"]) == {"5", "6"}
    for r in rows:
        qv = r["results"]["qvalley"]
        assert qv["status"] == "ok" and qv["seconds"] > 0 and len(qv["all"]) == 1
        assert r["passes_equivalent"] > 0
        for name, e in r["results"].items():
            assert e["status"] in ("ok", "not installed"), (name, e)
            if r["verified"] and e["status"] == "ok" and name != "qvalley":
                assert e["fidelity"] > 0.999
        if r["fastest_peer"] is not None:
            best = r["results"][r["fastest_peer"]]["seconds"]
            assert r["ratio_to_fastest_peer"] == pytest.approx(qv["seconds"] / best)
    assert lines
    table = format_table(result)
    assert "random_layers" in table and "sycamore_rcs" in table and "GB/s" in table
    assert result["machine"]["versions"]["numpy"] == np.__version__


def test_missing_peer_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("qulacs"):
            raise ImportError("No module named 'qulacs'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", fake_import)
    result = run_benchmark((4,), peers=True, repeats=1, threads=1, engine="reference")
    for r in result["rows"]:
        assert r["results"]["qulacs"]["status"] == "not installed"
    assert "n/a" in format_table(result)
