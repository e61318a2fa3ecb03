"""The server's configuration: environment first, then an optional TOML file, then defaults.

Every key of the TOML file can also be set as ``ZEGO_TOKEN_<SECTION>_<KEY>`` (lists
comma-separated); the apps come from ``ZEGO_APP_ID`` and ``ZEGO_SERVER_SECRET`` (or
``ZEGO_SERVER_SECRET_FILE``) and from ``[[apps]]``. The whole file is one typed ``ConfigFile``
read by the schema layer (``pipeline.schema``): anything invalid or unknown raises
``ConfigError`` naming the key, so a typo can never silently switch a safeguard off. What
this module adds are the checks no type can express: the secrets and their files, the host
and the loopback rule for unauthenticated servers, CORS origins, and the API keys' scopes.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta

from ..auth.modes import AUTH_MODES, MODES, default_modes
from ..auth.settings import AuthSection, AuthSettings
from ..environment import (
    ENV_APP_ID,
    ENV_SECRET,
    ENV_SECRET_FILE,
    EnvironmentValueError,
    app_id_from_environment,
    read_secret_file,
    secret_from_environment,
)
from ..errors import InvalidParameter
from ..limits import MAX_APP_ID, check_secret
from ..pipeline.config import DEFAULT_MAX_BODY_BYTES, App, PipelineConfig, TokenSettings
from ..pipeline.hooks import HookSettings
from ..pipeline.policy import PolicySettings
from ..pipeline.ratelimit import RateLimitSettings, networks
from ..pipeline.schema import (
    ConfigError,
    Section,
    fields_of,
    from_env,
    read,
    with_source,
)
from .logs import LogLevel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

ENV_PREFIX = "ZEGO_TOKEN_"
ENV_CONFIG_FILE = "ZEGO_TOKEN_CONFIG"


class ServerSettings(Section, frozen=True, kw_only=True):
    SECTION = "server"

    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 8080
    workers: Annotated[int, Meta(ge=1, le=256)] = 1
    allow_unauthenticated: bool = False
    max_body_bytes: Annotated[int, Meta(ge=256, le=16 * 1024 * 1024)] = DEFAULT_MAX_BODY_BYTES
    trusted_proxies: tuple[str, ...] = ()
    shutdown_timeout: Annotated[int, Meta(ge=1, le=3600)] = 30
    body_timeout: Annotated[int, Meta(ge=1, le=300)] = 10
    # Join a port other processes listen on (SO_REUSEPORT) instead of refusing to start.
    reuse_port: bool = False

    def __post_init__(self) -> None:
        networks("server.trusted_proxies", self.trusted_proxies)


class CorsSettings(Section, frozen=True, kw_only=True):
    SECTION = "cors"

    origins: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: Annotated[int, Meta(ge=0, le=86400)] = 600

    @property
    def allow_any(self) -> bool:
        return "*" in self.origins


class LoggingSettings(Section, frozen=True, kw_only=True):
    SECTION = "logging"

    level: LogLevel = "info"
    format: Literal["json", "text"] = "json"


class DemoSettings(Section, frozen=True, kw_only=True):
    SECTION = "demo"

    enabled: bool = False


class AppSettings(Section, frozen=True, kw_only=True):
    """One ``[[apps]]`` entry: an AppID and its ServerSecret, or the file that holds it."""

    SECTION = "apps"

    app_id: Annotated[
        int, Meta(ge=1, le=MAX_APP_ID, description="the numeric AppID from the ZEGOCLOUD console")
    ]
    secret: Annotated[str, Meta(extra={"secret": True})] | None = None
    secret_file: str | None = None


class ConfigFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The whole configuration file, as the schema reads it (before the checks of this module)."""

    server: ServerSettings = ServerSettings()
    token: TokenSettings = TokenSettings()
    cors: CorsSettings = CorsSettings()
    auth: AuthSection = AuthSection()
    logging: LoggingSettings = LoggingSettings()
    demo: DemoSettings = DemoSettings()
    policy: PolicySettings = PolicySettings()
    hook: HookSettings | None = None
    rate_limit: RateLimitSettings = RateLimitSettings()
    apps: tuple[AppSettings, ...] = ()


