"""VQE benchmark: 12-qubit LiH (STO-3G, 1.6 Å) UCCSD to chemical accuracy, and the cost of one
energy and one gradient against peers run in this same process on the same Hamiltonian and state.

Usage: ``.venv/bin/python benchmarks/vqe.py [--json OUT.json]``

Peers: Qiskit (``Statevector.expectation_value`` of a ``SparsePauliOp``) for one energy, and a
finite-difference gradient built on our own energy as the "no adjoint" baseline. PennyLane
lightning.qubit's adjoint gradient of the same circuit is timed when PennyLane is installed
(``pip install pennylane pennylane-lightning``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from collections.abc import Callable
from typing import Any

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


def _pennylane_gradient(terms: list[tuple[str, complex]], ans: UCCSD, theta: np.ndarray, n_alpha: int,
                        n_beta: int, n_orb: int) -> tuple[float, float]:
    """Time lightning.qubit's adjoint gradient of the same UCCSD circuit and Hamiltonian.

    The circuit is the Hartree–Fock basis state followed by PennyLane's ``SingleExcitation`` and
    ``DoubleExcitation`` Givens rotations on the same spin orbitals in the same order as ours (qubit
    k = spin orbital k, α block then β block) — PennyLane's cheap Givens gates (as in its
    ``AllSinglesDoubles``), not its ``UCCSD`` template's longer fermionic decompositions. They omit
    the fermionic parity signs of our excitation operators (so the energy at our optimum differs:
    −7.8029 Ha against −7.8823), and the check is on what does not depend on them: the energy at θ = 0 is
    the HF energy, and the gradient there agrees with ours component by component in magnitude
    (after the factor 2 of PennyLane's half-angle convention).
    """
    import pennylane as qml
    from pennylane import numpy as pnp

    n = ans.n_qubits
    sentence = qml.pauli.PauliSentence()
    for label, c in terms:  # our labels put qubit 0 rightmost
        word = qml.pauli.PauliWord({n - 1 - pos: ch for pos, ch in enumerate(label) if ch != "I"})
        sentence[word] = sentence.get(word, 0.0) + float(np.real(c))
    ham = sentence.operation(wire_order=range(n))
    dev = qml.device("lightning.qubit", wires=n)
    hf = [0] * n
    for q in list(range(n_alpha)) + list(range(n_orb, n_orb + n_beta)):
        hf[q] = 1
    wires_of = [tuple(e.creators) + tuple(e.annihilators) for e in ans.excitations]

    @qml.qnode(dev, diff_method="adjoint")
    def energy(t: object) -> object:
        qml.BasisState(np.array(hf), wires=range(n))
        for k, w in enumerate(wires_of):
            ann, cre = w[len(w) // 2:], w[:len(w) // 2]
            if len(w) == 2:
                qml.SingleExcitation(t[k], wires=[ann[0], cre[0]])  # type: ignore[index]
            else:
                qml.DoubleExcitation(t[k], wires=[*ann, *cre])  # type: ignore[index]
        return qml.expval(ham)

    zero = pnp.zeros(len(wires_of), requires_grad=True)
    e0 = float(energy(zero))
    g_pl = np.asarray(qml.grad(energy)(zero))
    _, g_ours = ans.value_and_grad(np.zeros(len(wires_of)), _sparse(terms, n))
    e_hf = float(_sparse(terms, n)[ans.initial_index, ans.initial_index].real)
    assert abs(e0 - e_hf) < 1e-8, (e0, e_hf)
    # PennyLane's Givens rotations turn by θ/2 where ours turn by θ: d/dθ differs by a factor 2
    gap = np.abs(2 * np.abs(g_pl) - np.abs(g_ours)).max()
    assert gap < 1e-8, f"PennyLane and qvalley gradients at θ = 0 differ by {gap}"
    t = pnp.array(2 * theta, requires_grad=True)
    t_grad = _best(lambda: qml.grad(energy)(t), 3)
    t_e = _best(lambda: energy(t), 3)
    return t_grad, t_e


def _sparse(terms: list[tuple[str, complex]], n: int) -> Any:
    from qvalley.circuit import Observable

    return Observable.from_list(terms).to_sparse().real.tocsr()  # type: ignore[attr-defined]


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
    else:
        t_pl, t_pl_e = _pennylane_gradient(obs.to_list(), ans, theta, mol.n_alpha, mol.n_beta,
                                           mol.n_orbitals)
        rows["pennylane_lightning_adjoint_gradient_s"] = t_pl
        rows["pennylane_lightning_energy_s"] = t_pl_e
        table.append(("PennyLane lightning.qubit energy (circuit + Hamiltonian)", t_pl_e, t_pl_e / t_energy))
        table.append(("PennyLane lightning.qubit adjoint gradient", t_pl, t_pl / t_energy))
    print(f"LiH 1.6 Å STO-3G, {res.num_qubits} qubits, UCCSD {res.num_parameters} parameters, "
          f"L-BFGS-B: {total:.2f} s to E = {res.energy:.7f} Ha (error {res.error * 1e3:.4f} mHa, "  # type: ignore[operator]
          f"{res.iterations} iterations, {res.evaluations} energy+gradient evaluations)")
    print(f"{'operation':55s} {'seconds':>10s} {'× one qvalley energy':>22s}")
    for name, t, r in table:
        print(f"{name:55s} {t:10.5f} {r:22.2f}")
    if "pennylane" in rows:
        print("PennyLane: not installed, lightning.qubit adjoint comparison skipped")
    else:
        print(f"PennyLane lightning.qubit adjoint gradient / qvalley adjoint gradient: "
              f"{t_pl / t_grad:.1f}×")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
