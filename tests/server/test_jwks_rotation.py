"""Key rotation at the identity provider costs no sign-in: a token signed with a key the provider
has just published is accepted on its first presentation, by every worker, with the default
settings. A real server (two workers) and the loopback identity provider; run with ``-s`` for
the counts."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.idp import AUDIENCE, ISSUER, IdentityProvider
from tests.server.conftest import RunUntilExit, StartServer

ROTATE_AT = (1.0, 4.0)  # seconds into the run: key-2, then key-3 (key-1 withdrawn)
RUN_SECONDS = 7.0
CLIENTS = 4


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider().start()
    yield provider
    provider.stop()


def jwks_config(idp: IdentityProvider, extra: str = "") -> str:
    return f"""
[auth]
modes = ["jwt"]

[auth.jwt]
algorithms = ["RS256"]
issuer = "{ISSUER}"
audience = ["{AUDIENCE}"]
jwks_url = "{idp.jwks_url}"
{extra}
"""


def rotation_scenario(server: str, idp: IdentityProvider) -> Counter[str]:
    """Clients ask for tokens with the newest JWT while the provider rotates twice; the
    answers by status (and code for refusals)."""
    current = {"jwt": idp.rs256(idp.claims())}
    answers: Counter[str] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=20) as http:
            while not stop.is_set():
                response = http.get(
                    f"{server}/api/token",
                    params={"userID": "alice"},
                    headers={"Authorization": f"Bearer {current['jwt']}"},
                )
                outcome = str(response.status_code)
                if response.status_code != 200:
                    outcome += " " + response.json()["error"]["code"]
                with lock:
                    answers[outcome] += 1

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        for index, at in enumerate(ROTATE_AT, start=2):
            time.sleep(max(0.0, started + at - time.monotonic()))
            kid = f"key-{index}"
            idp.add_key(kid)  # published next to the old key, then used at once
            if index == 3:
                idp.published.remove("key-1")
            current["jwt"] = idp.rs256(idp.claims(), kid=kid)
        time.sleep(max(0.0, started + RUN_SECONDS - time.monotonic()))
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    return answers


def test_a_rotated_key_is_accepted_on_its_first_presentation(
    start_server: StartServer, idp: IdentityProvider
) -> None:
    server = start_server(jwks_config(idp), args=["--workers", "2"])
    answers = rotation_scenario(server, idp)
    print(f"\n[rotation] {sum(answers.values())} requests, two rotations: {dict(answers)}")
    refused = {k: v for k, v in answers.items() if not k.startswith("200")}
    assert refused == {}, answers
    assert answers["200"] > 100


def test_a_refresh_interval_below_one_second_is_refused(
    run_until_exit: RunUntilExit, idp: IdentityProvider
) -> None:
    code, out, err = run_until_exit(jwks_config(idp, "jwks_refresh_interval = 0"))
    assert code != 0
    assert "auth.jwt.jwks_refresh_interval" in out + err
    assert "at least 1 second" in out + err
