"""Kernels, fusion and scheduling against plain numpy on random inputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qvalley.sim.statevector import kernels
from qvalley.sim.statevector.fast import pack_block
from qvalley.sim.statevector.fusion import Block, CostModel, _embed, fuse, schedule
from qvalley.sim.statevector.reference import apply_matrix

ROOT = Path(__file__).resolve().parents[2]


def test_generated_kernels_are_current() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "tools/gen_kernels.py"), "--check"])
    assert r.returncode == 0, "run `python tools/gen_kernels.py` and commit the result"


def _rand_state(n: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=1 << n) + 1j * rng.normal(size=1 << n)
    return v / np.linalg.norm(v)


def _rand_unitary(k: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.normal(size=(1 << k, 1 << k)) + 1j * rng.normal(size=(1 << k, 1 << k))
    return np.linalg.qr(a)[0]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.booleans())
def test_run_gate_equals_reference(seed: int, k: int, diagonal: bool) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(k, 11))
    qs = [int(q) for q in rng.choice(n, k, replace=False)]
    psi = _rand_state(n, rng)
    if diagonal:
        d = np.exp(1j * rng.uniform(0, 6, 1 << k))
        m, block = np.diag(d), Block(qs, d, True)
    else:
        m = _rand_unitary(k, rng)
        block = Block(qs, m, False)
    want = apply_matrix(psi, m, qs)
    got = psi.copy()
    kernels.run_gate(got, *pack_block(block, np.complex128), int(rng.integers(1, 9)))
    assert np.allclose(got, want, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_run_tiled_equals_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 12))
    tb = int(rng.integers(3, n + 1))
    psi = _rand_state(n, rng)
    want = psi.copy()
    blocks = []
    for _ in range(int(rng.integers(1, 8))):
        k = int(rng.integers(1, min(tb, 5) + 1))
        qs = [int(q) for q in rng.choice(tb, k, replace=False)]
        m = _rand_unitary(k, rng)
        blocks.append(Block(qs, m, False))
        want = apply_matrix(want, m, qs)
    from qvalley.sim.statevector.fast import _pack_run

    got = psi.copy()
    kernels.run_tiled(got, tb, *_pack_run(blocks, np.complex128))
    assert np.allclose(got, want, atol=1e-12)


def test_fusion_preserves_the_product_and_respects_width() -> None:
    rng = np.random.default_rng()
    n = 6
    gates = []
    for _ in range(40):
        k = int(rng.integers(1, 3))
        qs = tuple(int(q) for q in rng.choice(n, k, replace=False))
        m = _rand_unitary(k, rng) if rng.random() < 0.7 else np.diag(np.exp(1j * rng.uniform(0, 6, 1 << k)))
        gates.append((m, qs))
    psi = _rand_state(n, rng)
    want = psi
    for m, qs in gates:
        want = apply_matrix(want, m, qs)
    model = CostModel({k: 1.0 for k in range(1, 6)}, {k: 0.5 for k in range(1, 6)})
    for width, promote in ((1, False), (2, False), (3, False), (4, False), (3, True), (4, True)):
        blocks = fuse(gates, width, model, promote_low=promote)
        assert all(b.k <= max(width, 2) for b in blocks)
        if promote:  # every dense block confined to qubits 0-2 has the one promoted shape
            assert all(b.qubits == [0, 1, 2] for b in blocks
                       if not b.diagonal and max(b.qubits) < 3)
        assert sum(b.count for b in blocks) == len(gates)
        for runs in (schedule(blocks, 3), schedule(blocks, 99)):
            got = psi
            for run in runs:
                for b in run:
                    m = np.diag(b.matrix) if b.diagonal else b.matrix
                    got = apply_matrix(got, m, b.qubits)
            assert np.allclose(got, want, atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.integers(1, 5))
def test_embed_equals_reference(data: st.DataObject, k: int) -> None:
    """Fusion's index-table embedding of a small matrix equals applying it to the identity."""
    r = data.draw(st.integers(1, k))
    pos = data.draw(st.permutations(range(k)))[:r]
    seed = data.draw(st.integers(0, 2**32 - 1))
    m = _rand_unitary(r, np.random.default_rng(seed))
    want = apply_matrix(np.eye(1 << k, dtype=np.complex128), m, pos)
    assert np.allclose(_embed(m, pos, k), want, atol=1e-15)


