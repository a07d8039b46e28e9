"""Decoy-state BB84, event by event, with the full classical post-processing.

:func:`simulate_pulses` draws every pulse (vectorised numpy, in chunks): Alice's intensity class
(signal ``mu``, weak decoy ``nu``, vacuum) and a 48-bit uniform that decides, against the class's
exact Poisson probabilities, whether photons reach Bob (or, under attack, what Eve receives). Only
pulses that give a click need their bit, bases and photon numbers, which are then drawn for those
events: zero-truncated Poisson photon numbers, per-photon misalignment ``e_d`` (matching bases) or a
fair split (other basis), dark counts in each of Bob's two detectors (``Y0 / 2`` each), double clicks
squashed to a random bit. This is exactly the pulse-by-pulse distribution, drawn with far fewer
random numbers. Eavesdroppers:

* ``intercept-resend``: Eve measures every non-empty pulse in a random basis next to Alice and
  resends one photon in her basis and result (25% errors on sifted attacked pulses);
* ``pns``: photon-number splitting: Eve blocks single photons, keeps one photon of every multi-photon
  pulse and forwards the rest over a lossless line, thinned so that the signal gain looks honest.
  The decoy estimate then finds too few single-photon events and the link aborts.

:func:`run_link` then performs, over an :class:`~qvalley.network.qkd.auth.AuthenticatedChannel`:
sifting, disclosure of the decoy bits and a random sample of the signal bits, decoy estimation
(MQZL vacuum + weak bounds with ``n_sigma`` statistical fluctuation), abort checks, Cascade,
a verification hash, Toeplitz privacy amplification and replenishment of the authentication pool.

Final key length (GLLP with decoy estimates)::

    l = floor(n1_L * (1 - H2(e1_U)) - leak_EC - verify_bits - 2 * log2(1 / eps_pa))

with ``n1_L = n_key * Q1_L / Q_mu`` the single-photon share of the key bits.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from numpy.typing import NDArray

from .amplification import toeplitz_hash
from .auth import AuthenticatedChannel, KeyPool
from .cascade import cascade
from .errors import QKDError
from .physics import LinkParameters, decoy_bounds, h2

EVES: tuple[str, ...] = ("none", "intercept-resend", "pns")
CHUNK = 1 << 22
QBER_ABORT = 0.11
VERIFY_BITS = 64
EPS_PA = 1e-10


@dataclass(frozen=True)
class Detections:
    """Bob's clicks (one entry per clicked pulse) and Alice's per-class pulse counts.

    Attributes:
        pulse: pulse index of each click.
        cls: intensity class (0 signal, 1 weak decoy, 2 vacuum).
        a_bit, a_basis, b_basis, b_bit: Alice's bit and basis, Bob's basis and (squashed) result.
        attacked: True where Eve interacted with the pulse.
        sent: pulses sent per class.
        double_clicks: clicks in both detectors (squashed to a random bit).
    """

    pulse: NDArray[np.int64]
    cls: NDArray[np.uint8]
    a_bit: NDArray[np.uint8]
    a_basis: NDArray[np.uint8]
    b_basis: NDArray[np.uint8]
    b_bit: NDArray[np.uint8]
    attacked: NDArray[np.bool_]
    sent: tuple[int, int, int]
    double_clicks: int


@dataclass(frozen=True)
class LinkResult:
    """Outcome of :func:`run_link` (JSON fields of ``qvalley qkd link`` plus the keys and estimates)."""

    sifted_bits: int
    qber: float
    leaked_ec_bits: int
    ec_efficiency: float
    secret_bits: int
    aborted: bool
    abort_reason: str | None
    seconds: float
    alice_key: NDArray[np.uint8] = field(repr=False)
    bob_key: NDArray[np.uint8] = field(repr=False)
    gains: tuple[float, float, float] = (0.0, 0.0, 0.0)
    qbers: tuple[float, float, float] = (0.0, 0.0, 0.0)
    y1_lower: float = 0.0
    e1_upper: float = 0.5
    auth_messages: int = 0
    auth_key_bits: int = 0
    auth_pool: bytes = field(default=b"", repr=False)

    def to_dict(self) -> dict[str, object]:
        """The CLI's JSON fields."""
        return {
            "sifted_bits": self.sifted_bits,
            "qber": self.qber,
            "leaked_ec_bits": self.leaked_ec_bits,
            "ec_efficiency": self.ec_efficiency,
            "secret_bits": self.secret_bits,
            "aborted": self.aborted,
            "abort_reason": self.abort_reason,
            "seconds": self.seconds,
        }


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _truncated_poisson(rng: np.random.Generator, lam: NDArray[np.float64], kmin: int) -> NDArray[np.int64]:
    """Poisson(lam) conditioned on >= kmin: inverse CDF on the tail, one term at a time (O(size) memory)."""
    if lam.size == 0:
        return np.zeros(0, dtype=np.int64)
    kmax = 60
    # P(K = k) / P(K >= kmin) accumulated from k = kmin upwards
    log_tail = np.log(-np.expm1(-lam)) if kmin == 1 else np.log(-np.expm1(-lam) - lam * np.exp(-lam))
    u = rng.random(lam.size)
    out = np.full(lam.size, kmin, dtype=np.int64)
    cum = np.zeros(lam.size)
    log_lam = np.log(lam)
    for k in range(kmin, kmax):
        cum += np.exp(k * log_lam - lam - math.lgamma(k + 1) - log_tail)
        above = u >= cum
        if not above.any():
            break
        out += above
    return out


