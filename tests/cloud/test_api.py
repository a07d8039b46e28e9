"""The REST API through the Python client, in-process (ASGI) on SQLite and PostgreSQL."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from qvalley.cloud.api import create_app
from qvalley.cloud.client import Client
from qvalley.cloud.errors import ClientError
from qvalley.cloud.service import Limits

from .conftest import BELL3, X2

warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture
def app_client(store: Any) -> Iterator[tuple[Any, Client, Client]]:
    from fastapi.testclient import TestClient

    alice, _ = store.create_token("alice")
    bob, _ = store.create_token("bob")
    app = create_app(store, workers=1, worker_poll=0.05,
                     limits=Limits(max_shots=5000, max_program_bytes=2000, max_circuits=3))
    with TestClient(app) as tc:
        yield store, Client("http://testserver", alice, http=tc), Client("http://testserver", bob, http=tc)


def test_job_lifecycle_counts_memory_and_timeline(app_client: Any) -> None:
    _, a, _ = app_client
    job = a.submit([BELL3, {"format": "openqasm2", "source": X2}], "zuchongzhi-2.1", shots=200,
                   options={"memory": True, "seed": 3}, tags=["demo"])
    assert job["status"] == "QUEUED" and job["queue_position"] is not None
    r = a.result(job["id"], timeout=30)
    first, second = r["results"]
    assert sum(first["counts"].values()) == 200 and len(first["memory"]) == 200
    assert sorted(first["memory"]) == sorted(k for k, n in first["counts"].items() for _ in range(n))
    assert max(second["counts"], key=second["counts"].get) == "010"  # qubit 1 is the middle character
    assert first["transpiled_program"].startswith("OPENQASM 3")
    assert r["calibration_id"].startswith("zuchongzhi-2.1@")
    view = a.job(job["id"])
    assert view["status"] == "COMPLETED" and view["calibration_id"] == r["calibration_id"]
    for k in ("created", "queued", "validating", "transpiling", "executing", "postprocessing", "completed"):
        assert view["timestamps"][k] is not None
    assert [j["id"] for j in a.jobs(tag="demo")["jobs"]] == [job["id"]]
    assert a.jobs(tag="other")["jobs"] == []
    assert a.usage()["today"]["shots"] == 400


def test_other_users_jobs_are_404(app_client: Any) -> None:
    _, a, b = app_client
    job = a.submit(BELL3, "ideal", shots=10)
    with pytest.raises(ClientError) as e:
        b.job(job["id"])
    assert e.value.status == 404
    with pytest.raises(ClientError):
        b.cancel(job["id"])
    assert b.jobs()["jobs"] == []


def test_idempotent_resubmission(app_client: Any) -> None:
    _, a, _ = app_client
    one = a.submit(BELL3, "ideal", shots=10, idempotency_key="k1")
    two = a.submit(BELL3, "ideal", shots=10, idempotency_key="k1")
    assert one["id"] == two["id"]
    assert len(a.jobs()["jobs"]) == 1
    with pytest.raises(ClientError) as e:
        a.submit(BELL3, "ideal", shots=11, idempotency_key="k1")
    assert e.value.status == 409


@pytest.mark.parametrize("kw,status,needle", [
    ({"shots": 6000}, 413, "max_shots"),
    ({"programs": ["x" * 3000]}, 413, "max_program_bytes"),
    ({"programs": [BELL3] * 4}, 413, "max_circuits"),
    ({"programs": ["OPENQASM 3.0;\nqubit[2] q;\nfoo q[0];\n"]}, 422, "programs[0]"),
    ({"device": "nope"}, 404, "device 'nope'"),
])
def test_validation_limits_are_named(app_client: Any, kw: dict[str, Any], status: int, needle: str) -> None:
    _, a, _ = app_client
    args = {"programs": [BELL3], "device": "ideal", "shots": 10, **kw}
    with pytest.raises(ClientError) as e:
        a.submit(args.pop("programs"), args.pop("device"), **args)
    assert e.value.status == status and needle in str(e.value)


def test_too_many_qubits_for_device(app_client: Any) -> None:
    _, a, _ = app_client
    src = "OPENQASM 2.0;\nqreg q[60];\n"
    with pytest.raises(ClientError) as e:
        a.submit(src, "sycamore-53", format="openqasm2", shots=10)
    assert e.value.status == 413 and "53 qubits of device sycamore-53" in str(e.value)


def test_quota_concurrent_jobs_is_429_with_retry_after(app_client: Any) -> None:
    store, a, _ = app_client
    store.set_quota("alice", max_concurrent_jobs=0)
    a.retries = 0
    with pytest.raises(ClientError) as e:
        a.submit(BELL3, "ideal", shots=10)
    assert e.value.status == 429 and e.value.retry_after is not None and "concurrent jobs" in str(e.value)


def test_auth_required(app_client: Any) -> None:
    _, a, _ = app_client
    bad = Client("http://testserver", "qv_wrong", http=a._http)
    with pytest.raises(ClientError) as e:
        bad.devices()
    assert e.value.status == 401


def test_cancel_running_job(app_client: Any) -> None:
    store, a, _ = app_client
    for w in a._http.app.state.workers:  # hold the job ourselves to cancel it while RUNNING
        w.stop()
    job = a.submit(BELL3, "ideal", shots=10)
    import time

    time.sleep(0.3)
    claim = None
    while claim is None or claim.id != job["id"]:
        claim = store.claim("test-worker")
    assert a.job(job["id"])["status"] == "RUNNING"
    assert a.cancel(job["id"])["status"] == "CANCELLING"
    assert store.heartbeat(claim, "test-worker", "executing") == "CANCELLING"
    store.finish(claim, "test-worker", status="COMPLETED", result={})
    view = a.wait(job["id"], timeout=5)
    assert view["status"] == "CANCELLED"
    with pytest.raises(ClientError) as e:
        a.result(job["id"], timeout=1)
    assert "CANCELLED" in str(e.value)


def test_result_timeout_never_hangs(app_client: Any) -> None:
    import time

    _, a, _ = app_client
    for w in a._http.app.state.workers:
        w.stop()
    time.sleep(0.2)
    job = a.submit(BELL3, "ideal", shots=10)
    t0 = time.monotonic()
    with pytest.raises(ClientError, match="not finished"):
        a.result(job["id"], timeout=0.6)
    assert time.monotonic() - t0 < 3


def test_result_long_poll_and_failed_jobs(app_client: Any) -> None:
    _, a, _ = app_client
    job = a.submit(BELL3, "ideal", shots=10)
    r = a.request("GET", f"/v1/jobs/{job['id']}/result", params={"wait": 30})  # one request
    assert r["status"] == "COMPLETED" and sum(r["results"][0]["counts"].values()) == 10
    # mid-circuit measurement: the tensor-network method refuses it when the job runs
    mid = ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nh q[0];\n'
           'c[0] = measure q[0];\ncx q[0], q[1];\nc[1] = measure q[1];\n')
    bad = a.submit(mid, "ideal", shots=10, options={"method": "tensornet", "noise": False})
    with pytest.raises(ClientError) as e:
        a.request("GET", f"/v1/jobs/{bad['id']}/result", params={"wait": 30})
    assert e.value.status == 409 and "FAILED" in str(e.value) and "measurements at the end" in str(e.value)
    with pytest.raises(ClientError) as e:
        a.result(bad["id"], timeout=30)
    assert e.value.status == 409 and "measurements at the end" in str(e.value)


def test_devices_calibrations_tokens_me(app_client: Any) -> None:
    _, a, _ = app_client
    names = [d["name"] for d in a.devices()]
    assert "zuchongzhi-2.1" in names
    d = a.device("sycamore-53")
    assert d["num_qubits"] == 53 and d["calibration"]["id"] == d["calibration_id"]
    cals = a.calibrations("sycamore-53", before="2024-01-10T00:00:00Z")
    assert len(cals) == 7 and cals[0]["timestamp"] > cals[-1]["timestamp"]
    assert a.me()["name"] == "alice"
    t = a.create_token("second")
    assert t["token"].startswith("qv_")
    with pytest.raises(ClientError) as e:
        a.create_token("x", user="bob")
    assert e.value.status == 403


def test_sse_events_stream_to_terminal(app_client: Any) -> None:
    _, a, _ = app_client
    job = a.submit(BELL3, "ideal", shots=10)
    a.wait(job["id"], timeout=20)
    with a._http.stream("GET", f"/v1/jobs/{job['id']}/events", headers=a._headers) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    assert "QUEUED" in text and "RUNNING" in text and text.rstrip().endswith("}")
    assert '"status": "COMPLETED"' in text


@pytest.mark.parametrize("token_id", ["793452604564587282432", "0", "-1", "abc"])
def test_revoke_out_of_range_token_id_is_422(app_client: Any, token_id: str) -> None:
    _, a, _ = app_client
    with pytest.raises(ClientError) as e:
        a.request("DELETE", f"/v1/tokens/{token_id}")
    assert e.value.status == 422


def test_rate_limit_429_carries_whole_and_exact_waits(store: Any) -> None:
    from fastapi.testclient import TestClient

    token, _ = store.create_token("carol")
    app = create_app(store, workers=0, limits=Limits(requests_per_second=4.0, burst=2))
    with TestClient(app) as tc:
        h = {"Authorization": f"Bearer {token}"}
        codes = [tc.get("/v1/users/me", headers=h) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    r = codes[-1]
    ms = int(r.headers["Retry-After-Ms"])
    assert 1 <= ms <= 250  # one token at 4 per second
    assert int(r.headers["Retry-After"]) == 1  # whole seconds, rounded up
    body = r.json()["error"]
    assert body["code"] == "quota_exceeded" and "4 requests per second" in body["message"]


@pytest.mark.parametrize("headers,expect", [
    ({"Retry-After-Ms": "12", "Retry-After": "1"}, 0.012),
    ({"Retry-After": "3"}, 3.0),
    ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.5),  # a date: fall back to the backoff
    ({"Retry-After-Ms": "soon", "Retry-After": "2"}, 2.0),
    ({"Retry-After": "-4"}, 0.5),
    ({"Retry-After": "nan"}, 0.5),
    ({}, 0.5),
])
def test_client_reads_retry_after(headers: dict[str, str], expect: float) -> None:
    from qvalley.cloud.client import _retry_after

    assert _retry_after(headers, 0.5) == pytest.approx(expect)


def test_client_waits_out_429s_within_its_budget() -> None:
    import httpx

    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= 10:
            return httpx.Response(429, headers={"Retry-After": "1", "Retry-After-Ms": "2"},
                                  json={"error": {"code": "quota_exceeded", "message": "rate limit"}})
        return httpx.Response(200, json={"ok": True})

    http = httpx.Client(base_url="http://x", transport=httpx.MockTransport(handler))
    c = Client("http://x", "t", http=http, retries=3)  # 429 waits do not use up the 3 retries
    assert c.request("GET", "/v1/users/me") == {"ok": True} and calls["n"] == 11
    calls["n"] = 0
    tight = Client("http://x", "t", http=http, retries=3, max_rate_wait=0.01)
    with pytest.raises(ClientError) as e:
        tight.request("GET", "/v1/users/me")
    assert e.value.status == 429 and 4 <= calls["n"] <= 6  # 2-3 ms waits until 10 ms are spent
    calls["n"] = 0
    with pytest.raises(ClientError):
        Client("http://x", "t", http=http, retries=0).request("GET", "/v1/users/me")
    assert calls["n"] == 1
