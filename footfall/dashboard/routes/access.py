"""Access: one token for every page and API call (header or the sign-in page's cookie)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from footfall.common.auth import token_ok
from footfall.common.localtime import DAY_S
from footfall.dashboard.context import Context

COOKIE = "footfall_session"
OPEN_PATHS = ("/login", "/api/health", "/favicon.ico")


def session_value(token: str, epoch: int = 1) -> str:
    """What the sign-in cookie holds: derived from the token and the session epoch, not the token itself
    (raising ``dashboard.session_epoch`` signs every browser out without changing the token)."""
    return hmac.new(token.encode(), f"footfall-dashboard-session:{epoch}".encode(), hashlib.sha256).hexdigest()


def install(app: FastAPI, ctx: Context) -> None:
    """Require the token on everything but the sign-in page, the health check and static files."""

    @app.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Response:
        token = ctx.settings.token
        path = request.url.path
        if token is None or path in OPEN_PATHS or path.startswith("/static/"):
            return await call_next(request)
        cookie = request.cookies.get(COOKIE, "")
        if token_ok(request.headers.get("authorization"), token) or hmac.compare_digest(
            cookie.encode(), session_value(token, ctx.settings.session_epoch).encode()
        ):
            return await call_next(request)
        if path.startswith("/api/"):
            return JSONResponse({"error": "a token is required: 'Authorization: Bearer TOKEN'"}, status_code=401)
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def router(ctx: Context, static: Any) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/login")
    def login_page() -> FileResponse:
        return FileResponse(static / "login.html")

    @r.post("/login")
    def login(token: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> Response:
        expected = ctx.settings.token
        if expected is None or not hmac.compare_digest(token.encode(), expected.encode()):
            return RedirectResponse("/login?failed=1", status_code=303)
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        resp = RedirectResponse(target, status_code=303)
        resp.set_cookie(
            COOKIE,
            session_value(expected, ctx.settings.session_epoch),
            httponly=True,
            samesite="strict",
            secure=ctx.settings.secure_cookie,
            max_age=30 * DAY_S,
        )
        return resp

    return r
