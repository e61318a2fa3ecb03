"""The pipeline's own configuration: the apps it mints for, the TTL bounds and mode, the body size.

Narrow on purpose: the standalone server builds it from its ``Settings`` and an embedded
endpoint from a ``TokenIssuer``, so the pipeline never sees host names, CORS or logging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class App:
    """A ZEGOCLOUD project: its AppID and ServerSecret (never printed: ``repr=False``)."""

    app_id: int
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class TokenSettings:
    default_ttl: int = 3600
    min_ttl: int = 60
    max_ttl: int = 86400
    default_mode: str = "gcm"


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
