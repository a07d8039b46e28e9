"""Key-rate physics against Ma, Qi, Zhao & Lo, PRA 72, 012326 (2005), GYS parameters.

Published GYS values we check (MQZL Sec. V / Fig. 1-3): the infinite-decoy maximum distance is
142.05 km with an optimal mu of about 0.48; the vacuum+weak protocol approaches it as nu -> 0 and
is within a few km for nu = 0.05; GLLP without decoys stops far earlier (below 50 km). Our yields are
the exact ``1 - (1 - Y0)(1 - eta)^i`` instead of MQZL's ``Y0 + eta_i``; that moves the cutoff by
about 0.15 km, so the tolerance on 142.05 km is 0.5 km (the bisection itself resolves 1 m).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qvalley.network.qkd import KeyRate, LinkParameters, QKDError, key_rate, max_distance

GYS = LinkParameters.gys()


def test_gys_parameters_and_round_trip() -> None:
    assert (GYS.alpha_db_per_km, GYS.eta_bob, GYS.y0, GYS.e_d, GYS.f, GYS.q, GYS.rate_hz) == (
        0.21,
        0.045,
        1.7e-6,
        0.033,
        1.22,
        0.5,
        2e6,
    )
    assert LinkParameters.from_dict(json.loads(json.dumps(GYS.to_dict()))) == GYS
    with pytest.raises(QKDError, match="unknown"):
        LinkParameters.from_dict({**GYS.to_dict(), "bogus": 1})
    with pytest.raises(QKDError, match="eta_bob"):
        LinkParameters(0.2, 1.5, 1e-6, 0.01, 1.2, 0.5, 1e6)


def test_infinite_decoy_max_distance_matches_paper() -> None:
    assert max_distance(GYS, "infinite") / 1e3 == pytest.approx(142.05, abs=0.5)


def test_optimal_mu_matches_paper() -> None:
    r = key_rate(GYS, 0.0, "infinite")
    assert 0.45 < r.mu < 0.52
    # optimum really is a maximum
    for m in (r.mu * 0.9, r.mu * 1.1):
        assert key_rate(GYS, 0.0, "infinite", mu=m).rate_per_pulse < r.rate_per_pulse


def test_vacuum_weak_approaches_infinite_decoy() -> None:
    inf = max_distance(GYS, "infinite")
    d01 = max_distance(GYS, "vacuum+weak", nu=0.01)
    d05 = max_distance(GYS, "vacuum+weak", nu=0.05)
    d10 = max_distance(GYS, "vacuum+weak", nu=0.1)
    assert d10 < d05 < d01 < inf
    assert inf - d01 < 1e3 and inf - d05 < 3e3
    for d in (10e3, 60e3, 120e3):
        a, b = key_rate(GYS, d, "vacuum+weak").rate_per_pulse, key_rate(GYS, d, "infinite").rate_per_pulse
        assert 0 < a < b and a > 0.8 * b


def test_gllp_is_much_shorter_and_rate_zero_beyond_reach() -> None:
    d = max_distance(GYS, "none")
    assert 20e3 < d < 50e3
    r = key_rate(GYS, 200e3, "vacuum+weak")
    assert isinstance(r, KeyRate) and r.rate_per_pulse == 0 and r.rate_bps == 0


def test_gain_and_qber_model() -> None:
    r = key_rate(GYS, 0.0, "infinite", mu=0.5)
    eta = GYS.eta_bob
    import math

    q = 1 - (1 - GYS.y0) * math.exp(-eta * 0.5)
    assert r.gain == pytest.approx(q, rel=1e-12)
    assert r.qber == pytest.approx(0.033, abs=5e-4)


def test_finite_key_shortens_distance_and_converges() -> None:
    asym = max_distance(GYS, "vacuum+weak")
    small = max_distance(GYS, "vacuum+weak", block_size=1e9)
    big = max_distance(GYS, "vacuum+weak", block_size=1e14)
    assert small < big < asym
    assert asym - big < 5e3


def test_bad_inputs() -> None:
    with pytest.raises(QKDError, match="decoy"):
        key_rate(GYS, 1e3, "two")
    with pytest.raises(QKDError, match="nu"):
        key_rate(GYS, 1e3, "vacuum+weak", mu=0.1, nu=0.2)
    with pytest.raises(QKDError, match="distance"):
        key_rate(GYS, -1.0)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qvalley.cli.main", "qkd", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_keyrate_json_and_plot(tmp_path: object) -> None:
    from pathlib import Path

    out = _cli("keyrate", "--max-distance", "--decoy", "infinite", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"rate_per_pulse", "rate_bps", "mu", "qber", "gain", "max_distance_km"}
    assert data["max_distance_km"] == pytest.approx(142.05, abs=0.5)
    png = Path(str(tmp_path)) / "rate.png"
    out = _cli("keyrate", "--distance", "25", "--plot", str(png), "--json")
    assert out.returncode == 0, out.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = _cli("keyrate", "--distance", "10", "--eta-bob", "3")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
