""""Xóa dữ liệu của em" asked during an open case: kept while the case is open, carried out
automatically once it closes (the real gateway app, its Handoff.close and its background job;
fake Rasa on loopback; Rasa's tracker database written by the encrypted tracker store)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.gateway.gateway_support import make_settings
from tests.privacy.privacy_support import tracker_senders
from sqlalchemy import func, select

from bot import transcript
from bot.app import create_app
from bot.cases import service
from bot.cases.models import Case, CaseEntry, CaseEvent, CaseStatus, Consent, Risk, Role, StaffUser
from bot.db import Database
from bot.models import Conversation, Message, utc_now
from bot.privacy import forget, retention
from bot.privacy.forget import KEPT
from bot.privacy.models import CaseCount
from bot.privacy.retention import Retention
from bot.privacy.stores import TrackerStore
from devtools.waiting import wait_for

DAY = timedelta(days=1)
DISCLOSURE = "chú em đánh em, số em là 0912345678"


@pytest.fixture
def world(tmp_path: Path, fake_rasa, make_tracker, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    # The background job looks often and the goodbye needs no time to arrive here.
    monkeypatch.setattr(retention, "PENDING_CHECK_SECONDS", 0.2)
    monkeypatch.setattr(forget, "CLOSE_GRACE", timedelta(seconds=1))
    child = secrets.token_urlsafe(18)
    tracker_path = make_tracker({f"web:{child}": utc_now().timestamp(),
                                 "web:someone-else-entirely": utc_now().timestamp()})
    settings = make_settings(tmp_path, fake_rasa.url, fake_rasa.token, RASA_TRACKER_URL=f"sqlite:///{tracker_path}")
    with TestClient(create_app(settings)) as client:
        database = Database.from_settings(settings)
        with database.session() as session:
            counsellor = StaffUser(username="lan", display_name="Lan", role=Role.COUNSELLOR, capacity=2,
                                   password_hash="x", active=True)
            session.add(counsellor)
            session.flush()
            staff_id = counsellor.id
        yield {"client": client, "child": child, "tracker": tracker_path, "db": database, "staff": staff_id,
               "app": client.app}
        database.dispose()


def _post(world: dict[str, Any], text: str) -> list[str]:
    response = world["client"].post(f"/api/webchat/{world['child']}/messages", json={"text": text})
    assert response.status_code == 200, response.text
    return [m["text"] for m in response.json()["messages"]]


def _open_and_take_case(world: dict[str, Any]) -> int:
    with world["db"].session() as session:
        conversation = transcript.find_conversation(session, "web", world["child"])
        case = service.open_case(session, conversation, service.HandoffRequest(Risk.HIGH, "abuse", Consent.GIVEN),
                                 "ref", out_of_hours=False).case
        case_id = case.id
    world["client"].portal.call(world["app"].state.handoff.take, case_id, world["staff"])
    return case_id


def _events(world: dict[str, Any], case_id: int) -> list[str]:
    with world["db"].session() as session:
        return list(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))


def test_a_request_during_a_case_is_carried_out_when_the_case_closes(world: dict[str, Any]) -> None:
    _post(world, DISCLOSURE)
    case_id = _open_and_take_case(world)
    sender = f"web:{world['child']}"

    # While the counsellor has the case: kept, and the child is told it will go by itself.
    assert _post(world, "xóa dữ liệu của em") == [KEPT]
    assert "em không cần nhắn lại" in KEPT
    time.sleep(1.5)  # several rounds of the background job: nothing happens to an open case
    with world["db"].session() as session:
        conversation = transcript.find_conversation(session, "web", world["child"])
        assert conversation is not None
        texts = session.scalars(select(Message.text).where(Message.conversation_id == conversation.id)).all()
        assert DISCLOSURE in texts
    assert sender in tracker_senders(world["tracker"])
    assert _events(world, case_id).count(service.FORGET_REQUESTED) == 1

    # Asking twice records it once.
    assert _post(world, "quên em đi") == [KEPT]
    assert _events(world, case_id).count(service.FORGET_REQUESTED) == 1

    # The counsellor closes the case (the real close: goodbye, Rasa resumed and checks in).
    world["client"].portal.call(world["app"].state.handoff.close, case_id, world["staff"], "supported")
    closed_event = _events(world, case_id)
    assert "closed" in closed_event

    # The background job carries the request out by itself: no message from the child needed.
    wait_for(lambda: service.FORGET_APPLIED in _events(world, case_id), "the request carried out", timeout=20)
    assert _events(world, case_id).count(service.FORGET_APPLIED) == 1
    assert tracker_senders(world["tracker"]) == {"web:someone-else-entirely"}
    with world["db"].session() as session:
        assert transcript.find_conversation(session, "web", world["child"]) is None
        case = session.get(Case, case_id)
        assert case is not None and case.status == CaseStatus.CLOSED
        kept = session.get(Conversation, case.conversation_id)
        assert kept is not None and kept.external_id.startswith("forgotten-")
        assert session.scalar(select(func.count()).select_from(Message)
                              .where(Message.conversation_id == kept.id)) == 0
        # The closed case's encrypted record stays, as the child was told (RETENTION_CASE_DAYS).
        entries = session.scalar(select(func.count()).select_from(CaseEntry).where(CaseEntry.case_id == case_id))
        assert entries and entries >= 2
        closed_detail = session.scalars(select(CaseEvent.detail).where(
            CaseEvent.case_id == case_id, CaseEvent.kind == "closed")).one()
        assert closed_detail.get("forget_pending") is True

    # The next message starts afresh, in a new conversation.
    _post(world, "xin chào")
    with world["db"].session() as session:
        fresh = transcript.find_conversation(session, "web", world["child"])
        assert fresh is not None and fresh.id != case.conversation_id

    # The closed case then follows its retention: kept for RETENTION_CASE_DAYS, then an anonymous count.
    keeper = Retention(world["db"], TrackerStore(f"sqlite:///{world['tracker']}"), conversation_days=30, case_days=365)
    keeper.purge(now=utc_now() + 31 * DAY)
    with world["db"].session() as session:
        assert session.get(Case, case_id) is not None
    keeper.purge(now=utc_now() + 366 * DAY)
    with world["db"].session() as session:
        assert session.get(Case, case_id) is None
        assert session.scalar(select(func.count()).select_from(CaseEntry)) == 0
        assert [(c.status, c.outcome, c.count) for c in session.scalars(select(CaseCount))] == [
            ("closed", "supported", 1)]
    keeper.dispose()


def test_nothing_is_carried_out_while_another_case_of_the_conversation_is_open(world: dict[str, Any]) -> None:
    _post(world, DISCLOSURE)
    first = _open_and_take_case(world)
    assert _post(world, "xóa dữ liệu của em") == [KEPT]
    with world["db"].session() as session:
        # The first case is closed by hand (no close flow) and a second one opened right away.
        case = session.get(Case, first)
        case.status, case.closed_at = CaseStatus.CLOSED, utc_now() - timedelta(minutes=5)
        conversation = session.get(Conversation, case.conversation_id)
        session.flush()
        second = service.open_case(session, conversation, service.HandoffRequest(Risk.CONCERN, "", Consent.GIVEN),
                                   "ref", out_of_hours=False).case.id
    assert forget.apply_pending(world["db"], TrackerStore(f"sqlite:///{world['tracker']}"),
                                now=utc_now() + timedelta(minutes=5)) == 0
    assert f"web:{world['child']}" in tracker_senders(world["tracker"])

    with world["db"].session() as session:
        case = session.get(Case, second)
        case.status, case.closed_at = CaseStatus.CLOSED, utc_now()
    later = utc_now() + timedelta(minutes=5)
    assert forget.apply_pending(world["db"], TrackerStore(f"sqlite:///{world['tracker']}"), now=later) == 1
    assert f"web:{world['child']}" not in tracker_senders(world["tracker"])
    assert forget.apply_pending(world["db"], TrackerStore(f"sqlite:///{world['tracker']}"), now=later) == 0


def test_the_grace_period_lets_the_goodbye_arrive_first(world: dict[str, Any]) -> None:
    _post(world, DISCLOSURE)
    case_id = _open_and_take_case(world)
    _post(world, "xóa dữ liệu của em")
    closed_at = utc_now()
    with world["db"].session() as session:
        case = session.get(Case, case_id)
        case.status, case.closed_at = CaseStatus.CLOSED, closed_at
    tracker = TrackerStore(f"sqlite:///{world['tracker']}")
    grace = timedelta(seconds=60)
    assert forget.apply_pending(world["db"], tracker, now=closed_at + timedelta(seconds=30), grace=grace) == 0
    assert forget.apply_pending(world["db"], tracker, now=closed_at + timedelta(seconds=61), grace=grace) == 1
    tracker.dispose()


def test_pending_requests_on_both_databases(database: Database, tmp_path: Path, make_tracker) -> None:  # type: ignore[no-untyped-def]
    """The queries of `apply_pending` on SQLite and PostgreSQL (row locks there), without the app."""
    now = utc_now()
    with database.session() as session:
        conversation = transcript.get_or_create_conversation(session, "zalo", "oa:4242")
        transcript.add_user_message(session, conversation, DISCLOSURE)
        case = service.open_case(session, conversation, service.HandoffRequest(Risk.HIGH, "abuse", Consent.GIVEN),
                                 "ref", out_of_hours=False, now=now).case
        service.request_forget(session, case, now)
        service.request_forget(session, case, now)
        case_id = case.id
    tracker = TrackerStore(f"sqlite:///{make_tracker({'zalo:oa:4242': now.timestamp()})}")
    assert forget.apply_pending(database, tracker, now=now + DAY) == 0  # still open

    with database.session() as session:
        case = session.get(Case, case_id)
        case.status, case.closed_at = CaseStatus.CLOSED, now
    assert forget.apply_pending(database, tracker, now=now + DAY) == 1
    assert forget.apply_pending(database, tracker, now=now + DAY) == 0
    with database.session() as session:
        kinds = session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)).all()
        assert kinds.count(service.FORGET_REQUESTED) == 1 and kinds.count(service.FORGET_APPLIED) == 1
        assert transcript.find_conversation(session, "zalo", "oa:4242") is None
        assert session.scalar(select(func.count()).select_from(Message)) == 0
    assert tracker.delete(["zalo:oa:4242"]) == 0  # already gone
    tracker.dispose()
