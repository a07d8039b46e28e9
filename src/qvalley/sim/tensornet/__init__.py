"""Tensor-network simulation: exact amplitudes of circuits far beyond a statevector.

A circuit becomes a tensor network (:mod:`.network`), simplified by rank reduction; cotengra
searches a contraction tree sliced to a memory cap (:mod:`.engine`); our executor contracts it
slice by slice on local threads, a Dask cluster or a GPU (:mod:`.executor`).

Bit order: qubit ``k`` is bit ``k`` of a basis index; in a bitstring qubit 0 is the rightmost
character.
"""

from __future__ import annotations

from .engine import (
    DEFAULT_MAX_MEMORY,
    Plan,
    TensorNetworkSimulator,
    amplitudes,
    cache_dir,
    choose_open,
    measured_rate,
    parse_memory,
    plan_network,
    run,
)
from .executor import Executor, contract, pairwise_sum
from .network import Network, Simplified, TensorNetworkError, build_network, replay, simplify

__all__ = ["DEFAULT_MAX_MEMORY", "Executor", "Network", "Plan", "Simplified",
           "TensorNetworkError", "TensorNetworkSimulator", "amplitudes", "build_network",
           "cache_dir", "choose_open", "contract", "measured_rate", "pairwise_sum",
           "parse_memory", "plan_network", "replay", "run", "simplify"]
