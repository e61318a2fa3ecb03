"""Property tests of the server's parsers: configuration fails only with ``ConfigError``; request
parameters only with a 4xx ``HttpError``, and whatever they accept mints the token asked for.

The coverage-guided versions of these properties are the atheris targets ``config_toml``,
``config_env``, ``query_string`` and ``json_body`` in ``fuzz/targets.py``.
"""

from __future__ import annotations

import json
import math
import string
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zego_token import InvalidParameter, decode_token04
from zego_token.pipeline.contracts import TokenKind, TokenRequest
from zego_token.pipeline.errors import HttpError
from zego_token.pipeline.mint import Minter
from zego_token.pipeline.params import QUERY_NAMES, RequestParser
from zego_token.pipeline.schema import ConfigError
from zego_token.server import config as server_config
from zego_token.server.config import Overrides, Settings, load_settings

SECRET = "0123456789abcdef0123456789abcdef"
APP_ID = 1234567890
BASE_ENV = {"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET}
HUGE = "9" * 5000  # past CPython's 4300-digit limit on int(str): int() raises ValueError


def _env_names() -> list[str]:
    names = []
    sections: dict[str, Mapping[str, type]] = dict(server_config.OWN_FIELDS)
    for ext in server_config.EXTENSIONS:
        sections[ext.section] = getattr(ext.load_class(), "FIELDS", {})
    for section, section_fields in sections.items():
        for key in section_fields:
            if not key.endswith("_file"):  # names of files to read: not fuzzed
                names.append(f"ZEGO_TOKEN_{section.replace('.', '_')}_{key}".upper())
    return names


ENV_NAMES = _env_names()
FLOAT_KEYS = [
    "ZEGO_TOKEN_RATE_LIMIT_REDIS_TIMEOUT",
    "ZEGO_TOKEN_AUTH_JWT_JWKS_TIMEOUT",
]
INT_KEYS = [
    name
    for name in ENV_NAMES
    if name.split("_")[-1] in ("PORT", "WORKERS", "TTL", "AGE", "WINDOW", "IP", "IDENTITY")
]


def _finite_numbers(value: object, path: str = "settings") -> None:
    """Every number in accepted settings is finite: NaN compares false with every bound."""
    if isinstance(value, float):
        assert math.isfinite(value), path
    elif is_dataclass(value) and not isinstance(value, type):
        for item in fields(value):
            _finite_numbers(getattr(value, item.name), f"{path}.{item.name}")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _finite_numbers(item, f"{path}[{key!r}]")
    elif isinstance(value, tuple | list):
        for index, item in enumerate(value):
            _finite_numbers(item, f"{path}[{index}]")


def _load(env: Mapping[str, str], config: Path | None = None) -> Settings | None:
    try:
        loaded = load_settings(Overrides(config_file=str(config) if config else None), env)
    except ConfigError:
        return None
    _finite_numbers(loaded)
    return loaded


# -- configuration -----------------------------------------------------------------------------

env_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e999", "0", "-1", "1.5", " 7 ", "", "true"]),
    st.from_regex(r"[+-]?[0-9]{1,30}", fullmatch=True),
)


@settings(max_examples=400, deadline=None)
@given(
    base=st.booleans(),
    extra=st.dictionaries(
        st.one_of(st.sampled_from(ENV_NAMES), st.text(string.ascii_uppercase + "_", max_size=20)),
        env_values,
        max_size=6,
    ),
)
def test_any_environment_fails_only_with_config_error(base: bool, extra: dict[str, str]) -> None:
    env = {
        **(BASE_ENV if base else {}),
        **{k if k.startswith("ZEGO") else "ZEGO_TOKEN_" + k: v for k, v in extra.items()},
    }
    _load(env)


toml_scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "true", "false", "[]", "{}", '""', "1.5"]),
    st.text(max_size=30).map(json.dumps),
    st.lists(st.text(max_size=10).map(json.dumps), max_size=3).map(lambda v: f"[{', '.join(v)}]"),
)
SECTIONS = [
    "server",
    "token",
    "cors",
    "auth",
    "auth.jwt",
    "logging",
    "demo",
    "policy",
    "hook",
    "rate_limit",
    "nope",
]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.lists(
        st.tuples(
            st.sampled_from(SECTIONS),
            st.lists(
                st.tuples(
                    st.one_of(
                        st.sampled_from([n.split("_", 3)[-1].lower() for n in ENV_NAMES]),
                        st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
                    ),
                    toml_scalars,
                ),
                max_size=5,
            ),
        ),
        max_size=4,
        unique_by=lambda section: section[0],
    ),
    garbage=st.text(max_size=40),
)
def test_any_toml_fails_only_with_config_error(
    tmp_path: Path, body: list[tuple[str, list[tuple[str, str]]]], garbage: str
) -> None:
    lines = []
    for section, pairs in body:
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in dict(pairs).items())
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _load(BASE_ENV, path)
    path.write_text("\n".join(lines) + "\n" + garbage, encoding="utf-8")
    _load(BASE_ENV, path)


@pytest.mark.parametrize("name", ["ZEGO_APP_ID", *INT_KEYS])
def test_a_huge_number_in_the_environment_is_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError):
        load_settings(Overrides(), {**BASE_ENV, name: HUGE})


