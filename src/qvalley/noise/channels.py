"""Quantum noise channels as values: Kraus operators, Pauli channels, readout errors.

Bit order: operand ``j`` of a k-qubit channel is bit ``j`` of the row/column index of its Kraus
matrices (little-endian, exactly as the gate matrices in :mod:`qvalley.circuit.gates`). In a Pauli
string such as ``"IX"`` the *rightmost* character acts on operand 0 (Qiskit's convention): ``"IX"``
is X on operand 0 and identity on operand 1.

A channel ``E(ρ) = Σ_k K_k ρ K_k†`` is validated to be completely positive and trace preserving
(``Σ K†K = I`` within 1e-9). Two channels are ``==`` when they are the same map (their
superoperators agree within 1e-9), whatever Kraus operators represent them.

Examples:
    >>> depolarizing(0.1).pauli_probabilities()["X"]
    0.025
    >>> amplitude_damping(0.2).is_unitary_mixture()
    False
    >>> compose(pauli_channel(0.1, 0, 0), pauli_channel(0.1, 0, 0)) == pauli_channel(0.18, 0, 0)
    True
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import NoiseError

ATOL = 1e-9

_PAULI = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}


def pauli_matrix(label: str) -> np.ndarray:
    """The matrix of a Pauli string; the rightmost character acts on operand 0 (bit 0)."""
    return _pauli_matrix(label).copy()


@functools.lru_cache(maxsize=4096)
def _pauli_matrix(label: str) -> np.ndarray:
    m = np.eye(1, dtype=complex)
    for ch in label:
        if ch not in _PAULI:
            raise NoiseError(f"Pauli string {label!r} may only contain I, X, Y, Z")
        m = np.kron(m, _PAULI[ch])
    return m


def _pauli_labels(n: int) -> list[str]:
    return ["".join(t) for t in itertools.product("IXYZ", repeat=n)]


def _prob(name: str, value: float, hi: float = 1.0) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise NoiseError(f"{name} must be a number, got {value!r}") from None
    if not (-ATOL <= v <= hi + ATOL) or math.isnan(v):
        raise NoiseError(f"{name} must be in [0, {hi:g}], got {value!r}")
    return min(max(v, 0.0), hi)


class Channel:
    """A completely positive, trace-preserving map given by Kraus operators.

    Args:
        kraus: the Kraus matrices ``K_k`` (each ``2^n × 2^n``), little-endian like gate matrices.
        num_qubits: ``n``; inferred from the matrix size when omitted.
        spec: ``(constructor name, params)`` of a named constructor such as
            ``("depolarizing", (0.01, 1))``; it gives the ``repr`` and the JSON form.

    Raises:
        NoiseError: the matrices have the wrong shape or ``Σ K†K ≠ I``.
    """

    __slots__ = ("_kraus", "_num_qubits", "_pauli", "_spec", "_superop", "_umix")

    def __init__(self, kraus: Sequence[Any], num_qubits: int | None = None,
                 spec: tuple[str, tuple[Any, ...]] | None = None) -> None:
        mats = tuple(np.array(k, dtype=complex) for k in kraus)
        if not mats:
            raise NoiseError("a channel needs at least one Kraus operator")
        d = mats[0].shape[0] if mats[0].ndim == 2 else 0
        n = (d.bit_length() - 1) if d else -1
        if num_qubits is None:
            num_qubits = n
        if num_qubits < 0 or d != 1 << num_qubits:
            raise NoiseError(f"Kraus operators must be 2^n × 2^n matrices for num_qubits={num_qubits}, "
                             f"got shape {mats[0].shape}")
        for k in mats:
            if k.shape != (d, d):
                raise NoiseError(f"Kraus operators must all be {d}×{d}, got shape {k.shape}")
        total = sum(k.conj().T @ k for k in mats)
        err = float(np.max(np.abs(total - np.eye(d))))
        if err > ATOL:
            raise NoiseError(f"Kraus operators are not trace preserving: max |Σ K†K - I| = {err:.3g}")
        for k in mats:
            k.setflags(write=False)
        self._kraus = mats
        self._num_qubits = int(num_qubits)
        self._spec = spec
        self._superop: np.ndarray | None = None
        self._umix: list[tuple[float, np.ndarray]] | bool | None = False
        self._pauli: dict[str, float] | bool | None = False

    # ---- facts ---------------------------------------------------------------------------------
    @property
    def kraus(self) -> tuple[np.ndarray, ...]:
        return self._kraus

    @property
    def num_qubits(self) -> int:
        return self._num_qubits

    @property
    def spec(self) -> tuple[str, tuple[Any, ...]] | None:
        return self._spec

    def superop(self) -> np.ndarray:
        """The superoperator ``Σ conj(K) ⊗ K`` acting on column-stacked ``vec(ρ)`` (Qiskit's
        ``SuperOp`` convention)."""
        if self._superop is None:
            s = sum(np.kron(k.conj(), k) for k in self._kraus)
            assert isinstance(s, np.ndarray)
            s.setflags(write=False)
            self._superop = s
        return self._superop

    def choi(self) -> np.ndarray:
        """The Choi matrix ``Σ_ij |i⟩⟨j| ⊗ E(|i⟩⟨j|)`` (Qiskit's ``Choi`` convention)."""
        vecs = [k.T.reshape(-1) for k in self._kraus]  # vec[i*d + a] = K[a, i]
        return sum(np.outer(v, v.conj()) for v in vecs)  # type: ignore[return-value]

    @classmethod
    def from_choi(cls, choi: Any, spec: tuple[str, tuple[Any, ...]] | None = None) -> Channel:
        """The channel of a Choi matrix (same convention as :meth:`choi`), with minimal Kraus rank."""
        c = np.asarray(choi, dtype=complex)
        d = round(math.sqrt(c.shape[0]))
        w, v = np.linalg.eigh((c + c.conj().T) / 2)
        if w.min() < -1e-8:
            raise NoiseError(f"Choi matrix is not positive semidefinite (eigenvalue {w.min():.3g})")
        kraus = [math.sqrt(x) * v[:, i].reshape(d, d).T for i, x in enumerate(w) if x > 1e-13]
        return cls(kraus, d.bit_length() - 1, spec)

    def unitary_mixture(self) -> list[tuple[float, np.ndarray]] | None:
        """``[(p_k, U_k)]`` when every Kraus operator is ``√p_k U_k`` with ``U_k`` unitary, else None.

        Trajectory simulation samples such channels without computing any norm."""
        if self._umix is False:
            out: list[tuple[float, np.ndarray]] | None = []
            d = 1 << self._num_qubits
            for k in self._kraus:
                kk = k.conj().T @ k
                p = float(kk[0, 0].real)
                if np.max(np.abs(kk - p * np.eye(d))) > ATOL:
                    out = None
                    break
                if p > 1e-15:
                    assert out is not None
                    out.append((p, k / math.sqrt(p)))
            self._umix = out
        return self._umix  # type: ignore[return-value]

    def is_unitary_mixture(self) -> bool:
        return self.unitary_mixture() is not None

    def pauli_probabilities(self) -> dict[str, float] | None:
        """``{pauli string: probability}`` when the channel is a Pauli channel, else None.

        Found from the process (chi) matrix in the Pauli basis, which is diagonal exactly for Pauli
        channels; strings have operand 0 rightmost. Zero probabilities are left out."""
        if self._pauli is False:
            n = self._num_qubits
            d = 1 << n
            labels = _pauli_labels(n)
            basis = np.array([pauli_matrix(lb).reshape(-1) for lb in labels])  # (d², d²)
            # K = Σ_a c_a P_a with c_a = tr(P_a K) / d = <P_a, K> / d (Paulis are Hermitian)
            coeffs = np.array([basis.conj() @ k.reshape(-1) for k in self._kraus]) / d
            chi = coeffs.T @ coeffs.conj()
            diag = chi.diagonal().real
            off = chi - np.diag(chi.diagonal())
            if np.max(np.abs(off)) > 1e-9:
                self._pauli = None
            else:
                self._pauli = {lb: float(round(p, 15)) for lb, p in zip(labels, diag) if p > 1e-15}
        return self._pauli  # type: ignore[return-value]

    def is_pauli(self) -> bool:
        return self.pauli_probabilities() is not None

    # ---- value behaviour -----------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Channel):
            return NotImplemented
        return (self._num_qubits == other._num_qubits
                and bool(np.allclose(self.superop(), other.superop(), atol=ATOL, rtol=0)))

    def __hash__(self) -> int:
        return hash(("Channel", self._num_qubits))

    def __repr__(self) -> str:
        if self._spec is not None:
            name, params = self._spec
            if name == "PauliChannel":
                return f"PauliChannel({params[0]!r})"
            return f"{name}({', '.join(repr(p) for p in params)})"
        ks = ", ".join(f"np.array({k.tolist()!r})" for k in self._kraus)
        return f"Channel(({ks},), num_qubits={self._num_qubits})"

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict: constructor parameters when known, else the Kraus matrices."""
        if self._spec is not None:
            name, params = self._spec
            return {"type": name, "params": [_json_param(p) for p in params]}
        return {"type": "kraus", "num_qubits": self._num_qubits,
                "kraus": [[k.real.tolist(), k.imag.tolist()] for k in self._kraus]}

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Channel:
        kind = data.get("type")
        if kind == "kraus":
            return Channel([np.array(re) + 1j * np.array(im) for re, im in data["kraus"]],
                           int(data["num_qubits"]))
        ctor = _CONSTRUCTORS.get(str(kind))
        if ctor is None:
            raise NoiseError(f"unknown channel type {kind!r} in JSON")
        return ctor(*[_from_json_param(p) for p in data.get("params", [])])

    # ---- combination ---------------------------------------------------------------------------
    def compose(self, other: Channel) -> Channel:
        """``self`` then ``other``; see :func:`compose`."""
        return compose(self, other)

    def tensor(self, other: Channel) -> Channel:
        """``self`` on the low operands, ``other`` on the following ones; see :func:`tensor`."""
        return tensor(self, other)


def _json_param(p: Any) -> Any:
    if isinstance(p, float) and math.isinf(p):
        return "inf"
    if isinstance(p, Channel):
        return p.to_json()
    if isinstance(p, Mapping):
        return dict(p)
    return p


def _from_json_param(p: Any) -> Any:
    if isinstance(p, Mapping) and "type" in p:
        return Channel.from_json(p)
    return math.inf if p == "inf" else p


class PauliChannel(Channel):
    """``ρ → Σ_P p_P P ρ P`` over Pauli strings (rightmost character = operand 0).

    The identity's probability may be omitted: it is ``1 - Σ others``.

    Examples:
        >>> PauliChannel({"X": 0.1}).pauli_probabilities()
        {'I': 0.9, 'X': 0.1}
    """

    __slots__ = ("probabilities",)

    def __init__(self, probabilities: Mapping[str, float]) -> None:
        if not probabilities:
            raise NoiseError("PauliChannel needs at least one Pauli string")
        lens = {len(k) for k in probabilities}
        if len(lens) != 1 or 0 in lens:
            raise NoiseError(
                f"Pauli strings must all have the same non-zero length, got {list(probabilities)}")
        n = lens.pop()
        probs: dict[str, float] = {}
        for label, p in probabilities.items():
            pauli_matrix(label)  # validates the characters
            probs[label] = probs.get(label, 0.0) + _prob(f"probability of {label!r}", p)
        ident = "I" * n
        rest = sum(v for k, v in probs.items() if k != ident)
        if ident not in probs:
            if rest > 1 + ATOL:
                raise NoiseError(f"Pauli probabilities sum to {rest:.6g} > 1")
            probs[ident] = max(0.0, 1.0 - rest)
        total = sum(probs.values())
        if abs(total - 1) > 1e-9:
            raise NoiseError(f"Pauli probabilities must sum to 1, got {total:.12g}")
        ordered = {k: probs[k] for k in sorted(probs, key=_pauli_labels(n).index) if probs[k] > 0}
        kraus = [math.sqrt(p) * pauli_matrix(k) for k, p in ordered.items()]
        super().__init__(kraus or [pauli_matrix(ident)], n, ("PauliChannel", (ordered,)))
        self.probabilities = ordered
        self._pauli = dict(ordered)
        self._umix = [(p, pauli_matrix(k)) for k, p in ordered.items()]


# ---- constructors -----------------------------------------------------------------------------
def depolarizing(p: float, num_qubits: int = 1) -> PauliChannel:
    """``ρ → (1 - p) ρ + p I/d`` with ``d = 2^num_qubits`` (Qiskit's ``depolarizing_error``).

    ``p`` may go up to ``d²/(d²-1)`` (the fully Pauli-twirling channel). Its average gate
    infidelity is ``e = p (d-1)/d``, so a gate with average error ``e`` gets ``p = e d/(d-1)``.

    Examples:
        >>> sorted(depolarizing(0.3).pauli_probabilities().items())[1]
        ('X', 0.075)
    """
    if not isinstance(num_qubits, (int, np.integer)) or num_qubits < 1:
        raise NoiseError(f"num_qubits must be a positive integer, got {num_qubits!r}")
    d2 = 4 ** int(num_qubits)
    pv = _prob("depolarizing probability p", p, d2 / (d2 - 1))
    labels = _pauli_labels(int(num_qubits))
    probs = {lb: pv / d2 for lb in labels[1:]}
    probs[labels[0]] = 1 - pv + pv / d2
    ch = PauliChannel(probs)
    ch._spec = ("depolarizing", (float(p), int(num_qubits)))
    return ch


def pauli_channel(px: float, py: float, pz: float) -> PauliChannel:
    """One-qubit Pauli channel: X, Y, Z with probabilities ``px, py, pz`` (identity otherwise)."""
    px_, py_, pz_ = _prob("px", px), _prob("py", py), _prob("pz", pz)
    if px_ + py_ + pz_ > 1 + ATOL:
        raise NoiseError(f"px + py + pz must be at most 1, got {px_ + py_ + pz_:.6g}")
    ch = PauliChannel({"X": px_, "Y": py_, "Z": pz_})
    ch._spec = ("pauli_channel", (float(px), float(py), float(pz)))
    return ch


def amplitude_damping(gamma: float) -> Channel:
    """Energy relaxation ``|1⟩ → |0⟩`` with probability ``gamma``.

    Kraus: ``[[1, 0], [0, √(1-γ)]]`` and ``[[0, √γ], [0, 0]]``."""
    g = _prob("amplitude damping gamma", gamma)
    return Channel([np.array([[1, 0], [0, math.sqrt(1 - g)]]), np.array([[0, math.sqrt(g)], [0, 0]])],
                   1, ("amplitude_damping", (float(gamma),)))


def phase_damping(lam: float) -> Channel:
    """Pure dephasing: coherences shrink by ``√(1-λ)``.

    Kraus: ``[[1, 0], [0, √(1-λ)]]`` and ``[[0, 0], [0, √λ]]`` (Qiskit's ``phase_damping_error``)."""
    v = _prob("phase damping lam", lam)
    return Channel([np.array([[1, 0], [0, math.sqrt(1 - v)]]), np.array([[0, 0], [0, math.sqrt(v)]])],
                   1, ("phase_damping", (float(lam),)))


def thermal_relaxation(t1: float, t2: float, duration: float, excited_population: float = 0.0) -> Channel:
    """Relaxation towards the thermal state for ``duration`` seconds with times ``t1``, ``t2``.

    Populations relax with ``exp(-t/T1)`` towards ``excited_population`` in ``|1⟩``, coherences
    decay with ``exp(-t/T2)``. Requires ``0 < t2 ≤ 2·t1`` (``t1 = t2 = inf`` is no relaxation)
    and ``duration ≥ 0``. Same channel as Qiskit's ``thermal_relaxation_error``.
    """
    vals = {}
    for name, v in (("t1", t1), ("t2", t2), ("duration", duration)):
        try:
            vals[name] = float(v)
        except (TypeError, ValueError):
            raise NoiseError(f"thermal relaxation {name} must be a number, got {v!r}") from None
        if math.isnan(vals[name]):
            raise NoiseError(f"thermal relaxation {name} must be a number, got {v!r}")
    T1, T2, t = vals["t1"], vals["t2"], vals["duration"]
    if T1 <= 0:
        raise NoiseError(f"thermal relaxation t1 must be positive, got t1={t1!r}")
    if T2 <= 0:
        raise NoiseError(f"thermal relaxation t2 must be positive, got t2={t2!r}")
    if T2 > 2 * T1 * (1 + 1e-12):
        raise NoiseError(f"thermal relaxation needs t2 <= 2*t1, got t1={t1!r}, t2={t2!r}")
    if t < 0:
        raise NoiseError(f"thermal relaxation duration must be >= 0, got duration={duration!r}")
    pe = _prob("excited_population", excited_population)
    p_reset = 0.0 if math.isinf(T1) else 1 - math.exp(-t / T1)
    e2 = 1.0 if math.isinf(T2) else math.exp(-t / T2)
    p0, p1 = 1 - pe, pe
    choi = np.array([[1 - p1 * p_reset, 0, 0, e2],
                     [0, p1 * p_reset, 0, 0],
                     [0, 0, p0 * p_reset, 0],
                     [e2, 0, 0, 1 - p0 * p_reset]], dtype=complex)
    return Channel.from_choi(choi, ("thermal_relaxation", (T1, T2, t, float(excited_population))))


def identity(num_qubits: int = 1) -> PauliChannel:
    """The channel that does nothing."""
    return depolarizing(0.0, num_qubits)


def compose(first: Channel, second: Channel) -> Channel:
    """``second ∘ first``: apply ``first``, then ``second`` (both on the same operands).

    Pauli channels compose to a Pauli channel; otherwise the Kraus set is reduced to minimal rank
    (at most ``d²`` operators) when the product would be larger.
    """
    if first.num_qubits != second.num_qubits:
        raise NoiseError(f"cannot compose a {first.num_qubits}-qubit channel with a "
                         f"{second.num_qubits}-qubit channel; use tensor() first")
    pa, pb = first.pauli_probabilities(), second.pauli_probabilities()
    if pa is not None and pb is not None:
        out: dict[str, float] = {}
        for a, x in pa.items():
            for b, y in pb.items():
                lb = _pauli_product(a, b)
                out[lb] = out.get(lb, 0.0) + x * y
        return PauliChannel(out)
    kraus = [b @ a for a in first.kraus for b in second.kraus]
    spec = _spec_of("compose", first, second)
    ch = Channel(kraus, first.num_qubits, spec)
    if len(kraus) > 4 ** first.num_qubits:
        return Channel.from_choi(ch.choi(), spec)
    return ch


def _spec_of(name: str, a: Channel, b: Channel) -> tuple[str, tuple[Any, ...]] | None:
    return (name, (a, b)) if a.spec is not None and b.spec is not None else None


def _pauli_product(a: str, b: str) -> str:
    table = {("I", x): x for x in "IXYZ"} | {(x, "I"): x for x in "IXYZ"} | {(x, x): "I" for x in "XYZ"}
    table |= {("X", "Y"): "Z", ("Y", "X"): "Z", ("Y", "Z"): "X", ("Z", "Y"): "X",
              ("X", "Z"): "Y", ("Z", "X"): "Y"}
    return "".join(table[(x, y)] for x, y in zip(a, b))


def tensor(low: Channel, high: Channel) -> Channel:
    """``low ⊗ high`` as one channel: ``low`` on operands ``0..k-1``, ``high`` on the rest."""
    pa, pb = low.pauli_probabilities(), high.pauli_probabilities()
    if pa is not None and pb is not None:
        return PauliChannel({b + a: x * y for a, x in pa.items() for b, y in pb.items()})
    return Channel([np.kron(b, a) for a in low.kraus for b in high.kraus],
                   low.num_qubits + high.num_qubits, _spec_of("tensor", low, high))


# ---- readout ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReadoutError:
    """Classical bit-flip on measurement: ``p0_given_1`` = P(read 0 | qubit in 1),
    ``p1_given_0`` = P(read 1 | qubit in 0).

    Examples:
        >>> ReadoutError(0.02, 0.01).matrix
        array([[0.99, 0.02],
               [0.01, 0.98]])
    """

    p0_given_1: float
    p1_given_0: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "p0_given_1", _prob("readout p0_given_1", self.p0_given_1))
        object.__setattr__(self, "p1_given_0", _prob("readout p1_given_0", self.p1_given_0))

    @property
    def matrix(self) -> np.ndarray:
        """Confusion matrix ``M[measured, true]`` (columns sum to 1). Qiskit's ``ReadoutError``
        takes the transpose (rows = true)."""
        return np.array([[1 - self.p1_given_0, self.p0_given_1],
                         [self.p1_given_0, 1 - self.p0_given_1]])

    @property
    def is_ideal(self) -> bool:
        return self.p0_given_1 == 0 and self.p1_given_0 == 0

    def to_json(self) -> dict[str, float]:
        return {"p0_given_1": self.p0_given_1, "p1_given_0": self.p1_given_0}

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> ReadoutError:
        return ReadoutError(float(data["p0_given_1"]), float(data["p1_given_0"]))


def _pauli_channel_from_json(probs: Mapping[str, float]) -> PauliChannel:
    return PauliChannel(probs)


_CONSTRUCTORS: dict[str, Any] = {
    "depolarizing": depolarizing,
    "pauli_channel": pauli_channel,
    "amplitude_damping": amplitude_damping,
    "phase_damping": phase_damping,
    "thermal_relaxation": thermal_relaxation,
    "PauliChannel": _pauli_channel_from_json,
    "compose": lambda a, b: compose(a, b),
    "tensor": lambda a, b: tensor(a, b),
}

__all__ = ["Channel", "PauliChannel", "ReadoutError", "amplitude_damping", "compose", "depolarizing",
           "identity", "pauli_channel", "pauli_matrix", "phase_damping", "tensor", "thermal_relaxation"]
