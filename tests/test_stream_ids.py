"""Stream ID templates never give two (room ID, user ID) pairs the same stream ID.

The property test reads every stream ID a pair may publish in every way the template allows
(an independent backtracking reader below, not the server's code) and asks the real
``PolicyDecider`` whether any *other* reading's pair may publish it too: none may.
"""

from __future__ import annotations

import asyncio
import re
import string
from collections.abc import Iterator

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from zego_token.limits import follows_zego_id_rules
from zego_token.pipeline.contracts import Identity, RequestContext, TokenRequest
from zego_token.pipeline.errors import HttpError
from zego_token.pipeline.policy import PolicyDecider, PolicySettings
from zego_token.pipeline.schema import ConfigError

APP_ID = 1234567
CONTEXT = RequestContext(client_ip="127.0.0.1", method="GET", path="/api/token", headers={})
BACKEND = Identity(method="api_key", subject="backend")  # may mint for any user ID

# Every printable ASCII character ZEGO allows in user and room IDs (limits.py holds the rule).
ZEGO_CHARACTERS = "".join(c for c in map(chr, range(0x21, 0x7F)) if follows_zego_id_rules(c))
# Few characters, most of them separators or glob characters: collisions become likely.
TRICKY_CHARACTERS = "ab_-.@/*?[]"

TEMPLATES = [
    "{room_id}_{user_id}_*",  # the documented one
    "{room_id}_{user_id}",
    "{room_id}-{user_id}-*",
    "{user_id}.{room_id}.cam[0-9]",
    "live/{app_id}/{room_id}@{user_id}@*",
    "{room_id}__{user_id}_?",
    "{user_id}_{room_id}_{user_id}_*",  # a placeholder twice
    "s{room_id}_{app_id}{user_id}",
]


def ids() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(st.sampled_from(TRICKY_CHARACTERS), min_size=1, max_size=6),
        st.text(st.sampled_from(ZEGO_CHARACTERS), min_size=1, max_size=8),
    )


def decider(template: str) -> PolicyDecider:
    # ZEGO's character rules off: more IDs are admitted, so the property is the stronger one.
    return PolicyDecider(
        PolicySettings.from_mapping({"stream_id_template": template, "zego_id_rules": False})
    )


def outcome(policy: PolicyDecider, room_id: str, user_id: str, stream_id: str) -> str:
    """ "ok" when the pair may publish ``stream_id``, else the refusal's code."""
    request = TokenRequest(
        app_id=APP_ID,
        user_id=user_id,
        ttl=3600,
        room_id=room_id,
        publish=True,
        stream_ids=(stream_id,),
    )
    try:
        asyncio.run(policy.decide(BACKEND, request, CONTEXT))
    except HttpError as refusal:
        assert refusal.status == 403
        return refusal.code
    return "ok"


def _items(template: str) -> list[tuple[str, str | None]]:
    items: list[tuple[str, str | None]] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            items.append((literal, None))
        if name is not None:
            items.append(("", name))
    return items


def readings(template: str, stream_id: str) -> Iterator[tuple[str, str]]:
    """Every (room ID, user ID) whose instance of ``template`` matches ``stream_id``."""
    items = _items(template)

    def walk(index: int, position: int, bound: dict[str, str]) -> Iterator[tuple[str, str]]:
        rest = items[index:]
        if not any(name in ("room_id", "user_id") for _, name in rest):
            tail = "".join(str(APP_ID) if name == "app_id" else text for text, name in rest)
            if re.fullmatch(_glob_regex(tail), stream_id[position:]):
                yield bound["room_id"], bound["user_id"]
            return
        text, name = items[index]
        if name is None or name == "app_id":
            fixed = str(APP_ID) if name == "app_id" else text
            if stream_id.startswith(fixed, position):
                yield from walk(index + 1, position + len(fixed), bound)
        elif name in bound:
            if stream_id.startswith(bound[name], position):
                yield from walk(index + 1, position + len(bound[name]), bound)
        else:
            for end in range(position + 1, len(stream_id) + 1):
                yield from walk(index + 1, end, {**bound, name: stream_id[position:end]})

    return walk(0, 0, {})


def _glob_regex(glob: str) -> str:
    # Only what the templates above use: *, ? and [0-9].
    parts = []
    for token in re.findall(r"\[[^\]]+\]|.", glob, flags=re.S):
        if token == "*":
            parts.append(".*")
        elif token == "?":
            parts.append(".")
        elif len(token) > 1:
            parts.append(token)  # a character class such as [0-9]
        else:
            parts.append(re.escape(token))
    return "".join(parts)


def instance(template: str, room_id: str, user_id: str, filler: str) -> str:
    """A concrete stream ID of the pair: each glob in the template filled in."""
    out = []
    for text, name in _items(template):
        if name == "room_id":
            out.append(room_id)
        elif name == "user_id":
            out.append(user_id)
        elif name == "app_id":
            out.append(str(APP_ID))
        else:
            out.append(re.sub(r"\[[^\]]+\]|[*?]", lambda m: fill(m.group(), filler), text))
    return "".join(out)


