"""Structured logs: one JSON line per request, plus start, stop and error events.

One writer, ``Logger``, formats and writes every line: the request lines, the server's own
events, and the records of the standard ``logging`` loggers (the auth, hook and rate-limit
modules use ``logging.getLogger`` like any library; Granian's own messages too), which reach it
through ``LogHandler``. A record keeps its fields: ``extra={...}`` becomes fields of the line,
and an exception its type, message and traceback. Every line goes through the same scrubbing
of secrets, bearer credentials and token-like strings.

Request lines are queued and written together within ``FLUSH_SECONDS`` (one ``os.write`` per
``PIPE_BUF`` bytes, so lines from several worker processes never interleave): a write per
request would cost more than the rest of the log line. Everything else is written at once.
Only named fields are logged (never headers, bodies or query strings).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import select
import sys
import time
import traceback
from collections.abc import Iterable
from typing import Any, Literal

from .batching import FlushTimer
from .granian_workers import WorkerExits

LogLevel = Literal["debug", "info", "warning", "error"]
LEVELS: dict[str, int] = {"debug": 10, "info": 20, "warning": 30, "error": 40}  # as LogLevel
_escape = json.encoder.encode_basestring_ascii
_TOKEN_LIKE = re.compile(r"\b04[A-Za-z0-9+/]{40,}={0,2}(#[A-Za-z0-9+/=]+)?")
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")
# Request lines wait at most this long, or until this many are queued, to be written together.
FLUSH_SECONDS = 0.05
FLUSH_LINES = 256
_SUBJECTS_KEPT = 4096
_CHUNK = getattr(select, "PIPE_BUF", 512)  # writes up to this size are atomic on pipes
_JWT_LIKE = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# The attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_TRACEBACK_FRAMES = 12
_LINE_KEYS = frozenset(("ts", "level", "msg", "message"))


class Clock:
    """ISO-8601 UTC timestamps with milliseconds, formatted once per millisecond (a busy worker
    logs several requests in each) and the seconds part once per second."""

    __slots__ = ("_millisecond", "_prefix", "_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""
        self._millisecond = -1
        self._text = ""

    def now(self) -> str:
        millisecond = int(time.time() * 1000)
        if millisecond == self._millisecond:
            return self._text
        second, fraction = divmod(millisecond, 1000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        self._millisecond = millisecond
        self._text = text = f"{self._prefix}.{fraction:03d}Z"
        return text


class Logger:
    """Writes log lines to a file descriptor (stdout by default)."""

    def __init__(
        self,
        level: str = "info",
        fmt: str = "json",
        *,
        fd: int | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.level = LEVELS[level]
        self.json = fmt == "json"
        self.fd = sys.stdout.fileno() if fd is None else fd
        self._secrets = tuple(s for s in secrets if s)
        self._clock = Clock()
        self.requests_enabled = self.level <= LEVELS["info"]
        self._pending: list[str] = []
        self._timer = FlushTimer(FLUSH_SECONDS, self._drain)
        self._middles: dict[tuple[str, str, str], str] = {}  # bounded: routes x methods x 2
        self._subjects: dict[str, str] = {}

    # -- the hot path --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        status: int,
        latency_ms: float,
        user_id: str | None,
        app_id: int | None,
        subject: str | None,
        error: str | None,
    ) -> None:
        """One line per request. ``path`` must already be free of query strings."""
        level = "info"
        if status >= 500:
            # A not-ready answer is an operator's warning (a back end is away), not a failure
            # of this request; the server logs it once a second besides (app.readyz).
            level = "warning" if path == "/readyz" else "error"
        if LEVELS[level] < self.level:
            return
        if self.json:
            # The fields between the time and the status repeat: built once per route.
            key = (level, method, path)
            middle = self._middles.get(key)
            if middle is None:
                middle = self._middles[key] = (
                    f'","level":"{level}","msg":"request",'
                    f'"method":{_escape(method)},"path":{_escape(path)},"status":'
                )
            line = f'{{"ts":"{self._clock.now()}{middle}{status},"latency_ms":{latency_ms:.3f}'
            if user_id is not None:
                line += f',"user_id":{_escape(self._scrub_id(user_id))}'
            if app_id is not None:
                line += f',"app_id":{app_id}'
            if subject is not None:
                # A server sees few callers (its API keys' names); each is scrubbed once.
                field = self._subjects.get(subject)
                if field is None:
                    if len(self._subjects) >= _SUBJECTS_KEPT:
                        self._subjects.clear()
                    field = self._subjects[subject] = f',"auth":{_escape(self._scrub_id(subject))}'
                line += field
            if error is not None:
                line += f',"error":{_escape(error)}'
            self._queue(line + "}\n")
        else:
            fields: dict[str, Any] = {
                "method": method,
                "path": path,
                "status": status,
                "latency_ms": round(latency_ms, 3),
                "user_id": None if user_id is None else self._scrub_id(user_id),
                "app_id": app_id,
                "auth": None if subject is None else self._scrub_id(subject),
                "error": error,
            }
            self._queue(self._text(level, "request", fields))

    # -- everything else -----------------------------------------------------------------------

    def event(self, level: str, message: str, **fields: Any) -> None:
        if LEVELS[level] < self.level:
            return
        message = self.scrub(message)
        clean = {k: self._clean(v) for k, v in fields.items()}
        if self.json:
            record = {"ts": self._clock.now(), "level": level, "msg": message, **clean}
            self._write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
        else:
            self._write(self._text(level, message, clean))

    def exception(self, message: str, exc: BaseException, **fields: Any) -> None:
        """Log an unexpected exception: its type, scrubbed message and the frames (no locals)."""
        self.event("error", message, **exception_fields(exc), **fields)

    def record(self, record: logging.LogRecord) -> None:
        """Write a standard ``logging`` record with its ``extra`` fields and exception."""
        level = record.levelname.lower()
        level = "error" if level == "critical" else level
        if level not in LEVELS or LEVELS[level] < self.level:
            return
        try:
            message = record.getMessage()
        except Exception:  # a bad %-format must not lose the line
            message = str(record.msg)
        name = "granian" if record.name.startswith("_granian") else record.name
        fields: dict[str, Any] = {"logger": name}
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                # an extra named like the line's own keys must neither replace them nor clash
                fields[f"extra_{key}" if key in _LINE_KEYS else key] = value
        if record.exc_info and record.exc_info[1] is not None:
            fields.update(exception_fields(record.exc_info[1]))
        self.event(level, message, **fields)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.scrub(str(value))

    def _scrub_id(self, text: str) -> str:
        """``scrub`` for the request line's IDs, which are short and almost never match: the
        substring tests each pattern needs cost a tenth of running the patterns."""
        if (
            "eyJ" in text  # a JWT
            or (len(text) >= 42 and "04" in text)  # a token
            or len(text.split(None, 1)) > 1  # "Bearer <credential>"
        ):
            return self.scrub(text)
        for secret in self._secrets:
            if secret in text:
                return self.scrub(text)
        return text

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[secret]")
        text = _BEARER.sub(r"\1[credential]", text)
        text = _JWT_LIKE.sub("[jwt]", text)
        return _TOKEN_LIKE.sub("[token]", text)

    def _text(self, level: str, message: str, fields: dict[str, Any]) -> str:
        parts = [self._clock.now(), level.upper(), message]
        for key, value in fields.items():
            if value is None:
                continue
            shown = value if isinstance(value, int | float) else json.dumps(str(value))
            parts.append(f"{key}={shown}")
        return " ".join(str(p) for p in parts) + "\n"

    def _queue(self, line: str) -> None:
        self._pending.append(line)
        if self._timer.scheduled:
            if len(self._pending) >= FLUSH_LINES:
                self._drain()  # the timer stays scheduled and finds less to do
            return
        self._timer.schedule()

    def flush(self) -> None:
        """Write the queued request lines now (at shutdown; the timer drains them otherwise)."""
        self._drain()

    def _drain(self) -> None:
        """Write the queued lines in chunks that never split a line."""
        pending, self._pending = self._pending, []
        chunk = ""
        for line in pending:
            if chunk and len(chunk) + len(line) > _CHUNK:
                self._write(chunk)
                chunk = ""
            chunk += line
        if chunk:
            self._write(chunk)

    def _write(self, text: str) -> None:
        # A closed or full log pipe must never fail a request.
        with contextlib.suppress(OSError):
            os.write(self.fd, text.encode("utf-8", "backslashreplace"))


def exception_fields(exc: BaseException) -> dict[str, Any]:
    """An exception as log fields: its type, message and innermost frames (no locals, no
    source lines: those could hold request data)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "exception": type(exc).__name__,
        "detail": str(exc)[:500],
        "traceback": [f"{f.filename}:{f.lineno} in {f.name}" for f in frames[-_TRACEBACK_FRAMES:]],
    }


