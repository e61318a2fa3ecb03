"""A slow, trickling, failing or closed JWKS never stalls requests whose key is cached, holds no
request beyond ``jwks_timeout``, and is used again within seconds of coming back; /readyz says
so.

Real processes and sockets: the token server is ``python -m zego_token.server``; the identity
provider (tests/fixtures/idp.py) serves its JWKS on loopback and is made slow (10 s before
answering), trickling (a byte per second), failing (500) or closed (port shut), then healthy.
Run with ``-s`` to see the measured numbers.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.idp import AUDIENCE, ISSUER, IdentityProvider
from tests.server.conftest import StartServer

CACHE_SECONDS = 2  # jwks_cache_seconds: short, so the tests see keys go stale


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider().start()
    yield provider
    provider.stop()


def config(idp: IdentityProvider, *, timeout: float = 5.0) -> str:
    return f"""
[auth]
modes = ["jwt"]

[auth.jwt]
algorithms = ["RS256"]
issuer = "{ISSUER}"
audience = ["{AUDIENCE}"]
jwks_url = "{idp.jwks_url}"
jwks_cache_seconds = {CACHE_SECONDS}
jwks_refresh_interval = 1
jwks_timeout = {timeout}
"""


def ask(client: httpx.Client, server: str, jwt: str) -> httpx.Response:
    return client.get(
        f"{server}/api/token",
        params={"userID": "alice"},
        headers={"Authorization": f"Bearer {jwt}"},
    )


def timed(client: httpx.Client, server: str, jwt: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = ask(client, server, jwt)
    return response, time.monotonic() - started


def code(response: httpx.Response) -> str:
    value: str = response.json()["error"]["code"]
    return value


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def report(name: str, **numbers: float) -> None:
    print(f"\n[jwks] {name}: " + ", ".join(f"{k}={v:.3f}" for k, v in numbers.items()))


def wait_until_200(
    client: httpx.Client, server: str, jwt: str, *, limit: float, path: str = "/api/token"
) -> float:
    """Seconds until ``jwt`` (or ``path``) gets a 200, polling every 0.1 s; fails after limit."""
    started = time.monotonic()
    last: httpx.Response | None = None
    while time.monotonic() - started < limit:
        last = ask(client, server, jwt) if path == "/api/token" else client.get(f"{server}{path}")
        if last.status_code == 200:
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"no 200 within {limit} s; last answer {last and last.text}")


# --- item 6: a slow JWKS ---------------------------------------------------------------------


def test_cached_kid_requests_do_not_wait_for_a_slow_refresh(
    start_server: StartServer, idp: IdentityProvider
) -> None:
    server = start_server(config(idp, timeout=5.0))
    jwt = idp.rs256(idp.claims())
    with httpx.Client(timeout=20) as client:
        assert ask(client, server, jwt).status_code == 200  # the keys are fetched and cached
        normal = [timed(client, server, jwt)[1] for _ in range(50)]
        idp.delay = 10.0  # from now on the JWKS takes 10 s to answer
        time.sleep(CACHE_SECONDS + 0.3)  # the cached keys are now stale
        fetches = idp.fetches
        first = time.monotonic()  # the first of these requests starts the refresh
        during: list[float] = []
        for _ in range(50):
            started = time.monotonic()
            response, elapsed = timed(client, server, jwt)
            assert response.status_code == 200, response.text
            if started - first < 4.5:  # the refresh (deadline 5 s) is surely still running
                during.append(elapsed)
            time.sleep(0.02)
        assert idp.fetches == fetches + 1  # exactly one refresh for all of them
        assert len(during) >= 25, "the machine is too slow to measure inside the refresh"
    report(
        "slow JWKS (10 s), cached-kid requests during the refresh",
        requests=len(during),
        normal_p50=statistics.median(normal),
        normal_p99=p99(normal),
        during_p50=statistics.median(during),
        during_p99=p99(during),
        during_max=max(during),
    )
    # Before the fix the first stale request waited the whole 5 s deadline.
    assert max(during) < 1.0, during
    assert idp.max_in_flight == 1  # one refresh at a time


# --- item 6: a trickling JWKS ----------------------------------------------------------------


def test_trickling_jwks_holds_no_request_beyond_the_deadline(
    start_server: StartServer, idp: IdentityProvider
) -> None:
    timeout = 2.0
    idp.trickle = 1.0  # a byte per second: each read succeeds, the body never ends in time
    server = start_server(config(idp, timeout=timeout))
    jwt = idp.rs256(idp.claims())
    results: list[tuple[int, str, float]] = []

    def one() -> None:
        with httpx.Client(timeout=30) as client:
            response, elapsed = timed(client, server, jwt)
            retry = response.headers.get("retry-after", "")
            results.append((response.status_code, code(response) + f"/{retry}", elapsed))

    threads = [threading.Thread(target=one) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    held = [elapsed for _, _, elapsed in results]
    assert len(results) == 5
    for status, what, _ in results:
        assert status == 503 and what.startswith("jwks_unavailable/"), results
        assert 1 <= int(what.split("/")[1]) <= 4
    # The server closed the trickling download at its deadline: the provider saw the reader
    # hang up (it notices on its next one-byte write, a second or two later).
    deadline_passed = time.monotonic() + 10
    while not idp.served and time.monotonic() < deadline_passed:
        time.sleep(0.1)
    (start, end, outcome), *_ = idp.served
    report(
        "trickling JWKS (1 byte/s), jwks_timeout=2",
        longest_request=max(held),
        download_held=end - start,
    )
    assert max(held) < timeout + 1.5, held
    assert outcome == "client gone" and end - start < timeout + 5
    assert idp.max_in_flight == 1


# --- item 7: down at start, then back ----------------------------------------------------------


@pytest.mark.parametrize("outage", ["port closed", "500"])
def test_jwks_down_at_start_is_used_within_seconds_of_coming_back(
    start_server: StartServer, idp: IdentityProvider, outage: str
) -> None:
    if outage == "port closed":
        idp.stop()
    else:
        idp.status = 500
    server = start_server(config(idp))
    jwt = idp.rs256(idp.claims())
    with httpx.Client(timeout=20) as client:
        down_until = time.monotonic() + 4  # long enough for the backoff to reach its cap
        while time.monotonic() < down_until:
            response, elapsed = timed(client, server, jwt)
            assert (response.status_code, code(response)) == (503, "jwks_unavailable")
            assert 1 <= int(response.headers["retry-after"]) <= 4
            assert elapsed < 6.5
            time.sleep(0.25)
        assert client.get(f"{server}/readyz").status_code == 503
        if outage == "port closed":
            idp.start()
        else:
            idp.status = 200
        recovery = wait_until_200(client, server, jwt, limit=15)
        ready = wait_until_200(client, server, jwt, limit=15, path="/readyz")
    report(f"JWKS down at start ({outage}), then up", recovery_seconds=recovery)
    # Before: up to jwks_refresh_interval (30 s). Now: about the 4 s backoff cap, plus slack.
    assert recovery < 8.0
    assert ready < 1.0


# --- item 8: an unknown kid during an outage ---------------------------------------------------


def test_unknown_kid_is_503_while_the_jwks_is_unreachable_and_401_when_it_is_back(
    start_server: StartServer, idp: IdentityProvider
) -> None:
    server = start_server(config(idp))
    known = idp.rs256(idp.claims())
    with httpx.Client(timeout=20) as client:
        assert ask(client, server, known).status_code == 200
        idp.status = 500
        time.sleep(CACHE_SECONDS + 0.3)
        assert ask(client, server, known).status_code == 200  # stale key; a refresh fails
        time.sleep(0.5)
        idp.add_key("key-2")  # the provider rotated, but this server cannot see it yet
        rotated = idp.rs256(idp.claims(), kid="key-2")
        response = ask(client, server, rotated)
        assert (response.status_code, code(response)) == (503, "jwks_unavailable")
        assert 1 <= int(response.headers["retry-after"]) <= 4
        assert ask(client, server, known).status_code == 200  # cached keys keep working
        idp.status = 200
        recovery = wait_until_200(client, server, rotated, limit=15)
        idp.add_key("rogue", publish=False)
        response = ask(client, server, idp.rs256(idp.claims(), kid="rogue"))
        assert (response.status_code, code(response)) == (401, "token_unknown_kid")
    report("outage then new kid", recovery_seconds=recovery)
    assert recovery < 8.0


# --- /readyz ---------------------------------------------------------------------------------


def test_readyz_stays_ready_and_says_degraded_while_cached_keys_verify(
    start_server: StartServer, idp: IdentityProvider
) -> None:
    """Ready means "can serve": with the JWKS closed for longer than the cache lifetime, every
    worker still answers 200 (no flapping between workers), names the degraded part in the body
    and the ``zego_degraded`` gauge, serves the token from cached keys, and logs no error."""
    server = start_server(config(idp, timeout=1.0), args=["--workers", "2"])
    jwt = idp.rs256(idp.claims())
    with httpx.Client(timeout=20) as client:
        assert ask(client, server, jwt).status_code == 200  # both workers may need the key
        assert client.get(f"{server}/readyz").json()["status"] == "ready"
        idp.stop()
        down_at = time.monotonic()
        answers: list[tuple[float, int, str]] = []
        while time.monotonic() - down_at < 3 * CACHE_SECONDS + 3:
            response = client.get(f"{server}/readyz")
            answers.append((time.monotonic() - down_at, response.status_code, response.text))
            time.sleep(0.1)
        assert {status for _, status, _ in answers} == {200}, answers
        degraded = [text for _, _, text in answers if '"degraded"' in text]
        assert degraded and "auth.jwt" in degraded[-1] and "cached keys" in degraded[-1]
        assert ask(client, server, jwt).status_code == 200
        assert 'zego_degraded{part="auth.jwt"} 1.0' in client.get(f"{server}/metrics").text
        idp.start()
        began = time.monotonic()
        while client.get(f"{server}/readyz").json()["status"] != "ready":
            assert time.monotonic() - began < 10
            time.sleep(0.1)
        recovered = time.monotonic() - began
    report(
        "readyz with the JWKS closed",
        readyz_answers=len(answers),
        degraded_answers=len(degraded),
        ready_again_after=recovered,
    )
    assert not [r for r in server.records() if r.get("level") == "error"], server.output()


def test_readyz_is_503_at_warning_when_no_key_was_ever_fetched(
    start_server: StartServer, idp: IdentityProvider
) -> None:
    """A process that never fetched the JWKS cannot verify anything: 503, and one warning line
    a second at most, not an error line per probe."""
    idp.stop()
    server = start_server(config(idp, timeout=0.5))
    with httpx.Client(timeout=20) as client:
        began = time.monotonic()
        statuses = []
        while time.monotonic() - began < 2.0:
            statuses.append(client.get(f"{server}/readyz").status_code)
            time.sleep(0.05)
    time.sleep(0.2)
    assert set(statuses) == {503}
    records = server.records()
    assert not [r for r in records if r.get("level") == "error"], server.output()
    warnings = [r for r in records if r.get("msg") == "not ready"]
    assert 1 <= len(warnings) <= 4, warnings
    assert all(r["level"] == "warning" and r["failing"] == ["auth.jwt"] for r in warnings)
