"""The authentication modes' configuration: ``[[auth.api_keys]]`` entries and ``[auth.jwt]``.

Kept apart from the modes themselves so that reading the configuration needs neither PyJWT nor
the key files: those load when the mode is built (``modes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from msgspec import Meta
from msgspec.structs import force_setattr

from ..limits import INT32_MAX
from ..pipeline.contracts import Grants
from ..pipeline.schema import ConfigError, Section
from .keys import ApiKey

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PUBLIC_KEY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
KEY_SOURCES = ("secret_file", "secret_env", "public_key_file", "jwks_url")


class ApiKeySettings(Section, frozen=True, kw_only=True):
    """One ``[[auth.api_keys]]`` entry: a key's name, its SHA-256 digest, the scopes it grants."""

    SECTION = "auth.api_keys"

    name: Annotated[
        str,
        Meta(
            pattern=r"^[A-Za-z0-9._@-]{1,64}$",
            description="1..64 letters, digits or . _ @ - (it names the caller in logs)",
        ),
    ]
    sha256: Annotated[
        str,
        Meta(
            pattern="^[0-9a-fA-F]{64}$",
            description='the 64-hex-digit SHA-256 of the key (printf %s "$KEY" | sha256sum), '
            "never the key itself",
            extra={"secret": True},
        ),
    ]
    app_ids: tuple[int, ...] | None = None
    room_patterns: tuple[str, ...] | None = None
    publish: bool | None = None
    # [] is allowed here and means "no stream", so no publishing: the policy refuses every
    # stream ID outside the grant, and the token never carries an empty list.
    stream_ids: tuple[str, ...] | None = None
    max_ttl: Annotated[int, Meta(ge=1, le=INT32_MAX)] | None = None

    @property
    def digest(self) -> bytes:
        return bytes.fromhex(self.sha256)

    def api_key(self) -> ApiKey:
        return ApiKey(name=self.name, digest=self.digest, grants=self.grants)

    @property
    def grants(self) -> Grants:
        return Grants(
            app_ids=self.app_ids,
            room_patterns=self.room_patterns,
            publish=self.publish,
            stream_ids=self.stream_ids,
            max_ttl=self.max_ttl,
        )


class JwtSettings(Section, frozen=True, kw_only=True):
    """The ``[auth.jwt]`` section. Exactly one key source: a secret, a PEM file or a JWKS URL."""

    SECTION = "auth.jwt"

    algorithms: tuple[str, ...]
    issuer: str
    # The aud claim may be one string or a list of them (RFC 7519), so this key may be either.
    audience: str | tuple[str, ...]
    secret_file: str = ""
    secret_env: str = ""
    public_key_file: str = ""
    jwks_url: str = ""
    leeway: Annotated[int, Meta(ge=0, le=600)] = 30
    user_id_claim: Annotated[str, Meta(min_length=1)] = "sub"
    rooms_claim: str = ""
    publish_claim: str = ""
    stream_ids_claim: str = ""
    max_ttl_claim: str = ""
    max_token_bytes: Annotated[int, Meta(ge=1)] = 8192
    jwks_cache_seconds: Annotated[int, Meta(ge=1)] = 300
    # The floor between two JWKS fetches for unknown kids (auth/jwks.py); 0 made every
    # made-up kid a fetch from the identity provider.
    jwks_refresh_interval: Annotated[
        int,
        Meta(
            ge=1,
            description="at least 1 second (the shortest time between two JWKS fetches for "
            "unknown kids; 1 is the default)",
        ),
    ] = 1
    jwks_timeout: Annotated[float, Meta(gt=0, le=60)] = 5.0

    def __post_init__(self) -> None:
        if isinstance(self.audience, str):
            force_setattr(self, "audience", (self.audience,))
        for required, what in (
            ("algorithms", 'list of algorithms, e.g. ["RS256"]'),
            ("issuer", "issuer (the iss claim your identity provider writes)"),
            ("audience", "audience (the aud claim meant for this server)"),
        ):
            if not getattr(self, required) or not all(getattr(self, required)):
                raise ConfigError(
                    f"auth.jwt.{required}",
                    f"is required: tokens are accepted only for an explicit {what}",
                )
        sources = [name for name in KEY_SOURCES if getattr(self, name)]
        if len(sources) != 1:
            raise ConfigError(
                f"auth.jwt.{sources[1] if len(sources) > 1 else 'jwks_url'}",
                "set exactly one key source: secret_file or secret_env (HS256/384/512), "
                f"public_key_file (PEM) or jwks_url; got {', '.join(sources) or 'none'}",
            )
        hmac_key = sources[0] in ("secret_file", "secret_env")
        for algorithm in self.algorithms:
            if algorithm.lower() == "none":
                raise ConfigError(
                    "auth.jwt.algorithms", '"none" is never allowed: it accepts unsigned tokens'
                )
            if algorithm not in HMAC_ALGORITHMS | PUBLIC_KEY_ALGORITHMS:
                raise ConfigError(
                    "auth.jwt.algorithms",
                    f"unknown algorithm {algorithm!r}; use HS256/384/512, RS*, PS*, ES* or EdDSA",
                )
            if hmac_key != (algorithm in HMAC_ALGORITHMS):
                # Mixing them is the algorithm-confusion hole: a public key used as an HMAC
                # secret lets anyone who has the public key sign tokens.
                raise ConfigError(
                    "auth.jwt.algorithms",
                    f"{algorithm} does not fit the key source {sources[0]}: HS* algorithms need "
                    "a shared secret, the others a public key (PEM or JWKS), never both",
                )
        if self.jwks_url and not self.jwks_url.startswith(("https://", "http://")):
            raise ConfigError("auth.jwt.jwks_url", "must be an https:// (or http://) URL")

    @property
    def audiences(self) -> tuple[str, ...]:
        return (self.audience,) if isinstance(self.audience, str) else self.audience


class AuthSection(Section, frozen=True, kw_only=True):
    """The ``[auth]`` section as written: the modes in order (None: chosen from what is
    configured), the API keys and the JWT mode's settings."""

    SECTION = "auth"

    modes: tuple[str, ...] | None = None
    api_keys: tuple[ApiKeySettings, ...] = ()
    jwt: JwtSettings | None = None


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """The checked ``[auth]`` section: the modes to try, in order, and what they need."""

    modes: tuple[str, ...] = ("none",)
    api_keys: tuple[ApiKeySettings, ...] = ()
    jwt: JwtSettings | None = None
