"""Decoy-state BB84 links: key-rate physics, the event-by-event protocol and post-processing.

Public API:

* :class:`LinkParameters`, :class:`KeyRate`, :func:`key_rate`, :func:`max_distance` — asymptotic and
  finite-size secure key rates (GLLP, infinite decoy, MQZL vacuum+weak decoy);
* :func:`run_link` / :class:`LinkResult` — a simulated link run, pulse by pulse, through sifting,
  decoy estimation, Cascade, verification, Toeplitz privacy amplification and authenticated
  classical messages.
"""

from __future__ import annotations

from .errors import AuthenticationError, QKDError
from .physics import DECOY_MODELS, KeyRate, LinkParameters, h2, key_rate, max_distance

__all__ = [
    "DECOY_MODELS",
    "AuthenticationError",
    "KeyRate",
    "LinkParameters",
    "QKDError",
    "h2",
    "key_rate",
    "max_distance",
]
