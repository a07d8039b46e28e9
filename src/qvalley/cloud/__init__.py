"""The quantum cloud: a job service over emulated processors.

Layers (each its own module): :mod:`~qvalley.cloud.store` (SQLAlchemy models, migrations, the
durable queue), :mod:`~qvalley.cloud.service` (limits, validation, execution),
:mod:`~qvalley.cloud.api` (FastAPI), :mod:`~qvalley.cloud.worker`, :mod:`~qvalley.cloud.client`.
Counts use qvalley's bit order: qubit 0 is the rightmost bitstring character.
"""

from __future__ import annotations

from typing import Any

from .errors import ClientError, CloudError


def __getattr__(name: str) -> Any:  # keep `import qvalley.cloud` light (FastAPI loads lazily)
    if name == "Client":
        from .client import Client

        return Client
    if name == "create_app":
        from .api import create_app

        return create_app
    if name == "Store":
        from .store import Store

        return Store
    raise AttributeError(name)


__all__ = ["Client", "ClientError", "CloudError", "Store", "create_app"]
