"""The Redis client the rate limiter counts in: one server (``redis_url``), a Sentinel-managed
primary (``sentinels`` + ``sentinel_service``) or a Redis Cluster (``cluster = true``).

redis-py's own clients do the failover work: the Sentinel pool asks the sentinels for the current
primary whenever it opens a connection and drops connections to a demoted one; the Cluster client
follows MOVED/ASK redirections and reloads its slot map when a node stops answering. The limiter's
script is called with the keys of one slot only (one key on a Cluster), so it runs unchanged
there (no hash tag needed).

``script`` sends a Lua script's calls the way ioredis does by default: every call made during
one turn of the event loop goes out in one pipeline, one write and one read on one connection
for all of them, instead of a connection, a write and a read each (what made a Redis-backed
limit cost more CPU than the rest of the request).
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..pipeline.ratelimit import RateLimitSettings

try:
    # The C packer redis-py itself uses, called once per command instead of through redis-py's
    # per-argument encoder (a tenth of the limiter's CPU). The arguments are str and int only.
    from hiredis import pack_command as _pack
except ImportError:  # redis-py without its [hiredis] extra
    _pack = None  # type: ignore[assignment]

if sys.version_info >= (3, 11):
    from asyncio import timeout as _timeout
else:  # redis-py depends on async-timeout there
    from async_timeout import timeout as _timeout

# Connections per process: requests queue for one (up to redis_timeout) beyond this.
MAX_CONNECTIONS = 64


class RedisStore:
    """A connected client (``client``) and how to close everything it opened."""

    def __init__(self, settings: RateLimitSettings) -> None:
        # imported here: the in-memory path needs no Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError

        timeout = self._timeout = settings.redis_timeout
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

    def script(self, text: str) -> Callable[[Sequence[str], Sequence[object]], Awaitable[Any]]:
        """Call ``text`` with ``(keys, args)``: batched (``ScriptCalls``), except on a Cluster,
        whose client sends each call to the node of its keys' slot."""
        if self.kind == "cluster":
            return ClusterScript(self.client, text)
        return ScriptCalls(self.client, text, self._timeout)

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


class ClusterScript:
    """A Lua script's calls on a Cluster, each sent by redis-py's client to its key's node.

    The client loads the slot map before the first call, once, rather than in the first calls
    made at once: under Python 3.10 (async-timeout) redis-py's load, run by several calls
    together, closes connections other calls are writing on (17 of 20 fresh clients failed a
    batch of 16 concurrent calls, some with an AttributeError from inside redis-py that would
    have been a 500). A reload after a failover can still race the same way there, so such an
    error is reported as the connection error it is, and the limiter decides as for any other
    (``on_store_failure``)."""

    __slots__ = ("_client", "_loaded", "_lock", "_script")

    def __init__(self, client: Any, text: str) -> None:
        self._client = client
        self._script = client.register_script(text)
        self._lock = asyncio.Lock()
        self._loaded = False

    async def __call__(self, keys: Sequence[str], args: Sequence[object]) -> Any:
        if not self._loaded:
            async with self._lock:
                if not self._loaded:
                    await self._client.initialize()
                    self._loaded = True
        try:
            return await self._script(keys=keys, args=args)
        except AttributeError as error:  # a connection closed under the call (see above)
            from redis.exceptions import ConnectionError as RedisConnectionError

            raise RedisConnectionError(f"connection closed during the call ({error})") from None


class ScriptCalls:
    """A Lua script's calls, sent in batches: the calls made during one turn of the event loop
    go out together in one pipeline (not a transaction: each call is atomic on its own, as a
    script is). Batches in flight at once each hold one connection of the pool. Each call gets
    its own answer or error: a batch the connection failed fails every call in it (each caller
    then decides as it would for its own call), and a script Redis forgot (restarted, failed
    over) is loaded again and only the calls it refused are sent again, so no call is counted
    twice."""

    __slots__ = ("_client", "_errors", "_queued", "_script", "_sending", "_timeout")

    def __init__(self, client: Any, text: str, timeout: float) -> None:
        import redis.exceptions  # here, not per batch or per answer: redis is loaded by now

        self._errors = redis.exceptions
        self._client = client
        self._timeout = timeout
        self._script = client.register_script(text)  # the SHA, and how to load it again
        self._queued: list[tuple[tuple[object, ...], asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()  # referenced until done

    def __call__(self, keys: Sequence[str], args: Sequence[object]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._send_queued)
        self._queued.append(((len(keys), *keys, *args), answer))
        return answer

    def _send_queued(self) -> None:
        batch, self._queued = self._queued, []
        task = asyncio.ensure_future(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[tuple[object, ...], asyncio.Future[Any]]]) -> None:
        no_script = self._errors.NoScriptError
        try:
            answers = await self._pipeline(batch)
            forgotten = [i for i, a in enumerate(answers) if isinstance(a, no_script)]
            if forgotten:
                self._script.sha = await self._client.script_load(self._script.script)
                again = await self._pipeline([batch[i] for i in forgotten])
                for i, answer in zip(forgotten, again, strict=True):
                    answers[i] = answer
        except BaseException as error:
            for _, future in batch:
                if future.done():
                    continue
                if isinstance(error, Exception):
                    future.set_exception(error)
                else:
                    future.cancel()  # this task was cancelled (the worker is stopping)
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():
                continue  # its caller gave up (cancelled)
            if isinstance(answer, Exception):
                future.set_exception(answer)
            else:
                future.set_result(answer)

    async def _pipeline(
        self, batch: list[tuple[tuple[object, ...], asyncio.Future[Any]]]
    ) -> list[Any]:
        """Send ``batch`` on one pooled connection and read its answers under one timeout (a
        timeout per answer, as redis-py's pipeline sets, was a seventh of the limiter's CPU).
        A connection that fails before its first answer is retried once on a fresh one, as the
        client's other commands are (after a Redis restart every pooled socket is dead); once
        an answer came, the batch ran, and it is not sent twice."""
        errors = self._errors
        pool = self._client.connection_pool
        commands = [("EVALSHA", self._script.sha, *call) for call, _ in batch]
        for retry in (True, False):
            connection = await pool.get_connection()
            answers: list[Any] = []
            try:
                packed = (
                    b"".join([_pack(command) for command in commands])
                    if _pack is not None
                    else connection.pack_commands(commands)
                )
                await connection.send_packed_command(packed, check_health=False)
                async with _timeout(self._timeout):
                    for _ in commands:
                        answers.append(await self._answer(connection))
                return answers
            except errors.ConnectionError:
                await connection.disconnect()
                if not retry or answers:
                    raise
            except asyncio.TimeoutError:
                await connection.disconnect()  # answers left on the socket: never reused
                raise errors.TimeoutError(
                    f"Redis did not answer within {self._timeout} s (rate_limit.redis_timeout)"
                ) from None
            except BaseException:
                await connection.disconnect()  # the same
                raise
            finally:
                await pool.release(connection)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _answer(self, connection: Any) -> Any:
        """One answer, or the error Redis answered with (NOSCRIPT, a script error) as a value."""
        try:
            return await connection.read_response(timeout=math.inf)  # the batch has one timeout
        except self._errors.ResponseError as error:
            return error
