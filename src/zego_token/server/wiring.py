"""Build the standalone server's optional steps from its settings, with their real types.

Each optional section (``[auth.jwt]``, ``[policy]``, ``[hook]``, ``[rate_limit]``) is imported
by name here and checked with ``isinstance``, so ``mypy --strict`` sees every seam between the
configuration and the pipeline. ``auth_jwt`` is imported only when JWT mode is configured: it
needs PyJWT, which the base package does not install.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import TypeVar

from ..auth.keys import ApiKeyAuth, NoAuth
from ..pipeline.contracts import Authenticator, Decider
from ..pipeline.core import ClientIp, RateLimits
from ..pipeline.hooks import HookSettings, load_hook
from ..pipeline.policy import PolicyDecider, PolicySettings
from ..pipeline.ratelimit import RateLimitSettings, client_ip, ip_key_function
from ..pipeline.schema import ConfigError
from .config import Settings
from .redis_limiter import build_rate_limiter

T = TypeVar("T")

# The ZEGO ID character rule as a regex, for the OpenAPI document.
_ZEGO_ID_PATTERN = "^[0-9A-Za-z~!@#$%^&*()_+=\\-`;',.<>/\\\\]+$"


def section(settings: Settings, name: str, kind: type[T]) -> T | None:
    """The parsed settings of an optional section, or None when it is not configured."""
    value = settings.extensions.get(name)
    if value is None:
        return None
    if not isinstance(value, kind):
        raise TypeError(f"[{name}] holds a {type(value).__name__}, expected {kind.__name__}")
    return value


def authenticators(settings: Settings) -> list[Authenticator]:
    result: list[Authenticator] = []
    for mode in settings.auth.modes:
        if mode == "none":
            result.append(NoAuth())
        elif mode == "api_key":
            result.append(ApiKeyAuth(settings.auth.api_keys))
        elif mode == "jwt":
            try:
                from ..auth.jwt_mode import JwtAuthenticator, JwtSettings
            except ModuleNotFoundError:
                raise ConfigError(
                    "auth.modes",
                    "mode 'jwt' is not available in this installation: "
                    "pip install 'zego-token[server]'",
                ) from None
            jwt = section(settings, "auth.jwt", JwtSettings)
            if jwt is None:
                raise ConfigError("auth.jwt", "mode 'jwt' needs an [auth.jwt] section")
            result.append(JwtAuthenticator(jwt))
    return result


def deciders(settings: Settings) -> list[Decider]:
    """The policy (always, with its defaults when unconfigured), then the hook if any."""
    result: list[Decider] = []
    policy = section(settings, "policy", PolicySettings)
    if policy is not None:
        result.append(PolicyDecider(policy))
    hook = section(settings, "hook", HookSettings)
    if hook is not None:
        result.append(load_hook(hook))
    return result


def rate_limits(
    settings: Settings,
    *,
    on_full: Callable[[], None] | None = None,
    on_store_event: Callable[[str], None] | None = None,
) -> tuple[RateLimits | None, ClientIp | None]:
    """The configured limits (None when off), and how to find the client's IP: the peer,
    unless it is a trusted proxy, whose X-Forwarded-For is then read."""
    limits = section(settings, "rate_limit", RateLimitSettings)
    trusted = tuple(
        ipaddress.ip_network(p, strict=False) for p in settings.server.trusted_proxies
    ) + tuple(getattr(limits, "trusted_proxies", ()) or ())
    find_ip: ClientIp | None = None
    if trusted:

        def find_ip(peer: str, headers: Mapping[str, str]) -> str:
            return client_ip(peer, headers, trusted)

    if limits is None or not (limits.per_ip or limits.per_identity):
        return None, find_ip
    return (
        RateLimits(
            build_rate_limiter(
                limits,
                workers=settings.server.workers,
                on_full=on_full,
                on_event=on_store_event,
            ),
            per_ip=limits.per_ip,
            per_identity=limits.per_identity,
            window=limits.window or 60,
            ip_key=ip_key_function(limits.ipv6_prefix),
        ),
        find_ip,
    )


def user_id_pattern(settings: Settings) -> str | None:
    """The ZEGO ID character rule as a regex, when the policy enforces it."""
    policy = section(settings, "policy", PolicySettings)
    return _ZEGO_ID_PATTERN if policy is not None and policy.zego_id_rules else None


def check_components(settings: Settings) -> None:
    """Build the authenticators and deciders once; raises ``ConfigError`` on a bad hook, key
    file or similar, which only shows when the component is built."""
    authenticators(settings)
    deciders(settings)
