"""The FastAPI embedding app: ``uvicorn tests.embed.fastapi_site:app``."""

from __future__ import annotations

from fastapi import FastAPI, Request

from tests.embed.sites import MOUNT, identity_of, issuer
from zego_token.integrations import Identity
from zego_token.integrations.fastapi import token_router


async def who_is_asking(request: Request) -> Identity | None:
    return identity_of(request.cookies.get("session"))


app = FastAPI()
app.include_router(token_router(issuer, authorize=who_is_asking), prefix=MOUNT)


@app.get("/")
async def home() -> dict[str, str]:
    return {"app": "fastapi"}