class LogHandler(logging.Handler):
    """Hands standard ``logging`` records to a ``Logger``, so they are written, formatted and
    scrubbed exactly like the server's own lines. Built by ``logging.config`` from
    ``granian_log_config`` in each process."""

    def __init__(
        self, fmt: str = "json", log_level: str = "info", secrets: Iterable[str] = ()
    ) -> None:
        super().__init__()
        self.logger = Logger(log_level, fmt, secrets=secrets)
        self._worker_exits = WorkerExits()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.name.startswith("_granian"):
                self._worker_exits.rewrite(record)
            self.logger.record(record)
        except Exception:
            self.handleError(record)


def granian_log_config(
    fmt: str, level: str = "info", secrets: Iterable[str] = ()
) -> dict[str, Any]:
    """A ``logging.config`` dict sending Granian's own messages and the ``zego_token`` loggers
    (auth, hook, rate limit) to ``LogHandler``: one writer, one format, one scrubbing."""
    handler = {
        "class": "zego_token.server.logs.LogHandler",
        "fmt": fmt,
        "log_level": level,
        "secrets": list(secrets),
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"console": dict(handler), "access": dict(handler)},
        "loggers": {
            "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "zego_token": {
                "handlers": ["console"],
                "level": level.upper(),
                "propagate": False,
            },
        },
    }
