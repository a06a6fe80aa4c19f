"""The counsellor's side of a case: the queue, the case page and its transcript, take, reply, notes,
transfer, close, and the live feed. Every page that shows a transcript and every action is in the
audit log; the actions themselves are the handoff's (bot/handoff.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cases import audit, service, wording
from bot.cases.models import CannedResponse, Case, CaseStatus, Role, StaffUser
from bot.channels.zalo_windows import CHANNEL as ZALO
from bot.channels.zalo_windows import messaging_windows
from bot.console.live import event_stream
from bot.console.pages import REPLY_MAX_CHARS, ActingStaff, Ctx, StaffDep, back, counsellor, page
from bot.console.records import case_page_values
from bot.models import Conversation, as_utc, utc_now

router = APIRouter(prefix="/console", include_in_schema=False)


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
            "waiting": [case_json(c) for c in waiting],
            "mine": [case_json(c) for c in mine],
            "load": service.active_count(session, staff.id),
            "capacity": staff.capacity,
        }

    return JSONResponse(await ctx.database.run(work), headers={"Cache-Control": "no-store"})


@router.get("/events")
async def events(request: Request, ctx: Ctx, staff: StaffDep) -> StreamingResponse:
    counsellor(staff)
    return StreamingResponse(event_stream(request, ctx.handoff.feed), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def case_json(case: Case, *, assignee: StaffUser | None = None) -> dict[str, Any]:
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
            **case_page_values(session, case, me, keyring),  # the case record (bot/console/records.py)
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
