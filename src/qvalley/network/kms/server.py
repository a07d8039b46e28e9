"""Serve a KME over HTTPS with mutual TLS (uvicorn) and expose the client certificate to the app.

uvicorn verifies client certificates when ``ssl_cert_reqs=CERT_REQUIRED`` but does not put the peer
certificate into the ASGI scope. :class:`MTLSH11Protocol` subclasses uvicorn's h11 protocol: when a
connection is made (asyncio calls ``connection_made`` after the TLS handshake) it reads the verified
peer certificate from the transport's ``ssl_object`` (``getpeercert(binary_form=True)``), derives
the SAE ID (:func:`qvalley.network.pki.sae_id_from_cert`) and wraps this connection's ASGI app so
every request on it carries ``scope["extensions"]["tls"] = {"client_sae_id", "client_cert_der"}``.
The identity is bound to the TLS connection, never to a header a client could forge.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..pki import sae_id_from_cert

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class MTLSH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus the verified client certificate in ``scope["extensions"]["tls"]``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        tls = {"client_cert_der": der, "client_sae_id": sae_id_from_cert(der) if der else None}
        inner: ASGIApp = self.app

        async def with_tls(scope: Scope, receive: Callable[[], Awaitable[Any]],
                           send: Callable[[Any], Awaitable[None]]) -> None:
            if scope.get("type") == "http":
                scope.setdefault("extensions", {})["tls"] = dict(tls)
            await inner(scope, receive, send)

        self.app = with_tls  # per connection: this protocol instance serves exactly one connection


def mtls_config(app: Any, *, host: str, port: int, cert: Path, key: Path, ca: Path,
                log_level: str = "warning") -> uvicorn.Config:
    """A uvicorn config serving ``app`` over TLS that requires a client certificate issued by ``ca``."""
    return uvicorn.Config(app, host=host, port=port, http=MTLSH11Protocol, ws="none", lifespan="off",
                          ssl_certfile=str(cert), ssl_keyfile=str(key), ssl_ca_certs=str(ca),
                          ssl_cert_reqs=ssl.CERT_REQUIRED, log_level=log_level, access_log=False,
                          timeout_graceful_shutdown=2)


class BackgroundServer:
    """Run a uvicorn server in a thread (tests, demos); ``port=0`` picks a free port."""

    def __init__(self, config: uvicorn.Config) -> None:
        if config.port == 0:
            with socket.socket() as s:
                s.bind((config.host, 0))
                config.port = s.getsockname()[1]
        self.config = config
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"https://{self.config.host}:{self.config.port}"

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("KME server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.server.force_exit = True  # do not wait for idle keep-alive connections
        self.thread.join(timeout=10)
