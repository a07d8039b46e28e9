"""Applications: QAOA and MaxCut, QUBO models, VQE for chemistry, traffic flow and portfolios.

Everything follows the statevector engine's conventions (qubit ``k`` is bit ``k`` of an index,
qubit 0 is the rightmost bitstring character). Modules: :mod:`.qubo`, :mod:`.qaoa`,
:mod:`.fermion`, :mod:`.chemistry`, :mod:`.ansatz`, :mod:`.vqe`, :mod:`.optimizers`,
:mod:`.measure`, :mod:`.traffic`, :mod:`.portfolio`, :mod:`.graphs`.
"""

from __future__ import annotations

from ._errors import AppsError, ChemistryError
from .ansatz import UCCSD, HardwareEfficient
from .chemistry import MolecularData, integrals_from_pyscf, load_molecule
from .measure import estimate, group_qwc, parameter_shift_gradient
from .optimizers import OptimizeResult, minimize
from .portfolio import Portfolio, solve_portfolio
from .qaoa import (
    MaxCutResult,
    QAOAResult,
    optimize_qaoa,
    qaoa_circuit,
    qaoa_maxcut,
    qaoa_value_and_grad,
)
from .qubo import QUBO, Solution, maxcut_qubo, simulated_annealing, solve_exact
from .traffic import build_problem, load_network, solve_traffic
from .vqe import VQEResult, dissociation_curve, qubit_hamiltonian, run_vqe, sector_ground_energy

__all__ = [
    "QUBO",
    "UCCSD",
    "AppsError",
    "ChemistryError",
    "HardwareEfficient",
    "MaxCutResult",
    "MolecularData",
    "OptimizeResult",
    "Portfolio",
    "QAOAResult",
    "Solution",
    "VQEResult",
    "build_problem",
    "dissociation_curve",
    "estimate",
    "group_qwc",
    "integrals_from_pyscf",
    "load_molecule",
    "load_network",
    "maxcut_qubo",
    "minimize",
    "optimize_qaoa",
    "parameter_shift_gradient",
    "qaoa_circuit",
    "qaoa_maxcut",
    "qaoa_value_and_grad",
    "qubit_hamiltonian",
    "run_vqe",
    "sector_ground_energy",
    "simulated_annealing",
    "solve_exact",
    "solve_portfolio",
    "solve_traffic",
]
