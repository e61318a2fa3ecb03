"""Property: no token ever grants publishing with an empty stream list.

ZEGO reads ``"stream_id_list": []`` as "any stream". Random requests (JSON and query, tokens and
kit tokens), random grants (API keys with and without stream globs, publish on or off), a stream
ID template or none, and a hook answering at random (``True``, an ``Allow`` narrowing publish or
the streams, an empty list included) go through the whole app in-process; then a sample of the
same through a real server process. Every answer is a token or a 4xx; every token's payload is
checked: its list is never empty, and it is ``null`` (any stream) only where the configuration
leaves stream IDs unrestricted for that caller.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import APP_ID, SECRET, RunningServer, StartServer, sha256_hex
from tests.server.test_app_inprocess import Pipe, call, make_app
from zego_token import decode_token04
from zego_token.server.app import TokenServer

TEMPLATE = "{room_id}@{user_id}@*"
KEYS = {
    # key -> its grants in TOML, and the stream globs it restricts to (None: unrestricted)
    "key-open-0123456789abcdef": ("publish = true", None),
    "key-none-0123456789abcdef": ("publish = true\nstream_ids = []", ()),
    "key-cams-0123456789abcdef": ('publish = true\nstream_ids = ["*@cam*"]', ("*@cam*",)),
    "key-view-0123456789abcdef": ("publish = false", None),
}
HOOK = """
import json
from zego_token.server.hooks import Allow


def decide(ctx):
    verdict = json.loads(ctx.headers.get("x-verdict", "true"))
    if verdict is True:
        return True
    return Allow(**verdict)
"""


def config(template: bool, hook: bool) -> str:
    text = "".join(
        f'[[auth.api_keys]]\nname = "{key[:8]}"\nsha256 = "{sha256_hex(key)}"\n{grants}\n\n'
        for key, (grants, _) in KEYS.items()
    )
    if template:
        text += f'[policy]\nstream_id_template = "{TEMPLATE}"\n\n'
    if hook:
        text += '[hook]\nfunction = "stream_property_hook:decide"\n'
    return text


@pytest.fixture(scope="module")
def hook_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("property-hook")
    (directory / "stream_property_hook.py").write_text(HOOK, encoding="utf-8")
    sys.path.insert(0, str(directory))
    yield directory
    sys.path.remove(str(directory))


@pytest.fixture(scope="module")
def apps(hook_path: Path) -> Iterator[dict[tuple[bool, bool], TokenServer]]:
    pipe = Pipe()
    built = {
        (template, hook): make_app(pipe, config=config(template, hook))
        for template in (False, True)
        for hook in (False, True)
    }
    yield built
    pipe.close()


users = st.sampled_from(["bob", "alice", "u7"])
rooms = st.sampled_from(["r1", "match-2"])
stream_candidates = st.sampled_from(
    ["r1@bob@cam", "r1@alice@cam", "match-2@bob@cam2", "match-2@u7@screen", "any-stream"]
)
stream_lists = st.one_of(st.none(), st.just([]), st.lists(stream_candidates, max_size=3))
verdicts = st.one_of(
    st.just(True),
    st.fixed_dictionaries({"stream_ids": st.one_of(st.just([]), st.lists(stream_candidates))}),
    st.fixed_dictionaries({"publish": st.just(False)}),
    st.fixed_dictionaries(
        {"publish": st.just(False), "stream_ids": st.just([])},
    ),
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "kind": draw(st.sampled_from(["token", "kit-token"])),
        "json": draw(st.booleans()),
        "key": draw(st.sampled_from(sorted(KEYS))),
        "user_id": draw(users),
        "room_id": draw(rooms),
        "publish": draw(st.one_of(st.none(), st.booleans())),
        "stream_ids": draw(stream_lists),
        "verdict": draw(verdicts),
    }


def http_parts(request: dict[str, Any]) -> tuple[str, bytes, bytes, list[tuple[bytes, bytes]]]:
    """(method, query, body, headers) of the request as a caller would send it."""
    headers = [
        (b"authorization", f"Bearer {request['key']}".encode()),
        (b"x-verdict", json.dumps(request["verdict"]).encode()),
    ]
    fields = {"user_id": request["user_id"], "room_id": request["room_id"]}
    if request["publish"] is not None:
        fields["publish"] = request["publish"]
    if request["stream_ids"] is not None:
        fields["stream_ids"] = request["stream_ids"]
    if request["json"]:
        headers.append((b"content-type", b"application/json"))
        return "POST", b"", json.dumps(fields).encode(), headers
    pairs = [("userID", request["user_id"]), ("roomID", request["room_id"])]
    if request["publish"] is not None:
        pairs.append(("publish", "1" if request["publish"] else "0"))
    # The query string can only repeat streamID: an empty list is simply no streamID.
    pairs += [("streamID", s) for s in request["stream_ids"] or ()]
    return "GET", urlencode(pairs).encode(), b"", headers


def check_answer(
    request: dict[str, Any], template: bool, status: int, body: dict[str, Any]
) -> None:
    assert status == 200 or 400 <= status < 500, (status, body)
    if status != 200:
        assert set(body) == {"error"}, body
        return
    claims = decode_token04(body["token"], SECRET, app_id=APP_ID)
    payload = json.loads(claims.payload)
    streams = payload["stream_id_list"]
    assert streams != [], f"minted an empty stream list (any stream): {request}"
    if payload["privilege"]["2"] == 1 and streams is None:
        # "Any stream" is only for a caller nothing restricts.
        assert not template, request
        assert KEYS[request["key"]][1] is None, request
    if streams and payload["privilege"]["2"] == 1:
        # A grant of no streams is no publishing (a viewer token may still name streams).
        granted = KEYS[request["key"]][1]
        assert granted != (), f"a key granted no streams may publish {streams}: {request}"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests(), template=st.booleans(), hook=st.booleans())
def test_no_token_in_process_carries_an_empty_stream_list(
    apps: dict[tuple[bool, bool], TokenServer],
    request: dict[str, Any],
    template: bool,
    hook: bool,
) -> None:
    method, query, body, headers = http_parts(request)
    path = f"/api/{request['kind']}"
    status, _, raw = call(apps[(template, hook)], method, path, query, body, headers)
    check_answer(request, template, status, json.loads(raw))


@pytest.fixture(scope="module")
def real_server(start_module_server: StartServer, hook_path: Path) -> RunningServer:
    return start_module_server(config(True, True), env={"PYTHONPATH": str(hook_path)})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests())
def test_no_token_from_a_real_server_carries_an_empty_stream_list(
    real_server: RunningServer, request: dict[str, Any]
) -> None:
    method, query, body, headers = http_parts(request)
    url = f"{real_server}/api/{request['kind']}" + (f"?{query.decode()}" if query else "")
    response = httpx.request(
        method, url, content=body, headers=[(k.decode(), v.decode()) for k, v in headers]
    )
    check_answer(request, True, response.status_code, response.json())
