"""The authentication modes: each is a name, what it needs configured, and how it is built.

Adding a mode is one entry here (and its module): the configuration's checks, the default
modes, the server's wiring and ``auth.modes``' documentation read this registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..installation import install_server_extra
from ..pipeline.contracts import Authenticator
from ..pipeline.schema import ConfigError
from .keys import ApiKeyAuth, NoAuth
from .settings import AuthSection, AuthSettings


@dataclass(frozen=True, slots=True)
class AuthMode:
    name: str
    # The key whose section the mode needs ("" for none), and whether it is there.
    needs: str
    configured: Callable[[AuthSection | AuthSettings], bool]
    build: Callable[[AuthSettings], Authenticator]


def _jwt(settings: AuthSettings) -> Authenticator:
    try:
        from .jwt_mode import JwtAuthenticator  # PyJWT: only with the server extra
    except ModuleNotFoundError:
        raise ConfigError(
            "auth.modes",
            "mode 'jwt' is not available in this installation: " + install_server_extra(),
        ) from None
    if settings.jwt is None:
        raise ConfigError("auth.jwt", "mode 'jwt' needs an [auth.jwt] section")
    return JwtAuthenticator(settings.jwt)


# In the order the modes are tried when auth.modes is not set: a JWT, then an API key.
MODES: dict[str, AuthMode] = {
    mode.name: mode
    for mode in (
        AuthMode("jwt", "[auth.jwt]", lambda auth: auth.jwt is not None, _jwt),
        AuthMode(
            "api_key",
            "[[auth.api_keys]]",
            lambda auth: bool(auth.api_keys),
            lambda auth: ApiKeyAuth([key.api_key() for key in auth.api_keys]),
        ),
        AuthMode("none", "", lambda auth: True, lambda auth: NoAuth()),
    )
}
AUTH_MODES = tuple(MODES)


def default_modes(section: AuthSection) -> tuple[str, ...]:
    """The modes when ``auth.modes`` is not set: each whose section is configured, else none."""
    found = tuple(mode.name for mode in MODES.values() if mode.needs and mode.configured(section))
    return found or ("none",)


def authenticators(settings: AuthSettings) -> list[Authenticator]:
    return [MODES[name].build(settings) for name in settings.modes]
