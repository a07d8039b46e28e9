"""Placeholder until the numba engine lands."""
from __future__ import annotations

from .reference import ReferenceBackend


class FastBackend(ReferenceBackend):
    name = "fast"
