"""The server as a process: the loopback rule, SIGTERM, several workers, ``--demo``, the
``zego-token serve`` command, and what its logs say (and never say)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fixtures.processes import end_group, spawn
from tests.server.conftest import (
    API_KEY,
    APP_ID,
    SECRET,
    RunUntilExit,
    StartServer,
    api_key_config,
    bearer,
    server_env,
)
from zego_token import decode_token04


def open_socket(server: str) -> socket.socket:
    parts = urlsplit(server)
    assert parts.hostname is not None and parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
    length = int(match.group(1)) if match else 0
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


# -- the loopback rule for auth "none" --------------------------------------------------------


def test_auth_none_refuses_a_public_address(run_until_exit: RunUntilExit) -> None:
    code, _stdout, stderr = run_until_exit(None, {}, ("--host", "0.0.0.0"))
    assert code == 2
    assert "server.host" in stderr and "allow_unauthenticated" in stderr
    assert "Traceback" not in stderr


def test_auth_none_on_a_public_address_when_explicitly_allowed(start_server: StartServer) -> None:
    server = start_server("[server]\nallow_unauthenticated = true\n", args=["--host", "0.0.0.0"])
    port = urlsplit(server).port
    response = httpx.get(f"http://127.0.0.1:{port}/api/token", params={"userID": "a"})
    assert response.status_code == 200
    warnings = [r for r in server.records() if r.get("level") == "warning"]
    assert any("auth mode 'none'" in r["msg"] for r in warnings)


def test_api_keys_may_listen_on_a_public_address(start_server: StartServer) -> None:
    server = start_server(api_key_config(), args=["--host", "0.0.0.0"])
    port = urlsplit(server).port
    url = f"http://127.0.0.1:{port}/api/token"
    assert httpx.get(url, params={"userID": "a"}).status_code == 401
    assert httpx.get(url, params={"userID": "a"}, headers=bearer()).status_code == 200
    assert not [r for r in server.records() if "auth mode 'none'" in r.get("msg", "")]


def test_auth_none_on_loopback_warns_at_start(start_server: StartServer) -> None:
    server = start_server()
    assert any(
        r.get("level") == "warning" and "local development only" in r.get("msg", "")
        for r in server.records()
    )


# -- SIGTERM ----------------------------------------------------------------------------------


def test_sigterm_lets_in_flight_requests_finish(start_server: StartServer) -> None:
    server = start_server()
    body = json.dumps({"user_id": "in-flight", "ttl": 600}).encode()
    with open_socket(server) as sock:
        sock.sendall(
            b"POST /api/token HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        time.sleep(0.5)  # the worker is now inside the request, waiting for the body
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert server.process.poll() is None  # still serving the open request
        sock.sendall(body[10:])
        reply = read_response(sock)
    assert reply.startswith(b"HTTP/1.1 200"), reply
    token = json.loads(reply.partition(b"\r\n\r\n")[2])["token"]
    assert decode_token04(token, SECRET, user_id="in-flight").user_id == "in-flight"
    assert server.wait_exit(20) == 0
    messages = [r.get("msg") for r in server.records()]
    assert "server stopped" in messages
    assert "worker stopped" in messages
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server}/healthz", timeout=2)


def test_sigterm_when_idle_exits_quickly(start_server: StartServer) -> None:
    server = start_server()
    started = time.monotonic()
    server.terminate()
    assert server.wait_exit(20) == 0
    assert time.monotonic() - started < 10


# -- several workers --------------------------------------------------------------------------


def test_several_workers_share_the_port_and_the_metrics(start_server: StartServer) -> None:
    server = start_server(args=["--workers", "2"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        started = [r for r in server.records() if r.get("msg") == "worker started"]
        if len(started) == 2:
            break
        time.sleep(0.1)
    assert len({r["pid"] for r in started}) == 2
    count = 60
    for index in range(count):
        # A new connection each time, so the kernel spreads them over both workers.
        response = httpx.get(f"{server}/api/token", params={"userID": f"u{index}"})
        assert response.status_code == 200
    line = f'zego_tokens_issued_total{{app_id="{APP_ID}",kind="token",mode="gcm"}}'
    deadline = time.monotonic() + 5  # each worker hands its counts over within a second
    while True:
        text = httpx.get(f"{server}/metrics").text
        values = [float(x.split()[-1]) for x in text.splitlines() if x.startswith(line)]
        if values == [count] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert values == [count]  # aggregated over both workers' files
    assert "zego_request_duration_seconds_count" in text
    metrics_dirs = [p for p in os.listdir("/tmp") if p.startswith("zego-token-metrics-")]
    server.terminate()
    assert server.wait_exit(20) == 0
    left = [p for p in os.listdir("/tmp") if p.startswith("zego-token-metrics-")]
    assert len(left) < len(metrics_dirs) or not metrics_dirs  # its own folder is removed


# -- --demo -----------------------------------------------------------------------------------


def test_demo_mode(start_server: StartServer) -> None:
    server = start_server(args=["--demo"], app=False, env={"ZEGO_APP_ID": None})
    output = server.output()
    assert "NOT accepted by ZEGOCLOUD" in output
    assert f"{server}/demo" in output
    page = httpx.get(f"{server}/demo")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    response = httpx.get(f"{server}/api/token?userID=newcomer&expired_ts=86400")
    assert response.status_code == 200
    token = response.json()["token"]
    inspected = httpx.post(f"{server}/api/debug/inspect", json={"token": token})
    assert inspected.status_code == 200, inspected.text
    view = inspected.json()
    assert view["user_id"] == "newcomer"
    assert view["expire"] - view["ctime"] == 86400
    assert 86300 < view["seconds_left"] <= 86400
    assert view["mode"] == "gcm" and view["expired"] is False
    assert view["privileges"] is None and view["kit"] is None
    # Minted here, so this project is among the generators that could have made it.
    assert "zego-token" in view["generator"]["candidates"] and view["generator"]["evidence"]
    # The demo's own origin may call the API (CORS), and the OpenAPI lists the demo endpoints.
    own = httpx.get(f"{server}/healthz", headers={"Origin": server})
    assert own.headers["access-control-allow-origin"] == server
    assert "/api/debug/inspect" in httpx.get(f"{server}/openapi.json").json()["paths"]


def test_demo_inspects_kit_tokens_and_refuses_garbage(start_server: StartServer) -> None:
    server = start_server(env={"ZEGO_TOKEN_DEMO_ENABLED": "true"})
    kit = httpx.get(
        f"{server}/api/kit-token", params={"userID": "k", "roomID": "r1", "userName": "Kay"}
    ).json()["kitToken"]
    view = httpx.post(f"{server}/api/debug/inspect", json={"token": kit}).json()
    assert view["kit"] == {"app_id": APP_ID, "user_id": "k", "room_id": "r1", "user_name": "Kay"}
    assert view["privileges"] == {
        "room_id": "r1",
        "login": True,
        "publish": False,
        "stream_ids": None,
    }
    for bad in ("nonsense", "04AAAA", "04" + "A" * 100):
        response = httpx.post(f"{server}/api/debug/inspect", json={"token": bad})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_token"
    other = "04" + decode_token04.__name__  # not base64 either
    assert httpx.post(f"{server}/api/debug/inspect", json={"token": other}).status_code == 400
    assert httpx.post(f"{server}/api/debug/inspect", json={"tok": "x"}).status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/demo/../config.py",
        "/demo/..%2fapp.py",
        "/demo/%2e%2e/app.py",
        "/demo/.hidden",
        "/demo/nope.js",
        "/demo/sub/demo.js",
    ],
)
def test_demo_files_stay_in_their_folder(start_module_server: StartServer, path: str) -> None:
    server = start_module_server(env={"ZEGO_TOKEN_DEMO_ENABLED": "1"})
    response = httpx.get(f"{server}{path}")
    assert response.status_code == 404
    assert b"import" not in response.content


def test_demo_endpoints_do_not_exist_outside_demo_mode(start_module_server: StartServer) -> None:
    server = start_module_server()
    assert httpx.get(f"{server}/demo").status_code == 404
    assert httpx.post(f"{server}/api/debug/inspect", json={"token": "x"}).status_code == 404


def test_demo_refuses_a_public_host(run_until_exit: RunUntilExit) -> None:
    code, _, stderr = run_until_exit(None, {}, ("--demo", "--host", "0.0.0.0"), app=False)
    assert code == 2 and "loopback" in stderr


# -- the zego-token command -------------------------------------------------------------------


def test_zego_token_serve_command(tmp_path: object) -> None:
    command = shutil.which("zego-token", path=os.path.dirname(os.sys.executable))
    if command is None:
        pytest.fail("the zego-token console script is not installed (pip install -e .)")
    process = spawn(
        [command, "serve", "--host", "127.0.0.1", "--port", "0"],
        env=server_env(None, app=True),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = None
        assert process.stdout is not None
        for raw in process.stdout:
            if b'"server starting"' in raw:
                url = json.loads(raw)["url"]
                break
        assert url is not None
        for _ in range(100):
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        token = httpx.get(f"{url}/api/token?userID=cli&expired_ts=86400").json()["token"]
        assert decode_token04(token, SECRET).user_id == "cli"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(20)
        finally:
            end_group(process, timeout=5)
    assert code == 0


# -- logs -------------------------------------------------------------------------------------


def test_one_json_line_per_request(start_server: StartServer) -> None:
    server = start_server(api_key_config())
    httpx.get(f"{server}/api/token?userID=logged&expired_ts=600&roomID=r", headers=bearer())
    httpx.get(f"{server}/api/token?userID=x&expired_ts=1", headers=bearer())
    server.terminate()
    server.wait_exit()
    requests = [r for r in server.records() if r.get("msg") == "request"]
    assert [r["path"] for r in requests] == ["/healthz", "/api/token", "/api/token"]
    requests = requests[1:]
    ok, refused = requests
    assert ok["method"] == "GET" and ok["path"] == "/api/token" and ok["status"] == 200
    assert ok["user_id"] == "logged" and ok["app_id"] == APP_ID and ok["auth"] == "api_key:backend"
    assert isinstance(ok["latency_ms"], float) and ok["level"] == "info"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ok["ts"])
    assert "error" not in ok
    assert refused["status"] == 422 and refused["error"] == "ttl_out_of_range"
    assert all("?" not in r["path"] and "expired_ts" not in json.dumps(r) for r in requests)
    stops = [r.get("msg") for r in server.records()]
    assert "server starting" in stops and "server stopped" in stops


def test_logs_never_show_secrets_keys_or_tokens(start_server: StartServer) -> None:
    """A run of good and bad requests; then nothing secret may appear in stdout or stderr."""
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    server = start_server(
        api_key_config('[logging]\nlevel = "debug"\n'),
        env={"ZEGO_TOKEN_DEMO_ENABLED": "true"},
    )
    tokens: list[str] = []
    with httpx.Client(base_url=server) as client:
        good = client.get("/api/token?userID=alice&expired_ts=86400", headers=bearer())
        tokens.append(good.json()["token"])
        kit = client.post(
            "/api/kit-token", json={"user_id": "bob", "room_id": "r"}, headers=bearer()
        ).json()
        tokens += [kit["token"], kit["kitToken"]]
        # Failing requests carrying credentials and tokens in every place a client might put them.
        client.get("/api/token?userID=alice", headers=bearer(API_KEY + "x"))
        client.get("/api/token?userID=alice", headers={"Authorization": f"Bearer {jwt_like}"})
        client.get(f"/api/token?userID=alice&token={tokens[0]}&key={API_KEY}")
        client.get(f"/api/token?userID={SECRET}&expired_ts=99999999", headers=bearer())
        client.post(
            "/api/token",
            content=json.dumps({"user_id": "a", "secret": SECRET}),
            headers={"Content-Type": "application/json", **bearer()},
        )
        client.post("/api/token", content=f"token={tokens[0]}", headers=bearer())
        client.post("/api/debug/inspect", json={"token": tokens[0]}, headers=bearer())
        client.post("/api/debug/inspect", json={"token": tokens[0][:-4] + "AAAA"}, headers=bearer())
        client.get("/api/token?userID=alice", headers={"Authorization": f"Basic {SECRET}"})
        client.get(f"/nope/{API_KEY}", headers={"Cookie": f"session={SECRET}"})
    server.terminate()
    assert server.wait_exit() == 0
    output = server.output()
    assert len([r for r in server.records() if r.get("msg") == "request"]) >= 12
    for secret in (SECRET, API_KEY, jwt_like, *tokens):
        assert secret not in output, secret[:12]
    assert "Authorization" not in output and "Bearer" not in output
    for token in tokens:
        assert token[:40] not in output  # not even a prefix of a token


def test_metrics_and_openapi_never_show_secrets(start_server: StartServer) -> None:
    server = start_server(api_key_config())
    httpx.get(f"{server}/api/token?userID=a", headers=bearer())
    for path in ("/metrics", "/openapi.json", "/readyz"):
        text = httpx.get(f"{server}{path}").text
        assert SECRET not in text and API_KEY not in text
