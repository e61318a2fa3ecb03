"""A slow sync hook cannot starve everyone else's: six requests to a slow room once made every
legitimate request ``403 hook_error`` for as long as the slow calls ran, because a timed-out
thread runs on and they shared the event loop's six default threads. The hook now has threads
of its own and a per-client share: the slow client is refused with 503 ``hook_busy`` beyond its
share, and legitimate requests keep succeeding. A real server with a real hook module."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.server.conftest import StartServer, sha256_hex

ATTACKER_KEY = "zt_attacker_key_4Hq8Vn2Lm7Xc9Rb3"
LEGIT_KEY = "zt_legit_key_6Tw3Yp8Kd2Fs5Jn9Ge"
SLOW_SECONDS = 8.0

HOOK = f"""
import time

def check(ctx):
    if (ctx.request.room_id or "").startswith("slow-"):
        time.sleep({SLOW_SECONDS})  # a database that hangs: the timeout cannot stop this
    return True
"""

CONFIG = f"""
[auth]
modes = ["api_key"]

[[auth.api_keys]]
name = "attacker"
sha256 = "{sha256_hex(ATTACKER_KEY)}"

[[auth.api_keys]]
name = "legit"
sha256 = "{sha256_hex(LEGIT_KEY)}"

[hook]
function = "slow_rules:check"
timeout = 1.0
"""


def ask(client: httpx.Client, server: str, key: str, room: str) -> httpx.Response:
    return client.get(
        f"{server}/api/token",
        params={"userID": "alice", "roomID": room},
        headers={"Authorization": f"Bearer {key}"},
    )


def test_six_slow_requests_do_not_starve_legitimate_ones(
    start_server: StartServer, tmp_path: Path
) -> None:
    (tmp_path / "slow_rules.py").write_text(HOOK)
    server = start_server(CONFIG, env={"PYTHONPATH": str(tmp_path)})
    slow: Counter[str] = Counter()

    def attacker() -> None:
        with httpx.Client(timeout=30) as client:
            response = ask(client, server, ATTACKER_KEY, "slow-room")
            slow[f"{response.status_code} {response.json()['error']['code']}"] += 1
            if response.status_code == 503:
                assert int(response.headers["retry-after"]) >= 1

    attackers = [threading.Thread(target=attacker) for _ in range(6)]
    for thread in attackers:
        thread.start()
    time.sleep(0.3)  # the slow calls are running (and will run on past their timeout)
    legit: Counter[int] = Counter()
    with httpx.Client(timeout=30) as client:
        until = time.monotonic() + 5.0
        while time.monotonic() < until:
            legit[ask(client, server, LEGIT_KEY, "team-room").status_code] += 1
    for thread in attackers:
        thread.join(30)
    print(f"\n[hook starvation] slow client: {dict(slow)}; legitimate client: {dict(legit)}")
    assert set(legit) == {200}, legit
    assert legit[200] >= 20
    # The slow client's share: two calls time out (403), the other four are refused at once.
    assert slow == {"403 hook_error": 2, "503 hook_busy": 4}, slow
