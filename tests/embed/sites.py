"""The embedding apps the tests run, one per framework, sharing one sign-in rule.

A "signed-in" request carries the cookie ``session=<user>`` (read with each framework's own
cookie API, so ``authorize`` really gets the framework's request). alice may publish in
any room (the seed's request names none); bob may only watch, and only in rooms ``team-*``;
anyone else is not signed in (401).
"""

from __future__ import annotations

from zego_token import TokenIssuer
from zego_token.integrations import Grants, Identity

APP_ID = 1234567890
SECRET = "5f2a9c1e7b3d4a6f8e0c2b4d6a8f0e1c"
MOUNT = "/api/zego"

issuer = TokenIssuer(APP_ID, SECRET, default_ttl=3600, max_ttl=86400)

USERS = {
    "alice": Grants(publish=True),
    "bob": Grants(room_patterns=("team-*",), publish=False),
}


def identity_of(user: str | None) -> Identity | None:
    grants = USERS.get(user or "")
    if grants is None:
        return None
    return Identity(user_id=user, grants=grants)
