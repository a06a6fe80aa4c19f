"""Reports for supervisors and admins: the page, the summary API, the anonymised export.

    GET /console/reports?from=YYYY-MM-DD&to=YYYY-MM-DD[&channel=&risk=&category=&province=]
    GET /console/api/reports/summary?from=...&to=...     JSON, exact counts (inside the service)
    GET /console/reports/export.csv?from=...&to=...      aggregates only, small cells suppressed

Counsellors get 403. Every view and export is written to the audit log with its filters.
Charts are SVG drawn by the server (templates/report_charts.html): nothing is loaded from
anywhere else. The numbers come from bot/cases/reports.py.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.cases import audit, provinces, record, reports
from bot.cases.feedback import ANSWERS
from bot.cases.models import StaffUser
from bot.cases.wording import CHANNEL_LABELS, RISK_LABELS
from bot.console.pages import Ctx, StaffDep, page, supervisor
from bot.settings import Settings

router = APIRouter(prefix="/console", include_in_schema=False)

DateParam = Annotated[str | None, Query(alias="from", max_length=10)]
ToParam = Annotated[str | None, Query(alias="to", max_length=10)]
Choice = Annotated[str, Query(max_length=32)]


def _limits(settings: Settings) -> dict[str, int]:
    return {"imminent": settings.wait_limit_imminent_seconds, "high": settings.wait_limit_high_seconds,
            "concern": settings.wait_limit_concern_seconds}


def _filter(start: str | None, end: str | None, channel: str, risk: str, category: str,
            province: str) -> reports.ReportFilter:
    try:
        return reports.ReportFilter.parse(start, end, channel=channel, risk=risk, category=category,
                                          province=province)
    except reports.FilterError as error:
        raise HTTPException(422, error.message) from None


def _kb_report(settings: Settings, report: reports.Report) -> None:
    """The knowledge base's replies by kind and its "was this helpful?" answers (its own database, read only)."""
    url = make_url(settings.kb_database_url)
    if url.get_backend_name() == "sqlite" and (not url.database or not Path(url.database).exists()):
        return  # never create an empty knowledge-base file by looking
    try:
        engine = create_engine(url, hide_parameters=True)
    except (SQLAlchemyError, ImportError):
        return
    try:
        with engine.connect() as connection:
            reports._kb(connection, report.filter, report)
    except SQLAlchemyError:
        pass
    finally:
        engine.dispose()


async def _build(ctx: Any, staff: Any, flt: reports.ReportFilter, action: str,
                 with_kb: bool = False) -> reports.Report:
    limits = _limits(ctx.settings)

    def work(session: Session) -> reports.Report:
        report = reports.build(session, flt, limits)
        audit.record(session, session.get(StaffUser, staff.id), action,
                     **{k: v for k, v in flt.as_dict().items() if v})
        return report

    report = await ctx.database.run(work)
    if with_kb:
        import anyio.to_thread

        await anyio.to_thread.run_sync(_kb_report, ctx.settings, report)
    return report


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(request: Request, ctx: Ctx, staff: StaffDep, start: DateParam = None, end: ToParam = None,
                       channel: Choice = "", risk: Choice = "", category: Choice = "",
                       province: Choice = "") -> HTMLResponse:
    supervisor(staff)
    flt = _filter(start, end, channel, risk, category, province)
    report = await _build(ctx, staff, flt, "report_viewed", with_kb=True)
    comments = [(day, answer, ctx.handoff.keyring.decrypt(token)) for day, answer, token in report.feedback_comments]
    return page(request, "reports.html", staff, report=report, f=flt, view=_view(report), comments=comments,
                CHANNEL_LABELS=CHANNEL_LABELS, FEEDBACK_LABELS=ANSWERS, categories=record.CATEGORIES,
                provinces_list=provinces.PROVINCES, export_query=_query(flt))


@router.get("/api/reports/summary")
async def summary(ctx: Ctx, staff: StaffDep, start: DateParam = None, end: ToParam = None, channel: Choice = "",
                  risk: Choice = "", category: Choice = "", province: Choice = "") -> JSONResponse:
    supervisor(staff)
    flt = _filter(start, end, channel, risk, category, province)
    report = await _build(ctx, staff, flt, "report_summary", with_kb=True)
    return JSONResponse(reports.summary_json(report), headers={"Cache-Control": "no-store"})


@router.get("/reports/export.csv")
async def export_csv(ctx: Ctx, staff: StaffDep, start: DateParam = None, end: ToParam = None,
                     channel: Choice = "", risk: Choice = "", category: Choice = "",
                     province: Choice = "") -> Response:
    supervisor(staff)
    flt = _filter(start, end, channel, risk, category, province)
    report = await _build(ctx, staff, flt, "report_exported")
    buffer = io.StringIO()
    csv.writer(buffer).writerows(reports.export_rows(report))
    name = f"bao-cao-111-{flt.start.isoformat()}-{flt.end.isoformat()}.csv"
    # A byte-order mark: spreadsheet programs then read the Vietnamese as UTF-8.
    return Response("\ufeff" + buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def _query(flt: reports.ReportFilter) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in flt.as_dict().items() if v})


# ---- what the charts draw --------------------------------------------------------------------------


def _view(report: reports.Report) -> dict[str, Any]:
    """Rows for the page's charts and tables, labelled in Vietnamese."""
    channels = [c for c in CHANNEL_LABELS if not report.filter.channel or c == report.filter.channel]
    days = [(day, [(c, counts.get(c, 0)) for c in channels]) for day, counts in report.conversations_by_day.items()]
    return {
        "channels": channels,
        "days": days,
        "day_max": max((sum(n for _, n in parts) for _, parts in days), default=0),
        "risk_rows": [(RISK_LABELS[k], report.by_risk.get(k, 0), k) for k in reports.RISKS],
        "category_rows": [(reports.category_label(k), n, "") for k, n in report.by_category.items()],
        "province_rows": [(provinces.label(k), n, "") for k, n in report.by_province.items()],
        "age_rows": [(record.label(record.AGE_BANDS, k), n, "") for k, n in report.by_age_band.items()],
        "gender_rows": [(record.label(record.GENDERS, k), n, "") for k, n in report.by_gender.items()],
        "contact_rows": [(record.label(record.CONTACTS, k), n, "") for k, n in report.by_contact.items()],
        "outcome_rows": [(reports.outcome_label(k), n, "") for k, n in report.outcomes.items()],
        "referral_rows": [(record.REFERRALS.get(k, k), n, "") for k, n in report.referrals.items()],
        "wait_rows": [(RISK_LABELS[k], report.wait_by_risk[k], report.wait_limits.get(k, 0),
                       report.over_limit_by_risk.get(k, 0), k) for k in reports.RISKS],
        "wait_max": max([report.wait_limits.get(k, 0) for k in reports.RISKS]
                        + [p.p90 or 0 for p in report.wait_by_risk.values()] + [1]),
        "left_rows": [(RISK_LABELS[k], report.left_by_risk.get(k, 0), k) for k in reports.RISKS],
        "triage_rows": [(RISK_LABELS[k], report.triage_risk[k]) for k in reports.RISKS],
        "triage_parts": [("lower", "Tư vấn viên đánh giá thấp hơn"), ("same", "Như nhau"),
                         ("higher", "Tư vấn viên đánh giá cao hơn"), ("unrecorded", "Chưa ghi")],
        "feedback_rows": [(ANSWERS[k], report.feedback.get(k, 0), k) for k in ANSWERS],
    }
