"""Attacks over real HTTP against the real server process.

Oversized and slow requests, path traversal on the demo's static files, header and log injection
through user IDs, Unicode look-alikes, hostile TTLs, repeated parameters, wrong content types,
CORS origin spoofing and JWT header tricks. The JWT attacks of the auth issue (alg none,
algorithm confusion, expired, wrong audience...) are in tests/server/test_validation_e2e.py and
are not repeated here. Each test states what the server does, so docs/security.md can cite it.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fixtures.idp import AUDIENCE, ISSUER, IdentityProvider, b64url
from tests.security.conftest import raw_request, rss_kib, status_of, worker_pids
from tests.server.conftest import API_KEY, SECRET, RunningServer, api_key_config, bearer
from zego_token import decode_token04, parse_kit_token

ALLOWED_ORIGIN = "https://allowed.example"
MAX_BODY = 16384  # server.max_body_bytes, default

StartServer = Callable[..., RunningServer]


@pytest.fixture(scope="module")
def server(start_module_server: StartServer) -> RunningServer:
    """API-key auth, one CORS origin, ZEGO's ID rules on (the default)."""
    return start_module_server(
        api_key_config("[server]\nbody_timeout = 2\n"),
        env={"ZEGO_TOKEN_CORS_ORIGINS": ALLOWED_ORIGIN},
    )


@pytest.fixture(scope="module")
def lax_server(start_module_server: StartServer) -> RunningServer:
    """ZEGO's ID rules switched off, so any UTF-8 user ID reaches the token and the logs."""
    return start_module_server(api_key_config("[policy]\nzego_id_rules = false\n"))


def get(base: str, path: str = "/api/token", **kwargs: Any) -> httpx.Response:
    headers = {**bearer(), **kwargs.pop("headers", {})}
    return httpx.get(base + path, headers=headers, timeout=10, **kwargs)


def code_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    code: str = body["error"]["code"]
    return code


def request_lines(server: RunningServer) -> list[dict[str, Any]]:
    return [r for r in server.records() if r.get("msg") == "request"]