def fill(glob: str, filler: str) -> str:
    if glob == "*":
        return filler
    if glob == "?":
        return filler[:1] or "x"
    return "7"  # [0-9]


@settings(max_examples=600, deadline=None)
@given(
    template=st.sampled_from(TEMPLATES),
    room_id=ids(),
    user_id=ids(),
    filler=st.text(st.sampled_from("ab_-.@/"), max_size=8),  # separators, mostly
    other_room=ids(),
    other_user=ids(),
)
@example("{room_id}_{user_id}_*", "team-1", "bob", "smith_cam", "team-1", "bob_smith")
@example("{room_id}_{user_id}_*", "team-1_u", "x", "cam", "team-1", "u_x")
@example("{room_id}_{user_id}_*", "team-1", "u_x", "cam", "team-1_u", "x")
def test_no_stream_id_belongs_to_two_pairs(
    template: str, room_id: str, user_id: str, filler: str, other_room: str, other_user: str
) -> None:
    policy = decider(template)
    stream_id = instance(template, room_id, user_id, filler)
    mine = outcome(policy, room_id, user_id, stream_id)
    # The pair either may publish its own stream, or is refused as ambiguous (a separator in
    # one of its IDs); never anything else.
    assert mine in ("ok", "stream_id_ambiguous"), mine
    event(f"the pair itself: {mine}")
    if mine != "ok":
        return
    read = set(readings(template, stream_id))
    assert (room_id, user_id) in read  # the reader is complete
    event(f"other readings of its stream ID: {'some' if len(read) > 1 else 'none'}")
    others = {(other_room, other_user), *read}
    others.discard((room_id, user_id))
    for other in others:
        assert outcome(policy, *other, stream_id) != "ok", (template, stream_id, other)


def test_the_documented_template_serves_ids_without_its_separator() -> None:
    policy = decider("{room_id}_{user_id}_*")
    assert outcome(policy, "team-1", "bob", "team-1_bob_cam") == "ok"
    assert outcome(policy, "team-1", "bob_smith", "team-1_bob_smith_cam") == "stream_id_ambiguous"
    assert outcome(policy, "team-1_u", "x", "team-1_u_x_cam") == "stream_id_ambiguous"
    assert outcome(policy, "team-1", "u_x", "team-1_u_x_cam") == "stream_id_ambiguous"


def test_a_separator_the_ids_never_contain_serves_everyone() -> None:
    policy = decider("{room_id}@{user_id}@*")
    assert outcome(policy, "team-1", "bob_smith", "team-1@bob_smith@cam") == "ok"
    assert outcome(policy, "team-1", "bob", "team-1@bob_smith@cam") == "stream_id_not_allowed"
    assert outcome(policy, "team-1_u", "x", "team-1_u@x@cam") == "ok"
    assert outcome(policy, "team-1", "u_x", "team-1_u@x@cam") == "stream_id_not_allowed"


def test_the_refusal_says_which_character_and_what_to_do() -> None:
    policy = decider("{room_id}_{user_id}_*")
    request = TokenRequest(
        app_id=APP_ID,
        user_id="bob_smith",
        ttl=3600,
        room_id="team-1",
        publish=True,
        stream_ids=("team-1_bob_smith_cam",),
    )
    with pytest.raises(HttpError) as caught:
        asyncio.run(policy.decide(BACKEND, request, CONTEXT))
    message = caught.value.message
    assert "'bob_smith'" in message and "'_'" in message and "publish=0" in message


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("{user_id}_*", "must contain both"),  # every room's streams of a user would be one
        ("{room_id}_*", "must contain both"),  # every user of a room would share
        ("{room_id}{user_id}_*", "followed by a separator"),
        ("{room_id}_{user_id}*", "followed by a separator"),
        ("{room_id}_{app_id}{user_id}?", "followed by a separator"),
        ("*_{room_id}_{user_id}", "glob characters"),
        ("{room_id}_*_{user_id}", "glob characters"),
        ("{room_id}_{user_id!r}", "unknown placeholder"),
        ("{room_id}:{user_id}", "not a character ZEGO allows"),
    ],
)
def test_ambiguous_templates_stop_start_up(template: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PolicySettings.from_mapping({"stream_id_template": template})
    assert caught.value.key == "policy.stream_id_template"
    assert why in caught.value.message


def test_a_separator_outside_zegos_characters_is_allowed_only_without_the_id_rules() -> None:
    settings = PolicySettings.from_mapping(
        {"stream_id_template": "{room_id}:{user_id}", "zego_id_rules": False}
    )
    assert settings.stream_id_template == "{room_id}:{user_id}"
