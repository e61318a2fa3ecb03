"""The Flask embedding app: ``flask --app tests.embed.flask_site run``."""

from __future__ import annotations

from flask import Flask, Request

from tests.embed.sites import MOUNT, identity_of, issuer
from zego_token.integrations import Identity
from zego_token.integrations.flask import token_blueprint


def who_is_asking(request: Request) -> Identity | None:
    return identity_of(request.cookies.get("session"))


app = Flask(__name__)
app.register_blueprint(token_blueprint(issuer, authorize=who_is_asking), url_prefix=MOUNT)


@app.get("/")
def home() -> dict[str, str]:
    return {"app": "flask"}
