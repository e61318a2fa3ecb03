"""Rate limits per identity and per client IP, and the in-memory limiter (the standalone
server's Redis limiter, ``server.redis_limiter``, shares the counts between processes).

Both limiters count a fixed window that opens at a key's first request and lasts ``window``
seconds: the first ``limit`` requests in it are admitted, the rest get 429 with ``Retry-After``
set to the seconds until the window closes. Fixed windows cost O(1) memory per key and one Redis
round trip; the price is that a client timing its bursts at a window's end and the next one's
start can get up to twice ``limit`` in a span of ``window`` seconds.

Per-IP limits count an IPv4 client per address and an IPv6 client per ``ipv6_prefix`` network
(default /64): one host is routinely given a whole /64, so per address it would have 2^64
buckets.

The in-memory limiter keeps client IPs and identities in two tables of at most ``max_keys``
windows each, so strangers' addresses can never crowd out the identities of callers with a
credential. At a table's cap it drops expired windows first, then a window seen only once in its
current window (a flood of one-shot addresses goes first; such a client loses at most the one
hit counted). If every window is still open and was hit more than once, a key it is not tracking
yet is refused with ``LimiterFull``, a 503 ``rate_limit_unavailable`` (fail closed, a metric, a
throttled log line), while keys it tracks are still counted: memory stays bounded whatever
stream of distinct keys arrives. The pipeline defers an IP-table refusal until the caller is
identified: a caller with a valid credential is then counted by its identity alone.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Literal

from msgspec import Meta

from .contracts import RateDecision
from .errors import HttpError
from .schema import ConfigError, Network, Section

log = logging.getLogger("zego_token.server.ratelimit")

# Per-IP keys start with this; the in-memory limiter keeps them in a table of their own.
IP_KEY_PREFIX = "ip:"


class RateLimitSettings(Section, frozen=True, kw_only=True):
    """The ``[rate_limit]`` section; a limit of 0 turns that limit off."""

    SECTION = "rate_limit"

    per_identity: Annotated[int, Meta(ge=0, description="0 (off) or a number of requests")] = 0
    per_ip: Annotated[int, Meta(ge=0, description="0 (off) or a number of requests")] = 0
    window: Annotated[int, Meta(ge=1, le=86400, description="a number of seconds")] = 60
    redis_url: Annotated[
        str,
        Meta(
            pattern="^$|^(redis|rediss|unix)://",
            description="a URL starting with redis://, rediss:// or unix://",
        ),
    ] = ""
    key_prefix: str = "zego-token:rl:"
    trusted_proxies: tuple[str, ...] = ()
    redis_timeout: Annotated[float, Meta(gt=0, le=60)] = 0.5
    ipv6_prefix: Annotated[
        int,
        Meta(
            ge=32,
            le=128,
            description="the IPv6 prefix length one client is counted by (64 is usual)",
        ),
    ] = 64
    max_keys: Annotated[
        int, Meta(ge=1, description="a positive number of windows (default 200000)")
    ] = 200_000
    # Where the counts live and what happens when that store cannot be reached (server only;
    # checked by ``_check_store``; docs/security.md, "When Redis is unreachable").
    sentinels: tuple[str, ...] = ()
    sentinel_service: str = ""
    cluster: bool = False
    on_store_failure: Literal["local", "refuse"] = "local"
    local_share: Annotated[
        float,
        Meta(
            ge=0,
            le=1,
            description="the fraction of each limit one process admits while Redis is "
            "unreachable (0: 1 / server.workers)",
        ),
    ] = 0.0

    def __post_init__(self) -> None:
        networks("rate_limit.trusted_proxies", self.trusted_proxies)
        _check_store(self)


def networks(key: str, entries: Iterable[str]) -> tuple[Network, ...]:
    """The trusted proxies' networks; ``ConfigError`` naming ``key`` for one that is not."""
    result = []
    for index, entry in enumerate(entries):
        try:
            result.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                key,
                f"item {index} ({entry!r}) is not an IP address or CIDR network (e.g. 10.0.0.0/8)",
            ) from None
    return tuple(result)


