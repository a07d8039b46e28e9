"""Python client of the cloud API.

``Client(url, token)`` talks HTTP through httpx; ``Client(url, token, http=...)`` takes any
``httpx.Client`` (e.g. FastAPI's ``TestClient(app)``, which runs the ASGI app in-process), so tests
run the same client code in-process and over real HTTP.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import httpx

from .errors import ClientError

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
FORMAT_BY_EXT = {".qasm3": "openqasm3", ".qasm": "openqasm2", ".qsim": "qsim"}


def _retry_after(headers: Any, default: float) -> float:
    """Seconds to wait before retrying: ``Retry-After-Ms`` (exact) over ``Retry-After`` (whole
    seconds), else ``default``; malformed values fall back to ``default``."""
    for name, scale in (("Retry-After-Ms", 1e-3), ("Retry-After", 1.0)):
        v = headers.get(name)
        if v is not None:
            try:
                wait = float(v) * scale
            except ValueError:
                continue
            if wait >= 0 and wait == wait:  # not negative, not NaN
                return min(wait, 3600.0)
    return default


class Client:
    """A cloud client. Waits out 429s as the server says (``Retry-After-Ms``/``Retry-After``),
    retries 503 and connection errors with exponential backoff; :meth:`result` never waits past
    its ``timeout``.

    Args:
        url: the service, e.g. ``http://127.0.0.1:8000``.
        token: an API token (``qvalley token create``).
        retries: attempts after the first for 503 and connection errors (0: no retries at all).
        max_rate_wait: seconds one call may spend waiting out 429 answers before it raises.
        http: an ``httpx.Client`` to use instead of a new one (in-process transport seam).
    """

    def __init__(self, url: str, token: str, *, retries: int = 5, backoff: float = 0.2,
                 timeout: float = 30.0, http: httpx.Client | None = None,
                 max_rate_wait: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.retries, self.backoff, self.max_rate_wait = retries, backoff, max_rate_wait
        self._http = http or httpx.Client(base_url=self.url, timeout=timeout)
        self._headers = {"Authorization": f"Bearer {token}"}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def request(self, method: str, path: str, *, deadline: float | None = None,
                headers: dict[str, str] | None = None, **kw: Any) -> Any:
        """One API call with retries; returns the decoded JSON (``None`` for 204).

        Connection errors and 503 are retried ``retries`` times with exponential backoff. A 429 is
        waited out for as long as the server says (``Retry-After-Ms``/``Retry-After``, with up
        to 50% random jitter so that threads sharing a token bucket do not wake together), until
        ``max_rate_wait`` seconds of such waits are spent; ``retries=0`` retries nothing."""
        hdrs = {**self._headers, **(headers or {})}
        attempt, rate_waited = 0, 0.0
        while True:
            try:
                kw2 = dict(kw)
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ClientError(f"{method} {path}: timed out", status=0)
                    kw2["timeout"] = left + 1.0
                r = self._http.request(method, path, headers=hdrs, **kw2)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise ClientError(f"{method} {self.url}{path}: {exc}") from None
                self._sleep(self.backoff * 2**attempt, deadline)
                attempt += 1
                continue
            if r.status_code == 429 and self.retries > 0:
                wait = _retry_after(r.headers, self.backoff) * (1.0 + 0.5 * random.random())
                if rate_waited + wait <= self.max_rate_wait:
                    rate_waited += wait
                    self._sleep(wait, deadline)
                    continue
            elif r.status_code == 503 and attempt < self.retries:
                self._sleep(_retry_after(r.headers, self.backoff * 2**attempt), deadline)
                attempt += 1
                continue
            if r.status_code >= 400:
                try:
                    err = r.json()["error"]
                    msg = f"{err['code']}: {err['message']}"
                except Exception:
                    msg = r.text[:200]
                ra = r.headers.get("Retry-After")
                raise ClientError(f"{method} {path}: HTTP {r.status_code}: {msg}", status=r.status_code,
                                  retry_after=float(ra) if ra else None)
            return None if r.status_code == 204 else r.json()

    @staticmethod
    def _sleep(seconds: float, deadline: float | None) -> None:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ClientError("timed out while backing off", status=0)
            seconds = min(seconds, left)
        time.sleep(seconds)

    # ---- jobs ----------------------------------------------------------------------------------
    def submit(self, programs: str | list[str] | list[dict[str, str]], device: str = "ideal", *,
               shots: int = 1024, format: str = "openqasm3", options: dict[str, Any] | None = None,
               tags: list[str] | None = None, idempotency_key: str | None = None) -> dict[str, Any]:
        """Submit a job of one or more programs (text, or ``{"format", "source"}`` dicts)."""
        if isinstance(programs, str):
            programs = [programs]
        progs = [p if isinstance(p, dict) else {"format": format, "source": p} for p in programs]
        body = {"device": device, "programs": progs, "shots": shots, "options": options or {},
                "tags": tags or []}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return dict(self.request("POST", "/v1/jobs", json=body, headers=headers))

    def submit_file(self, path: str | Path, device: str = "ideal", **kw: Any) -> dict[str, Any]:
        p = Path(path)
        text = p.read_text()
        fmt = FORMAT_BY_EXT.get(p.suffix.lower(), "openqasm3")
        if fmt == "openqasm2" and "OPENQASM 3" in text[:200]:
            fmt = "openqasm3"
        return self.submit(text, device, format=fmt, **kw)

    def job(self, job_id: str, *, wait: float = 0.0) -> dict[str, Any]:
        params = {"wait": wait} if wait > 0 else None
        return dict(self.request("GET", f"/v1/jobs/{job_id}", params=params,
                                 deadline=time.monotonic() + wait + 30 if wait else None))

    def jobs(self, **filters: Any) -> dict[str, Any]:
        return dict(self.request("GET", "/v1/jobs", params={k: v for k, v in filters.items() if v}))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/v1/jobs/{job_id}/cancel"))

    def wait(self, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Long-poll until the job is finished or ``timeout`` seconds pass (then
        :class:`ClientError`); never waits past the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ClientError(f"job {job_id}: not finished after {timeout:g} s", status=0)
            view = dict(self.request("GET", f"/v1/jobs/{job_id}", params={"wait": round(min(left, 30), 3)},
                                     deadline=deadline))
            if view["status"] in TERMINAL:
                return view

    def result(self, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """The job's result (waits up to ``timeout``); :class:`ClientError` if it failed or was
        cancelled, naming the failure."""
        deadline = time.monotonic() + timeout
        while True:  # one long-polled request per job in the common case
            left = deadline - time.monotonic()
            if left <= 0:
                raise ClientError(f"job {job_id}: not finished after {timeout:g} s", status=0)
            try:
                return dict(self.request("GET", f"/v1/jobs/{job_id}/result",
                                         params={"wait": round(min(left, 30), 3)}, deadline=deadline))
            except ClientError as exc:
                if exc.status != 409:
                    raise
            view = self.job(job_id)  # 409: not finished yet, or finished without a result
            if view["status"] in TERMINAL and view["status"] != "COMPLETED":
                f = view.get("failure") or {}
                raise ClientError(f"job {job_id} {view['status']}"
                                  + (f": {f.get('code')}: {f.get('message')}" if f else ""), status=409)

    def run(self, program: str, device: str = "ideal", *, timeout: float = 60.0, **kw: Any) -> dict[str, Any]:
        """Submit and wait: the result of a one-program job."""
        return self.result(self.submit(program, device, **kw)["id"], timeout)

    # ---- the rest ------------------------------------------------------------------------------
    def devices(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/v1/devices")["devices"])

    def device(self, name: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/v1/devices/{name}"))

    def calibrations(self, name: str, before: str | None = None) -> list[dict[str, Any]]:
        return list(self.request("GET", f"/v1/devices/{name}/calibrations",
                                 params={"before": before} if before else None)["calibrations"])

    def me(self) -> dict[str, Any]:
        return dict(self.request("GET", "/v1/users/me"))

    def usage(self) -> dict[str, Any]:
        return dict(self.request("GET", "/v1/usage"))

    def create_token(self, name: str = "token", user: str | None = None) -> dict[str, Any]:
        return dict(self.request("POST", "/v1/tokens", json={"name": name, "user": user}))


__all__ = ["Client"]
