"""Cascade (numba vs reference, efficiency), exact Toeplitz hashing, Wegman-Carter authentication."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qvalley.network.qkd.amplification as amp
from qvalley.network.qkd import AuthenticationError, QKDError, h2
from qvalley.network.qkd.amplification import toeplitz_hash, toeplitz_hash_reference
from qvalley.network.qkd.auth import AuthenticatedChannel, KeyPool
from qvalley.network.qkd.cascade import cascade, cascade_reference


def _noisy(n: int, q: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n, dtype=np.uint8)
    return a, a ^ (rng.random(n) < q).astype(np.uint8)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cascade_fast_path_equals_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 3000))
    q = float(rng.uniform(0.005, 0.08))
    a, b = _noisy(n, q, seed + 100)
    fast = cascade(a, b, q, seed, passes=int(rng.integers(1, 8)))
    ref = cascade_reference(a, b, q, seed, passes=fast.passes)
    assert np.array_equal(fast.corrected, ref.corrected)
    assert (fast.leaked_bits, fast.errors_corrected, fast.pass_leak) == (
        ref.leaked_bits,
        ref.errors_corrected,
        ref.pass_leak,
    )
    assert np.array_equal(fast.parities, ref.parities)


@pytest.mark.parametrize("q", [0.01, 0.02, 0.03, 0.05])
def test_cascade_corrects_with_f_at_most_1_10_on_1e5_bits(q: float) -> None:
    a, b = _noisy(100_000, q, int(q * 1000))
    r = cascade(a, b, q, seed=9)
    assert np.array_equal(r.corrected, a)
    e = float(np.mean(a != b))
    assert r.errors_corrected == int(np.sum(a != b))
    f = r.leaked_bits / (a.size * h2(e))
    assert 1.0 < f <= 1.10
    assert sum(r.pass_leak) == r.leaked_bits == r.parities.size


def test_cascade_bad_input() -> None:
    with pytest.raises(QKDError):
        cascade(np.zeros(3, np.uint8), np.zeros(4, np.uint8), 0.01, 0)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), m_frac=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_toeplitz_fft_equals_dense_gf2(n: int, m_frac: float, seed: int) -> None:
    m = round(m_frac * n)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n, dtype=np.uint8)
    t = rng.integers(0, 2, max(n + m - 1, 0), dtype=np.uint8)
    assert np.array_equal(toeplitz_hash(x, t, m), toeplitz_hash_reference(x, t, m))


def test_toeplitz_chunked_path_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    n, m = 2000, 1500
    x = rng.integers(0, 2, n, dtype=np.uint8)
    t = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    ref = toeplitz_hash_reference(x, t, m)
    monkeypatch.setattr(amp, "CHUNK_BITS", 97)
    assert np.array_equal(toeplitz_hash(x, t, m), ref)


def test_toeplitz_large_all_ones_worst_case_is_exact() -> None:
    # all-ones input and seed maximise the convolution values (= chunk length): the round-off check
    # inside toeplitz_hash must pass, and every output bit is the parity of n ones.
    n = 1 << 20
    x = np.ones(n, dtype=np.uint8)
    t = np.ones(n + 7, dtype=np.uint8)
    assert np.all(toeplitz_hash(x, t, 8) == (n & 1))


def test_toeplitz_bad_lengths() -> None:
    with pytest.raises(QKDError, match="seed bits"):
        toeplitz_hash(np.zeros(10, np.uint8), np.zeros(5, np.uint8), 3)


def test_authenticated_channel_accepts_and_rejects() -> None:
    pool = bytes(range(256)) * 2
    ch = AuthenticatedChannel(KeyPool(bytearray(pool)), KeyPool(bytearray(pool)))
    assert ch.send("alice", b"parities") == b"parities"
    assert ch.messages == 1 and ch.key_bytes_used == 32
    evil = AuthenticatedChannel(
        KeyPool(bytearray(pool)), KeyPool(bytearray(pool)), tamper=lambda s, p: p[:-1] + bytes([p[-1] ^ 1])
    )
    with pytest.raises(AuthenticationError, match="failed authentication"):
        evil.send("bob", b"bases")
    other = AuthenticatedChannel(KeyPool(bytearray(pool)), KeyPool(bytearray(pool[::-1])))
    with pytest.raises(AuthenticationError):
        other.send("alice", b"x")
    short = AuthenticatedChannel(KeyPool(bytearray(20)), KeyPool(bytearray(20)))
    with pytest.raises(AuthenticationError, match="exhausted"):
        short.send("alice", b"x")


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 1500),
    q=st.floats(0.0, 0.2),
    passes=st.integers(1, 6),
    k1=st.one_of(st.none(), st.integers(1, 64)),
    seed=st.integers(0, 2**31 - 1),
)
def test_cascade_kernel_equals_reference_hypothesis(
    n: int, q: float, passes: int, k1: int | None, seed: int
) -> None:
    a, b = _noisy(n, q, seed)
    fast = cascade(a, b, q, seed, passes=passes, k1=k1)
    ref = cascade_reference(a, b, q, seed, passes=passes, k1=k1)
    assert np.array_equal(fast.corrected, ref.corrected)
    assert np.array_equal(fast.parities, ref.parities)
    assert fast.leaked_bits == ref.leaked_bits
    # every flip corrects a real error
    assert int(np.sum(fast.corrected != a)) == int(np.sum(a != b)) - fast.errors_corrected
