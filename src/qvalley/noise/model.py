"""Noise models: which channels follow which gates on which qubits, and readout errors.

A :class:`NoiseModel` is a value. Rules map a gate name (or ``"all_1q"`` / ``"all_2q"``) and
optionally the exact operand tuple to a sequence of channels applied *after* the gate. A 1-qubit
channel on a k-qubit gate is applied to each operand; a k-qubit channel to the operand tuple in
order (operand 0 = channel operand 0). For an operation the most specific rule wins, in the order
``(name, qubits)``, ``(name, any)``, ``(all_kq, qubits)``, ``(all_kq, any)``; adding to the same rule
again appends (the channels then apply in the order added). Channels on ``"measure"`` act just
*before* the measurement (as in Qiskit); on ``"reset"`` after it. Idle noise is modelled as noise on
the ``"id"`` gate. Readout errors are per qubit.

Examples:
    >>> from qvalley.noise import depolarizing, ReadoutError
    >>> m = NoiseModel().add("all_1q", depolarizing(0.01)).readout(0, ReadoutError(0.02, 0.01))
    >>> m.is_pauli()
    True
    >>> NoiseModel.from_json(m.to_json()) == m
    True
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .._errors import NoiseError
from ..circuit import Operation
from ..circuit.gates import GATES, Gate
from .channels import Channel, ReadoutError, depolarizing, identity, tensor, thermal_relaxation

GROUPS = {"all_1q": 1, "all_2q": 2}

RuleKey = tuple[str, tuple[int, ...] | None]


VIRTUAL_GATES = frozenset({"rz"})  # frame changes: no pulse, no error


def pauli_to_average_error(e_pauli: float, num_qubits: int) -> float:
    """Average gate error ``e_P d/(d+1)`` of a depolarizing channel with Pauli error ``e_P``.

    Examples:
        >>> round(pauli_to_average_error(0.0015, 1), 6), round(pauli_to_average_error(0.006, 2), 6)
        (0.001, 0.0048)
    """
    d = 2 ** num_qubits
    return e_pauli * d / (d + 1)


class NoiseModel:
    """Gate noise (channels after gates) and readout errors; see the module docstring."""

    def __init__(self) -> None:
        self._rules: dict[RuleKey, tuple[Channel, ...]] = {}
        self._readout: dict[int, ReadoutError] = {}

    @classmethod
    def ideal(cls) -> NoiseModel:
        """The empty model: no noise at all."""
        return cls()

    # ---- building ------------------------------------------------------------------------------
    def add(self, gates: str | Iterable[str], channel: Channel,
            qubits: int | Iterable[int] | None = None) -> NoiseModel:
        """Apply ``channel`` after the gates named ``gates`` (``"all_1q"``/``"all_2q"`` for every
        1-/2-qubit gate), on every operand tuple or only on ``qubits``. Returns ``self``."""
        if not isinstance(channel, Channel):
            raise NoiseError(f"channel must be a qvalley Channel, got {type(channel).__name__}")
        names = [gates] if isinstance(gates, str) else list(gates)
        if not names:
            raise NoiseError("add() needs at least one gate name")
        qs: tuple[int, ...] | None
        if qubits is None:
            qs = None
        else:
            qs = (int(qubits),) if isinstance(qubits, int) else tuple(int(q) for q in qubits)
            if any(q < 0 for q in qs) or len(set(qs)) != len(qs):
                raise NoiseError(f"qubits must be distinct non-negative integers, got {qubits!r}")
        for name in names:
            if not isinstance(name, str) or not name:
                raise NoiseError(f"gate name must be a non-empty string, got {name!r}")
            width = _gate_width(name)
            if qs is not None and width is not None and len(qs) != width:
                raise NoiseError(f"gate {name!r} acts on {width} qubit(s) but qubits={qs!r}")
            if width is None and qs is not None:
                width = len(qs)
            if width is not None and channel.num_qubits not in (1, width):
                raise NoiseError(f"a {channel.num_qubits}-qubit channel cannot follow the "
                                 f"{width}-qubit gate {name!r}: give a 1-qubit or {width}-qubit channel")
            key = (name, qs)
            self._rules[key] = self._rules.get(key, ()) + (channel,)
        return self

    def readout(self, qubit: int, error: ReadoutError) -> NoiseModel:
        """Set the readout error of ``qubit``. Returns ``self``."""
        if not isinstance(error, ReadoutError):
            raise NoiseError(f"readout error must be a ReadoutError, got {type(error).__name__}")
        if int(qubit) < 0:
            raise NoiseError(f"readout qubit must be non-negative, got {qubit!r}")
        if error.is_ideal:
            self._readout.pop(int(qubit), None)
        else:
            self._readout[int(qubit)] = error
        return self

    # ---- questions -----------------------------------------------------------------------------
    @property
    def readout_errors(self) -> dict[int, ReadoutError]:
        return dict(self._readout)

    def readout_error(self, qubit: int) -> ReadoutError | None:
        return self._readout.get(qubit)

    @property
    def rules(self) -> dict[RuleKey, tuple[Channel, ...]]:
        return dict(self._rules)

    def is_ideal(self) -> bool:
        return not self._rules and not self._readout

    def channels_for(self, operation: Operation) -> list[tuple[Channel, tuple[int, ...]]]:
        """The channels to apply after ``operation`` (before it for a measurement), each with the
        qubits it acts on, in order."""
        qs = tuple(operation.qubits)
        name = operation.name
        keys: list[RuleKey] = [(name, qs), (name, None)]
        group = {1: "all_1q", 2: "all_2q"}.get(len(qs))
        if group is not None and isinstance(operation.gate, Gate):
            keys += [(group, qs), (group, None)]
        for key in keys:
            chans = self._rules.get(key)
            if chans is None:
                continue
            out: list[tuple[Channel, tuple[int, ...]]] = []
            for ch in chans:
                if ch.num_qubits == len(qs):
                    out.append((ch, qs))
                elif ch.num_qubits == 1:
                    out.extend((ch, (q,)) for q in qs)
                else:
                    raise NoiseError(f"a {ch.num_qubits}-qubit channel cannot follow '{name}' on "
                                     f"qubits {list(qs)}")
            return out
        return []

    def is_pauli(self) -> bool:
        """True when every channel is a Pauli channel (a stabilizer engine can simulate it)."""
        return all(ch.is_pauli() for chans in self._rules.values() for ch in chans)

    # ---- device models -------------------------------------------------------------------------
    @classmethod
    def from_device(cls, profile: Any, calibration: Any, thermal: bool = True) -> NoiseModel:
        """A model from a device profile and calibration snapshot (duck-typed).

        Uses ``profile.num_qubits``, ``profile.native_gates``; ``calibration.qubits[q]`` with ``t1``,
        ``t2`` (s), ``error_1q``, ``duration_1q`` (s), ``readout_p0_given_1``, ``readout_p1_given_0``;
        ``calibration.couplers[(a, b)]`` with ``error_2q``, ``duration_2q`` (s).

        After each native 1-qubit gate on ``q``: depolarizing, then thermal relaxation for
        ``duration_1q``. After each native 2-qubit gate on ``(a, b)`` (either order): 2-qubit
        depolarizing, then thermal relaxation of ``a`` and ``b`` for ``duration_2q``. Readout errors
        per qubit. ``rz`` is a virtual gate (a frame change, no pulse) and gets no noise.

        Calibrated ``error_1q``/``error_2q`` are *Pauli* error rates ``e_P``, as the random-circuit
        sampling papers report them (a depolarizing channel with Pauli error ``e_P`` applies a
        non-identity Pauli with probability ``e_P``); they are converted to the average gate error
        ``e = e_P d/(d+1)``. As Qiskit's ``NoiseModel.from_backend``, ``e`` is taken to *include*
        relaxation: ``p`` is chosen so the whole sequence (depolarizing then
        relaxation) has average gate infidelity exactly ``e``, i.e.
        ``p = (F_E - F_t) / (F_E - 1/d²)`` with ``F_E`` the process fidelity of the relaxation
        part and ``F_t = 1 - e (d+1)/d`` (``p`` clipped to ``[0, d²/(d²-1)]``; 0 when relaxation
        alone already exceeds ``e``). With ``thermal=False`` no relaxation is modelled and
        ``p = d e / (d - 1)``.
        """
        model = cls()
        natives = [str(g) for g in profile.native_gates]
        one = [g for g in natives if _gate_width(g) == 1 and g not in VIRTUAL_GATES]
        two = [g for g in natives if _gate_width(g) == 2]
        cq = calibration.qubits
        nq = int(profile.num_qubits)

        def relax(q: int, duration: float) -> Channel | None:
            c = cq[q]
            t1, t2 = float(c.t1), float(c.t2)
            if not thermal or duration <= 0 or (math.isinf(t1) and math.isinf(t2)):
                return None
            return thermal_relaxation(t1, min(t2, 2 * t1), duration)

        for q in range(nq):
            c = cq[q]
            if one:
                rel = relax(q, float(getattr(c, "duration_1q", 0.0) or 0.0))
                p = _depol_param(pauli_to_average_error(float(c.error_1q), 1), rel, 1)
                chans: list[Channel] = []
                if p > 0:
                    chans.append(depolarizing(p, 1))
                if rel is not None:
                    chans.append(rel)
                for ch in chans:
                    model.add(one, ch, (q,))
            model.readout(q, ReadoutError(float(getattr(c, "readout_p0_given_1", 0.0) or 0.0),
                                          float(getattr(c, "readout_p1_given_0", 0.0) or 0.0)))
        if two:
            for (a, b), cc in dict(calibration.couplers).items():
                a, b = int(a), int(b)
                dur = float(getattr(cc, "duration_2q", 0.0) or 0.0)
                ra, rb = relax(a, dur), relax(b, dur)
                rel2 = None if ra is None and rb is None else tensor(ra or identity(1), rb or identity(1))
                p = _depol_param(pauli_to_average_error(float(cc.error_2q), 2), rel2, 2)
                for pair, r in (((a, b), rel2), ((b, a), None if rel2 is None else _swap(rel2))):
                    if p > 0:
                        model.add(two, depolarizing(p, 2), pair)
                    if r is not None:
                        model.add(two, r, pair)
        return model

    # ---- value behaviour -----------------------------------------------------------------------
    def to_json(self) -> str:
        """JSON text: channel parameters (or Kraus matrices for unnamed channels) and readout."""
        rules = [{"gate": name, "qubits": None if qs is None else list(qs),
                  "channels": [ch.to_json() for ch in chans]}
                 for (name, qs), chans in self._rules.items()]
        readout = {str(q): e.to_json() for q, e in sorted(self._readout.items())}
        return json.dumps({"rules": rules, "readout": readout}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | Mapping[str, Any]) -> NoiseModel:
        data = json.loads(text) if isinstance(text, str) else text
        m = cls()
        try:
            for rule in data.get("rules", []):
                qs = None if rule["qubits"] is None else tuple(rule["qubits"])
                chans = tuple(Channel.from_json(c) for c in rule["channels"])
                m._rules[(rule["gate"], qs)] = chans
            for q, e in data.get("readout", {}).items():
                m._readout[int(q)] = ReadoutError.from_json(e)
        except (KeyError, TypeError) as exc:
            raise NoiseError(f"malformed noise model JSON: {exc}") from None
        return m

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NoiseModel):
            return NotImplemented
        return self._rules == other._rules and self._readout == other._readout

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = [f"rules={len(self._rules)}", f"readout={len(self._readout)}"]
        return f"NoiseModel({', '.join(parts)})"


def _swap(ch: Channel) -> Channel:
    """A 2-qubit channel with its operands exchanged."""
    spec = ch.spec
    if spec is not None and spec[0] == "tensor":
        return tensor(spec[1][1], spec[1][0])
    sw = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=complex)
    return Channel([sw @ k @ sw for k in ch.kraus], 2)


def _gate_width(name: str) -> int | None:
    if name in GROUPS:
        return GROUPS[name]
    spec = GATES.get(name)
    if spec is not None:
        return spec.num_qubits
    if name in ("measure", "reset"):
        return 1
    return None


def average_gate_infidelity(channel: Channel | None) -> float:
    """``1 - F_avg`` of a channel versus the identity: ``F_avg = (d F_pro + 1)/(d + 1)`` with
    process fidelity ``F_pro = Σ_k |tr K_k|² / d²``."""
    if channel is None:
        return 0.0
    d = 1 << channel.num_qubits
    return 1 - (d * process_fidelity(channel) + 1) / (d + 1)


def process_fidelity(channel: Channel | None) -> float:
    """``Σ_k |tr K_k|² / d²``: the process fidelity of a channel to the identity."""
    if channel is None:
        return 1.0
    d = 1 << channel.num_qubits
    return float(sum(abs(complex(k.trace())) ** 2 for k in channel.kraus) / d**2)


def _depol_param(error: float, relax: Channel | None, num_qubits: int) -> float:
    """Depolarizing ``p`` such that ``depolarizing(p) ∘ relax`` has average gate error ``error``.

    ``F_pro(D_p ∘ E) = (1 - p) F_pro(E) + p/d²``, solved for the target ``F_pro = 1 - e(d+1)/d``."""
    d = 1 << num_qubits
    f_e = process_fidelity(relax)
    f_t = 1 - error * (d + 1) / d
    p = (f_e - f_t) / (f_e - 1 / d**2)
    return min(max(p, 0.0), d * d / (d * d - 1))


__all__ = ["NoiseModel", "average_gate_infidelity", "process_fidelity"]
