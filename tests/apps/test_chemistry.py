from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qvalley.apps import ChemistryError
from qvalley.apps.ansatz import UCCSD, Excitation, HardwareEfficient
from qvalley.apps.chemistry import ANGSTROM, MolecularData, load_molecule, shipped_bond_lengths
from qvalley.apps.fermion import (
    FermionOperator,
    ladder,
    molecular_hamiltonian,
    multiply,
    taper_parity,
    to_observable,
)
from qvalley.apps.optimizers import METHODS, minimize
from qvalley.apps.vqe import CHEMICAL_ACCURACY, qubit_hamiltonian, run_vqe, sector_ground_energy

HAVE_PYSCF = importlib.util.find_spec("pyscf") is not None
H2_FCI = -1.1373060
LIH_FCI = -7.8823244


@pytest.fixture(scope="module")
def h2() -> MolecularData:
    return load_molecule("H2", 0.735 * ANGSTROM)


@pytest.fixture(scope="module")
def lih() -> MolecularData:
    return load_molecule("LiH", 1.6 * ANGSTROM)


def _dense(op: dict[tuple[int, int], complex], n: int) -> np.ndarray:
    return to_observable(op, n).to_matrix()


@pytest.mark.parametrize("mapping", ["jordan_wigner", "parity"])
def test_ladder_operators_satisfy_car(mapping: str) -> None:
    n = 3
    a = [_dense(ladder(j, False, n, mapping), n) for j in range(n)]
    for i in range(n):
        assert np.allclose(a[i].conj().T, _dense(ladder(i, True, n, mapping), n))
        for j in range(n):
            anti = a[i] @ a[j].conj().T + a[j].conj().T @ a[i]
            assert np.allclose(anti, np.eye(8) * (i == j))
            assert np.allclose(a[i] @ a[j] + a[j] @ a[i], 0)


def test_jw_number_operator_counts_bits() -> None:
    op = FermionOperator.from_terms([(((1, True), (1, False)), 1.0)], 3).to_qubit()
    assert np.allclose(np.diag(_dense(op, 3)).real, [(k >> 1) & 1 for k in range(8)])


def test_multiply_matches_matrices() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        a = {(int(rng.integers(8)), int(rng.integers(8))): complex(rng.normal())}
        b = {(int(rng.integers(8)), int(rng.integers(8))): complex(rng.normal())}
        assert np.allclose(_dense(multiply(a, b), 3), _dense(a, 3) @ _dense(b, 3))


def test_shipped_references(h2: MolecularData, lih: MolecularData) -> None:
    assert h2.fci_energy == pytest.approx(H2_FCI, abs=5e-8)
    assert lih.fci_energy == pytest.approx(LIH_FCI, abs=5e-8)
    assert lih.n_qubits == 12 and lih.n_electrons == 4
    assert len(shipped_bond_lengths("H2")) > 10 and len(shipped_bond_lengths("LiH")) > 10


def test_hamiltonian_ground_energies_by_sparse_diagonalisation(h2: MolecularData,
                                                               lih: MolecularData) -> None:
    for mol, ref in ((h2, H2_FCI), (lih, LIH_FCI)):
        e = sector_ground_energy(qubit_hamiltonian(mol), mol.n_orbitals, mol.n_alpha, mol.n_beta)
        assert e == pytest.approx(ref, abs=5e-8)
    # HF determinant energy = RHF energy
    h = qubit_hamiltonian(lih).to_sparse()
    idx = 0b000011000011
    assert h[idx, idx].real == pytest.approx(lih.hf_energy, abs=1e-8)  # type: ignore[index]


def test_parity_mapping_and_two_qubit_reduction(h2: MolecularData) -> None:
    jw = np.linalg.eigvalsh(_dense(molecular_hamiltonian(h2), 4))
    par = np.linalg.eigvalsh(_dense(molecular_hamiltonian(h2, "parity"), 4))
    np.testing.assert_allclose(jw, par, atol=1e-10)
    red = qubit_hamiltonian(h2, "parity", two_qubit_reduction=True)
    assert red.num_qubits == 2
    assert np.linalg.eigvalsh(red.to_matrix())[0] == pytest.approx(H2_FCI, abs=5e-8)


def test_lih_parity_reduction_keeps_ground_state(lih: MolecularData) -> None:
    red = taper_parity(molecular_hamiltonian(lih, "parity"), 6, 2, 2)
    from scipy.sparse.linalg import eigsh

    m = to_observable(red, 10).to_sparse()
    e = eigsh(m.real, k=1, which="SA")[0][0]  # type: ignore[attr-defined]
    assert e <= LIH_FCI + 1e-7


@pytest.mark.skipif(not HAVE_PYSCF, reason="PySCF (qvalley[chem]) not installed")
def test_pyscf_driver_matches_shipped_and_active_space() -> None:
    from pyscf import fci, gto, scf

    from qvalley.apps.chemistry import integrals_from_pyscf

    m = integrals_from_pyscf("H 0 0 0; H 0 0 0.735")
    assert m.fci_energy == pytest.approx(H2_FCI, abs=5e-8)
    # frozen-core LiH active space (1 frozen, 3 active) vs PySCF CASCI
    lih = load_molecule("LiH", 1.6 * ANGSTROM)
    act = lih.active_space(1, 3)
    e = sector_ground_energy(qubit_hamiltonian(act), 3, 1, 1)
    mol = gto.M(atom="Li 0 0 0; H 0 0 1.6", basis="sto-3g", verbose=0)
    mf = scf.RHF(mol).run()
    from pyscf import mcscf

    cas = mcscf.CASCI(mf, 3, 2)
    cas.fcisolver = fci.direct_spin1.FCI()
    assert e == pytest.approx(cas.kernel()[0], abs=1e-6)


