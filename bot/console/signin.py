"""Signing in and out of the console (sessions and throttling: bot/console/auth.py)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from bot.cases import audit
from bot.cases.models import StaffUser
from bot.console import auth, csrf
from bot.console.pages import ActingStaff, Ctx, page

router = APIRouter(prefix="/console", include_in_schema=False)


# ---- login -----------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def home() -> RedirectResponse:
    return RedirectResponse("/console/queue", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, error: str | None = None) -> HTMLResponse:
    token = request.cookies.get(auth.LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = page(request, "login.html", None, csrf_token=token, error=error)
    _set_cookie(request, response, auth.LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/login")
async def login(request: Request, ctx: Ctx, username: Annotated[str, Form(max_length=64)],
                password: Annotated[str, Form(max_length=1024)],
                csrf_token: Annotated[str, Form(max_length=128)] = "") -> Response:
    expected = request.cookies.get(auth.LOGIN_CSRF_COOKIE)
    # Bytes: compare_digest raises on non-ASCII str (a forged token must get 403, not 500).
    if not expected or not csrf.same_origin(request) or not secrets.compare_digest(
            csrf_token.encode(), expected.encode()):
        raise csrf.CsrfRejected()
    username = username.strip()
    if ctx.throttle.blocked(username):
        return await login_page(request, error="Đăng nhập sai quá nhiều lần. Hãy thử lại sau 5 phút.")
    lifetime = timedelta(minutes=ctx.settings.console_session_minutes)

    def work(session: Session) -> str | None:
        user = auth.verify_password(session, username, password)
        if user is None:
            audit.record(session, None, "login_failed", username=username[:64])
            return None
        audit.record(session, user, "login")
        return auth.start_session(session, user, lifetime)

    token = await ctx.database.run(work)
    if token is None:
        ctx.throttle.failed(username)
        return await login_page(request, error="Tên đăng nhập hoặc mật khẩu không đúng.")
    ctx.throttle.succeeded(username)
    response = RedirectResponse("/console/queue", status_code=303)
    _set_cookie(request, response, auth.SESSION_COOKIE, token, max_age=int(lifetime.total_seconds()))
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path=auth.COOKIE_PATH)
    return response


@router.post("/logout")
async def logout(request: Request, ctx: Ctx, staff: ActingStaff) -> Response:
    token = request.cookies.get(auth.SESSION_COOKIE)

    def work(session: Session) -> None:
        auth.end_session(session, token)
        audit.record(session, session.get(StaffUser, staff.id), "logout")

    await ctx.database.run(work)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path=auth.COOKIE_PATH)
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=auth.COOKIE_PATH, httponly=True,
                        samesite="strict", secure=request.app.state.settings.is_production)


# ---- the queue ---------------------------------------------------------------------------
