"""Reports for the people who run the service: the numbers, and the anonymised export.

    report = build(session, ReportFilter(start, end, channel=..., risk=..., category=..., province=...),
                   wait_limits)
    summary_json(report)          # the summary API (exact counts, inside the service)
    export_rows(report)           # the CSV for outside the service: aggregates, small cells hidden

Days are Viet Nam days (UTC+7), `start` and `end` both included. Cases are counted by the
day they were opened; conversations by the day they began (conversations without a case
are deleted after RETENTION_CONVERSATION_DAYS, so older periods count only those with a
case); answers to the feedback question by the day they were given.

Filters: channel applies to everything; risk (the bot's risk of the case), category (the
counsellor's categories, else the triage's suggestion) and province apply to the cases and
what is measured on them. The feedback has no case: only the channel filter applies to it.

Small-cell suppression (`suppress`): in the export, a count from 1 to 4 is shown as "<5";
where a table's total is shown, further cells ("x") are hidden until no hidden cell can be
worked out from the total and the cells shown; when that is impossible the total is hidden.
Pure functions of a Session: the console (bot/console/reports.py), the tests and bench/ call them.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, String, and_, cast, func, or_, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.cases import provinces, record
from bot.cases.feedback import ANSWERS, ChildFeedback, forget_expired_links
from bot.cases.hours import VIETNAM
from bot.cases.models import Case, CaseEntry, CaseStatus, StaffUser
from bot.cases.wording import CHANNEL_LABELS, OUTCOMES, RISK_LABELS
from bot.models import Conversation

RISKS = ("imminent", "high", "concern")
NOT_CATEGORISED = "Chưa phân loại"
SMALL = "<5"  # a count from 1 to 4
# The knowledge base's kinds of reply (actions/knowledge_base/answer_counts.py KINDS), in the page's order.
KB_REPLY_KINDS = ("answer", "clarify", "topics", "ask_audience")
HIDDEN = "x"  # a larger count hidden so that a "<5" cannot be worked out from the total
MAX_DAYS = 366


# ---- the filter --------------------------------------------------------------------------------


class FilterError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ReportFilter:
    start: date
    end: date
    channel: str = ""
    risk: str = ""
    category: str = ""
    province: str = ""

    @classmethod
    def parse(cls, start: str | None, end: str | None, *, channel: str = "", risk: str = "",
              category: str = "", province: str = "", today: date | None = None) -> ReportFilter:
        """From the page's or the API's parameters (YYYY-MM-DD); the last 30 days by default."""
        today = today or datetime.now(VIETNAM).date()
        try:
            last = date.fromisoformat(end) if end else today
            first = date.fromisoformat(start) if start else last - timedelta(days=29)
        except ValueError as error:
            raise FilterError("Ngày phải có dạng YYYY-MM-DD.") from error
        if first > last:
            raise FilterError("Ngày bắt đầu phải trước ngày kết thúc.")
        if (last - first).days >= MAX_DAYS:
            raise FilterError(f"Mỗi báo cáo tối đa {MAX_DAYS} ngày.")
        if channel and channel not in CHANNEL_LABELS:
            raise FilterError("Kênh không hợp lệ.")
        if risk and risk not in RISK_LABELS:
            raise FilterError("Mức nguy cơ không hợp lệ.")
        if category and category not in record.CATEGORIES:
            raise FilterError("Nhóm vấn đề không hợp lệ.")
        if province and province not in provinces.BY_CODE:
            raise FilterError("Tỉnh, thành phố không hợp lệ.")
        return cls(first, last, channel, risk, category, province)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(0), VIETNAM).astimezone(UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(0), VIETNAM).astimezone(UTC)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def as_dict(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "channel": self.channel,
                "risk": self.risk, "category": self.category, "province": self.province}


# ---- the report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Percentiles:
    count: int
    p50: float | None
    p90: float | None


@dataclass
class Report:
    filter: ReportFilter
    conversations_by_day: dict[date, dict[str, int]] = field(default_factory=dict)
    conversations_by_channel: dict[str, int] = field(default_factory=dict)
    cases: int = 0
    by_risk: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)  # taxonomy key or "" -> cases
    by_province: dict[str, int] = field(default_factory=dict)  # code or "" -> cases
    by_age_band: dict[str, int] = field(default_factory=dict)
    by_gender: dict[str, int] = field(default_factory=dict)
    by_contact: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)  # outcome or "" (still open) -> cases
    referrals: dict[str, int] = field(default_factory=dict)
    records: int = 0  # cases with a saved record
    wait: Percentiles = Percentiles(0, None, None)
    wait_by_risk: dict[str, Percentiles] = field(default_factory=dict)
    over_limit_by_risk: dict[str, int] = field(default_factory=dict)
    wait_limits: dict[str, int] = field(default_factory=dict)
    left_before_counsellor: int = 0
    left_by_risk: dict[str, int] = field(default_factory=dict)
    first_reply: Percentiles = Percentiles(0, None, None)
    # bot's risk -> {"lower": n, "same": n, "higher": n, "unrecorded": n}: the counsellor's judgement
    # compared with the bot's ("higher": the counsellor judged the risk higher than the bot).
    triage_risk: dict[str, dict[str, int]] = field(default_factory=dict)
    # the triage's suggested category: confirmed, corrected, none suggested (saved records only)
    triage_category: dict[str, int] = field(default_factory=dict)
    feedback: dict[str, int] = field(default_factory=dict)  # yes | neutral | no -> answers
    feedback_by_counsellor: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    feedback_comments: list[tuple[date, str, str]] = field(default_factory=list)  # (day, answer, token)
    kb_feedback: list[tuple[str, int, int]] = field(default_factory=list)  # (card, helpful, not helpful)
    kb_available: bool = False
    # kind of reply -> how many (actions/knowledge_base/answer_counts.py): a card, choices, the topics
    kb_answers: dict[str, int] = field(default_factory=dict)

    @property
    def conversations(self) -> int:
        return sum(self.conversations_by_channel.values())

    @property
    def feedback_total(self) -> int:
        return sum(self.feedback.values())


def percentiles(values: Sequence[float]) -> Percentiles:
    """p50 and p90 by the nearest-rank method (a value that occurred)."""
    if not values:
        return Percentiles(0, None, None)
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return Percentiles(len(ordered), rank(0.5), rank(0.9))


def _day(column: Any, dialect: str) -> Any:
    """The Viet Nam day of a stored UTC time, in SQL."""
    if dialect == "postgresql":
        return func.date(func.timezone("Asia/Ho_Chi_Minh", column))
    return func.date(column, "+7 hours")  # SQLite stores UTC as text


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def build(session: Session, flt: ReportFilter, wait_limits: Mapping[str, int],
          kb: Connection | None = None) -> Report:
    report = Report(flt, wait_limits=dict(wait_limits))
    dialect = session.get_bind().dialect.name
    _conversations(session, flt, dialect, report)
    _cases(session, flt, report)
    _feedback(session, flt, report)
    if kb is not None:
        _kb(kb, flt, report)
    return report


def _conversations(session: Session, flt: ReportFilter, dialect: str, report: Report) -> None:
    day = _day(Conversation.created_at, dialect)
    query = (select(day, Conversation.channel, func.count())
             .where(Conversation.created_at >= flt.since, Conversation.created_at < flt.until)
             .group_by(day, Conversation.channel))
    if flt.channel:
        query = query.where(Conversation.channel == flt.channel)
    by_day: dict[date, dict[str, int]] = {d: {} for d in flt.days()}
    by_channel: Counter[str] = Counter()
    for value, channel, count in session.execute(query):
        by_day.setdefault(_as_date(value), {})[channel] = int(count)
        by_channel[channel] += int(count)
    report.conversations_by_day = dict(sorted(by_day.items()))
    report.conversations_by_channel = dict(by_channel)


def _seconds_between(later: Any, earlier: Any, dialect: str) -> Any:
    """`later - earlier` in seconds, in SQL (NULL when either is NULL)."""
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _json_list(value: Any, cache: dict[Any, list[str]]) -> list[str]:
    """A JSON list read as text (a few distinct values among many rows: each parsed once)."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    found = cache.get(value)
    if found is None:
        found = cache[value] = list(json.loads(value) or ())
    return found


