"""The server's configuration: environment first, then an optional TOML file, then defaults.

Every key of the TOML file can also be set as ``ZEGO_TOKEN_<SECTION>_<KEY>`` (lists
comma-separated); the apps come from ``ZEGO_APP_ID`` and ``ZEGO_SERVER_SECRET`` (or
``ZEGO_SERVER_SECRET_FILE``) and from ``[[apps]]``. Anything invalid or unknown raises
``ConfigError`` naming the key, so a typo can never silently switch a safeguard off.
Sections owned by other modules (``[auth.jwt]``, ``[policy]``, ``[hook]``, ``[rate_limit]``)
are handed to their settings classes, listed in ``EXTENSIONS``.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import re
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
from ..limits import INT32_MAX, MAX_APP_ID, check_secret
from .contracts import ConfigError, Grants

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

ENV_PREFIX = "ZEGO_TOKEN_"
ENV_CONFIG_FILE = "ZEGO_TOKEN_CONFIG"

AUTH_MODES = ("none", "api_key", "jwt")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("json", "text")
TOKEN_MODES = ("gcm", "cbc")

# The sections this module reads itself: key -> type (str, int, bool, list). "api_keys" is an
# array of tables and gets its own parser.
OWN_FIELDS: dict[str, dict[str, type]] = {
    "server": {
        "host": str,
        "port": int,
        "workers": int,
        "allow_unauthenticated": bool,
        "max_body_bytes": int,
        "trusted_proxies": list,
        "shutdown_timeout": int,
        "body_timeout": int,
        "reuse_port": bool,
    },
    "token": {"default_ttl": int, "min_ttl": int, "max_ttl": int, "default_mode": str},
    "cors": {"origins": list, "allow_credentials": bool, "max_age": int},
    "auth": {"modes": list, "api_keys": list},
    "logging": {"level": str, "format": str},
    "demo": {"enabled": bool},
}

APP_FIELDS = {"app_id": int, "secret": str, "secret_file": str}
API_KEY_FIELDS: dict[str, type] = {
    "name": str,
    "sha256": str,
    "app_ids": list,
    "room_patterns": list,
    "publish": bool,
    "stream_ids": list,
    "max_ttl": int,
}


@dataclass(frozen=True, slots=True)
class Extension:
    """A configuration section parsed by another module's settings class.

    The class has ``FIELDS: dict[str, type]`` (for converting environment strings) and
    ``from_mapping(data) -> settings`` raising ``ConfigError`` with dotted key names.
    """

    section: str  # dotted, e.g. "auth.jwt"
    module: str
    class_name: str

    def load_class(self) -> Any | None:
        try:
            module = importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            if exc.name == self.module:
                return None
            raise
        return getattr(module, self.class_name, None)


# The registry of delegated sections: adding one is one line here and one use in the app.
EXTENSIONS: tuple[Extension, ...] = (
    Extension("auth.jwt", "zego_token.server.auth_jwt", "JwtSettings"),
    Extension("policy", "zego_token.server.policy", "PolicySettings"),
    Extension("hook", "zego_token.server.hooks", "HookSettings"),
    Extension("rate_limit", "zego_token.server.ratelimit", "RateLimitSettings"),
)


@dataclass(frozen=True, slots=True)
class App:
    """A ZEGOCLOUD project: its AppID and ServerSecret (never printed: ``repr=False``)."""

    app_id: int
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A static API key, stored only as its SHA-256 digest, and the scopes it grants."""

    name: str
    digest: bytes = field(repr=False)
    grants: Grants = field(default_factory=Grants)


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    allow_unauthenticated: bool = False
    max_body_bytes: int = 16384
    trusted_proxies: tuple[str, ...] = ()
    shutdown_timeout: int = 30
    body_timeout: int = 10
    # Join a port other processes listen on (SO_REUSEPORT) instead of refusing to start.
    reuse_port: bool = False
    # What ``host`` resolves to: the address the server binds, and every address of the name
    # (the loopback rule holds only when all of them are loopback).
    address: str = "127.0.0.1"
    addresses: tuple[str, ...] = ("127.0.0.1",)


@dataclass(frozen=True, slots=True)
class TokenSettings:
    default_ttl: int = 3600
    min_ttl: int = 60
    max_ttl: int = 86400
    default_mode: str = "gcm"


