"""ZEGO tokens from a Flask app: sign in with POST /login, then ZEGO's guide request
GET /api/zego/token?userID=<you>&expired_ts=86400 answers {"token", "expire"}.

Run: flask --app app run (the variables in .env.example set).
"""

from __future__ import annotations

import os

from flask import Flask, Request, request, session

from zego_token import TokenIssuer
from zego_token.integrations import Grants, Identity
from zego_token.integrations.flask import token_blueprint

issuer = TokenIssuer(int(os.environ["ZEGO_APP_ID"]), os.environ["ZEGO_SERVER_SECRET"])
USERS = {"alice": "wonderland", "bob": "builder"}  # your user table
TEACHERS = {"alice"}


def who_is_asking(request: Request) -> Identity | None:
    user = session.get("user")
    if user is None:
        return None
    # Tokens for the signed-in user only, for any room (ZEGO's guide asks without one); a
    # token for a room may publish only for teachers.
    return Identity(user_id=user, grants=Grants(publish=user in TEACHERS))


app = Flask(__name__)
app.secret_key = os.environ["SESSION_KEY"]
app.register_blueprint(token_blueprint(issuer, authorize=who_is_asking), url_prefix="/api/zego")


def refuse(status: int, code: str, message: str) -> tuple[dict[str, object], int]:
    return {"error": {"code": code, "message": message}}, status


@app.post("/login")
def login() -> tuple[dict[str, object], int]:
    form = request.get_json(silent=True)
    if not isinstance(form, dict):
        return refuse(400, "invalid_login", 'send JSON {"user": ..., "password": ...}')
    user, password = form.get("user"), form.get("password")
    if not isinstance(user, str) or USERS.get(user) != password:
        return refuse(401, "wrong_login", "wrong user or password")
    session["user"] = user
    return {"signed_in": user}, 200
