"""``Grants`` and ``Identity`` refuse wrong types when they are made, naming the field: a wrong
type would fail open (``("class-*")`` is one string whose characters include ``*``, and
``publish=0`` is not ``False``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.embed.contract import ROOT
from zego_token.integrations import Grants, Identity


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"room_patterns": ("class-*")}, "room_patterns"),  # the README's tuple without its comma
        ({"stream_ids": "stream-1"}, "stream_ids"),
        ({"app_ids": 1234567890}, "app_ids"),
        ({"app_ids": ("1234567890",)}, "app_ids"),
        ({"room_patterns": ("team-*", 7)}, "room_patterns"),
        ({"publish": 0}, "publish"),
        ({"publish": "false"}, "publish"),
        ({"max_ttl": "3600"}, "max_ttl"),
        ({"max_ttl": 60.5}, "max_ttl"),
        ({"max_ttl": True}, "max_ttl"),
    ],
)
def test_grants_of_the_wrong_type_are_a_type_error_naming_the_field(
    arguments: dict[str, object], field: str
) -> None:
    with pytest.raises(TypeError, match=rf"Grants\.{field} "):
        Grants(**arguments)  # type: ignore[arg-type]


def test_grants_take_a_list_as_the_tuple_it_means() -> None:
    grants = Grants(room_patterns=["team-*"], stream_ids=["s1"], app_ids=[1])  # type: ignore[arg-type]
    assert grants.room_patterns == ("team-*",)
    assert grants.stream_ids == ("s1",)
    assert grants.app_ids == (1,)
    assert Grants(publish=False, max_ttl=600) == Grants(publish=False, max_ttl=600)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"user_id": 42}, "user_id"),
        ({"grants": {"publish": False}}, "grants"),
        ({"method": None}, "method"),
        ({"subject": 7}, "subject"),
        ({"claims": ["sub"]}, "claims"),
    ],
)
def test_an_identity_of_the_wrong_type_is_a_type_error_naming_the_field(
    arguments: dict[str, object], field: str
) -> None:
    with pytest.raises(TypeError, match=rf"Identity\.{field} "):
        Identity(**arguments)  # type: ignore[arg-type]


def test_an_app_with_the_tuple_missing_its_comma_does_not_start() -> None:
    """The embedding app's own module, in its own process: it stops at import with the field's
    name instead of serving staff rooms to everyone."""
    program = (
        "from zego_token.integrations import Grants, Identity\n"
        "STAFF = Identity(user_id='amy', grants=Grants(room_patterns=('class-*')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "TypeError: Grants.room_patterns must be a tuple of str" in result.stderr
    assert "needs its comma" in result.stderr