@dataclass(frozen=True, slots=True)
class CorsSettings:
    origins: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: int = 600

    @property
    def allow_any(self) -> bool:
        return "*" in self.origins


@dataclass(frozen=True, slots=True)
class AuthSettings:
    modes: tuple[str, ...] = ("none",)
    api_keys: tuple[ApiKey, ...] = ()


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    level: str = "info"
    format: str = "json"


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
    # Delegated sections that were configured (or whose defaults apply): section -> settings.
    extensions: Mapping[str, Any] = field(default_factory=dict)

    @property
    def default_app(self) -> App:
        return self.apps[0]

    def app(self, app_id: int) -> App | None:
        for app in self.apps:
            if app.app_id == app_id:
                return app
        return None

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


@dataclass
class _Raw:
    """Merged raw values before validation, with where each came from (for messages)."""

    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    apps: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def get(self, section: str, key: str, default: Any) -> Any:
        return self.sections.get(section, {}).get(key, default)


def load_settings(
    overrides: Overrides | None = None,
    env: Mapping[str, str] | None = None,
    *,
    demo_app: App | None = None,
) -> Settings:
    """Read, merge and validate the configuration; raise ``ConfigError`` naming the bad key."""
    overrides = overrides or Overrides()
    env = os.environ if env is None else env
    raw = _Raw()
    config_file = overrides.config_file or env.get(ENV_CONFIG_FILE) or None
    if config_file:
        _read_toml(Path(config_file), raw)
    _overlay_env(env, raw)
    _overlay_cli(overrides, raw)
    return _validate(raw, env, overrides, demo_app)


# -- reading -----------------------------------------------------------------------------------


def _read_toml(path: Path, raw: _Raw) -> None:
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
    known = {*OWN_FIELDS, "apps", *(ext.section.split(".")[0] for ext in EXTENSIONS)}
    for name, value in data.items():
        if name not in known:
            raise ConfigError(name, f"unknown section in {path}; known: {', '.join(sorted(known))}")
        if name == "apps":
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise ConfigError("apps", "must be an array of tables: [[apps]]")
            raw.apps.extend(dict(v) for v in value)
            for i in range(len(value)):
                raw.sources[f"apps[{i}]"] = str(path)
            continue
        if not isinstance(value, dict):
            raise ConfigError(name, f"must be a table: [{name}]")
        section = dict(value)
        if name == "auth" and "jwt" in section:
            jwt = section.pop("jwt")
            if not isinstance(jwt, dict):
                raise ConfigError("auth.jwt", "must be a table: [auth.jwt]")
            raw.sections["auth.jwt"] = dict(jwt)
        raw.sections[name] = section
        for key in section:
            raw.sources[f"{name}.{key}"] = str(path)


def _env_sections() -> list[tuple[str, str]]:
    """(env prefix part, dotted section), longest first so AUTH_JWT wins over AUTH."""
    names = [*OWN_FIELDS, *(ext.section for ext in EXTENSIONS)]
    pairs = [(name.replace(".", "_"), name) for name in names]
    return sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)


def _fields_of(section: str) -> dict[str, type] | None:
    if section in OWN_FIELDS:
        return OWN_FIELDS[section]
    for ext in EXTENSIONS:
        if ext.section == section:
            cls = ext.load_class()
            fields = getattr(cls, "FIELDS", None) if cls is not None else None
            return dict(fields) if isinstance(fields, Mapping) else None
    return None


def _overlay_env(env: Mapping[str, str], raw: _Raw) -> None:
    sections = _env_sections()
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name == ENV_CONFIG_FILE:
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        match = next(((p, s) for p, s in sections if rest.startswith(p + "_")), None)
        if match is None:
            raise ConfigError(
                name,
                "unknown environment variable: ZEGO_TOKEN_<SECTION>_<KEY> needs one of the "
                f"sections {', '.join(sorted(s for _, s in sections))}",
            )
        prefix, section = match
        key = rest[len(prefix) + 1 :]
        fields = _fields_of(section)
        if fields is None:
            raise ConfigError(name, f"section [{section}] is not available in this installation")
        if key not in fields:
            raise ConfigError(
                name,
                f"unknown key {section}.{key}; known keys: {', '.join(sorted(fields))}",
            )
        dotted = f"{section}.{key}"
        if section == "auth" and key == "api_keys":
            value: Any = _env_api_keys(name, env[name])
        else:
            value = _convert(name, dotted, env[name], fields[key])
        raw.sections.setdefault(section, {})[key] = value
        raw.sources[dotted] = name


