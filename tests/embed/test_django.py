"""The Django URL patterns serve the standalone server's contract: Django's test client (with
CsrfViewMiddleware on) and a real ``runserver`` process."""

from __future__ import annotations

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
