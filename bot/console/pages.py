"""What every page of the counsellor console shares: the templates, the console's context (database,
handoff, settings, sign-in throttle), who is signed in (`StaffDep`, `ActingStaff` with CSRF checked),
the role guards (`counsellor`, `supervisor`), `page` and `back`, and the flash messages.

The console's routes are split by area, each its own router (FastAPI's "bigger applications"):
`signin` (log in and out), `cases` (queue, case page, the counsellor's actions, live feed),
`supervision` (overview, canned responses, audit log), `records` (the case record, follow-ups),
`reports`, `knowledge` (the legal content editor); `routes.install` adds them all to the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.templating import Jinja2Templates

from bot.cases import wording
from bot.cases.hours import VIETNAM
from bot.cases.models import Role
from bot.console import auth, csrf
from bot.db import Database
from bot.handoff import Handoff
from bot.models import as_utc
from bot.settings import Settings

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
REPLY_MAX_CHARS = 2000

templates = Jinja2Templates(env=jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True, trim_blocks=True, lstrip_blocks=True))
templates.env.globals.update(
    RISK_LABELS=wording.RISK_LABELS, STATUS_LABELS=wording.STATUS_LABELS, ROLE_LABELS=wording.ROLE_LABELS,
    CHANNEL_LABELS=wording.CHANNEL_LABELS, SENDER_LABELS=wording.SENDER_LABELS,
    CATEGORY_LABELS=wording.CATEGORY_LABELS, OUTCOMES=wording.OUTCOMES, EVENT_LABELS=wording.EVENT_LABELS,
)
templates.env.filters["clock"] = lambda value: as_utc(value).astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y") if value else ""


@dataclass
class ConsoleContext:
    database: Database
    handoff: Handoff
    settings: Settings
    throttle: auth.LoginThrottle



class LoginRequired(Exception):
    pass


def context(request: Request) -> ConsoleContext:
    return request.app.state.console  # type: ignore[no-any-return]


Ctx = Annotated[ConsoleContext, Depends(context)]


async def current_staff(request: Request, ctx: Ctx) -> auth.Staff:
    token = request.cookies.get(auth.SESSION_COOKIE)
    idle = timedelta(minutes=ctx.settings.console_idle_minutes)
    staff = await ctx.database.run(lambda s: auth.resume_session(s, token, idle))
    if staff is None:
        raise LoginRequired()
    return staff


StaffDep = Annotated[auth.Staff, Depends(current_staff)]


async def checked_staff(request: Request, staff: StaffDep) -> auth.Staff:
    """The signed-in person, for a state-changing request: CSRF checked."""
    await csrf.check(request, staff.csrf_token)
    return staff


ActingStaff = Annotated[auth.Staff, Depends(checked_staff)]


def counsellor(staff: auth.Staff) -> None:
    """Cases are for counsellors and up; an editor works on the knowledge base only."""
    if not staff.has_role(Role.COUNSELLOR):
        raise HTTPException(403, "Trang này dành cho tư vấn viên.")


def supervisor(staff: auth.Staff) -> None:
    if not staff.is_supervisor:
        raise HTTPException(403, "Trang này dành cho giám sát viên.")




def page(request: Request, name: str, staff: auth.Staff | None, **values: Any) -> HTMLResponse:
    values.setdefault("flash", request.query_params.get("msg"))
    return templates.TemplateResponse(request, name, {"staff": staff, **values})


def back(url: str, message: str | None = None) -> RedirectResponse:
    # Messages are chosen from MESSAGES by key: nothing from the URL is shown verbatim.
    return RedirectResponse(url + (f"?msg={message}" if message else ""), status_code=303)


MESSAGES = {
    "taken": "Bạn đã nhận ca. Trẻ đã được báo có tư vấn viên vào.",
    "closed": "Đã đóng ca. Mây sẽ hỏi thăm trẻ.",
    "transferred": "Đã chuyển ca.",
    "noted": "Đã lưu ghi chú.",
    "sent": "Đã gửi.",
    "saved": "Đã lưu.",
    "deleted": "Đã xoá.",
}
templates.env.globals["MESSAGES"] = MESSAGES
