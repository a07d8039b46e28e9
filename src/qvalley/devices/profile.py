"""Device profiles: a processor's layout, couplers, coupler patterns and native gates, as values.

Profiles ship as versioned JSON package data (``devices/data/NAME.json``, written by
``tools/gen_devices.py``); :func:`get_device` also reads a profile from any ``.json`` file of the
same schema. Qubit ``q`` of a device sits at grid site ``coordinates[q] = (row, col)``; couplers
join sites one step apart (see :func:`qvalley.bench.rcs.grid_patterns` for patterns A–H).

Examples:
    >>> dev = get_device("zuchongzhi-2.1")
    >>> dev.num_qubits, len(dev.coupling_map()), dev.is_coupled(0, 6)
    (66, 110, True)
    >>> DeviceProfile.from_dict(dev.to_dict()) == dev
    True
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .._errors import DeviceError
from ..circuit.gates import GATES

SCHEMA = "qvalley.device/1"
Pair = tuple[int, int]


@dataclass(frozen=True)
class Average:
    """A published (or, for a modelled chip, stated) average with where it comes from."""

    value: float
    source: str


@dataclass(frozen=True, eq=True)
class DeviceProfile:
    """A processor: qubits, couplers (``None`` = all-to-all), coupler patterns, native gates.

    ``averages`` holds the published chip averages (Pauli error rates ``error_1q``/``error_2q``,
    mean ``readout_error``, ``t1`` in seconds) with their sources; ``calibration_model`` the
    parameters the calibration generator draws the per-qubit values with
    (:mod:`qvalley.devices.calibration`). ``modelled`` says the chip is designed, not measured.
    """

    name: str
    num_qubits: int
    native_gates: tuple[str, ...]
    couplers: tuple[Pair, ...] | None
    coordinates: tuple[tuple[int, int], ...] = ()
    patterns: Mapping[str, tuple[Pair, ...]] = field(default_factory=dict)
    description: str = ""
    modelled: bool = False
    averages: Mapping[str, Average] = field(default_factory=dict)
    calibration_model: Mapping[str, Any] | None = None
    sources: tuple[str, ...] = ()
    version: int = 1
    _edges: frozenset[Pair] = field(init=False, repr=False, compare=False)

    __hash__ = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_edges", frozenset(self.couplers or ()))

    def coupling_map(self) -> list[Pair]:
        """The couplers ``(a, b)``, ``a < b``, sorted; empty for an all-to-all device."""
        return [] if self.couplers is None else list(self.couplers)

    @property
    def all_to_all(self) -> bool:
        return self.couplers is None

    def is_coupled(self, a: int, b: int) -> bool:
        """Whether a two-qubit gate can act on physical qubits ``a`` and ``b``."""
        if not (0 <= a < self.num_qubits and 0 <= b < self.num_qubits) or a == b:
            return False
        return self.couplers is None or (min(a, b), max(a, b)) in self._edges

    def neighbours(self, q: int) -> list[int]:
        """Qubits coupled to ``q`` (ascending)."""
        if self.couplers is None:
            return [p for p in range(self.num_qubits) if p != q]
        return sorted({b for a, b in self.couplers if a == q} | {a for a, b in self.couplers if b == q})

    # ---- value behaviour ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The profile as the JSON object of its data file (schema ``qvalley.device/1``)."""
        natives: Any = "all" if set(self.native_gates) == set(GATES) else list(self.native_gates)
        return {
            "schema": SCHEMA, "version": self.version, "name": self.name,
            "description": self.description, "modelled": self.modelled, "native_gates": natives,
            "num_qubits": self.num_qubits,
            "coordinates": [list(c) for c in self.coordinates],
            "couplers": None if self.couplers is None else [list(c) for c in self.couplers],
            "patterns": {k: [list(c) for c in v] for k, v in self.patterns.items()},
            "averages": {k: {"value": a.value, "source": a.source} for k, a in self.averages.items()},
            "calibration_model": None if self.calibration_model is None else dict(self.calibration_model),
            "sources": list(self.sources),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "device profile") -> DeviceProfile:
        """Validate and build a profile; errors name ``where`` and the offending field."""
        def bad(msg: str) -> DeviceError:
            return DeviceError(f"{where}: {msg}")

        if not isinstance(data, Mapping):
            raise bad("expected a JSON object")
        if data.get("schema") != SCHEMA:
            raise bad(f"schema must be {SCHEMA!r}, got {data.get('schema')!r}")
        try:
            name = str(data["name"])
            n = data["num_qubits"]
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise bad(f"num_qubits must be a positive integer, got {n!r}")
            natives_raw = data["native_gates"]
            if natives_raw != "all" and not isinstance(natives_raw, list):
                raise bad("native_gates must be a list of gate names or \"all\"")
            natives = tuple(GATES) if natives_raw == "all" else tuple(str(g) for g in natives_raw)
            unknown = [g for g in natives if g not in GATES]
            if unknown:
                raise bad(f"unknown native gate(s) {unknown}")
            couplers = None if data.get("couplers") is None else tuple(
                _pair(c, n, bad, "couplers") for c in data["couplers"])
            if couplers is not None and len(set(couplers)) != len(couplers):
                raise bad("couplers repeat")
            coords = tuple((int(r), int(c)) for r, c in data.get("coordinates", []))
            if coords and len(coords) != n:
                raise bad(f"{len(coords)} coordinates for {n} qubits")
            edges = None if couplers is None else set(couplers)
            patterns: dict[str, tuple[Pair, ...]] = {}
            for letter, pairs in dict(data.get("patterns", {})).items():
                ps = tuple(_pair(c, n, bad, f"pattern {letter}") for c in pairs)
                if edges is not None and not set(ps) <= edges:
                    raise bad(f"pattern {letter} uses pairs that are not couplers")
                flat = [q for p in ps for q in p]
                if len(flat) != len(set(flat)):
                    raise bad(f"pattern {letter} puts a qubit in two couplers")
                patterns[str(letter)] = ps
            averages = {}
            for k, v in dict(data.get("averages", {})).items():
                if not isinstance(v, Mapping) or "value" not in v or "source" not in v:
                    raise bad(f"averages.{k} must be an object with 'value' and 'source'")
                value = float(v["value"])
                ok = math.isfinite(value) and (value > 0 if k.startswith("t") else 0 <= value <= 1)
                if not ok:
                    raise bad(f"averages.{k}.value = {v['value']!r} is out of range")
                averages[str(k)] = Average(value, str(v["source"]))
            model = data.get("calibration_model")
            if model is not None:
                _check_model(model, averages, couplers, bad)
            return cls(name=name, num_qubits=n, native_gates=natives, couplers=couplers,
                       coordinates=coords, patterns=patterns,
                       description=str(data.get("description", "")),
                       modelled=bool(data.get("modelled", False)), averages=averages,
                       calibration_model=None if model is None else dict(model),
                       sources=tuple(str(s) for s in data.get("sources", [])),
                       version=int(data.get("version", 1)))
        except KeyError as exc:
            raise bad(f"missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            if isinstance(exc, DeviceError):
                raise
            raise bad(f"malformed field: {exc}") from None

    @classmethod
    def from_json(cls, text: str, where: str = "device profile") -> DeviceProfile:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DeviceError(f"{where}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        return cls.from_dict(data, where)


MODEL_KEYS = ("t2", "frequency", "frequency_spread", "duration_1q", "duration_2q")


def _check_model(model: Any, averages: Mapping[str, Average], couplers: Any, bad: Any) -> None:
    """A calibration model the generator can run: an epoch, positive finite numbers, averages."""
    if not isinstance(model, Mapping):
        raise bad("calibration_model must be an object or null")
    if "epoch" not in model:
        raise bad("calibration_model.epoch is missing")
    from .calibration import parse_time

    try:
        parse_time(str(model["epoch"]))
    except DeviceError as exc:
        raise bad(f"calibration_model.epoch: {exc}") from None
    for key in MODEL_KEYS:
        v = model.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise bad(f"calibration_model.{key} must be a non-negative number, got {v!r}")
    needed = ["error_1q", "readout_error", "t1"] + (["error_2q"] if couplers else [])
    missing = [k for k in needed if k not in averages]
    if missing:
        raise bad(f"a calibration model needs averages {missing}")
    if couplers is None:
        raise bad("an all-to-all device cannot carry a calibration model (no couplers to calibrate)")


def _pair(c: Any, n: int, bad: Any, what: str) -> Pair:
    a, b = (int(x) for x in c)
    if a == b or not (0 <= a < n and 0 <= b < n):
        raise bad(f"{what}: pair {[a, b]} is not two distinct qubits of 0..{n - 1}")
    return (min(a, b), max(a, b))


def list_devices() -> list[str]:
    """Names of the shipped device profiles, in a fixed order (real chips first, ``ideal`` last)."""
    names = sorted(p.name[:-5] for p in resources.files(__package__).joinpath("data").iterdir()
                   if p.name.endswith(".json"))
    order = {"zuchongzhi-2.1": 0, "sycamore-53": 1, "oriental-136": 2, "valley-512": 3}
    return sorted(names, key=lambda n: (order.get(n, 4 if n != "ideal" else 5), n))


@cache
def _shipped(name: str) -> DeviceProfile:
    text = resources.files(__package__).joinpath("data", f"{name}.json").read_text("utf-8")
    return DeviceProfile.from_json(text, where=f"devices/data/{name}.json")


def get_device(name: str | DeviceProfile) -> DeviceProfile:
    """A shipped profile by name (``qvalley devices`` lists them), or one read from a ``.json``
    file of the same schema. An unknown name raises :class:`DeviceError` with the names to use."""
    if isinstance(name, DeviceProfile):
        return name
    key = str(name).strip()
    if key.lower().endswith(".json"):
        path = Path(key)
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise DeviceError(f"{key}: cannot read device profile: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise DeviceError(f"{key}: device profile is not UTF-8 text") from None
        return DeviceProfile.from_json(text, where=key)
    names = list_devices()
    if key.lower() not in names:
        close = difflib.get_close_matches(key.lower(), names, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise DeviceError(f"unknown device '{key}' (available: {', '.join(names)}, or a "
                          f"profile .json file){hint}")
    return _shipped(key.lower())


__all__ = ["SCHEMA", "Average", "DeviceProfile", "get_device", "list_devices"]