def _selected_cases(flt: ReportFilter, dialect: str) -> Any:
    """The cases of the period and the filters, one row each, as a subquery: what every count reads."""
    c, r, e = Case.__table__.c, record.CaseRecord.__table__.c, CaseEntry.__table__.c
    period = (c.created_at >= flt.since, c.created_at < flt.until)
    # When a counsellor first wrote to the child, per case of the period (ix_case_entries_first_reply);
    # the database leaves this join out of every query that does not read "replied".
    first = (select(e.case_id.label("case_id"), func.min(e.created_at).label("at"))
             .select_from(CaseEntry.__table__.join(Case.__table__, c.id == e.case_id))
             .where(e.sender == "counsellor", *period).group_by(e.case_id).subquery())
    query = (select(c.risk.label("risk"), c.status.label("status"), func.coalesce(c.outcome, "").label("outcome"),
                    c.category.label("triage"), c.taken_at.is_not(None).label("taken"),
                    _seconds_between(c.taken_at, c.waiting_since, dialect).label("waited"),
                    _seconds_between(first.c.at, c.waiting_since, dialect).label("replied"),
                    r.case_id.is_not(None).label("has_record"), cast(r.categories, String).label("categories"),
                    func.coalesce(r.province, "").label("province"), func.coalesce(r.age_band, "").label("age"),
                    func.coalesce(r.gender, "").label("gender"), func.coalesce(r.contact, "").label("contact"),
                    cast(r.referrals, String).label("referrals"),
                    func.coalesce(r.counsellor_risk, "").label("judged"))
             .select_from(Case.__table__.outerjoin(record.CaseRecord.__table__, r.case_id == c.id)
                          .outerjoin(first, first.c.case_id == c.id))
             .where(*period))
    if flt.channel:
        query = query.where(c.channel == flt.channel)
    if flt.risk:
        query = query.where(c.risk == flt.risk)
    if flt.province:
        query = query.where(r.province == flt.province)
    if flt.category:
        # The counsellor's categories when the case has a record (the JSON list's text holds
        # '"key"'), else the triage's suggestion.
        suggesting = [k for k, v in record.TRIAGE_TO_CATEGORY.items() if v == flt.category]
        query = query.where(or_(
            and_(r.case_id.is_not(None), cast(r.categories, String).like(f'%"{flt.category}"%')),
            and_(r.case_id.is_(None), c.category.in_(suggesting)),
        ))
    return query.subquery("selected")


