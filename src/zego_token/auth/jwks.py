"""The JWKS key cache of the ``jwt`` mode: keys answered from memory, refreshed by one background
thread under an overall deadline, so a slow, trickling or dead identity provider never holds a
request whose key this process already knows, and a provider that comes back is used within
seconds.

The states, and what a request for key ``kid`` gets in each:

- ``kid`` cached: the cached key, at once. Keys older than ``lifespan`` are refreshed in the
  background (one refresh at a time); a failed refresh keeps them.
- ``kid`` unknown, JWKS reachable: a refetch at once, shared by every request waiting for one,
  if the last successful fetch started more than ``refresh_interval`` (the floor, 1 s by
  default) ago; else the request waits for the floor to pass, then refetches. So a rotated key
  works on its first presentation, made-up kids cost the provider at most one fetch per floor,
  and they delay a real new key by at most the floor. Only a fetch that started after the
  request arrived can say "no such key" (the caller's 401).
- ``kid`` unknown, JWKS unreachable (the last attempt failed, or it outlived its deadline):
  ``JwksUnavailable`` with the seconds until the next attempt (the caller's 503 + Retry-After),
  never "no such key": a client told 401 signs its user out. After a failure the next attempt
  waits a backoff of 0.5 s doubling to 4 s, or the provider's ``Retry-After`` when longer (at
  most ``MAX_RETRY_AFTER``), whatever triggers it (a request or ``/readyz``).
- A JWKS that lists one kid twice with different keys is refused like an unreachable one (which
  key signs is ambiguous), logged, and the last good keys are kept.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import email.utils
import http.client
import json
import logging
import math
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger("zego_token.server.auth_jwt")

# A JWKS is a few KB; a body larger than this is not one and is not read to the end.
MAX_JWKS_BYTES = 1 << 20
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 4.0
# The longest Retry-After of the provider's that is honoured: longer, and keys it rotates in
# meanwhile would be refused (503) for that long.
MAX_RETRY_AFTER = 120.0
# The longest a request for an unknown kid waits for the floor to pass before its refetch; with
# a longer refresh_interval the rest is a 503 with Retry-After, never a 401.
MAX_FLOOR_WAIT = 2.0


class JwksUnavailable(Exception):
    """The JWKS cannot be fetched now and the key asked for is not cached."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"JWKS unavailable; retry in {retry_after} s")
        self.retry_after = retry_after


