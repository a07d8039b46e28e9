"""Shared fixtures of the simulator tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def tn_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Contraction paths cached in this test session's own folder (one per xdist worker), not in
    ``~/.cache/qvalley``."""
    monkeypatch.setenv("QVALLEY_CACHE", str(tmp_path_factory.getbasetemp() / "tn-cache"))