def _counts(session: Session, selected: Any, *columns: str) -> list[Any]:
    cols = [selected.c[name] for name in columns]
    return session.execute(select(*cols, func.count()).select_from(selected).group_by(*cols)).all()


def _cases(session: Session, flt: ReportFilter, report: Report) -> None:
    """Everything measured on the cases. Counts are grouped by the database over columns with few
    values each (a bounded number of rows whatever the number of cases); the durations are read
    once, three numbers a case, for the percentiles."""
    dialect = session.get_bind().dialect.name
    selected = _selected_cases(flt, dialect)

    risk_count: Counter[str] = Counter()
    status_count: Counter[str] = Counter()
    outcome_count: Counter[str] = Counter()
    left: Counter[str] = Counter()
    triage_risk: dict[str, Counter[str]] = {risk: Counter() for risk in RISKS}
    for risk, status, outcome, taken, has_record, judged, n in _counts(
            session, selected, "risk", "status", "outcome", "taken", "has_record", "judged"):
        risk, status = str(risk), str(status)
        risk_count[risk] += n
        status_count[status] += n
        outcome_count[outcome or ""] += n
        if not taken and status == CaseStatus.CLOSED.value:
            left[risk] += n
        if risk in triage_risk:
            if not has_record or not judged:
                triage_risk[risk]["unrecorded"] += n
            else:
                difference = record.RISK_ORDER[judged] - record.RISK_ORDER[risk]
                triage_risk[risk]["higher" if difference > 0 else "lower" if difference < 0 else "same"] += n
    report.cases = sum(risk_count.values())
    report.by_risk = {risk: risk_count.get(risk, 0) for risk in RISKS}
    report.by_status = dict(status_count)
    report.outcomes = {key: outcome_count[key] for key in [*OUTCOMES, ""] if outcome_count.get(key)}
    report.left_before_counsellor = sum(left.values())
    report.left_by_risk = {risk: left.get(risk, 0) for risk in RISKS}
    report.triage_risk = {risk: {k: triage_risk[risk].get(k, 0) for k in ("lower", "same", "higher", "unrecorded")}
                          for risk in RISKS}

    province_count: Counter[str] = Counter()
    age_count: Counter[str] = Counter()
    gender_count: Counter[str] = Counter()
    contact_count: Counter[str] = Counter()
    for province, age, gender, contact, n in _counts(session, selected, "province", "age", "gender", "contact"):
        province_count[province or ""] += n
        age_count[age or ""] += n
        gender_count[gender or ""] += n
        contact_count[contact or ""] += n
    report.by_province = dict(sorted(province_count.items(), key=lambda item: (-item[1], item[0])))
    report.by_age_band = {key: age_count[key] for key in [*record.AGE_BANDS, ""] if age_count.get(key)}
    report.by_gender = {key: gender_count[key] for key in [*record.GENDERS, ""] if gender_count.get(key)}
    report.by_contact = {key: contact_count[key] for key in [*record.CONTACTS, ""] if contact_count.get(key)}

    # Categories and the triage's agreement: few distinct (record?, triage, categories) combinations.
    parsed: dict[Any, list[str]] = {}
    category_count: Counter[str] = Counter()
    triage_category: Counter[str] = Counter()
    records = 0
    for has_record, triage, categories_text, n in _counts(session, selected, "has_record", "triage", "categories"):
        suggestion = record.suggested_categories(triage)
        categories = _json_list(categories_text, parsed) if has_record else suggestion
        for category in categories or [""]:
            category_count[category] += n
        if has_record:
            records += n
            if not suggestion:
                triage_category["none"] += n
            elif set(suggestion) & set(categories):
                triage_category["confirmed"] += n
            else:
                triage_category["corrected"] += n
    report.records = records
    report.by_category = {key: category_count[key] for key in [*record.CATEGORIES, ""] if category_count.get(key)}
    report.triage_category = {k: triage_category.get(k, 0) for k in ("confirmed", "corrected", "none")}

    referral_count: Counter[str] = Counter()
    for referrals_text, n in _counts(session, selected, "referrals"):
        for referral in _json_list(referrals_text, parsed):
            referral_count[referral] += n
    report.referrals = {key: referral_count[key] for key in record.REFERRALS if referral_count.get(key)}

    # Waiting (requested -> taken) and the first counsellor message, in seconds.
    waits: dict[str, list[float]] = {risk: [] for risk in RISKS}
    replies: list[float] = []
    durations = (select(selected.c.risk, selected.c.waited, selected.c.replied)
                 .where(or_(selected.c.waited.is_not(None), selected.c.replied.is_not(None))))
    for risk, waited, replied in session.execute(durations):
        if waited is not None:
            waits.setdefault(str(risk), []).append(max(0.0, round(float(waited), 3)))
        if replied is not None:
            replies.append(max(0.0, round(float(replied), 3)))
    report.wait = percentiles([w for values in waits.values() for w in values])
    report.wait_by_risk = {risk: percentiles(waits.get(risk, [])) for risk in RISKS}
    report.over_limit_by_risk = {risk: sum(1 for w in waits.get(risk, []) if w > report.wait_limits.get(risk, math.inf))
                                 for risk in RISKS}
    report.first_reply = percentiles(replies)