def _sections() -> dict[str, type[Section]]:
    """Every section by its dotted name (``auth.jwt`` included), from ``ConfigFile``."""
    found: dict[str, type[Section]] = {}
    for name, kind in typing.get_type_hints(ConfigFile).items():
        for option in (kind, *typing.get_args(kind)):
            if isinstance(option, type) and issubclass(option, Section) and name != "apps":
                found[name] = option
                for inner, inner_kind in typing.get_type_hints(option).items():
                    if typing.get_origin(inner_kind) is tuple:
                        continue  # an array of tables ([[auth.api_keys]]) is no section
                    for inner_option in typing.get_args(inner_kind):
                        if (
                            isinstance(inner_option, type)
                            and issubclass(inner_option, Section)
                            and f"{name}.{inner}" == inner_option.SECTION
                        ):
                            found[inner_option.SECTION] = inner_option
    return found


SECTIONS = _sections()
# Each section's keys -> what an environment string becomes for them (str, int, float, bool,
# list): read from the section classes, for the environment and the fuzzers.
OWN_FIELDS: dict[str, dict[str, type]] = {
    name: {key: kind for key, kind in fields_of(cls).items() if f"{name}.{key}" not in SECTIONS}
    for name, cls in SECTIONS.items()
}
# Sections another installation may lack: none, since every section's class is above.
EXTENSIONS: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole validated configuration; picklable, so worker processes can receive it."""

    apps: tuple[App, ...]
    server: ServerSettings = field(default_factory=ServerSettings)
    token: TokenSettings = field(default_factory=TokenSettings)
    cors: CorsSettings = field(default_factory=CorsSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    demo: bool = False
    policy: PolicySettings = field(default_factory=PolicySettings)
    hook: HookSettings | None = None
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    # What server.host resolves to (the loopback rule holds only when all of them are loopback).
    addresses: tuple[str, ...] = ("127.0.0.1",)

    @property
    def default_app(self) -> App:
        return self.apps[0]

    @property
    def bind_address(self) -> str:
        """The address to listen on: the host's first IPv4 address (what most clients try
        first for ``localhost``), else its first address."""
        return next((a for a in self.addresses if ":" not in a), self.addresses[0])

    def app(self, app_id: int) -> App | None:
        for app in self.apps:
            if app.app_id == app_id:
                return app
        return None

    def pipeline_config(self) -> PipelineConfig:
        """The part of the configuration the token pipeline is built from."""
        return PipelineConfig(self.apps, self.token, self.server.max_body_bytes)

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, so log lines can be scrubbed of them as a last resort."""
        return tuple(app.secret for app in self.apps)


@dataclass
class Overrides:
    """Command-line options, which win over the environment and the file."""

    config_file: str | None = None
    host: str | None = None
    port: int | None = None
    workers: int | None = None
    log_level: str | None = None
    demo: bool = False


def load_settings(
    overrides: Overrides | None = None,
    env: Mapping[str, str] | None = None,
    *,
    demo_app: App | None = None,
) -> Settings:
    """Read, merge and check the configuration; raise ``ConfigError`` naming the bad key."""
    overrides = overrides or Overrides()
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    sources: dict[str, str] = {}  # dotted key -> the file, variable or option that set it
    config_file = overrides.config_file or env.get(ENV_CONFIG_FILE) or None
    if config_file:
        _read_toml(Path(config_file), raw, sources)
    _overlay_env(env, raw, sources)
    _overlay_cli(overrides, raw, sources)
    file = read(ConfigFile, raw, "", sources)
    try:
        return _check(file, env, overrides, demo_app, sources)
    except ConfigError as error:
        raise with_source(error, sources) from None


# -- reading -----------------------------------------------------------------------------------


