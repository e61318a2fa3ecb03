"""``zego-token config check``: read and check the configuration as ``serve`` would, and say
what it amounts to, without serving.

Exit 0 with a summary (apps, secret sources, authentication, policy, limits, logging; for each
value where it came from); exit 2 with the one-line error ``serve`` would give. It binds no
port and contacts nothing, unless ``--connect``: then it also fetches the JWKS, pings the
rate-limit store and imports the hook, and reports each. No secret is ever printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from ..pipeline.schema import ConfigError

if TYPE_CHECKING:
    from ..pipeline.hooks import HookSettings
    from ..pipeline.ratelimit import RateLimitSettings

from .config import OWN_FIELDS, Overrides, Provenance, Settings, load_settings, provenance

EXIT_OK = 0
EXIT_CONNECT_FAILED = 1
EXIT_CONFIG = 2

# Sections with lines of their own above (auth: modes and API keys), or none (demo).
_NOT_LISTED = frozenset(("auth", "demo"))


def run_check(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    overrides = Overrides(config_file=getattr(args, "config", None))
    try:
        settings = load_settings(overrides)
        sources = provenance(overrides)
        _check_offline(settings)
    except ConfigError as exc:
        print(f"zego-token: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    for line in summary(settings, sources):
        print(line, file=out)
    if not getattr(args, "connect", False):
        print(
            "(nothing contacted; --connect fetches the JWKS, pings Redis, imports the hook)",
            file=out,
        )
        return EXIT_OK
    failed = False
    print("connect:", file=out)
    for name, ok, detail in connect(settings):
        failed |= not ok
        print(f"  {name}: {'ok' if ok else 'FAILED'}: {detail}", file=out)
    return EXIT_CONNECT_FAILED if failed else EXIT_OK


def _check_offline(settings: Settings) -> None:
    """What ``serve`` checks before it starts that needs no network: key files, the audit
    file. The hook is imported only with ``--connect`` (importing it runs its code)."""
    from . import wiring

    wiring.authenticators(settings)
    wiring.check_audit_file(settings)


# -- the summary -------------------------------------------------------------------------------


def summary(settings: Settings, sources: Provenance) -> Iterator[str]:
    def where(key: str) -> str:
        return describe(sources.keys.get(key))

    files = sorted({s for s in sources.keys.values() if not s.isupper() and not s.startswith("-")})
    yield "configuration OK"
    yield f"  file: {', '.join(files) or 'none'}"
    yield f"  environment: {', '.join(sources.variables) or 'none'}"
    yield f"apps ({len(settings.apps)}):"
    for app in settings.apps:
        yield f"  {app.app_id}: ServerSecret from {sources.secrets.get(app.app_id, 'the demo')}"
    modes_from = (
        where("auth.modes")
        if "auth.modes" in sources.keys
        else "not set: derived from the API keys and [auth.jwt] configured"
    )
    yield f"auth: modes {', '.join(settings.auth.modes)}  ({modes_from})"
    for api_key in settings.auth.api_keys:  # never its sha256: the key's stand-in
        scope = [
            f"apps {', '.join(map(str, api_key.app_ids))}" if api_key.app_ids else "any app",
            f"rooms {', '.join(api_key.room_patterns)}" if api_key.room_patterns else "any room",
        ]
        if api_key.publish is not None:
            scope.append("publish" if api_key.publish else "no publish")
        if api_key.stream_ids is not None:
            scope.append(f"streams {', '.join(api_key.stream_ids) or '(none)'}")
        if api_key.max_ttl is not None:
            scope.append(f"max_ttl {api_key.max_ttl}")
        yield f"  api key {api_key.name!r}: {'; '.join(scope)}  ({where('auth.api_keys')})"
    for section, keys in OWN_FIELDS.items():
        if section in _NOT_LISTED:
            continue
        values: Any = settings
        for part in section.split("."):
            values = getattr(values, part, None)
        if values is None:
            yield f"[{section}]  (not configured)"
            continue
        yield f"[{section}]"
        for key in keys:
            yield _value_line(section, key, getattr(values, key, None), where)


def _value_line(section: str, key: str, value: Any, where: Callable[[str], str]) -> str:
    dotted = f"{section}.{key}"
    return f"  {key} = {_show(value)}  ({where(dotted)})"


def describe(source: str | None) -> str:
    """A value's source as config check prints it."""
    if source is None:
        return "default"
    if source.startswith("--"):
        return f"command line {source}"
    if source.isupper():
        return f"environment {source}"
    return f"file {source}"


def _show(value: Any) -> str:
    """A value as it would be written in the TOML file."""
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(redact_url(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "(not set)"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value))  # an IP network and the like


def redact_url(text: str) -> str:
    """A URL's password replaced (``redis://:pw@host`` -> ``redis://:***@host``)."""
    if "://" not in text or "@" not in text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    if parts.password is None:
        return text
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


# -- --connect ---------------------------------------------------------------------------------


def connect(settings: Settings) -> Iterator[tuple[str, bool, str]]:
    """``(what, ok, detail)`` for each outside thing the configuration names."""
    jwt = settings.auth.jwt
    if jwt is not None and jwt.jwks_url:
        yield "jwks", *_fetch_jwks(jwt.jwks_url, jwt.jwks_timeout)
    limits = settings.rate_limit
    if limits.redis_url or limits.sentinels:
        yield "redis", *_ping_redis(limits)
    hook = settings.hook
    if hook is not None:
        yield "hook", *_load_hook(hook)


def _fetch_jwks(url: str, timeout: float) -> tuple[bool, str]:
    from ..auth.jwks import fetch_json, signing_keys

    try:
        keys = signing_keys(fetch_json(url, timeout))
    except Exception as exc:
        return False, f"{url}: {type(exc).__name__}: {exc}"
    if not keys:
        return False, f"{url}: no signing keys in the JWKS"
    return True, f"{url}: {len(keys)} signing key(s), kid {', '.join(sorted(keys))}"


def _ping_redis(limits: RateLimitSettings) -> tuple[bool, str]:
    from .redis_limiter import build_rate_limiter

    if limits.sentinels:
        where = f"sentinels {', '.join(limits.sentinels)} (service {limits.sentinel_service})"
    else:
        where = redact_url(limits.redis_url) + (" (cluster)" if limits.cluster else "")

    async def ping() -> bool:
        limiter = build_rate_limiter(limits)
        try:
            return bool(await limiter.ready())
        finally:
            await limiter.close()

    try:
        ok = asyncio.run(ping())
    except Exception as exc:
        return False, f"{where}: {type(exc).__name__}"
    return (True, f"{where}: PONG") if ok else (False, f"{where}: no answer to PING")


def _load_hook(hook: HookSettings) -> tuple[bool, str]:
    from ..pipeline.hooks import load_hook

    try:
        load_hook(hook)
    except ConfigError as exc:
        return False, str(exc)
    return True, f"{hook.function} imported"
