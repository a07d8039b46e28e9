"""The REST API (FastAPI): jobs, devices, calibrations, accounts, usage, health.

:func:`create_app` builds the app over a :class:`~qvalley.cloud.store.Store`; with ``workers > 0``
the app's lifespan runs that many in-process :class:`~qvalley.cloud.worker.Worker` threads.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from . import service
from .errors import AuthError, CloudError, ForbiddenError, NotFoundError, QuotaError, ValidationError
from .ratelimit import MemoryRateLimiter, RedisRateLimiter
from .service import Limits, iso, job_view
from .store import COMPLETED, QUEUED, STATUSES, TERMINAL, Store
from .worker import Notifier, Worker


class Program(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["openqasm3", "openqasm2", "qsim"]
    source: str = Field(max_length=4 * 1024 * 1024)


class JobBody(BaseModel):
    """``POST /v1/jobs`` body."""

    model_config = ConfigDict(extra="forbid")
    device: str = Field(max_length=64)
    programs: list[Program] = Field(min_length=1, max_length=1024)
    shots: int = Field(default=1024, ge=1, le=10**9)
    options: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list, max_length=1024)


class TokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="token", max_length=128)
    user: str | None = Field(default=None, max_length=64, description="admin only: another user")
    admin: bool = False


async def current_user(request: Request, authorization: Annotated[str | None, Header()] = None
                       ) -> dict[str, Any]:
    """The authenticated user of a request (Bearer token), after the per-user rate limit.

    Runs on the event loop, not in the thread pool: a token the store has cached costs no I/O;
    only a cache miss (a database read) goes to the thread pool."""
    state = request.app.state
    if not authorization or not authorization.startswith("Bearer "):
        raise AuthError("missing 'Authorization: Bearer <token>' header")
    secret = authorization[7:].strip()
    u = state.store.authenticate_cached(secret)
    if u is None:
        u = await run_in_threadpool(state.store.authenticate, secret)
    if u is None:
        raise AuthError("invalid or revoked token")
    wait = await state.limiter.take(u["id"])
    if wait > 0:
        raise QuotaError(f"rate limit: {state.limits.requests_per_second:g} requests per second "
                         f"(burst {state.limits.burst})", retry_after=wait)
    return dict(u)


User = Annotated[dict[str, Any], Depends(current_user)]


def create_app(store: Store, *, workers: int = 0, limits: Limits | None = None,
               worker_poll: float = 0.2, cluster: Any = None, rate_limit_redis: str | None = None,
               rate_limit_prefix: str = "qvalley:ratelimit:") -> FastAPI:
    """The API app over ``store`` (with ``workers`` in-process worker threads, which send
    tensor-network slices to ``cluster``, a Dask ``Client``, when given). With
    ``rate_limit_redis`` (a ``redis://`` URL) the per-user rate limit is shared by every API
    process using that Redis server and prefix; otherwise it is this process's own."""
    limits = limits or Limits()
    notifier = Notifier()
    pool: list[Worker] = [Worker(store, poll=worker_poll, notifier=notifier, cluster=cluster)
                          for _ in range(workers)]
    limiter: MemoryRateLimiter | RedisRateLimiter = (
        RedisRateLimiter(rate_limit_redis, limits.requests_per_second, limits.burst, rate_limit_prefix)
        if rate_limit_redis else MemoryRateLimiter(limits.requests_per_second, limits.burst))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threads = [w.start_thread() for w in pool]
        yield
        for w in pool:
            w.stop()
        for t in threads:
            t.join(timeout=10)
        await limiter.close()

    app = FastAPI(title="qvalley cloud", version="1", lifespan=lifespan,
                  description="Jobs on emulated quantum processors. Counts use qvalley's bit order: "
                              "qubit 0 is the rightmost character of a bitstring.")
    app.state.store, app.state.notifier, app.state.workers = store, notifier, pool
    app.state.limiter, app.state.limits = limiter, limits

    @app.exception_handler(CloudError)
    async def _cloud_error(request: Request, exc: CloudError) -> JSONResponse:
        headers = {}
        if exc.retry_after is not None:
            # Retry-After is whole seconds (RFC 9110); Retry-After-Ms gives the token bucket's
            # exact wait, so a client that reads it is not held a whole second for a 5 ms wait
            headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
            headers["Retry-After-Ms"] = str(max(1, int(exc.retry_after * 1000 + 0.999)))
        if isinstance(exc, AuthError):
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse({"error": {"code": exc.code, "message": str(exc)}}, status_code=exc.status,
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors()[:5]:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{loc}: {e.get('msg')}")
        return JSONResponse({"error": {"code": "invalid_request", "message": "; ".join(parts)}},
                            status_code=422)

    def scope(u: dict[str, Any]) -> int | None:
        return None if u["role"] == "admin" else int(u["id"])

    async def read_job(job_id: str, user_id: int | None) -> dict[str, Any]:
        # in the thread pool, not on the event loop: a read can wait for a pooled connection or
        # for a remote PostgreSQL, and must not stall every other request meanwhile
        return await run_in_threadpool(store.get_job, job_id, user_id)

    async def wait_job(job_id: str, user_id: int | None, wait: float) -> dict[str, Any]:
        """The job row, once it is finished or ``wait`` seconds have passed (long poll)."""
        row = await read_job(job_id, user_id)
        if wait <= 0 or row["status"] in TERMINAL:
            return row
        deadline = time.monotonic() + wait
        loop = asyncio.get_running_loop()
        ev = asyncio.Event()
        remove = notifier.listen(lambda: loop.call_soon_threadsafe(ev.set), job_id)
        try:
            while row["status"] not in TERMINAL:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:  # woken by an in-process worker, or poll for out-of-process workers
                    await asyncio.wait_for(ev.wait(), min(left, 0.25))
                except TimeoutError:
                    pass
                # clear before the read, not before the wait: a change that lands during the
                # read sets the event again and the next wait returns at once (clearing after
                # the read would drop that wake-up and cost a 0.25 s poll)
                ev.clear()
                row = await read_job(job_id, user_id)
        finally:
            remove()
        return row

    # ---- jobs ----------------------------------------------------------------------------------
    @app.post("/v1/jobs", status_code=201, tags=["jobs"])
    def submit(body: JobBody, u: User,
               idempotency_key: Annotated[str | None, Header(max_length=128)] = None) -> JSONResponse:
        raw = body.model_dump()
        spec, circuits = service.validate_body(raw, limits)
        row, created = store.insert_job(
            u, device=body.device, shots=body.shots, spec=spec, tags=list(body.tags),
            body_hash=service.body_hash(raw), idempotency_key=idempotency_key, num_circuits=len(circuits),
            max_shots_per_day=u["max_shots_per_day"], max_concurrent=u["max_concurrent_jobs"])
        if created:
            notifier.notify()
        return JSONResponse(job_view(row, store), status_code=201 if created else 200)

    @app.get("/v1/jobs", tags=["jobs"])
    def list_jobs(u: User, status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
                  device: str | None = None, tag: str | None = None,
                  created_after: str | None = None, created_before: str | None = None,
                  cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50
                  ) -> dict[str, Any]:
        cur = None
        if cursor:
            try:
                s, i = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)
                cur = (int(s), i)
            except (ValueError, UnicodeDecodeError):
                raise ValidationError("cursor: not a cursor returned by this API") from None
        rows = store.list_jobs(scope(u), status=status, device=device, tag=tag,
                               created_after=service.parse_iso(created_after, "created_after")
                               if created_after else None,
                               created_before=service.parse_iso(created_before, "created_before")
                               if created_before else None, cursor=cur, limit=limit)
        nxt = None
        if len(rows) == limit:
            nxt = base64.urlsafe_b64encode(f"{rows[-1]['seq']}:{rows[-1]['id']}".encode()).decode()
        return {"jobs": [job_view(r) for r in rows], "next_cursor": nxt}

    @app.get("/v1/jobs/{job_id}", tags=["jobs"])
    async def get_job(job_id: str, u: User,
                      wait: Annotated[float, Query(ge=0, le=60, description="long-poll seconds")] = 0
                      ) -> dict[str, Any]:
        row = await wait_job(job_id, scope(u), wait)
        if row["status"] == QUEUED:  # queue position and ETA: counting reads, in the thread pool
            return await run_in_threadpool(job_view, row, store)
        return job_view(row, store)  # no I/O for a job that is not queued

    @app.get("/v1/jobs/{job_id}/result", tags=["jobs"])
    async def get_result(job_id: str, u: User,
                         wait: Annotated[float, Query(ge=0, le=60, description="long-poll seconds")] = 0
                         ) -> dict[str, Any]:
        row = await wait_job(job_id, scope(u), wait)
        if row["status"] != COMPLETED:
            from .errors import ConflictError

            fail = f" ({row['error_code']}: {row['error_message']})" if row["error_code"] else ""
            raise ConflictError(f"job {job_id} is {row['status']}; no result{fail}")
        res = await run_in_threadpool(json.loads, row["result"])  # per-shot memory can be large
        return {"id": row["id"], "status": row["status"], "device": row["device"],
                "calibration_id": row["calibration_id"], **res}

    @app.post("/v1/jobs/{job_id}/cancel", status_code=202, tags=["jobs"])
    def cancel(job_id: str, u: User) -> dict[str, Any]:
        row = store.request_cancel(job_id, scope(u))
        notifier.notify(job_id)
        return job_view(row)

    @app.get("/v1/jobs/{job_id}/events", tags=["jobs"],
             response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
    async def job_events(job_id: str, u: User) -> StreamingResponse:
        await run_in_threadpool(store.get_job, job_id, scope(u))

        async def stream() -> AsyncIterator[str]:
            last = 0
            loop = asyncio.get_running_loop()
            ev = asyncio.Event()
            remove = notifier.listen(lambda: loop.call_soon_threadsafe(ev.set), job_id)
            try:
                for _ in range(36000):
                    ev.clear()
                    for e in await run_in_threadpool(store.events, job_id, last):
                        last = e["id"]
                        data = {"status": e["status"], "phase": e["phase"], "message": e["message"],
                                "at": iso(e["at"])}
                        yield f"id: {e['id']}\nevent: status\ndata: {json.dumps(data)}\n\n"
                        if e["status"] in TERMINAL:
                            return
                    try:
                        await asyncio.wait_for(ev.wait(), 0.25)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
            finally:
                remove()

        return StreamingResponse(stream(), media_type="text/event-stream")

    # ---- devices -------------------------------------------------------------------------------
    @app.get("/v1/devices", tags=["devices"])
    def devices(u: User) -> dict[str, Any]:
        from ..devices import list_devices

        return {"devices": [_device_summary(n) for n in list_devices()]}

    @app.get("/v1/devices/{name}", tags=["devices"])
    def device_detail(name: str, u: User) -> dict[str, Any]:
        dev = service.device(name)
        cal = service.calibration_now(name)
        return {**_device_summary(name), "couplers": dev.coupling_map(),
                "coordinates": [list(c) for c in dev.coordinates],
                "calibration": cal.to_dict() if cal is not None else None}

    @app.get("/v1/devices/{name}/calibrations", tags=["devices"])
    def calibrations(name: str, u: User, before: str | None = None,
                     limit: Annotated[int, Query(ge=1, le=60)] = 7) -> dict[str, Any]:
        from .._errors import QValleyError
        from ..devices import calibration_history

        dev = service.device(name)
        if dev.calibration_model is None:
            return {"device": name, "calibrations": []}
        end = service.parse_iso(before, "before") if before else time.time()
        start = end - (limit - 1) * 86400
        try:
            hist = calibration_history(dev, iso(start) or "", iso(end) or "")
        except QValleyError as exc:
            raise ValidationError(f"before: {exc}") from None
        return {"device": name, "calibrations": [
            {"id": c.id, "timestamp": c.timestamp, "averages": c.averages()} for c in reversed(hist)]}

    # ---- accounts ------------------------------------------------------------------------------
    @app.get("/v1/users/me", tags=["accounts"])
    def me(u: User) -> dict[str, Any]:
        return {"id": u["id"], "name": u["name"], "role": u["role"], "created_at": iso(u["created_at"]),
                "quotas": {"max_concurrent_jobs": u["max_concurrent_jobs"],
                           "max_shots_per_day": u["max_shots_per_day"]},
                "limits": {"max_shots": limits.max_shots, "max_program_bytes": limits.max_program_bytes,
                           "max_circuits": limits.max_circuits,
                           "requests_per_second": limits.requests_per_second}}

    def token_view(t: dict[str, Any]) -> dict[str, Any]:
        return {"id": t["id"], "name": t["name"], "prefix": t["prefix"], "created_at": iso(t["created_at"]),
                "revoked_at": iso(t["revoked_at"])}

    @app.get("/v1/tokens", tags=["accounts"])
    def list_tokens(u: User) -> dict[str, Any]:
        return {"tokens": [token_view(t) for t in store.list_tokens(u["id"])]}

    @app.post("/v1/tokens", status_code=201, tags=["accounts"])
    def new_token(body: TokenBody, u: User) -> dict[str, Any]:
        if (body.user not in (None, u["name"]) or body.admin) and u["role"] != "admin":
            raise ForbiddenError("only an admin can create tokens for other users or admin tokens")
        secret, row = store.create_token(body.user or u["name"], admin=body.admin, name=body.name)
        return {"token": secret, **token_view(row)}

    @app.delete("/v1/tokens/{token_id}", status_code=204, tags=["accounts"])
    def revoke(token_id: Annotated[int, Path(ge=1, le=2**63 - 1)], u: User) -> None:
        store.revoke_token(u["id"], token_id)

    @app.get("/v1/usage", tags=["accounts"])
    def usage(u: User) -> dict[str, Any]:
        days = store.usage(u["id"])
        today = time.strftime("%Y-%m-%d", time.gmtime())
        t = next((d for d in days if d["day"] == today), {"jobs": 0, "shots": 0})
        return {"today": {"day": today, "jobs": t["jobs"], "shots": t["shots"],
                          "shots_left": max(0, u["max_shots_per_day"] - t["shots"])}, "days": days}

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        store.user_count()
        return {"status": "ok", "database": store.engine.dialect.name, "workers": len(pool)}

    from .portal import mount as mount_portal

    mount_portal(app)  # the web portal at /portal/ (static; its pages call the routes above)
    return app


def _device_summary(name: str) -> dict[str, Any]:
    dev = service.device(name)
    cal = service.calibration_now(name)
    return {"name": dev.name, "num_qubits": dev.num_qubits, "native_gates": list(dev.native_gates),
            "description": dev.description, "modelled": dev.modelled,
            "calibration_id": cal.id if cal is not None else None,
            "calibration_at": cal.timestamp if cal is not None else None,
            "averages": cal.averages() if cal is not None else None}


__all__ = ["JobBody", "NotFoundError", "create_app"]
