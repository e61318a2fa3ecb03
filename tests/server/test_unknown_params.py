"""Unknown query parameters and JSON fields are refused with the right spelling, over HTTP.

Ignoring ``?room_id=r1`` (the JSON spelling of ``roomID``) would hand out a token for any room
to a caller who believes it is bound to r1. Only ``_``, the browsers' cache-buster, is ignored.
"""

from __future__ import annotations

import httpx
import pytest

from tests.server.conftest import RunningServer, StartServer


@pytest.fixture(scope="module")
def server(start_module_server: StartServer) -> RunningServer:
    return start_module_server()


def refusal(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"]["code"], body["error"]["message"]


@pytest.mark.parametrize("path", ["/api/token", "/api/kit-token"])
@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("room_id", "roomID"),
        ("roomId", "roomID"),
        ("ttl", "expired_ts"),
        ("expiredTs", "expired_ts"),
        ("streamId", "streamID"),
        ("user_id", "userID"),
        ("userid", "userID"),
        ("app_id", "appID"),
        ("publsh", "publish"),
    ],
)
def test_a_misspelled_parameter_is_400_with_the_right_spelling(
    server: RunningServer, path: str, name: str, meant: str
) -> None:
    query = {"userID": "alice", "roomID": "r1", name: "r1"}
    if name in ("user_id", "userid"):
        del query["userID"]  # the request a caller with the POST spelling sends
    status, code, message = refusal(httpx.get(f"{server}{path}", params=query))
    assert (status, code) == (400, "unknown_parameter")
    assert message.startswith(f"unknown parameter {name!r}: did you mean {meant}?"), message


def test_the_issue_request_gets_no_unrestricted_token(server: RunningServer) -> None:
    response = httpx.get(f"{server}/api/token?userID=alice&room_id=r1")
    assert refusal(response) == (
        400,
        "unknown_parameter",
        "unknown parameter 'room_id': did you mean roomID? The parameters are userID, "
        "expired_ts, roomID, publish, login, streamID, appID.",
    )
    assert "token" not in response.json()


def test_an_unrelated_name_is_refused_without_a_guess(server: RunningServer) -> None:
    status, code, message = refusal(httpx.get(f"{server}/api/token?userID=alice&color=blue"))
    assert (status, code) == (400, "unknown_parameter")
    assert "'color'." in message and "did you mean" not in message


def test_user_name_on_the_plain_endpoint_points_at_the_kit_endpoint(server: RunningServer) -> None:
    status, code, message = refusal(httpx.get(f"{server}/api/token?userID=alice&userName=Alice"))
    assert (status, code) == (400, "unknown_parameter")
    assert "/api/kit-token" in message
    assert (
        httpx.get(f"{server}/api/kit-token?userID=alice&roomID=r1&userName=Alice").status_code
        == 200
    )


def test_the_cache_buster_underscore_is_ignored(server: RunningServer) -> None:
    # jQuery's cache: false and many axios setups append _=<milliseconds>.
    plain = httpx.get(f"{server}/api/token?userID=alice&roomID=r1&expired_ts=600")
    busted = httpx.get(f"{server}/api/token?userID=alice&roomID=r1&expired_ts=600&_=1767225600123")
    assert plain.status_code == busted.status_code == 200
    assert busted.json()["expire"] - plain.json()["expire"] in (0, 1)
    kit = httpx.get(f"{server}/api/kit-token?_=1&userID=alice&roomID=r1")
    assert kit.status_code == 200


@pytest.mark.parametrize("name", ["__", "_x", "cache", "_ "])
def test_only_exactly_underscore_is_ignored(server: RunningServer, name: str) -> None:
    status, code, _ = refusal(httpx.get(f"{server}/api/token", params={"userID": "a", name: "1"}))
    assert (status, code) == (400, "unknown_parameter")


@pytest.mark.parametrize(
    ("field", "meant"),
    [
        ("roomID", "room_id"),
        ("userID", "user_id"),
        ("expired_ts", "ttl"),
        ("streamID", "stream_ids"),
    ],
)
def test_a_misspelled_json_field_gets_the_same_hint(
    server: RunningServer, field: str, meant: str
) -> None:
    body = {"user_id": "alice", "room_id": "r1", field: "x"}
    if field == "userID":
        del body["user_id"]
    status, code, message = refusal(httpx.post(f"{server}/api/token", json=body))
    assert (status, code) == (400, "unknown_parameter")
    assert message.startswith(f"unknown field {field!r}: did you mean {meant}?"), message


def test_a_json_body_has_no_cache_buster(server: RunningServer) -> None:
    response = httpx.post(f"{server}/api/token", json={"user_id": "alice", "_": 1})
    assert refusal(response)[:2] == (400, "unknown_parameter")
