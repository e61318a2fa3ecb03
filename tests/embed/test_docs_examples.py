"""The FastAPI and Flask examples of docs/embed.md, run as written: sign in, get a token."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from tests.embed.sites import APP_ID, SECRET
from zego_token import decode_token04

DOC = Path(__file__).resolve().parent.parent.parent / "docs" / "embed.md"


def example(section: str) -> str:
    text = DOC.read_text("utf-8")
    part = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", part, re.S)
    assert len(blocks) == 1, f"docs/embed.md ## {section} should hold one python example"
    return blocks[0]


def load(section: str, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    monkeypatch.setenv("ZEGO_APP_ID", str(APP_ID))
    monkeypatch.setenv("ZEGO_SERVER_SECRET", SECRET)
    monkeypatch.setenv("SESSION_KEY", "tests-only-session-key")
    module = types.ModuleType(f"embed_doc_{section.lower()}")
    exec(compile(example(section), f"docs/embed.md ({section})", "exec"), module.__dict__)
    return module


def test_the_fastapi_example_issues_to_the_signed_in_teacher_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi.testclient import TestClient

    with TestClient(load("FastAPI", monkeypatch).app) as client:
        assert client.get("/api/zego/token?userID=alice&roomID=class-1").status_code == 401
        assert client.post("/login", json={"user": "alice", "password": "nope"}).status_code == 401
        assert client.post("/login", json={"user": "alice", "password": "wonderland"}).is_success
        answer = client.get(
            "/api/zego/token?userID=alice&roomID=class-1&publish=1&expired_ts=86400"
        )
        assert answer.status_code == 200, answer.text
        claims = decode_token04(answer.json()["token"], SECRET, app_id=APP_ID, user_id="alice")
        assert claims.expire - claims.ctime == 86400
        assert client.post("/login", json={"user": "bob", "password": "builder"}).is_success
        bob = client.get("/api/zego/token?userID=bob&roomID=class-1&publish=1")
        assert bob.json()["error"]["code"] == "publish_not_allowed"


def test_the_flask_example_issues_to_the_signed_in_teacher_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = load("Flask", monkeypatch).app.test_client()
    assert client.get("/api/zego/token?userID=alice&roomID=class-1").status_code == 401
    assert (
        client.post("/login", json={"user": "alice", "password": "wonderland"}).status_code == 200
    )
    answer = client.get("/api/zego/token?userID=alice&roomID=class-1&publish=1&expired_ts=86400")
    assert answer.status_code == 200, answer.get_data()
    claims = decode_token04(answer.get_json()["token"], SECRET, app_id=APP_ID, user_id="alice")
    assert claims.expire - claims.ctime == 86400
    other = client.get("/api/zego/token?userID=bob&roomID=class-1")
    assert other.status_code == 403 and other.get_json()["error"]["code"] == "user_id_not_allowed"
