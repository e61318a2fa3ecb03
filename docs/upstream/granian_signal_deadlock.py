"""A signal handler that calls Event.set() while the main thread is inside Event.wait().

Another process sends SIGUSR1, one at a time: the next only after this process has seen the
last one. When a signal lands while the main thread holds the Event's lock (inside wait(),
before it blocks or as it wakes up), the handler's set() waits for that same lock: a deadlock.
"""

import faulthandler
import os
import signal
import subprocess
import sys
import threading
import time

SENDER = """
import os, random, signal, sys, time
pid = int(sys.argv[1])
while sys.stdin.buffer.read(1):          # one byte per round seen by the main thread
    time.sleep(random.random() / 20000)  # land anywhere in the next wait()
    os.kill(pid, signal.SIGUSR1)
"""

event = threading.Event()
signal.signal(signal.SIGUSR1, lambda signum, frame: event.set())
sender = subprocess.Popen([sys.executable, "-c", SENDER, str(os.getpid())], stdin=subprocess.PIPE)
assert sender.stdin is not None
# No progress for 5 s: print the main thread's stack and exit with status 1.
faulthandler.dump_traceback_later(5, exit=True)
start = time.monotonic()
try:
    for rounds in range(1, 200_001):
        sender.stdin.write(b"x")
        sender.stdin.flush()
        event.wait()
        event.clear()
        if rounds % 1000 == 0:
            faulthandler.dump_traceback_later(5, exit=True)  # re-armed: still making progress
    print(f"no deadlock in {rounds} signals ({time.monotonic() - start:.1f} s)")
finally:
    faulthandler.cancel_dump_traceback_later()
    sender.kill()
