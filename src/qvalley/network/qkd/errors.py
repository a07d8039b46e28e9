"""Errors of the QKD link layer."""

from __future__ import annotations

from ..._errors import QValleyError


class QKDError(QValleyError, ValueError):
    """Bad link parameters, an unknown decoy model or eavesdropper, or an invalid post-processing input."""


class AuthenticationError(QValleyError):
    """A classical message failed its Wegman-Carter tag, or the pre-shared key pool ran dry."""
