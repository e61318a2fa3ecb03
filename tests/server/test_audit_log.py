"""The access log is an audit trail: each token's line says what it grants (kind, room,
publish, stream IDs, TTL) and who asked, never the token; refusals carry their code; the token
endpoints' lines can also go to their own file (``logging.audit_file``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.server.conftest import API_KEY, API_KEY_SHA256, RunningServer, RunUntilExit, StartServer

CONFIG = f"""
[[auth.api_keys]]
name = "game-backend"
sha256 = "{API_KEY_SHA256}"
"""
BEARER = {"authorization": f"Bearer {API_KEY}"}


def request_line(server: RunningServer, path: str, **fields: object) -> dict[str, Any]:
    """The request line for ``path`` with these ``fields``, once the server has written it."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for record in server.records():
            if (
                record.get("msg") == "request"
                and record.get("path") == path
                and all(record.get(key) == value for key, value in fields.items())
            ):
                return record
        time.sleep(0.02)
    raise AssertionError(f"no request line for {path} {fields}:\n{server.output()}")


def test_a_kit_tokens_line_says_what_it_grants_and_to_whom(start_server: StartServer) -> None:
    server = start_server(CONFIG)
    answer = httpx.get(
        f"{server}/api/kit-token",
        params=[
            ("userID", "alice"),
            ("roomID", "room-7"),
            ("publish", "1"),
            ("expired_ts", "1800"),
            ("streamID", "room-7-alice-cam"),
            ("streamID", "room-7-alice-screen"),
        ],
        headers=BEARER,
    )
    assert answer.status_code == 200, answer.text
    line = request_line(server, "/api/kit-token", user_id="alice")
    assert line["status"] == 200
    assert line["auth"] == "api_key:game-backend"
    assert line["app_id"] == 1234567890
    assert line["kind"] == "kit"
    assert line["room_id"] == "room-7"
    assert line["publish"] is True
    assert line["streams"] == 2
    assert "stream_ids" not in line  # only at debug level
    assert line["ttl"] == 1800
    body = answer.json()
    output = server.output()
    assert body["token"] not in output and body["kitToken"] not in output
    assert API_KEY not in output


def test_a_plain_token_has_no_room_and_a_refusal_carries_its_code(
    start_server: StartServer,
) -> None:
    server = start_server(CONFIG)
    ok = httpx.get(f"{server}/api/token", params={"userID": "bob"}, headers=BEARER)
    assert ok.status_code == 200
    line = request_line(server, "/api/token", user_id="bob")
    assert (line["kind"], line["publish"], line["ttl"]) == ("token", False, 3600)
    assert "room_id" not in line and "streams" not in line

    refused = httpx.get(
        f"{server}/api/token", params={"userID": "carol", "expired_ts": "999999"}, headers=BEARER
    )
    assert refused.status_code == 422
    line = request_line(server, "/api/token", status=422)
    assert line["error"] == "ttl_out_of_range"
    assert "kind" not in line and "ttl" not in line  # nothing was granted


def test_stream_ids_are_listed_at_debug_level(start_server: StartServer) -> None:
    server = start_server(CONFIG, args=["--log-level", "debug"])
    httpx.get(
        f"{server}/api/token",
        params=[("userID", "dave"), ("roomID", "r1"), ("publish", "1"), ("streamID", "r1-dave")],
        headers=BEARER,
    ).raise_for_status()
    line = request_line(server, "/api/token", user_id="dave")
    assert line["stream_ids"] == ["r1-dave"] and line["streams"] == 1


def test_the_audit_file_gets_the_token_lines_only(
    start_server: StartServer, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.log"
    server = start_server(CONFIG + f'\n[logging]\naudit_file = "{audit}"\n')
    httpx.get(
        f"{server}/api/kit-token",
        params={"userID": "erin", "roomID": "room-9", "publish": "0"},
        headers=BEARER,
    ).raise_for_status()
    assert httpx.get(f"{server}/api/token", params={"userID": "frank"}).status_code == 401
    httpx.get(f"{server}/healthz").raise_for_status()
    request_line(server, "/api/token", user_id="frank")
    server.terminate()
    server.wait_exit()
    lines = [json.loads(text) for text in audit.read_text().splitlines()]
    assert [(line["path"], line.get("user_id")) for line in lines] == [
        ("/api/kit-token", "erin"),
        ("/api/token", "frank"),
    ]
    assert lines[0]["room_id"] == "room-9" and lines[0]["publish"] is False
    assert lines[1]["error"] == "missing_credentials"
    assert audit.stat().st_mode & 0o777 == 0o640


def test_an_audit_file_that_cannot_be_opened_stops_start_up(
    run_until_exit: RunUntilExit, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-directory" / "audit.log"
    code, _, stderr = run_until_exit(f'[logging]\naudit_file = "{missing}"\n')
    assert code == 2
    assert f"configuration key logging.audit_file: cannot open {missing}" in stderr