def test_unknown_molecule_and_bad_bond() -> None:
    with pytest.raises(ChemistryError):
        load_molecule("H2O", 1e-10)
    with pytest.raises(ChemistryError):
        load_molecule("H2", -1.0)


def _fd(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.array([(f(x + h * e)[0] - f(x - h * e)[0]) / (2 * h) for e in np.eye(x.size)])


def test_uccsd_adjoint_gradient_vs_finite_differences(lih: MolecularData) -> None:
    h = qubit_hamiltonian(lih).to_sparse().real.tocsr()  # type: ignore[attr-defined]
    a = UCCSD(6, 2, 2)
    assert a.num_parameters == 92
    x = np.random.default_rng(0).normal(scale=0.2, size=92)
    _, g = a.value_and_grad(x, h)
    sel = [0, 5, 17, 40, 91]
    eye = np.eye(92)
    fd = np.array([(a.value_and_grad(x + 1e-6 * eye[k], h)[0]
                    - a.value_and_grad(x - 1e-6 * eye[k], h)[0]) / 2e-6 for k in sel])
    np.testing.assert_allclose(g[sel], fd, atol=1e-6)
    assert np.linalg.norm(a.state(x)) == pytest.approx(1.0)


@settings(max_examples=10, deadline=None)
@given(st.integers(2, 5), st.integers(0, 2), st.integers(0, 2**31))
def test_hea_gradient_vs_finite_differences(n: int, layers: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(1 << n, 1 << n))
    h = m + m.T
    a = HardwareEfficient(n, layers, initial_index=1)
    x = rng.normal(size=a.num_parameters)
    _, g = a.value_and_grad(x, h)
    np.testing.assert_allclose(g, _fd(lambda y: a.value_and_grad(y, h), x), atol=1e-5)


def test_excitation_is_the_exponential_of_t_minus_tdag() -> None:
    from scipy.linalg import expm

    n = 4
    e = Excitation.build((2, 3), (0, 1), n)
    t = FermionOperator.from_terms([(((2, True), (3, True), (1, False), (0, False)), 1.0)], n).to_qubit()
    tm = _dense(t, n).real
    u = expm(0.37 * (tm - tm.T))
    psi = np.random.default_rng(2).normal(size=16)
    out = psi.copy()
    e.apply(out, 0.37)
    np.testing.assert_allclose(out, u @ psi, atol=1e-12)


def test_vqe_h2_all_optimizers(h2: MolecularData) -> None:
    for method in METHODS:
        r = run_vqe(h2, optimizer=method, maxiter=400, seed=1)
        assert abs(r.error) < CHEMICAL_ACCURACY, method  # type: ignore[arg-type]
        assert r.evaluations >= 1 and r.num_qubits == 4


def test_vqe_h2_hea(h2: MolecularData) -> None:
    r = run_vqe(h2, ansatz="hea", layers=2)
    assert abs(r.error) < CHEMICAL_ACCURACY  # type: ignore[arg-type]


def test_vqe_lih_uccsd_chemical_accuracy(lih: MolecularData) -> None:
    r = run_vqe(lih)
    assert r.num_qubits == 12
    assert abs(r.error) < CHEMICAL_ACCURACY  # type: ignore[arg-type]
    assert r.energy < lih.hf_energy - 0.015


def test_optimizer_history_and_seed() -> None:
    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        return float(np.sum((x - 1) ** 2)), 2 * (x - 1)

    seen: list[float] = []
    r = minimize(f, np.zeros(3), "L-BFGS-B", callback=lambda i, x, v: seen.append(v))
    assert r.fun == pytest.approx(0, abs=1e-10) and len(seen) == len(r.history) > 0
    a = minimize(f, np.zeros(3), "SPSA", maxiter=50, seed=4)
    b = minimize(f, np.zeros(3), "SPSA", maxiter=50, seed=4)
    assert np.array_equal(a.x, b.x) and a.fun < 3
    with pytest.raises(Exception, match="optimizer"):
        minimize(f, np.zeros(3), "newton")


def test_hea_at_zero_is_the_reference_and_parity_vqe(h2: MolecularData, lih: MolecularData) -> None:
    from qvalley.apps.vqe import make_ansatz, reference_index

    a = HardwareEfficient(6, 3, initial_index=0b100101)
    psi = a.state(np.zeros(a.num_parameters))
    assert psi[0b100101] == pytest.approx(1.0)
    for mapping, red in (("jordan_wigner", False), ("parity", False), ("parity", True)):
        h = qubit_hamiltonian(lih, mapping, red).to_sparse()
        i = reference_index(lih, mapping, red)
        assert h[i, i].real == pytest.approx(lih.hf_energy, abs=1e-8)  # type: ignore[index]
        ans = make_ansatz(lih, "hea", 2, mapping, red)
        v, _ = ans.value_and_grad(np.zeros(ans.num_parameters), h.real)  # type: ignore[attr-defined]
        assert v == pytest.approx(lih.hf_energy, abs=1e-8)
    r = run_vqe(h2, ansatz="hea", layers=1, mapping="parity", two_qubit_reduction=True)
    assert r.num_qubits == 2 and abs(r.error) < CHEMICAL_ACCURACY  # type: ignore[arg-type]
    with pytest.raises(Exception, match="Jordan-Wigner"):
        make_ansatz(h2, "uccsd", mapping="parity")
