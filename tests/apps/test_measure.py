from __future__ import annotations

import numpy as np
import pytest

from qvalley import Circuit
from qvalley.apps.ansatz import HardwareEfficient
from qvalley.apps.chemistry import ANGSTROM, load_molecule
from qvalley.apps.measure import (
    basis_change,
    estimate,
    group_qwc,
    hea_circuit,
    parameter_shift_gradient,
    qwc,
)
from qvalley.apps.vqe import qubit_hamiltonian
from qvalley.circuit.observable import Observable


def test_qwc_groups_are_qubit_wise_commuting_and_cover_all_terms() -> None:
    h = qubit_hamiltonian(load_molecule("H2", 0.735 * ANGSTROM))
    groups = group_qwc(h)
    covered = sorted(i for g in groups for i in g)
    assert covered == [i for i, t in enumerate(h.terms) if t.ops]
    for g in groups:
        for i in g:
            for j in g:
                assert qwc(h.terms[i], h.terms[j])
    assert len(groups) < len(covered)  # grouping saves circuits


def test_basis_change_diagonalises() -> None:
    obs = Observable.from_list([("XY", 1.0)])
    c = basis_change(Circuit(2), {0: "Y", 1: "X"})
    from qvalley import statevector

    u = np.column_stack([statevector(basis_change(_prep(k), {0: "Y", 1: "X"})) for k in range(4)])
    d = u @ obs.to_matrix() @ u.conj().T
    assert np.allclose(d, np.diag(np.diag(d)))
    assert c.num_qubits == 2


def _prep(k: int) -> Circuit:
    c = Circuit(2)
    for q in range(2):
        if (k >> q) & 1:
            c.x(q)
    return c


def test_shot_estimate_matches_exact_within_error() -> None:
    mol = load_molecule("H2", 0.735 * ANGSTROM)
    h = qubit_hamiltonian(mol)
    a = HardwareEfficient(4, 1, initial_index=0b0101)
    theta = np.random.default_rng(3).normal(scale=0.5, size=a.num_parameters)
    exact = float(a.state(theta) @ (h.to_matrix().real @ a.state(theta)))
    est = estimate(hea_circuit(4, 1, theta, a.start_index), h, shots=20000, seed=5)
    assert abs(est.value - exact) < 5 * est.stderr + 1e-9
    assert est.groups == len(group_qwc(h))


def test_parameter_shift_matches_adjoint() -> None:
    h = qubit_hamiltonian(load_molecule("H2", 0.735 * ANGSTROM))
    a = HardwareEfficient(4, 1, initial_index=0b0101)
    theta = np.random.default_rng(4).normal(scale=0.5, size=a.num_parameters)
    _, g_adj = a.value_and_grad(theta, h.to_matrix().real)
    g_ps = parameter_shift_gradient(lambda t: hea_circuit(4, 1, t, a.start_index), theta, h,
                                    shots=4000, seed=1)
    assert np.max(np.abs(g_ps - g_adj)) < 0.15


def test_noisy_device_estimate_runs() -> None:
    c = Circuit(2).h(0).cx(0, 1)
    obs = Observable.from_list([("ZZ", 1.0), ("XX", 1.0)])
    ideal = estimate(c, obs, device="ideal", shots=2000, seed=1)
    assert ideal.value == pytest.approx(2.0)
    noisy = estimate(c, obs, device="zuchongzhi-2.1", shots=2000, seed=1)
    assert 0.5 < noisy.value < 2.0


def test_vqe_trained_with_shots_on_ideal_device() -> None:
    from qvalley.apps.measure import vqe_on_device

    mol = load_molecule("H2", 0.735 * ANGSTROM)
    r = vqe_on_device(mol, "ideal", shots=1000, layers=1, maxiter=25, seed=3)
    assert r["num_qubits"] == 2 and r["evaluations"] == 25
    # the shot-trained parameters carry real correlation energy (HF is -1.11700)
    assert r["exact_energy_of_parameters"] < mol.hf_energy - 0.01
