"""Errors of the cloud service; each carries the HTTP status the API answers with."""

from __future__ import annotations

from .._errors import QValleyError


class CloudError(QValleyError):
    """Base of the cloud errors. ``status`` is the HTTP status; ``code`` a stable machine name."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(CloudError):
    status = 401
    code = "unauthorized"


class ForbiddenError(CloudError):
    status = 403
    code = "forbidden"


class NotFoundError(CloudError):
    status = 404
    code = "not_found"


class ConflictError(CloudError):
    status = 409
    code = "conflict"


class LimitError(CloudError):
    """A validation limit (shots, program size, circuits per job, qubits of a device)."""

    status = 413
    code = "limit_exceeded"


class ValidationError(CloudError):
    status = 422
    code = "invalid_program"


class QuotaError(CloudError):
    """A per-user quota or rate limit; the API answers 429 with ``Retry-After``."""

    status = 429
    code = "quota_exceeded"


class ClientError(CloudError):
    """Raised by :class:`qvalley.cloud.Client` for an error answer or a timeout."""

    code = "client_error"

    def __init__(self, message: str, *, status: int = 0, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status


__all__ = ["AuthError", "ClientError", "CloudError", "ConflictError", "ForbiddenError", "LimitError",
           "NotFoundError", "QuotaError", "ValidationError"]
