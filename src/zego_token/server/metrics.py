"""Prometheus metrics: tokens issued, request latency, errors and authentication failures.

With several workers, ``PROMETHEUS_MULTIPROC_DIR`` is set by ``serve`` before any worker
imports ``prometheus_client``, and ``/metrics`` aggregates every worker's files. Labelled
children are cached so the hot path does one dict lookup per metric.
"""

from __future__ import annotations

import os
from typing import Any

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Histogram,
            disable_created_metrics,
        )

        disable_created_metrics()  # the *_created series only double the scrape size

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
        self._token_children: dict[tuple[int, str, str], Any] = {}
        self._duration_children: dict[str, Any] = {}
        self._error_children: dict[str, Any] = {}

    def token_issued(self, app_id: int, mode: str, kind: str) -> None:
        key = (app_id, mode, kind)
        child = self._token_children.get(key)
        if child is None:
            child = self._tokens.labels(str(app_id), mode, kind)
            self._token_children[key] = child
        child.inc()

    def observe(self, route: str, seconds: float) -> None:
        child = self._duration_children.get(route)
        if child is None:
            child = self._duration.labels(route)
            self._duration_children[route] = child
        child.observe(seconds)

    def error(self, code: str) -> None:
        child = self._error_children.get(code)
        if child is None:
            child = self._errors.labels(code)
            self._error_children[code] = child
        child.inc()

    def auth_failure(self, reason: str) -> None:
        self._auth_failures.labels(reason).inc()

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self.multiprocess_dir:
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(registry, path=self.multiprocess_dir)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
