"""Run a flush at most once per interval on the worker's event loop.

Request logs and metrics batch their per-request work (a list append, a dict increment) and
hand it on in one go: a write or a prometheus_client update per request costs more than the
rest of the request's bookkeeping together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class FlushTimer:
    """Calls ``action`` ``seconds`` after the first ``schedule()`` since the last call."""

    __slots__ = ("_action", "_seconds", "scheduled")

    def __init__(self, seconds: float, action: Callable[[], None]) -> None:
        self._seconds = seconds
        self._action = action
        self.scheduled = False

    def schedule(self) -> None:
        if self.scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._action()  # no loop (start-up, shutdown, tests): nothing to batch with
            return
        self.scheduled = True
        loop.call_later(self._seconds, self._fire)

    def _fire(self) -> None:
        self.scheduled = False
        self._action()
