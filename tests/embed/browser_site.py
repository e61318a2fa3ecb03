"""The FastAPI embedding app as a browser meets it: a sign-in that sets the session cookie,
the customer's page (tests/e2e/pages) and ZEGO's UIKit bundle, all on the app's own origin,
beside the embedded token router. ``uvicorn tests.embed.browser_site:app``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from tests.embed.sites import MOUNT, identity_of, issuer
from zego_token.integrations import Identity
from zego_token.integrations.fastapi import token_router

E2E = Path(__file__).resolve().parent.parent / "e2e"
PAGES = {"uikit.html": E2E / "pages" / "uikit.html", "flow.js": E2E / "pages" / "flow.js"}
UIKIT = E2E / "node_modules" / "@zegocloud" / "zego-uikit-prebuilt" / "zego-uikit-prebuilt.js"


async def who_is_asking(request: Request) -> Identity | None:
    return identity_of(request.cookies.get("session"))


app = FastAPI()
app.include_router(token_router(issuer, authorize=who_is_asking), prefix=MOUNT)


@app.get("/")
async def home() -> dict[str, str]:
    return {"app": "fastapi+pages"}


@app.post("/login")
async def login(request: Request) -> Response:
    # Stands in for the app's real sign-in: what matters is the HttpOnly session cookie.
    user = (await request.json()).get("user", "")
    response = JSONResponse({"signed_in": user})
    response.set_cookie("session", user, httponly=True, samesite="lax")
    return response


@app.get("/{name}")
async def page(name: str) -> Response:
    if name in PAGES:
        return FileResponse(PAGES[name])
    return JSONResponse({"error": "not found"}, status_code=404)


@app.get("/uikit/zego-uikit-prebuilt.js")
async def uikit() -> FileResponse:
    return FileResponse(UIKIT, media_type="application/javascript")
