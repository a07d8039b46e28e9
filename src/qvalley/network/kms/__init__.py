"""ETSI GS QKD 014 v1.1.1 key-management entities over the trusted-relay network.

:class:`KeyStore` (the shared SQLite store of relayed keys), :func:`create_app` (the REST API of one
node's KME), :mod:`.server` (uvicorn over mutual TLS with the client certificate in the ASGI scope),
:class:`KMSClient` (an SAE's client) and :class:`KeySupply` (relay → store).

Names are imported on first use, so a KME server process does not load the client stack (httpx)
and a client does not load the server stack (FastAPI, uvicorn).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import KMELimits, create_app
    from .client import Key, KeyExhaustedKMSError, KMSClient, KMSClientError
    from .server import BackgroundServer, MTLSH11Protocol, mtls_config
    from .store import InsufficientKeyError, IssuedKey, KeyStore, KeyStoreError
    from .supply import KeySupply

_WHERE = {"KMELimits": "app", "create_app": "app", "Key": "client", "KeyExhaustedKMSError": "client",
          "KMSClient": "client", "KMSClientError": "client", "BackgroundServer": "server",
          "MTLSH11Protocol": "server", "mtls_config": "server", "InsufficientKeyError": "store",
          "IssuedKey": "store", "KeyStore": "store", "KeyStoreError": "store", "KeySupply": "supply"}

__all__ = ["BackgroundServer", "InsufficientKeyError", "IssuedKey", "KMELimits", "KMSClient",
           "KMSClientError", "Key", "KeyExhaustedKMSError", "KeyStore", "KeyStoreError", "KeySupply",
           "MTLSH11Protocol", "create_app", "mtls_config"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
