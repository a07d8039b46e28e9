"""The durable queue on SQLite and PostgreSQL: atomic claims, leases, guarded completion."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import sqlalchemy as sa

from qvalley.cloud.store import CANCELLED, COMPLETED, RUNNING, Store, jobs_t


def _job(store: Any, user: dict[str, Any], **kw: Any) -> dict[str, Any]:
    row, _ = store.insert_job(user, device="ideal", shots=10, spec={"programs": [], "options": {}},
                              tags=kw.get("tags", []), body_hash="h", idempotency_key=kw.get("key"),
                              num_circuits=1, max_shots_per_day=10**9, max_concurrent=10**6)
    return row


def test_tokens_are_stored_hashed(store: Any) -> None:
    secret, row = store.create_token("alice")
    assert secret.startswith("qv_") and len(secret) > 40
    with store.engine.connect() as c:
        hashes = [r[0] for r in c.exec_driver_sql("SELECT hash FROM tokens")]
    assert secret not in hashes and len(hashes[0]) == 64
    assert store.authenticate(secret)["name"] == "alice"
    assert store.authenticate(secret + "x") is None
    store.revoke_token(row["user_id"], row["id"])
    assert store.authenticate(secret) is None


def test_claim_lease_expiry_and_guarded_completion(store: Any) -> None:
    u = store.ensure_user("alice")
    j = _job(store, u)
    a = store.claim("w1")
    assert a is not None and a.id == j["id"] and a.attempt == 1
    assert store.claim("w2") is None  # leased
    time.sleep(1.2)  # w1 died: lease expires
    b = store.claim("w2")
    assert b is not None and b.id == j["id"] and b.attempt == 2
    assert store.heartbeat(a, "w1") is None  # w1 lost its lease
    assert not store.finish(a, "w1", status=COMPLETED, result={"from": "w1"})
    assert store.finish(b, "w2", status=COMPLETED, result={"from": "w2"})
    assert not store.finish(b, "w2", status=COMPLETED, result={"again": 1})
    row = store.get_job(j["id"])
    assert row["status"] == COMPLETED and row["completions"] == 1 and '"w2"' in row["result"]


def test_cancel_while_running_ends_cancelled(store: Any) -> None:
    u = store.ensure_user("alice")
    j = _job(store, u)
    cl = store.claim("w1")
    assert store.request_cancel(j["id"], u["id"])["status"] == "CANCELLING"
    assert store.heartbeat(cl, "w1", "executing") == "CANCELLING"
    assert store.finish(cl, "w1", status=COMPLETED, result={})
    assert store.get_job(j["id"])["status"] == CANCELLED


def test_restart_keeps_queued_jobs(store: Any) -> None:
    u = store.ensure_user("alice")
    ids = {_job(store, u)["id"] for _ in range(5)}
    url = store.url
    store.close()
    again = Store.open(database=url)
    assert {r["id"] for r in again.list_jobs(None, status="QUEUED")} == ids
    again.close()


CLAIMER = """
import json, sys
from qvalley.cloud.store import COMPLETED, Store
s = Store(sys.argv[1], lease_seconds=60)
got = []
while True:
    c = s.claim(sys.argv[2])
    if c is None:
        break
    got.append(c.id)
    s.finish(c, sys.argv[2], status=COMPLETED, result={})
print(json.dumps(got))
"""


def test_many_process_claim_race_never_double_claims(store: Any) -> None:
    u = store.ensure_user("alice")
    ids = {_job(store, u)["id"] for _ in range(60)}
    procs = [subprocess.Popen([sys.executable, "-c", CLAIMER, store.url, f"p{i}"], stdout=subprocess.PIPE,
                              text=True) for i in range(4)]
    got = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    claimed = [j for g in got for j in g]
    assert len(claimed) == len(set(claimed)) == 60 and set(claimed) == ids
    with store.engine.connect() as c:
        rows = c.execute(sa.select(jobs_t.c.attempt, jobs_t.c.completions, jobs_t.c.status)).all()
    assert all(r.attempt == 1 and r.completions == 1 and r.status == COMPLETED for r in rows)
    assert RUNNING not in {r.status for r in rows}
