"""Cloud commands: ``serve``, ``worker``, ``token create`` and the client commands
``submit``, ``status``, ``result``, ``cancel``, ``jobs``.

Client commands read ``--url``/``--token`` or the ``QVALLEY_URL``/``QVALLEY_TOKEN`` environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._errors import QValleyError

Handler = Callable[[argparse.Namespace], int]


class CloudCliError(QValleyError):
    """A user error of a cloud command."""


def _db_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, help="SQLite data directory (default ./qvalley-data)")
    p.add_argument("--database", default=None, help="database URL, e.g. postgresql://user@host/db")


def _client_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=os.environ.get("QVALLEY_URL", "http://127.0.0.1:8000"))
    p.add_argument("--token", default=os.environ.get("QVALLEY_TOKEN"))
    p.add_argument("--json", action="store_true")


def register(sub: Any) -> dict[str, Handler]:
    s = sub.add_parser("serve", help="run the cloud API (and in-process workers)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    _db_args(s)
    s.add_argument("--workers", type=int, default=2, help="in-process worker threads")
    s.add_argument("--no-workers", action="store_true", help="API only; run `qvalley worker` elsewhere")
    s.add_argument("--lease", type=float, default=30.0, help="job lease in seconds")
    s.add_argument("--rate-limit", type=float, default=None, metavar="RPS",
                   help="requests per second per user before 429 (default 200)")
    s.add_argument("--burst", type=int, default=None, help="requests a user may burst above the rate "
                   "(default twice the rate)")
    s.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="Dask scheduler (tcp://host:8786) for the slices of tensor-network jobs")
    s.add_argument("--rate-limit-redis", default=None, metavar="URL",
                   help="share the per-user rate limit with every API process using this Redis "
                   "(redis://host:6379/0); default: this process's own")

    w = sub.add_parser("worker", help="run a cloud worker process against the database")
    _db_args(w)
    w.add_argument("--lease", type=float, default=30.0, help="job lease in seconds")
    w.add_argument("--poll", type=float, default=0.2, help="idle poll interval in seconds")
    w.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="Dask scheduler (tcp://host:8786) for the slices of tensor-network jobs")

    t = sub.add_parser("token", help="API tokens")
    tsub = t.add_subparsers(dest="token_command", required=True, parser_class=type(t))
    tc = tsub.add_parser("create", help="create a token for a user (created when missing)")
    tc.add_argument("--user", required=True)
    tc.add_argument("--admin", action="store_true")
    tc.add_argument("--name", default="cli")
    _db_args(tc)
    tc.add_argument("--json", action="store_true")

    sm = sub.add_parser("submit", help="submit a circuit file as a cloud job")
    sm.add_argument("file", nargs="+")
    sm.add_argument("--device", default="ideal")
    sm.add_argument("--shots", type=int, default=1024)
    sm.add_argument("--seed", type=int, default=None)
    sm.add_argument("--memory", action="store_true", help="also return per-shot memory")
    sm.add_argument("--no-noise", action="store_true")
    sm.add_argument("--method", default=None, help="simulation method (default auto; tensornet runs "
                    "noiseless, with its slices on the workers' Dask cluster when they have one)")
    sm.add_argument("--tag", action="append", default=[])
    sm.add_argument("--idempotency-key", default=None)
    sm.add_argument("--wait", type=float, default=0.0, help="wait up to this many seconds for the result")
    _client_args(sm)
    for name, helptext in (("status", "a job's status"), ("result", "a job's result"),
                           ("cancel", "cancel a job")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("job_id")
        if name == "result":
            p.add_argument("--timeout", type=float, default=60.0)
        _client_args(p)
    j = sub.add_parser("jobs", help="list your cloud jobs")
    j.add_argument("--status", default=None)
    j.add_argument("--device", default=None)
    j.add_argument("--tag", default=None)
    j.add_argument("--limit", type=int, default=20)
    _client_args(j)
    return {"serve": cmd_serve, "worker": cmd_worker, "token": cmd_token, "submit": cmd_submit,
            "status": cmd_status, "result": cmd_result, "cancel": cmd_cancel, "jobs": cmd_jobs}


def _store(a: argparse.Namespace) -> Any:
    from ..cloud.store import Store

    try:
        return Store.open(a.data_dir, a.database, lease_seconds=getattr(a, "lease", 30.0))
    except Exception as exc:  # unreachable server, bad URL
        if isinstance(exc, QValleyError):
            raise
        raise CloudCliError(f"cannot open the database: {type(exc).__name__}: {str(exc).splitlines()[0]}"
                            ) from None


def cmd_serve(a: argparse.Namespace) -> int:
    from dataclasses import replace

    import uvicorn

    from ..cloud.api import create_app
    from ..cloud.service import Limits

    limits = Limits()
    if a.rate_limit is not None:
        if not a.rate_limit > 0:
            raise CloudCliError(f"--rate-limit: must be > 0 requests per second, got {a.rate_limit:g}")
        limits = replace(limits, requests_per_second=a.rate_limit, burst=max(1, int(2 * a.rate_limit)))
    if a.burst is not None:
        if a.burst < 1:
            raise CloudCliError(f"--burst: must be at least 1, got {a.burst}")
        limits = replace(limits, burst=a.burst)
    if a.rate_limit_redis:
        from ..cloud.ratelimit import check_redis

        check_redis(a.rate_limit_redis)
    store = _store(a)
    if store.user_count() == 0:
        secret, _ = store.create_token("admin", admin=True, name="first start")
        print(f"created the schema; admin token (shown once): {secret}", file=sys.stderr, flush=True)
    cluster = _cluster(a)
    app = create_app(store, workers=0 if a.no_workers else a.workers, limits=limits, cluster=cluster,
                     rate_limit_redis=a.rate_limit_redis)
    print(f"qvalley cloud on http://{a.host}:{a.port} (database: {store.engine.dialect.name})",
          file=sys.stderr, flush=True)
    try:
        uvicorn.run(app, host=a.host, port=a.port, log_level="warning")
    finally:
        if cluster is not None:
            cluster.close()
    return 0


def _cluster(a: argparse.Namespace) -> Any:
    """The Dask client of ``--cluster`` (connected before anything starts), or ``None``."""
    if a.cluster is None:
        return None
    from ..cloud.worker import connect_cluster

    client = connect_cluster(a.cluster)
    print(f"tensor-network slices go to the Dask cluster at {a.cluster}", file=sys.stderr, flush=True)
    return client


def cmd_worker(a: argparse.Namespace) -> int:
    import signal

    from ..cloud.worker import Worker

    store = _store(a)
    cluster = _cluster(a)
    w = Worker(store, poll=a.poll, cluster=cluster)
    signal.signal(signal.SIGTERM, lambda *_: w.stop())
    print(f"worker {w.name} started", file=sys.stderr, flush=True)
    try:
        w.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if cluster is not None:
            cluster.close()
    return 0


def cmd_token(a: argparse.Namespace) -> int:
    secret, row = _store(a).create_token(a.user, admin=a.admin, name=a.name)
    if a.json:
        print(json.dumps({"token": secret, "user": a.user, "id": row["id"], "admin": a.admin}))
    else:
        print(secret)
    return 0


def _client(a: argparse.Namespace) -> Any:
    from ..cloud.client import Client

    if not a.token:
        raise CloudCliError("no token: pass --token or set QVALLEY_TOKEN (see `qvalley token create`)")
    return Client(a.url, a.token)


def _print(a: argparse.Namespace, data: Any, rows: list[tuple[str, Any]]) -> None:
    if a.json:
        print(json.dumps(data, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(show_header=False)
    for k, v in rows:
        t.add_row(k, str(v))
    Console().print(t)


def _job_rows(v: dict[str, Any]) -> list[tuple[str, Any]]:
    rows = [(k, v.get(k)) for k in ("id", "device", "status", "phase", "shots", "created_at",
                                     "finished_at", "calibration_id", "queue_position", "estimated_start")]
    if v.get("failure"):
        rows.append(("failure", f"{v['failure']['code']}: {v['failure']['message']}"))
    return rows


def _wrap(f: Callable[[], int]) -> int:
    from ..cloud.errors import ClientError

    try:
        return f()
    except ClientError as exc:
        raise CloudCliError(str(exc)) from None


def cmd_submit(a: argparse.Namespace) -> int:
    def go() -> int:
        from ..cloud.client import FORMAT_BY_EXT

        c = _client(a)
        progs = []
        for f in a.file:
            try:
                text = Path(f).read_text()
            except OSError as exc:
                raise CloudCliError(f"{f}: {exc.strerror}") from None
            fmt = FORMAT_BY_EXT.get(os.path.splitext(f)[1].lower(), "openqasm3")
            if fmt == "openqasm2" and "OPENQASM 3" in text[:200]:
                fmt = "openqasm3"
            progs.append({"format": fmt, "source": text})
        opts: dict[str, Any] = {"memory": a.memory, "noise": not a.no_noise}
        if a.seed is not None:
            opts["seed"] = a.seed
        if a.method is not None:
            opts["method"] = a.method
        v = c.submit(progs, a.device, shots=a.shots, options=opts, tags=a.tag,
                     idempotency_key=a.idempotency_key)
        if a.wait > 0:
            r = c.result(v["id"], timeout=a.wait)
            _print(a, r, [("id", r["id"])]
                   + [(f"counts[{i}]", x["counts"]) for i, x in enumerate(r["results"])])
        else:
            _print(a, v, _job_rows(v))
        return 0
    return _wrap(go)


def _show_job(a: argparse.Namespace, v: dict[str, Any]) -> int:
    _print(a, v, _job_rows(v))
    return 0


def cmd_status(a: argparse.Namespace) -> int:
    return _wrap(lambda: _show_job(a, _client(a).job(a.job_id)))


def cmd_result(a: argparse.Namespace) -> int:
    def go() -> int:
        r = _client(a).result(a.job_id, timeout=a.timeout)
        _print(a, r, [("id", r["id"]), ("calibration_id", r["calibration_id"])]
               + [(f"counts[{i}]", x["counts"]) for i, x in enumerate(r["results"])])
        return 0
    return _wrap(go)


def cmd_cancel(a: argparse.Namespace) -> int:
    return _wrap(lambda: _show_job(a, _client(a).cancel(a.job_id)))


def cmd_jobs(a: argparse.Namespace) -> int:
    def go() -> int:
        data = _client(a).jobs(status=a.status, device=a.device, tag=a.tag, limit=a.limit)
        if a.json:
            print(json.dumps(data, indent=2))
            return 0
        from rich.console import Console
        from rich.table import Table

        t = Table("id", "device", "status", "shots", "created_at")
        for j in data["jobs"]:
            t.add_row(j["id"], j["device"], j["status"], str(j["shots"]), j["created_at"])
        Console().print(t)
        return 0
    return _wrap(go)
