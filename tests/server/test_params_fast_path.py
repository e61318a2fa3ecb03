"""The query of ZEGO's guide is read by one regex; any query it matches must give exactly what
the general parse gives, and anything else must still take the general parse."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.server.conftest import APP_ID, SECRET
from zego_token.pipeline.errors import HttpError
from zego_token.pipeline.params import _GUIDE_QUERY, RequestParser
from zego_token.server.config import load_settings

PARSER = RequestParser(
    load_settings(env={"ZEGO_APP_ID": str(APP_ID), "ZEGO_SERVER_SECRET": SECRET})
)

# Query text from a broad alphabet: escapes, separators and the names the parser knows.
_PIECES = st.sampled_from(
    [
        "userID=",
        "expired_ts=",
        "&",
        "=",
        "%41",
        "%",
        "+",
        ";",
        "a",
        "Z",
        "0",
        "9",
        "_",
        "-",
        ".",
        "~",
        " ",
        "é",
        "appID=",
        "roomID=",
        "x",
    ]
)
queries = st.lists(_PIECES, max_size=12).map("".join)
guide_like = st.builds(
    lambda user, ttl: f"userID={user}&expired_ts={ttl}",
    st.text(alphabet="abcXYZ019_.~-%+=&é ", min_size=0, max_size=70),
    st.text(alphabet="0123456789x", min_size=0, max_size=14),
)


def outcome(parse: object, query: bytes) -> object:
    try:
        return parse(query, "token")  # type: ignore[operator]
    except HttpError as exc:
        return ("refused", exc.status, exc.code, exc.message)


@settings(max_examples=400, deadline=None)
@given(st.one_of(queries, guide_like))
def test_the_fast_path_and_the_general_parse_agree(text: str) -> None:
    query = text.encode("utf-8")
    assert outcome(PARSER.from_query, query) == outcome(PARSER._from_any_query, query)


@pytest.mark.parametrize(
    ("query", "fast"),
    [
        (b"userID=alice&expired_ts=86400", True),
        (b"userID=a_b.c~d-e&expired_ts=0036", True),
        (b"userID=" + b"a" * 64 + b"&expired_ts=60", True),
        (b"userID=" + b"a" * 65 + b"&expired_ts=60", False),  # over ZEGO's 64 bytes
        (b"expired_ts=60&userID=alice", False),  # another order: the general parse
        (b"userID=al%69ce&expired_ts=60", False),  # an escape
        (b"userID=alice&expired_ts=60&roomID=r", False),
        (b"userID=alice&expired_ts=-60", False),
        (b"userID=&expired_ts=60", False),
    ],
)
def test_which_queries_take_the_fast_path(query: bytes, fast: bool) -> None:
    assert (_GUIDE_QUERY.fullmatch(query) is not None) is fast
    assert outcome(PARSER.from_query, query) == outcome(PARSER._from_any_query, query)


def test_the_fast_path_still_refuses_a_ttl_out_of_bounds() -> None:
    with pytest.raises(HttpError) as refused:
        PARSER.from_query(b"userID=alice&expired_ts=999999999", "token")
    assert refused.value.status == 422 and refused.value.code == "ttl_out_of_range"