def _read_toml(path: Path, raw: dict[str, Any], sources: dict[str, str]) -> None:
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        if isinstance(exc, UnicodeDecodeError):
            raise ConfigError("--config", f"{path} is not UTF-8 text") from None
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError("--config", f"cannot read {path}: {reason}") from None
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
        raise ConfigError("--config", f"{path} is not valid TOML: {exc}") from None
    raw.update(data)
    for name, value in data.items():
        sources[name] = str(path)
        if isinstance(value, dict):
            for key in value:
                sources[f"{name}.{key}"] = str(path)


def _overlay_env(env: Mapping[str, str], raw: dict[str, Any], sources: dict[str, str]) -> None:
    # (variable part, dotted section), longest first so AUTH_JWT wins over AUTH.
    prefixes = sorted(
        ((name.replace(".", "_"), name) for name in SECTIONS), key=lambda p: -len(p[0])
    )
    for variable in sorted(env):
        if not variable.startswith(ENV_PREFIX) or variable == ENV_CONFIG_FILE:
            continue
        rest = variable[len(ENV_PREFIX) :].lower()
        match = next(((p, s) for p, s in prefixes if rest.startswith(p + "_")), None)
        if match is None:
            raise ConfigError(
                variable,
                "unknown environment variable: ZEGO_TOKEN_<SECTION>_<KEY> needs one of the "
                f"sections {', '.join(sorted(SECTIONS))}",
            )
        prefix, section = match
        key = rest[len(prefix) + 1 :]
        fields = OWN_FIELDS[section]
        if key not in fields:
            raise ConfigError(
                variable, f"unknown key {section}.{key}; known keys: {', '.join(sorted(fields))}"
            )
        dotted = f"{section}.{key}"
        if dotted == "auth.api_keys":
            value: object = _env_api_keys(variable, env[variable])
        else:
            kind = typing.get_type_hints(SECTIONS[section], include_extras=True)[key]
            value = from_env(variable, dotted, env[variable], kind)
        table = raw
        for part in section.split("."):
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise ConfigError(part, f"must be a table: [{part}]")
        table[key] = value
        sources[dotted] = variable


def _env_api_keys(env_name: str, text: str) -> list[dict[str, Any]]:
    """``name:sha256hex,name2:sha256hex``: unscoped keys for containers."""
    keys = []
    for index, item in enumerate(i.strip() for i in text.split(",") if i.strip()):
        name, sep, digest = item.partition(":")
        if not sep:
            raise ConfigError(
                f"auth.api_keys[{index}]",
                f"{env_name} takes name:sha256hex pairs separated by commas",
            )
        keys.append({"name": name.strip(), "sha256": digest.strip()})
    return keys


def _overlay_cli(overrides: Overrides, raw: dict[str, Any], sources: dict[str, str]) -> None:
    server = raw.setdefault("server", {})
    for key in ("host", "port", "workers"):
        value = getattr(overrides, key)
        if value is not None and isinstance(server, dict):
            server[key] = value
            sources[f"server.{key}"] = f"--{key}"
    logging = raw.setdefault("logging", {})
    if overrides.log_level is not None and isinstance(logging, dict):
        logging["level"] = overrides.log_level
        sources["logging.level"] = "--log-level"


# -- the checks no type expresses ----------------------------------------------------------------


def _check(
    file: ConfigFile,
    env: Mapping[str, str],
    overrides: Overrides,
    demo_app: App | None,
    sources: Mapping[str, str],
) -> Settings:
    if overrides.demo:
        if demo_app is None:
            raise ConfigError("--demo", "demo mode needs a throwaway app")
        apps: tuple[App, ...] = (demo_app,)
    else:
        apps = _apps(file.apps, env)
    server = file.server
    host = server.host.strip()
    if not host:
        raise ConfigError("server.host", "must not be empty")
    addresses = _resolve(host)
    auth = _auth(file.auth, apps, demo=overrides.demo, modes_source=sources.get("auth.modes"))
    if overrides.demo:
        if not _all_loopback(addresses):
            raise ConfigError("server.host", "--demo listens on a loopback address only")
        if server.workers != 1:
            raise ConfigError("server.workers", "--demo runs one worker")
    if "none" in auth.modes and not server.allow_unauthenticated and not _all_loopback(addresses):
        shown = repr(host) + (
            f" (resolves to {', '.join(addresses)})" if addresses != (host,) else ""
        )
        raise ConfigError(
            "server.host",
            f"auth mode 'none' hands out tokens to anyone, so the server refuses to listen on "
            f"{shown}; listen on 127.0.0.1, configure [[auth.api_keys]] "
            "(or another auth mode), or set server.allow_unauthenticated = true if a gateway in "
            "front authenticates callers",
        )
    return Settings(
        apps=apps,
        server=msgspec.structs.replace(server, host=host),
        token=file.token,
        cors=_cors(file.cors),
        auth=auth,
        logging=file.logging,
        demo=overrides.demo or file.demo.enabled,
        policy=file.policy,
        hook=file.hook,
        rate_limit=file.rate_limit,
        addresses=addresses,
    )


