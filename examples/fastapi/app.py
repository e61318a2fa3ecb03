"""ZEGO tokens from a FastAPI app: sign in with POST /login, then ZEGO's guide request
GET /api/zego/token?userID=<you>&expired_ts=86400 answers {"token", "expire"}.

Run: uvicorn app:app (the variables in .env.example set).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware.sessions import SessionMiddleware

from zego_token import TokenIssuer
from zego_token.integrations import Grants, Identity
from zego_token.integrations.fastapi import token_router

issuer = TokenIssuer(int(os.environ["ZEGO_APP_ID"]), os.environ["ZEGO_SERVER_SECRET"])
USERS = {"alice": "wonderland", "bob": "builder"}  # your user table
TEACHERS = {"alice"}


async def who_is_asking(request: Request) -> Identity | None:
    user = request.session.get("user")
    if user is None:
        return None
    # Tokens for the signed-in user only, for any room (ZEGO's guide asks without one); a
    # token for a room may publish only for teachers.
    return Identity(user_id=user, grants=Grants(publish=user in TEACHERS))


app = FastAPI()
app.add_middleware(SessionMiddleware, secret_key=os.environ["SESSION_KEY"], same_site="lax")
app.include_router(token_router(issuer, authorize=who_is_asking), prefix="/api/zego")


def refuse(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


@app.post("/login", response_model=None)
async def login(request: Request) -> dict[str, str] | JSONResponse:
    try:
        form: Any = await request.json()
    except ValueError:
        form = None
    if not isinstance(form, dict):
        return refuse(400, "invalid_login", 'send JSON {"user": ..., "password": ...}')
    user, password = form.get("user"), form.get("password")
    if not isinstance(user, str) or USERS.get(user) != password:
        return refuse(401, "wrong_login", "wrong user or password")
    request.session["user"] = user
    return {"signed_in": user}
