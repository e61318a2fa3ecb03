"""The JWKS cache in-process, against the loopback identity provider: the fetch's overall
deadline, the body cap, one fetch for many waiters, and the backoff after a failure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from tests.fixtures.idp import IdentityProvider
from zego_token.auth.jwks import MAX_JWKS_BYTES, JwksCache, JwksUnavailable, fetch_json


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider().start()
    yield provider
    provider.stop()


def cache(
    idp: IdentityProvider, *, timeout: float = 1.0, refresh_interval: float = 30
) -> JwksCache:
    return JwksCache(idp.jwks_url, lifespan=300, refresh_interval=refresh_interval, timeout=timeout)


def test_fetch_returns_the_jwks(idp: IdentityProvider) -> None:
    data = fetch_json(idp.jwks_url, 2.0)
    assert isinstance(data, dict) and [key["kid"] for key in data["keys"]] == ["key-1"]


@pytest.mark.parametrize("misbehaviour", ["delay", "trickle"])
def test_fetch_has_one_deadline_for_the_whole_download(
    idp: IdentityProvider, misbehaviour: str
) -> None:
    setattr(idp, misbehaviour, 10.0 if misbehaviour == "delay" else 0.2)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        fetch_json(idp.jwks_url, 1.0)
    # Trickled at 0.2 s a byte the document would take minutes, and a per-read timeout would
    # never fire; the margin over the 1 s deadline is for a busy 2-core CI machine (2.3 s seen).
    assert time.monotonic() - started < 5.0


def test_a_body_larger_than_a_jwks_is_refused(idp: IdentityProvider) -> None:
    # The same public key under many kids: a valid-looking document over the cap.
    for index in range(MAX_JWKS_BYTES // 400):
        idp.keys[f"k{index}"] = idp.keys["key-1"]
        idp.published.append(f"k{index}")
    with pytest.raises(ValueError, match="larger than"):
        fetch_json(idp.jwks_url, 10.0)


def test_error_status_is_an_error(idp: IdentityProvider) -> None:
    idp.status = 500
    with pytest.raises(OSError):
        fetch_json(idp.jwks_url, 2.0)


def test_many_unknown_kid_requests_share_one_fetch(idp: IdentityProvider) -> None:
    keys = cache(idp)
    idp.delay = 0.3

    async def scenario() -> list[object]:
        return await asyncio.gather(*(keys.lookup("key-1") for _ in range(20)))

    results = asyncio.run(scenario())
    assert all(isinstance(result, dict) for result in results)
    assert idp.fetches == 1 and idp.max_in_flight == 1


def test_failed_fetches_are_retried_with_a_short_backoff(idp: IdentityProvider) -> None:
    keys = cache(idp)
    idp.status = 500

    async def scenario() -> list[int]:
        retry_after = []
        until = time.monotonic() + 3.2
        while time.monotonic() < until:
            with pytest.raises(JwksUnavailable) as caught:
                await keys.lookup("key-1")
            retry_after.append(caught.value.retry_after)
            await asyncio.sleep(0.05)
        return retry_after

    retry_after = asyncio.run(scenario())
    # Attempts at about 0, 0.5, 1.5 s (then 3.5 s): neither one per request nor one per 30 s.
    assert 3 <= idp.fetches <= 4, idp.fetches
    assert set(retry_after) <= {1, 2, 3, 4} and max(retry_after) >= 2
    idp.status = 200
    time.sleep(max(retry_after))

    async def recovered() -> None:
        assert await keys.lookup("key-1") is not None
        assert await keys.ready()

    asyncio.run(recovered())


def test_a_retry_after_from_the_provider_is_honoured(idp: IdentityProvider) -> None:
    keys = cache(idp)
    idp.status = 503
    idp.retry_after = "3"

    async def scenario() -> list[int]:
        retry_after = []
        until = time.monotonic() + 2.0
        while time.monotonic() < until:
            with pytest.raises(JwksUnavailable) as caught:
                await keys.lookup("key-1")
            retry_after.append(caught.value.retry_after)
            await asyncio.sleep(0.05)
        return retry_after

    retry_after = asyncio.run(scenario())
    # One attempt, then nothing for the 3 s asked (the backoff alone would retry at 0.5, 1.5 s).
    assert idp.fetches == 1, idp.fetches
    assert retry_after[0] == 3 and min(retry_after) >= 1


def test_a_jwks_listing_one_kid_twice_is_refused_and_the_last_good_keys_kept(
    idp: IdentityProvider, caplog: pytest.LogCaptureFixture
) -> None:
    keys = cache(idp, refresh_interval=1)
    good = asyncio.run(keys.lookup("key-1"))
    assert good is not None
    idp.add_key("key-2", publish=False)
    idp.extra_jwks = [idp.jwk("key-2", as_kid="key-1")]  # an impostor under a known kid
    idp.add_key("key-3")

    async def scenario() -> None:
        await asyncio.sleep(1.1)  # past the floor: an unknown kid refetches at once
        with pytest.raises(JwksUnavailable):
            await keys.lookup("key-3")  # the document is refused, so the answer is not "no"
        assert await keys.lookup("key-1") == good  # the last good key, not the impostor

    with caplog.at_level("ERROR", logger="zego_token.server.auth_jwt"):
        asyncio.run(scenario())
    assert any("'key-1' twice" in record.getMessage() for record in caplog.records)


def test_made_up_kids_delay_a_real_new_key_by_at_most_the_floor(idp: IdentityProvider) -> None:
    keys = cache(idp, refresh_interval=1)
    idp.add_key("key-2", publish=False)

    async def flood(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.gather(
                *(_absent(keys, f"made-up-{index}") for index in range(10)),
                return_exceptions=True,
            )

    async def scenario() -> float:
        assert await keys.lookup("key-1") is not None
        stop = asyncio.Event()
        flooding = asyncio.create_task(flood(stop))
        await asyncio.sleep(1.5)  # the made-up kids have the provider fetched once a second
        idp.published.append("key-2")  # rotated: published now, presented at once
        started = time.monotonic()
        found = await keys.lookup("key-2")
        waited = time.monotonic() - started
        stop.set()
        await flooding
        assert found is not None
        return waited

    waited = asyncio.run(scenario())
    assert waited < 1.0 + 0.5, waited  # the floor, plus one loopback fetch on a busy machine


async def _absent(keys: JwksCache, kid: str) -> None:
    assert await keys.lookup(kid) is None
