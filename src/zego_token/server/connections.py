"""Connection limits: how many connections a worker holds, how long a silent one may stay, and
the open-file limit that bounds both. ``serve`` passes ``granian_options()`` to Granian.

Granian admits at most ``backpressure`` connections per worker (default: backlog / workers,
1,024) and holds each admission for the connection's whole life, idle or not: 1,024 silent TCP
connections stopped a one-worker server from answering anyone. An idle connection costs little
(no measurable RSS in the worker; kernel socket buffers), so the cap here follows the real
bound, the open-file limit (raised to the hard limit at start-up) less a reserve for Redis,
JWKS fetches and logs, up to ``MAX_CONNECTIONS_PER_WORKER``. Beyond the cap, new connections
wait in the kernel's listen queue instead of failing ``accept`` with EMFILE. A client that
starts a request must send its headers within ``HEADER_READ_TIMEOUT_MS``, and a kept-alive
connection is closed after as long without a new request; one that never sends a byte is
held until it closes (Granian starts that timer at the first byte), which is what the cap and
a proxy's idle timeout in front are for (docs/security.md).
"""

from __future__ import annotations

import contextlib
import resource
from typing import Any, Protocol

# Descriptors kept free for what a worker opens itself: the listening socket, the Redis pool
# (64 connections), JWKS fetches, hook I/O, log and metrics files.
FD_RESERVE = 512
# The kernel caps this at net.core.somaxconn (4096 on current Linux).
BACKLOG = 4096
# A connection must deliver a request's headers within this time of opening (or, kept alive,
# of its previous response): silent and trickling clients are closed after it.
HEADER_READ_TIMEOUT_MS = 10_000
# At most this many connections per worker, however high the open-file limit: each costs
# kernel socket buffers, so a very high limit (systemd's hard limit is 524,288) must not turn
# into an unbounded amount of memory.
MAX_CONNECTIONS_PER_WORKER = 65_536
# When the hard limit is "unlimited", raise the soft limit to this rather than to infinity.
_UNLIMITED_CAP = 1_048_576
# Below this many connections per worker, start-up warns: a few idle clients could fill it.
_WARN_BELOW = 4096


class _EventLog(Protocol):
    def event(self, level: str, message: str, **fields: Any) -> None: ...


def raise_open_file_limit() -> tuple[int, int]:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit (workers inherit it); return
    ``(soft, hard)`` as they are afterwards. Only the soft limit may be raised without root."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _UNLIMITED_CAP if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft, hard
    # A hard limit above fs.nr_open refuses the raise: keep what we have; the log line says it.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def connections_per_worker(open_files: int) -> int:
    """The most connections one worker admits at once, within its open-file limit."""
    return max(64, min(MAX_CONNECTIONS_PER_WORKER, open_files - FD_RESERVE))


def granian_options(log: _EventLog) -> dict[str, Any]:
    """Raise the open-file limit, log the limits, and return Granian's keyword options."""
    from granian.http import HTTP1Settings

    soft, hard = raise_open_file_limit()
    per_worker = connections_per_worker(soft)
    log.event(
        "info",
        "connection limits",
        open_files=soft,
        open_files_hard=hard,
        connections_per_worker=per_worker,
        backlog=BACKLOG,
        header_read_timeout_s=HEADER_READ_TIMEOUT_MS / 1000,
    )
    if per_worker < _WARN_BELOW:
        log.event(
            "warning",
            f"only {per_worker} connections per worker: raise the open-file limit "
            "(systemd LimitNOFILE=65536, docker --ulimit nofile=65536, ulimit -Hn)",
            open_files=soft,
            open_files_hard=hard,
        )
    return {
        "backlog": BACKLOG,
        "backpressure": per_worker,
        "http1_settings": HTTP1Settings(
            header_read_timeout=HEADER_READ_TIMEOUT_MS,
            keep_alive=True,
        ),
    }
