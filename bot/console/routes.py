"""The counsellor console, served by the gateway under /console.

Server-rendered pages (Jinja2, autoescaped) and one script file; live parts
(queue, transcript) listen to server-sent events and fetch JSON. Every page
that shows a transcript and every action is written to the audit log.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.templating import Jinja2Templates

from bot.cases import audit, service, wording
from bot.cases.hours import VIETNAM
from bot.cases.models import CannedResponse, Case, CaseStatus, Role, StaffUser
from bot.channels.zalo_windows import CHANNEL as ZALO
from bot.channels.zalo_windows import messaging_windows
from bot.console import auth, csrf
from bot.console.live import event_stream
from bot.db import Database
from bot.handoff import Handoff
from bot.models import Conversation, as_utc, utc_now
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


router = APIRouter(prefix="/console", include_in_schema=False)


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


@router.get("/queue", response_class=HTMLResponse)
async def queue_page(request: Request, staff: StaffDep) -> Response:
    if not staff.has_role(Role.COUNSELLOR):  # an editor's home (after login too)
        return RedirectResponse("/console/knowledge", status_code=303)
    return page(request, "queue.html", staff)


@router.get("/api/queue")
async def queue_json(ctx: Ctx, staff: StaffDep) -> JSONResponse:
    counsellor(staff)
    def work(session: Session) -> dict[str, Any]:
        waiting = service.queue(session)
        mine = service.active_cases(session, session.get(StaffUser, staff.id))
        return {
            "now": utc_now().isoformat(),
            "waiting": [_case_json(c) for c in waiting],
            "mine": [_case_json(c) for c in mine],
            "load": service.active_count(session, staff.id),
            "capacity": staff.capacity,
        }

    return JSONResponse(await ctx.database.run(work), headers={"Cache-Control": "no-store"})


@router.get("/events")
async def events(request: Request, ctx: Ctx, staff: StaffDep) -> StreamingResponse:
    counsellor(staff)
    return StreamingResponse(event_stream(request, ctx.handoff.feed), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _case_json(case: Case, *, assignee: StaffUser | None = None) -> dict[str, Any]:
    return {
        "id": case.id,
        "risk": case.risk.value,
        "risk_label": wording.RISK_LABELS[case.risk.value],
        "category": wording.CATEGORY_LABELS.get(case.category, case.category or "—"),
        "channel": wording.CHANNEL_LABELS.get(case.channel, case.channel),
        "status": case.status.value,
        "status_label": wording.STATUS_LABELS[case.status.value],
        "waiting_since": _iso(case.waiting_since),
        "taken_at": _iso(case.taken_at),
        "waited_seconds": int(service.waited_seconds(case)),
        "alerts_sent": case.alerts_sent,
        "out_of_hours": case.out_of_hours,
        "assignee": assignee.display_name if assignee else None,
    }


def _iso(value: Any) -> str | None:
    return as_utc(value).isoformat() if value else None


# ---- one case ------------------------------------------------------------------------------


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, ctx: Ctx, staff: StaffDep, case_id: int) -> HTMLResponse:
    keyring = ctx.handoff.keyring
    from bot.console.records import case_page_values as case_record_values

    def work(session: Session) -> dict[str, Any]:
        me = session.get(StaffUser, staff.id)
        assert me is not None
        case = service.load_visible(session, case_id, me)
        audit.record(session, me, "view_case", case.id)
        previous = [
            {"case": p, "notes": service.notes(session, p, keyring) if service.can_view_notes(me, p) else None}
            for p in service.previous_cases(session, case)
        ]
        colleagues = session.scalars(
            select(StaffUser).where(StaffUser.active.is_(True), StaffUser.id != case.assigned_to_id,
                                    StaffUser.role != Role.EDITOR)
            .order_by(StaffUser.display_name)).all()
        return {
            "case": case,
            "assignee": session.get(StaffUser, case.assigned_to_id) if case.assigned_to_id else None,
            "entries": service.transcript(session, case, keyring),
            "notes": service.notes(session, case, keyring) if service.can_view_notes(me, case) else None,
            "previous": previous,
            "events": service.events(session, case),
            "canned": session.scalars(select(CannedResponse).order_by(CannedResponse.title)).all(),
            "colleagues": [(c, service.active_count(session, c.id)) for c in colleagues],
            "mine": case.assigned_to_id == me.id and case.status == CaseStatus.ACTIVE,
            "can_close": case.status == CaseStatus.ACTIVE and (case.assigned_to_id == me.id or me.has_role(Role.SUPERVISOR))
                         or (case.status == CaseStatus.WAITING and me.has_role(Role.SUPERVISOR)),
            "waited": int(service.waited_seconds(case)),
            # Zalo lets the OA write for free 48 h after the child's last message, not at all after 7 days.
            "zalo_windows": messaging_windows(session.get(Conversation, case.conversation_id))
                            if case.channel == ZALO else None,
            **case_record_values(session, case, me, keyring),  # the case record (bot/console/records.py)
        }

    return page(request, "case.html", staff, **await ctx.database.run(work))


@router.get("/api/cases/{case_id}/entries")
async def case_entries(ctx: Ctx, staff: StaffDep, case_id: int,
                       after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0) -> JSONResponse:
    def work(session: Session) -> dict[str, Any]:
        me = session.get(StaffUser, staff.id)
        assert me is not None
        case = service.load_visible(session, case_id, me)
        if after == 0:
            audit.record(session, me, "view_case", case.id)
        entries = service.transcript(session, case, ctx.handoff.keyring, after)
        return {
            "status": case.status.value,
            "entries": [{"id": e.id, "sender": e.sender, "who": wording.SENDER_LABELS.get(e.sender, e.sender),
                         "text": e.text, "at": _iso(e.created_at)} for e in entries],
        }

    return JSONResponse(await ctx.database.run(work), headers={"Cache-Control": "no-store"})


@router.post("/cases/{case_id}/take")
async def take(ctx: Ctx, staff: ActingStaff, case_id: int) -> Response:
    await ctx.handoff.take(case_id, staff.id)
    return back(f"/console/cases/{case_id}", "taken")


@router.post("/cases/{case_id}/reply")
async def reply(request: Request, ctx: Ctx, staff: ActingStaff, case_id: int) -> Response:
    form = await request.form()
    text = str(form.get("text") or "")[:REPLY_MAX_CHARS]
    stored = await ctx.handoff.reply(case_id, staff.id, text)
    if request.headers.get("accept", "").startswith("application/json"):
        return JSONResponse({"id": stored.id})
    return back(f"/console/cases/{case_id}", "sent")


@router.post("/cases/{case_id}/notes")
async def add_note(ctx: Ctx, staff: ActingStaff, case_id: int,
                   text: Annotated[str, Form(max_length=service.NOTE_MAX_CHARS)]) -> Response:
    def work(session: Session) -> None:
        me = session.get(StaffUser, staff.id)
        assert me is not None
        case = service.load_visible(session, case_id, me)
        service.add_note(session, case, me, text, ctx.handoff.keyring)
        audit.record(session, me, "note_added", case.id)

    await ctx.database.run(work)
    return back(f"/console/cases/{case_id}", "noted")


@router.post("/cases/{case_id}/transfer")
async def transfer(ctx: Ctx, staff: ActingStaff, case_id: int, to_user_id: Annotated[int, Form()]) -> Response:
    await ctx.handoff.transfer(case_id, staff.id, to_user_id)
    return back("/console/queue", "transferred")


@router.post("/cases/{case_id}/close")
async def close(ctx: Ctx, staff: ActingStaff, case_id: int, outcome: Annotated[str, Form(max_length=32)]) -> Response:
    await ctx.handoff.close(case_id, staff.id, outcome)
    return back("/console/queue", "closed")


# ---- supervisors ------------------------------------------------------------------------------


@router.get("/supervisor", response_class=HTMLResponse)
async def supervisor_page(request: Request, staff: StaffDep) -> HTMLResponse:
    supervisor(staff)
    return page(request, "supervisor.html", staff)


@router.get("/api/overview")
async def overview_json(ctx: Ctx, staff: StaffDep) -> JSONResponse:
    supervisor(staff)

    def work(session: Session) -> dict[str, Any]:
        people = {u.id: u for u in session.scalars(select(StaffUser)).all()}
        active = service.active_cases(session)
        return {
            "now": utc_now().isoformat(),
            "waiting": [_case_json(c) for c in service.queue(session)],
            "active": [_case_json(c, assignee=people.get(c.assigned_to_id or 0)) for c in active],
            "staff": [{"name": u.display_name, "role": wording.ROLE_LABELS[u.role.value],
                       "load": sum(1 for c in active if c.assigned_to_id == u.id), "capacity": u.capacity}
                      for u in people.values() if u.active and u.has_role(Role.COUNSELLOR)],
        }

    return JSONResponse(await ctx.database.run(work), headers={"Cache-Control": "no-store"})


@router.get("/canned", response_class=HTMLResponse)
async def canned_page(request: Request, ctx: Ctx, staff: StaffDep) -> HTMLResponse:
    supervisor(staff)
    rows = await ctx.database.run(lambda s: s.scalars(select(CannedResponse).order_by(CannedResponse.title)).all())
    return page(request, "canned.html", staff, canned=rows)


@router.post("/canned")
async def canned_save(ctx: Ctx, staff: ActingStaff, title: Annotated[str, Form(min_length=1, max_length=100)],
                      text: Annotated[str, Form(min_length=1, max_length=REPLY_MAX_CHARS)],
                      canned_id: Annotated[int | None, Form()] = None) -> Response:
    supervisor(staff)

    def work(session: Session) -> None:
        me = session.get(StaffUser, staff.id)
        row = session.get(CannedResponse, canned_id) if canned_id else None
        if canned_id and row is None:
            raise service.NotFound("Không tìm thấy câu trả lời mẫu.")
        if row is None:
            row = CannedResponse(title=title.strip(), text=text.strip())
            session.add(row)
        row.title, row.text, row.updated_by_id, row.updated_at = title.strip(), text.strip(), staff.id, utc_now()
        session.flush()
        audit.record(session, me, "canned_saved", canned_id=row.id)

    await ctx.database.run(work)
    return back("/console/canned", "saved")


@router.post("/canned/{canned_id}/delete")
async def canned_delete(ctx: Ctx, staff: ActingStaff, canned_id: int) -> Response:
    supervisor(staff)

    def work(session: Session) -> None:
        row = session.get(CannedResponse, canned_id)
        if row is not None:
            session.delete(row)
            audit.record(session, session.get(StaffUser, staff.id), "canned_deleted", canned_id=canned_id)

    await ctx.database.run(work)
    return back("/console/canned", "deleted")


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, ctx: Ctx, staff: StaffDep) -> HTMLResponse:
    supervisor(staff)
    rows = await ctx.database.run(lambda s: audit.entries(s, limit=300))
    return page(request, "audit.html", staff, entries=rows,
                details={r.id: json.dumps(r.detail, ensure_ascii=False) for r in rows})


# ---- errors ---------------------------------------------------------------------------------------


def install(app: Any) -> None:
    """Add the console's routes, static files and error pages to the gateway."""
    from fastapi.staticfiles import StaticFiles

    from bot.console import knowledge, records, reports  # the case record, the reports (issue #15), knowledge

    app.include_router(router)
    app.include_router(records.router)
    app.include_router(reports.router)
    app.include_router(knowledge.router)  # /console/knowledge: editors (bot/console/knowledge.py)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _error: LoginRequired) -> Response:
        if _wants_html(request):
            return RedirectResponse("/console/login", status_code=303)
        return JSONResponse({"error": "login_required"}, status_code=401)

    @app.exception_handler(csrf.CsrfRejected)
    async def _csrf(request: Request, _error: csrf.CsrfRejected) -> Response:
        return _error_page(request, 403, "Yêu cầu không hợp lệ (phiên làm việc đã hết hạn hoặc "
                                         "biểu mẫu đã cũ). Hãy tải lại trang rồi thử lại.")

    @app.exception_handler(service.CaseError)
    async def _case_error(request: Request, error: service.CaseError) -> Response:
        status = {"not_allowed": 403, "not_found": 404}.get(error.code, 409)
        if not _wants_html(request):
            return JSONResponse({"error": error.code, "message": error.message}, status_code=status)
        return _error_page(request, status, error.message)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") or request.method == "POST" and \
        not request.headers.get("accept", "").startswith("application/json")


def _error_page(request: Request, status: int, message: str) -> Response:
    response = templates.TemplateResponse(request, "error.html", {"staff": None, "message": message,
                                                                  "flash": None}, status_code=status)
    return response
