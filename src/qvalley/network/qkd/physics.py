"""Asymptotic (and optionally finite-size) secure key rates of decoy-state BB84 over fibre.

Model and notation follow Ma, Qi, Zhao & Lo, "Practical decoy state for quantum key distribution",
PRA 72, 012326 (2005) (called MQZL below):

* transmittance ``eta = eta_Bob * 10**(-alpha * L / 10)`` (``alpha`` in dB/km, ``L`` in km);
* ``i``-photon yield ``Y_i = Y0 + 1 - (1 - eta)**i`` (MQZL use ``Y0 + eta_i``; the difference is
  ``O(Y0 * eta)``), error ``e_i = (e0 * Y0 + e_d * (Y_i - Y0)) / Y_i``;
* gain ``Q_mu = Y0 + 1 - exp(-eta * mu)`` and QBER ``E_mu = (e0 * Y0 + e_d * (1 - exp(-eta*mu))) / Q_mu``;
* GLLP key rate ``R = q * (-Q_mu * f * H2(E_mu) + Q_1 * (1 - H2(e_1)))`` with the single-photon gain
  ``Q_1 = Y_1 * mu * exp(-mu)``.

Decoy models (``decoy=``):

* ``"infinite"``: ``Y_1`` and ``e_1`` are known exactly (the limit of infinitely many decoys);
* ``"vacuum+weak"``: MQZL's practical bounds (their Eqs. (34)-(37)) from the gains of the signal
  ``mu``, a weak decoy ``nu`` and the vacuum::

      Y1_L = mu / (mu*nu - nu**2) * (Q_nu e^nu - Q_mu e^mu nu**2/mu**2 - (mu**2 - nu**2)/mu**2 * Y0)
      e1_U = (E_nu Q_nu e^nu - e0 Y0) / (Y1_L nu)

* ``"none"``: GLLP without decoys; all multi-photon signals are assumed attacked,
  ``Q_1 >= Q_mu - P_multi`` with ``P_multi = 1 - (1 + mu) e^{-mu}``, ``e_1 <= E_mu Q_mu / Q_1``.

Finite size (``block_size=N`` pulses, ``vacuum+weak`` and ``infinite``): MQZL Sec. VI's statistical
fluctuation — each measured gain ``Q`` of an intensity sent ``N_k = N * p_k`` times is replaced by its
worst case ``Q * (1 -+ n_sigma / sqrt(N_k * Q))`` (and likewise ``E*Q``), with ``n_sigma`` standard
deviations (default 10, as in MQZL's simulations, failure probability ~1e-23 per quantity). The
intensities are sent with probabilities ``p_mu = 1 - 2*decoy_fraction``, ``p_nu = p_0 = decoy_fraction``
and the rate per pulse is multiplied by ``p_mu`` (only signals give key).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from .errors import QKDError

DecoyModel = Literal["none", "infinite", "vacuum+weak"]
DECOY_MODELS: tuple[str, ...] = ("none", "infinite", "vacuum+weak")
DEFAULT_NU = 0.05


def h2(p: float) -> float:
    """Binary entropy in bits; 0 at p in {0, 1}, and h2(p) = 1 for p >= 0.5 (clipped)."""
    if p <= 0.0:
        return 0.0
    if p >= 0.5:
        return 1.0
    return float(-p * math.log2(p) - (1.0 - p) * math.log2(1.0 - p))


@dataclass(frozen=True)
class LinkParameters:
    """Physical parameters of one fibre QKD link (SI except the fibre loss in dB/km).

    Attributes:
        alpha_db_per_km: fibre attenuation (dB per km).
        eta_bob: Bob's total detection efficiency (optics times detector), 0..1.
        y0: dark-count (background) yield per pulse, 0..1.
        e_d: misalignment (optical) error probability of a detected photon.
        f: error-correction inefficiency (leak / (n * H2(QBER))), >= 1.
        q: basis-sifting factor (1/2 for symmetric BB84).
        rate_hz: pulse repetition rate (Hz).
        e0: error probability of a background count (1/2: random).
    """

    alpha_db_per_km: float
    eta_bob: float
    y0: float
    e_d: float
    f: float
    q: float
    rate_hz: float
    e0: float = 0.5

    def __post_init__(self) -> None:
        checks = (
            ("alpha_db_per_km", self.alpha_db_per_km >= 0),
            ("eta_bob", 0 < self.eta_bob <= 1),
            ("y0", 0 <= self.y0 < 1),
            ("e_d", 0 <= self.e_d <= 0.5),
            ("f", self.f >= 1),
            ("q", 0 < self.q <= 1),
            ("rate_hz", self.rate_hz > 0),
            ("e0", 0 <= self.e0 <= 1),
        )
        for name, ok in checks:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and ok):
                raise QKDError(f"link parameter {name}={value!r} is out of range")

    @classmethod
    def gys(cls) -> LinkParameters:
        """The GYS experiment (Gobby, Yuan & Shields 2004) parameters used in MQZL's Table/Figs."""
        return cls(alpha_db_per_km=0.21, eta_bob=0.045, y0=1.7e-6, e_d=0.033, f=1.22, q=0.5, rate_hz=2e6)

    def to_dict(self) -> dict[str, float]:
        """JSON-ready dict (field names as keys)."""
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkParameters:
        """Inverse of :meth:`to_dict`; unknown keys or missing required ones raise :class:`QKDError`."""
        if not isinstance(data, dict):
            raise QKDError("link parameters must be a JSON object")
        known = {"alpha_db_per_km", "eta_bob", "y0", "e_d", "f", "q", "rate_hz", "e0"}
        extra = set(data) - known
        if extra:
            raise QKDError(f"unknown link parameter(s): {', '.join(sorted(extra))}")
        missing = known - {"e0"} - set(data)
        if missing:
            raise QKDError(f"missing link parameter(s): {', '.join(sorted(missing))}")
        try:
            return cls(**{k: float(v) for k, v in data.items()})
        except (TypeError, ValueError) as exc:
            if isinstance(exc, QKDError):
                raise
            raise QKDError(f"link parameters must be numbers: {exc}") from None

    def transmittance(self, distance_m: float) -> float:
        """Overall transmittance eta (fibre times Bob) at ``distance_m`` metres."""
        return self.eta_bob * 10.0 ** (-self.alpha_db_per_km * (distance_m / 1000.0) / 10.0)


