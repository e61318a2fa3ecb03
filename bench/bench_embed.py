"""What the embedded token endpoint costs inside FastAPI, Flask and Django.

Each framework's own app is called in-process, without a network or a server in between (the
server is the same for both routes, so it would only add the same constant to each): its
hello-world route (a handler returning a small JSON object) against our token route mounted in
the same app (``GET <mount>/token?userID=alice&expired_ts=3600``, ``authorize`` returning the
signed-in user). The difference is what our route adds on top of the framework; subtracting
``TokenIssuer.token`` (the AES-GCM token itself, which any token endpoint pays) leaves the
adapter and pipeline's own overhead. The two routes alternate A B A B; medians of rounds.

    .venv/bin/python bench/bench_embed.py            # 5 rounds of ~1 s per route
    .venv/bin/python bench/bench_embed.py --quick    # one short round, to check it works
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import report

from zego_token import TokenIssuer
from zego_token.integrations import Identity

APP_ID = 1234567890
SECRET = "0123456789abcdef0123456789abcdef"
QUERY = "userID=alice&expired_ts=3600"
MOUNT = "/api/zego"

Call = Callable[[str, str], tuple[int, bytes]]  # (path, query) -> (status, body)


def issuer() -> TokenIssuer:
    return TokenIssuer(APP_ID, SECRET, default_ttl=3600, max_ttl=86400)


def fastapi_app() -> Call:
    from fastapi import FastAPI, Request

    from zego_token.integrations.fastapi import token_router

    def authorize(request: Request) -> Identity:
        return Identity(user_id="alice")

    app = FastAPI()
    app.include_router(token_router(issuer(), authorize=authorize), prefix=MOUNT)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    loop = asyncio.new_event_loop()

    async def asgi(path: str, query: str) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(b"host", b"127.0.0.1")],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return sent[0]["status"], body

    return lambda path, query: loop.run_until_complete(asgi(path, query))


def _wsgi(app: Callable[..., Any]) -> Call:
    def call(path: str, query: str) -> tuple[int, bytes]:
        environ = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        status: list[str] = []
        chunks = app(environ, lambda s, headers, exc_info=None: status.append(s))
        body = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        return int(status[0].split()[0]), body

    return call


def flask_app() -> Call:
    from flask import Flask, Request

    from zego_token.integrations.flask import token_blueprint

    def authorize(request: Request) -> Identity:
        return Identity(user_id="alice")

    app = Flask("bench")
    app.register_blueprint(token_blueprint(issuer(), authorize=authorize), url_prefix=MOUNT)

    @app.get("/hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    return _wsgi(app.wsgi_app)


def django_app() -> Call:
    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.http import HttpRequest, JsonResponse
    from django.urls import include, path

    from zego_token.integrations.django import token_urlpatterns

    def authorize(request: HttpRequest) -> Identity:
        return Identity(user_id="alice")

    def hello(request: HttpRequest) -> JsonResponse:
        return JsonResponse({"hello": "world"})

    module = type(sys)("bench_embed_urls")
    module.urlpatterns = [  # type: ignore[attr-defined]
        path("hello", hello),
        path(MOUNT.strip("/") + "/", include(token_urlpatterns(issuer(), authorize=authorize))),
    ]
    sys.modules[module.__name__] = module
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["127.0.0.1"],
        ROOT_URLCONF=module.__name__,
        SECRET_KEY="bench-only-not-secret",  # Django refuses to start without one
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        INSTALLED_APPS=[],
        DATABASES={},
    )
    django.setup()
    return _wsgi(WSGIHandler())


FRAMEWORKS: dict[str, Callable[[], Call]] = {
    "FastAPI": fastapi_app,
    "Flask": flask_app,
    "Django": django_app,
}


def per_call_us(fn: Callable[[], object], seconds: float) -> float:
    """Microseconds per call over batches until ``seconds`` have passed (the fastest batch)."""
    batch, best, deadline = 200, float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        best = min(best, (time.perf_counter() - start) / batch * 1e6)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="A B C rounds (5)")
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per route per round")
    parser.add_argument("--quick", action="store_true", help="one short round")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = 1, 0.2

    print("## Embedded endpoint: what it adds inside each framework\n")
    print("\n".join(report.machine_lines()))
    print(
        f"- in-process calls of each framework's app (no server, no socket); {args.rounds} "
        f"rounds of {args.seconds:g} s per route, alternating; the fastest batch of each round, "
        "median of rounds"
    )
    print(f"- command: `{' '.join(['.venv/bin/python', *sys.argv])}`\n")

    mint = issuer()
    mint_us = statistics.median(
        per_call_us(lambda: mint.token("alice", ttl=3600), args.seconds) for _ in range(args.rounds)
    )
    rows = []
    for name, build in FRAMEWORKS.items():
        call = build()
        status, body = call("/hello", "")
        assert status == 200, (name, status, body)
        status, body = call(f"{MOUNT}/token", QUERY)
        assert status == 200 and "token" in json.loads(body), (name, status, body[:200])
        hello, token = [], []
        for _ in range(args.rounds):
            hello.append(per_call_us(lambda call=call: call("/hello", ""), args.seconds))
            token.append(per_call_us(lambda call=call: call(f"{MOUNT}/token", QUERY), args.seconds))
        h, t = statistics.median(hello), statistics.median(token)
        adapter = t - h - mint_us
        rows.append(
            (
                name,
                f"{h:.1f}",
                f"{t:.1f}",
                f"{t - h:.1f}",
                f"{adapter:.1f}",
                f"{adapter / h * 100:.0f} %",
                "met" if adapter <= 0.25 * h else "missed",
            )
        )
    print(
        report.table(
            (
                "framework",
                "hello-world us",
                "token route us",
                "difference us",
                "minus the token itself us",
                "overhead / hello-world",
                "<= 25 %",
            ),
            rows,
        )
    )
    print(
        f"\n- the token itself (`TokenIssuer.token`, AES-GCM and base64): {mint_us:.1f} us per "
        "call, in every token route; the last columns leave it out"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
