"""Granian's "Killing worker-N after it refused to gracefully stop", checked against the facts.

Granian joins a stopping worker from its main thread while a watcher thread of its own also
waits for that process. When the watcher reaps the exit first, the main thread's
``is_alive()`` still says True for a moment, and Granian logs that it kills a worker that has
in fact already exited (it logged "worker stopped" a few ms before). Operators chase that line.

``WorkerExits`` follows Granian's "Spawning worker-N with PID: P" lines to know each worker's
process IDs; for a kill line it looks at those processes: when none is still running (gone or
a zombie awaiting its reaper), the line is rewritten at info level to what happened. A worker
that really is still running keeps Granian's warning.
"""

from __future__ import annotations

import logging
import re

_SPAWN = re.compile(r"^Spawning worker-(\d+) with PID: (\d+)$")
_KILL = re.compile(r"^Killing (old )?worker-(\d+) after it refused to gracefully stop$")
_KEPT = 8  # process IDs remembered per worker slot (respawns in a row)


class WorkerExits:
    def __init__(self) -> None:
        self._pids: dict[int, list[int]] = {}  # worker slot -> its process IDs, newest last

    def rewrite(self, record: logging.LogRecord) -> None:
        """Note a spawn line; turn a kill line for a worker that already exited into an info
        line saying so. Changes ``record`` in place."""
        message = record.getMessage()
        spawn = _SPAWN.match(message)
        if spawn is not None:
            pids = self._pids.setdefault(int(spawn.group(1)), [])
            pids.append(int(spawn.group(2)))
            del pids[:-_KEPT]
            return
        kill = _KILL.match(message)
        if kill is None:
            return
        slot = int(kill.group(2))
        pids = self._pids.get(slot, [])
        # "old worker-N": a respawn, whose new process was spawned first; else the newest.
        candidates = pids[:-1] if kill.group(1) else pids[-1:]
        if candidates and not any(_running(pid) for pid in candidates):
            record.msg = (
                f"worker-{slot} had already exited when Granian checked it; nothing to kill"
            )
            record.args = None
            record.levelno, record.levelname = logging.INFO, "INFO"


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie has exited)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # "pid (name) S ...": the state follows the last ')', the name may hold any byte
            return stat.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        return True  # cannot tell (no /proc): keep Granian's warning
