"""Shared fixtures of the simulator tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import qvalley


@pytest.fixture
def tn_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Contraction paths cached in this test session's own folder (one per xdist worker), not in
    ``~/.cache/qvalley``."""
    monkeypatch.setenv("QVALLEY_CACHE", str(tmp_path_factory.getbasetemp() / "tn-cache"))


def _brickwork(n: int, depth: int, rng: np.random.Generator) -> qvalley.Circuit:
    c = qvalley.Circuit(n)
    for _ in range(depth):
        for q in range(n):
            c.u(*rng.uniform(0, 2 * np.pi, 3), q)
        for q in range(int(rng.integers(0, 2)), n - 1, 2):
            kind = rng.integers(0, 4)
            if kind == 0:
                c.cz(q, q + 1)
            elif kind == 1:
                c.cx(q + 1, q)
            elif kind == 2:
                c.cp(float(rng.uniform(0, 3)), q, q + 1)
            else:
                c.fsim(float(rng.uniform(0, 3)), float(rng.uniform(0, 3)), q, q + 1)
    return c


@pytest.fixture(scope="session")
def brickwork_circuit() -> Callable[[int, int, np.random.Generator], qvalley.Circuit]:
    """``f(n, depth, rng)``: ``depth`` layers of random U on every qubit, then CZ, CX, CP or fSim
    on alternating neighbour pairs (the tensor-network tests' random circuits)."""
    return _brickwork
