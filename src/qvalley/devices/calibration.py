"""Calibration snapshots and a deterministic, drifting calibration history.

A :class:`Calibration` is a value: per-qubit T1, T2, frequency, readout p(0|1) and p(1|0),
single-qubit gate error and duration; per-coupler two-qubit gate error, duration and fSim angles;
a timestamp and an id. Errors are **Pauli error rates**, as the random-circuit-sampling papers
report them (see :meth:`qvalley.noise.NoiseModel.from_device`). Units are SI (seconds, Hz).

The history is one snapshot a day from the device's epoch (``calibration_model.epoch``), 00:00 UTC.
Snapshot ``d`` is a pure function of (device, version, d): every qubit and coupler keeps a baseline
drawn once per device (log-normal around the published average, rescaled so the chip's average
*is* the published one), and drifts around it by two slow oscillations with per-element phases,
a daily jitter, and an occasional two-level-system defect that drops a qubit's T1 for a day. So
"the calibration at time t" is the same on every machine and needs no stored history.

Examples:
    >>> from qvalley.devices import get_device
    >>> dev = get_device("sycamore-53")
    >>> cal = calibration_at(dev, "2019-10-24T12:00:00Z")
    >>> cal.id, cal.timestamp, len(cal.qubits), len(cal.couplers)
    ('sycamore-53@2019-10-24', '2019-10-24T00:00:00+00:00', 53, 86)
    >>> Calibration.from_json(cal.to_json()) == cal
    True
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from .._errors import DeviceError
from .profile import DeviceProfile, Pair, get_device

DAY = timedelta(days=1)

# Spreads of the generator (log-normal sigma of the baselines; drift amplitudes). Chosen to give
# chips like the published ones: a few-times spread between the best and worst qubit.
SPREAD = {"t1": 0.30, "t2": 0.30, "error_1q": 0.35, "error_2q": 0.35, "readout": 0.40}
DRIFT_SLOW, DRIFT_SLOWER, DRIFT_DAILY = 0.15, 0.10, 0.08
PERIODS = (23.0, 71.0)  # days
TLS_RATE = 0.02  # chance per qubit per day of a defect that cuts T1 for that day
READOUT_ASYMMETRY = 0.5  # p(0|1) = r (1 + a), p(1|0) = r (1 - a): relaxation during readout
FSIM_THETA, FSIM_PHI = math.pi / 2, math.pi / 6


@dataclass(frozen=True)
class QubitCalibration:
    """One qubit: ``t1``, ``t2`` (s), ``frequency`` (Hz), readout ``p(0|1)`` and ``p(1|0)``,
    single-qubit gate Pauli error ``error_1q`` and duration ``duration_1q`` (s)."""

    t1: float
    t2: float
    frequency: float
    readout_p0_given_1: float
    readout_p1_given_0: float
    error_1q: float
    duration_1q: float

    @property
    def readout_error(self) -> float:
        """The mean readout error ``(p(0|1) + p(1|0)) / 2``."""
        return (self.readout_p0_given_1 + self.readout_p1_given_0) / 2


@dataclass(frozen=True)
class CouplerCalibration:
    """One coupler: two-qubit gate Pauli error, duration (s) and its fSim angles (rad)."""

    error_2q: float
    duration_2q: float
    fsim_theta: float = FSIM_THETA
    fsim_phi: float = FSIM_PHI


@dataclass(frozen=True)
class Calibration:
    """A calibration snapshot of ``device`` taken at ``timestamp`` (ISO 8601, UTC).

    ``qubits[q]`` is physical qubit ``q``; ``couplers[(a, b)]`` (``a < b``) a coupler."""

    device: str
    id: str
    timestamp: str
    qubits: tuple[QubitCalibration, ...]
    couplers: Mapping[Pair, CouplerCalibration] = field(default_factory=dict)

    __hash__ = None  # type: ignore[assignment]

    def coupler(self, a: int, b: int) -> CouplerCalibration:
        """The coupler between ``a`` and ``b`` in either order; :class:`DeviceError` if none."""
        c = self.couplers.get((min(a, b), max(a, b)))
        if c is None:
            raise DeviceError(f"{self.device}: no coupler between qubits {a} and {b}")
        return c

    def averages(self) -> dict[str, float]:
        """Chip averages: ``t1``, ``t2``, ``error_1q``, ``readout_error``, ``error_2q``."""
        qs = self.qubits
        out = {"t1": float(np.mean([q.t1 for q in qs])), "t2": float(np.mean([q.t2 for q in qs])),
               "error_1q": float(np.mean([q.error_1q for q in qs])),
               "readout_error": float(np.mean([q.readout_error for q in qs]))}
        if self.couplers:
            out["error_2q"] = float(np.mean([c.error_2q for c in self.couplers.values()]))
        return out

    # ---- value behaviour ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "id": self.id, "timestamp": self.timestamp,
                "qubits": [asdict(q) for q in self.qubits],
                "couplers": [{"qubits": [a, b], **asdict(c)}
                             for (a, b), c in sorted(self.couplers.items())]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        try:
            qubits = tuple(QubitCalibration(**{k: float(v) for k, v in q.items()})
                           for q in data["qubits"])
            couplers = {}
            for c in data["couplers"]:
                a, b = (int(x) for x in c["qubits"])
                couplers[(min(a, b), max(a, b))] = CouplerCalibration(
                    **{k: float(v) for k, v in c.items() if k != "qubits"})
            cal = cls(str(data["device"]), str(data["id"]), str(data["timestamp"]), qubits, couplers)
        except (KeyError, TypeError, ValueError) as exc:
            raise DeviceError(f"malformed calibration: {exc}") from None
        _validate(cal)
        return cal

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise DeviceError(f"calibration:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None


def _validate(cal: Calibration) -> None:
    for q, c in enumerate(cal.qubits):
        where = f"calibration {cal.id}, qubit {q}"
        if not (c.t1 > 0 and c.t2 > 0):
            raise DeviceError(f"{where}: T1 and T2 must be positive")
        if c.t2 > 2 * c.t1 * (1 + 1e-9):
            raise DeviceError(f"{where}: T2 = {c.t2:g} s exceeds 2·T1 = {2 * c.t1:g} s")
        for name in ("readout_p0_given_1", "readout_p1_given_0", "error_1q"):
            v = getattr(c, name)
            if not 0 <= v <= 1:
                raise DeviceError(f"{where}: {name} = {v!r} is not a probability")
    for (a, b), cc in cal.couplers.items():
        if not 0 <= cc.error_2q <= 1:
            raise DeviceError(f"calibration {cal.id}, coupler ({a}, {b}): error_2q = "
                              f"{cc.error_2q!r} is not a probability")


# ---- time ---------------------------------------------------------------------------------------
def parse_time(at: str | datetime | None) -> datetime:
    """An aware UTC datetime from ISO 8601 text (``Z`` allowed; no zone means UTC), a datetime,
    or ``None`` (now)."""
    if at is None:
        return datetime.now(UTC)
    if isinstance(at, str):
        text = at.strip()
        try:
            t = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise DeviceError(f"time {at!r} is not ISO 8601 (e.g. 2024-05-01T12:00:00Z)") from None
    elif isinstance(at, datetime):
        t = at
    else:
        raise DeviceError(f"time must be ISO 8601 text or a datetime, got {type(at).__name__}")
    try:
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    except OverflowError:
        raise DeviceError(f"time {at!r} is out of range") from None


def _epoch(profile: DeviceProfile) -> datetime:
    model = profile.calibration_model
    assert model is not None
    return parse_time(str(model["epoch"]))


def snapshot_day(profile: DeviceProfile, at: str | datetime | None = None) -> int:
    """The index of the daily snapshot in force at ``at`` (0 = the epoch's)."""
    if profile.calibration_model is None:
        raise DeviceError(f"{profile.name} has no calibration (it is noiseless)")
    t, epoch = parse_time(at), _epoch(profile)
    if t < epoch:
        raise DeviceError(f"{profile.name} has no calibration before its first one at "
                          f"{epoch.isoformat()} (asked for {t.isoformat()})")
    return (t - epoch) // DAY


# ---- the generator ------------------------------------------------------------------------------
def _rng(profile: DeviceProfile, *stream: int) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(profile.name.encode()), profile.version, *stream])


