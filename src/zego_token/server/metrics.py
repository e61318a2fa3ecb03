"""Prometheus metrics: tokens issued, request latency, errors and authentication failures.

With several workers, ``PROMETHEUS_MULTIPROC_DIR`` is set by ``serve`` before any worker
imports ``prometheus_client``, and ``/metrics`` aggregates every worker's files.

Requests only add to plain counters in the worker; the sums are handed to ``prometheus_client``
at most ``FLUSH_SECONDS`` later (and before this worker renders ``/metrics``). Each
``prometheus_client`` update takes a lock and, with several workers, writes a memory-mapped file,
which per request cost more than the rest of the metrics work.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from typing import Any

from .batching import FlushTimer

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
FLUSH_SECONDS = 0.5


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            disable_created_metrics,
        )

        # The *_created series would only double the size of every scrape.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        self.registry = CollectorRegistry(auto_describe=False)
        self._tokens = Counter(
            "zego_tokens_issued",
            "Tokens minted, by AppID, mode (gcm/cbc) and kind (token/kit).",
            ["app_id", "mode", "kind"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "zego_request_duration_seconds",
            "Time from request start to response, by route.",
            ["route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._errors = Counter(
            "zego_errors",
            "Error responses, by error code.",
            ["code"],
            registry=self.registry,
        )
        self._auth_failures = Counter(
            "zego_auth_failures",
            "Refused credentials (401), by reason.",
            ["reason"],
            registry=self.registry,
        )
        self._limiter_full = Counter(
            "zego_rate_limit_full",
            "Requests refused because the in-memory rate limiter holds rate_limit.max_keys "
            "windows and none has expired.",
            registry=self.registry,
        )
        self._store_events = Counter(
            "zego_rate_limit_store_events",
            "Rate-limit store events: requests decided in memory (local) or refused (refused) "
            "while Redis was unreachable, windows Redis had lost and this process put back "
            "(reseeded), and returns of the store (recovered).",
            ["event"],
            registry=self.registry,
        )
        self._degraded = Gauge(
            "zego_degraded",
            "1 while a part (auth.jwt, rate_limit) serves in a degraded way, as /readyz reports.",
            ["part"],
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        # Pending increments, handed to prometheus_client by flush().
        self._token_counts: dict[tuple[int, str, str], int] = {}
        self._error_counts: dict[str, int] = {}
        self._auth_counts: dict[str, int] = {}
        self._store_event_counts: dict[str, int] = {}
        self._durations: dict[str, list[float]] = {}  # route -> [count per bucket..., sum]
        self._timer = FlushTimer(FLUSH_SECONDS, self.flush)

    # -- per request: plain arithmetic --------------------------------------------------------

    def token_issued(self, app_id: int, mode: str, kind: str) -> None:
        key = (app_id, mode, kind)
        self._token_counts[key] = self._token_counts.get(key, 0) + 1
        self._timer.schedule()

    def observe(self, route: str, seconds: float) -> None:
        entry = self._durations.get(route)
        if entry is None:
            entry = self._durations[route] = [0.0] * (len(BUCKETS) + 2)
        # Prometheus buckets are "value <= bound": the first bound >= seconds (the last: +Inf).
        entry[bisect_left(BUCKETS, seconds)] += 1
        entry[-1] += seconds
        self._timer.schedule()

    def error(self, code: str) -> None:
        self._error_counts[code] = self._error_counts.get(code, 0) + 1
        self._timer.schedule()

    def auth_failure(self, reason: str) -> None:
        self._auth_counts[reason] = self._auth_counts.get(reason, 0) + 1
        self._timer.schedule()

    def rate_limit_full(self) -> None:
        # Rare and already off the fast path (the request is refused): no batching needed.
        self._limiter_full.inc()

    def rate_limit_store_event(self, event: str) -> None:
        self._store_event_counts[event] = self._store_event_counts.get(event, 0) + 1
        self._timer.schedule()

    def degraded(self, parts: dict[str, bool]) -> None:
        """Set each part's degraded gauge (at each /readyz)."""
        for part, degraded in parts.items():
            self._degraded.labels(part).set(1 if degraded else 0)

    # -- in batches ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Hand the pending increments to prometheus_client."""
        tokens, self._token_counts = self._token_counts, {}
        for (app_id, mode, kind), count in tokens.items():
            self._tokens.labels(str(app_id), mode, kind).inc(count)
        errors, self._error_counts = self._error_counts, {}
        for code, count in errors.items():
            self._errors.labels(code).inc(count)
        failures, self._auth_counts = self._auth_counts, {}
        for reason, count in failures.items():
            self._auth_failures.labels(reason).inc(count)
        events, self._store_event_counts = self._store_event_counts, {}
        for event, count in events.items():
            self._store_events.labels(event).inc(count)
        durations, self._durations = self._durations, {}
        for route, entry in durations.items():
            child: Any = self._duration.labels(route)
            # prometheus_client keeps one value per bucket (not cumulative) and the sum; adding
            # whole counts to them equals observing each request.
            for index, observed in enumerate(entry[:-1]):
                if observed:
                    child._buckets[index].inc(observed)
            child._sum.inc(entry[-1])

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        self.flush()
        if self.multiprocess_dir:
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry(auto_describe=False)
            collector = MultiProcessCollector  # untyped in prometheus_client
            collector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
