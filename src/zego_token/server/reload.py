"""Reloading the configuration on SIGHUP: the main process reads and checks it, new workers
start with it.

Granian respawns the workers one by one on SIGHUP, each from the target loader it was given at
start. That loader is a ``WorkerSettings``: the main process replaces its ``settings`` before
the respawn, so every new worker is built from the new configuration (workers are forked, or
pickled with the loader when Granian spawns), and every old one keeps the configuration it
started with: no worker serves a mix. A configuration that does not load or whose components
do not build (a missing key file, a broken hook) is refused with one error line, and the
running workers keep serving.
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from ..pipeline.schema import ConfigError
from .config import Settings

# What a running server cannot change without a restart: the socket and the worker count.
_LISTENING = ("host", "port", "workers", "reuse_port")


class WorkerSettings:
    """Granian's target loader: builds a worker's app from the configuration it holds now."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self) -> Any:
        from .app import worker_app

        return worker_app(self.settings)


class EventLog(Protocol):
    """What the reloader logs through (``logs.Logger``)."""

    def event(self, level: str, message: str, **fields: Any) -> None: ...


class Reloader:
    """Called by the main process on SIGHUP: True when the workers should be replaced."""

    def __init__(
        self,
        load: Callable[[], Settings],
        check: Callable[[Settings], None],
        workers: WorkerSettings,
        log: EventLog,
        on_reload: Callable[[Settings], None] = lambda settings: None,
    ) -> None:
        self.load = load
        self.check = check
        self.workers = workers
        self.log = log
        self.on_reload = on_reload

    def __call__(self) -> bool:
        running = self.workers.settings
        try:
            settings = self.load()
            self.check(settings)
        except ConfigError as exc:
            self.log.event(
                "error",
                f"configuration not reloaded, the running one keeps serving: {exc}",
                key=exc.key,
            )
            return False
        settings, kept = keep_listening(running, settings)
        if kept:
            self.log.event(
                "warning",
                "these settings take effect only at the next restart: " + ", ".join(kept),
            )
        self.workers.settings = settings
        self.on_reload(settings)
        self.log.event(
            "info",
            "configuration reloaded: replacing the workers",
            apps=[app.app_id for app in settings.apps],
            auth=list(settings.auth.modes),
            api_keys=len(settings.auth.api_keys),
        )
        return True


def keep_listening(running: Settings, new: Settings) -> tuple[Settings, list[str]]:
    """``new`` with the running server's socket settings, and the names of those that differ."""
    changed = [
        f"server.{name}"
        for name in _LISTENING
        if getattr(running.server, name) != getattr(new.server, name)
    ]
    kept: dict[str, Any] = {name: getattr(running.server, name) for name in _LISTENING}
    server = msgspec.structs.replace(new.server, **kept)
    return dataclasses.replace(new, server=server, addresses=running.addresses), changed


def ignore_reloads_until_serving() -> None:
    """Before Granian's main loop runs there is nothing to reload, and SIGHUP's default action
    would end the process (a ``systemctl reload`` during start-up); ignored until then. A
    Python handler, not SIG_IGN, which processes started later would inherit."""
    signal.signal(signal.SIGHUP, _ignore)


def _ignore(signum: int, frame: Any) -> None:
    pass