def _feedback(session: Session, flt: ReportFilter, report: Report) -> None:
    forget_expired_links(session)
    query = (select(ChildFeedback.answer, ChildFeedback.counsellor_id, ChildFeedback.answered_on,
                    ChildFeedback.comment)
             .where(ChildFeedback.answered_on >= flt.start, ChildFeedback.answered_on <= flt.end))
    if flt.channel:
        query = query.where(ChildFeedback.channel == flt.channel)
    answers: Counter[str] = Counter()
    per_counsellor: dict[int | None, Counter[str]] = defaultdict(Counter)
    comments: list[tuple[date, str, str]] = []
    for answer, counsellor_id, day, comment in session.execute(query):
        answers[answer] += 1
        per_counsellor[counsellor_id][answer] += 1
        if comment:
            comments.append((_as_date(day), answer, comment))
    names = dict(session.execute(select(StaffUser.id, StaffUser.display_name)).all())
    report.feedback = {key: answers.get(key, 0) for key in ANSWERS}
    report.feedback_by_counsellor = sorted(
        ((names.get(cid or 0, "Không rõ"), {key: counts.get(key, 0) for key in ANSWERS})
         for cid, counts in per_counsellor.items()), key=lambda item: item[0])
    report.feedback_comments = sorted(comments, key=lambda item: item[0], reverse=True)