def _lognormal(rng: np.random.Generator, mean: float, sigma: float, size: int) -> np.ndarray:
    """Log-normal draws rescaled so their average is exactly ``mean``."""
    x = np.exp(rng.normal(0.0, sigma, size))
    return x * (mean / x.mean())


class _Drift:
    """Per-element multiplicative drift: two oscillations with fixed phases and a daily jitter."""

    def __init__(self, rng: np.random.Generator, size: int) -> None:
        self.phases = rng.uniform(0, 2 * math.pi, (2, size))

    def factor(self, day: int, jitter: np.ndarray) -> np.ndarray:
        a = DRIFT_SLOW * np.sin(2 * math.pi * day / PERIODS[0] + self.phases[0])
        b = DRIFT_SLOWER * np.sin(2 * math.pi * day / PERIODS[1] + self.phases[1])
        return np.exp(a + b + DRIFT_DAILY * jitter)


def _average(profile: DeviceProfile, key: str) -> float:
    a = profile.averages.get(key)
    if a is None:
        raise DeviceError(f"{profile.name}: profile has no average {key!r} to calibrate from")
    return a.value


def generate_calibration(profile: DeviceProfile, day: int) -> Calibration:
    """Snapshot ``day`` (0 = the epoch) of ``profile``'s deterministic calibration history."""
    model = profile.calibration_model
    if model is None:
        raise DeviceError(f"{profile.name} has no calibration (it is noiseless)")
    if day < 0:
        raise DeviceError(f"{profile.name}: calibration day must be >= 0, got {day}")
    n = profile.num_qubits
    couplers = profile.coupling_map()
    m = len(couplers)
    base = _rng(profile, 0)
    t1 = _lognormal(base, _average(profile, "t1"), SPREAD["t1"], n)
    t2 = _lognormal(base, float(model["t2"]), SPREAD["t2"], n)
    freq = base.normal(float(model["frequency"]), float(model["frequency_spread"]), n)
    e1 = _lognormal(base, _average(profile, "error_1q"), SPREAD["error_1q"], n)
    ro = _lognormal(base, _average(profile, "readout_error"), SPREAD["readout"], n)
    e2 = _lognormal(base, _average(profile, "error_2q"), SPREAD["error_2q"], m)
    theta = base.normal(FSIM_THETA, 0.04, m)
    phi = base.normal(FSIM_PHI, 0.05, m)
    drifts = {k: _Drift(base, size) for k, size in
              (("t1", n), ("t2", n), ("e1", n), ("ro", n), ("e2", m))}

    daily = _rng(profile, 1, day)
    jit = {k: np.asarray(daily.normal(size=d.phases.shape[1])) for k, d in drifts.items()}
    t1_d = t1 / drifts["t1"].factor(day, jit["t1"])
    tls = daily.random(n) < TLS_RATE
    t1_d = np.where(tls, t1_d * daily.uniform(0.15, 0.5, n), t1_d)
    t2_d = np.minimum(t2 / drifts["t2"].factor(day, jit["t2"]), 2 * t1_d)
    e1_d = np.clip(e1 * drifts["e1"].factor(day, jit["e1"]) * np.where(tls, 1.5, 1.0), 1e-6, 0.5)
    ro_d = np.clip(ro * drifts["ro"].factor(day, jit["ro"]), 1e-5, 0.5 / (1 + READOUT_ASYMMETRY))
    e2_d = np.clip(e2 * drifts["e2"].factor(day, jit["e2"]), 1e-6, 0.75)
    freq_d = freq + daily.normal(0, 1e6, n)
    theta_d = theta + daily.normal(0, 0.004, m)
    phi_d = phi + daily.normal(0, 0.004, m)

    d1, d2 = float(model["duration_1q"]), float(model["duration_2q"])
    qubits = tuple(QubitCalibration(float(t1_d[q]), float(t2_d[q]), float(freq_d[q]),
                                    float(ro_d[q] * (1 + READOUT_ASYMMETRY)),
                                    float(ro_d[q] * (1 - READOUT_ASYMMETRY)), float(e1_d[q]), d1)
                   for q in range(n))
    cc = {pair: CouplerCalibration(float(e2_d[i]), d2, float(theta_d[i]), float(phi_d[i]))
          for i, pair in enumerate(couplers)}
    t = _epoch(profile) + day * DAY
    cal = Calibration(profile.name, f"{profile.name}@{t.date().isoformat()}", t.isoformat(),
                      qubits, cc)
    _validate(cal)
    return cal


