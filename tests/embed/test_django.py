"""The Django URL patterns serve the standalone server's contract: Django's test client (with
CsrfViewMiddleware on) and a real ``runserver`` process."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence

import httpx
import pytest

from tests.embed.contract import (
    CHECK_IDS,
    CHECKS,
    Answer,
    Client,
    free_port,
    httpx_client,
    python,
    running,
)

SETTINGS = "tests.embed.django_site"


@pytest.fixture(scope="module")
def in_process() -> Client:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    import django
    from django.test import Client as DjangoClient

    django.setup()
    client = DjangoClient(enforce_csrf_checks=True)  # as a browser is treated: CSRF enforced

    def call(
        method: str,
        path: str,
        *,
        user: str | None = None,
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> Answer:
        client.cookies.clear()
        if user is not None:
            client.cookies["session"] = user
        if params:
            from urllib.parse import urlencode

            path += ("&" if "?" in path else "?") + urlencode(params)
        response = (
            client.generic(
                method,
                path,
                data=body or b"",
                content_type=content_type or "application/octet-stream",
            )
            if method != "GET"
            else client.get(path)
        )
        return Answer(
            response.status_code,
            {k.lower(): v for k, v in response.headers.items()},
            response.content,
        )

    return call


@pytest.fixture(scope="module")
def django_process() -> Iterator[Client]:
    port = free_port()
    command = python(
        "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload", "--settings", SETTINGS
    )
    with running(command, port) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield httpx_client(client)


@pytest.mark.parametrize("check", CHECKS, ids=CHECK_IDS)
def test_django_test_client(in_process: Client, check: Callable[[Client], None]) -> None:
    check(in_process)


@pytest.mark.parametrize("check", CHECKS, ids=CHECK_IDS)
def test_django_runserver_process(django_process: Client, check: Callable[[Client], None]) -> None:
    check(django_process)


def test_an_async_authorize_and_permission_denied_reach_django(in_process: Client) -> None:
    from django.core.exceptions import PermissionDenied
    from django.http import HttpRequest
    from django.test import RequestFactory

    from tests.embed.sites import SECRET, issuer
    from zego_token import decode_token04
    from zego_token.integrations import Identity
    from zego_token.integrations.django import token_urlpatterns

    async def authorize(request: HttpRequest) -> Identity | None:
        if request.headers.get("X-Banned"):
            raise PermissionDenied
        return Identity(user_id="carol")

    view = token_urlpatterns(issuer, authorize=authorize)[0].callback
    factory = RequestFactory()
    ok = view(factory.get("/z/token", {"userID": "carol"}))
    assert ok.status_code == 200
    assert ok["Cache-Control"] == "no-store"
    assert decode_token04(json.loads(ok.content)["token"], SECRET).user_id == "carol"
    with pytest.raises(PermissionDenied):
        view(factory.get("/z/token", {"userID": "carol"}, HTTP_X_BANNED="1"))
