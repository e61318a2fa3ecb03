"""Build the standalone server's steps from its settings: the authentication modes (from their
registry, ``auth.modes``), the deciders (policy, then hook) and the rate limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..auth.modes import authenticators as build_authenticators
from ..limits import ZEGO_ID_PATTERN
from ..pipeline.contracts import Authenticator, Decider
from ..pipeline.core import ClientIp, RateLimits
from ..pipeline.hooks import load_hook
from ..pipeline.policy import PolicyDecider
from ..pipeline.ratelimit import client_ip, ip_key_function, networks
from .config import Settings
from .redis_limiter import build_rate_limiter


def authenticators(settings: Settings) -> list[Authenticator]:
    return build_authenticators(settings.auth)


def deciders(settings: Settings) -> list[Decider]:
    """The policy (always, with its defaults when unconfigured), then the hook if any."""
    result: list[Decider] = [PolicyDecider(settings.policy)]
    if settings.hook is not None:
        result.append(load_hook(settings.hook))
    return result


def rate_limits(
    settings: Settings,
    *,
    on_full: Callable[[], None] | None = None,
    on_store_event: Callable[[str], None] | None = None,
) -> tuple[RateLimits | None, ClientIp | None]:
    """The configured limits (None when off), and how to find the client's IP: the peer,
    unless it is a trusted proxy, whose X-Forwarded-For is then read."""
    limits = settings.rate_limit
    trusted = networks("server.trusted_proxies", settings.server.trusted_proxies) + networks(
        "rate_limit.trusted_proxies", limits.trusted_proxies
    )
    find_ip: ClientIp | None = None
    if trusted:

        def find_ip(peer: str, headers: Mapping[str, str]) -> str:
            return client_ip(peer, headers, trusted)

    if not (limits.per_ip or limits.per_identity):
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
            window=limits.window,
            ip_key=ip_key_function(limits.ipv6_prefix),
        ),
        find_ip,
    )


def user_id_pattern(settings: Settings) -> str | None:
    """The ZEGO ID character rule as a regex, when the policy enforces it."""
    return ZEGO_ID_PATTERN if settings.policy.zego_id_rules else None


def check_components(settings: Settings) -> None:
    """Build the authenticators and deciders once; raises ``ConfigError`` on a bad hook, key
    file or similar, which only shows when the component is built."""
    authenticators(settings)
    deciders(settings)