def _classes(w: NDArray[np.uint64], thr_cls: NDArray[np.uint64]) -> NDArray[np.uint8]:
    lo16 = w & np.uint64(0xFFFF)
    return ((lo16 >= thr_cls[0]).view(np.uint8) + (lo16 >= thr_cls[1]).view(np.uint8)).astype(np.uint8)


def _scan_reference(
    w: NDArray[np.uint64], thr_cls: NDArray[np.uint64], thr_evt: NDArray[np.uint64]
) -> tuple[NDArray[np.int64], NDArray[np.uint8], NDArray[np.int64]]:
    """Per-pulse pass (numpy): class from the low 16 bits, event from the high 48 bits of ``w``.

    Returns the indices of pulses with a photon event, their classes, and pulses per class.
    """
    cls = _classes(w, thr_cls)
    counts = np.bincount(cls, minlength=3).astype(np.int64)
    ev = np.flatnonzero((w >> np.uint64(16)) < thr_evt[cls]).astype(np.int64)
    return ev, cls[ev], counts


@njit(cache=True)
def _scan_kernel(w, thr_cls, thr_evt, out_idx, out_cls, counts):  # type: ignore[no-untyped-def]
    m = 0
    t0 = thr_cls[0]
    t1 = thr_cls[1]
    for i in range(w.shape[0]):
        x = w[i]
        lo = x & np.uint64(0xFFFF)
        c = 0
        if lo >= t0:
            c = 1
            if lo >= t1:
                c = 2
        counts[c] += 1
        if (x >> np.uint64(16)) < thr_evt[c]:
            out_idx[m] = i
            out_cls[m] = c
            m += 1
    return m


def _scan(
    w: NDArray[np.uint64], thr_cls: NDArray[np.uint64], thr_evt: NDArray[np.uint64]
) -> tuple[NDArray[np.int64], NDArray[np.uint8], NDArray[np.int64]]:
    """Numba fast path of :func:`_scan_reference` (same signature and result)."""
    out_idx = np.empty(w.shape[0], dtype=np.int64)
    out_cls = np.empty(w.shape[0], dtype=np.uint8)
    counts = np.zeros(3, dtype=np.int64)
    m = _scan_kernel(w, thr_cls, thr_evt, out_idx, out_cls, counts)
    return out_idx[:m].copy(), out_cls[:m].copy(), counts