def _apps(entries: tuple[AppSettings, ...], env: Mapping[str, str]) -> tuple[App, ...]:
    apps: list[App] = []
    # The same reading as the CLI's (zego_token.environment): whitespace around the secret is
    # stripped in both forms, and setting both forms is an error.
    try:
        env_app_id = app_id_from_environment(env)
        env_secret = secret_from_environment(env)
    except EnvironmentValueError as exc:
        raise ConfigError(exc.variable, exc.message) from None
    if env_app_id is not None:
        if env_secret is None:
            raise ConfigError(
                ENV_SECRET, f"{ENV_APP_ID} is set, so set {ENV_SECRET} or {ENV_SECRET_FILE} too"
            )
        apps.append(App(env_app_id, env_secret[1]))
    elif env_secret is not None:
        raise ConfigError(
            ENV_APP_ID, f"a ServerSecret is set in the environment, so set {ENV_APP_ID} too"
        )

    seen = {app.app_id for app in apps}
    for index, entry in enumerate(entries):
        key = f"apps[{index}]"
        app_id, secret_value, secret_file = entry.app_id, entry.secret, entry.secret_file
        secret = _secret(
            f"{key}.secret_file"
            if secret_value is None and secret_file is not None
            else f"{key}.secret",
            secret_value,
            secret_file,
            both_key=f"{key}.secret and {key}.secret_file",
            missing=f"{key} needs secret or secret_file",
        )
        if app_id in seen:
            if apps and apps[0].app_id == app_id and env_app_id is not None:
                continue  # the environment's app overrides the file's entry for the same AppID
            raise ConfigError(f"{key}.app_id", f"AppID {app_id} is listed twice")
        seen.add(app_id)
        apps.append(App(app_id, secret))

    if not apps:
        raise ConfigError(
            "apps",
            f"no ZEGOCLOUD app configured: set {ENV_APP_ID} and {ENV_SECRET} (or "
            f"{ENV_SECRET_FILE}), or add [[apps]] to the config file; or try --demo",
        )
    return tuple(apps)


def _secret(key: str, value: str | None, path: str | None, *, both_key: str, missing: str) -> str:
    if value is not None and path is not None:
        raise ConfigError(both_key, "set either the secret or the secret file, not both")
    if value is None and path is None:
        raise ConfigError(key, missing)
    if path is not None:
        try:
            value = read_secret_file(key, path).strip()
        except EnvironmentValueError as exc:
            raise ConfigError(exc.variable, exc.message) from None
    assert value is not None
    try:
        check_secret(value)
    except InvalidParameter as exc:
        raise ConfigError(key, str(exc)) from None
    return value


def resolve_host(host: str) -> tuple[str, ...]:
    """The IP addresses ``host`` stands for: itself when it is one, else what the name resolves to.

    Raises ``OSError`` (``socket.gaierror``) when the name does not resolve.
    """
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return (str(ipaddress.ip_address(literal)),)
    except ValueError:
        pass
    infos = socket.getaddrinfo(literal, None, type=socket.SOCK_STREAM)
    # Scope suffixes (fe80::1%eth0) are dropped for the loopback test, kept for binding.
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


