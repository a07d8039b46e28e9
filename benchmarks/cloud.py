"""Cloud throughput and latency: N small jobs (5-qubit GHZ, 1000 shots, device ``ideal``)
through HTTP against ``qvalley serve --workers 2`` on SQLite and on PostgreSQL.

Each of ``--concurrency`` client threads submits a job and waits for its result (long poll on
``/result?wait=``), in a loop; we report jobs/s completed and the submit→result latency p50/p99.
Several ``--concurrency`` values give the throughput/latency curve (Little's law: in-flight jobs =
jobs/s × latency, so p50 ≤ 50 ms at 100 jobs/s leaves room for about five jobs in flight).

    .venv/bin/python benchmarks/cloud.py --jobs 1000 --db sqlite postgresql [--concurrency 2 4 8]
        [--rate-limit R] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

import numpy as np

from qvalley.cloud.client import Client
from qvalley.cloud.store import Store

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GHZ5 = ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[5] q;\nbit[5] c;\nh q[0];\ncx q[0], q[1];\n'
        'cx q[1], q[2];\ncx q[2], q[3];\ncx q[3], q[4];\nc = measure q;\n')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(db: str, jobs: int, concurrency: int, workers: int, rate_limit: float | None = None
        ) -> dict[str, Any]:
    schema = None
    if db == "sqlite":
        args = ["--data-dir", tempfile.mkdtemp(prefix="qv-bench-")]
        url = None
    else:
        import sqlalchemy as sa

        schema = "qv_bench_" + uuid.uuid4().hex[:8]
        eng = sa.create_engine(PG)
        with eng.begin() as c:
            c.exec_driver_sql(f"CREATE SCHEMA {schema}")
        eng.dispose()
        url = f"{PG}?options=-csearch_path%3D{schema}"
        args = ["--database", url]
    store = Store.open(args[1] if db == "sqlite" else None, url)
    token, _ = store.create_token("bench")
    store.set_quota("bench", max_concurrent_jobs=10**6, max_shots_per_day=10**12)
    port = free_port()
    srv = subprocess.Popen([sys.executable, "-m", "qvalley.cli.main", "serve", "--port", str(port),
                            "--workers", str(workers), *args,
                            *(["--rate-limit", str(rate_limit)] if rate_limit else [])])
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        warm = Client(base, token)
        for _ in range(5):  # JIT and caches
            warm.run(GHZ5, "ideal", shots=1000)
        lat: list[float] = []
        lock = threading.Lock()
        left = [jobs]

        def client_loop() -> None:
            c = Client(base, token)
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                t0 = time.perf_counter()
                r = c.run(GHZ5, "ideal", shots=1000, timeout=120)
                dt = time.perf_counter() - t0
                assert sum(r["results"][0]["counts"].values()) == 1000
                with lock:
                    lat.append(dt)

        t0 = time.perf_counter()
        ts = [threading.Thread(target=client_loop) for _ in range(concurrency)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        srv.terminate()
        srv.wait(10)
        store.close()
        if schema:
            import sqlalchemy as sa

            eng = sa.create_engine(PG)
            with eng.begin() as c:
                c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            eng.dispose()
    a = np.array(lat)
    return {"database": db, "jobs": jobs, "concurrency": concurrency, "workers": workers,
            "seconds": wall, "jobs_per_s": jobs / wall, "p50_ms": float(np.percentile(a, 50) * 1e3),
            "p99_ms": float(np.percentile(a, 99) * 1e3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=1000)
    p.add_argument("--concurrency", type=int, nargs="+", default=[2, 4, 8],
                   help="client threads (several values: one run each, the latency/throughput curve)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--db", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    p.add_argument("--rate-limit", type=float, default=None,
                   help="requests/s per user passed to serve (default: serve's own limit)")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    rows = [run(db, a.jobs, c, a.workers, a.rate_limit) for db in a.db for c in a.concurrency]
    print(f"{'database':<11} {'jobs':>5} {'clients':>7} {'jobs/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for r in rows:
        print(f"{r['database']:<11} {r['jobs']:>5} {r['concurrency']:>7} {r['jobs_per_s']:>8.1f} "
              f"{r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
