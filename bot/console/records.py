"""The case record on the case page, and the list of follow-ups that are due.

    POST /console/cases/{id}/record              save the record (the counsellor of the case, supervisors)
    POST /console/cases/{id}/follow-up-done      the follow-up was done
    GET  /console/follow-ups                     follow-ups due: one's own cases; every case for supervisors

Included by bot/console/routes.py `install`; the rules are in bot/cases/record.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from bot.cases import audit, provinces, record, service
from bot.cases.crypto import Keyring
from bot.cases.hours import VIETNAM
from bot.cases.models import Case, StaffUser
from bot.console.pages import MESSAGES, ActingStaff, Ctx, StaffDep, back, counsellor, page, templates

router = APIRouter(prefix="/console", include_in_schema=False)

MESSAGES.update({
    "record_saved": "Đã lưu hồ sơ ca.",
    "follow_up_done": "Đã ghi nhận đã theo dõi.",
})
templates.env.globals.update(
    RECORD_CATEGORIES=record.CATEGORIES, AGE_BANDS=record.AGE_BANDS, GENDERS=record.GENDERS,
    CONTACTS=record.CONTACTS, REFERRALS=record.REFERRALS, RECORD_RISKS=record.RISKS,
    PROVINCES=provinces.PROVINCES, province_label=provinces.label,
)


def case_page_values(session: Session, case: Case, staff: StaffUser, keyring: Keyring) -> dict[str, Any]:
    """What the case page needs for the record (called by cases.case_page)."""
    return {"record": record.view(session, case, keyring), "record_editable": record.can_edit(staff, case)}


class _RecordRejected(service.CaseError):
    code = "invalid_record"


@router.post("/cases/{case_id}/record")
async def save_record(request: Request, ctx: Ctx, staff: ActingStaff, case_id: int) -> Response:
    form = await request.form()
    values = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    lists = {key: [str(v) for v in form.getlist(key) if isinstance(v, str)] for key in ("categories", "referrals")}

    def work(session: Session) -> None:
        me = session.get(StaffUser, staff.id)
        assert me is not None
        case = service.load_visible(session, case_id, me)
        try:
            saved = record.save(session, case, me, record.parse_form(values, lists), ctx.handoff.keyring)
        except record.RecordError as error:
            raise _RecordRejected(error.message) from None
        # Which fields, never their values: the audit log holds no child's details.
        audit.record(session, me, "record_saved", case.id, categories=len(saved.categories),
                     province=bool(saved.province), follow_up=saved.follow_up_on is not None)

    await ctx.database.run(work)
    return back(f"/console/cases/{case_id}", "record_saved")


@router.post("/cases/{case_id}/follow-up-done")
async def follow_up_done(ctx: Ctx, staff: ActingStaff, case_id: int) -> Response:
    def work(session: Session) -> None:
        me = session.get(StaffUser, staff.id)
        assert me is not None
        case = service.load(session, case_id)
        try:
            record.mark_follow_up_done(session, case, me)
        except record.RecordError as error:
            raise _RecordRejected(error.message) from None
        audit.record(session, me, "follow_up_done", case.id)

    await ctx.database.run(work)
    return back("/console/follow-ups", "follow_up_done")


@router.get("/follow-ups", response_class=HTMLResponse)
async def follow_ups(request: Request, ctx: Ctx, staff: StaffDep) -> HTMLResponse:
    counsellor(staff)  # cases only: an editor has none
    today = datetime.now(VIETNAM).date()

    def work(session: Session) -> list[record.FollowUp]:
        me = session.get(StaffUser, staff.id)
        assert me is not None
        return record.follow_ups_due(session, me, today)

    return page(request, "follow_ups.html", staff, due=await ctx.database.run(work), today=today)
