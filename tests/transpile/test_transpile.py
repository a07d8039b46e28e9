"""Transpiler: couplers respected, native gates only, exact state (global phase included)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from qvalley import Circuit, TranspileError
from qvalley.circuit.gates import GATES, Gate
from qvalley.sim.statevector.reference import apply_matrix
from qvalley.transpile import num_cx, synthesize_2q, transpile


@dataclass(frozen=True)
class Dev:
    name: str
    num_qubits: int
    couplers: tuple[tuple[int, int], ...] | None
    native_gates: tuple[str, ...]


def line(n: int) -> tuple[tuple[int, int], ...]:
    return tuple((i, i + 1) for i in range(n - 1))


def ring(n: int) -> tuple[tuple[int, int], ...]:
    return line(n) + ((0, n - 1),)


def grid(r: int, c: int) -> tuple[tuple[int, int], ...]:
    out = []
    for i in range(r):
        for j in range(c):
            q = i * c + j
            if j + 1 < c:
                out.append((q, q + 1))
            if i + 1 < r:
                out.append((q, q + c))
    return tuple(out)


NATIVES = {
    "sqlattice": ("sx", "rz", "cz"),
    "zuchongzhi": ("sx", "sy", "sw", "rz", "fsim"),
    "ideal": tuple(GATES),
    "ucx": ("u", "cx"),
}
COUPLINGS = {"line": (9, line(9)), "ring": (8, ring(8)), "grid": (12, grid(3, 4)),
             "all": (10, None)}

ONE_Q = ["h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "sy", "sw", "rx", "ry", "rz", "p", "u"]
TWO_Q = ["cx", "cz", "cp", "swap", "iswap", "rzz", "crx", "fsim", "cy", "ch"]


def random_circuit(n: int, depth: int, rng: np.random.Generator, measure: bool = False) -> Circuit:
    c = Circuit(n, n if measure else 0)
    for _ in range(depth):
        r = rng.random()
        if r < 0.45:
            name = ONE_Q[rng.integers(len(ONE_Q))]
            qs = [int(rng.integers(n))]
        elif r < 0.95 or n < 3:
            name = TWO_Q[rng.integers(len(TWO_Q))]
            qs = [int(x) for x in rng.choice(n, 2, replace=False)]
        else:
            name = "ccx"
            qs = [int(x) for x in rng.choice(n, 3, replace=False)]
        params = [float(x) for x in rng.uniform(-math.pi, math.pi, GATES[name].num_params)]
        c.append(Gate(name, params), qs)
    if measure:
        for q in range(n):
            c.measure(q, q)
    return c


def embed_state(psi: np.ndarray, n: int, nphys: int, layout: list[int]) -> np.ndarray:
    """Amplitudes of an n-qubit state placed on physical qubits ``layout[v]`` (others |0>)."""
    out = np.zeros(1 << nphys, dtype=complex)
    idx = np.arange(1 << n)
    phys = np.zeros_like(idx)
    for v in range(n):
        phys |= ((idx >> v) & 1) << layout[v]
    out[phys] = psi
    return out


def state(c: Circuit) -> np.ndarray:
    psi = np.zeros(1 << c.num_qubits, dtype=complex)
    psi[0] = 1
    for op in c.operations:
        if op.name in ("measure", "barrier"):
            continue
        psi = apply_matrix(psi, op.gate.matrix(), op.qubits)  # type: ignore[attr-defined]
    return psi * np.exp(1j * float(c.global_phase))


def check(circ: Circuit, dev: Dev, seed_info: str, level: int = 2) -> None:
    r = transpile(circ, dev, seed=1, optimization_level=level)
    out = r.circuit
    assert out.num_qubits == dev.num_qubits
    edges = None if dev.couplers is None else {tuple(sorted(e)) for e in dev.couplers}
    for op in out.operations:
        if op.name in ("measure", "reset", "barrier"):
            continue
        assert op.name in dev.native_gates, f"{seed_info}: non-native {op.name}"
        if len(op.qubits) == 2 and edges is not None:
            assert tuple(sorted(op.qubits)) in edges, f"{seed_info}: {op.qubits} not a coupler"
    assert r.two_qubit_gates == sum(1 for o in out.operations if len(o.qubits) == 2)
    assert sorted(set(r.initial_layout)) == sorted(r.initial_layout)
    want = embed_state(state(circ), circ.num_qubits, dev.num_qubits, r.final_layout)
    got = state(out)
    err = np.abs(want - got).max()
    assert err < 1e-9, f"{seed_info}: state differs by {err:.2e} (level {level})"


@pytest.mark.parametrize("native", list(NATIVES))
@pytest.mark.parametrize("coupling", list(COUPLINGS))
def test_random_circuits_exact(native: str, coupling: str) -> None:
    seed = int(np.random.SeedSequence().entropy % (1 << 32))  # type: ignore[operator]
    rng = np.random.default_rng(seed)
    nphys, edges = COUPLINGS[coupling]
    dev = Dev(f"{coupling}-{native}", nphys, edges, NATIVES[native])
    for k in range(2):
        n = int(rng.integers(2, nphys + 1))
        circ = random_circuit(n, int(rng.integers(5, 30)), rng)
        check(circ, dev, f"seed={seed} trial={k} n={n}", level=(2, 1)[k])


def test_level0_and_3() -> None:
    seed = int(np.random.SeedSequence().entropy % (1 << 32))  # type: ignore[operator]
    rng = np.random.default_rng(seed)
    dev = Dev("grid", 12, grid(3, 4), NATIVES["sqlattice"])
    for level in (0, 3):
        check(random_circuit(7, 25, rng), dev, f"seed={seed}", level=level)


def test_measurements_map_to_physical_qubits() -> None:
    seed = int(np.random.SeedSequence().entropy % (1 << 32))  # type: ignore[operator]
    rng = np.random.default_rng(seed)
    dev = Dev("line", 7, line(7), NATIVES["sqlattice"])
    circ = random_circuit(6, 30, rng, measure=True)
    r = transpile(circ, dev, seed=3)
    probs_in = np.abs(state(circ)) ** 2
    # deferred measurement: copy each measured physical qubit into a fresh ancilla (= its clbit)
    nphys, ncl = dev.num_qubits, circ.num_clbits
    deferred = Circuit(nphys + ncl, 0, [], r.circuit.global_phase)
    for op in r.circuit.operations:
        if op.name == "measure":
            deferred.cx(op.qubits[0], nphys + op.clbits[0])
        else:
            deferred.append(op.gate, op.qubits)
    pout = np.abs(state(deferred)) ** 2
    dist_out = pout.reshape(1 << ncl, 1 << nphys).sum(axis=1)
    assert np.allclose(dist_out, probs_in, atol=1e-9), f"seed={seed}"


def test_mid_circuit_measure_reset_condition() -> None:
    c = Circuit(3, 2).h(0).cx(0, 2).measure(0, 0).reset(0)
    c.append(Gate("x"), 1, condition=((0,), 1))
    c.cx(1, 2).measure(2, 1)
    dev = Dev("line", 4, line(4), NATIVES["ucx"])
    r = transpile(c, dev)
    names = [o.name for o in r.circuit.operations]
    assert names.count("measure") == 2 and "reset" in names
    cond = [o for o in r.circuit.operations if o.condition is not None]
    assert cond and all(o.condition.clbits == (0,) for o in cond)  # type: ignore[union-attr]


def test_errors() -> None:
    with pytest.raises(TranspileError, match=r"3 qubits.*'tiny'"):
        transpile(Circuit(3).cx(0, 2), Dev("tiny", 2, ((0, 1),), ("cx", "u")))
    split = Dev("split", 4, ((0, 1), (2, 3)), ("cx", "u"))
    with pytest.raises(TranspileError, match="split"):
        transpile(Circuit(3).cx(0, 1).cx(1, 2), split)
    r = transpile(Circuit(4).cx(0, 1).cx(2, 3), split)
    assert r.two_qubit_gates == 2


def test_fsim_zero_pi_is_cz() -> None:
    assert np.array_equal(np.round(Gate("fsim", (0.0, math.pi)).matrix(), 15),
                          np.round(Gate("cz").matrix(), 15))


def test_two_qubit_synthesis_minimal() -> None:
    rng = np.random.default_rng()
    for name, params, k in [("cx", (), 1), ("cp", (0.3,), 2), ("swap", (), 3), ("iswap", (), 2),
                            ("rzz", (0.7,), 2), ("cz", (), 1)]:
        m = Gate(name, params).matrix()
        loc = np.kron(*[np.linalg.qr(rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2)))[0]
                        for _ in range(2)])
        u = loc @ m
        assert num_cx(u) == k, name
        res = synthesize_2q(u)
        assert res is not None
        steps, _ph = res
        assert sum(1 for _, p in steps if len(p) == 2) == k


def test_api_fields_and_no_device() -> None:
    r = transpile(Circuit(3).h(0).cx(0, 2), coupling=[(0, 1), (1, 2)], basis=["cz", "sx", "rz"])
    d = r.to_dict()
    assert set(d) == {"initial_layout", "final_layout", "two_qubit_gates", "depth", "seconds"}
    assert r.circuit.num_qubits == 3
