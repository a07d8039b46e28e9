"""Real processes over real HTTP: `qvalley serve --no-workers` + `qvalley worker`, SIGKILLed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from qvalley.cloud.client import Client
from qvalley.cloud.store import Store

from .conftest import BELL3

QV = [sys.executable, "-m", "qvalley.cli.main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _db(db_url: str) -> list[str]:
    return ["--database", db_url]


def _serve(db_url: str, port: int) -> subprocess.Popen[bytes]:
    p = subprocess.Popen(QV + ["serve", "--port", str(port), "--no-workers", *_db(db_url)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return p
        except OSError:
            time.sleep(0.1)
    p.kill()
    raise AssertionError("qvalley serve did not start")


def _worker(db_url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(QV + ["worker", "--lease", "1", "--poll", "0.05", *_db(db_url)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _ghz(n: int) -> str:
    body = "".join(f"cx q[{i}], q[{i + 1}];\n" for i in range(n - 1))
    head = f'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[{n}] q;\nbit[{n}] c;\nh q[0];\n'
    return f"{head}{body}c = measure q;\n"


def test_kill_worker_and_restart_server(db_url: str) -> None:
    store = Store.open(database=db_url)
    token, _ = store.create_token("alice")
    port = _free_port()
    server = _serve(db_url, port)
    procs: list[subprocess.Popen[bytes]] = [server]
    try:
        c = Client(f"http://127.0.0.1:{port}", token)
        heavy = c.submit(_ghz(10), "zuchongzhi-2.1", shots=2000, options={"method": "density", "seed": 1})
        light = [c.submit(BELL3, "ideal", shots=100)["id"] for _ in range(2)]
        os.kill(server.pid, signal.SIGKILL)  # restart the server: queued jobs intact
        server.wait()
        server = _serve(db_url, port)
        procs.append(server)
        states = {j["id"]: j["status"] for j in c.jobs()["jobs"]}
        assert states == dict.fromkeys([heavy["id"], *light], "QUEUED")

        w1 = _worker(db_url)
        procs.append(w1)
        deadline = time.monotonic() + 30
        while c.job(heavy["id"])["status"] != "RUNNING":
            assert time.monotonic() < deadline, "the worker never claimed the job"
            time.sleep(0.02)
        os.kill(w1.pid, signal.SIGKILL)  # mid-job
        w1.wait()
        assert c.job(heavy["id"])["status"] == "RUNNING"
        procs.append(_worker(db_url))
        r = c.result(heavy["id"], timeout=60)
        assert sum(r["results"][0]["counts"].values()) == 2000
        for j in light:
            assert c.result(j, timeout=30)["results"][0]["shots"] == 100
        row = store.get_job(heavy["id"])
        assert row["attempt"] >= 2 and row["completions"] == 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        store.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_token_create_json(tmp_path: Any, db_url: str) -> None:
    out = subprocess.run(QV + ["token", "create", "--user", "carol", "--data-dir", str(tmp_path), "--json"],
                         capture_output=True, text=True, check=True)
    import json

    tok = json.loads(out.stdout)["token"]
    assert tok.startswith("qv_") and Store.open(tmp_path).authenticate(tok)["name"] == "carol"
