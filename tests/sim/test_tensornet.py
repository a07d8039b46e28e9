"""Tensor-network engine: amplitudes against the statevector engine and quimb, the executor
against np.einsum, slicing, checkpoints, Dask, sampling and the CLI."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qvalley
from qvalley.bench.rcs import sycamore_rcs
from qvalley.cli.main import main
from qvalley.sim.tensornet import (
    Executor,
    TensorNetworkError,
    TensorNetworkSimulator,
    build_network,
    choose_open,
    contract,
    pairwise_sum,
    parse_memory,
    replay,
    simplify,
)

pytestmark = pytest.mark.usefixtures("tn_cache")


def _bits(n: int, idx: list[int]) -> list[str]:
    return [format(i, f"0{n}b") for i in idx]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_circuits_match_statevector_double(seed: int,
                                                   brickwork_circuit: Callable[..., qvalley.Circuit]) -> None:
    n = 8
    c = brickwork_circuit(n, 6, np.random.default_rng(seed))
    sv = qvalley.statevector(c, precision="double")
    idx = [0, 1, 37, 200, 255]
    sim = TensorNetworkSimulator(c, "double", search_time=0.3, max_repeats=8)
    for batch in (False, True):
        a = sim.amplitudes(_bits(n, idx), batch=batch)
        assert a.dtype == np.complex128
        np.testing.assert_allclose(a, sv[idx], rtol=1e-10, atol=1e-13)


def test_rcs_20_qubits_single_and_double() -> None:
    c = sycamore_rcs(4, 5, 6, seed=3)
    sv = qvalley.statevector(c, precision="double")
    rng = np.random.default_rng(0)
    idx = [int(i) for i in rng.integers(0, 2**20, 4)]
    for prec, rtol in (("double", 1e-10), ("single", 1e-5)):
        sim = TensorNetworkSimulator(c, prec, search_time=0.5, max_repeats=8)
        a = sim.amplitudes(_bits(20, idx), batch=False)
        np.testing.assert_allclose(a, sv[idx], rtol=rtol, atol=rtol * np.abs(sv[idx]).max())


def test_slicing_to_a_small_memory_cap_gives_the_same_amplitude(tmp_path: object) -> None:
    c = sycamore_rcs(3, 4, 8, seed=1)
    sv = qvalley.statevector(c, precision="double")
    sim = TensorNetworkSimulator(c, "double", max_memory=4096, search_time=0.5, max_repeats=8,
                                 threads=2)
    plan = sim.plan()
    assert plan.slices > 1
    assert plan.report()["largest_tensor_bytes"] <= 4096
    a = sim.amplitudes(_bits(12, [5, 77]), batch=False)
    np.testing.assert_allclose(a, sv[[5, 77]], rtol=1e-10)


def test_batch_amplitudes_with_open_qubits() -> None:
    c = sycamore_rcs(3, 3, 5, seed=2)
    sv = qvalley.statevector(c, precision="double")
    rng = np.random.default_rng(1)
    idx = [int(i) for i in rng.integers(0, 2**9, 60)]
    bits = _bits(9, idx)
    assert choose_open(bits)  # random strings on 9 qubits share fixed parts
    sim = TensorNetworkSimulator(c, "double", search_time=0.3, max_repeats=8)
    np.testing.assert_allclose(sim.amplitudes(bits), sv[idx], rtol=1e-10, atol=1e-14)
    vec = sim.open_amplitudes([0, 4], "000000000")
    np.testing.assert_allclose(vec, sv[[0, 1, 16, 17]], rtol=1e-10)


def test_global_phase_and_identity() -> None:
    c = qvalley.Circuit(2).h(0).id(1).cx(0, 1)
    c.global_phase = 0.7
    sv = qvalley.statevector(c, precision="double")
    a = TensorNetworkSimulator(c, search_time=0.1).amplitudes(["00", "11", "01"])
    np.testing.assert_allclose(a, sv[[0, 3, 1]], atol=1e-14)


def test_matches_quimb(brickwork_circuit: Callable[..., qvalley.Circuit]) -> None:
    quimb_tensor = pytest.importorskip("quimb.tensor")
    c = brickwork_circuit(6, 5, np.random.default_rng(7))
    qc = quimb_tensor.Circuit(6)
    for op in c.operations:
        m = op.gate.matrix()
        k = len(op.qubits)
        # quimb: first listed qubit is the most significant; ours: operand j is bit j
        qc.apply_gate_raw(m, tuple(reversed(op.qubits)), contract=False) if k > 1 else \
            qc.apply_gate_raw(m, op.qubits, contract=False)
    sim = TensorNetworkSimulator(c, search_time=0.2, max_repeats=4)
    for i in (0, 5, 42):
        b = format(i, "06b")
        ours = sim.amplitudes([b], batch=False)[0]
        theirs = qc.amplitude(b[::-1])  # quimb's string: qubit 0 leftmost
        assert abs(ours - theirs) < 1e-10


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(2, 6), st.sampled_from(["single", "double"]))
def test_executor_matches_einsum_on_random_networks(seed: int, ntensors: int, prec: str) -> None:
    import cotengra as ctg

    rng = np.random.default_rng(seed)
    letters = "abcdefghij"
    inputs = []
    for _ in range(ntensors):
        k = int(rng.integers(1, 5))
        inputs.append(tuple(str(x) for x in rng.choice(list(letters), k, replace=False)))
    counts: dict[str, int] = {}
    for t in inputs:
        for ix in t:
            counts[ix] = counts.get(ix, 0) + 1
    once = [ix for ix, k in counts.items() if k == 1]
    output = tuple(once)  # indices on one tensor stay open (no traces; cotengra preprocesses those)
    size = {ix: int(rng.integers(1, 4)) for ix in letters}
    dt = np.complex64 if prec == "single" else np.complex128
    arrays = [(rng.standard_normal([size[i] for i in t]) + 1j * rng.standard_normal(
        [size[i] for i in t])).astype(dt) for t in inputs]
    tree = ctg.array_contract_tree(inputs, output, size, optimize="greedy")
    eq = ",".join("".join(t) for t in inputs) + "->" + "".join(output)
    want = np.einsum(eq, *[a.astype(np.complex128) for a in arrays])
    got = Executor(tree).contract_core(arrays)
    assert got.shape == want.shape
    tol = 1e-4 if prec == "single" else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (1 + np.abs(want).max()))
    big = [ix for ix in counts if size[ix] > 1 and ix not in output]
    if tree.N > 1 and big:
        sliced = tree.remove_ind(big[int(rng.integers(0, len(big)))])  # slice over one index
        ex = Executor(sliced)
        res = contract(ex, arrays, progress=False)
        ref = sliced.contract(arrays)  # cotengra on the same sliced tree
        np.testing.assert_allclose(res, ref, rtol=tol, atol=tol * (1 + np.abs(ref).max()))


def test_pairwise_sum_and_memory_parser() -> None:
    parts = [np.array([1e16]), np.array([1.0]), np.array([-1e16]), np.array([1.0])]
    assert pairwise_sum(parts)[0] == 2.0 or pairwise_sum(parts)[0] == 0.0
    assert parse_memory("8GiB") == 8 * 2**30
    assert parse_memory("512MB") == 512 * 10**6
    for bad in ("lots", "8XB", "10"):
        with pytest.raises(TensorNetworkError):
            parse_memory(bad)


def test_simplification_replays_for_other_bitstrings() -> None:
    c = sycamore_rcs(2, 3, 4, seed=5)
    sv = qvalley.statevector(c, precision="double")
    net = build_network(c, {q: 0 for q in range(6)})
    simp = simplify(net)
    assert len(simp.inputs) < len(net.arrays) / 3  # one-qubit gates and vectors absorbed
    cz = build_network(qvalley.Circuit(2).cz(0, 1), {0: 0, 1: 0})
    assert max(a.ndim for a in cz.arrays) == 3  # CZ split by rank into 3-index tensors
    import cotengra as ctg

    cache: dict[int, np.ndarray] = {}
    for i in (0, 9, 63):
        leaves = list(net.arrays)
        for q in range(6):
            leaves[len(leaves) - 6 + q] = np.eye(2)[(i >> q) & 1].astype(complex)
        arrs = replay(simp, leaves, net.variable, cache)
        val = ctg.array_contract(arrs, simp.inputs, simp.output, optimize="greedy")
        assert abs(val - sv[i]) < 1e-12
    assert cache


def test_checkpoint_resume(tmp_path: object) -> None:
    from pathlib import Path

    ck = Path(str(tmp_path)) / "ck.npz"
    c = sycamore_rcs(3, 4, 8, seed=1)
    sv = qvalley.statevector(c, precision="double")
    sim = TensorNetworkSimulator(c, max_memory=4096, search_time=0.3, max_repeats=8,
                                 checkpoint=ck, threads=1)
    n = sim.plan().slices
    calls = []

    def interrupt(i: int) -> None:
        calls.append(i)
        if len(calls) == n // 2:
            raise KeyboardInterrupt

    net, pl, _ = sim._plans[()]
    leaves = list(net.arrays)
    arrays = replay(pl.simplified, leaves, net.variable)
    with pytest.raises(KeyboardInterrupt):
        contract(pl.executor, arrays, checkpoint=ck, key="k", on_slice=interrupt)
    # nothing saved until 2 s passed, or partial: resume either way
    from qvalley.sim.tensornet.executor import _save_checkpoint

    _save_checkpoint(ck, "k", {i: pl.executor.contract_core(pl.executor.slice_arrays(arrays, i))
                               for i in range(n // 2)})
    seen = []
    res = contract(pl.executor, arrays, checkpoint=ck, key="k", on_slice=seen.append)
    assert len(seen) == n - n // 2  # only the missing slices ran
    assert abs(complex(res) - sv[0]) < 1e-12
    with pytest.raises(TensorNetworkError, match="another contraction"):
        contract(pl.executor, arrays, checkpoint=ck, key="other")


def test_dask_local_cluster() -> None:
    distributed = pytest.importorskip("distributed")
    c = sycamore_rcs(3, 4, 8, seed=1)
    sv = qvalley.statevector(c, precision="double")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as lc, distributed.Client(lc) as client:
        sim = TensorNetworkSimulator(c, max_memory=4096, search_time=0.3, max_repeats=8,
                                     cluster=client)
        a = sim.amplitudes(_bits(12, [3, 1000]), batch=False)
    np.testing.assert_allclose(a, sv[[3, 1000]], rtol=1e-10)


def test_sampling_exact_and_frugal() -> None:
    c = sycamore_rcs(2, 3, 5, seed=4)
    p = qvalley.probabilities(c, precision="double")
    sim = TensorNetworkSimulator(c, search_time=0.2, max_repeats=4)
    counts = sim.sample(4000, seed=3)
    assert sum(counts.values()) == 4000
    assert counts == sim.sample(4000, seed=3)
    emp = np.zeros(64)
    for b, k in counts.items():
        emp[int(b, 2)] = k / 4000
    assert 0.5 * np.abs(emp - p).sum() < 0.1
    frugal = sim.sample(2000, seed=5, exact_max=0)
    emp = np.zeros(64)
    for b, k in frugal.items():
        emp[int(b, 2)] = k / 2000
    assert 0.5 * np.abs(emp - p).sum() < 0.12


def test_bad_input_errors() -> None:
    c = qvalley.Circuit(2).h(0).measure_all().h(0)
    with pytest.raises(TensorNetworkError):
        build_network(c, {0: 0, 1: 0})
    sim = TensorNetworkSimulator(qvalley.Circuit(2).h(0), search_time=0.1)
    with pytest.raises(TensorNetworkError):
        sim.amplitudes(["012"])
    with pytest.raises(TensorNetworkError):
        TensorNetworkSimulator(qvalley.Circuit(2), precision="half")


def _write(tmp_path: object, c: qvalley.Circuit) -> str:
    from pathlib import Path

    p = Path(str(tmp_path)) / "c.qsim"
    from qvalley.formats.qsim import dumps

    p.write_text(dumps(c))
    return str(p)


def test_cli_amplitude_and_plan(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    c = sycamore_rcs(2, 3, 4, seed=1)
    path = _write(tmp_path, c)
    circ = qvalley.load(path)
    sv = qvalley.statevector(circ, precision="double")
    assert main(["amplitude", path, "--bitstring", "000000", "--bitstring", "000101",
                 "--search-time", "0.2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"amplitudes", "log10_flops", "largest_tensor_log2", "slices", "seconds"}
    re_, im = out["amplitudes"]["000101"]
    assert abs(complex(re_, im) - sv[5]) < 1e-10
    assert main(["plan", path, "--max-memory", "2KiB", "--search-time", "0.2", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["largest_tensor_bytes"] <= 2048 and rep["slices"] >= 1
    assert math.isfinite(rep["estimated_seconds"])
    assert main(["amplitude", path, "--bitstring", "01", "--search-time", "0.2"]) == 2
    assert "6 characters" in capsys.readouterr().err
    assert main(["plan", path, "--max-memory", "lots"]) == 2
    assert main(["run", path, "--method", "tensornet", "--shots", "50", "--seed", "1",
                 "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["method"] == "tensornet" and sum(run["counts"].values()) == 50


def test_cli_xeb_tensornet(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["xeb", "--device", "sycamore-53", "--qubits", "6", "--cycles", "3", "--shots",
                 "300", "--no-noise", "--method", "tensornet", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["method"] == "tensornet"
    assert r["xeb"] > 0.3  # ideal sampling of a shallow circuit scores well above 0


def test_emulator_method_tensornet() -> None:
    from qvalley.emulator import choose_method, run_on_device

    assert choose_method("tensornet", 60, False)[0] == "tensornet"
    with pytest.raises(qvalley.QValleyError):
        choose_method("tensornet", 10, True)
    r = run_on_device(qvalley.Circuit(2).h(0).cx(0, 1), "ideal", shots=100, seed=1,
                      noise=False, method="tensornet")
    assert r.method == "tensornet" and set(r.counts) <= {"00", "11"}


def test_google_sycamore_qsim_fixture_matches_quimb() -> None:
    """Google's n53 circuit (first half cycle): loads with our qsim reader and contracts; equal
    to quimb's own qsim reader + contraction up to one global phase (gate phase conventions)."""
    from pathlib import Path

    path = Path(__file__).parent.parent / "data" / "circuit_n53_m10_s0_e0_pABCDCDAB_moments0-2.qsim"
    c = qvalley.load(str(path))
    assert c.num_qubits == 53
    sim = TensorNetworkSimulator(c, search_time=0.3, max_repeats=8)
    bits = ["0" * 53, "0" * 50 + "101", "1" * 53]
    ours = sim.amplitudes(bits, batch=False)
    assert np.all(np.abs(ours) > 0)
    qtn = pytest.importorskip("quimb.tensor")
    qc = qtn.Circuit.from_qsim_file(str(path))
    theirs = np.array([qc.amplitude(b[::-1]) for b in bits])  # quimb: qubit 0 leftmost
    np.testing.assert_allclose(np.abs(ours), np.abs(theirs), rtol=1e-9)
    phase = ours / theirs
    np.testing.assert_allclose(phase, phase[0], rtol=1e-9)


