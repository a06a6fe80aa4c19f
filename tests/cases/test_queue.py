"""The queue: by risk, then by waiting time; overdue cases by their own limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.cases.case_support import case

from bot.cases import service
from bot.cases.models import Risk
from bot.db import Database
from bot.models import as_utc

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
LIMITS = {Risk.IMMINENT: 120, Risk.HIGH: 600, Risk.CONCERN: 1800}


def test_higher_risk_first_then_longest_waiting(database: Database) -> None:
    with database.session() as session:
        case(session, "a" * 16, Risk.CONCERN, now=T0)
        case(session, "b" * 16, Risk.HIGH, now=T0 + timedelta(minutes=2))
        case(session, "c" * 16, Risk.IMMINENT, now=T0 + timedelta(minutes=5))
        case(session, "d" * 16, Risk.HIGH, now=T0 + timedelta(minutes=1))

        order = [(c.risk.value, as_utc(c.waiting_since).minute) for c in service.queue(session)]
        late = service.queue(session)[-1]
        assert service.ahead_in_queue(session, late) == 3

    assert order == [("imminent", 5), ("high", 1), ("high", 2), ("concern", 0)]


def test_overdue_uses_each_risks_limit_and_restarts_after_an_alert(database: Database) -> None:
    with database.session() as session:
        imminent = case(session, "a" * 16, Risk.IMMINENT, now=T0)
        high = case(session, "b" * 16, Risk.HIGH, now=T0)

        at_3_min = T0 + timedelta(minutes=3)
        assert [c.id for c in service.overdue(session, LIMITS, at_3_min)] == [imminent.id]
        service.mark_alerted(session, imminent, at_3_min)
        assert service.overdue(session, LIMITS, at_3_min + timedelta(seconds=30)) == []
        at_11_min = T0 + timedelta(minutes=11)
        assert {c.id for c in service.overdue(session, LIMITS, at_11_min)} == {imminent.id, high.id}
        assert imminent.alerts_sent == 1
