"""ETSI GS QKD 014 v1.1.1 key-management entities over the trusted-relay network.

:class:`KeyStore` (the shared SQLite store of relayed keys), :func:`create_app` (the REST API of one
node's KME), :mod:`.server` (uvicorn over mutual TLS with the client certificate in the ASGI scope),
:class:`KMSClient` (an SAE's client) and :class:`KeySupply` (relay → store).
"""

from __future__ import annotations

from .app import KMELimits, create_app
from .client import Key, KeyExhaustedKMSError, KMSClient, KMSClientError
from .server import BackgroundServer, MTLSH11Protocol, mtls_config
from .store import InsufficientKeyError, IssuedKey, KeyStore, KeyStoreError
from .supply import KeySupply

__all__ = ["BackgroundServer", "InsufficientKeyError", "IssuedKey", "KMELimits", "KMSClient",
           "KMSClientError", "Key", "KeyExhaustedKMSError", "KeyStore", "KeyStoreError", "KeySupply",
           "MTLSH11Protocol", "create_app", "mtls_config"]
