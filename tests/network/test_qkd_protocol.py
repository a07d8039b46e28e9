"""The event-by-event link: statistics against the analytic model, honest keys, attacks."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from qvalley.network.qkd import LinkParameters, QKDError
from qvalley.network.qkd.protocol import run_link, simulate_pulses

GYS = LinkParameters.gys()


def test_simulated_gains_and_qber_match_the_model() -> None:
    d = simulate_pulses(GYS, 25e3, 4_000_000, mu=0.5, nu=0.1, seed=11)
    eta = GYS.transmittance(25e3)
    for c, lam in ((0, 0.5), (1, 0.1)):
        expect = 1 - (1 - GYS.y0) * math.exp(-eta * lam)
        n = d.sent[c]
        got = np.sum(d.cls == c) / n
        assert abs(got - expect) < 5 * math.sqrt(expect / n)  # 5 sigma
    s = (d.cls == 0) & (d.a_basis == d.b_basis)
    qber = float(np.mean(d.a_bit[s] != d.b_bit[s]))
    q_mu = 1 - (1 - GYS.y0) * math.exp(-eta * 0.5)
    e_mu = (0.5 * GYS.y0 + GYS.e_d * (1 - math.exp(-eta * 0.5))) / q_mu
    assert abs(qber - e_mu) < 5 * math.sqrt(e_mu / s.sum())
    assert sum(d.sent) == 4_000_000


def test_same_seed_same_result() -> None:
    a = simulate_pulses(GYS, 10e3, 200_000, seed=3)
    b = simulate_pulses(GYS, 10e3, 200_000, seed=3)
    assert np.array_equal(a.pulse, b.pulse) and np.array_equal(a.b_bit, b.b_bit)


def test_honest_25km_link_gives_identical_keys() -> None:
    r = run_link(GYS, 25e3, 30_000_000, seed=5)
    assert not r.aborted and r.abort_reason is None
    assert r.secret_bits > 1000 and r.alice_key.size == r.secret_bits
    assert np.array_equal(r.alice_key, r.bob_key)
    assert 0.02 < r.qber < 0.05 and 1.0 < r.ec_efficiency <= 1.10
    assert r.auth_messages > 20 and r.y1_lower > 0 and r.e1_upper < 0.11
    # the key is balanced (no stuck bits)
    assert 0.45 < r.alice_key.mean() < 0.55


def test_intercept_resend_raises_qber_and_aborts() -> None:
    d = simulate_pulses(GYS, 25e3, 2_000_000, eve="intercept-resend", seed=2)
    s = d.attacked & (d.a_basis == d.b_basis) & (d.cls == 0)
    qber_attacked = float(np.mean(d.a_bit[s] != d.b_bit[s]))
    # 25% from the attack, plus misalignment on Eve's correct-basis resends (about e_d / 2)
    assert abs(qber_attacked - (0.25 + GYS.e_d / 2)) < 0.02
    r = run_link(GYS, 25e3, 2_000_000, eve="intercept-resend", seed=2)
    assert r.aborted and r.secret_bits == 0 and r.qber > 0.2 and "QBER" in (r.abort_reason or "")
    assert r.alice_key.size == 0


def test_pns_attack_is_caught_by_the_decoys() -> None:
    r = run_link(GYS, 25e3, 4_000_000, eve="pns", seed=4)
    assert r.qber < 0.11  # PNS does not raise the QBER ...
    assert r.aborted and r.secret_bits == 0 and "decoy" in (r.abort_reason or "")  # ... decoys see it


def test_too_few_pulses_aborts_cleanly() -> None:
    r = run_link(GYS, 100e3, 20_000, seed=1)
    assert r.aborted and r.secret_bits == 0


def test_bad_arguments() -> None:
    with pytest.raises(QKDError, match="eavesdropper"):
        run_link(GYS, 1e3, 1000, eve="mallory")


def test_cli_link_json() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "qvalley.cli.main",
            "qkd",
            "link",
            "--distance",
            "25",
            "--pulses",
            "2000000",
            "--eve",
            "intercept-resend",
            "--seed",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert list(data) == [
        "sifted_bits",
        "qber",
        "leaked_ec_bits",
        "ec_efficiency",
        "secret_bits",
        "aborted",
        "abort_reason",
        "seconds",
    ]
    assert data["aborted"] is True and data["secret_bits"] == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pulse_scan_kernel_equals_numpy_reference(seed: int) -> None:
    from qvalley.network.qkd.protocol import _scan, _scan_reference

    rng = np.random.default_rng(seed)
    w = rng.bit_generator.random_raw(int(rng.integers(1, 50_000)))
    thr_cls = np.sort(rng.integers(0, 65536, 2)).astype(np.uint64)
    thr_evt = rng.integers(0, 2**48, 3).astype(np.uint64)
    for got, ref in zip(_scan(w, thr_cls, thr_evt), _scan_reference(w, thr_cls, thr_evt), strict=True):
        assert np.array_equal(got, ref)


def test_failed_verification_discards_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    import qvalley.network.qkd.protocol as proto
    from qvalley.network.qkd.cascade import cascade as real

    def broken(alice, bob, qber, seed):  # type: ignore[no-untyped-def]
        r = real(alice, bob, qber, seed, passes=1, k1=alice.size)  # one parity: leaves errors
        return r

    monkeypatch.setattr(proto, "cascade", broken)
    r = run_link(GYS, 25e3, 30_000_000, seed=5)
    assert r.aborted and "verification" in (r.abort_reason or "") and r.secret_bits == 0
    assert r.alice_key.size == 0 and r.bob_key.size == 0


@pytest.mark.parametrize(("lam", "kmin"), [(0.5, 2), (0.004, 1), (2.5, 1)])
def test_truncated_poisson_matches_scipy(lam: float, kmin: int) -> None:
    from scipy.stats import poisson

    from qvalley.network.qkd.protocol import _truncated_poisson

    n = 200_000
    x = _truncated_poisson(np.random.default_rng(7), np.full(n, lam), kmin)
    assert x.min() >= kmin
    ks = np.arange(kmin, kmin + 6)
    p = poisson.pmf(ks, lam) / poisson.sf(kmin - 1, lam)
    emp = np.array([np.mean(x == k) for k in ks])
    assert np.all(np.abs(emp - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-5)


def test_authentication_pool_is_replenished_and_chains_blocks() -> None:
    pool = bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))
    r1 = run_link(GYS, 20e3, 20_000_000, seed=21, auth_pool=pool)
    assert not r1.aborted
    assert len(r1.auth_pool) == len(pool) and r1.auth_pool != pool  # refilled from the new key
    used = r1.auth_key_bits // 8
    assert r1.auth_pool[: len(pool) - used] == pool[used:]  # consumed from the front ...
    assert r1.auth_pool[len(pool) - used :] != pool[:used]  # ... refilled with fresh key at the back
    r2 = run_link(GYS, 20e3, 20_000_000, seed=22, auth_pool=r1.auth_pool)
    assert not r2.aborted and np.array_equal(r2.alice_key, r2.bob_key)
    bad = run_link(GYS, 20e3, 2_000_000, eve="intercept-resend", seed=23, auth_pool=pool)
    assert bad.aborted and len(bad.auth_pool) == len(pool) - bad.auth_key_bits // 8


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--distance", "-1"], "--distance"),
        (["--distance", "10", "--pulses", "10"], "--pulses"),
        (["--distance", "10", "--eve", "mallory"], "--eve"),
    ],
)
def test_cli_link_bad_input_is_one_line(args: list[str], needle: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "qvalley.cli.main", "qkd", "link", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and needle in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
