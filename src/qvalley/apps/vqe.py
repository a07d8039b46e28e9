"""VQE for molecules: Hamiltonian building, exact reference by sparse diagonalisation, optimisation.

The statevector path evaluates ``⟨ψ|H|ψ⟩`` as one sparse matrix–vector product per evaluation
(``H`` built once from the Pauli sum, no per-term circuits) and gradients by adjoint
differentiation in the ansatz (:mod:`qvalley.apps.ansatz`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..circuit.observable import Observable
from ._errors import AppsError
from .ansatz import UCCSD, HardwareEfficient, hartree_fock_index
from .chemistry import ANGSTROM, MolecularData, load_molecule
from .fermion import molecular_hamiltonian, taper_parity, to_observable
from .optimizers import minimize

CHEMICAL_ACCURACY = 1.6e-3  # hartree


def qubit_hamiltonian(mol: MolecularData, mapping: str = "jordan_wigner",
                      two_qubit_reduction: bool = False) -> Observable:
    """The molecular Hamiltonian as a Pauli sum (``parity`` may drop two qubits by symmetry)."""
    op = molecular_hamiltonian(mol, mapping)
    n = mol.n_qubits
    if two_qubit_reduction:
        if mapping != "parity":
            raise AppsError("two-qubit reduction needs the parity mapping")
        op = taper_parity(op, mol.n_orbitals, mol.n_alpha, mol.n_beta)
        n -= 2
    return to_observable(op, n)


def sector_ground_energy(h: Observable, n_orbitals: int, n_alpha: int, n_beta: int) -> float:
    """Lowest eigenvalue of a Jordan–Wigner Hamiltonian in the ``(n_α, n_β)`` sector (sparse)."""
    from scipy.sparse.linalg import eigsh

    mat = h.to_sparse()
    idx = np.arange(1 << h.num_qubits, dtype=np.int64)
    lo = np.bitwise_count(idx & ((1 << n_orbitals) - 1)).astype(int)
    hi = np.bitwise_count(idx >> n_orbitals).astype(int)
    keep = idx[(lo == n_alpha) & (hi == n_beta)]
    sub = mat[keep][:, keep].real  # type: ignore[index]
    if sub.shape[0] <= 64:
        return float(np.linalg.eigvalsh(sub.toarray())[0])
    return float(eigsh(sub, k=1, which="SA")[0][0])


@dataclass(frozen=True)
class VQEResult:
    """Outcome of a VQE run (energies in hartree, time in seconds)."""

    energy: float
    reference_energy: float | None
    iterations: int
    evaluations: int
    seconds: float
    num_qubits: int
    num_parameters: int
    ansatz: str
    optimizer: str
    parameters: tuple[float, ...] = field(repr=False, default=())
    history: tuple[float, ...] = field(repr=False, default=())
    hf_energy: float | None = None
    mapping: str = "jordan_wigner"
    two_qubit_reduction: bool = False

    @property
    def error(self) -> float | None:
        return None if self.reference_energy is None else self.energy - self.reference_energy

    def to_dict(self) -> dict[str, Any]:
        return {"energy": self.energy, "reference_energy": self.reference_energy,
                "error": self.error, "iterations": self.iterations,
                "evaluations": self.evaluations, "seconds": self.seconds,
                "num_qubits": self.num_qubits, "num_parameters": self.num_parameters,
                "ansatz": self.ansatz, "optimizer": self.optimizer, "hf_energy": self.hf_energy,
                "mapping": self.mapping, "two_qubit_reduction": self.two_qubit_reduction}


def reference_index(mol: MolecularData, mapping: str = "jordan_wigner",
                    two_qubit_reduction: bool = False) -> int:
    """Basis index of the Hartree–Fock state under ``mapping`` (parity: prefix parities)."""
    occ = hartree_fock_index(mol.n_orbitals, mol.n_alpha, mol.n_beta)
    if mapping == "jordan_wigner":
        return occ
    if mapping != "parity":
        raise AppsError(f"unknown mapping {mapping!r} (jordan_wigner, parity)")
    par, bit = 0, 0
    for j in range(mol.n_qubits):
        bit ^= (occ >> j) & 1
        par |= bit << j
    if not two_qubit_reduction:
        return par
    qa, qt = mol.n_orbitals - 1, mol.n_qubits - 1
    low = par & ((1 << qa) - 1)
    mid = (par >> (qa + 1)) & ((1 << (qt - qa - 1)) - 1)
    return low | (mid << qa)


def make_ansatz(mol: MolecularData, ansatz: str = "uccsd", layers: int = 2,
                mapping: str = "jordan_wigner", two_qubit_reduction: bool = False
                ) -> UCCSD | HardwareEfficient:
    if ansatz == "uccsd":
        if mapping != "jordan_wigner":
            raise AppsError("the UCCSD ansatz acts in the Jordan-Wigner occupation basis; use "
                            "--mapping jordan_wigner or --ansatz hea")
        return UCCSD(mol.n_orbitals, mol.n_alpha, mol.n_beta)
    if ansatz == "hea":
        n = mol.n_qubits - (2 if two_qubit_reduction else 0)
        return HardwareEfficient(n, layers, reference_index(mol, mapping, two_qubit_reduction))
    raise AppsError(f"unknown ansatz {ansatz!r} (uccsd, hea)")


def run_vqe(mol: MolecularData, *, ansatz: str = "uccsd", optimizer: str = "L-BFGS-B",
            layers: int = 2, maxiter: int = 1000, seed: int | None = 0,
            initial: np.ndarray | None = None, mapping: str = "jordan_wigner",
            two_qubit_reduction: bool = False) -> VQEResult:
    """VQE on the exact statevector with adjoint gradients.

    ``mapping="parity"`` with ``two_qubit_reduction=True`` runs on two fewer qubits (HEA only).
    """
    t0 = time.perf_counter()
    obs = qubit_hamiltonian(mol, mapping, two_qubit_reduction)
    h = obs.to_sparse().real.tocsr()  # type: ignore[attr-defined]
    a = make_ansatz(mol, ansatz, layers, mapping, two_qubit_reduction)
    if initial is not None:
        x0 = np.asarray(initial, dtype=float)
    elif ansatz == "hea":
        x0 = np.random.default_rng(seed).normal(scale=0.01, size=a.num_parameters)
    else:
        x0 = a.initial_point()
    res = minimize(lambda x: a.value_and_grad(x, h), x0, optimizer, maxiter=maxiter, seed=seed)
    return VQEResult(res.fun, mol.fci_energy, res.iterations, res.evaluations,
                     time.perf_counter() - t0, obs.num_qubits, a.num_parameters, ansatz,
                     res.method, tuple(map(float, res.x)), res.history, mol.hf_energy, mapping,
                     two_qubit_reduction)


def dissociation_curve(molecule: str, bond_lengths: list[float], **kw: Any
                       ) -> list[tuple[float, VQEResult]]:
    """VQE along a bond scan (lengths in m), warm-starting each point from the previous optimum."""
    out: list[tuple[float, VQEResult]] = []
    prev: np.ndarray | None = None
    for r in bond_lengths:
        mol = load_molecule(molecule, r)
        res = run_vqe(mol, initial=prev, **kw)
        prev = np.array(res.parameters)
        out.append((r, res))
    return out


__all__ = ["ANGSTROM", "CHEMICAL_ACCURACY", "VQEResult", "dissociation_curve", "make_ansatz",
           "qubit_hamiltonian", "reference_index", "run_vqe", "sector_ground_energy"]