def test_cli_checkpoint_with_several_bitstrings(tmp_path: object,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    c = sycamore_rcs(3, 4, 8, seed=1)
    path = _write(tmp_path, c)
    sv = qvalley.statevector(qvalley.load(path), precision="double")
    ck = str(Path(str(tmp_path)) / "ck.npz")
    args = ["amplitude", path, "--bitstring", "000000000101", "--bitstring", "110000000000",
            "--max-memory", "4KiB", "--search-time", "0.3", "--checkpoint", ck, "--json"]
    for _ in range(2):  # the second run resumes from the finished checkpoints
        assert main(args) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["slices"] > 1
        re_, im = out["amplitudes"]["110000000000"]
        assert abs(complex(re_, im) - sv[0b110000000000]) < 1e-10
    # both bitstrings are one batched contraction: one checkpoint file
    assert [p.name for p in Path(str(tmp_path)).glob("ck*.npz")] == ["ck.npz"]
    # one contraction per bitstring: one file each, next to FILE
    ck2 = Path(str(tmp_path)) / "one" / "ck.npz"
    ck2.parent.mkdir()
    for _ in range(2):
        sim = TensorNetworkSimulator(qvalley.load(path), max_memory=4096, search_time=0.3,
                                     max_repeats=8, checkpoint=ck2, batch_size=1)
        a = sim.amplitudes(["000000000101", "110000000000"])
        np.testing.assert_allclose(a, sv[[0b101, 0b110000000000]], rtol=1e-10)
    assert len(list(ck2.parent.glob("ck.*.npz"))) == 2


def test_slicing_a_cached_tree_is_deterministic() -> None:
    """A tree over the cap is sliced the same way every time, whatever the interpreter's random
    state: a checkpoint written by one process belongs to the next process's contraction."""
    import random

    from qvalley.sim.tensornet.engine import slice_to

    sim = TensorNetworkSimulator(sycamore_rcs(3, 4, 8, seed=1), max_memory=1 << 20,
                                 search_time=0.3, max_repeats=8, cache=False)
    tree = sim.plan(()).tree
    assert tree.max_size() > 16
    got = set()
    for s in range(4):
        random.seed(s)
        sliced = slice_to(tree, 16)
        assert sliced.max_size() <= 16 and sliced.sliced_inds
        got.add((tuple(sliced.sliced_inds), repr(sliced.get_path())))
    assert len(got) == 1
    assert not tree.sliced_inds  # the cached tree itself is left as it was