def calibration_at(profile: DeviceProfile | str, at: str | datetime | None = None
                   ) -> Calibration | None:
    """The snapshot in force at ``at`` (ISO 8601 text, a datetime, or ``None`` = now); ``None``
    for a noiseless device such as ``ideal``."""
    dev = get_device(profile)
    t = parse_time(at)  # bad text is an error on every device, the noiseless one too
    if dev.calibration_model is None:
        return None
    return generate_calibration(dev, snapshot_day(dev, t))


def calibration_history(profile: DeviceProfile | str, start: str | datetime,
                        end: str | datetime) -> list[Calibration]:
    """Every daily snapshot in force between ``start`` and ``end`` (inclusive), oldest first."""
    dev = get_device(profile)
    d0, d1 = snapshot_day(dev, start), snapshot_day(dev, end)
    if d1 < d0:
        raise DeviceError(f"calibration history: end {end!r} is before start {start!r}")
    if d1 - d0 > 3660:
        raise DeviceError("calibration history: at most ten years of snapshots at a time")
    return [generate_calibration(dev, d) for d in range(d0, d1 + 1)]


__all__ = [
    "Calibration",
    "CouplerCalibration",
    "QubitCalibration",
    "calibration_at",
    "calibration_history",
    "generate_calibration",
    "parse_time",
    "snapshot_day",
]
