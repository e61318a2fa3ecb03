"""One logging design: the records of the standard ``logging`` loggers are
written by the server's own writer, keep their fields and exception, and are scrubbed."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import httpx

from tests.server.conftest import SECRET, StartServer
from zego_token.server.logs import Logger, LogHandler

HOOK = f"""
def check(ctx):
    return _look_up(ctx.request.user_id)


def _look_up(user_id):
    raise PermissionError("rules backend refused {SECRET} for " + user_id)
"""


def test_a_failing_hook_is_logged_with_its_exception_and_scrubbed(
    start_server: StartServer, tmp_path: Path
) -> None:
    (tmp_path / "failing_rules.py").write_text(HOOK, encoding="utf-8")
    server = start_server(
        '[hook]\nfunction = "failing_rules:check"\n',
        env={"PYTHONPATH": str(tmp_path)},
    )
    response = httpx.get(f"{server}/api/token", params={"userID": "alice"}, timeout=10)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "hook_error"
    assert SECRET not in response.text and "PermissionError" not in response.text
    server.terminate()
    server.wait_exit()
    failed = [r for r in server.records() if r.get("msg") == "hook failing_rules:check failed"]
    assert len(failed) == 1, server.output()
    line = failed[0]
    assert line["level"] == "error"
    assert line["logger"] == "zego_token.server.hooks"
    assert line["exception"] == "PermissionError"
    assert line["detail"] == "rules backend refused [secret] for alice"
    assert any("failing_rules.py" in frame and "_look_up" in frame for frame in line["traceback"])
    assert SECRET not in server.output()


def _lines(read_fd: int) -> list[dict[str, object]]:
    return [json.loads(line) for line in os.read(read_fd, 65536).decode().splitlines()]


def test_records_keep_extra_fields_and_are_scrubbed_like_every_line() -> None:
    read_fd, write_fd = os.pipe()
    try:
        handler = LogHandler("json", "info", secrets=[SECRET])
        handler.logger = Logger("info", "json", fd=write_fd, secrets=[SECRET])
        log = logging.getLogger("zego_token.test_logging_unified")
        log.propagate = False
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        try:
            log.warning(
                "JWKS fetch failed; keeping %d cached keys",
                2,
                extra={"error": "ConnectTimeout", "url": f"https://idp.example/?k={SECRET}"},
            )
            log.info("debug-level chatter", extra={"header": "Bearer abc.def"})
        finally:
            log.removeHandler(handler)
        first, second = _lines(read_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert first["msg"] == "JWKS fetch failed; keeping 2 cached keys"
    assert first["error"] == "ConnectTimeout"
    assert first["url"] == "https://idp.example/?k=[secret]"
    assert first["logger"] == "zego_token.test_logging_unified"
    assert second["header"] == "Bearer [credential]"


def test_text_format_carries_the_same_fields() -> None:
    read_fd, write_fd = os.pipe()
    try:
        logger = Logger("info", "text", fd=write_fd, secrets=[SECRET])
        try:
            raise ValueError(f"bad {SECRET}")
        except ValueError:
            record = logging.LogRecord(
                "zego_token.x", logging.ERROR, __file__, 1, "it failed", None, None
            )
            record.exc_info = sys.exc_info()
            logger.record(record)
        text = os.read(read_fd, 65536).decode()
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert "ERROR it failed" in text
    assert 'exception="ValueError"' in text and 'detail="bad [secret]"' in text
    assert "traceback=" in text and SECRET not in text


def test_request_lines_are_scrubbed_too() -> None:
    read_fd, write_fd = os.pipe()
    try:
        logger = Logger("info", "json", fd=write_fd, secrets=[SECRET])
        logger.request("GET", "/api/token", 200, 0.5, SECRET, 1, "jwt:Bearer abc", None)
        logger.request("GET", "/api/token", 200, 0.5, "alice", 1, "api_key:backend", None)
        logger.flush()
        first, second = _lines(read_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert (first["user_id"], first["auth"]) == ("[secret]", "jwt:Bearer [credential]")
    assert (second["user_id"], second["auth"]) == ("alice", "api_key:backend")


def test_an_extra_named_like_a_line_key_keeps_both() -> None:
    read_fd, write_fd = os.pipe()
    try:
        logger = Logger("info", "json", fd=write_fd)
        record = logging.LogRecord("zego_token.x", logging.WARNING, __file__, 1, "m", None, None)
        record.level = "custom"
        logger.record(record)
        (line,) = _lines(read_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert (line["level"], line["extra_level"], line["msg"]) == ("warning", "custom", "m")
