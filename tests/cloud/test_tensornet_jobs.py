"""Tensor-network jobs in the cloud: width limits by method, and slices handed to a Dask cluster."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import qvalley
from qvalley.bench.rcs import sycamore_rcs
from qvalley.cloud.api import create_app
from qvalley.cloud.client import Client
from qvalley.cloud.errors import ClientError, CloudError
from qvalley.cloud.store import Store, migrate
from qvalley.cloud.worker import connect_cluster
from qvalley.formats import dumps

warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture
def sqlite_store(tmp_path: Any) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'cloud.db'}", lease_seconds=5.0)
    migrate(s.engine)
    yield s
    s.close()


def _client(store: Store, tc: Any) -> Client:
    token, _ = store.create_token("alice")
    return Client("http://testserver", token, http=tc)


def _wide(n: int, clifford: bool) -> str:
    c = qvalley.Circuit(n)
    c.h(0)
    for q in range(n - 1):
        c.cx(q, q + 1)
    if not clifford:
        c.t(n - 1)
    return dumps(c.measure_all(), "qasm3")


def test_width_limit_depends_on_the_method(sqlite_store: Store) -> None:
    from fastapi.testclient import TestClient

    app = create_app(sqlite_store, workers=0)  # nothing runs: only submission is checked
    with TestClient(app) as tc:
        a = _client(sqlite_store, tc)
        with pytest.raises(ClientError) as e:
            a.submit(_wide(40, clifford=False), "sycamore-53", shots=10)
        assert e.value.status == 413
        assert "max_simulated_qubits" in str(e.value) and "tensornet" in str(e.value)
        with pytest.raises(ClientError) as e:  # the tensor-network method is noiseless
            a.submit(_wide(40, clifford=False), "sycamore-53", shots=10, options={"method": "tensornet"})
        assert e.value.status == 422 and "options.noise" in str(e.value)
        job = a.submit(_wide(40, clifford=False), "sycamore-53", shots=10,
                       options={"method": "tensornet", "noise": False})
        assert job["status"] == "QUEUED"
        # Clifford: the stabilizer method, where transpiling keeps the circuit Clifford (CZ natives)
        assert a.submit(_wide(40, clifford=True), "oriental-136", shots=10)["status"] == "QUEUED"
        with pytest.raises(ClientError) as e:  # fSim-only natives: the transpiled circuit is not
            a.submit(_wide(40, clifford=True), "sycamore-53", shots=10)
        assert e.value.status == 413 and "auto method on sycamore-53" in str(e.value)
        with pytest.raises(ClientError) as e:  # a Clifford circuit still needs a method that can
            a.submit(_wide(40, clifford=True), "oriental-136", shots=10, options={"method": "density"})
        assert e.value.status == 413 and "density method" in str(e.value)


def test_tensornet_job_hands_its_slices_to_dask(sqlite_store: Store) -> None:
    distributed = pytest.importorskip("distributed")
    from fastapi.testclient import TestClient

    circ = sycamore_rcs(2, 3, 5, seed=7)
    p = qvalley.probabilities(circ, precision="double")
    src = dumps(circ.copy().measure_all(), "qasm3")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as lc:
        client = connect_cluster(lc.scheduler_address)
        try:
            app = create_app(sqlite_store, workers=1, worker_poll=0.05, cluster=client)
            with TestClient(app) as tc:
                a = _client(sqlite_store, tc)
                job = a.submit(src, "ideal", shots=4000,
                               options={"method": "tensornet", "noise": False, "seed": 2})
                r = a.result(job["id"], timeout=120)
            ran = {str(k) for k in lc.scheduler.task_prefixes}
        finally:
            client.close()
    (res,) = r["results"]
    assert res["method"] == "tensornet" and sum(res["counts"].values()) == 4000
    assert any("dask_slices" in k for k in ran)  # the contraction's slices ran on the cluster's workers
    emp = np.zeros(p.size)
    for b, k in res["counts"].items():
        emp[int(b, 2)] = k / 4000
    assert 0.5 * np.abs(emp - p).sum() < 0.1


def test_unreachable_scheduler_is_a_clear_error() -> None:
    pytest.importorskip("distributed")
    with pytest.raises(CloudError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:1"):
        connect_cluster("tcp://127.0.0.1:1", timeout=0.5)


def test_worker_cli_with_cluster_end_to_end(tmp_path: Any) -> None:
    """`qvalley serve --no-workers` + `qvalley worker --cluster ADDR` + `qvalley submit --method
    tensornet`, as separate processes, against a Dask scheduler."""
    distributed = pytest.importorskip("distributed")
    import json
    import subprocess

    from .test_processes import QV, _free_port, _serve

    db = f"sqlite:///{tmp_path / 'cloud.db'}"
    circ = tmp_path / "rcs.qasm"
    circ.write_text(dumps(sycamore_rcs(2, 3, 5, seed=7).measure_all(), "qasm3"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None, protocol="tcp") as lc:
        port = _free_port()
        server = _serve(db, port)
        worker = subprocess.Popen(QV + ["worker", "--database", db, "--poll", "0.05",
                                        "--cluster", lc.scheduler_address],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            token = json.loads(subprocess.run(QV + ["token", "create", "--user", "carol", "--database",
                                                    db, "--json"], capture_output=True, text=True,
                                                   check=True).stdout)["token"]
            out = subprocess.run(QV + ["submit", str(circ), "--url", f"http://127.0.0.1:{port}",
                                       "--token", token, "--shots", "500", "--no-noise",
                                       "--method", "tensornet", "--wait", "120", "--json"],
                                 capture_output=True, text=True, timeout=180)
            assert out.returncode == 0, out.stderr
            bad = subprocess.run(QV + ["submit", str(circ), "--url", f"http://127.0.0.1:{port}",
                                       "--token", token, "--method", "nope"],
                                 capture_output=True, text=True, timeout=60)
        finally:
            for p in (worker, server):
                p.terminate()
                p.wait(timeout=20)
        ran = {str(k) for k in lc.scheduler.task_prefixes}
    (res,) = json.loads(out.stdout)["results"]
    assert res["method"] == "tensornet" and sum(res["counts"].values()) == 500
    assert any("dask_slices" in k for k in ran)
    assert bad.returncode == 2 and bad.stderr.startswith("qvalley: error: ")
    assert "options.method" in bad.stderr and "Traceback" not in bad.stderr


def test_wide_clifford_job_runs_on_the_stabilizer(sqlite_store: Store) -> None:
    from fastapi.testclient import TestClient

    app = create_app(sqlite_store, workers=1, worker_poll=0.05)
    with TestClient(app) as tc:
        a = _client(sqlite_store, tc)
        job = a.submit(_wide(40, clifford=True), "oriental-136", shots=200, options={"seed": 4})
        r = a.result(job["id"], timeout=120)
    (res,) = r["results"]
    assert res["method"] == "stabilizer" and res["noise"] is True
    top = sorted(res["counts"], key=res["counts"].get, reverse=True)[:2]
    assert set(top) == {"0" * 40, "1" * 40}  # a noisy GHZ state: the two ideal outcomes lead