def _sorted_member(haystack: NDArray[np.int64], needles: NDArray[np.int64]) -> NDArray[np.bool_]:
    """``np.isin(needles, haystack)`` for a sorted ``haystack``."""
    if haystack.size == 0:
        return np.zeros(needles.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(haystack, needles), haystack.size - 1)
    return np.asarray(haystack[pos] == needles)


def simulate_pulses(
    params: LinkParameters,
    distance_m: float,
    pulses: int,
    *,
    mu: float = 0.5,
    nu: float = 0.1,
    probs: tuple[float, float, float] = (0.7, 0.2, 0.1),
    eve: str = "none",
    seed: int | np.random.Generator | None = None,
) -> Detections:
    """Send ``pulses`` pulses through the fibre and return Bob's clicks (see the module docstring)."""
    if eve not in EVES:
        raise QKDError(f"unknown eavesdropper {eve!r}; use one of {', '.join(EVES)}")
    if pulses < 1:
        raise QKDError(f"pulses must be >= 1, got {pulses}")
    if not (0 < nu < mu) or abs(sum(probs) - 1) > 1e-9 or min(probs) < 0:
        raise QKDError(
            f"need 0 < nu < mu and class probabilities summing to 1, got mu={mu}, nu={nu}, {probs}"
        )
    rng = _rng(seed)
    eta = params.transmittance(distance_m)
    lam = np.array([mu, nu, 0.0])
    if eve == "none":
        p_event = 1.0 - np.exp(-lam * eta)  # >= 1 photon reaches (and is detected by) Bob
    elif eve == "intercept-resend":
        p_event = 1.0 - np.exp(-lam)  # Eve sees a non-empty pulse
    else:
        p_event = 1.0 - np.exp(-lam) * (1.0 + lam)  # multi-photon pulse (n >= 2)
        # forwarding probability so that the signal gain matches the honest one
        ns = np.arange(2, 41)
        pn = np.exp(ns * math.log(mu) - mu - np.array([math.lgamma(k + 1) for k in ns]))
        s_click = float(np.sum(pn * (1.0 - (1.0 - params.eta_bob) ** (ns - 1))))
        p_fwd = min(1.0, (1.0 - math.exp(-mu * eta)) / s_click)
    thr_cls = np.cumsum(np.array(probs[:2]) * 65536.0).astype(np.uint64)
    thr_evt = np.minimum(np.floor(p_event * 2.0**48), 2.0**48).astype(np.uint64)
    idx_l: list[NDArray[np.int64]] = []
    cls_l: list[NDArray[np.uint8]] = []
    sent = np.zeros(3, dtype=np.int64)
    for start in range(0, pulses, CHUNK):
        c = min(CHUNK, pulses - start)
        w = rng.bit_generator.random_raw(c)
        ev, cls_ev, counts = _scan(w, thr_cls, thr_evt)
        sent += counts
        # dark counts: each detector independently with probability Y0/2 per pulse
        nd = rng.binomial(c, params.y0 / 2.0, size=2)
        dk0 = np.unique(rng.integers(0, c, nd[0]))
        dk1 = np.unique(rng.integers(0, c, nd[1]))
        darks = np.union1d(dk0, dk1)
        extra = darks[~_sorted_member(ev, darks)]
        at = np.searchsorted(ev, extra)
        allidx = np.insert(ev, at, extra)
        cls_all = np.insert(cls_ev, at, _classes(w[extra], thr_cls))
        idx_l.append(
            np.stack([allidx + start, _sorted_member(ev, allidx), _sorted_member(dk0, allidx),
                      _sorted_member(dk1, allidx)])
        )
        cls_l.append(cls_all)
    table = np.concatenate(idx_l, axis=1) if idx_l else np.zeros((4, 0), dtype=np.int64)
    pulse = table[0].astype(np.int64)
    photon_evt = table[1].astype(bool)
    d0 = table[2].astype(bool)
    d1 = table[3].astype(bool)
    cls = np.concatenate(cls_l) if cls_l else np.zeros(0, dtype=np.uint8)
    m = pulse.size
    rb = rng.bit_generator.random_raw(m)  # one word per event: independent fair bits
    a_bit = (rb & np.uint64(1)).astype(np.uint8)
    a_basis = ((rb >> np.uint64(1)) & np.uint64(1)).astype(np.uint8)
    b_basis = ((rb >> np.uint64(2)) & np.uint64(1)).astype(np.uint8)
    squash_bit = ((rb >> np.uint64(3)) & np.uint64(1)).astype(np.uint8)
    src_bit = a_bit.copy()
    src_basis = a_basis.copy()
    k = np.zeros(m, dtype=np.int64)
    attacked = np.zeros(m, dtype=bool)
    pe = np.flatnonzero(photon_evt)
    lam_e = lam[cls[pe]]
    if eve == "none":
        k[pe] = _truncated_poisson(rng, lam_e * eta, 1)
    elif eve == "intercept-resend":
        attacked[pe] = True
        e_basis = ((rb[pe] >> np.uint64(4)) & np.uint64(1)).astype(np.uint8)
        same = e_basis == a_basis[pe]
        e_guess = ((rb[pe] >> np.uint64(5)) & np.uint64(1)).astype(np.uint8)
        e_bit = np.where(same, a_bit[pe], e_guess).astype(np.uint8)
        src_bit[pe] = e_bit
        src_basis[pe] = e_basis
        k[pe] = (rng.random(pe.size) < eta).astype(np.int64)  # the resent photon crosses the fibre
    else:
        attacked[pe] = True
        n = _truncated_poisson(rng, lam_e, 2)
        fwd = rng.random(pe.size) < p_fwd
        k[pe] = np.where(fwd, rng.binomial(n - 1, params.eta_bob), 0)
    p_wrong = np.where(src_basis == b_basis, params.e_d, 0.5)
    # Binomial(k, p_wrong): a uniform for the (common) single photon, numpy's sampler for k >= 2
    wrong = ((k >= 1) & (rng.random(m) < p_wrong)).astype(np.int64)
    multi = np.flatnonzero(k >= 2)
    wrong[multi] = rng.binomial(k[multi], p_wrong[multi])
    right = k - wrong
    # detector "src_bit" gets the right photons, the other detector the wrong ones (when bases match;
    # otherwise 'right'/'wrong' are a fair split and the labels do not matter)
    click_right = right > 0
    click_wrong = wrong > 0
    c1 = np.where(src_bit == 1, click_right, click_wrong) | d1
    c0 = np.where(src_bit == 1, click_wrong, click_right) | d0
    clicked = c0 | c1
    both = c0 & c1
    b_bit = np.where(both, squash_bit, c1.astype(np.uint8)).astype(np.uint8)
    keep = np.flatnonzero(clicked)
    return Detections(
        pulse=pulse[keep],
        cls=cls[keep],
        a_bit=a_bit[keep],
        a_basis=a_basis[keep],
        b_basis=b_basis[keep],
        b_bit=b_bit[keep],
        attacked=attacked[keep],
        sent=(int(sent[0]), int(sent[1]), int(sent[2])),
        double_clicks=int(both.sum()),
    )


