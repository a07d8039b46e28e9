"""Per-user rate limits: in memory per API process, or shared between API processes through Redis
(the real server on 127.0.0.1:6379; skipped when it is not there)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
import warnings
from typing import Any

import pytest

from qvalley.cloud.api import create_app
from qvalley.cloud.errors import CloudError
from qvalley.cloud.ratelimit import MemoryRateLimiter, RedisRateLimiter, check_redis
from qvalley.cloud.service import Limits

warnings.filterwarnings("ignore", category=DeprecationWarning)
REDIS = "redis://127.0.0.1:6379/0"


def _redis() -> str:
    pytest.importorskip("redis")
    try:
        check_redis(REDIS, timeout=0.5)
    except CloudError as exc:
        pytest.skip(str(exc))
    return REDIS


def _codes(apps: list[Any], token: str, n: int) -> list[int]:
    """``n`` requests of one user, round robin over ``apps`` (one TestClient each)."""
    h = {"Authorization": f"Bearer {token}"}
    return [apps[i % len(apps)].get("/v1/users/me", headers=h).status_code for i in range(n)]


@pytest.mark.parametrize("shared", [False, True])
def test_two_api_processes_share_the_budget_only_through_redis(store: Any, shared: bool) -> None:
    from fastapi.testclient import TestClient

    url = _redis() if shared else None
    prefix = f"qv-test-{uuid.uuid4().hex[:8]}:"
    token, _ = store.create_token("dave")
    lim = Limits(requests_per_second=0.5, burst=3)  # no refill worth counting within the test
    a = create_app(store, limits=lim, rate_limit_redis=url, rate_limit_prefix=prefix)
    b = create_app(store, limits=lim, rate_limit_redis=url, rate_limit_prefix=prefix)
    with TestClient(a) as ta, TestClient(b) as tb:
        codes = _codes([ta, tb], token, 6)
        if shared:  # one bucket of 3 for both hosts
            assert codes == [200, 200, 200, 429, 429, 429]
            r = ta.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 429 and 1000 <= int(r.headers["Retry-After-Ms"]) <= 2000
        else:  # a bucket of 3 on each host
            assert codes == [200] * 6
            assert _codes([ta], token, 2)[-1] == 429


def test_memory_limiter_refills_at_the_rate() -> None:
    lim = MemoryRateLimiter(rate=1000.0, burst=2)
    assert [lim.take_now(1) for _ in range(2)] == [0.0, 0.0]
    wait = lim.take_now(1)
    assert 0 < wait <= 1e-3
    assert lim.take_now(2) == 0.0  # users have their own buckets


def test_redis_down_lets_requests_through_and_warns(capsys: Any) -> None:
    pytest.importorskip("redis")
    lim = RedisRateLimiter("redis://127.0.0.1:1/0", rate=1.0, burst=1)

    async def go() -> list[float]:
        try:
            return [await lim.take(1) for _ in range(3)]
        finally:
            await lim.close()

    assert asyncio.run(go()) == [0.0, 0.0, 0.0]
    err = capsys.readouterr().err
    assert err.count("rate limiter at redis://127.0.0.1:1/0 unavailable") == 1  # once, not per request


def test_serve_with_unreachable_redis_is_exit_2(tmp_path: Any) -> None:
    pytest.importorskip("redis")
    p = subprocess.run([sys.executable, "-m", "qvalley.cli.main", "serve", "--data-dir", str(tmp_path),
                        "--rate-limit-redis", "redis://127.0.0.1:1/0"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "cannot reach Redis at redis://127.0.0.1:1/0" in p.stderr
    assert "Traceback" not in p.stderr and not (tmp_path / "cloud.db").exists()
