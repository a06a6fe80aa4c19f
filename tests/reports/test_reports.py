"""Reports (bot/cases/reports.py): the numbers equal a direct count on a seeded dataset, the
filters, the percentiles, and small-cell suppression of the export."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Iterator
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from bot.cases import record, reports
from bot.cases.crypto import Keyring
from bot.cases.feedback import ChildFeedback
from bot.cases.hours import VIETNAM
from bot.cases.models import Case, CaseEntry, CaseStatus, Consent, Risk, Role, StaffUser
from bot.db import Database, migrate
from bot.models import Conversation
from tests.shared_state.shared_state_support import (
    POSTGRES_ADMIN_URL,
    create_database,
    drop_database,
    postgres_available,
)
from tests.unavailable import unavailable

LIMITS = {"imminent": 120, "high": 600, "concern": 1800}
START = date(2026, 11, 1)
DAYS = 20
CHANNELS = ("web", "telegram", "zalo")
TRIAGE = ("physical_violence", "sexual_abuse", "bullying", "request", "suicide_plan", "grooming")
PROVINCE_CODES = ("79", "01", "48", "")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The same numbers on both databases: PostgreSQL computes the percentiles itself."""
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        if not postgres_available(POSTGRES_ADMIN_URL):
            unavailable(f"PostgreSQL is not running at {POSTGRES_ADMIN_URL} (set TEST_POSTGRES_URL)")
        name = f"test_reports_{uuid.uuid4().hex[:10]}"
        url = create_database(name)
    db = Database(url, Keyring([Fernet.generate_key().decode()]))
    migrate(db)
    yield db
    db.dispose()
    if name is not None:
        drop_database(name)


def seed(database: Database, cases: int = 400, seed_value: int = 15) -> list[dict]:
    """Conversations, cases (some taken, some with a record), counsellor messages, feedback.
    Returns what was written, as plain dicts, for the direct count."""
    rng = random.Random(seed_value)
    written: list[dict] = []
    with database.session() as session:
        lan = StaffUser(username="lan", display_name="Lan", role=Role.COUNSELLOR, password_hash="x")
        session.add(lan)
        session.flush()
        for i in range(cases):
            day = START + timedelta(days=rng.randrange(DAYS + 4) - 2)  # some fall outside the period
            created = datetime(day.year, day.month, day.day, rng.randrange(24), rng.randrange(60),
                               tzinfo=VIETNAM).astimezone(UTC)
            channel = rng.choice(CHANNELS)
            conversation = Conversation(channel=channel, external_id=f"c{i:05d}xxxxxxxxxxxx", created_at=created,
                                        last_activity=created)
            session.add(conversation)
            session.flush()
            risk = rng.choice(list(Risk))
            taken = rng.random() < 0.7
            waited = rng.randrange(5, 3000)
            status = CaseStatus.CLOSED if rng.random() < 0.8 else (CaseStatus.ACTIVE if taken else CaseStatus.WAITING)
            triage = rng.choice(TRIAGE)
            case = Case(conversation_id=conversation.id, channel=channel, user_ref=f"u{i}", risk=risk,
                        priority=risk.priority, category=triage, consent=Consent.GIVEN, status=status,
                        created_at=created, updated_at=created, waiting_since=created,
                        taken_at=created + timedelta(seconds=waited) if taken else None,
                        closed_at=created + timedelta(hours=1) if status == CaseStatus.CLOSED else None,
                        outcome=rng.choice(["supported", "referred", "child_left"]) if status == CaseStatus.CLOSED
                        else None, assigned_to_id=lan.id if taken else None)
            session.add(case)
            session.flush()
            first_reply = None
            if taken:
                first_reply = created + timedelta(seconds=waited + rng.randrange(1, 120))
                session.add(CaseEntry(case_id=case.id, sender="counsellor", body="x", created_at=first_reply))
                session.add(CaseEntry(case_id=case.id, sender="counsellor", body="x",
                                      created_at=first_reply + timedelta(seconds=30)))
            row = {"day": day, "channel": channel, "risk": risk.value, "taken": taken, "waited": waited,
                   "status": status.value, "outcome": case.outcome or "", "first_reply": first_reply,
                   "created": created, "record": None, "categories": record.suggested_categories(triage),
                   "province": "", "triage": triage}
            if rng.random() < 0.6:
                categories = rng.sample(list(record.CATEGORIES), rng.randrange(0, 3))
                province = rng.choice(PROVINCE_CODES)
                judged = rng.choice(["", "none", "concern", "high", "imminent"])
                session.add(record.CaseRecord(case_id=case.id, bot_categories=record.suggested_categories(triage),
                                              categories=sorted(categories, key=list(record.CATEGORIES).index),
                                              province=province, age_band=rng.choice(["", "11_14", "15_17"]),
                                              gender="", contact="child", referrals=["school"] if i % 5 == 0 else [],
                                              counsellor_risk=judged, created_at=created, updated_at=created))
                row.update(record=True, categories=categories, province=province, judged=judged)
            written.append(row)
        # Conversations without a case, and feedback answers.
        for i in range(150):
            day = START + timedelta(days=rng.randrange(DAYS))
            at = datetime(day.year, day.month, day.day, 12, tzinfo=VIETNAM).astimezone(UTC)
            session.add(Conversation(channel=rng.choice(CHANNELS), external_id=f"n{i:05d}xxxxxxxxxxxx",
                                     created_at=at, last_activity=at))
        for i in range(60):
            session.add(ChildFeedback(answered_on=START + timedelta(days=i % (DAYS + 3)), channel=CHANNELS[i % 3],
                                      counsellor_id=lan.id, answer=("yes", "yes", "neutral", "no")[i % 4]))
    return written


