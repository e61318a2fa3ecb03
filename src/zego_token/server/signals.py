"""Granian's main process with stop and reload signals handled without taking a lock.

Granian's handlers call ``threading.Event.set()`` from the signal handler while the main
thread sits in ``Event.wait()`` on that same Event. A signal that lands while the main thread
holds the Event's lock (entering or leaving ``wait()``) makes ``set()`` wait for a lock its
own thread holds: the process never stops (docs/signals.md has a reproduction). And a Python
handler runs only when the main thread runs: a signal the kernel hands to another thread of
the process leaves the main thread blocked in ``wait()``, the handler never called.

So nothing here depends on the main thread: ``signal.set_wakeup_fd`` makes the interpreter's
C-level handler, in whichever thread the signal lands, write the signal's number to a pipe.
A helper thread reads it, sets Granian's flags (``interrupt_signal``, ``reload_signal``) and
calls ``Event.set()``, where waiting for the lock is harmless. The Python handlers Granian
installs do nothing in the main process (they must exist for the C handler to write). While a
stop is pending the helper sets the Event again every ``_RESET_SECONDS``: Granian's loop
clears it before a respawn and would otherwise forget a stop that arrived in between.

A second SIGINT kills the workers and exits at once, for an operator who will not wait for
the graceful stop (``shutdown_timeout``).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
from collections.abc import Callable
from typing import Any

# The multi-process server, which Granian's ``Granian`` name stands for on a GIL build.
from granian.server.mp import MPServer

_RESET_SECONDS = 0.25
FORCED_EXIT = 130  # the shell's code for "stopped by SIGINT"
_STOPS = frozenset((signal.SIGINT, signal.SIGTERM))


class SignalSafeServer(MPServer):
    """Granian's server with signal handling that never blocks (see the module docstring)."""

    interrupt_signal: bool
    reload_signal: bool
    # Called by the main thread on SIGHUP: False keeps the running workers (``reload.Reloader``).
    reload_check: Callable[[], bool] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._main_pid = os.getpid()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)  # a full pipe already means "wake up"
        signal.set_wakeup_fd(self._wake_write, warn_on_full_buffer=False)
        # A forked worker must not write its own signals into the main process's pipe.
        os.register_at_fork(after_in_child=_forget_wakeup_fd)
        threading.Thread(target=self._waker, name="zego-token-signals", daemon=True).start()

    # Granian installs these two bound methods as the Python handlers of SIGINT/SIGTERM and
    # SIGHUP. In the main process the helper thread has done the work already.

    def signal_handler_interrupt(self, signum: int = signal.SIGTERM, frame: Any = None) -> None:
        if os.getpid() != self._main_pid:
            # A worker forked a moment ago, before its own handlers replaced these: stop it
            # as if it had none (it serves nothing yet).
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def signal_handler_reload(self, signum: int = signal.SIGHUP, frame: Any = None) -> None:
        pass  # the main process: the helper thread; a worker not yet serving: nothing to do

    def _waker(self) -> None:
        while True:
            timeout = _RESET_SECONDS if self.interrupt_signal else None
            ready, _, _ = select.select([self._wake_read], [], [], timeout)
            if ready:
                for signum in os.read(self._wake_read, 512):
                    self._received(signum)
            self.main_loop_interrupt.set()

    def _received(self, signum: int) -> None:
        if signum in _STOPS:
            if signum == signal.SIGINT and self.interrupt_signal:
                self._force_exit()
            self.interrupt_signal = True
        elif signum == signal.SIGHUP:
            self.reload_signal = True

    def _reload(self, spawn_target: Any, target_loader: Any) -> None:
        self.reload_signal = False
        self.main_loop_interrupt.clear()
        if self.interrupt_signal:
            return  # stopping: the helper thread wakes the loop again
        if self.reload_check is not None and not self.reload_check():
            return
        super()._reload(spawn_target, target_loader)  # type: ignore[no-untyped-call]

    def _force_exit(self) -> None:
        for worker in list(self.wrks):
            pid = worker.inner.pid
            if pid is not None:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        os._exit(FORCED_EXIT)


def _forget_wakeup_fd() -> None:
    with contextlib.suppress(ValueError):  # not the main thread: nothing was inherited there
        signal.set_wakeup_fd(-1)
