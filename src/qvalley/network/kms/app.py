"""The ETSI GS QKD 014 v1.1.1 REST API of one node's key-management entity (FastAPI).

Routes (exactly the standard's): ``GET /api/v1/keys/{slave_SAE_ID}/status``,
``GET|POST /api/v1/keys/{slave_SAE_ID}/enc_keys`` and ``GET|POST /api/v1/keys/{master_SAE_ID}/dec_keys``.
JSON objects use the standard's field names (Status, Key request, Key container, Key IDs, Error).
The calling SAE is the identity of its TLS client certificate, put into the ASGI scope by
:mod:`qvalley.network.kms.server` as ``scope["extensions"]["tls"]["client_sae_id"]``; a request
without one is refused with 401. Responses to errors are ``{"message", "details"}`` with 400 (bad
request), 401 (unauthorised) or 503 (no key available). Key bytes are never logged.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..topology import Topology
from .store import InsufficientKeyError, KeyStore, KeyStoreError


@dataclass(frozen=True)
class KMELimits:
    """Limits a KME advertises in its Status object (sizes in bits)."""

    key_size: int = 256
    max_key_per_request: int = 128
    max_key_size: int = 8192
    min_key_size: int = 64
    max_SAE_ID_count: int = 8
    max_key_count: int = 100_000


class _Fail(Exception):
    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None) -> None:
        self.status, self.message, self.details = status, message, details or []


def _error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=status)


def create_app(topology: Topology, node: str, store: KeyStore, limits: KMELimits | None = None) -> FastAPI:
    """The KME app of ``node``: keys come from ``store`` (relayed from this node to the slave's node)."""
    topology.node(node)
    lim = limits or KMELimits()
    app = FastAPI(title=f"qvalley KME {node} (ETSI GS QKD 014 v1.1.1)", openapi_url=None, docs_url=None,
                  redoc_url=None)
    app.state.kme_id = node

    def caller(request: Request) -> str:
        tls = request.scope.get("extensions", {}).get("tls", {})
        sae = tls.get("client_sae_id") if isinstance(tls, dict) else None
        if not sae:
            raise _Fail(401, "Unauthorized", [{"reason": "no SAE client certificate"}])
        return str(sae)

    def local_sae(request: Request) -> str:
        sae = caller(request)
        home = topology.node_of_sae(sae)
        if home is None or home.name != node:
            raise _Fail(401, "Unauthorized", [{"reason": f"SAE {sae} is not attached to KME {node}"}])
        return sae

    def remote_node(sae_id: str, what: str) -> str:
        home = topology.node_of_sae(sae_id)
        if home is None:
            raise _Fail(400, "Bad request format", [{what: f"unknown SAE ID {sae_id!r}"}])
        return home.name

    def int_param(raw: Any, name: str, default: int) -> int:
        if raw is None:
            return default
        if isinstance(raw, bool):
            raise _Fail(400, "Bad request format", [{name: "must be an integer"}])
        try:
            value = int(raw) if not isinstance(raw, float) or raw.is_integer() else None
        except (TypeError, ValueError):
            value = None
        if value is None:
            raise _Fail(400, "Bad request format", [{name: "must be an integer"}])
        return value

    async def body_json(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _Fail(400, "Bad request format", [{"body": "not valid JSON"}]) from None
        if not isinstance(data, dict):
            raise _Fail(400, "Bad request format", [{"body": "must be a JSON object"}])
        return data

    def status_obj(master: str, slave: str, slave_node: str) -> dict[str, Any]:
        count = store.available_bytes(node, slave_node) // (lim.key_size // 8)
        return {"source_KME_ID": node, "target_KME_ID": slave_node, "master_SAE_ID": master,
                "slave_SAE_ID": slave, "key_size": lim.key_size,
                "stored_key_count": min(count, lim.max_key_count), "max_key_count": lim.max_key_count,
                "max_key_per_request": lim.max_key_per_request, "max_key_size": lim.max_key_size,
                "min_key_size": lim.min_key_size, "max_SAE_ID_count": lim.max_SAE_ID_count}

    @app.exception_handler(_Fail)
    async def _on_fail(request: Request, exc: _Fail) -> JSONResponse:
        return _error(exc.status, exc.message, exc.details)

    @app.get("/api/v1/keys/{slave_SAE_ID}/status")
    async def get_status(slave_SAE_ID: str, request: Request) -> JSONResponse:
        master = local_sae(request)
        slave_node = remote_node(slave_SAE_ID, "slave_SAE_ID")
        return JSONResponse(status_obj(master, slave_SAE_ID, slave_node))

    async def enc_keys(slave_sae: str, request: Request, params: dict[str, Any]) -> JSONResponse:
        master = local_sae(request)
        if slave_sae == master:
            raise _Fail(400, "Bad request format", [{"slave_SAE_ID": "must differ from the master SAE"}])
        slave_node = remote_node(slave_sae, "slave_SAE_ID")
        number = int_param(params.get("number"), "number", 1)
        size = int_param(params.get("size"), "size", lim.key_size)
        extra = params.get("additional_slave_SAE_IDs") or []
        if not isinstance(extra, list) or not all(isinstance(s, str) for s in extra):
            raise _Fail(400, "Bad request format",
                        [{"additional_slave_SAE_IDs": "must be a list of SAE IDs"}])
        if params.get("extension_mandatory"):
            raise _Fail(400, "Not all extension_mandatory parameters are supported",
                        [{"extension_mandatory": "no extensions are supported"}])
        if not 1 <= number <= lim.max_key_per_request:
            raise _Fail(400, "Bad request format",
                        [{"number": f"must be 1..{lim.max_key_per_request} (max_key_per_request)"}])
        if not lim.min_key_size <= size <= lim.max_key_size or size % 8:
            raise _Fail(400, "Bad request format", [{"size": f"must be a multiple of 8 in "
                                                              f"{lim.min_key_size}..{lim.max_key_size}"}])
        if 1 + len(extra) > lim.max_SAE_ID_count + 1 or len(set(extra)) != len(extra) or slave_sae in extra:
            raise _Fail(400, "Bad request format",
                        [{"additional_slave_SAE_IDs": "too many or repeated SAE IDs"}])
        slaves = {slave_sae: slave_node}
        for s in extra:
            if s == master:
                raise _Fail(400, "Bad request format",
                        [{"additional_slave_SAE_IDs": "contains the master SAE"}])
            slaves[s] = remote_node(s, "additional_slave_SAE_IDs")
        try:
            keys = store.issue(node, slave_node, master, slaves, number, size // 8)
        except InsufficientKeyError:
            raise _Fail(503, "Keys are being exhausted",
                        [{"stored_key_count": status_obj(master, slave_sae, slave_node)["stored_key_count"]}]
                        ) from None
        except KeyStoreError as exc:
            raise _Fail(503, "Key store unavailable", [{"reason": str(exc)}]) from None
        return JSONResponse({"keys": [{"key_ID": k.key_id, "key": base64.b64encode(k.key).decode("ascii")}
                                      for k in keys]})

    @app.get("/api/v1/keys/{slave_SAE_ID}/enc_keys")
    async def get_enc_keys(slave_SAE_ID: str, request: Request) -> JSONResponse:
        return await enc_keys(slave_SAE_ID, request, dict(request.query_params))

    @app.post("/api/v1/keys/{slave_SAE_ID}/enc_keys")
    async def post_enc_keys(slave_SAE_ID: str, request: Request) -> JSONResponse:
        local_sae(request)
        return await enc_keys(slave_SAE_ID, request, await body_json(request))

    async def dec_keys(master_sae: str, request: Request, key_ids: list[Any]) -> JSONResponse:
        slave = local_sae(request)
        if not key_ids:
            raise _Fail(400, "Bad request format", [{"key_IDs": "at least one key_ID is required"}])
        ids: list[str] = []
        for k in key_ids:
            try:
                ids.append(str(uuid.UUID(str(k))))
            except ValueError:
                raise _Fail(400, "Bad request format", [{"key_ID": "not a UUID"}]) from None
        try:
            keys = store.collect(node, master_sae, slave, ids)
        except KeyStoreError:
            raise _Fail(401, "Unauthorized", [{"reason": "key_ID not available to this SAE"}]) from None
        return JSONResponse({"keys": [{"key_ID": k.key_id, "key": base64.b64encode(k.key).decode("ascii")}
                                      for k in keys]})

    @app.get("/api/v1/keys/{master_SAE_ID}/dec_keys")
    async def get_dec_keys(master_SAE_ID: str, request: Request) -> JSONResponse:
        return await dec_keys(master_SAE_ID, request, request.query_params.getlist("key_ID"))

    @app.post("/api/v1/keys/{master_SAE_ID}/dec_keys")
    async def post_dec_keys(master_SAE_ID: str, request: Request) -> JSONResponse:
        local_sae(request)
        data = await body_json(request)
        raw = data.get("key_IDs")
        if not isinstance(raw, list) or not all(isinstance(x, dict) and "key_ID" in x for x in raw):
            raise _Fail(400, "Bad request format", [{"key_IDs": "must be a list of {\"key_ID\": ...}"}])
        return await dec_keys(master_SAE_ID, request, [x["key_ID"] for x in raw])

    return app
