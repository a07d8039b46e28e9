"""Per-user rate limits: a token bucket of ``rate`` requests per second with a ``burst``.

:class:`MemoryRateLimiter` keeps the buckets in the API process (one host).
:class:`RedisRateLimiter` keeps them in Redis, so every API process that shares the Redis server
(``qvalley serve --rate-limit-redis redis://host:6379/0`` on each host) shares one budget per
user: a Lua script reads, refills and takes from the bucket atomically on the server's clock.
If Redis stops answering, requests are let through (a warning, at most once a minute, on
stderr): the limit protects the service, and an outage of the limiter should not become one of
the service.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from typing import Any

from .errors import CloudError


class MemoryRateLimiter:
    """Token buckets in this process."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._b: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take_now(self, key: int) -> float:
        """0 when allowed, else the seconds to wait for the next token."""
        now = time.monotonic()
        with self._lock:
            tokens, t = self._b.get(key, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - t) * self.rate)
            if tokens >= 1:
                self._b[key] = (tokens - 1, now)
                return 0.0
            self._b[key] = (tokens, now)
            return (1 - tokens) / self.rate

    async def take(self, key: int) -> float:
        return self.take_now(key)

    async def close(self) -> None:
        pass


# KEYS[1] bucket; ARGV rate, burst. Returns the wait in seconds as a string (a Lua number
# returned as such would be truncated to an integer).
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(v[1]) or burst
local at = tonumber(v[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisRateLimiter:
    """Token buckets in Redis, shared by every API process that uses the same ``url`` and
    ``prefix``."""

    WARN_EVERY = 60.0

    def __init__(self, url: str, rate: float, burst: int, prefix: str = "qvalley:ratelimit:") -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise CloudError("--rate-limit-redis needs the redis package: "
                             "pip install 'qvalley[redis]'") from None
        self._aioredis = aioredis
        self.url, self.rate, self.burst, self.prefix = url, rate, burst, prefix
        self._redis: Any = None
        self._script: Any = None
        self._loop: Any = None
        self._warned = -1e18

    def _connect(self) -> Any:
        # an asyncio Redis client belongs to one event loop: made on first use in the app's loop
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._redis = self._aioredis.from_url(self.url, socket_timeout=0.5,
                                                  socket_connect_timeout=0.5)
            self._script = self._redis.register_script(_TAKE)
            self._loop = loop
        return self._script

    async def take(self, key: int) -> float:
        try:
            script = self._connect()
            return float(await script(keys=[f"{self.prefix}{key}"], args=[self.rate, self.burst]))
        except Exception as exc:  # Redis down or slow: let the request through, say so
            now = time.monotonic()
            if now - self._warned > self.WARN_EVERY:
                self._warned = now
                print(f"qvalley: warning: rate limiter at {self.url} unavailable, requests are not "
                      f"limited: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            return 0.0

    async def close(self) -> None:
        if self._redis is not None and self._loop is asyncio.get_running_loop():
            await self._redis.aclose()
        self._redis = self._script = self._loop = None


def check_redis(url: str, timeout: float = 2.0) -> None:
    """Raise a clear :class:`CloudError` when the Redis server at ``url`` does not answer."""
    try:
        import redis
    except ImportError:
        raise CloudError("--rate-limit-redis needs the redis package: pip install 'qvalley[redis]'") from None
    try:
        r = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        r.ping()
        r.close()
    except (redis.RedisError, ValueError, OSError) as exc:
        raise CloudError(f"--rate-limit-redis: cannot reach Redis at {url}: {exc}") from None


__all__ = ["MemoryRateLimiter", "RedisRateLimiter", "check_redis"]