def _kb(connection: Connection, flt: ReportFilter, report: Report) -> None:
    """"Was this helpful?" answers per knowledge-base card (the KB database, read only)."""
    try:
        rows = connection.execute(text(
            "SELECT card_id, SUM(CASE WHEN helpful THEN 1 ELSE 0 END), SUM(CASE WHEN helpful THEN 0 ELSE 1 END) "
            "FROM kb_feedback WHERE created_at >= :since AND created_at < :until GROUP BY card_id"),
            {"since": flt.since, "until": flt.until}).all()
    except SQLAlchemyError:
        return  # no knowledge base database (yet)
    report.kb_available = True
    try:
        counted = connection.execute(text(
            "SELECT kind, SUM(count) FROM kb_answer_counts WHERE day >= :since AND day < :until GROUP BY kind"),
            {"since": flt.start, "until": flt.end + timedelta(days=1)}).all()
    except SQLAlchemyError:
        counted = []  # a knowledge base database from before the counts (migration 0004)
    report.kb_answers = {kind: 0 for kind in KB_REPLY_KINDS} | {str(k): int(n or 0) for k, n in counted}
    report.kb_feedback = sorted(((str(card), int(yes or 0), int(no or 0)) for card, yes, no in rows),
                                key=lambda item: (-item[2], item[0]))


# ---- labels ---------------------------------------------------------------------------------------


def category_label(key: str) -> str:
    return record.CATEGORIES.get(key, NOT_CATEGORISED if not key else key)


def outcome_label(key: str) -> str:
    return OUTCOMES.get(key, "Chưa đóng" if not key else key)


def labelled(counts: Mapping[str, int], label: Any) -> dict[str, int]:
    return {label(key): count for key, count in counts.items()}


# ---- the summary API ------------------------------------------------------------------------------


