"""Facts kept in one place, and the copies that cannot import them held to it: ZEGO's ID rule in
the demo page and the OpenAPI document, the server extra's modules, the auth modes, the log
levels and the token modes."""

from __future__ import annotations

import html
import json
import re
import string
import sys
import typing
from pathlib import Path

import pytest

from zego_token.auth.modes import AUTH_MODES
from zego_token.cli.serve import SERVER_EXTRA_MODULES, SERVER_EXTRA_OPTIONAL_MODULES
from zego_token.limits import ZEGO_ID_PATTERN, ZEGO_ID_PUNCTUATION, follows_zego_id_rules
from zego_token.pipeline.errors import ERROR_CODES
from zego_token.server.config import Overrides, load_settings
from zego_token.server.logs import LEVELS, LogLevel
from zego_token.server.openapi import build_openapi
from zego_token.token04 import Mode

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "src" / "zego_token" / "server" / "static"
# Every printable ASCII character and a few beyond: enough to tell two character classes apart.
CHARACTERS = [*string.printable.strip(), " ", "é", "房", "\u00a0"]


def _js_regex(name: str) -> re.Pattern[str]:
    source = (STATIC / "demo.js").read_text()
    literal = re.search(rf"const {name} = /(.+)/;", source)
    assert literal is not None, name
    return re.compile(literal.group(1))


def _html_pattern(element_id: str) -> re.Pattern[str]:
    page = (STATIC / "demo.html").read_text()
    tag = re.search(rf'<input id="{element_id}"[^>]*pattern="([^"]+)"', page)
    assert tag is not None, element_id
    # An HTML pattern matches the whole value.
    return re.compile(f"^(?:{html.unescape(tag.group(1))})$")


@pytest.mark.parametrize("character", CHARACTERS)
def test_the_demo_page_and_the_openapi_pattern_follow_zegos_id_rule(character: str) -> None:
    allowed = follows_zego_id_rules(character)
    assert bool(_js_regex("ZEGO_ID").match(character)) == allowed
    assert bool(_html_pattern("room-id").match(character)) == allowed
    assert bool(re.match(ZEGO_ID_PATTERN, character)) == allowed
    url_safe = bool(_js_regex("URL_SAFE_ID").match(character))
    assert bool(_html_pattern("user-id").match(character)) == url_safe


def test_the_demo_page_states_the_rule_as_the_library_does() -> None:
    assert ZEGO_ID_PUNCTUATION.replace("\\", "\\\\") in (STATIC / "demo.js").read_text()


def test_openapi_documents_the_user_id_with_the_librarys_pattern() -> None:
    settings = load_settings(Overrides(), {"ZEGO_APP_ID": "5", "ZEGO_SERVER_SECRET": "0" * 32})
    document = json.dumps(build_openapi(settings, user_id_pattern=ZEGO_ID_PATTERN))
    assert json.dumps(ZEGO_ID_PATTERN) in document


def test_the_server_extra_modules_are_the_server_extra_of_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["server"]
    module_of = {"prometheus-client": "prometheus_client", "pyjwt": "jwt"}

    def modules(marked: bool) -> set[str]:
        names = {re.split(r"[\[<>=; ]", r)[0].lower() for r in extra if (";" in r) is marked}
        return {module_of.get(name, name) for name in names}

    assert modules(marked=False) == set(SERVER_EXTRA_MODULES)
    # Only where a platform has them; the server runs without.
    assert modules(marked=True) == set(SERVER_EXTRA_OPTIONAL_MODULES)


def test_the_auth_modes_are_the_error_tables_needs() -> None:
    needs = {entry.needs for entry in ERROR_CODES.values()}
    assert {mode for mode in AUTH_MODES if mode != "none"} <= needs


def test_log_levels_and_token_modes_are_declared_once() -> None:
    assert tuple(LEVELS) == typing.get_args(LogLevel)
    from zego_token.issuer import TokenIssuer  # noqa: F401 - the issuer checks modes by Mode

    assert typing.get_args(Mode) == ("gcm", "cbc")