class DuplicateKid(ValueError):
    """The JWKS lists one kid with two different keys."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"the JWKS lists the kid {kid[:64]!r} twice with different keys")
        self.kid = kid


class JwksCache:
    """Signing keys (JWK dicts by kid) of one JWKS URL. Safe to share between event loops: the
    state is guarded by a thread lock and the fetch runs in its own thread."""

    def __init__(
        self, url: str, *, lifespan: float, refresh_interval: float, timeout: float
    ) -> None:
        self._url = url
        self._lifespan = lifespan
        self._floor = refresh_interval
        self._timeout = timeout
        self._lock = threading.Lock()
        self._keys: dict[str, dict[str, Any]] = {}
        self.generation = 0  # bumped on every successful fetch (callers key parsed keys on it)
        self._fetched_at = -math.inf  # start of the last successful fetch
        self._failures = 0  # consecutive failed attempts
        self._failing_since: float | None = None
        self._retry_at = -math.inf
        self._refreshing: concurrent.futures.Future[None] | None = None

    async def lookup(self, kid: str) -> dict[str, Any] | None:
        """The JWK with this ``kid``; None when a JWKS fetched after the call began has no such
        key; ``JwksUnavailable`` when no such fetch could be made."""
        arrived = time.monotonic()
        data = self._keys.get(kid)
        if data is not None:
            if arrived - self._fetched_at >= self._lifespan:  # unlocked peek: the hot path
                self._start_background_refresh(arrived)
            return data
        # Each turn waits for a fetch or for the floor; the first fetch that started after
        # this call arrived ends the loop, a failure ends it, and so does this deadline.
        deadline = arrived + MAX_FLOOR_WAIT + self._timeout + 1.0
        while True:
            refresh, wait = self._refetch_for_unknown_kid(arrived)
            if refresh is not None:
                await self._wait(refresh)
            elif wait > 0:
                await asyncio.sleep(wait)
            else:
                break
            data = self._keys.get(kid)
            if data is not None:
                return data
            if time.monotonic() >= deadline:
                break
        data = self._keys.get(kid)
        if data is not None:
            return data
        if self._failures or self._fetched_at < arrived:
            raise JwksUnavailable(self._retry_after())
        return None

    def _refetch_for_unknown_kid(
        self, arrived: float
    ) -> tuple[concurrent.futures.Future[None] | None, float]:
        """What a request that arrived at ``arrived`` for an unknown kid waits for next: a
        fetch (in flight or started now), or seconds until the floor passes; (None, 0) when a
        fetch since its arrival has answered, or the JWKS cannot be fetched now."""
        with self._lock:
            if self._fetched_at >= arrived:
                return None, 0.0  # fetched since the request came: the answer stands
            if self._refreshing is not None:
                return self._refreshing, 0.0
            now = time.monotonic()
            if self._failures:
                if now < self._retry_at:
                    return None, 0.0  # unreachable: the caller's 503 with Retry-After
            else:
                floor_left = self._fetched_at + self._floor - now
                if floor_left > 0:
                    if floor_left > MAX_FLOOR_WAIT:
                        return None, 0.0  # the caller's 503 with Retry-After: the floor's end
                    return None, floor_left
            return self._start_locked(now), 0.0

    async def ready(self) -> bool:
        """False until a first fetch succeeded, and once the JWKS has been failing for longer
        than ``lifespan``; stale keys within that time keep the server ready."""
        now = time.monotonic()
        if self._keys:
            self._start_background_refresh(now)  # keeps keys fresh without traffic
            failing_since = self._failing_since
            return failing_since is None or now - failing_since <= self._lifespan
        refresh, _ = self._refetch_for_unknown_kid(now)
        if refresh is not None:
            await self._wait(refresh)
        return bool(self._keys)

    def _retry_after(self) -> int:
        # Failing: the next attempt's time; reachable: the end of the floor.
        until = self._retry_at if self._failures else self._fetched_at + self._floor
        remaining = until - time.monotonic()
        return max(1, math.ceil(remaining)) if remaining > 0 else 1

    def _start_background_refresh(self, now: float) -> None:
        """A refresh of keys older than ``lifespan``, unless one is running or backing off."""
        with self._lock:
            if self._refreshing is not None:
                return
            if self._failures:
                if now < self._retry_at:
                    return
            elif now - self._fetched_at < self._lifespan:
                return
            self._start_locked(now)

    def _start_locked(self, now: float) -> concurrent.futures.Future[None]:
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._refreshing = future
        threading.Thread(
            target=self._refresh, args=(future, now), name="jwks-refresh", daemon=True
        ).start()
        return future

    def _refresh(self, future: concurrent.futures.Future[None], started: float) -> None:
        try:
            keys = signing_keys(fetch_json(self._url, self._timeout))
        except Exception as error:  # any failure means an unusable JWKS
            with self._lock:
                self._failures += 1
                if self._failing_since is None:
                    self._failing_since = started
                backoff = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self._failures - 1))
                asked = retry_after_seconds(error)
                if asked is not None:
                    backoff = max(backoff, min(asked, MAX_RETRY_AFTER))
                self._retry_at = time.monotonic() + backoff
                self._refreshing = None
                cached = len(self._keys)
            if isinstance(error, DuplicateKid):
                log.error(
                    "JWKS refused: %s; keeping the %d keys of the last good JWKS; next attempt "
                    "in %.1f s",
                    error,
                    cached,
                    backoff,
                    extra={"error": "DuplicateKid"},
                )
            else:
                log.warning(
                    "JWKS fetch failed (%s); keeping %d cached keys; next attempt in %.1f s",
                    type(error).__name__,
                    cached,
                    backoff,
                    extra={"error": type(error).__name__},
                )
        else:
            with self._lock:
                added = sorted(keys.keys() - self._keys.keys()) if self._keys else []
                self._keys = keys
                self.generation += 1
                self._fetched_at = started
                self._failures = 0
                self._failing_since = None
                self._retry_at = -math.inf
                self._refreshing = None
            if added:
                log.info(
                    "JWKS refreshed: new signing keys %s",
                    ", ".join(repr(kid[:64]) for kid in added[:10]),
                    extra={"new_keys": len(added)},
                )
        future.set_result(None)

    async def _wait(self, refresh: concurrent.futures.Future[None]) -> None:
        """Wait for ``refresh`` at most its deadline (plus a margin for the thread's wake-up)."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def settle() -> None:
            if not done.done():
                done.set_result(None)

        def wake(_: object) -> None:
            # RuntimeError: that loop has closed, so nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle)

        refresh.add_done_callback(wake)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done, self._timeout + 0.5)