@dataclass(frozen=True)
class KeyRate:
    """A secure key rate at one operating point.

    Attributes:
        rate_per_pulse: secret bits per sent pulse (>= 0).
        rate_bps: secret bits per second (rate_per_pulse times the pulse rate).
        mu: signal mean photon number used.
        nu: weak-decoy mean photon number (None unless decoy == "vacuum+weak").
        qber: signal QBER E_mu.
        gain: signal gain Q_mu (detections per signal pulse).
    """

    rate_per_pulse: float
    rate_bps: float
    mu: float
    nu: float | None
    qber: float
    gain: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready dict."""
        return asdict(self)


def _gain_qber(p: LinkParameters, eta: float, x: float) -> tuple[float, float]:
    det = 1.0 - math.exp(-eta * x)
    gain = p.y0 + det - p.y0 * det  # 1 - (1 - Y0) e^{-eta x}
    err = p.e0 * p.y0 + p.e_d * det - (p.e0 * p.y0 * det)
    return gain, err / gain


def _rate(
    p: LinkParameters,
    eta: float,
    decoy: str,
    mu: float,
    nu: float,
    block_size: float | None,
    n_sigma: float,
    decoy_fraction: float,
) -> tuple[float, float, float]:
    """(rate per pulse, Q_mu, E_mu) for one mu; never negative."""
    q_mu, e_mu = _gain_qber(p, eta, mu)
    if decoy == "none":
        p_multi = 1.0 - (1.0 + mu) * math.exp(-mu)
        q1 = q_mu - p_multi
        if q1 <= 0:
            return 0.0, q_mu, e_mu
        e1 = e_mu * q_mu / q1
    elif decoy == "infinite":
        y1 = p.y0 + eta - p.y0 * eta
        e1 = (p.e0 * p.y0 + p.e_d * (y1 - p.y0)) / y1
        q1 = y1 * mu * math.exp(-mu)
        if block_size is not None:
            n_mu = block_size * (1.0 - 2.0 * decoy_fraction)
            q1 *= max(0.0, 1.0 - n_sigma / math.sqrt(n_mu * q1)) if n_mu * q1 > 0 else 0.0
            e1 = min(0.5, e1 * (1.0 + n_sigma / math.sqrt(max(n_mu * q1 * e1, 1e-300))))
    else:
        if not 0 < nu < mu:
            return 0.0, q_mu, e_mu
        q_nu, e_nu = _gain_qber(p, eta, nu)
        eq_nu = e_nu * q_nu
        y0 = p.y0
        if block_size is not None:
            n_k = block_size * decoy_fraction
            q_nu = q_nu * (1.0 - n_sigma / math.sqrt(n_k * q_nu))
            eq_nu = eq_nu * (1.0 + n_sigma / math.sqrt(n_k * eq_nu))
            y0 = y0 * (1.0 + n_sigma / math.sqrt(n_k * y0)) if y0 > 0 else 0.0
            n_mu = block_size * (1.0 - 2.0 * decoy_fraction)
            q_mu_hi = q_mu * (1.0 + n_sigma / math.sqrt(n_mu * q_mu))
        else:
            q_mu_hi = q_mu
        y1 = (
            mu
            / (mu * nu - nu * nu)
            * (
                q_nu * math.exp(nu)
                - q_mu_hi * math.exp(mu) * nu * nu / (mu * mu)
                - (mu * mu - nu * nu) / (mu * mu) * y0
            )
        )
        if y1 <= 0:
            return 0.0, q_mu, e_mu
        e1 = (eq_nu * math.exp(nu) - p.e0 * p.y0) / (y1 * nu)
        e1 = min(max(e1, 0.0), 0.5)
        q1 = y1 * mu * math.exp(-mu)
    r = p.q * (-q_mu * p.f * h2(e_mu) + q1 * (1.0 - h2(e1)))
    if block_size is not None:
        r *= 1.0 - 2.0 * decoy_fraction
    return max(r, 0.0), q_mu, e_mu


def _check(decoy: str, distance_m: float) -> None:
    if decoy not in DECOY_MODELS:
        raise QKDError(f"unknown decoy model {decoy!r}; use one of {', '.join(DECOY_MODELS)}")
    if not (math.isfinite(distance_m) and distance_m >= 0):
        raise QKDError(f"distance must be a finite number of metres >= 0, got {distance_m!r}")


def key_rate(
    params: LinkParameters,
    distance_m: float,
    decoy: str = "vacuum+weak",
    mu: float | None = None,
    nu: float | None = None,
    *,
    block_size: float | None = None,
    n_sigma: float = 10.0,
    decoy_fraction: float = 0.1,
) -> KeyRate:
    """Secure key rate of decoy-state BB84 at ``distance_m`` metres of fibre.

    Args:
        params: the link.
        distance_m: fibre length in metres.
        decoy: ``"none"`` (GLLP), ``"infinite"`` or ``"vacuum+weak"`` (MQZL's practical bounds).
        mu: signal intensity; None optimises it numerically (log grid then bounded Brent search).
        nu: weak decoy intensity for ``vacuum+weak`` (default 0.05; must be below mu).
        block_size: pulses in a finite block (None: asymptotic); see the module docstring.
        n_sigma: standard deviations of the statistical fluctuation (finite size only).
        decoy_fraction: probability of each decoy intensity (finite size only).

    Returns:
        The :class:`KeyRate`; the rate is 0 beyond the maximum distance.

    Examples:
        >>> r = key_rate(LinkParameters.gys(), 50e3, decoy="infinite")
        >>> 0.4 < r.mu < 0.6 and r.rate_bps > 0
        True
    """
    _check(decoy, distance_m)
    if block_size is not None and not block_size > 0:
        raise QKDError(f"block_size must be > 0 pulses, got {block_size!r}")
    if not 0 < decoy_fraction < 0.5:
        raise QKDError(f"decoy_fraction must be in (0, 0.5), got {decoy_fraction!r}")
    nu_v = DEFAULT_NU if nu is None else float(nu)
    if decoy == "vacuum+weak" and not 0 < nu_v < 1:
        raise QKDError(f"nu must be in (0, 1), got {nu_v!r}")
    eta = params.transmittance(distance_m)

    def rate_of(m: float) -> float:
        return _rate(params, eta, decoy, m, nu_v, block_size, n_sigma, decoy_fraction)[0]

    if mu is None:
        lo = nu_v * 1.0001 if decoy == "vacuum+weak" else 1e-4
        grid = np.geomspace(lo, 1.5, 160)
        vals = np.array([rate_of(float(m)) for m in grid])
        k = int(np.argmax(vals))
        if vals[k] <= 0:
            # beyond reach: report the conventional operating point
            mu_v = float(grid[k]) if decoy == "none" else max(0.5, lo)
        else:
            from scipy.optimize import minimize_scalar

            a = float(grid[max(k - 1, 0)])
            b = float(grid[min(k + 1, len(grid) - 1)])
            res = minimize_scalar(
                lambda m: -rate_of(m), bounds=(a, b), method="bounded", options={"xatol": 1e-7}
            )
            mu_v = float(res.x) if -res.fun >= vals[k] else float(grid[k])
    else:
        mu_v = float(mu)
        if not 0 < mu_v < 20:
            raise QKDError(f"mu must be in (0, 20), got {mu_v!r}")
        if decoy == "vacuum+weak" and not nu_v < mu_v:
            raise QKDError(f"the weak decoy nu={nu_v} must be below the signal mu={mu_v}")
    r, gain, qber = _rate(params, eta, decoy, mu_v, nu_v, block_size, n_sigma, decoy_fraction)
    return KeyRate(
        rate_per_pulse=r,
        rate_bps=r * params.rate_hz,
        mu=mu_v,
        nu=nu_v if decoy == "vacuum+weak" else None,
        qber=qber,
        gain=gain,
    )


def max_distance(
    params: LinkParameters,
    decoy: str = "vacuum+weak",
    mu: float | None = None,
    nu: float | None = None,
    *,
    block_size: float | None = None,
    n_sigma: float = 10.0,
    decoy_fraction: float = 0.1,
    tol_m: float = 1.0,
) -> float:
    """Largest fibre length (metres) with a positive key rate (bisection; 0 if none at 0 m)."""
    _check(decoy, 0.0)

    def positive(d: float) -> bool:
        return (
            key_rate(
                params,
                d,
                decoy,
                mu,
                nu,
                block_size=block_size,
                n_sigma=n_sigma,
                decoy_fraction=decoy_fraction,
            ).rate_per_pulse
            > 0
        )

    if not positive(0.0):
        return 0.0
    lo, hi = 0.0, 50e3
    while positive(hi):
        lo, hi = hi, hi * 2
        if hi > 1e8:
            return math.inf
    while hi - lo > tol_m:
        mid = 0.5 * (lo + hi)
        if positive(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _fluct(value: float, n: float, n_sigma: float, sign: int) -> float:
    """``value`` (a rate observed over ``n`` trials) moved ``n_sigma`` Gaussian deviations.

    The deviation is ``n_sigma * sqrt(max(value * n, 1)) / n``: at least one count's worth, so an
    observed zero still gets a finite, conservative upper bound.
    """
    if n <= 0:
        return math.inf if sign > 0 else 0.0
    dev = n_sigma * math.sqrt(max(value * n, 1.0)) / n
    return value + dev if sign > 0 else max(0.0, value - dev)


def decoy_bounds(
    mu: float,
    nu: float,
    *,
    q_mu: float,
    q_nu: float,
    eq_nu: float,
    y0: float,
    e0: float = 0.5,
    n_mu: float | None = None,
    n_nu: float | None = None,
    n_0: float | None = None,
    n_sigma: float = 10.0,
) -> tuple[float, float]:
    """MQZL vacuum + weak decoy bounds from *observed* gains: ``(Y1_lower, e1_upper)``.

    Args:
        mu, nu: signal and weak-decoy intensities (``0 < nu < mu``).
        q_mu, q_nu: observed gains (detections per sent pulse) of the signal and weak decoy.
        eq_nu: observed erroneous detections per sent weak-decoy pulse (``E_nu * Q_nu``).
        y0: observed gain of the vacuum decoy (the background yield).
        e0: error rate of background counts.
        n_mu, n_nu, n_0: numbers of pulses sent in each class; when all are given each observed
            quantity is moved ``n_sigma`` standard deviations to its worst case (MQZL Sec. VI);
            None gives the asymptotic bounds.
        n_sigma: standard deviations of the statistical fluctuation.

    Returns:
        ``(y1_lower, e1_upper)``; ``(0.0, 0.5)`` when the data admit no single-photon yield.
    """
    if not 0 < nu < mu:
        raise QKDError(f"decoy intensities need 0 < nu < mu, got nu={nu!r}, mu={mu!r}")
    y0_lo = y0_hi = y0
    q_mu_hi = q_mu
    if n_mu is not None and n_nu is not None and n_0 is not None:
        q_nu = _fluct(q_nu, n_nu, n_sigma, -1)
        eq_nu = _fluct(eq_nu, n_nu, n_sigma, +1)
        y0_hi = _fluct(y0, n_0, n_sigma, +1)
        y0_lo = _fluct(y0, n_0, n_sigma, -1)
        q_mu_hi = _fluct(q_mu, n_mu, n_sigma, +1)
    y1 = (
        mu
        / (mu * nu - nu * nu)
        * (
            q_nu * math.exp(nu)
            - q_mu_hi * math.exp(mu) * nu * nu / (mu * mu)
            - (mu * mu - nu * nu) / (mu * mu) * y0_hi
        )
    )
    if not y1 > 0:
        return 0.0, 0.5
    e1 = (eq_nu * math.exp(nu) - e0 * y0_lo) / (y1 * nu)
    return float(y1), float(min(max(e1, 0.0), 0.5))
