"""Every gate proves its own consistency, and its matrix matches an independent library."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qvalley import CircuitError, Gate, UnitaryGate
from qvalley.circuit import ALIASES, GATES
from qvalley.testing import assert_gate_consistent


def _random_params(name: str, rng: np.random.Generator) -> list[float]:
    return list(rng.uniform(-2 * math.pi, 2 * math.pi, GATES[name].num_params))


@pytest.mark.parametrize("name", sorted(GATES))
def test_every_gate_is_consistent(name: str) -> None:
    rng = np.random.default_rng()  # fresh parameters each run
    for _ in range(3):
        assert_gate_consistent(Gate(name, _random_params(name, rng)))


@pytest.mark.parametrize("name", sorted(GATES))
def test_diagonal_flag_matches_matrix(name: str) -> None:
    g = Gate(name, _random_params(name, np.random.default_rng(1)))
    m = g.matrix()
    off = m - np.diag(np.diag(m))
    assert g.is_diagonal == bool(np.allclose(off, 0))


def test_unitary_gate_is_consistent_and_validated() -> None:
    rng = np.random.default_rng()
    for n in (1, 2, 3):
        a = rng.normal(size=(1 << n, 1 << n)) + 1j * rng.normal(size=(1 << n, 1 << n))
        q, _ = np.linalg.qr(a)
        assert_gate_consistent(UnitaryGate(q))
    with pytest.raises(CircuitError, match="not unitary"):
        UnitaryGate([[1, 1], [0, 1]])
    with pytest.raises(CircuitError, match="power of two"):
        UnitaryGate(np.eye(3))


def test_one_qubit_unitary_decomposition_covers_edge_cases() -> None:
    for m in (np.eye(2), [[0, 1], [1, 0]], [[0, 1j], [1j, 0]], np.diag([1j, -1j])):
        assert_gate_consistent(UnitaryGate(m))


def test_aliases_map_to_the_same_matrix() -> None:
    assert Gate("u3", (0.1, 0.2, 0.3)) == Gate("u", (0.1, 0.2, 0.3))
    assert Gate("cnot") == Gate("cx")
    assert np.allclose(Gate("u1", (0.4,)).matrix(), Gate("p", (0.4,)).matrix())
    assert np.allclose(Gate("cu3", (0.1, 0.2, 0.3)).matrix(),
                       Gate("cu", (0.1, 0.2, 0.3, 0.0)).matrix())
    assert set(ALIASES).isdisjoint(GATES)


def test_bad_gate_use_is_a_clear_error() -> None:
    with pytest.raises(CircuitError, match="unknown gate 'foo'"):
        Gate("foo")
    with pytest.raises(CircuitError, match="takes 1 parameters, got 0"):
        Gate("rx")
    with pytest.raises(CircuitError, match="finite"):
        Gate("rx", (float("nan"),))


cirq = pytest.importorskip("cirq")


def _cirq_matrix(gate: object, n: int) -> np.ndarray:
    """cirq unitary converted to little-endian operand order (cirq: first qubit most significant)."""
    u = cirq.unitary(gate)
    perm = list(reversed(range(n)))
    return u.reshape((2,) * 2 * n).transpose(perm + [n + p for p in perm]).reshape(1 << n, 1 << n)


@pytest.mark.parametrize(
    ("name", "params", "make"),
    [
        ("sx", (), lambda: cirq.X**0.5),
        ("sy", (), lambda: cirq.Y**0.5),
        ("sw", (), lambda: cirq.PhasedXPowGate(phase_exponent=0.25, exponent=0.5)),
        ("fsim", (0.7, 0.3), lambda: cirq.FSimGate(0.7, 0.3)),
        ("iswap", (), lambda: cirq.ISWAP),
        ("rx", (0.9,), lambda: cirq.rx(0.9)),
        ("ry", (0.9,), lambda: cirq.ry(0.9)),
        ("rz", (0.9,), lambda: cirq.rz(0.9)),
        ("cz", (), lambda: cirq.CZ),
        ("ccx", (), lambda: cirq.CCX),
        ("cswap", (), lambda: cirq.CSWAP),
        ("rxx", (0.4,), lambda: cirq.XXPowGate(exponent=0.4 / math.pi, global_shift=-0.5)),
        ("rzz", (0.4,), lambda: cirq.ZZPowGate(exponent=0.4 / math.pi, global_shift=-0.5)),
    ],
)
def test_matrix_matches_cirq(name: str, params: tuple[float, ...], make: object) -> None:
    g = Gate(name, params)
    assert np.allclose(g.matrix(), _cirq_matrix(make(), g.num_qubits), atol=1e-12)  # type: ignore[operator]


def test_matrices_match_qiskit_library() -> None:
    qlib = pytest.importorskip("qiskit.circuit.library")
    rng = np.random.default_rng()
    pairs = {"h": "HGate", "s": "SGate", "sdg": "SdgGate", "t": "TGate", "sx": "SXGate",
             "sxdg": "SXdgGate", "rx": "RXGate", "ry": "RYGate", "rz": "RZGate", "p": "PhaseGate",
             "u": "UGate", "u2": "U2Gate", "cx": "CXGate", "cy": "CYGate", "cz": "CZGate",
             "ch": "CHGate", "cp": "CPhaseGate", "crx": "CRXGate", "cry": "CRYGate",
             "crz": "CRZGate", "cu": "CUGate", "swap": "SwapGate", "iswap": "iSwapGate",
             "ecr": "ECRGate", "rxx": "RXXGate", "ryy": "RYYGate", "rzz": "RZZGate",
             "rzx": "RZXGate", "ccx": "CCXGate", "cswap": "CSwapGate", "ccz": "CCZGate",
             "cs": "CSGate", "csdg": "CSdgGate", "csx": "CSXGate"}
    for ours, theirs in pairs.items():
        p = _random_params(ours, rng)
        q = getattr(qlib, theirs)(*p)
        assert np.allclose(Gate(ours, p).matrix(), q.to_matrix(), atol=1e-12), ours