def wait_for_lines(server: RunningServer, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while len(lines := request_lines(server)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return lines


# -- oversized headers and bodies --------------------------------------------------------------


def _post_raw(base: str, body: bytes, *, declared: int | None, chunked: bool = False) -> bytes:
    head = b"POST /api/token HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    head += f"Authorization: Bearer {API_KEY}\r\nConnection: close\r\n".encode()
    if chunked:
        head += b"Transfer-Encoding: chunked\r\n\r\n"
        step = 64 * 1024
        parts = [
            b"%x\r\n%s\r\n" % (len(body[i : i + step]), body[i : i + step])
            for i in range(0, len(body), step)
        ]
        return raw_request(base, head + b"".join(parts) + b"0\r\n\r\n")
    if declared is not None:
        head += f"Content-Length: {declared}\r\n".encode()
    return raw_request(base, head + b"\r\n" + body)


def _json_of_size(size: int) -> bytes:
    body = json.dumps({"user_id": "alice"}).encode()
    return body + b" " * (size - len(body))  # trailing whitespace is valid JSON


def test_body_at_the_limit_is_served_one_byte_more_is_413(server: RunningServer) -> None:
    at_limit = _json_of_size(MAX_BODY)
    response = httpx.post(
        server + "/api/token",
        content=at_limit,
        timeout=10,
        headers={**bearer(), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    over = httpx.post(
        server + "/api/token",
        content=_json_of_size(MAX_BODY + 1),
        timeout=10,
        headers={**bearer(), "Content-Type": "application/json"},
    )
    assert (over.status_code, code_of(over)) == (413, "body_too_large")


def test_a_declared_huge_body_is_refused_before_it_is_read(server: RunningServer) -> None:
    started = time.monotonic()
    # Only the headers are sent: a server that waited for the 1 GB body would never answer.
    answer = _post_raw(server, b"", declared=1 << 30)
    assert status_of(answer) == 413 and b'"body_too_large"' in answer
    assert time.monotonic() - started < 5


def test_a_chunked_body_without_length_is_cut_at_the_limit(server: RunningServer) -> None:
    answer = _post_raw(server, b"[" + b" " * (4 << 20), declared=None, chunked=True)
    assert status_of(answer) == 413 and b'"body_too_large"' in answer


@pytest.mark.parametrize("length", [b"9" * 5000, b"-1", b"1e3", b"20, 21", b"18446744073709551616"])
def test_a_malformed_content_length_is_400_never_500(server: RunningServer, length: bytes) -> None:
    answer = raw_request(
        server,
        b"POST /api/token HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: " + length + b"\r\n\r\n" + _json_of_size(20),
    )
    assert status_of(answer) == 400, answer[:200]


def test_oversized_headers_are_431_and_an_oversized_url_414(server: RunningServer) -> None:
    big_header = b"GET /api/token?userID=alice HTTP/1.1\r\nHost: t\r\nX-Pad: %s\r\n\r\n" % (
        b"a" * 600_000
    )
    assert status_of(raw_request(server, big_header)) == 431
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(20_000))
    assert (
        status_of(raw_request(server, b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + many + b"\r\n"))
        == 431
    )
    long_url = b"GET /api/token?userID=alice&pad=%s HTTP/1.1\r\nHost: t\r\n\r\n" % (b"p" * 200_000)
    assert status_of(raw_request(server, long_url)) == 414
    # The server still answers normally afterwards.
    assert get(server, params={"userID": "alice"}).status_code == 200


def test_memory_stays_bounded_under_oversized_requests(server: RunningServer) -> None:
    (pid,) = worker_pids(server)
    for _ in range(20):  # warm up allocator pools so the baseline is not an empty process
        get(server, params={"userID": "alice"})
    before, peak_before = rss_kib(pid), rss_kib(pid, "VmHWM")

    def attack(index: int) -> int:
        if index % 3 == 0:
            answer = _post_raw(server, b"[" + b"1," * (2 << 20), declared=None, chunked=True)
        elif index % 3 == 1:
            answer = _post_raw(server, b"", declared=50 << 20)
        else:
            answer = raw_request(
                server,
                b"GET /api/token?userID=alice HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                b"Authorization: Bearer "
                + API_KEY.encode()
                + b"\r\nX-Pad: "
                + b"b" * 300_000
                + b"\r\n\r\n",
            )
        return status_of(answer)

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(attack, range(150)))
    assert set(statuses) <= {200, 413}, statuses
    after, peak_after = rss_kib(pid), rss_kib(pid, "VmHWM")
    # 50 bodies of 4 MB and 50 declared 50 MB ones were sent, 16 at a time: buffering them
    # would cost hundreds of MB at the peak; refusing them costs almost nothing.
    assert after - before < 40 * 1024, (before, after)
    assert peak_after - peak_before < 40 * 1024, (peak_before, peak_after)
    print(
        f"memory: worker RSS {before} -> {after} KiB, peak {peak_before} -> {peak_after} KiB "
        "over 150 oversized requests"
    )


# -- slow clients ------------------------------------------------------------------------------


class SlowClient(threading.Thread):
    """Sends ``head``, then a byte of ``trickle`` every ``interval`` s until the server hangs up."""

    def __init__(self, base: str, head: bytes, trickle: bytes, interval: float) -> None:
        super().__init__(daemon=True)
        host, port = base.removeprefix("http://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=interval)
        self.head, self.trickle, self.interval = head, trickle, interval
        self.closed_after: float | None = None
        self.answer = b""

    def run(self) -> None:
        started = time.monotonic()
        try:
            self.sock.sendall(self.head)
            for index in range(len(self.trickle)):
                if self._server_spoke():
                    break
                self.sock.sendall(self.trickle[index : index + 1])
        except OSError:
            pass
        self.closed_after = time.monotonic() - started
        self.sock.close()

    def _server_spoke(self) -> bool:
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return False
        self.answer += data
        return True  # an answer or a close (b"")


@pytest.mark.slow
def test_slow_clients_do_not_block_others_and_are_timed_out(server: RunningServer) -> None:
    headers_trickle = SlowClient
    slow = [
        headers_trickle(
            server,
            b"GET /api/token?userID=alice HTTP/1.1\r\nHost: t\r\n",
            b"X-Slow: " + b"s" * 10_000,
            0.5,
        )
        for _ in range(15)
    ]
    body = _json_of_size(200)  # 100 s of trickling at 2 bytes a second
    slow += [
        SlowClient(
            server,
            b"POST /api/token HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {API_KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode(),
            body[:-1],  # never the last byte
            0.5,
        )
        for _ in range(15)
    ]
    for client in slow:
        client.start()
    time.sleep(1)
    started = time.monotonic()
    with httpx.Client(headers=bearer(), timeout=5) as client:
        served = [client.get(server + "/api/token", params={"userID": f"u{i}"}) for i in range(50)]
    assert all(r.status_code == 200 for r in served)
    assert time.monotonic() - started < 5, "30 slow clients held up the others"
    for client in slow:
        client.join(timeout=40)
    # Granian closes a connection whose headers take over 30 s; the app answers 408 to a body
    # that takes over its body timeout.
    assert all(c.closed_after is not None and c.closed_after < 40 for c in slow)
    for client in slow[15:]:
        assert client.answer.startswith(b"HTTP/1.1 408"), client.answer[:100]
        assert b'"request_timeout"' in client.answer


# -- path traversal on the demo's static files -------------------------------------------------

TRAVERSALS = [
    "/demo/../../../../etc/passwd",
    "/demo/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/demo/..%2f..%2f..%2fetc%2fpasswd",
    "/demo/%2e%2e%2f%2e%2e%2fapp.py",
    "/demo/..%5c..%5capp.py",
    "/demo/%252e%252e%252fapp.py",
    "/demo//etc/passwd",
    "/demo/%2fetc%2fpasswd",
    "/demo/..",
    "/demo/.",
    "/demo/demo.js%00.png",
    "/demo/demo.js/",
    "/demo/.%2e/app.py",
    "/demo/%c0%ae%c0%ae/app.py",
]


def test_path_traversal_on_demo_files_is_404(start_module_server: StartServer) -> None:
    demo = start_module_server(args=["--demo"], app=False)
    assert httpx.get(demo + "/demo/demo.js").status_code == 200
    for path in TRAVERSALS:
        answer = raw_request(
            demo, f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
        )
        assert status_of(answer) in (400, 404), (path, answer[:200])
        assert b"root:" not in answer and b"import " not in answer, path


# -- header and log injection through user IDs -------------------------------------------------

INJECTIONS = [
    "alice\r\nSet-Cookie: stolen=1",
    "alice\nX-Injected: 1",
    'alice","level":"error","msg":"forged',
    "alice\u2028\u2029\x00\x1b[31m",
]


def test_crlf_in_user_ids_splits_neither_headers_nor_log_lines(
    server: RunningServer, lax_server: RunningServer
) -> None:
    for base, expected in ((server, 403), (lax_server, 200)):
        before = len(request_lines(base))
        for user_id in INJECTIONS:
            response = get(base, params={"userID": user_id})
            assert response.status_code == expected, (user_id, response.text)
            assert "set-cookie" not in response.headers and "x-injected" not in response.headers
            if expected == 200:
                token = response.json()["token"]
                assert decode_token04(token, SECRET).user_id == user_id
            else:
                assert code_of(response) == "user_id_rules"
        lines = wait_for_lines(base, before + len(INJECTIONS))
        logged = [line["user_id"] for line in lines[before:]]
        assert logged == INJECTIONS  # each request is one parsed JSON line, user ID intact
        for line in lines[before:]:
            assert line["level"] == "info" and line["msg"] == "request"
    for raw_line in lax_server.output().splitlines():
        if "alice" in raw_line:
            json.loads(raw_line)  # every line that carries one of them is whole JSON


def test_the_raw_response_to_a_crlf_user_id_has_only_the_servers_headers(
    lax_server: RunningServer,
) -> None:
    answer = raw_request(
        lax_server,
        b"GET /api/token?userID=a%0D%0ASet-Cookie:%20x=1 HTTP/1.1\r\nHost: t\r\n"
        b"Authorization: Bearer " + API_KEY.encode() + b"\r\nConnection: close\r\n\r\n",
    )
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    assert status_of(answer) == 200 and b"set-cookie" not in head


# -- Unicode look-alikes -----------------------------------------------------------------------

LOOKALIKES = {
    "fullwidth": "\uff41lice",  # FULLWIDTH LATIN SMALL LETTER A
    "cyrillic_a": "\u0430lice",  # CYRILLIC SMALL LETTER A
    "zero_width": "al\u200bice",
    "combining": "ali\u0301ce",
    "nfkc_ligature": "\ufb01sh",  # ﬁsh, NFKC: fish
}


def test_lookalike_user_ids_are_refused_by_zego_id_rules(server: RunningServer) -> None:
    for name, user_id in LOOKALIKES.items():
        response = get(server, params={"userID": user_id})
        assert (response.status_code, code_of(response)) == (403, "user_id_rules"), name


def test_without_id_rules_user_ids_are_taken_exactly_never_normalised(
    lax_server: RunningServer,
) -> None:
    for name, user_id in LOOKALIKES.items():
        response = get(lax_server, params={"userID": user_id})
        assert response.status_code == 200, (name, response.text)
        assert decode_token04(response.json()["token"], SECRET).user_id == user_id, name
    # NFC and NFD spellings of one name are two different ZEGO users.
    nfc, nfd = unicodedata.normalize("NFC", "Zoé"), unicodedata.normalize("NFD", "Zoé")
    ids = {
        decode_token04(get(lax_server, params={"userID": s}).json()["token"], SECRET).user_id
        for s in (nfc, nfd)
    }
    assert ids == {nfc, nfd} and len(ids) == 2


@pytest.fixture(scope="module")
def jwt_server(start_module_server: StartServer) -> tuple[RunningServer, IdentityProvider]:
    provider = IdentityProvider().start()
    config = f"""
[auth]
modes = ["jwt"]

[auth.jwt]
algorithms = ["RS256"]
issuer = "{ISSUER}"
audience = ["{AUDIENCE}"]
jwks_url = "{provider.jwks_url}"

[policy]
zego_id_rules = false
"""
    return start_module_server(config), provider


def jwt_get(base: str, token: str, user_id: str) -> httpx.Response:
    return httpx.get(
        base + "/api/token",
        params={"userID": user_id},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_a_signed_in_user_cannot_take_a_lookalike_of_another_id(
    jwt_server: tuple[RunningServer, IdentityProvider],
) -> None:
    base, idp = jwt_server
    alice = idp.rs256(idp.claims(sub="alice"))
    assert jwt_get(base, alice, "alice").status_code == 200
    for name, user_id in LOOKALIKES.items():
        response = jwt_get(base, alice, user_id)
        assert (response.status_code, code_of(response)) == (403, "user_id_not_allowed"), name
    fullwidth = idp.rs256(idp.claims(sub=LOOKALIKES["fullwidth"]))
    response = jwt_get(base, fullwidth, "alice")
    assert (response.status_code, code_of(response)) == (403, "user_id_not_allowed")


# -- JWT header tricks beyond the auth issue's list --------------------------------------------


def _forge(header: dict[str, Any], claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    """An RS256 JWT with any header, signed by ``key`` (PyJWT refuses some of these headers)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def test_jwt_header_tricks_are_401(jwt_server: tuple[RunningServer, IdentityProvider]) -> None:
    base, idp = jwt_server
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attacker_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key()))
    claims = idp.claims(sub="alice")
    unsigned_body = f"{b64url(json.dumps(claims).encode())}"
    attacks = {
        # "alg": "none" spelled otherwise, unsigned
        **{
            f"alg_{alg}": f"{b64url(json.dumps({'alg': alg}).encode())}.{unsigned_body}."
            for alg in ("None", "NONE", "nOnE")
        },
        # the key is shipped in the token itself (CVE-2018-0114 style) or fetched from the
        # attacker's URL: the server must only trust its own JWKS
        "embedded_jwk": _forge({"alg": "RS256", "jwk": attacker_jwk}, claims, attacker),
        "embedded_jwk_with_kid": _forge(
            {"alg": "RS256", "kid": "key-1", "jwk": attacker_jwk}, claims, attacker
        ),
        "jku": _forge(
            {"alg": "RS256", "kid": "evil", "jku": "http://127.0.0.1:9/jwks.json"},
            claims,
            attacker,
        ),
        "x5u": _forge(
            {"alg": "RS256", "kid": "key-1", "x5u": "http://127.0.0.1:9/c"}, claims, attacker
        ),
        "kid_traversal": _forge({"alg": "RS256", "kid": "../../../../dev/null"}, claims, attacker),
        "kid_not_a_string": _forge({"alg": "RS256", "kid": {"$ne": ""}}, claims, attacker),
        "attacker_key_with_real_kid": _forge({"alg": "RS256", "kid": "key-1"}, claims, attacker),
        "crit_unknown": _forge({"alg": "RS256", "kid": "key-1", "crit": ["exp"]}, claims, attacker),
    }
    for name, token in attacks.items():
        response = jwt_get(base, token, "alice")
        assert response.status_code == 401, (name, response.status_code, response.text)
        assert code_of(response).startswith(("token_", "unsupported_credentials")), name
    # two Authorization headers, one of them valid: refused, never the "good" one picked
    good = idp.rs256(claims)
    answer = raw_request(
        base,
        b"GET /api/token?userID=alice HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        + f"Authorization: Bearer {good}\r\nAuthorization: Bearer {attacks['jku']}\r\n".encode()
        + b"\r\n",
    )
    assert status_of(answer) in (400, 401), answer[:300]


# -- hostile TTLs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ttl", "status", "code"),
    [
        ("-1", 400, "invalid_parameter"),
        ("0", 422, "ttl_out_of_range"),
        ("59", 422, "ttl_out_of_range"),
        ("86401", 422, "ttl_out_of_range"),
        ("99999999999", 422, "ttl_out_of_range"),
        ("9" * 40, 400, "invalid_parameter"),
        ("3600.0", 400, "invalid_parameter"),
        ("3600.5", 400, "invalid_parameter"),
        ("1e9", 400, "invalid_parameter"),
        ("1e3", 400, "invalid_parameter"),
        ("NaN", 400, "invalid_parameter"),
        ("Infinity", 400, "invalid_parameter"),
        ("-Infinity", 400, "invalid_parameter"),
        ("0x10", 400, "invalid_parameter"),
        ("+3600", 400, "invalid_parameter"),
        (" 3600", 400, "invalid_parameter"),
        ("３６００", 400, "invalid_parameter"),  # fullwidth digits: str.isdigit() says yes
        ("٣٦٠٠", 400, "invalid_parameter"),  # Arabic-Indic digits: int() would take them
        ("", 400, "invalid_parameter"),
    ],
)
def test_hostile_query_ttls(server: RunningServer, ttl: str, status: int, code: str) -> None:
    response = get(server, params={"userID": "alice", "expired_ts": ttl})
    assert (response.status_code, code_of(response)) == (status, code), response.text


@pytest.mark.parametrize(
    ("ttl", "status"),
    [
        ("-1", 422),
        ("0", 422),
        ("86401", 422),
        ("100000000000000000000000000000", 422),
        ("3600.0", 400),  # strict: a whole number is written without a fraction
        ("3600.5", 400),
        ("1e9", 400),
        ("NaN", 400),
        ("Infinity", 400),
        ("-Infinity", 400),
        ('"3600"', 400),
        ("true", 400),
        ("[3600]", 400),
        ("{}", 400),
        ("3600", 200),
    ],
)
def test_hostile_json_ttls(server: RunningServer, ttl: str, status: int) -> None:
    body = f'{{"user_id": "alice", "ttl": {ttl}}}'.encode()
    response = httpx.post(
        server + "/api/token",
        content=body,
        headers={**bearer(), "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == status, (ttl, response.text)
    if status == 200:
        claims = decode_token04(response.json()["token"], SECRET)
        assert claims.expire - claims.ctime == 3600
    else:
        assert code_of(response) in ("invalid_parameter", "ttl_out_of_range")


# -- repeated parameters: refused, never first- or last-wins -----------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "userID=alice&userID=bob",
        "userID=alice&userID=alice",
        "userID=alice&expired_ts=3600&expired_ts=60",
        "userID=alice&roomID=r1&roomID=r2",
        f"userID=alice&appID={1234567890}&appID={1234567890}",
        "userID=alice&roomID=r1&publish=0&publish=1",
    ],
)
def test_a_repeated_query_parameter_is_400(server: RunningServer, query: str) -> None:
    response = get(server + "/api/token?" + query, path="")
    assert (response.status_code, code_of(response)) == (400, "invalid_parameter")
    assert "more than once" in response.json()["error"]["message"]


def test_repeated_stream_ids_are_a_list_and_look_alike_names_are_refused(
    server: RunningServer,
) -> None:
    response = get(server + "/api/token?userID=alice&roomID=r1&streamID=s1&streamID=s2", path="")
    privileges = decode_token04(response.json()["token"], SECRET).privileges
    assert privileges is not None and privileges.stream_ids == ("s1", "s2")
    # "userid" is not "userID": refused like any unknown name, never a second user ID
    response = get(server + "/api/token?userID=alice&userid=bob&USERID=eve", path="")
    assert (response.status_code, code_of(response)) == (400, "unknown_parameter")
    assert "did you mean userID?" in response.json()["error"]["message"]
    # ";" is not a separator (Python >= 3.10): the whole value is one user ID, never "bob"
    response = get(server + "/api/token?userID=alice;userID=bob", path="")
    assert decode_token04(response.json()["token"], SECRET).user_id == "alice;userID=bob"


def test_a_repeated_json_field_is_400(server: RunningServer) -> None:
    for body in (
        b'{"user_id": "alice", "user_id": "bob"}',
        b'{"user_id": "alice", "ttl": 3600, "ttl": 86400}',
    ):
        response = httpx.post(
            server + "/api/token",
            content=body,
            headers={**bearer(), "Content-Type": "application/json"},
            timeout=10,
        )
        assert (response.status_code, code_of(response)) == (400, "invalid_json"), body


# -- wrong content types -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        (None, 415),
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("multipart/form-data; boundary=x", 415),
        ("application/jsonx", 415),
        ("application/x-json", 415),
        ("text/json", 415),
        ("application/json-patch+json", 415),
        ("application/json, text/plain", 415),
        ("application/json", 200),
        ("application/json; charset=utf-8", 200),
        ("Application/JSON", 200),
    ],
)
def test_content_types(server: RunningServer, content_type: str | None, status: int) -> None:
    headers = bearer()
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = httpx.post(
        server + "/api/token", content=b'{"user_id": "alice"}', headers=headers, timeout=10
    )
    assert response.status_code == status, (content_type, response.text)
    if status == 415:
        assert code_of(response) == "unsupported_media_type"


def test_a_form_body_or_a_bom_is_not_json(server: RunningServer) -> None:
    headers = {**bearer(), "Content-Type": "application/json"}
    for body in (b"user_id=alice", b"\xef\xbb\xbf" + b'{"user_id": "alice"}', b"\xff\xfe{}"):
        response = httpx.post(server + "/api/token", content=body, headers=headers, timeout=10)
        assert (response.status_code, code_of(response)) == (400, "invalid_json"), body


# -- CORS origin spoofing ----------------------------------------------------------------------

SPOOFED_ORIGINS = [
    "null",
    "https://allowed.example.evil.com",
    "https://evil-allowed.example",
    "https://evilallowed.example",
    "https://allowed.example/",
    "https://allowed.example:443",
    "https://allowed.example:8443",
    "http://allowed.example",
    "https://allowed.example.",
    "https://allowed.example%60.evil.com",
    "https://allowed.example, https://evil.example",
    "https://allowed.example https://evil.example",
    "https://sub.allowed.example",
    "*",
    "",
]


@pytest.mark.parametrize("origin", SPOOFED_ORIGINS)
def test_spoofed_origins_get_no_cors_headers(server: RunningServer, origin: str) -> None:
    response = get(server, params={"userID": "alice"}, headers={"Origin": origin})
    assert "access-control-allow-origin" not in response.headers, origin
    assert "access-control-allow-credentials" not in response.headers
    preflight = httpx.options(
        server + "/api/token",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
        timeout=10,
    )
    assert preflight.status_code == 403 and code_of(preflight) == "cors_origin_not_allowed"
    assert "access-control-allow-origin" not in preflight.headers


def test_the_allowed_origin_is_echoed_exactly(server: RunningServer) -> None:
    response = get(server, params={"userID": "alice"}, headers={"Origin": ALLOWED_ORIGIN})
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "origin" in response.headers["vary"].lower()
    # Host names are case-insensitive; browsers always send them lower-case, so another case
    # can only come from a non-browser client, which CORS does not restrict anyway.
    upper = get(server, params={"userID": "alice"}, headers={"Origin": ALLOWED_ORIGIN.upper()})
    assert upper.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN.upper()


# -- kit tokens carry IDs only inside base64 ---------------------------------------------------


def test_kit_token_user_name_cannot_break_out(lax_server: RunningServer) -> None:
    name = '"},"token":"forged'
    response = get(
        lax_server, "/api/kit-token", params={"userID": "alice", "roomID": "r1", "userName": name}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"kitToken", "token", "expire"}
    assert parse_kit_token(body["kitToken"]).user_name == name
    assert base64.b64decode(body["token"][2:])  # the token itself is untouched base64
