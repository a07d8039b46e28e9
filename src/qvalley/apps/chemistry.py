"""Molecular integrals: shipped STO-3G data for H2 and LiH, and an optional PySCF driver.

Integrals are in the restricted Hartree–Fock molecular-orbital basis: ``h[p, q]`` (one-electron)
and ``eri[p, q, r, s] = (pq|rs)`` (two-electron, chemists' notation), energies in hartree, bond
lengths in metres in code (Å only at the CLI/data edge).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from ._errors import ChemistryError

ANGSTROM = 1e-10  # metres


@dataclass(frozen=True)
class MolecularData:
    """Spatial-orbital integrals of a closed- or open-shell molecule and reference energies."""

    name: str
    n_orbitals: int
    n_alpha: int
    n_beta: int
    h1: np.ndarray
    eri: np.ndarray
    nuclear_repulsion: float
    hf_energy: float
    fci_energy: float | None = None
    bond_length: float | None = None  # metres

    @property
    def n_electrons(self) -> int:
        return self.n_alpha + self.n_beta

    @property
    def n_qubits(self) -> int:
        return 2 * self.n_orbitals

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "n_orbitals": self.n_orbitals, "n_alpha": self.n_alpha,
                "n_beta": self.n_beta, "h1": np.round(self.h1, 12).tolist(),
                "eri": np.round(self.eri, 12).tolist(), "nuclear_repulsion": self.nuclear_repulsion,
                "hf_energy": self.hf_energy, "fci_energy": self.fci_energy,
                "bond_length_m": self.bond_length}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MolecularData:
        n = int(d["n_orbitals"])
        h1 = np.asarray(d["h1"], dtype=float)
        eri = np.asarray(d["eri"], dtype=float)
        if h1.shape != (n, n) or eri.shape != (n, n, n, n):
            raise ChemistryError(f"integrals for {d.get('name')} have shapes {h1.shape}, {eri.shape}; "
                                 f"expected {n}x{n} and {n}^4")
        bl = d.get("bond_length_m")
        return cls(str(d["name"]), n, int(d["n_alpha"]), int(d["n_beta"]), h1, eri,
                   float(d["nuclear_repulsion"]), float(d["hf_energy"]),
                   None if d.get("fci_energy") is None else float(d["fci_energy"]),
                   None if bl is None else float(bl))

    def active_space(self, frozen: int, active: int) -> MolecularData:
        """Freeze the lowest ``frozen`` spatial orbitals (doubly occupied), keep the next ``active``."""
        if frozen < 0 or active < 1 or frozen + active > self.n_orbitals:
            raise ChemistryError(f"active space frozen={frozen}, active={active} does not fit "
                                 f"{self.n_orbitals} orbitals")
        if self.n_alpha < frozen or self.n_beta < frozen:
            raise ChemistryError("cannot freeze more orbitals than are occupied")
        f = slice(0, frozen)
        a = slice(frozen, frozen + active)
        core = self.nuclear_repulsion + 2 * np.trace(self.h1[f, f]) + sum(
            2 * self.eri[i, i, j, j] - self.eri[i, j, j, i] for i in range(frozen) for j in range(frozen))
        h = self.h1[a, a].copy()
        for i in range(frozen):
            h += 2 * self.eri[a, a, i, i] - self.eri[a, i, i, a]
        return MolecularData(f"{self.name}[{frozen}f,{active}a]", active, self.n_alpha - frozen,
                             self.n_beta - frozen, h, self.eri[a, a, a, a].copy(), float(core),
                             self.hf_energy, self.fci_energy, self.bond_length)


def integrals_from_pyscf(atom: str, basis: str = "sto-3g", charge: int = 0, spin: int = 0,
                         fci: bool = True) -> MolecularData:
    """Run RHF (and FCI) with PySCF for ``atom`` (PySCF syntax, Å) and return MO integrals.

    Raises:
        ChemistryError: PySCF is missing (``pip install qvalley[chem]``) or the SCF failed.
    """
    try:
        from pyscf import ao2mo, gto, scf
        from pyscf import fci as pyscf_fci
    except ImportError:  # pragma: no cover - depends on the environment
        raise ChemistryError("building molecules needs PySCF: pip install qvalley[chem]") from None
    try:
        mol = gto.M(atom=atom, basis=basis, charge=charge, spin=spin, unit="Angstrom", verbose=0)
    except Exception as exc:  # PySCF raises plain exceptions for bad input
        raise ChemistryError(f"PySCF could not build {atom!r} in {basis}: {exc}") from None
    mf = scf.RHF(mol) if spin == 0 else scf.ROHF(mol)
    e_hf = float(mf.kernel())
    if not mf.converged:
        raise ChemistryError(f"Hartree-Fock did not converge for {atom!r}")
    c = mf.mo_coeff
    n = c.shape[1]
    h1 = c.T @ mf.get_hcore() @ c
    eri = ao2mo.restore(1, ao2mo.kernel(mol, c), n)
    e_fci = None
    na, nb = mol.nelec
    if fci:
        e_fci = float(pyscf_fci.FCI(mf).kernel()[0])
    coords = mol.atom_coords(unit="Angstrom")
    bl = float(np.linalg.norm(coords[-1] - coords[0])) * ANGSTROM if len(coords) == 2 else None
    name = "".join(mol.atom_symbol(i) for i in range(mol.natm))
    return MolecularData(name, n, int(na), int(nb), np.asarray(h1), np.asarray(eri),
                         float(mol.energy_nuc()), e_hf, e_fci, bl)


_SHIPPED = {"h2": "h2.json", "lih": "lih.json"}


@lru_cache(maxsize=4)
def _shipped(name: str) -> list[dict[str, Any]]:
    text = resources.files("qvalley.apps").joinpath("data", _SHIPPED[name]).read_text()
    return list(json.loads(text)["geometries"])


def shipped_bond_lengths(molecule: str) -> list[float]:
    """Bond lengths (m) shipped for ``molecule`` (``H2`` or ``LiH``)."""
    key = molecule.lower()
    if key not in _SHIPPED:
        raise ChemistryError(f"no shipped data for {molecule!r}; shipped: H2, LiH")
    return [g["bond_length_angstrom"] * ANGSTROM for g in _shipped(key)]


def load_molecule(molecule: str, bond_length: float) -> MolecularData:
    """Shipped integrals for ``H2``/``LiH`` at ``bond_length`` (m), else PySCF when installed."""
    key = molecule.lower()
    if key not in _SHIPPED:
        raise ChemistryError(f"unknown molecule {molecule!r}; shipped: H2, LiH")
    if not bond_length > 0:
        raise ChemistryError(f"bond length must be positive, got {bond_length}")
    ang = bond_length / ANGSTROM
    for g in _shipped(key):
        if abs(g["bond_length_angstrom"] - ang) < 1e-6:
            return MolecularData.from_dict({**g, "bond_length_m": ang * ANGSTROM})
    a, b = ("H", "H") if key == "h2" else ("Li", "H")
    try:
        return integrals_from_pyscf(f"{a} 0 0 0; {b} 0 0 {ang}")
    except ChemistryError as exc:
        have = ", ".join(f"{x / ANGSTROM:g}" for x in shipped_bond_lengths(key))
        raise ChemistryError(f"{molecule} at {ang:g} Å is not shipped (shipped Å: {have}) and {exc}"
                             ) from None
