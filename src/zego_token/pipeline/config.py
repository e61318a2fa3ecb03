"""The pipeline's own configuration: the apps it mints for, the TTL bounds and mode, the body size.

Narrow on purpose: the standalone server builds it from its ``Settings`` and an embedded
endpoint from a ``TokenIssuer``, so the pipeline never sees host names, CORS or logging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Protocol

from msgspec import Meta

from ..limits import INT32_MAX
from ..token04 import Mode
from .schema import ConfigError, Section

Seconds = Annotated[int, Meta(ge=1, le=INT32_MAX)]


@dataclass(frozen=True, slots=True)
class App:
    """A ZEGOCLOUD project: its AppID and ServerSecret (never printed: ``repr=False``)."""

    app_id: int
    secret: str = field(repr=False)


class TokenSettings(Section, frozen=True, kw_only=True):
    """The ``[token]`` section: the lifetimes a client may ask for, and the token format."""

    SECTION = "token"

    default_ttl: Seconds = 3600
    min_ttl: Seconds = 60
    max_ttl: Seconds = 86400
    default_mode: Mode = "gcm"

    def __post_init__(self) -> None:
        if self.min_ttl > self.max_ttl:
            raise ConfigError(
                "token.min_ttl", f"is {self.min_ttl}, above token.max_ttl ({self.max_ttl})"
            )
        if not self.min_ttl <= self.default_ttl <= self.max_ttl:
            raise ConfigError(
                "token.default_ttl",
                f"is {self.default_ttl}, outside token.min_ttl..token.max_ttl "
                f"({self.min_ttl}..{self.max_ttl})",
            )


DEFAULT_MAX_BODY_BYTES = 16384


class MintConfig(Protocol):
    """What parsing and minting read: the apps (the first is the default) and the TTL bounds."""

    @property
    def apps(self) -> tuple[App, ...]: ...

    @property
    def token(self) -> TokenSettings: ...


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Everything ``TokenPipeline`` is configured by besides its steps."""

    apps: tuple[App, ...]
    token: TokenSettings = field(default_factory=TokenSettings)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