def _pool_after(chan: AuthenticatedChannel) -> bytes:
    a = bytes(chan.pools["alice"].data)
    if a != bytes(chan.pools["bob"].data):  # pragma: no cover - both ends consume in lock step
        raise QKDError("the two ends' authentication pools diverged")
    return a


def _pack(bits: NDArray[np.uint8]) -> bytes:
    return bytes(np.packbits(bits.astype(np.uint8)).tobytes())


def _empty() -> NDArray[np.uint8]:
    return np.zeros(0, dtype=np.uint8)


def run_link(
    params: LinkParameters,
    distance_m: float,
    pulses: int,
    eve: str = "none",
    seed: int | None = None,
    *,
    mu: float = 0.5,
    nu: float = 0.1,
    probs: tuple[float, float, float] = (0.7, 0.2, 0.1),
    sample_fraction: float = 0.1,
    n_sigma: float = 3.0,
    auth_pool: bytes | None = None,
) -> LinkResult:
    """Run one block of the link: pulses, sifting, estimation, Cascade, verification, amplification.

    Args:
        params: the link.
        distance_m: fibre length (m).
        pulses: pulses sent.
        eve: ``"none"``, ``"intercept-resend"`` or ``"pns"``.
        seed: seed of everything random (Alice, Bob, Eve, the channel, public random choices).
        mu, nu, probs: signal and weak-decoy intensities; probabilities of signal, weak, vacuum.
        sample_fraction: share of signal sifted bits disclosed to estimate the QBER.
        n_sigma: standard deviations of statistical fluctuation in the decoy estimate.
        auth_pool: the pre-shared authentication key (default: 4 KiB drawn from ``seed``). Pass the
            previous block's ``LinkResult.auth_pool`` to chain blocks: a successful block returns the
            pool refilled to its starting size from its own key; an aborted block returns it
            depleted by what its messages used.

    Returns:
        A :class:`LinkResult`; ``alice_key`` and ``bob_key`` are the final keys (empty when aborted).
    """
    t0 = time.perf_counter()
    if not 0 < sample_fraction < 1:
        raise QKDError(f"sample_fraction must be in (0, 1), got {sample_fraction}")
    rng = _rng(seed)
    pool0 = auth_pool if auth_pool is not None else rng.bytes(4096)
    chan = AuthenticatedChannel(KeyPool(bytearray(pool0)), KeyPool(bytearray(pool0)))
    det = simulate_pulses(params, distance_m, pulses, mu=mu, nu=nu, probs=probs, eve=eve, seed=rng)

    def result(reason: str | None, **kw: object) -> LinkResult:
        base: dict[str, object] = {
            "sifted_bits": 0,
            "qber": 0.0,
            "leaked_ec_bits": 0,
            "ec_efficiency": 0.0,
            "secret_bits": 0,
            "alice_key": _empty(),
            "bob_key": _empty(),
        }
        base.update(kw)
        return LinkResult(
            aborted=reason is not None,
            abort_reason=reason,
            seconds=time.perf_counter() - t0,
            auth_messages=chan.messages,
            auth_key_bits=8 * chan.key_bytes_used,
            auth_pool=_pool_after(chan),
            **base,  # type: ignore[arg-type]
        )

    # 1-2. sifting: Bob announces his click slots and bases; Alice the matching mask and classes
    chan.send("bob", det.pulse.astype(np.int64).tobytes() + _pack(det.b_basis))
    match = det.a_basis == det.b_basis
    chan.send("alice", _pack(match) + det.cls.tobytes())
    sent = np.array(det.sent, dtype=np.float64)
    gains = tuple(float(np.sum(det.cls == c) / sent[c]) if sent[c] else 0.0 for c in range(3))
    sift_cls = det.cls[match]
    a_s, b_s = det.a_bit[match], det.b_bit[match]
    # 3. disclose all decoy bits and a random sample of signal bits
    sig = np.flatnonzero(sift_cls == 0)
    sample = (
        np.sort(rng.choice(sig, size=round(sample_fraction * sig.size), replace=False)) if sig.size else sig
    )
    key_idx = np.setdiff1d(sig, sample)
    dec = np.flatnonzero(sift_cls != 0)
    chan.send("alice", sample.astype(np.int64).tobytes() + _pack(a_s[sample]) + _pack(a_s[dec]))
    chan.send("bob", _pack(b_s[sample]) + _pack(b_s[dec]))
    qbers = tuple(
        float(np.mean(a_s[ix] != b_s[ix])) if ix.size else 0.5
        for ix in (sample, dec[sift_cls[dec] == 1], dec[sift_cls[dec] == 2])
    )
    n_key = int(key_idx.size)
    common: dict[str, object] = {
        "sifted_bits": int(sig.size),
        "qber": qbers[0],
        "gains": gains,
        "qbers": qbers,
    }
    if sig.size == 0 or sample.size == 0:
        return result("no sifted signal bits: the link is too long or too few pulses", **common)
    if qbers[0] > QBER_ABORT:
        return result(f"QBER {qbers[0]:.3f} exceeds {QBER_ABORT} (eavesdropping or a broken link)", **common)
    # 4. decoy estimate from the observed gains and error rates
    y1, e1 = decoy_bounds(
        mu,
        nu,
        q_mu=gains[0],
        q_nu=gains[1],
        eq_nu=gains[1] * qbers[1],
        y0=gains[2],
        e0=params.e0,
        n_mu=sent[0],
        n_nu=sent[1],
        n_0=sent[2],
        n_sigma=n_sigma,
    )
    common.update(y1_lower=y1, e1_upper=e1)
    q1 = y1 * mu * math.exp(-mu)
    n1 = n_key * min(q1 / gains[0], 1.0) if gains[0] > 0 else 0.0
    budget = n1 * (1.0 - h2(e1)) - VERIFY_BITS - 2 * math.log2(1 / EPS_PA)
    if y1 <= 0 or budget - 1.0 * n_key * h2(qbers[0]) <= 0:
        return result(
            f"decoy estimate leaves no key (single-photon yield >= {y1:.3g}, phase error <= {e1:.3f})",
            **common,
        )
    # 5. Cascade (Alice's parities of each pass form one authenticated message; Bob's requests another)
    ka, kb = a_s[key_idx], b_s[key_idx]
    cseed = int(rng.integers(0, 2**63))
    chan.send("bob", cseed.to_bytes(8, "little"))
    rec = cascade(ka, kb, max(qbers[0], 1e-3), cseed)
    off = 0
    for p, pl in enumerate(rec.pass_leak):
        chan.send("bob", p.to_bytes(2, "little") + pl.to_bytes(8, "little"))
        chan.send("alice", _pack(rec.parities[off : off + pl]))
        off += pl
    kb = rec.corrected
    qber = rec.errors_corrected / n_key
    leak = rec.leaked_bits
    f = leak / (n_key * h2(qber)) if qber > 0 else math.inf
    common.update(qber=qber, leaked_ec_bits=leak, ec_efficiency=f)
    # 6. verification hash (keyed by public randomness; 64 bits disclosed)
    hkey = rng.bytes(32)
    ha = hashlib.blake2b(_pack(ka), key=hkey, digest_size=VERIFY_BITS // 8).digest()
    chan.send("alice", hkey + ha)
    if hashlib.blake2b(_pack(kb), key=hkey, digest_size=VERIFY_BITS // 8).digest() != ha:
        return result("verification hash mismatch after Cascade: block discarded", **common)
    # 7. privacy amplification
    ell = math.floor(budget - leak)
    if ell <= 0:
        return result(f"no key after error correction (length {ell} <= 0)", **common)
    tseed = rng.integers(0, 2, n_key + ell - 1, dtype=np.uint8)
    chan.send("alice", _pack(tseed))
    key_a = toeplitz_hash(ka, tseed, ell)
    key_b = toeplitz_hash(kb, tseed, ell)
    # 8. replenish both authentication pools with what this block consumed
    used_bits = 8 * chan.key_bytes_used
    if ell <= used_bits:
        return result(f"key of {ell} bits does not cover the {used_bits} authentication bits used", **common)
    chan.pools["alice"].add(_pack(key_a[:used_bits]))
    chan.pools["bob"].add(_pack(key_b[:used_bits]))
    return result(
        None, secret_bits=ell - used_bits, alice_key=key_a[used_bits:], bob_key=key_b[used_bits:], **common
    )
