"""Applications: QAOA and MaxCut, QUBO models, VQE for chemistry, traffic flow and portfolios.

Everything runs on the statevector engine's conventions (qubit ``k`` is bit ``k`` of an index,
qubit 0 is the rightmost bitstring character).
"""

from __future__ import annotations

from ._errors import AppsError, ChemistryError
from .qaoa import MaxCutResult, QAOAResult, optimize_qaoa, qaoa_maxcut, qaoa_value_and_grad
from .qubo import QUBO, Solution, maxcut_qubo, simulated_annealing, solve_exact

__all__ = [
    "QUBO",
    "AppsError",
    "ChemistryError",
    "MaxCutResult",
    "QAOAResult",
    "Solution",
    "maxcut_qubo",
    "optimize_qaoa",
    "qaoa_maxcut",
    "qaoa_value_and_grad",
    "simulated_annealing",
    "solve_exact",
]
