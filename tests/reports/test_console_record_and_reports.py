"""The case record on the case page, follow-ups, the reports page, the summary API and the
export, through the console (a real app over the fake Rasa)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from actions.knowledge_base.answer_counts import count_answer
from actions.knowledge_base.database import KnowledgeBaseDatabase
from bot.cases.hours import VIETNAM
from bot.cases.models import AuditEntry, Role
from bot.cases.record import CaseRecord
from bot.db import Database
from bot.settings import Settings
from tests.console.console_support import child_says, login, make_staff, new_conversation


def _open_case(client: TestClient, text: str = "bo em danh em dau lam") -> int:
    child_says(client, new_conversation(), text)
    return client.get("/console/api/queue").json()["waiting"][-1]["id"]


def _record(settings: Settings, case_id: int) -> CaseRecord | None:
    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            return session.scalars(select(CaseRecord).where(CaseRecord.case_id == case_id)).one_or_none()
    finally:
        database.dispose()


def _audit(settings: Settings) -> list[tuple[str, str]]:
    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            return [(a.actor, a.action) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    finally:
        database.dispose()


RECORD_FORM = {"categories": ["violence", "school_violence"], "age_band": "11_14", "gender": "female",
               "contact": "child", "province": "79", "commune": "Phường Dĩ An", "referrals": ["commune", "school"],
               "counsellor_risk": "high"}


def test_the_record_is_prefilled_from_the_triage_and_keeps_both_views(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "lan", name="Lan")
    csrf = login(client, "lan")
    case_id = _open_case(client)
    client.post(f"/console/cases/{case_id}/take", data={"csrf_token": csrf})
    page = client.get(f"/console/cases/{case_id}").text
    assert "Mây gợi ý: Bạo lực, bạo lực gia đình" in page
    assert 'value="violence" checked' in page and 'value="sexual_abuse" checked' not in page

    follow_up = (datetime.now(VIETNAM).date() - timedelta(days=1)).isoformat()
    saved = client.post(f"/console/cases/{case_id}/record",
                        data={**RECORD_FORM, "follow_up_on": follow_up, "csrf_token": csrf}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    row = _record(settings, case_id)
    assert row is not None
    assert row.bot_categories == ["violence"] and row.categories == ["violence", "school_violence"]
    assert (row.age_band, row.gender, row.contact, row.province, row.counsellor_risk) == \
        ("11_14", "female", "child", "79", "high")
    assert row.commune and "Dĩ An" not in row.commune  # encrypted at rest
    assert "Phường Dĩ An" in client.get(f"/console/cases/{case_id}").text

    due = client.get("/console/follow-ups").text
    assert f'data-case-id="{case_id}"' in due and "quá hạn" in due
    client.post(f"/console/cases/{case_id}/follow-up-done", data={"csrf_token": csrf})
    assert f'data-case-id="{case_id}"' not in client.get("/console/follow-ups").text
    assert ("lan", "record_saved") in _audit(settings)


def test_a_former_province_name_is_mapped_and_bad_values_are_refused(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "lan")
    csrf = login(client, "lan")
    case_id = _open_case(client)
    client.post(f"/console/cases/{case_id}/take", data={"csrf_token": csrf})
    client.post(f"/console/cases/{case_id}/record", data={"province": "Bình Dương", "csrf_token": csrf})
    assert _record(settings, case_id).province == "79"  # type: ignore[union-attr]
    refused = client.post(f"/console/cases/{case_id}/record", data={"age_band": "42", "csrf_token": csrf},
                          follow_redirects=False)
    assert refused.status_code == 409 and "không hợp lệ" in refused.text


def test_only_the_counsellor_of_the_case_or_a_supervisor_writes_the_record(client: TestClient,
                                                                             settings: Settings) -> None:
    make_staff(settings, "lan")
    make_staff(settings, "minh")
    csrf = login(client, "lan")
    case_id = _open_case(client)
    client.post(f"/console/cases/{case_id}/take", data={"csrf_token": csrf})
    client.cookies.clear()
    csrf = login(client, "minh")
    refused = client.post(f"/console/cases/{case_id}/record", data={"age_band": "15_17", "csrf_token": csrf},
                          follow_redirects=False)
    assert refused.status_code == 403 and _record(settings, case_id) is None


def test_a_counsellor_gets_403_from_every_report(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "lan")
    login(client, "lan")
    for path in ("/console/reports", "/console/api/reports/summary", "/console/reports/export.csv"):
        assert client.get(path).status_code == 403, path
    assert not [a for a in _audit(settings) if a[1].startswith("report_")]


def test_the_supervisor_sees_the_reports_and_every_view_is_audited(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "lan", name="Lan")
    make_staff(settings, "ha", Role.SUPERVISOR, name="Hà")
    csrf = login(client, "lan")
    case_id = _open_case(client)
    client.post(f"/console/cases/{case_id}/take", data={"csrf_token": csrf})
    client.post(f"/console/cases/{case_id}/record", data={**RECORD_FORM, "csrf_token": csrf})
    client.cookies.clear()
    login(client, "ha")
    today = datetime.now(VIETNAM).date()
    query = f"from={(today - timedelta(days=6)).isoformat()}&to={today.isoformat()}"

    page = client.get(f"/console/reports?{query}")
    assert page.status_code == 200
    assert page.text.count("<svg") >= 8 and "TP. Hồ Chí Minh" in page.text and "<script src=\"http" not in page.text

    summary = client.get(f"/console/api/reports/summary?{query}").json()
    assert summary["from"] == (today - timedelta(days=6)).isoformat() and summary["to"] == today.isoformat()
    assert summary["conversations"] == 1
    assert summary["cases_by_risk"] == {"Khẩn cấp": 0, "Cao": 1, "Theo dõi": 0}
    assert summary["cases_by_category"] == {"Bạo lực, bạo lực gia đình": 1, "Bạo lực học đường, bắt nạt": 1}
    assert summary["cases_by_province"] == {"TP. Hồ Chí Minh": 1}
    assert {"wait_seconds_p50", "wait_seconds_p90", "feedback"} <= set(summary)

    export = client.get(f"/console/reports/export.csv?{query}")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    counts = [value for _, _, value in rows[1:] if value.isdigit()]
    assert all(not 1 <= int(v) <= 4 for v in counts)
    assert "<5" in [value for _, _, value in rows] and "bo em danh em" not in export.text
    assert "Dĩ An" not in export.text

    actions = [a for a in _audit(settings) if a[1].startswith("report_")]
    assert actions == [("ha", "report_viewed"), ("ha", "report_summary"), ("ha", "report_exported")]


def test_a_wrong_date_is_a_clear_error(client: TestClient, settings: Settings) -> None:
    make_staff(settings, "ha", Role.SUPERVISOR)
    login(client, "ha")
    response = client.get("/console/api/reports/summary?from=2026-12-07&to=2026-12-01")
    assert response.status_code == 422
    assert date.today()  # the default period needs no parameters
    assert client.get("/console/api/reports/summary").status_code == 200


def test_the_reports_count_the_questions_the_knowledge_base_answered(client: TestClient, settings: Settings) -> None:
    # What the action server counted (actions/knowledge_base/answer_counts.py), in its own database.
    knowledge_base = KnowledgeBaseDatabase(settings.kb_database_url)
    knowledge_base.migrate()
    today = datetime.now(VIETNAM).date()
    for kind, times in (("answer", 3), ("clarify", 1), ("topics", 2)):
        for _ in range(times):
            count_answer(knowledge_base, kind, "parent", today)
    count_answer(knowledge_base, "answer", "child", today - timedelta(days=40))  # outside the range
    knowledge_base.dispose()
    make_staff(settings, "ha", Role.SUPERVISOR)
    login(client, "ha")

    summary = client.get("/console/api/reports/summary").json()
    assert summary["knowledge_base_replies"] == {"answer": 3, "clarify": 1, "topics": 2, "ask_audience": 0}
    page = client.get("/console/reports").text
    table = page[page.index('id="kb-answers"'):page.index("</table>", page.index('id="kb-answers"'))]
    assert [int(n) for n in re.findall(r'<td class="n">(\d+)</td>', table)] == [3, 1, 2, 0]


def test_the_report_knows_the_knowledge_bases_kinds_of_reply_and_its_day() -> None:
    # bot/ may not import the action server's package (docs/architecture.md), so the report names the kinds
    # and the service's day again: they must agree with actions/knowledge_base/answer_counts.py.
    from actions.knowledge_base import answer_counts
    from bot.cases import reports

    assert reports.KB_REPLY_KINDS == answer_counts.KINDS
    now = datetime.now(VIETNAM)
    assert answer_counts.VIETNAM.utcoffset(None) == now.utcoffset()