@pytest.mark.parametrize("n", [3, 4, 9])
def test_low3_kernel_equals_reference(n: int) -> None:
    rng = np.random.default_rng()
    psi = _rand_state(n, rng)
    m = _rand_unitary(3, rng)
    args = pack_block(Block([0, 1, 2], m, False), np.complex128)
    assert args[0] == kernels.KIND_LOW3
    got = psi.copy()
    kernels.run_gate(got, *args, 3)
    assert np.allclose(got, apply_matrix(psi, m, [0, 1, 2]), atol=1e-12)
    from qvalley.sim.statevector.fast import _pack_run

    tiled = psi.copy()
    kernels.run_tiled(tiled, n, *_pack_run([Block([0, 1, 2], m, False)], np.complex128))
    assert np.allclose(tiled, got, atol=1e-12)


MIXED = [(low, nh) for low in [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]
         for nh in range(1, kernels.MAX_LOWH_K - len(low) + 1)]


@pytest.mark.parametrize(("low", "nh"), MIXED)
def test_low_high_kernels_equal_reference(low: tuple[int, ...], nh: int) -> None:
    """Every mixed low/high kernel, in run_gate and run_tiled, with the operands in random order."""
    rng = np.random.default_rng()
    n = 9
    qs = list(low) + [int(q) for q in rng.choice(np.arange(3, n), nh, replace=False)]
    rng.shuffle(qs)
    m = _rand_unitary(len(qs), rng)
    psi = _rand_state(n, rng)
    args = pack_block(Block(qs, m, False), np.complex128)
    assert args[0] == kernels.KIND_LOWH
    want = apply_matrix(psi, m, qs)
    got = psi.copy()
    kernels.run_gate(got, *args, 3)
    assert np.allclose(got, want, atol=1e-12)
    from qvalley.sim.statevector.fast import _pack_run

    tb = int(max(qs)) + 1 + int(rng.integers(0, n - max(qs)))
    tiled = psi.copy()
    kernels.run_tiled(tiled, tb, *_pack_run([Block(qs, m, False)], np.complex128))
    assert np.allclose(tiled, want, atol=1e-12)


def test_cost_model_decides_fusion() -> None:
    h = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
    gates = [(h, (0,)), (h, (1,))]
    cheap_wide = CostModel({1: 1.0, 2: 1.0}, {1: 1.0, 2: 1.0})
    costly_wide = CostModel({1: 1.0, 2: 5.0}, {1: 1.0, 2: 1.0})
    assert len(fuse(gates, 2, cheap_wide)) == 1
    assert len(fuse(gates, 2, costly_wide)) == 2


def test_fusion_joins_the_last_block_on_its_qubits_past_the_window() -> None:
    """A gate joins the block that last touched its qubits even when more than WINDOW blocks on
    other qubits were opened since (a wide layer of couplers between two gates on one pair)."""
    from qvalley.sim.statevector.fusion import WINDOW

    rng = np.random.default_rng()
    n = 2 * WINDOW + 6
    layer = [(_rand_unitary(2, rng), (q, q + 1)) for q in range(0, n - 1, 2)]
    gates = layer + [(_rand_unitary(2, rng), (0, 1))]
    model = CostModel({1: 1.0, 2: 1.0, 3: 100.0}, {1: 0.5, 2: 0.5, 3: 0.5})
    blocks = fuse(gates, 3, model)
    assert len(blocks) == len(layer)
    assert blocks[0].qubits == [0, 1] and blocks[0].count == 2
    psi = _rand_state(n, rng)
    want = psi
    for m, qs in gates:
        want = apply_matrix(want, m, qs)
    got = psi
    for b in blocks:
        got = apply_matrix(got, b.matrix, b.qubits)
    assert np.allclose(got, want, atol=1e-10)