def _convert(env_name: str, dotted: str, text: str, kind: type) -> object:
    text = text.strip()
    if kind is str:
        return text
    if kind is int:
        if not re.fullmatch(r"[+-]?[0-9]{1,18}", text):
            raise ConfigError(dotted, f"must be a whole number, got {text!r} (from {env_name})")
        return int(text)
    if kind is float:
        try:
            value = float(text)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(text)
            return value
        except ValueError:
            raise ConfigError(dotted, f"must be a number, got {text!r} (from {env_name})") from None
    if kind is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(dotted, f"must be true or false, got {text!r} (from {env_name})")
    if kind is list:
        return [item.strip() for item in text.split(",") if item.strip()]
    raise ConfigError(dotted, f"cannot be set from the environment ({env_name})")


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


def _overlay_cli(overrides: Overrides, raw: _Raw) -> None:
    server = raw.sections.setdefault("server", {})
    for key in ("host", "port", "workers"):
        value = getattr(overrides, key)
        if value is not None:
            server[key] = value
            raw.sources[f"server.{key}"] = f"--{key}"
    if overrides.log_level is not None:
        raw.sections.setdefault("logging", {})["level"] = overrides.log_level
        raw.sources["logging.level"] = "--log-level"


# -- validation --------------------------------------------------------------------------------


class _Checker:
    def __init__(self, raw: _Raw) -> None:
        self.raw = raw

    def fail(self, key: str, message: str) -> ConfigError:
        source = self.raw.sources.get(key)
        where = f" (set by {source})" if source and source.isupper() else ""
        return ConfigError(key, message + where)

    def unknown_keys(self, section: str) -> None:
        values = self.raw.sections.get(section, {})
        fields = OWN_FIELDS[section]
        for key in values:
            if key not in fields:
                raise self.fail(
                    f"{section}.{key}",
                    f"unknown key in [{section}]; known keys: {', '.join(sorted(fields))}",
                )

    def typed(self, section: str, key: str, default: Any) -> Any:
        value = self.raw.get(section, key, default)
        kind = OWN_FIELDS[section][key]
        dotted = f"{section}.{key}"
        if kind is int and not (isinstance(value, int) and not isinstance(value, bool)):
            raise self.fail(dotted, f"must be a whole number, got {_show(value)}")
        if kind is bool and not isinstance(value, bool):
            raise self.fail(dotted, f"must be true or false, got {_show(value)}")
        if kind is str and not isinstance(value, str):
            raise self.fail(dotted, f"must be a string, got {_show(value)}")
        if kind is list and not (
            isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        ):
            raise self.fail(dotted, f"must be a list of strings, got {_show(value)}")
        return tuple(value) if kind is list else value

    def int_in(self, section: str, key: str, default: int, low: int, high: int) -> int:
        value: int = self.typed(section, key, default)
        if not low <= value <= high:
            raise self.fail(f"{section}.{key}", f"must be in {low}..{high}, got {value}")
        return value

    def choice(self, section: str, key: str, default: str, choices: tuple[str, ...]) -> str:
        value: str = self.typed(section, key, default)
        lowered = value.lower()
        if lowered not in choices:
            raise self.fail(
                f"{section}.{key}", f"must be one of {', '.join(choices)}, got {value!r}"
            )
        return lowered


