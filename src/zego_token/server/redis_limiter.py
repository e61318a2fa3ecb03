"""The Redis rate limiter: fixed windows shared by every worker and instance of the server.

Each window is one Redis hash with a field per server process (``HINCRBY``, then the sum of the
fields), counted by one Lua script so concurrent processes never race. Besides Redis, every
process keeps a shadow: its own hits per key in the current window (bounded, ``ShadowCounts``).
Redis can forget (a restart without persistence, a failover to a replica that missed the last
writes): when this process's field comes back lower than its shadow, the script re-seeds the
field with the difference and counting goes on, so what each process admitted before the loss
still counts. The field per process is what makes this exact with several processes: each puts
back its own share, and the sum is again the whole. The hits of a process that died before the
loss are kept too: the first process to notice the loss puts back, in a field of their own, the
other processes' hits as it last saw them, and each live process takes its own off that field
when it puts them back (``_HIT_SCRIPT``).

One script call counts all the keys of a request (``hit_both``: the client IP, then the
identity, stopping at the first over its limit), except on a Cluster (two calls at once:
``hit_both`` says why), and the calls of one turn of the event loop go to Redis in one pipeline
(``redis_store.ScriptCalls``).

When Redis cannot be reached (``rate_limit.on_store_failure``):

- ``local`` (the default): each process enforces ``floor(limit * local_share)`` per key from
  its shadow (``local_share`` defaults to 1 / server.workers, so one instance's workers together
  admit at most ``limit``; with several instances, set it to 1 / (instances x workers)), and of
  what the window's last answer from Redis left of the limit no more than that share. When
  Redis answers again (asked every ``PROBE_SECONDS`` even without requests), the process puts
  back every window's hits it counted meanwhile, and keeps to its share until they close in
  every window that was open when it found Redis failing: the other processes' hits counted in
  memory reach Redis only as each of them returns, so until a window closes its total in Redis
  may still miss some of them (a process that saw no failure decides on that total).
- ``refuse``: 503 ``rate_limit_unavailable`` (fail closed).

With ``local``, after a failure the store is asked again by one request at most every
``PROBE_SECONDS`` (the others are decided in memory at once instead of each waiting for a
timeout); with ``refuse`` every request still asks the store, so one slow answer refuses one
request, not a quarter of a second of them. A log line says so once a second per cause, with the
count of lines held back, and ``on_event`` counts a metric.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..pipeline import tracing
from ..pipeline.contracts import RateDecision, RateLimiter
from ..pipeline.errors import HttpError
from ..pipeline.ratelimit import MemoryRateLimiter, RateLimitSettings, Throttle, rate_decision
from .redis_store import RedisStore

log = logging.getLogger("zego_token.server.ratelimit")

PROBE_SECONDS = 0.25

# KEYS: the windows one request counts, in order (each a hash: process -> hits). ARGV, each
# number its own argument (hiredis packs them in C; one space-separated argument split in Lua
# cost Redis a seventh of the script's time, 8.5 against 7.3 us a call): this process's field,
# the window in ms, the hits to count (1; 0 only puts back, see ``_return``), then four per
# key: this process's own hits in that window as its shadow knows them (the hit counted now
# included), ms left in the shadow's window, the window's total in the last answer this
# process had, and the key's limit. Counting stops after the first key over its limit: the
# keys after it are not counted, as when each was asked on its own and the first refusal ended
# the request. Returns, for each key counted, {total hits, ms until the window closes, this
# process's hits, hits put back}.
#
# When a process finds the window lost its hits (all of it after a restart, its last writes
# after a failover to a replica that lagged), it puts its own back; and whenever the window
# holds fewer of the other processes' hits than this process last saw, it keeps the difference
# in the field "~lost"; each process that then puts its own hits back takes them off "~lost".
# What stays there are the hits of processes that will never put theirs back (killed
# meanwhile). The others' hits as last seen never exceed what they counted (the fields only
# grow within a window), so "~lost" never raises the count above what was admitted.
_HIT_SCRIPT = """
local field = ARGV[1]
local increment = tonumber(ARGV[3])
local answer = {}
for i, key in ipairs(KEYS) do
  local at = 3 + (i - 1) * 4
  local mine = redis.call('HINCRBY', key, field, increment)
  local known = tonumber(ARGV[at + 1])
  local ttl = redis.call('PTTL', key)
  local put_back = 0
  if mine < known then
    -- Redis lost this process's hits (restart, failover): put them back
    put_back = known - mine
    redis.call('HINCRBY', key, field, put_back)
    mine = known
    if ttl < 0 then
      ttl = tonumber(ARGV[at + 2])
      redis.call('PEXPIRE', key, ttl)
    else
      local lost = tonumber(redis.call('HGET', key, '~lost') or '0')
      if lost > 0 then
        redis.call('HSET', key, '~lost', math.max(0, lost - put_back))
      end
    end
  end
  if ttl < 0 then
    -- a new window (or one left without expiry by a crash between commands elsewhere)
    ttl = tonumber(ARGV[2])
    redis.call('PEXPIRE', key, ttl)
  end
  local total = 0
  for _, hits in ipairs(redis.call('HVALS', key)) do
    total = total + tonumber(hits)
  end
  -- The other processes' hits as this process last saw them, less what the window holds of
  -- them now: above zero only when Redis lost some of theirs (a failover to a replica that
  -- lagged), which they put back only with their next call on this key.
  local missing = tonumber(ARGV[at + 3]) - (known - increment) - (total - mine)
  if missing > 0 then
    redis.call('HINCRBY', key, '~lost', missing)
    total = total + missing
  end
  answer[#answer + 1] = total
  answer[#answer + 1] = ttl
  answer[#answer + 1] = mine
  answer[#answer + 1] = put_back
  if total > tonumber(ARGV[at + 4]) then
    break
  end
end
return answer
"""


class ShadowCounts:
    """This process's own hits per key in the current window, at most ``max_keys`` keys.

    A hit counts here once Redis has counted it (the process's field in its answer) or once this
    process decided it in memory; hits still in flight do not, so concurrent requests arriving
    at Redis out of order are never mistaken for a loss. A window's end is taken from Redis's
    answer minus the round trip (the TTL is measured after the request left), so the shadow
    closes a window no later than Redis does: it never re-seeds a window Redis ended on time."""

    __slots__ = ("_windows", "max_keys")

    def __init__(self, max_keys: int) -> None:
        # key -> [own hits, window end (monotonic), the window's total in the last answer, own
        # hits in that answer, 1 once this process keeps to its share in this window]
        self._windows: dict[str, list[float]] = {}
        self.max_keys = max_keys

    def expected(self, key: str, window: int, now: float) -> tuple[int, float, int]:
        """What this process's field must at least be after one more hit, the ms left in the
        window, and the window's total as last seen."""
        entry = self._windows.get(key)
        if entry is None or entry[1] <= now:
            if entry is None and len(self._windows) >= self.max_keys:
                self._make_room(now)
            entry = self._windows[key] = [0, now + window, 0, 0, 0]
        return int(entry[0]) + 1, (entry[1] - now) * 1000, int(entry[2])

    def settle(self, key: str, mine: int, sent_at: float, ttl_ms: float, total: int) -> None:
        """Take Redis's answer to a hit sent at ``sent_at``: this process's field, the TTL and
        the window's total."""
        entry = self._windows.get(key)
        if entry is None:
            return
        if mine >= entry[0]:
            entry[2], entry[3] = total, mine  # the total that goes with the newest own count
        entry[0] = max(entry[0], mine)
        entry[1] = sent_at + ttl_ms / 1000

    def count_here(self, key: str) -> tuple[int, int, int]:
        """Count a hit decided in memory (the store unreachable): this process's hits now, its
        hits in the last answer from the store, and the window's total in that answer."""
        entry = self._windows.get(key)
        if entry is None:
            return 1, 0, 0
        entry[0] += 1
        entry[4] = 1
        return int(entry[0]), int(entry[3]), int(entry[2])

    def hold_to_shares(self, now: float) -> None:
        """Keep to this process's share in every window open now (see ``held``)."""
        for entry in self._windows.values():
            if entry[1] > now:
                entry[4] = 1

    def held(self, key: str) -> bool:
        """Whether this process keeps to its share in ``key``'s current window: it decided a
        hit in it in memory, or the window was open when this process found the store failing."""
        entry = self._windows.get(key)
        return entry is not None and entry[4] > 0

    def not_in_store(self, now: float) -> list[tuple[str, int, float, int]]:
        """The open windows with hits counted in memory that no answer from the store has
        shown yet: (key, this process's hits, ms left, the window's total as last seen)."""
        return [
            (key, int(entry[0]), (entry[1] - now) * 1000, int(entry[2]))
            for key, entry in self._windows.items()
            if entry[0] > entry[3] and entry[1] > now
        ]

    def _make_room(self, now: float) -> None:
        self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        if len(self._windows) >= self.max_keys:
            # Every window is open: forget the oldest key (its protection only, not its count
            # in Redis; a flood of new keys cannot grow memory).
            del self._windows[next(iter(self._windows))]

    def __len__(self) -> int:
        return len(self._windows)


class RedisRateLimiter:
    """Fixed windows kept in Redis, shared by every worker and instance using the same prefix."""

    def __init__(
        self,
        settings: RateLimitSettings,
        *,
        local_share: float,
        on_event: Callable[[str], None] = lambda event: None,
    ) -> None:
        self._store = RedisStore(settings)
        self._script = self._store.script(_HIT_SCRIPT)
        self._prefix = settings.key_prefix
        # Unique per process and per start: a restarted worker's field is a new one, and the
        # old one still counts until the window closes.
        self._field = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._shadow = ShadowCounts(settings.max_keys)
        self._local = settings.on_store_failure == "local"
        self._cluster = self._store.kind == "cluster"
        import redis.exceptions

        self._store_errors = (redis.exceptions.RedisError, OSError)
        self._share = local_share
        self._on_event = on_event
        self._throttle = Throttle()
        self._probe_at = 0.0  # the store is asked again from then on
        self._failing: str | None = None  # the cause, while the store is unreachable
        self._returning: asyncio.Task[None] | None = None  # see _return
        self.store_kind = self._store.kind

    async def hit(self, key: str, limit: int, window: int) -> RateDecision:
        return await self._count((key,), (limit,), window)

    def hit_both(
        self, first: str, first_limit: int, second: str, second_limit: int, window: int
    ) -> Awaitable[RateDecision]:
        """Count ``first`` then, unless it is over its limit, ``second``: one script call, one
        round trip. The first refusal, else the second key's decision.

        A Cluster keeps each key in the slot of its own name: one call would need both keys
        in one slot, and the only tag two unrelated keys (an IP, an identity) always share is a
        constant one, which would put every count on one node. So a Cluster gets two calls, sent
        at once (one round trip of waiting); the second key is then counted even when the first
        refuses, a request more on an identity whose IP was over its limit."""
        if self._cluster:
            return self._hit_both_at_once(first, first_limit, second, second_limit, window)
        return self._count((first, second), (first_limit, second_limit), window)

    async def _hit_both_at_once(
        self, first: str, first_limit: int, second: str, second_limit: int, window: int
    ) -> RateDecision:
        first_decision, second_decision = await asyncio.gather(
            self._count((first,), (first_limit,), window),
            self._count((second,), (second_limit,), window),
        )
        return second_decision if first_decision.allowed else first_decision

    async def _count(
        self, keys: tuple[str, ...], limits: tuple[int, ...], window: int
    ) -> RateDecision:
        now = time.monotonic()
        shadow = self._shadow
        numbers: list[object] = [self._field, window * 1000, 1]
        ms_left = []
        for key, limit in zip(keys, limits, strict=True):
            known, key_ms_left, last_total = shadow.expected(key, window, now)
            numbers += (known, max(1, int(key_ms_left)), last_total, limit)
            ms_left.append(key_ms_left)
        if self._failing is not None and now < self._probe_at and self._local:
            return self._all_without_store(self._failing, keys, limits, ms_left)
        self._probe_at = now + PROBE_SECONDS  # one request probes; the others decide at once
        try:
            if tracing.TRACER is None:  # no span: a context manager less on the hot path
                answer = await self._script([self._prefix + key for key in keys], numbers)
            else:
                with tracing.span("redis EVALSHA", **{"db.system": "redis"}):
                    answer = await self._script([self._prefix + key for key in keys], numbers)
        except self._store_errors as error:
            cause = type(error).__name__
            self._store_failed(cause)
            return self._all_without_store(cause, keys, limits, ms_left)
        if self._failing is not None:
            self._recovered()
        decision = None
        for index in range(len(answer) // 4):  # the script counts the first key at least
            total, ttl_ms, mine, put_back = answer[index * 4 : index * 4 + 4]
            if put_back:
                self._reseeded(int(put_back))
            shadow.settle(keys[index], int(mine), now, float(ttl_ms), int(total))
            if decision is None or decision.allowed:  # the first refusal decides
                decision = self._decision(
                    keys[index], limits[index], int(total), int(mine), float(ttl_ms)
                )
        assert decision is not None
        return decision

    def _store_failed(self, cause: str) -> None:
        """The store did not answer: decide in memory (or refuse) until it does. The first
        failure of an outage also holds this process to its share in every window open now:
        the other processes may admit in memory meanwhile, and their hits reach the store only
        as each returns, so a total read from the store in such a window can lack them, even
        for a process that decides nothing in memory itself."""
        if self._failing is None:
            self._shadow.hold_to_shares(time.monotonic())
        self._failing = cause
        self._probe_at = time.monotonic() + PROBE_SECONDS

    def _reseeded(self, put_back: int) -> None:
        self._on_event("reseeded")
        suppressed = self._throttle.allow("reseeded")
        if suppressed is not None:
            log.warning(
                "rate limit store had lost this process's counts (restart or failover); "
                "put back %d hits",
                put_back,
                extra={"store": self.store_kind, "suppressed": suppressed},
            )

    def _all_without_store(
        self, cause: str, keys: tuple[str, ...], limits: tuple[int, ...], ms_left: list[float]
    ) -> RateDecision:
        """``_without_store`` for each key in turn, up to the first refusal."""
        for index, key in enumerate(keys):
            decision = self._without_store(cause, key, limits[index], ms_left[index])
            if not decision.allowed:
                break
        return decision

    def _decision(self, key: str, limit: int, total: int, mine: int, ttl_ms: float) -> RateDecision:
        """The decision on Redis's answer: the window's total against the limit, and, in a
        window this process holds to its share (it counted in the window in memory, or the
        window was open when it found the store failing), its own hits against its share: the
        other processes may have counted the window in memory, and their hits reach Redis only
        as each returns to it (or never, for one killed meanwhile), so each keeps to its share
        until the window closes and the shares still add up to the limit at most."""
        if self._local and self._shadow.held(key):
            share = self._local_limit(limit)
            if mine > share:
                return rate_decision(mine, share, ttl_ms)
        return rate_decision(total, limit, ttl_ms)

    def _local_limit(self, limit: int) -> int:
        """This process's share of ``limit``, rounded down: the shares of the processes never
        add up to more than the limit."""
        return math.floor(limit * self._share + 1e-9)

    def _watch(self) -> None:
        """Start ``_return`` unless it runs already."""
        if self._returning is None or self._returning.done():
            self._returning = asyncio.get_running_loop().create_task(self._return())

    async def _return(self) -> None:
        """While the store is unreachable, ask it every ``PROBE_SECONDS`` even when no request
        comes; once it answers, put back every window's hits counted in memory meanwhile, not
        only those of the keys asked for again: until then the other processes decide from
        totals without them."""
        while self._failing is not None:
            await asyncio.sleep(PROBE_SECONDS)
            if self._failing is None:
                break
            try:
                await self._store.client.ping()
            except self._store_errors:
                continue
            if self._failing is not None:
                self._recovered()
        for key, known, ms_left, last_total in self._shadow.not_in_store(time.monotonic()):
            sent_at = time.monotonic()
            ms = max(1, int(ms_left))
            # The hit script counting no hit (0): it only puts back, and its limit is moot.
            numbers = (self._field, ms, 0, known, ms, last_total, known)
            try:
                total, ttl_ms, mine, _ = await self._script([self._prefix + key], numbers)
            except self._store_errors:
                return  # unreachable again: the next request starts over
            self._shadow.settle(key, int(mine), sent_at, float(ttl_ms), int(total))

    def _recovered(self) -> None:
        log.warning(
            "rate limit store answers again",
            extra={"store": self.store_kind, "after": self._failing},
        )
        self._failing = None
        self._on_event("recovered")

    def _without_store(self, cause: str, key: str, limit: int, ms_left: float) -> RateDecision:
        """The decision while the store is unreachable: this process's share from its shadow,
        or the 503 of ``refuse``."""
        self._on_event("local" if self._local else "refused")
        suppressed = self._throttle.allow(cause)
        if suppressed is not None:
            if self._local:
                log.warning(
                    "rate limit store unreachable: %s; counting in memory "
                    "(this process admits %s of each limit) until it answers",
                    cause,
                    f"{self._share:.0%}",
                    extra={"cause": cause, "suppressed": suppressed, "store": self.store_kind},
                )
            else:
                log.error(
                    "rate limit store unreachable: %s",
                    cause,
                    extra={"cause": cause, "suppressed": suppressed, "store": self.store_kind},
                )
        if not self._local:
            raise HttpError(
                503,
                "rate_limit_unavailable",
                "the rate-limit store is unreachable; try again shortly",
                headers={"Retry-After": "1"},
            )
        self._watch()
        hits, answered, total = self._shadow.count_here(key)
        # This process's share of the limit, and of what the last answer left of it, no more:
        # the other processes' hits since are unknown here, and with each taking all that was
        # left for itself, one already over its share took the rest twice (a failover in
        # bench/chaos.py, limit 128: 6 over for one identity).
        left = self._local_limit(max(0, limit - total))
        return rate_decision(hits, min(self._local_limit(limit), answered + left), ms_left)

    async def ready(self) -> bool:
        """True while requests can be decided: the store answers, or ``local`` stands in."""
        import redis.exceptions

        try:
            answered = bool(await self._store.client.ping())
        except (redis.exceptions.RedisError, OSError) as error:
            if self._failing is None:
                self._store_failed(type(error).__name__)
            return self._local
        if answered and self._failing is not None:
            self._recovered()
        return answered or self._local

    def degraded(self) -> str | None:
        """Why this limiter runs degraded now (the store unreachable), or None."""
        if self._failing is None:
            return None
        return f"the rate-limit store ({self.store_kind}) is unreachable ({self._failing}); " + (
            "limits are enforced in memory, per process"
            if self._local
            else "token requests get 503 rate_limit_unavailable"
        )

    async def close(self) -> None:
        if self._returning is not None:
            self._returning.cancel()
        await self._store.close()


def build_rate_limiter(
    settings: RateLimitSettings,
    *,
    workers: int = 1,
    on_full: Callable[[], None] | None = None,
    on_event: Callable[[str], None] | None = None,
) -> RateLimiter:
    """The limiter for ``settings``; ``on_full`` is called for each request the in-memory
    limiter refuses at its ``max_keys`` cap, ``on_event`` for each store event ("local",
    "refused", "recovered", "reseeded") (metrics)."""
    if settings.redis_url or settings.sentinels:
        share = settings.local_share or 1 / max(1, workers)
        extra: dict[str, Any] = {} if on_event is None else {"on_event": on_event}
        return RedisRateLimiter(settings, local_share=share, **extra)
    return MemoryRateLimiter(max_keys=settings.max_keys, on_full=on_full)