def retry_after_seconds(error: BaseException) -> float | None:
    """The seconds an HTTP error's ``Retry-After`` asks for (a number or an HTTP date)."""
    if not isinstance(error, urllib.error.HTTPError) or error.headers is None:
        return None
    value = (error.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def signing_keys(data: object) -> dict[str, dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("JWKS is not {'keys': [...]}")
    keys: dict[str, dict[str, Any]] = {}
    for item in data["keys"]:
        if not isinstance(item, dict) or not isinstance(item.get("kid"), str):
            continue
        # A symmetric ("oct") key has no business in a public document, and an encryption
        # key must not verify signatures.
        if item.get("kty") == "oct" or item.get("use", "sig") != "sig":
            continue
        kid = item["kid"]
        if kid in keys and keys[kid] != item:
            raise DuplicateKid(kid)  # which of the two signs is anyone's guess
        keys[kid] = item
    return keys


# --- fetching under one deadline ------------------------------------------------------------
# A socket timeout bounds each read, not the download: a server sending a byte a second never
# trips it. So a timer shuts the fetch's sockets down when the deadline passes, which wakes the
# blocked read at once. urllib still does the HTTP (redirects, chunked bodies, proxies from the
# environment); only its connection classes are wrapped, to learn the sockets.


class _Abort:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.fired = False

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if not self.fired:
                return
        _shutdown(sock)

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


class _HTTPConnection(http.client.HTTPConnection):
    abort: _Abort

    def connect(self) -> None:
        super().connect()
        self.abort.track(self.sock)


class _HTTPSConnection(http.client.HTTPSConnection):
    abort: _Abort

    def connect(self) -> None:
        # The TLS handshake is bounded per read by the socket timeout; the body by the abort.
        super().connect()
        self.abort.track(self.sock)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, abort: _Abort) -> None:
        super().__init__()
        self._abort = abort

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        def connection(host: str, **kwargs: Any) -> http.client.HTTPConnection:
            conn = _HTTPConnection(host, **kwargs)
            conn.abort = self._abort
            return conn

        return self.do_open(connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, abort: _Abort) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(context=self._tls)
        self._abort = abort

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        def connection(host: str, **kwargs: Any) -> http.client.HTTPConnection:
            conn = _HTTPSConnection(host, **kwargs)
            conn.abort = self._abort
            return conn

        return self.do_open(connection, req, context=self._tls)


def fetch_json(url: str, timeout: float) -> object:
    """GET ``url`` and parse it as JSON, all of it within ``timeout`` seconds (TimeoutError)."""
    abort = _Abort()
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        _HTTPHandler(abort),
        _HTTPSHandler(abort),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    timer = threading.Timer(timeout, abort.fire)
    timer.daemon = True
    timer.start()
    # S310: the URL's scheme was checked at start-up (http/https), and this opener has no
    # file or ftp handler, so a redirect cannot leave HTTP either.
    request = urllib.request.Request(  # noqa: S310
        url, headers={"Accept": "application/json", "User-Agent": "zego-token-server"}
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(MAX_JWKS_BYTES + 1)
    except (OSError, http.client.HTTPException):
        if abort.fired:
            raise TimeoutError(f"the JWKS took longer than {timeout} s") from None
        raise
    finally:
        timer.cancel()
    if abort.fired:
        raise TimeoutError(f"the JWKS took longer than {timeout} s")
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"the JWKS is larger than {MAX_JWKS_BYTES} bytes")
    return json.loads(body)
