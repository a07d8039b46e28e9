"""Errors of the applications layer."""

from __future__ import annotations

from .._errors import QValleyError


class AppsError(QValleyError, ValueError):
    """Bad input to an application (a model, a molecule, a graph, an optimiser setting)."""


class ChemistryError(AppsError):
    """A molecule, basis or integral set could not be built or loaded."""
