"""Decoy-state BB84 links: key-rate physics, the event-by-event protocol and post-processing.

Public API:

* :class:`LinkParameters`, :class:`KeyRate`, :func:`key_rate`, :func:`max_distance` — asymptotic and
  finite-size secure key rates (GLLP, infinite decoy, MQZL vacuum+weak decoy);
* :func:`run_link` / :class:`LinkResult` — a simulated link run, pulse by pulse, through sifting,
  decoy estimation, Cascade, verification, Toeplitz privacy amplification and authenticated
  classical messages.
"""

from __future__ import annotations

from .amplification import toeplitz_hash, toeplitz_hash_reference
from .auth import AuthenticatedChannel, KeyPool
from .cascade import CascadeResult, cascade, cascade_reference
from .errors import AuthenticationError, QKDError
from .physics import DECOY_MODELS, KeyRate, LinkParameters, decoy_bounds, h2, key_rate, max_distance
from .protocol import EVES, Detections, LinkResult, run_link, simulate_pulses

__all__ = [
    "DECOY_MODELS",
    "EVES",
    "AuthenticatedChannel",
    "AuthenticationError",
    "CascadeResult",
    "Detections",
    "KeyPool",
    "KeyRate",
    "LinkParameters",
    "LinkResult",
    "QKDError",
    "cascade",
    "cascade_reference",
    "decoy_bounds",
    "h2",
    "key_rate",
    "max_distance",
    "run_link",
    "simulate_pulses",
    "toeplitz_hash",
    "toeplitz_hash_reference",
]