def _resolve(host: str) -> tuple[str, ...]:
    try:
        addresses = resolve_host(host)
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            "server.host",
            f"cannot resolve {host!r} ({reason}): give an IP address such as 127.0.0.1 or "
            "0.0.0.0, or a name this machine resolves",
        ) from None
    if not addresses:  # pragma: no cover - getaddrinfo raises rather than answer nothing
        raise ConfigError("server.host", f"{host!r} resolves to no address")
    return addresses


def _cors(cors: CorsSettings) -> CorsSettings:
    cleaned = []
    for index, origin in enumerate(cors.origins):
        if origin == "*":
            cleaned.append(origin)
            continue
        if not _is_origin(origin):
            raise ConfigError(
                "cors.origins",
                f"item {index} ({origin!r}) is not an origin like https://app.example.com "
                "(scheme, host and optional port; no path, no trailing slash) or '*'",
            )
        cleaned.append(origin.lower())
    cors = msgspec.structs.replace(cors, origins=tuple(dict.fromkeys(cleaned)))
    if cors.allow_any and cors.allow_credentials:
        raise ConfigError(
            "cors.allow_credentials",
            "cannot be true with origins = ['*']: browsers refuse credentials for any origin; "
            "list the origins instead",
        )
    return cors


def _is_origin(origin: str) -> bool:
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not parts.path
        and not parts.query
        and not parts.fragment
        and not parts.username
        and origin == f"{parts.scheme}://{parts.netloc}"
    )


def _auth(
    section: AuthSection, apps: tuple[App, ...], *, demo: bool, modes_source: str | None
) -> AuthSettings:
    _check_api_keys(section, {app.app_id for app in apps})
    if demo:
        return AuthSettings(modes=("none",), api_keys=section.api_keys, jwt=section.jwt)
    if section.modes is None:
        modes = default_modes(section)
    else:
        modes = tuple(mode.lower() for mode in section.modes)
        if not modes:
            raise ConfigError("auth.modes", f"must list at least one of {', '.join(AUTH_MODES)}")
        for mode in modes:
            if mode not in MODES:
                raise ConfigError(
                    "auth.modes", f"unknown mode {mode!r}; modes are {', '.join(AUTH_MODES)}"
                )
        if len(set(modes)) != len(modes):
            raise ConfigError("auth.modes", "lists a mode twice")
    for mode in modes:
        needs = MODES[mode].needs
        if needs and not MODES[mode].configured(section):
            where = f" (set by {modes_source})" if modes_source and modes_source.isupper() else ""
            raise ConfigError(
                needs.strip("[]"),
                f"auth.modes includes {mode!r} but {needs} is not configured: no {needs} in "
                f"the file or the environment{where}",
            )
    return AuthSettings(modes=modes, api_keys=section.api_keys, jwt=section.jwt)


def _check_api_keys(section: AuthSection, app_ids: set[int]) -> None:
    names: set[str] = set()
    digests: set[str] = set()
    for index, entry in enumerate(section.api_keys):
        key = f"auth.api_keys[{index}]"
        if entry.name in names:
            raise ConfigError(f"{key}.name", f"{entry.name!r} is used by two keys")
        if entry.sha256.lower() in digests:
            raise ConfigError(f"{key}.sha256", "the same key hash is listed twice")
        for app_id in entry.app_ids or ():
            if app_id not in app_ids:
                raise ConfigError(f"{key}.app_ids", f"AppID {app_id} is not a configured app")
        if entry.room_patterns is not None and not all(entry.room_patterns):
            raise ConfigError(
                f"{key}.room_patterns", "must be a list of room ID patterns like 'team-*'"
            )
        if entry.stream_ids is not None and not all(entry.stream_ids):
            raise ConfigError(
                f"{key}.stream_ids", "must be a list of stream ID patterns like 'bob-*'"
            )
        names.add(entry.name)
        digests.add(entry.sha256.lower())


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _all_loopback(addresses: tuple[str, ...]) -> bool:
    """A name counts as loopback only when every address it resolves to is loopback."""
    return bool(addresses) and all(_is_loopback(a.partition("%")[0]) for a in addresses)