def summary_json(report: Report) -> dict[str, Any]:
    """Exact counts for integrations inside the service (supervisors and admins only)."""
    f = report.filter
    return {
        "from": f.start.isoformat(),
        "to": f.end.isoformat(),
        "filters": {k: v for k, v in f.as_dict().items() if k not in ("from", "to") and v},
        "conversations": report.conversations,
        "conversations_by_channel": labelled(report.conversations_by_channel, lambda k: CHANNEL_LABELS.get(k, k)),
        "cases": report.cases,
        "cases_by_risk": labelled(report.by_risk, lambda k: RISK_LABELS.get(k, k)),
        "cases_by_category": labelled(report.by_category, category_label),
        "cases_by_province": labelled(report.by_province, provinces.label),
        "cases_by_age_band": labelled(report.by_age_band, lambda k: record.label(record.AGE_BANDS, k)),
        "outcomes": labelled(report.outcomes, outcome_label),
        "referrals": labelled(report.referrals, lambda k: record.REFERRALS.get(k, k)),
        "wait_seconds_p50": report.wait.p50,
        "wait_seconds_p90": report.wait.p90,
        "left_before_counsellor": report.left_before_counsellor,
        "first_counsellor_message_seconds_p50": report.first_reply.p50,
        "first_counsellor_message_seconds_p90": report.first_reply.p90,
        "feedback": labelled(report.feedback, lambda k: ANSWERS.get(k, k)),
        # kind of reply -> count ("answer", "clarify", "topics", "ask_audience"); absent without the KB database
        **({"knowledge_base_replies": dict(report.kb_answers)} if report.kb_available else {}),
    }


# ---- suppression and the export -------------------------------------------------------------------


def suppress(counts: Sequence[int], total: int | None) -> tuple[list[str], str | None]:
    """How each count of one table, and its total (None: the table shows no total), are shown.

    A count from 1 to 4 becomes "<5". Where the total is shown, the hidden cells must not be
    recoverable from it: at least one further cell, the smallest, is hidden ("x"), and more
    until every "<5" cell could be more than one number given the total and the cells shown. If that cannot be
    reached, every cell of the table is hidden ("x") and only the total is shown. A total from
    1 to 4 is itself "<5" (then every non-zero cell is too). Zeros are shown as they are.

    The total is never hidden otherwise: tables that add up to the same total (every case
    table adds up to the number of cases) would give it away to each other.
    """
    hidden = {i for i, n in enumerate(counts) if 1 <= n <= 4}
    if total is None or 1 <= total <= 4 or not hidden:
        shown = [SMALL if i in hidden else str(n) for i, n in enumerate(counts)]
        return shown, None if total is None else (SMALL if 1 <= total <= 4 else str(total))
    secondary: set[int] = set()
    # At least one larger cell always goes with the small ones (whether one was needed would
    # itself tell something), then more until a small cell could be more than one number.
    while not secondary or not _ambiguous(len(hidden), len(secondary), sum(counts[i] for i in hidden | secondary)):
        candidates = sorted((n, i) for i, n in enumerate(counts) if n > 4 and i not in secondary)
        if not candidates:
            return [HIDDEN] * len(counts), str(total)
        secondary.add(candidates[0][1])
    shown = [SMALL if i in hidden else HIDDEN if i in secondary else str(n) for i, n in enumerate(counts)]
    return shown, str(total)


def _ambiguous(small: int, larger: int, hidden_sum: int) -> bool:
    """Whether a "<5" cell (1..4) can be more than one number, knowing only that the `small`
    cells shown "<5" and the `larger` cells shown "x" (5 or more) add up to `hidden_sum`."""
    others_min = (small - 1) + larger * 5
    others_max = math.inf if larger else (small - 1) * 4
    low = max(1, hidden_sum - others_max)
    high = min(4, hidden_sum - others_min)
    return high > low


# A table of the export: (section, [(label, count)], whether its total is shown).
Table = tuple[str, list[tuple[str, int]], bool]


