"""The issue's two stream ID collisions, against a real server process over HTTP.

With ``stream_id_template = "{room_id}_{user_id}_*"`` user ``bob`` could publish
``team-1_bob_smith_cam`` (user ``bob_smith``'s), and user ``x`` in room ``team-1_u`` could publish
``team-1_u_x_cam`` (user ``u_x``'s in room ``team-1``). Now an ID containing the template's
separator cannot name stream IDs, so every stream ID has one owner.
"""

from __future__ import annotations

import httpx
import pytest

from tests.server.conftest import RunningServer, RunUntilExit, StartServer


def policy(template: str) -> str:
    return f'[policy]\nstream_id_template = "{template}"\n'


@pytest.fixture(scope="module")
def documented(start_module_server: StartServer) -> RunningServer:
    return start_module_server(policy("{room_id}_{user_id}_*"))


@pytest.fixture(scope="module")
def at_sign(start_module_server: StartServer) -> RunningServer:
    return start_module_server(policy("{room_id}@{user_id}@*"))


def publish(server: RunningServer, room: str, user: str, stream: str) -> tuple[int, str]:
    response = httpx.get(
        f"{server}/api/token",
        params={"userID": user, "roomID": room, "publish": "1", "streamID": stream},
    )
    body = response.json()
    return response.status_code, "token" if response.status_code == 200 else body["error"]["code"]


def test_bob_smiths_stream_has_one_owner(documented: RunningServer) -> None:
    assert publish(documented, "team-1", "bob_smith", "team-1_bob_smith_cam") == (
        403,
        "stream_id_ambiguous",
    )
    # The stream ID reads as user "bob", camera "smith_cam", and only bob may publish it.
    assert publish(documented, "team-1", "bob", "team-1_bob_smith_cam") == (200, "token")


def test_a_room_id_cannot_swallow_a_user_id(documented: RunningServer) -> None:
    assert publish(documented, "team-1_u", "x", "team-1_u_x_cam") == (403, "stream_id_ambiguous")
    assert publish(documented, "team-1", "u_x", "team-1_u_x_cam") == (403, "stream_id_ambiguous")


def test_the_refusal_explains_and_viewing_still_works(documented: RunningServer) -> None:
    response = httpx.get(
        f"{documented}/api/token",
        params={"userID": "bob_smith", "roomID": "team-1", "publish": "1", "streamID": "s"},
    )
    message = response.json()["error"]["message"]
    assert "'bob_smith'" in message and "'_'" in message and "publish=0" in message
    viewer = httpx.get(
        f"{documented}/api/token", params={"userID": "bob_smith", "roomID": "team-1"}
    )
    assert viewer.status_code == 200


def test_a_separator_outside_the_ids_serves_both_users(at_sign: RunningServer) -> None:
    assert publish(at_sign, "team-1", "bob_smith", "team-1@bob_smith@cam") == (200, "token")
    assert publish(at_sign, "team-1", "bob", "team-1@bob_smith@cam") == (
        403,
        "stream_id_not_allowed",
    )
    assert publish(at_sign, "team-1_u", "x", "team-1_u@x@cam") == (200, "token")
    assert publish(at_sign, "team-1", "u_x", "team-1_u@x@cam") == (403, "stream_id_not_allowed")


def test_an_ambiguous_template_stops_start_up(run_until_exit: RunUntilExit) -> None:
    code, out, err = run_until_exit(policy("{room_id}{user_id}_*"))
    assert code != 0
    assert "policy.stream_id_template" in out + err
    assert "Traceback" not in out + err
