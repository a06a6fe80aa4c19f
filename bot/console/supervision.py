"""For supervisors and admins: the overview of waiting and active cases, canned responses, the audit log."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cases import audit, service, wording
from bot.cases.models import CannedResponse, Role, StaffUser
from bot.console.cases import case_json
from bot.console.pages import REPLY_MAX_CHARS, ActingStaff, Ctx, StaffDep, back, page, supervisor
from bot.models import utc_now

router = APIRouter(prefix="/console", include_in_schema=False)


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
            "waiting": [case_json(c) for c in service.queue(session)],
            "active": [case_json(c, assignee=people.get(c.assigned_to_id or 0)) for c in active],
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
