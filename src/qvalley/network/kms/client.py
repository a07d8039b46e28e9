"""An ETSI GS QKD 014 client for SAEs (httpx over mutual TLS)."""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ..topology import NetworkError


class KMSClientError(NetworkError):
    """The KME answered with an error (``status`` is the HTTP code, ``body`` its Error object)."""

    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body
        msg = body.get("message") if isinstance(body, dict) else str(body)
        super().__init__(f"KME answered {status}: {msg}")


class KeyExhaustedKMSError(KMSClientError):
    """503 from the KME: no key available now."""


@dataclass(frozen=True)
class Key:
    """A delivered key: UUID ``key_id`` and its bytes."""

    key_id: str
    key: bytes

    def __repr__(self) -> str:  # never show key bytes
        return f"Key(key_id={self.key_id!r}, key=<{len(self.key)} bytes>)"


class KMSClient:
    """Client of one KME: ``base_url`` like ``https://localhost:8443``, SAE certificate/key, CA."""

    def __init__(self, base_url: str, cert: str | Path, key: str | Path, ca: str | Path,
                 timeout_s: float = 10.0) -> None:
        ctx = ssl.create_default_context(cafile=str(ca))
        ctx.load_cert_chain(str(cert), str(key))
        self._http = httpx.Client(base_url=base_url, verify=ctx, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KMSClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, r: httpx.Response) -> Any:
        try:
            body = r.json()
        except ValueError:
            body = {"message": r.text[:200]}
        if r.status_code == 503:
            raise KeyExhaustedKMSError(r.status_code, body)
        if r.status_code != 200:
            raise KMSClientError(r.status_code, body)
        return body

    @staticmethod
    def _keys(body: Any) -> list[Key]:
        return [Key(k["key_ID"], base64.b64decode(k["key"], validate=True)) for k in body["keys"]]

    def status(self, slave_sae_id: str) -> dict[str, Any]:
        """The Status object for keys to ``slave_sae_id``."""
        return dict(self._check(self._http.get(f"/api/v1/keys/{slave_sae_id}/status")))

    def enc_keys(self, slave_sae_id: str, number: int = 1, size: int | None = None,
                 additional_slave_sae_ids: list[str] | None = None) -> list[Key]:
        """Get ``number`` keys of ``size`` bits for ``slave_sae_id`` (POST)."""
        body: dict[str, Any] = {"number": number}
        if size is not None:
            body["size"] = size
        if additional_slave_sae_ids:
            body["additional_slave_SAE_IDs"] = additional_slave_sae_ids
        return self._keys(self._check(self._http.post(f"/api/v1/keys/{slave_sae_id}/enc_keys", json=body)))

    def dec_keys(self, master_sae_id: str, key_ids: list[str]) -> list[Key]:
        """Get the keys ``key_ids`` that ``master_sae_id`` obtained for us (POST)."""
        body = {"key_IDs": [{"key_ID": k} for k in key_ids]}
        return self._keys(self._check(self._http.post(f"/api/v1/keys/{master_sae_id}/dec_keys", json=body)))
