"""docs/configuration.md documents every key there is, and its examples load."""

from __future__ import annotations

import re
from pathlib import Path

from tests.server.conftest import SECRET
from zego_token.auth.settings import ApiKeySettings
from zego_token.pipeline.schema import fields_of
from zego_token.server.config import OWN_FIELDS, AppSettings, Overrides, load_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def all_fields() -> dict[str, dict[str, type]]:
    return {section: dict(keys) for section, keys in OWN_FIELDS.items()}


def test_every_key_is_documented_with_its_environment_variable() -> None:
    text = DOC.read_text()
    for section, keys in all_fields().items():
        for key in keys:
            env = f"ZEGO_TOKEN_{section.replace('.', '_')}_{key}".upper()
            assert f"`{env}`" in text, env
    for key in (*fields_of(AppSettings), *fields_of(ApiKeySettings)):
        assert f"`{key}`" in text or f"`[[apps]] {key}`" in text, key
    for name in (
        "ZEGO_APP_ID",
        "ZEGO_SERVER_SECRET",
        "ZEGO_SERVER_SECRET_FILE",
        "ZEGO_TOKEN_CONFIG",
    ):
        assert f"`{name}" in text, name


def test_no_documented_variable_is_unknown() -> None:
    known = {
        f"ZEGO_TOKEN_{section.replace('.', '_')}_{key}".upper()
        for section, keys in all_fields().items()
        for key in keys
    } | {"ZEGO_TOKEN_CONFIG", "ZEGO_TOKEN_AUTH_API_KEYS"}
    documented = set(re.findall(r"ZEGO_TOKEN_[A-Z0-9_]+", DOC.read_text()))
    assert documented <= known, documented - known


def test_the_complete_example_loads(tmp_path: Path) -> None:
    text = DOC.read_text()
    example = text.split("## A complete example", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    secret = tmp_path / "zego"
    secret.write_text(SECRET + "\n")
    config = tmp_path / "config.toml"
    config.write_text(example.replace("/run/secrets/zego", str(secret)))
    settings = load_settings(Overrides(config_file=str(config)), {})
    assert settings.server.host == "0.0.0.0"
    assert settings.auth.modes == ("api_key",)
    assert settings.cors.origins == ("https://app.example.com",)
    assert settings.rate_limit.per_ip == 120
