"""``zego-token serve``: load the configuration, then run the ASGI app on Granian.

Only ``argparse`` is imported at module level, so ``zego-token --help`` stays fast; Granian,
the app and ``prometheus_client`` load inside ``run_serve``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Settings

from .logs import LEVELS

EXIT_CONFIG = 2
# On SIGHUP (or a crash) Granian starts the new worker, waits this long, then stops the old
# one: long enough for the new worker to accept connections (~0.1 s measured), short enough
# that a reload of two workers applies within 2 s.
RESPAWN_SECONDS = 0.5


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML configuration file (also ZEGO_TOKEN_CONFIG); see docs/configuration.md",
    )
    parser.add_argument(
        "--host",
        help="IP address or host name to listen on (default 127.0.0.1; a name listens on the "
        "first IPv4 address it resolves to)",
    )
    parser.add_argument(
        "--port", type=int, help="port to listen on (default 8080; 0 picks a free port)"
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="worker processes (default 1; use the core count)"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run with a throwaway AppID and secret on 127.0.0.1 and serve the demo page at "
        "/demo; its tokens are NOT accepted by ZEGOCLOUD",
    )
    parser.add_argument("--log-level", choices=tuple(LEVELS), help="default info")


def run_serve(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT. Returns the process exit code (2: bad configuration)."""
    import os
    import secrets
    import shutil
    import sys
    import tempfile

    from ..pipeline.config import App
    from ..pipeline.schema import ConfigError
    from .config import Overrides, load_settings
    from .logs import Logger, granian_log_config
    from .reload import ignore_reloads_until_serving

    ignore_reloads_until_serving()
    demo = bool(getattr(args, "demo", False))
    overrides = Overrides(
        config_file=getattr(args, "config", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        workers=getattr(args, "workers", None),
        log_level=getattr(args, "log_level", None),
        demo=demo,
    )
    demo_app = None
    if demo:
        # A random AppID far from real ones' usual range, and a random 32-character secret.
        demo_app = App(
            app_id=900_000_000 + secrets.randbelow(99_999_999), secret=secrets.token_hex(16)
        )
    try:
        settings = load_settings(overrides, demo_app=demo_app)
    except ConfigError as exc:
        print(f"zego-token: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    server = settings.server
    port, problem = _claim_port(settings.bind_address, server.port, reuse_port=server.reuse_port)
    if problem is not None:
        print(f"zego-token: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    settings = _listening_on(settings, port)
    url = f"http://{_in_url(settings.bind_address)}:{port}"

    from ..pipeline import tracing
    from .wiring import check_components  # imports no Granian nor prometheus_client

    try:
        tracing.check_environment(os.environ)
        # Hooks, JWT keys and the like load in every worker; load them once here first, so a
        # mistake stops start-up with one line instead of a crash loop of workers.
        check_components(settings)
    except ConfigError as exc:
        print(f"zego-token: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    log = Logger(settings.logging.level, settings.logging.format, secrets=settings.secrets())
    if "none" in settings.auth.modes:
        log.event(
            "warning",
            "auth mode 'none': anyone who can reach this server gets a token for any user ID; "
            "for local development only (configure [[auth.api_keys]] or JWT for production)",
            host=server.host,
        )
    if demo:
        _demo_banner(settings, url)

    metrics_dir: str | None = None
    if settings.server.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Set before any process imports prometheus_client, so every worker writes its
        # counters to files that /metrics aggregates.
        metrics_dir = tempfile.mkdtemp(prefix="zego-token-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir

    from granian.constants import Interfaces, Loops, RuntimeModes
    from granian.log import LogLevels

    from .connections import granian_options
    from .reload import Reloader, WorkerSettings
    from .signals import SignalSafeServer

    loop = _event_loop()
    log.event(
        "info",
        "server starting",
        url=url,
        workers=settings.server.workers,
        apps=[app.app_id for app in settings.apps],
        auth=list(settings.auth.modes),
        demo=settings.demo,
        cors=list(settings.cors.origins),
        loop=loop,
    )
    granian = SignalSafeServer(
        "zego_token.server.app:worker_app",
        address=settings.bind_address,
        port=port,
        # RSGI rather than ASGI: the app speaks both; RSGI answers with one call (see app.py).
        interface=Interfaces.RSGI,
        websockets=False,
        # One runtime thread per worker: with a worker per core, more threads only contend.
        runtime_mode=RuntimeModes.st,
        # Named, so that Granian's "auto" never picks rloop (experimental) when installed.
        loop=Loops(loop),
        workers=settings.server.workers,
        log_enabled=True,
        log_level=LogLevels(settings.logging.level),
        log_dictconfig=granian_log_config(
            settings.logging.format, settings.logging.level, secrets=settings.secrets()
        ),
        log_access=False,
        workers_kill_timeout=settings.server.shutdown_timeout,
        respawn_failed_workers=True,
        respawn_interval=RESPAWN_SECONDS,
        **granian_options(log),
    )
    workers = WorkerSettings(settings)

    def reread() -> Settings:
        return _listening_on(load_settings(overrides, demo_app=demo_app), port)

    def new_log_config(new: Settings) -> None:
        # The workers scrub their log lines of the configured secrets: the new ones.
        granian.log_config = granian_log_config(
            new.logging.format, new.logging.level, secrets=new.secrets()
        )

    granian.reload_check = Reloader(reread, check_components, workers, log, new_log_config)
    try:
        granian.serve(target_loader=workers, wrap_loader=False)
    except (OSError, RuntimeError) as exc:
        reason = _bind_failure(exc)
        if reason is None:
            raise
        print(f"zego-token: cannot listen on {url}: {reason}", file=sys.stderr)
        return EXIT_CONFIG
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    log.event("info", "server stopped")
    return 0


def _listening_on(settings: Settings, port: int) -> Settings:
    """``settings`` with the port actually claimed (``--port 0`` picks one), and in demo mode
    the page's own origins allowed by CORS."""
    import dataclasses

    import msgspec

    server = settings.server
    if port != server.port:
        server = msgspec.structs.replace(server, port=port)
        settings = dataclasses.replace(settings, server=server)
    if settings.demo:
        own = (f"http://127.0.0.1:{port}", f"http://localhost:{port}")
        cors = msgspec.structs.replace(
            settings.cors, origins=tuple(dict.fromkeys((*settings.cors.origins, *own)))
        )
        settings = dataclasses.replace(settings, cors=cors)
    return settings


def _event_loop() -> str:
    """uvloop where installed (the server extra has it but on Windows): under Granian it cut
    CPU per request by 5-10 % against asyncio's loop, the Redis limiter's path included
    (docs/benchmarks.md, "uvloop"); else asyncio's own."""
    import importlib.util

    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def _bind_failure(exc: BaseException) -> str | None:
    """The reason when ``exc`` is a failed bind: an OSError, or the RuntimeError Granian raises
    for one ("Address already in use (os error 98)" followed by a Rust backtrace)."""
    import re

    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    first_line = str(exc).strip().partition("\n")[0]
    return first_line if re.search(r"\(os error \d+\)$", first_line) else None


def _in_url(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _claim_port(address: str, port: int, *, reuse_port: bool) -> tuple[int, str | None]:
    """Check that ``address:port`` is free for this server: ``(port, None)`` or ``(port, why not)``.

    Granian binds with SO_REUSEPORT, so on its own it would silently share a port another
    process already listens on, and the kernel would split the connections between them. A
    probe bound WITHOUT SO_REUSEPORT fails if anyone listens there, so the server refuses to
    start instead. With ``server.reuse_port = true`` the probe sets SO_REUSEPORT too: joining
    other SO_REUSEPORT listeners is then allowed, a plain listener still stops start-up.
    Port 0 picks a free port, returned. The probe closes before Granian binds; a process
    taking the port in between is caught by Granian's own bind.
    """
    import errno
    import socket

    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    where = f"{_in_url(address)}:{port}"
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # SO_REUSEADDR as Granian sets it: a port whose old connections linger in
            # TIME_WAIT after a restart is free, one with a listener is not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port and hasattr(socket, "SO_REUSEPORT"):
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            # Bound, never listening: a listening probe could be handed a connection meant
            # for the servers already sharing the port.
            probe.bind((address, port))
            return int(probe.getsockname()[1]), None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            advice = (
                "another process is listening on it (with server.reuse_port = true only "
                "processes that also set SO_REUSEPORT can share it)"
                if reuse_port
                else "another process is listening on it; stop that process or choose another "
                "--port (server.reuse_port = true shares a port on purpose)"
            )
            return port, f"cannot listen on {where}: port {port} is already in use: {advice}"
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EACCES:
            reason += " (ports below 1024 need privileges: use a port of 1024 or more)"
        return port, f"cannot listen on {where}: {reason}"


def _demo_banner(settings: object, url: str) -> None:
    import sys

    from .config import Settings

    assert isinstance(settings, Settings)
    line = "=" * 72
    print(
        f"\n{line}\n"
        "  DEMO MODE: a throwaway AppID and a random ServerSecret, made up just now.\n"
        "  Tokens from this server are NOT accepted by ZEGOCLOUD: they only show the flow.\n"
        "  For real tokens: ZEGO_APP_ID=<id> ZEGO_SERVER_SECRET=<secret> zego-token serve\n"
        f"\n  AppID: {settings.default_app.app_id}\n"
        f"  Open:  {url}/demo\n"
        f"  Try:   curl '{url}/api/token?userID=alice&expired_ts=3600'\n"
        f"{line}\n",
        file=sys.stderr,
        flush=True,
    )
