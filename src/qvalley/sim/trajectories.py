"""Noisy simulation by quantum trajectories on the statevector engine.

One trajectory is a statevector evolution in which every channel after a gate is replaced by one of
its Kraus operators, drawn at random: a unitary mixture ``Σ p_k U_k ρ U_k†`` (Pauli, depolarizing
channels) draws ``U_k`` with probability ``p_k`` without looking at the state; a general channel
draws ``K_k`` with probability ``‖K_k ψ‖² = tr(K_k†K_k ρ_q)`` (``ρ_q`` the reduced state of the
channel's qubits, read from the backend's numpy view) and applies ``K_k/√p_k`` through the backend's
``apply_gates``. Mid-circuit measurement and reset collapse the state with the Born probabilities.

**Grouping shots.** ``run`` uses ``T = min(shots, trajectories)`` trajectories (default cap
1000) and samples ``shots/T`` (±1) terminal records from each final state. The record frequencies
are an *unbiased* estimator of the exact (density-matrix) distribution: averaging the final pure
states over trajectories gives ρ. Shots from one trajectory are correlated, so the variance is
that of between ``T`` and ``shots`` independent samples; pass ``trajectories=shots`` for fully
independent shots. Readout errors flip each sampled bit independently.

**Batching.** A circuit of at most ``BATCH_MAX_QUBITS`` qubits without mid-circuit measurement,
reset or conditions runs its trajectories as the columns of one ``(2^n, batch)`` array: each gate is
one numpy call for the whole batch, and each channel draws one Kraus operator per column (per
column probabilities for general channels) and applies it to the columns that drew it. Larger or
dynamic circuits run one trajectory at a time on the chosen backend.

Bit order: qubit ``k`` is bit ``k`` of a state index; in bitstrings classical bit 0 is rightmost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import SimulationError
from ..circuit import Barrier, Circuit, Gate, Measure, Operation, Reset
from ..noise.channels import Channel
from ..noise.model import NoiseModel
from .statevector.engine import (
    Backend,
    GateList,
    Result,
    _check_simulable,
    _gate_matrix,
    _holds,
    _measure_into_fresh,
    as_rng,
    check_precision,
    split_terminal_measurements,
)
from .statevector.reference import apply_matrix

DEFAULT_TRAJECTORIES = 1000
BATCH_MAX_QUBITS = 14  # up to here, circuits without mid-circuit measurement run batched
BATCH_AMPLITUDES = 1 << 17  # per batch: large enough to amortize numpy calls, small enough for cache


def reduced_density_matrix(psi: np.ndarray, qubits: Sequence[int]) -> np.ndarray:
    """``ρ`` of ``qubits`` (operand j = bit j of its index) from a statevector ``psi``."""
    n = psi.size.bit_length() - 1
    k = len(qubits)
    t = psi.astype(np.complex128, copy=False).reshape((2,) * n)
    axes = [n - 1 - qubits[j] for j in reversed(range(k))]
    a = np.moveaxis(t, axes, list(range(k))).reshape(1 << k, -1)
    return a @ a.conj().T


class _Sampler:
    """A channel prepared for repeated drawing."""

    __slots__ = ("cum", "gram", "identity", "mats", "unitary")

    def __init__(self, ch: Channel, dtype: Any) -> None:
        mix = ch.unitary_mixture()
        d = 1 << ch.num_qubits
        self.unitary = mix is not None
        if mix is not None:
            probs = np.array([p for p, _ in mix])
            self.cum = np.cumsum(probs / probs.sum())
            self.mats = [u.astype(dtype) for _, u in mix]
            # a unitary proportional to the identity changes nothing (global phase)
            self.identity = [bool(abs(abs(u[0, 0]) - 1) < 1e-12 and np.allclose(u, u[0, 0] * np.eye(d)))
                             for _, u in mix]
            self.gram = np.zeros((0, d, d))
        else:
            self.mats = list(ch.kraus)
            self.gram = np.array([k.conj().T @ k for k in ch.kraus])
            self.cum = np.zeros(0)
            self.identity = [False] * len(self.mats)


class TrajectorySimulator:
    """Monte-Carlo wavefunction simulation of a noisy circuit; see the module docstring.

    Args:
        noise: the :class:`~qvalley.noise.NoiseModel` (``None`` = ideal).
        backend: ``"fast"`` (numba engine) or ``"reference"`` (numpy), or a Backend instance.
        precision: ``"single"`` (complex64) or ``"double"`` (complex128).
        trajectories: default cap on the number of trajectories per run.
    """

    method = "trajectories"

    def __init__(self, noise: NoiseModel | None = None, backend: str | Backend = "fast",
                 precision: str = "single", trajectories: int = DEFAULT_TRAJECTORIES) -> None:
        check_precision(precision)
        self.noise = noise if noise is not None else NoiseModel()
        self.precision = precision
        self.trajectories = int(trajectories)
        if self.trajectories < 1:
            raise SimulationError(f"trajectories must be a positive integer, got {trajectories!r}")
        if backend == "fast":
            from .statevector.fast import FastBackend

            self.backend: Backend = FastBackend(precision)
        elif backend == "reference":
            from .statevector.reference import ReferenceBackend

            self.backend = ReferenceBackend(precision)
        elif isinstance(backend, str):
            raise SimulationError(f"unknown backend {backend!r} (choose from fast, reference)")
        else:
            self.backend = backend
        self.dtype = np.complex64 if precision == "single" else np.complex128
        self._samplers: dict[int, tuple[Channel, _Sampler]] = {}
        self._mat_cache: dict[int, np.ndarray] = {}
        self._chan_cache: dict[int, list[tuple[Channel, tuple[int, ...]]]] = {}

    def _sampler(self, ch: Channel) -> _Sampler:
        hit = self._samplers.get(id(ch))
        if hit is None or hit[0] is not ch:
            hit = (ch, _Sampler(ch, self.dtype))
            self._samplers[id(ch)] = hit
        return hit[1]

    def _apply_channel(self, state: Any, pending: GateList, ch: Channel, qs: tuple[int, ...],
                       rng: np.random.Generator) -> Any:
        s = self._sampler(ch)
        if s.unitary:
            k = int(np.searchsorted(s.cum, rng.random(), side="right"))
            k = min(k, len(s.mats) - 1)
            if not s.identity[k]:
                pending.append((s.mats[k], qs))
            return state
        be = self.backend
        state = be.apply_gates(state, list(pending))
        pending.clear()
        rho = reduced_density_matrix(be.to_numpy(state), qs)
        probs = np.maximum(np.einsum("kij,ji->k", s.gram, rho).real, 0.0)
        total = probs.sum()
        k = int(np.searchsorted(np.cumsum(probs) / total, rng.random(), side="right"))
        k = min(k, len(probs) - 1)
        while probs[k] <= 0:  # numerical edge: never pick an impossible branch
            k -= 1
        mat = (s.mats[k] / math.sqrt(probs[k] / total)).astype(self.dtype)
        return be.apply_gates(state, [(mat, qs)])

    def _channels(self, state: Any, pending: GateList, op: Operation,
                  rng: np.random.Generator) -> Any:
        chans = self._chan_cache.get(id(op))
        if chans is None:
            chans = [(ch, tuple(qs)) for ch, qs in self.noise.channels_for(op)]
        for ch, qs in chans:
            state = self._apply_channel(state, pending, ch, qs, rng)
        return state

    def _readout(self, bit: np.ndarray, q: int, rng: np.random.Generator) -> np.ndarray:
        err = self.noise.readout_error(q)
        if err is None:
            return bit
        flip_p = np.where(bit == 1, err.p0_given_1, err.p1_given_0)
        return bit ^ (rng.random(bit.shape) < flip_p).astype(bit.dtype)

    def _trajectory(self, n: int, body: Sequence[Operation], terminal: Sequence[tuple[int, int]],
                    shots: int, rng: np.random.Generator, counts: dict[int, int]) -> None:
        be = self.backend
        state = be.zero_state(n)
        pending: GateList = []
        cval = 0
        for op in body:
            if op.condition is not None and not _holds(op, cval):
                continue
            g = op.gate
            if isinstance(g, Barrier):
                continue
            if isinstance(g, Gate):
                pending.append((self._mat_cache[id(op)], op.qubits))
                state = self._channels(state, pending, op, rng)
                continue
            q = op.qubits[0]
            if isinstance(g, Measure):
                state = self._channels(state, pending, op, rng)
            state = be.apply_gates(state, list(pending))
            pending.clear()
            p1 = min(max(be.prob_one(state, q), 0.0), 1.0)
            o = int(rng.random() < p1)
            state = be.collapse(state, q, o, p1 if o else 1.0 - p1)
            if isinstance(g, Reset):
                if o:
                    state = be.flip(state, q)
                state = self._channels(state, pending, op, rng)
            else:
                r = int(self._readout(np.array([o]), q, rng)[0])
                c = op.clbits[0]
                cval = (cval & ~(1 << c)) | (r << c)
        for q, c in terminal:
            state = self._channels(state, pending, Operation(Measure(), (q,), (c,)), rng)
        state = be.apply_gates(state, list(pending))
        if not terminal:
            counts[cval] = counts.get(cval, 0) + shots
            return
        idx = np.asarray(be.sample_indices(state, shots, rng), dtype=np.int64)
        self._record(idx, terminal, cval, rng, counts)

    def _record(self, idx: np.ndarray, terminal: Sequence[tuple[int, int]], cval: int,
                rng: np.random.Generator, counts: dict[int, int]) -> None:
        """Add the records of sampled basis states ``idx`` (readout errors applied) to ``counts``."""
        clear = 0
        for _, c in terminal:
            clear |= 1 << c
        vals = np.full(idx.size, cval & ~clear, dtype=np.int64)
        for q, c in terminal:
            vals |= self._readout((idx >> q) & 1, q, rng) << c
        uniq, k = np.unique(vals, return_counts=True)
        for u, cnt in zip(uniq.tolist(), k.tolist()):
            counts[u] = counts.get(u, 0) + int(cnt)

    # ---- many small trajectories at once ------------------------------------------------------
    def _batch_channel(self, psi: np.ndarray, ch: Channel, qs: tuple[int, ...],
                       rng: np.random.Generator) -> np.ndarray:
        """Apply one drawn Kraus operator of ``ch`` to each column (trajectory) of ``psi``."""
        s = self._sampler(ch)
        b = psi.shape[1]
        if s.unitary:
            ks = np.minimum(np.searchsorted(s.cum, rng.random(b), side="right"), len(s.mats) - 1)
            weights = None
        else:
            n = psi.shape[0].bit_length() - 1
            k = len(qs)
            t = psi.reshape((2,) * n + (b,))
            axes = [n - 1 - qs[j] for j in reversed(range(k))]
            a = np.moveaxis(t, axes, list(range(k))).reshape(1 << k, -1, b)
            rho = np.einsum("irb,jrb->ijb", a, a.conj())
            probs = np.maximum(np.einsum("kij,jib->kb", s.gram, rho).real, 0.0)
            total = probs.sum(axis=0)
            cum = np.cumsum(probs, axis=0) / total
            ks = np.minimum((cum <= rng.random(b)).sum(axis=0), len(s.mats) - 1)
            cols = np.arange(b)
            impossible = probs[ks, cols] <= 0  # numerical edge: never pick an impossible branch
            ks[impossible] = probs[:, impossible].argmax(axis=0)
            weights = np.sqrt(total / probs[ks, cols])
        for kk in np.unique(ks).tolist():
            if s.identity[kk]:
                continue
            mat = s.mats[kk].astype(self.dtype)
            sel = np.nonzero(ks == kk)[0]
            whole = sel.size == b
            new = apply_matrix(psi if whole else psi[:, sel], mat, qs)
            if weights is not None:
                new = new * weights[sel].astype(new.real.dtype)
            if whole:
                psi = new
            else:
                psi[:, sel] = new
        return psi

    def _run_batched(self, n: int, body: Sequence[Operation], terminal: Sequence[tuple[int, int]],
                     per_trajectory: Sequence[int], rng: np.random.Generator,
                     counts: dict[int, int]) -> None:
        """Trajectories of a circuit without mid-circuit measurement, as the columns of one
        ``(2^n, batch)`` array: one numpy call serves a whole batch (small states are dominated by
        per-call overhead, not by arithmetic)."""
        d = 1 << n
        batch = max(1, min(len(per_trajectory), BATCH_AMPLITUDES >> n))
        gates = [(self._mat_cache[id(op)].astype(self.dtype), op.qubits, self._chan_cache[id(op)])
                 for op in body if isinstance(op.gate, Gate)]
        final = [(ch, tuple(qs)) for q, c in terminal
                 for ch, qs in self.noise.channels_for(Operation(Measure(), (q,), (c,)))]
        for start in range(0, len(per_trajectory), batch):
            shots = per_trajectory[start:start + batch]
            psi = np.zeros((d, len(shots)), dtype=self.dtype)
            psi[0] = 1
            for mat, qs, chans in gates:
                psi = apply_matrix(psi, mat, qs)
                for ch, cq in chans:
                    psi = self._batch_channel(psi, ch, cq, rng)
            for ch, cq in final:
                psi = self._batch_channel(psi, ch, cq, rng)
            probs = np.abs(psi.astype(np.complex128)) ** 2
            for j, m in enumerate(shots):
                if not terminal:
                    counts[0] = counts.get(0, 0) + m
                    continue
                p = probs[:, j] / probs[:, j].sum()
                self._record(rng.choice(d, size=m, p=p).astype(np.int64), terminal, 0, rng, counts)

    def run(self, circuit: Circuit, shots: int = 1024, seed: int | np.random.Generator | None = None,
            trajectories: int | None = None) -> Result:
        """Sample ``shots`` records from ``min(shots, trajectories)`` trajectories.

        A circuit with no measurement is measured on all qubits (bitstrings over qubits).
        """
        if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
            raise SimulationError(f"shots must be a positive integer, got {shots!r}")
        if not isinstance(circuit, Circuit):
            raise SimulationError(f"expected a qvalley Circuit, got {type(circuit).__name__}")
        cap = self.trajectories if trajectories is None else int(trajectories)
        if cap < 1:
            raise SimulationError(f"trajectories must be a positive integer, got {trajectories!r}")
        _check_simulable(circuit)
        rng = as_rng(seed)
        if not any(isinstance(op.gate, Measure) for op in circuit.operations):
            circuit = _measure_into_fresh(circuit)
        body, terminal = split_terminal_measurements(circuit)
        n = max(circuit.num_qubits, 1)
        t = min(int(shots), cap)
        base, extra = divmod(int(shots), t)
        counts: dict[int, int] = {}
        # per-operation matrices and channels, computed once for all trajectories
        self._mat_cache = {id(op): _gate_matrix(op) for op in body if isinstance(op.gate, Gate)}
        self._chan_cache = {id(op): [(ch, tuple(qs)) for ch, qs in self.noise.channels_for(op)]
                            for op in body}
        per_trajectory = [base + (1 if j < extra else 0) for j in range(t)]
        if n <= BATCH_MAX_QUBITS and all(
                op.condition is None and isinstance(op.gate, (Gate, Barrier)) for op in body):
            self._run_batched(n, body, terminal, per_trajectory, rng, counts)
        else:
            for m in per_trajectory:
                self._trajectory(n, body, terminal, m, rng, counts)
        width = circuit.num_clbits
        out = {format(v, f"0{width}b") if width else "": k for v, k in sorted(counts.items())}
        return Result(out, int(shots), circuit.num_qubits, self.method)


__all__ = ["DEFAULT_TRAJECTORIES", "TrajectorySimulator", "reduced_density_matrix"]