def _check_store(settings: RateLimitSettings) -> None:
    for entry in settings.sentinels:
        host, _, port = entry.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                "rate_limit.sentinels", f'{entry!r} is not host:port (e.g. "10.0.0.5:26379")'
            )
    if settings.sentinels and not settings.sentinel_service:
        raise ConfigError(
            "rate_limit.sentinel_service",
            "name the primary the sentinels watch (their `sentinel monitor <name> ...` line)",
        )
    if settings.sentinel_service and not settings.sentinels:
        raise ConfigError(
            "rate_limit.sentinels",
            'list the sentinels as ["host:port", ...] to use sentinel_service',
        )
    if settings.sentinels and settings.cluster:
        raise ConfigError("rate_limit.cluster", "use either sentinels or cluster = true, not both")
    if settings.cluster and not settings.redis_url:
        raise ConfigError(
            "rate_limit.redis_url", "cluster = true needs redis_url: any one node of the cluster"
        )


def ip_key_function(ipv6_prefix: int) -> Callable[[str], str]:
    """The per-IP limiter's key for a client address: ``ip:<IPv4 address>`` or
    ``ip:<IPv6 network>/<prefix>``; an unparsable address is its own key."""
    suffix = f"/{ipv6_prefix}"
    prefix = IP_KEY_PREFIX

    def ip_key(address: str) -> str:
        if ":" not in address:
            return prefix + address  # IPv4 (the common case): no parsing on the hot path
        parsed = _parse_ip(address)
        if not isinstance(parsed, ipaddress.IPv6Address):
            return prefix + (address if parsed is None else str(parsed))
        network = ipaddress.IPv6Network((parsed, ipv6_prefix), strict=False)
        return f"{prefix}{network.network_address}{suffix}"

    return ip_key


def client_ip(peer: str, headers: Mapping[str, str], trusted_proxies: Iterable[Network]) -> str:
    """The client's address: ``peer``, unless ``peer`` is a trusted proxy, in which case
    ``X-Forwarded-For`` is walked from the right past every trusted proxy. The first untrusted
    hop is the client; entries left of it were written by the client and are ignored."""
    networks = tuple(trusted_proxies)
    address = _parse_ip(peer)
    if address is None or not networks or not _trusted(address, networks):
        return peer
    forwarded = headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    client = str(address)
    for hop in reversed(hops):
        hop_address = _parse_ip(hop)
        if hop_address is None:
            break  # garbage from the client side: trust stops at the last proxy we know
        client = str(hop_address)
        if not _trusted(hop_address, networks):
            break
    return client


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: tuple[Network, ...]
) -> bool:
    return any(address in network for network in networks)


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("["):  # "[2001:db8::1]:443"
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:  # "203.0.113.7:5123"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # "::ffff:10.0.0.1" is the IPv4 proxy it names
    return address


class Throttle:
    """At most one line per key per ``seconds``: ``allow(key)`` returns None to hold a line
    back, or the number held back since the last line written for that key."""

    __slots__ = ("_held", "_last", "_seconds")
    _MAX_KEYS = 1024  # keys are causes (exception types), a short list; this is a backstop

    def __init__(self, seconds: float = 1.0) -> None:
        self._seconds = seconds
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def allow(self, key: str) -> int | None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._seconds:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        if len(self._last) >= self._MAX_KEYS:
            self._last.clear()
        self._last[key] = now
        return self._held.pop(key, 0)


