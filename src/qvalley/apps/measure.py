"""Observables with shots: qubit-wise-commuting groups, basis-change circuits, any device or noise.

Each group of qubit-wise-commuting (QWC) Pauli terms is measured with one circuit: the state
preparation, a basis change per qubit (``X``: H; ``Y``: S†, H) and a measurement of every qubit,
run through :func:`qvalley.emulator.run_on_device` (ideal or an emulated, noisy processor). A
term's eigenvalue per shot is the parity of the measured bits on its support.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..circuit.circuit import Circuit
from ..circuit.observable import Observable, PauliTerm
from ._errors import AppsError


def qwc(a: PauliTerm, b: PauliTerm) -> bool:
    """Whether two terms commute qubit by qubit (same Pauli wherever both act)."""
    da = dict(a.ops)
    return all(da.get(q, p) == p for q, p in b.ops)


def group_qwc(obs: Observable) -> list[list[int]]:
    """Greedy largest-first partition of the non-identity terms into QWC groups (term indices)."""
    order = sorted((i for i, t in enumerate(obs.terms) if t.ops), key=lambda i: -len(obs.terms[i].ops))
    groups: list[tuple[dict[int, str], list[int]]] = []
    for i in order:
        t = obs.terms[i]
        for basis, members in groups:
            if all(basis.get(q, p) == p for q, p in t.ops):
                basis.update(t.ops)
                members.append(i)
                break
        else:
            groups.append((dict(t.ops), [i]))
    return [m for _, m in groups]


def basis_change(circuit: Circuit, basis: dict[int, str]) -> Circuit:
    """A copy of ``circuit`` rotated so that measuring Z reads out ``basis`` on each qubit."""
    c = circuit.copy()
    for q, p in sorted(basis.items()):
        if p == "X":
            c.h(q)
        elif p == "Y":
            c.sdg(q)
            c.h(q)
    return c


@dataclass(frozen=True)
class Estimate:
    """``⟨H⟩`` from shots with its standard error, the number of groups and shots per group."""

    value: float
    stderr: float
    groups: int
    shots: int
    device: str

    def to_dict(self) -> dict[str, Any]:
        return {"energy": self.value, "stderr": self.stderr, "groups": self.groups,
                "shots": self.shots, "device": self.device}


def estimate(circuit: Circuit, obs: Observable, *, device: Any = "ideal", shots: int = 4000,
             seed: int | None = 0, noise: bool = True) -> Estimate:
    """Estimate ``⟨ψ|H|ψ⟩`` for ``|ψ⟩ = circuit|0⟩`` by sampling each QWC group on ``device``."""
    from ..emulator import run_on_device

    if shots < 1:
        raise AppsError(f"shots must be positive, got {shots}")
    if obs.num_qubits > circuit.num_qubits:
        raise AppsError(f"observable has {obs.num_qubits} qubits, circuit {circuit.num_qubits}")
    rng = np.random.default_rng(seed)
    value = float(sum(t.coeff.real for t in obs.terms if not t.ops))
    var = 0.0
    groups = group_qwc(obs)
    name = device if isinstance(device, str) else getattr(device, "name", "device")
    for members in groups:
        basis: dict[int, str] = {}
        for i in members:
            basis.update(obs.terms[i].ops)
        c = basis_change(circuit, basis)
        run = run_on_device(c, device, shots=shots, seed=int(rng.integers(2**31)), noise=noise)
        keys = list(run.counts)
        counts = np.array([run.counts[k] for k in keys], dtype=float)
        idx = np.array([int(k, 2) for k in keys], dtype=np.int64)
        per = np.zeros(len(keys))
        for i in members:
            t = obs.terms[i]
            mask = 0
            for q, _ in t.ops:
                mask |= 1 << q
            par = np.bitwise_count(idx & mask).astype(np.int64) & 1
            per += t.coeff.real * (1 - 2 * par)
        n = counts.sum()
        mean = float(per @ counts / n)
        value += mean
        var += float(((per - mean) ** 2) @ counts / n) / n
    return Estimate(value, float(np.sqrt(var)), len(groups), shots, str(name))


def parameter_shift_gradient(build: Callable[[np.ndarray], Circuit], theta: np.ndarray,
                             obs: Observable, **kw: Any) -> np.ndarray:
    """Gradient by the parameter-shift rule for circuits whose parameters each enter one Pauli
    rotation ``exp(-iθP/2)`` (RX/RY/RZ): ``∂E/∂θ_k = (E(θ + π/2 e_k) - E(θ - π/2 e_k)) / 2``.

    ``build(theta)`` returns the bound circuit; ``kw`` goes to :func:`estimate` (device, shots, seed).
    """
    theta = np.asarray(theta, dtype=float)
    g = np.zeros(theta.size)
    for k in range(theta.size):
        e = np.zeros(theta.size)
        e[k] = np.pi / 2
        g[k] = (estimate(build(theta + e), obs, **kw).value - estimate(build(theta - e), obs, **kw).value) / 2
    return g


def hea_circuit(n_qubits: int, layers: int, theta: Sequence[float] | np.ndarray,
                start_index: int = 0) -> Circuit:
    """The :class:`~qvalley.apps.ansatz.HardwareEfficient` ansatz as a :class:`Circuit`.

    ``start_index`` is the basis state the ansatz starts from (its ``start_index`` attribute).
    """
    c = Circuit(n_qubits)
    for q in range(n_qubits):
        if (start_index >> q) & 1:
            c.x(q)
    k = 0
    for layer in range(layers + 1):
        for q in range(n_qubits):
            c.ry(float(theta[k]), q)
            k += 1
        if layer < layers:
            for q in range(n_qubits - 1):
                c.cx(q, q + 1)
    return c


def device_energy(mol: Any, res: Any, device: str, *, shots: int = 4000, seed: int | None = 0
                  ) -> dict[str, Any]:
    """Energy of a finished hardware-efficient VQE state measured with shots on ``device``."""
    from .ansatz import HardwareEfficient
    from .vqe import qubit_hamiltonian, reference_index

    if res.ansatz != "hea":
        raise AppsError("--device runs the circuit on an emulated processor; use --ansatz hea "
                        "(UCCSD is applied as exact statevector rotations, not as a circuit)")
    n = res.num_qubits
    layers = len(res.parameters) // n - 1
    a = HardwareEfficient(n, layers, reference_index(mol, res.mapping, res.two_qubit_reduction))
    c = hea_circuit(n, layers, res.parameters, a.start_index)
    obs = qubit_hamiltonian(mol, res.mapping, res.two_qubit_reduction)
    return estimate(c, obs, device=device, shots=shots, seed=seed).to_dict()


def vqe_on_device(mol: Any, device: str, *, shots: int = 2000, layers: int = 1,
                  mapping: str = "parity", two_qubit_reduction: bool = True,
                  optimizer: str = "Adam", maxiter: int = 40, learning_rate: float = 0.1,
                  seed: int | None = 0) -> dict[str, Any]:
    """VQE trained with shots on an emulated device: HEA circuit, QWC-grouped energy estimates,
    parameter-shift gradients (``Adam``/``SPSA``; gradient-based scipy methods also work but expect
    exact values). Returns the noisy final estimate and the exact energy of the trained parameters.
    """
    from .ansatz import HardwareEfficient
    from .optimizers import minimize
    from .vqe import qubit_hamiltonian, reference_index

    obs = qubit_hamiltonian(mol, mapping, two_qubit_reduction)
    n = obs.num_qubits
    a = HardwareEfficient(n, layers, reference_index(mol, mapping, two_qubit_reduction))
    rng = np.random.default_rng(seed)

    def build(t: np.ndarray) -> Circuit:
        return hea_circuit(n, layers, t, a.start_index)

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        s = int(rng.integers(2**31))
        v = estimate(build(x), obs, device=device, shots=shots, seed=s).value
        g = parameter_shift_gradient(build, x, obs, device=device, shots=shots, seed=s + 1)
        return v, g

    x0 = rng.normal(scale=0.05, size=a.num_parameters)
    res = minimize(fun, x0, optimizer, maxiter=maxiter, seed=seed, learning_rate=learning_rate)
    h = obs.to_sparse().real  # type: ignore[attr-defined]
    exact, _ = a.value_and_grad(res.x, h)
    return {"device": device, "shots": shots, "optimizer": res.method, "iterations": res.iterations,
            "evaluations": res.evaluations, "estimated_energy": res.fun,
            "exact_energy_of_parameters": float(exact), "num_qubits": n}
