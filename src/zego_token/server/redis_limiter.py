"""The Redis rate limiter: fixed windows shared by every worker and instance of the server.

The count is one Lua script (INCR, PEXPIRE on the first hit, PTTL) so concurrent workers and
instances never race. A pooled connection found dead (Redis restarted) is retried once on a
fresh connection, so a restart costs no request; if Redis cannot be reached the limiter fails
closed: requests get 503 ``rate_limit_unavailable`` rather than bypassing the limit, and the log
says so once a second per cause, with the count of lines held back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..pipeline.contracts import RateDecision, RateLimiter
from ..pipeline.errors import HttpError
from ..pipeline.ratelimit import MemoryRateLimiter, RateLimitSettings, Throttle, rate_decision

log = logging.getLogger("zego_token.server.ratelimit")


# KEYS[1]: the counter; ARGV[1]: window in ms. Returns {count, ms until the window closes}.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  -- a counter without expiry (left by a crash between commands elsewhere) would block forever
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RedisRateLimiter:
    """Fixed windows kept in Redis, shared by every worker and instance using the same prefix."""

    def __init__(self, url: str, *, key_prefix: str, timeout: float) -> None:
        # imported here: the in-memory path needs no Redis
        import redis.asyncio as redis_asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError

        # A blocking pool queues requests for a connection (up to ``timeout``) instead of
        # failing them when more requests are in flight than the pool has connections.
        # After a Redis restart every pooled socket is dead: one retry, at once, on a fresh
        # connection (redis-py disconnects the failed one first) turns that into no error at
        # all. Only connection errors are retried: a timeout retried would double the wait.
        pool = redis_asyncio.BlockingConnectionPool.from_url(
            url,
            max_connections=64,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self._redis: Any = redis_asyncio.Redis(connection_pool=pool)
        self._script = self._redis.register_script(_HIT_SCRIPT)
        self._prefix = key_prefix
        self._throttle = Throttle()

    async def hit(self, key: str, limit: int, window: int) -> RateDecision:
        import redis.exceptions

        try:
            count, ttl_ms = await self._script(keys=[self._prefix + key], args=[window * 1000])
        except (redis.exceptions.RedisError, OSError) as error:
            # Fail closed: an outage must not switch rate limiting off.
            cause = type(error).__name__
            suppressed = self._throttle.allow(cause)
            if suppressed is not None:
                log.error(
                    "rate limit store unreachable: %s",
                    cause,
                    extra={"cause": cause, "suppressed": suppressed},
                )
            raise HttpError(
                503,
                "rate_limit_unavailable",
                "the rate-limit store is unreachable; try again shortly",
                headers={"Retry-After": "1"},
            ) from None
        return rate_decision(int(count), limit, float(ttl_ms))

    async def ready(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self._redis.aclose()
        await self._redis.connection_pool.disconnect()


def build_rate_limiter(
    settings: RateLimitSettings, *, on_full: Callable[[], None] | None = None
) -> RateLimiter:
    """The limiter for ``settings``; ``on_full`` is called for each request the in-memory
    limiter refuses at its ``max_keys`` cap (a metric)."""
    if settings.redis_url:
        return RedisRateLimiter(
            settings.redis_url, key_prefix=settings.key_prefix, timeout=settings.redis_timeout
        )
    return MemoryRateLimiter(max_keys=settings.max_keys, on_full=on_full)