def test_a_huge_number_in_the_toml_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[server]\nport = {HUGE}\n")
    with pytest.raises(ConfigError, match="--config"):
        load_settings(Overrides(config_file=str(path)), BASE_ENV)


@pytest.mark.parametrize("name", FLOAT_KEYS)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_timeout_that_is_not_a_finite_number_is_a_config_error(name: str, value: str) -> None:
    env = {**BASE_ENV, name: value}
    if "JWT" in name:  # the [auth.jwt] section needs its required keys to get that far
        env.update(
            ZEGO_TOKEN_AUTH_JWT_ALGORITHMS="RS256",
            ZEGO_TOKEN_AUTH_JWT_ISSUER="https://id.example",
            ZEGO_TOKEN_AUTH_JWT_AUDIENCE="zego",
            ZEGO_TOKEN_AUTH_JWT_JWKS_URL="https://id.example/jwks.json",
        )
    with pytest.raises(ConfigError, match=name.removeprefix("ZEGO_TOKEN_").lower()[-7:]):
        load_settings(Overrides(), env)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    ("section", "key", "needs"),
    [
        ("rate_limit", "redis_timeout", ""),
        (
            "auth.jwt",
            "jwks_timeout",
            'algorithms = ["RS256"]\nissuer = "https://id.example"\naudience = ["zego"]\n'
            'jwks_url = "https://id.example/jwks.json"\n',
        ),
    ],
)
def test_a_toml_timeout_that_is_not_finite_is_a_config_error(
    tmp_path: Path, section: str, key: str, needs: str, value: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[{section}]\n{needs}{key} = {value}\n")
    with pytest.raises(ConfigError, match=f"{section}.{key}"):
        load_settings(Overrides(config_file=str(path)), BASE_ENV)


# -- request parameters ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parser_and_minter() -> tuple[RequestParser, Minter]:
    loaded = load_settings(Overrides(), BASE_ENV)
    return RequestParser(loaded), Minter(loaded)


def _accepted_mints(minter: Minter, request: TokenRequest) -> None:
    try:
        minted = minter.mint(request)
    except InvalidParameter:
        return  # the app answers 400 for this as well
    claims = decode_token04(minted.token, SECRET, app_id=request.app_id, user_id=request.user_id)
    assert claims.expire - claims.ctime == request.ttl
    if request.room_id is None:
        assert claims.privileges is None
    else:
        assert claims.privileges is not None
        assert (claims.privileges.room_id, claims.privileges.publish) == (
            request.room_id,
            request.publish,
        )


def _only_4xx(parse: Callable[[], TokenRequest], minter: Minter) -> None:
    try:
        request = parse()
    except HttpError as error:
        assert 400 <= error.status < 500, (error.status, error.code)
        assert error.code and error.message
        return
    _accepted_mints(minter, request)


query_names = st.sampled_from(sorted({*QUERY_NAMES["kit"], "_", "userid"}))
query_values = st.one_of(
    st.text(max_size=70),
    st.sampled_from(["alice", "1", "0", "3600", "1e9", "NaN", "Infinity", "-5", "3600.0", " 60"]),
)


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["token", "kit"]),
    raw=st.binary(max_size=200),
    pairs=st.lists(st.tuples(query_names, query_values), max_size=8),
)
def test_any_query_is_a_4xx_or_the_token_asked_for(
    parser_and_minter: tuple[RequestParser, Minter],
    kind: TokenKind,
    raw: bytes,
    pairs: list[tuple[str, str]],
) -> None:
    from urllib.parse import urlencode

    parser, minter = parser_and_minter
    _only_4xx(lambda: parser.from_query(raw, kind), minter)
    query = urlencode(pairs).encode()
    _only_4xx(lambda: parser.from_query(query, kind), minter)
    unencoded = "&".join(f"{n}={v}" for n, v in pairs).encode("utf-8", "surrogatepass")
    _only_4xx(lambda: parser.from_query(unencoded, kind), minter)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=70)
    | st.sampled_from(["alice", "room-1", "3600"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=6,
)
json_names = st.sampled_from(
    ["user_id", "ttl", "room_id", "login", "publish", "stream_ids", "app_id", "user_name", "x"]
)


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["token", "kit"]),
    raw=st.binary(max_size=200),
    body=st.dictionaries(json_names, json_values, max_size=8),
)
def test_any_json_body_is_a_4xx_or_the_token_asked_for(
    parser_and_minter: tuple[RequestParser, Minter],
    kind: TokenKind,
    raw: bytes,
    body: dict[str, object],
) -> None:
    parser, minter = parser_and_minter
    _only_4xx(lambda: parser.from_json(raw, kind), minter)
    text = json.dumps(body).encode("utf-8", "surrogatepass")  # NaN/Infinity included
    _only_4xx(lambda: parser.from_json(text, kind), minter)


def test_deeply_nested_json_is_a_400(parser_and_minter: tuple[RequestParser, Minter]) -> None:
    parser, _ = parser_and_minter
    with pytest.raises(HttpError) as refused:
        parser.from_json(b"[" * 100_000 + b"]" * 100_000, "token")
    assert (refused.value.status, refused.value.code) == (400, "invalid_json")