def export_tables(report: Report) -> list[Table]:
    f = report.filter
    total_known = True
    tables: list[Table] = [
        ("Cuộc trò chuyện theo ngày", [(d.isoformat(), sum(v.values())) for d, v in report.conversations_by_day.items()],
         total_known),
        ("Cuộc trò chuyện theo kênh", [(CHANNEL_LABELS.get(k, k), report.conversations_by_channel.get(k, 0))
                                       for k in CHANNEL_LABELS if not f.channel or k == f.channel], total_known),
        ("Ca theo mức nguy cơ (bot)", [(RISK_LABELS[k], report.by_risk.get(k, 0)) for k in RISKS], total_known),
        ("Ca theo tỉnh, thành phố", [(provinces.label(k), n) for k, n in report.by_province.items()], total_known),
        ("Ca theo độ tuổi", [(record.label(record.AGE_BANDS, k), n) for k, n in report.by_age_band.items()],
         total_known),
        ("Ca theo giới tính", [(record.label(record.GENDERS, k), n) for k, n in report.by_gender.items()], total_known),
        ("Ca theo người liên hệ", [(record.label(record.CONTACTS, k), n) for k, n in report.by_contact.items()],
         total_known),
        ("Ca theo kết quả", [(outcome_label(k), n) for k, n in report.outcomes.items()], total_known),
        # A case may have several categories and several referrals: no total to subtract from.
        ("Ca theo nhóm vấn đề (một ca có thể thuộc nhiều nhóm)",
         [(category_label(k), n) for k, n in report.by_category.items()], False),
        ("Chuyển tuyến (một ca có thể chuyển nhiều nơi)",
         [(record.REFERRALS.get(k, k), n) for k, n in report.referrals.items()], False),
        ("Trẻ rời đi trước khi có tư vấn viên, theo mức nguy cơ",
         [(RISK_LABELS[k], report.left_by_risk.get(k, 0)) for k in RISKS], True),
        ("Phản hồi của trẻ", [(ANSWERS[k], report.feedback.get(k, 0)) for k in ANSWERS], True),
    ]
    return tables


def export_rows(report: Report) -> list[list[str]]:
    """The anonymised export: aggregate counts only, small cells suppressed (see `suppress`)."""
    f = report.filter
    rows = [["bảng", "nhãn", "số lượng"],
            ["Khoảng thời gian", f"{f.start.isoformat()} đến {f.end.isoformat()}", ""]]
    for name, value in (("Lọc theo kênh", CHANNEL_LABELS.get(f.channel, "")),
                        ("Lọc theo mức nguy cơ", RISK_LABELS.get(f.risk, "")),
                        ("Lọc theo nhóm vấn đề", record.CATEGORIES.get(f.category, "")),
                        ("Lọc theo tỉnh, thành phố", provinces.BY_CODE[f.province].name if f.province else "")):
        if value:
            rows.append([name, value, ""])
    for section, cells, with_total in export_tables(report):
        shown, total = suppress([n for _, n in cells], sum(n for _, n in cells) if with_total else None)
        rows.extend([section, label, value] for (label, _), value in zip(cells, shown, strict=True))
        if total is not None:
            rows.append([section, "Tổng", total])
    for risk in RISKS:
        p = report.wait_by_risk.get(risk)
        if p is None:
            continue
        enough = p.count >= 5  # a percentile of fewer than five cases tells of single children
        rows.append(["Thời gian chờ tư vấn viên (giây), trung vị", RISK_LABELS[risk],
                     _seconds(p.p50) if enough else HIDDEN])
        rows.append(["Thời gian chờ tư vấn viên (giây), 90% ca chờ không quá", RISK_LABELS[risk],
                     _seconds(p.p90) if enough else HIDDEN])
    rows.append(["Chú thích", f"{SMALL}: từ 1 đến 4; {HIDDEN}: ẩn để không suy ra được các ô {SMALL}", ""])
    return rows


def _seconds(value: float | None) -> str:
    return "" if value is None else str(int(round(value)))


def bars(counts: Iterable[tuple[str, int]]) -> list[tuple[str, int, float]]:
    """(label, count, share of the largest) for a horizontal bar chart."""
    items = list(counts)
    top = max((n for _, n in items), default=0)
    return [(label, n, (n / top) if top else 0.0) for label, n in items]