def _validate(
    raw: _Raw, env: Mapping[str, str], overrides: Overrides, demo_app: App | None
) -> Settings:
    check = _Checker(raw)
    for section in OWN_FIELDS:
        if section in raw.sections:
            check.unknown_keys(section)

    demo = overrides.demo or bool(check.typed("demo", "enabled", False))
    if overrides.demo:
        if demo_app is None:
            raise ConfigError("--demo", "demo mode needs a throwaway app")
        apps: tuple[App, ...] = (demo_app,)
    else:
        apps = _apps(raw, env, check)

    server = _server(check)
    token = _token(check)
    cors = _cors(check)
    logging = LoggingSettings(
        level=check.choice("logging", "level", "info", LOG_LEVELS),
        format=check.choice("logging", "format", "json", LOG_FORMATS),
    )
    extensions = _extensions(raw)
    auth = _auth(check, apps, extensions, demo=overrides.demo)

    if overrides.demo:
        if not _all_loopback(server.addresses):
            raise check.fail("server.host", "--demo listens on a loopback address only")
        if server.workers != 1:
            raise check.fail("server.workers", "--demo runs one worker")

    if (
        "none" in auth.modes
        and not server.allow_unauthenticated
        and not _all_loopback(server.addresses)
    ):
        raise check.fail(
            "server.host",
            f"auth mode 'none' hands out tokens to anyone, so the server refuses to listen on "
            f"{_host_and_addresses(server)}; listen on 127.0.0.1, configure [[auth.api_keys]] "
            "(or another auth mode), or set server.allow_unauthenticated = true if a gateway in "
            "front authenticates callers",
        )
    return Settings(
        apps=apps,
        server=server,
        token=token,
        cors=cors,
        auth=auth,
        logging=logging,
        demo=demo,
        extensions=extensions,
    )


def _apps(raw: _Raw, env: Mapping[str, str], check: _Checker) -> tuple[App, ...]:
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
    for index, entry in enumerate(raw.apps):
        key = f"apps[{index}]"
        for name in entry:
            if name not in APP_FIELDS:
                raise check.fail(
                    f"{key}.{name}",
                    f"unknown key in [[apps]]; known keys: {', '.join(sorted(APP_FIELDS))}",
                )
        app_id = entry.get("app_id")
        if not isinstance(app_id, int) or isinstance(app_id, bool) or not 0 < app_id <= MAX_APP_ID:
            raise check.fail(
                f"{key}.app_id",
                f"must be the numeric AppID from the ZEGOCLOUD console (1..{MAX_APP_ID}), "
                f"got {_show(app_id)}",
            )
        secret_value = entry.get("secret")
        secret_file = entry.get("secret_file")
        if secret_value is not None and not isinstance(secret_value, str):
            raise check.fail(f"{key}.secret", "must be a string")
        if secret_file is not None and not isinstance(secret_file, str):
            raise check.fail(f"{key}.secret_file", "must be a path string")
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
            raise check.fail(f"{key}.app_id", f"AppID {app_id} is listed twice")
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


def _server(check: _Checker) -> ServerSettings:
    host = check.typed("server", "host", "127.0.0.1").strip()
    if not host:
        raise check.fail("server.host", "must not be empty")
    addresses = _resolve(check, host)
    proxies = check.typed("server", "trusted_proxies", [])
    for index, proxy in enumerate(proxies):
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise check.fail(
                "server.trusted_proxies",
                f"item {index} ({proxy!r}) is not an IP address or CIDR network",
            ) from None
    return ServerSettings(
        host=host,
        port=check.int_in("server", "port", 8080, 0, 65535),
        workers=check.int_in("server", "workers", 1, 1, 256),
        allow_unauthenticated=check.typed("server", "allow_unauthenticated", False),
        max_body_bytes=check.int_in("server", "max_body_bytes", 16384, 256, 16 * 1024 * 1024),
        trusted_proxies=tuple(proxies),
        shutdown_timeout=check.int_in("server", "shutdown_timeout", 30, 1, 3600),
        body_timeout=check.int_in("server", "body_timeout", 10, 1, 300),
        reuse_port=check.typed("server", "reuse_port", False),
        address=_bind_address(addresses),
        addresses=addresses,
    )


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


def _resolve(check: _Checker, host: str) -> tuple[str, ...]:
    try:
        addresses = resolve_host(host)
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise check.fail(
            "server.host",
            f"cannot resolve {host!r} ({reason}): give an IP address such as 127.0.0.1 or "
            "0.0.0.0, or a name this machine resolves",
        ) from None
    if not addresses:  # pragma: no cover - getaddrinfo raises rather than answer nothing
        raise check.fail("server.host", f"{host!r} resolves to no address")
    return addresses