class LimiterFull(HttpError):
    """503 ``rate_limit_unavailable``: the limiter's table is full of open windows and cannot
    track a new key. For a client IP the pipeline holds it until the caller is identified."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            503,
            "rate_limit_unavailable",
            "the server is tracking as many clients as it can (rate_limit.max_keys); "
            f"try again in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


class _Windows:
    """One table of fixed windows, bounded to ``max_keys``: expired windows, then windows hit
    once, make room for a new key; else ``LimiterFull``."""

    __slots__ = (
        "_earliest_end",
        "_hits",
        "_next_full_sweep",
        "_next_sweep_hit",
        "_owner",
        "_seen_once",
        "max_keys",
        "windows",
    )

    def __init__(self, owner: MemoryRateLimiter, max_keys: int) -> None:
        self.windows: dict[str, tuple[int, float]] = {}  # key -> (count, window end)
        # Keys whose window opened with this hit, oldest first: the eviction candidates. A key
        # hit again stays listed until evicted or swept; eviction checks its count then.
        self._seen_once: deque[str] = deque()
        self._owner = owner
        self.max_keys = max_keys
        self._hits = 0
        self._next_sweep_hit = MemoryRateLimiter.SWEEP_EVERY
        self._next_full_sweep = 0.0
        self._earliest_end = 0.0

    def count(self, key: str, window: int) -> tuple[int, float]:
        now = time.monotonic()
        self._hits += 1
        if self._hits >= self._next_sweep_hit:
            self._sweep(now)
            # A sweep visits every key: sweeping after as many hits as there are keys keeps
            # its cost O(1) per hit, however many keys there are.
            self._next_sweep_hit = self._hits + max(
                MemoryRateLimiter.SWEEP_EVERY, len(self.windows)
            )
        windows = self.windows
        current = windows.get(key)
        if current is None and len(windows) >= self.max_keys:
            self._make_room(now)
            windows = self.windows  # a sweep replaces the dict
        count, end = current or (0, 0.0)
        if end <= now:
            count, end = 0, now + window
            self._seen_once.append(key)
        count += 1
        windows[key] = (count, end)
        return count, (end - now) * 1000

    def _make_room(self, now: float) -> None:
        """Drop expired windows, else one hit only once; else refuse the new key."""
        if now >= self._next_full_sweep:
            # An O(n) pass, so at most once a second: a flood of new keys at the cap must not
            # turn every request into a sweep of the whole table.
            self._sweep(now)
            self._next_full_sweep = now + MemoryRateLimiter.FULL_SWEEP_SECONDS
            if len(self.windows) < self.max_keys:
                return
        windows = self.windows
        seen_once = self._seen_once
        while seen_once:
            key = seen_once.popleft()
            entry = windows.get(key)
            if entry is not None and entry[0] == 1:
                del windows[key]
                return
        retry = max(1, math.ceil(max(self._earliest_end, self._next_full_sweep) - now))
        self._owner.full(self.max_keys)
        raise LimiterFull(retry)

    def _sweep(self, now: float) -> None:
        # Bounds memory to the keys seen within one window.
        self.windows = {k: v for k, v in self.windows.items() if v[1] > now}
        self._seen_once = deque(k for k, v in self.windows.items() if v[0] == 1)
        self._earliest_end = min((v[1] for v in self.windows.values()), default=now)


class MemoryRateLimiter:
    """Per-process fixed windows; with N workers each admits ``limit`` (use Redis to share).

    Client IPs (keys starting ``ip:``) and identities are kept in two tables of at most
    ``max_keys`` windows each (about 230 bytes a window: docs/security.md)."""

    SWEEP_EVERY = 10_000
    FULL_SWEEP_SECONDS = 1.0  # at the cap, look for expired windows at most this often

    def __init__(
        self, *, max_keys: int = 200_000, on_full: Callable[[], None] | None = None
    ) -> None:
        self.max_keys = max_keys
        self.ips = _Windows(self, max_keys)
        self.identities = _Windows(self, max_keys)
        self._on_full = on_full
        self._throttle = Throttle()

    async def hit(self, key: str, limit: int, window: int) -> RateDecision:
        count, ms_left = self.count(key, window)
        return rate_decision(count, limit, ms_left)

    def count(self, key: str, window: int) -> tuple[int, float]:
        """Count one hit on ``key``: the hits in its window so far, this one included, and the
        milliseconds until the window closes. Synchronous (``contracts.CountingRateLimiter``),
        so the pipeline's hot path needs no coroutine for it; on one event loop it is atomic.
        Raises ``LimiterFull`` for a new key when its table is full of open windows."""
        table = self.ips if key.startswith(IP_KEY_PREFIX) else self.identities
        return table.count(key, window)

    def full(self, max_keys: int) -> None:
        """A new key was refused at the cap: the metric, and a log line a second at most."""
        if self._on_full is not None:
            self._on_full()
        suppressed = self._throttle.allow("full")
        if suppressed is not None:
            log.warning(
                "rate limiter full: refusing new clients until windows expire",
                extra={"max_keys": max_keys, "suppressed": suppressed},
            )

    def __len__(self) -> int:
        return len(self.ips.windows) + len(self.identities.windows)

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        self.ips.windows.clear()
        self.identities.windows.clear()


def rate_decision(count: int, limit: int, ms_left: float) -> RateDecision:
    allowed = count <= limit
    return RateDecision(
        allowed=allowed,
        limit=limit,
        remaining=max(0, limit - count),
        retry_after=0 if allowed else max(1, math.ceil(ms_left / 1000)),
    )