def in_period(row: dict, start: date = START, end: date = START + timedelta(days=DAYS - 1)) -> bool:
    return start <= row["day"] <= end


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = -(-q * len(ordered) // 1) - 1  # ceil(q * n) - 1
    return ordered[int(index)]


def test_the_numbers_equal_a_direct_count(database: Database) -> None:
    written = seed(database)
    flt = reports.ReportFilter(START, START + timedelta(days=DAYS - 1))
    with database.session() as session:
        report = reports.build(session, flt, LIMITS)
        direct_conversations = session.scalar(select(func.count()).select_from(Conversation).where(
            Conversation.created_at >= flt.since, Conversation.created_at < flt.until))
        direct_cases = session.scalar(select(func.count()).select_from(Case).where(
            Case.created_at >= flt.since, Case.created_at < flt.until))

    rows = [r for r in written if in_period(r)]
    assert report.conversations == direct_conversations == sum(sum(d.values()) for d in report.conversations_by_day.values())
    assert report.cases == direct_cases == len(rows)
    assert report.by_risk == {k: sum(r["risk"] == k for r in rows) for k in reports.RISKS}
    assert report.by_province == dict(Counter(r["province"] for r in rows))
    expected_categories = Counter(c for r in rows for c in (r["categories"] or [""]))
    assert report.by_category == dict(expected_categories)
    assert report.outcomes == dict(Counter(r["outcome"] for r in rows))
    assert report.referrals == dict(Counter(
        "school" for r in rows if r["record"] and written.index(r) % 5 == 0))
    assert report.records == sum(bool(r["record"]) for r in rows)
    waits = [r["waited"] for r in rows if r["taken"]]
    assert (report.wait.count, report.wait.p50, report.wait.p90) == (len(waits), nearest_rank(waits, .5),
                                                                      nearest_rank(waits, .9))
    for risk in reports.RISKS:
        risk_waits = [r["waited"] for r in rows if r["taken"] and r["risk"] == risk]
        assert report.wait_by_risk[risk].p90 == nearest_rank(risk_waits, .9)
        assert report.over_limit_by_risk[risk] == sum(w > LIMITS[risk] for w in risk_waits)
        assert report.left_by_risk[risk] == sum(r["risk"] == risk and r["status"] == "closed" and not r["taken"]
                                                for r in rows)
    replies = [(r["first_reply"] - r["created"]).total_seconds() for r in rows if r["first_reply"]]
    assert report.first_reply.p50 == nearest_rank(replies, .5)
    higher = sum(r["risk"] == "high" and r.get("judged") == "imminent" for r in rows)
    assert report.triage_risk["high"]["higher"] == higher
    same = sum(r["risk"] == "concern" and r.get("judged") == "concern" for r in rows)
    assert report.triage_risk["concern"]["same"] == same
    answers = [("yes", "yes", "neutral", "no")[i % 4] for i in range(60) if i % (DAYS + 3) < DAYS]
    assert report.feedback == {k: answers.count(k) for k in ("yes", "neutral", "no")}


@pytest.mark.parametrize("field,value", [("channel", "zalo"), ("risk", "imminent"), ("category", "sexual_abuse"),
                                         ("province", "79")])
def test_each_filter_counts_only_its_cases(database: Database, field: str, value: str) -> None:
    written = seed(database)
    flt = reports.ReportFilter(START, START + timedelta(days=DAYS - 1), **{field: value})
    with database.session() as session:
        report = reports.build(session, flt, LIMITS)
    key = {"category": "categories"}.get(field, field)
    rows = [r for r in written if in_period(r) and (value in r[key] if key == "categories" else r[key] == value)]
    assert rows and report.cases == len(rows)
    assert sum(report.by_risk.values()) == len(rows)


def test_days_are_viet_nam_days(database: Database) -> None:
    with database.session() as session:
        # 23:30 on 30/11 in UTC is 06:30 on 1/12 in Viet Nam.
        at = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
        session.add(Conversation(channel="web", external_id="a" * 20, created_at=at, last_activity=at))
    with database.session() as session:
        report = reports.build(session, reports.ReportFilter(date(2026, 12, 1), date(2026, 12, 1)), LIMITS)
    assert report.conversations_by_day == {date(2026, 12, 1): {"web": 1}}


def test_the_filter_is_checked() -> None:
    today = date(2026, 12, 7)
    default = reports.ReportFilter.parse(None, None, today=today)
    assert (default.start, default.end) == (date(2026, 11, 8), today)
    for start, end, extra in [("2026-12-07", "2026-12-01", {}), ("07/12/2026", None, {}),
                              ("2024-01-01", "2026-12-01", {}), (None, None, {"risk": "none"}),
                              (None, None, {"province": "Bình Dương"})]:
        with pytest.raises(reports.FilterError):
            reports.ReportFilter.parse(start, end, today=today, **extra)


# ---- suppression ---------------------------------------------------------------------------------


def test_small_counts_are_shown_as_less_than_five() -> None:
    assert reports.suppress([10, 3, 0, 7], None) == (["10", "<5", "0", "7"], None)
    assert reports.suppress([2, 1], 3) == (["<5", "<5"], "<5")


def test_a_single_hidden_cell_is_not_given_away_by_the_total() -> None:
    shown, total = reports.suppress([20, 3, 9, 40], 72)
    assert shown == ["20", "<5", "x", "40"] and total == "72"


def test_the_second_cell_is_hidden_until_the_small_one_cannot_be_worked_out() -> None:
    # 1 + 5 = 6: "<5" + "x" (5 or more) leaves only 1 + 5; the next cell must go too.
    shown, total = reports.suppress([1, 5, 6, 30], 42)
    assert shown.count("40") == 0 and shown[0] == "<5" and shown[1] == "x" and shown[2] == "x" and total == "42"
    # Two small cells adding up to 2 are both 1: a larger cell is hidden as well.
    shown, _ = reports.suppress([1, 1, 8, 30], 40)
    assert shown[:3] == ["<5", "<5", "x"] and shown[3] == "30"
    # No larger cell to hide: every cell is hidden and only the total is shown.
    assert reports.suppress([4, 4], 8) == (["x", "x"], "8")


@pytest.mark.parametrize("cells", [list(c) for c in itertools.product((0, 1, 2, 4, 5, 6, 12), repeat=3)])
def test_no_hidden_small_cell_can_be_worked_out_from_the_total(cells: list[int]) -> None:
    """Brute force: knowing the total, the cells shown, that "<5" is 1 to 4 and that "x" is 5 or
    more (or anything, when every cell is hidden), no "<5" cell is pinned down."""
    total = sum(cells)
    shown, total_shown = reports.suppress(cells, total)
    assert total_shown == ("<5" if 1 <= total <= 4 else str(total))
    every_cell_hidden = all(value == "x" for value in shown)

    def possible(value: str, n: int) -> bool:
        if value == "<5":
            return 1 <= n <= 4
        if value == "x":
            return every_cell_hidden or n >= 5
        return n == int(value)

    for i, value in enumerate(shown):
        if 1 <= cells[i] <= 4 and total_shown != "<5":
            assert value in ("<5", "x")
            candidates = {other[i] for other in itertools.product(range(0, total + 1), repeat=len(cells))
                          if sum(other) == total and all(possible(v, n) for v, n in zip(shown, other))}
            assert len(candidates) > 1, (cells, shown, candidates)


def test_the_export_has_no_count_below_five_and_no_text(database: Database) -> None:
    seed(database, cases=60)
    with database.session() as session:
        report = reports.build(session, reports.ReportFilter(START, START + timedelta(days=DAYS - 1)), LIMITS)
    rows = reports.export_rows(report)
    for section, label, value in rows[1:]:
        assert value in ("", "<5", "x") or value.isdigit(), (section, label, value)
        if value.isdigit() and "giây" not in section:
            assert not 1 <= int(value) <= 4, (section, label, value)
    assert not any(value for _, _, value in rows if "c0" in value)


def test_revision_0005_upgrades_downgrades_and_upgrades_again(database: Database) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from bot.db import alembic_config

    with database.engine.begin() as connection:
        config = alembic_config(database.url)
        config.attributes["connection"] = connection
        config.attributes["keyring"] = database.keyring
        command.downgrade(config, "0004")
    tables = set(inspect(database.engine).get_table_names())
    assert not {"case_records", "child_feedback", "feedback_prompts"} & tables
    migrate(database)
    tables = set(inspect(database.engine).get_table_names())
    assert {"case_records", "child_feedback", "feedback_prompts"} <= tables
    indexes = {i["name"] for i in inspect(database.engine).get_indexes("case_entries")}
    assert "ix_case_entries_first_reply" in indexes