def _bind_address(addresses: tuple[str, ...]) -> str:
    """One address to listen on: a name's first IPv4 address (what most clients try first for
    ``localhost``), else its first address."""
    return next((a for a in addresses if ":" not in a), addresses[0])


def _token(check: _Checker) -> TokenSettings:
    min_ttl = check.int_in("token", "min_ttl", 60, 1, INT32_MAX)
    max_ttl = check.int_in("token", "max_ttl", 86400, 1, INT32_MAX)
    if min_ttl > max_ttl:
        raise check.fail("token.min_ttl", f"is {min_ttl}, above token.max_ttl ({max_ttl})")
    default_ttl = check.int_in("token", "default_ttl", 3600, 1, INT32_MAX)
    if not min_ttl <= default_ttl <= max_ttl:
        raise check.fail(
            "token.default_ttl",
            f"is {default_ttl}, outside token.min_ttl..token.max_ttl ({min_ttl}..{max_ttl})",
        )
    return TokenSettings(
        default_ttl=default_ttl,
        min_ttl=min_ttl,
        max_ttl=max_ttl,
        default_mode=check.choice("token", "default_mode", "gcm", TOKEN_MODES),
    )


def _cors(check: _Checker) -> CorsSettings:
    origins = check.typed("cors", "origins", [])
    cleaned = []
    for index, origin in enumerate(origins):
        if origin == "*":
            cleaned.append(origin)
            continue
        if not _is_origin(origin):
            raise check.fail(
                "cors.origins",
                f"item {index} ({origin!r}) is not an origin like https://app.example.com "
                "(scheme, host and optional port; no path, no trailing slash) or '*'",
            )
        cleaned.append(origin.lower())
    settings = CorsSettings(
        origins=tuple(dict.fromkeys(cleaned)),
        allow_credentials=check.typed("cors", "allow_credentials", False),
        max_age=check.int_in("cors", "max_age", 600, 0, 86400),
    )
    if settings.allow_any and settings.allow_credentials:
        raise check.fail(
            "cors.allow_credentials",
            "cannot be true with origins = ['*']: browsers refuse credentials for any origin; "
            "list the origins instead",
        )
    return settings


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
    check: _Checker, apps: tuple[App, ...], extensions: Mapping[str, Any], *, demo: bool
) -> AuthSettings:
    keys = _api_keys(check, apps)
    configured_modes = check.raw.get("auth", "modes", None)
    if demo:
        return AuthSettings(modes=("none",), api_keys=keys)
    if configured_modes is None:
        modes: list[str] = []
        if "auth.jwt" in extensions:
            modes.append("jwt")
        if keys:
            modes.append("api_key")
        modes = modes or ["none"]
    else:
        modes = [m.lower() for m in check.typed("auth", "modes", [])]
        if not modes:
            raise check.fail("auth.modes", f"must list at least one of {', '.join(AUTH_MODES)}")
        for mode in modes:
            if mode not in AUTH_MODES:
                raise check.fail(
                    "auth.modes", f"unknown mode {mode!r}; modes are {', '.join(AUTH_MODES)}"
                )
        if len(set(modes)) != len(modes):
            raise check.fail("auth.modes", "lists a mode twice")
    if "api_key" in modes and not keys:
        raise check.fail(
            "auth.api_keys", "auth.modes includes 'api_key' but no [[auth.api_keys]] are configured"
        )
    if "jwt" in modes and "auth.jwt" not in extensions:
        raise check.fail("auth.jwt", "auth.modes includes 'jwt' but [auth.jwt] is not configured")
    return AuthSettings(modes=tuple(modes), api_keys=keys)


