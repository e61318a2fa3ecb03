"""The Redis client the rate limiter counts in: one server (``redis_url``), a Sentinel-managed
primary (``sentinels`` + ``sentinel_service``) or a Redis Cluster (``cluster = true``).

redis-py's own clients do the failover work: the Sentinel pool asks the sentinels for the current
primary whenever it opens a connection and drops connections to a demoted one; the Cluster client
follows MOVED/ASK redirections and reloads its slot map when a node stops answering. The limiter's
script touches one key, so it runs unchanged on a Cluster (no hash tag needed).
"""

from __future__ import annotations

from typing import Any

from ..pipeline.ratelimit import RateLimitSettings

# Connections per process: requests queue for one (up to redis_timeout) beyond this.
MAX_CONNECTIONS = 64


class RedisStore:
    """A connected client (``client``) and how to close everything it opened."""

    def __init__(self, settings: RateLimitSettings) -> None:
        # imported here: the in-memory path needs no Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError

        timeout = settings.redis_timeout
        # After a Redis restart every pooled socket is dead: one retry, at once, on a fresh
        # connection (redis-py disconnects the failed one first) turns that into no error at
        # all. Only connection errors are retried: a timeout retried would double the wait.
        retry = Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
        }
        self._sentinel: Any = None
        self.kind = "redis"
        if settings.sentinels:
            from redis.asyncio.sentinel import Sentinel

            self.kind = "sentinel"
            self._sentinel = Sentinel(
                [_host_port(entry) for entry in settings.sentinels],
                sentinel_kwargs=dict(options),
                **_url_credentials(settings.redis_url),
            )
            self.client: Any = self._sentinel.master_for(
                settings.sentinel_service, retry=retry, max_connections=MAX_CONNECTIONS, **options
            )
        elif settings.cluster:
            from redis.asyncio.cluster import RedisCluster

            self.kind = "cluster"
            # A node that stops answering makes the client reload the slot map from the others
            # (a replica promoted in its place is found there).
            self.client = RedisCluster.from_url(
                settings.redis_url,
                max_connections=MAX_CONNECTIONS,
                retry=Retry(NoBackoff(), 1),
                **options,
            )
        else:
            import redis.asyncio as redis_asyncio

            # A blocking pool queues requests for a connection (up to ``timeout``) instead of
            # failing them when more requests are in flight than the pool has connections.
            pool = redis_asyncio.BlockingConnectionPool.from_url(
                settings.redis_url,
                max_connections=MAX_CONNECTIONS,
                timeout=timeout,
                retry=retry,
                **options,
            )
            self.client = redis_asyncio.Redis(connection_pool=pool)

    async def close(self) -> None:
        await self.client.aclose()
        if self.kind == "redis":
            await self.client.connection_pool.disconnect()
        if self._sentinel is not None:
            for sentinel in self._sentinel.sentinels:
                await sentinel.aclose()


def _host_port(entry: str) -> tuple[str, int]:
    """``"host:port"`` (checked at start-up by ``RateLimitSettings``) as a tuple."""
    host, _, port = entry.strip().rpartition(":")
    return host.strip("[]"), int(port)


def _url_credentials(url: str) -> dict[str, Any]:
    """The database, username and password of ``redis_url``, for the Sentinel-managed primary
    (the sentinels give its address; the URL may still carry how to log in)."""
    if not url:
        return {}
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    found: dict[str, Any] = {}
    if parts.username:
        found["username"] = unquote(parts.username)
    if parts.password:
        found["password"] = unquote(parts.password)
    if parts.path.strip("/").isdigit():
        found["db"] = int(parts.path.strip("/"))
    return found