def test_fusion_of_long_random_circuits_equals_reference() -> None:
    """Many qubits and gates, so candidates beyond the recent window are exercised."""
    rng = np.random.default_rng()
    n = 12
    gates = []
    for _ in range(300):
        k = int(rng.integers(1, 3))
        qs = tuple(int(q) for q in rng.choice(n, k, replace=False))
        gates.append((_rand_unitary(k, rng), qs))
    psi = _rand_state(n, rng)
    want = psi
    for m, qs in gates:
        want = apply_matrix(want, m, qs)
    model = CostModel({1: 1.0, 2: 1.2, 3: 2.0}, {k: 0.5 for k in range(1, 6)})
    blocks = fuse(gates, 3, model)
    assert sum(b.count for b in blocks) == len(gates)
    got = psi
    for b in blocks:
        got = apply_matrix(got, np.diag(b.matrix) if b.diagonal else b.matrix, b.qubits)
    assert np.allclose(got, want, atol=1e-9)


@pytest.mark.parametrize("q", [0, 3, 7])
def test_measurement_kernels(q: int) -> None:
    rng = np.random.default_rng()
    psi = _rand_state(8, rng)
    idx = np.arange(psi.size)
    p1 = float(np.sum(np.abs(psi[(idx >> q) & 1 == 1]) ** 2))
    assert kernels.prob_one(psi, q) == pytest.approx(p1)
    flipped = psi.copy()
    kernels.flip(flipped, q)
    assert np.allclose(flipped, psi[idx ^ (1 << q)])
    col = psi.copy()
    kernels.collapse(col, q, 1, 1 / np.sqrt(p1))
    assert np.linalg.norm(col) == pytest.approx(1.0)
    assert np.all(col[(idx >> q) & 1 == 0] == 0)


def test_calibration_fills_every_table_and_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A (small) calibration measures every entry; ``cost_model`` stores it and reads it back
    instead of measuring again."""
    from qvalley.sim.statevector import fusion

    model = fusion.calibrate("single", nbits=14, rounds=1)
    for table in (model.dense, model.diag, model.dense_low):
        assert sorted(table) == list(range(1, fusion.MAX_FUSED + 1))
    assert sorted(model.mid) == [3, 4, 5]
    values = [*model.dense.values(), *model.diag.values(), *model.dense_low.values(),
              *model.mid.values(), model.low3, model.swap]
    assert all(np.isfinite(v) and v > 0 for v in values)

    monkeypatch.setenv("QVALLEY_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(fusion, "calibrate", lambda precision: model)
    assert fusion.cost_model("single") == model
    assert (tmp_path / "fusion_cost.json").exists()

    def boom(precision: str) -> fusion.CostModel:
        raise AssertionError("calibrated again instead of reading the cache")

    monkeypatch.setattr(fusion, "calibrate", boom)
    assert fusion.cost_model("single") == model


def test_mid_bit_costs_price_blocks_on_bits_3_to_5() -> None:
    """A dense block whose lowest qubit is 3-5 costs its per-bit entry, scaled by width."""
    model = CostModel({1: 1.0, 2: 2.0, 3: 4.0}, {1: 0.5, 2: 0.5, 3: 0.5}, mid={3: 6.0, 4: 3.0})
    assert model.block_cost([3, 9], False) == 6.0
    assert model.block_cost([4, 9, 12], False) == 4.0 * 3.0 / 2.0
    assert model.block_cost([5, 9], False) == 2.0  # no entry for bit 5: a high block
    assert model.block_cost([3, 9], True) == 0.5  # diagonals run the same kernel anywhere


def test_measured_model_is_made_monotone() -> None:
    """Noise cannot make a wider dense block, or one on bits 3-5, look cheaper."""
    from qvalley.sim.statevector.fusion import _sanitize

    model = CostModel({1: 0.7, 2: 0.5, 3: 1.4}, {1: 0.5}, {1: 4.0, 2: 2.0}, mid={3: 0.4, 4: 0.9},
                      tiled={1: 0.3, 2: 0.2})
    _sanitize(model)
    assert model.dense == {1: 0.7, 2: 0.7, 3: 1.4}
    assert model.dense_low == {1: 4.0, 2: 4.0}
    assert model.tiled == {1: 0.3, 2: 0.3}
    assert model.mid == {3: 0.7, 4: 0.9}