def _api_keys(check: _Checker, apps: tuple[App, ...]) -> tuple[ApiKey, ...]:
    entries = check.raw.get("auth", "api_keys", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise check.fail("auth.api_keys", "must be an array of tables: [[auth.api_keys]]")
    keys: list[ApiKey] = []
    names: set[str] = set()
    digests: set[bytes] = set()
    app_ids = {app.app_id for app in apps}
    for index, entry in enumerate(entries):
        key = f"auth.api_keys[{index}]"
        for name in entry:
            if name not in API_KEY_FIELDS:
                raise check.fail(
                    f"{key}.{name}",
                    f"unknown key in [[auth.api_keys]]; known keys: "
                    f"{', '.join(sorted(API_KEY_FIELDS))}",
                )
        name = entry.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._@-]{1,64}", name):
            raise check.fail(
                f"{key}.name",
                "must be 1..64 letters, digits or . _ @ - (it names the caller in logs)",
            )
        if name in names:
            raise check.fail(f"{key}.name", f"{name!r} is used by two keys")
        digest_hex = entry.get("sha256")
        if not isinstance(digest_hex, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", digest_hex):
            raise check.fail(
                f"{key}.sha256",
                'must be the 64-hex-digit SHA-256 of the key (printf %s "$KEY" | sha256sum), '
                "never the key itself",
            )
        digest = bytes.fromhex(digest_hex)
        if digest in digests:
            raise check.fail(f"{key}.sha256", "the same key hash is listed twice")
        grants = _grants(check, key, entry, app_ids)
        names.add(name)
        digests.add(digest)
        keys.append(ApiKey(name=name, digest=digest, grants=grants))
    return tuple(keys)


def _grants(check: _Checker, key: str, entry: Mapping[str, Any], app_ids: set[int]) -> Grants:
    scoped_apps = entry.get("app_ids")
    if scoped_apps is not None:
        if not isinstance(scoped_apps, list) or not all(
            isinstance(a, int) and not isinstance(a, bool) for a in scoped_apps
        ):
            raise check.fail(f"{key}.app_ids", "must be a list of AppIDs (numbers)")
        for app_id in scoped_apps:
            if app_id not in app_ids:
                raise check.fail(f"{key}.app_ids", f"AppID {app_id} is not a configured app")
    rooms = entry.get("room_patterns")
    if rooms is not None and not (
        isinstance(rooms, list) and all(isinstance(r, str) and r for r in rooms)
    ):
        raise check.fail(f"{key}.room_patterns", "must be a list of room ID patterns like 'team-*'")
    publish = entry.get("publish")
    if publish is not None and not isinstance(publish, bool):
        raise check.fail(f"{key}.publish", "must be true or false")
    # [] is allowed here and means "no stream", so no publishing: the policy refuses every
    # stream ID outside the grant, and the token never carries an empty list.
    streams = entry.get("stream_ids")
    if streams is not None and not (
        isinstance(streams, list) and all(isinstance(s, str) and s for s in streams)
    ):
        raise check.fail(f"{key}.stream_ids", "must be a list of stream ID patterns like 'bob-*'")
    max_ttl = entry.get("max_ttl")
    if max_ttl is not None and (
        not isinstance(max_ttl, int) or isinstance(max_ttl, bool) or not 0 < max_ttl <= INT32_MAX
    ):
        raise check.fail(f"{key}.max_ttl", "must be a positive whole number of seconds")
    return Grants(
        app_ids=tuple(scoped_apps) if scoped_apps is not None else None,
        room_patterns=tuple(rooms) if rooms is not None else None,
        publish=publish,
        stream_ids=tuple(streams) if streams is not None else None,
        max_ttl=max_ttl,
    )


def _extensions(raw: _Raw) -> dict[str, Any]:
    """Hand each delegated section to its settings class.

    A configured section whose module is missing is an error; an unconfigured one is built
    from an empty mapping when its module exists, so defaults such as the policy's ID rules
    apply, except [auth.jwt] and [hook], which mean nothing without keys.
    """
    result: dict[str, Any] = {}
    for ext in EXTENSIONS:
        data = raw.sections.get(ext.section)
        cls = ext.load_class()
        if cls is None:
            if data is not None:
                raise ConfigError(
                    ext.section, f"section [{ext.section}] is not available in this installation"
                )
            continue
        if data is None:
            if ext.section in ("auth.jwt", "hook"):
                continue
            data = {}
        from_mapping: Callable[[Mapping[str, object]], Any] = cls.from_mapping
        result[ext.section] = from_mapping(data)
    return result


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


def _host_and_addresses(server: ServerSettings) -> str:
    shown = repr(server.host)
    if server.addresses != (server.host,):
        shown += f" (resolves to {', '.join(server.addresses)})"
    return shown


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    return _is_loopback(host)


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else f"a string of {len(value)} characters"
    if value is None:
        return "nothing"
    if isinstance(value, bool | int | float):
        return repr(value)
    return type(value).__name__
