"""The retention job purges every store: fast-forward the clock and look in each one.

Rasa's tracker database is written by Rasa 3.6's own SQLTrackerStore (engine env).
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from tests.privacy.privacy_support import tracker_payloads, tracker_senders
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot import inbox, transcript
from bot.cases import service
from bot.cases.models import Case, CaseEntry, CaseEvent, CaseStatus, Consent, Risk
from bot.channels import message_refs
from bot.channels.zalo_windows import ZaloWindow
from bot.db import Database
from bot.messages import BotReply, Button
from bot.models import Conversation, Message, OfferedButton, Sender, utc_now
from bot.outbox import OutboxItem
from bot.privacy.models import CaseCount
from bot.privacy.retention import Retention
from bot.privacy.stores import TrackerStore

DAY = timedelta(days=1)


def _conversation(session: Session, channel: str, external_id: str, at) -> Conversation:  # type: ignore[no-untyped-def]
    conversation = transcript.get_or_create_conversation(session, channel, external_id)
    transcript.add_user_message(session, conversation, "số em là 0912345678")
    transcript.add_replies(session, conversation, [BotReply("Chào em", (Button("Có", "/affirm"),))], Sender.BOT)
    session.add(OutboxItem(channel=channel, external_id=external_id, text="Chào em", status="sent",
                           created_at=at, next_attempt_at=at))
    message_refs.remember(session, channel, external_id, "77", at=at)
    session.add(ZaloWindow(conversation_id=conversation.id))
    inbox.accept(session, f"{channel}:bot", f"u-{external_id}", external_id, {"text": "x"})
    session.flush()
    session.execute(update(inbox.InboundUpdate).where(inbox.InboundUpdate.conversation_key == external_id)
                    .values(status=inbox.DONE, payload=None, received_at=at))
    session.execute(update(Conversation).where(Conversation.id == conversation.id).values(last_activity=at))
    session.execute(update(Message).where(Message.conversation_id == conversation.id).values(created_at=at))
    return conversation


def _case(session: Session, conversation: Conversation, at, status: CaseStatus) -> Case:  # type: ignore[no-untyped-def]
    opened = service.open_case(session, conversation, service.HandoffRequest(Risk.HIGH, "abuse", Consent.GIVEN),
                               "ref", out_of_hours=False, now=at)
    case = opened.case
    session.add(CaseEntry(case_id=case.id, sender="user", body="gAAAA-encrypted", created_at=at))
    if status is CaseStatus.CLOSED:
        case.status, case.closed_at, case.updated_at, case.outcome = status, at, at, "referred"
    session.flush()
    return case


def _rows(session: Session, model, **where) -> int:  # type: ignore[no-untyped-def]
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return int(session.scalar(query) or 0)


def _held(session: Session, channel: str, external_id: str) -> dict[str, int]:
    """Rows every app-database store holds for one conversation."""
    conversation = transcript.find_conversation(session, channel, external_id)
    cid = conversation.id if conversation else -1
    return {
        "conversations": int(conversation is not None),
        "messages": _rows(session, Message, conversation_id=cid),
        "offered_buttons": _rows(session, OfferedButton, conversation_id=cid),
        "zalo_windows": _rows(session, ZaloWindow, conversation_id=cid),
        "outbox": _rows(session, OutboxItem, channel=channel, external_id=external_id),
        "message_refs": _rows(session, message_refs.MessageRef, channel=channel, external_id=external_id),
        "inbound_updates": _rows(session, inbox.InboundUpdate, conversation_key=external_id),
        "cases": _rows(session, Case, conversation_id=cid),
    }


def test_every_store_is_purged_when_the_clock_runs_on(database: Database, make_tracker) -> None:  # type: ignore[no-untyped-def]
    t0 = utc_now()
    with database.session() as session:
        _conversation(session, "web", "old-no-case-aaaaaaaa", t0)
        _conversation(session, "telegram", "424242", t0 + 25 * DAY)  # still talking later on
        closed = _conversation(session, "web", "closed-case-bbbbbbbb", t0)
        _case(session, closed, t0, CaseStatus.CLOSED)
        waiting = _conversation(session, "zalo", "oa:77", t0)
        _case(session, waiting, t0, CaseStatus.WAITING)
    tracker_path: Path = make_tracker({
        "web:old-no-case-aaaaaaaa": t0.timestamp(),
        "telegram:424242": (t0 + 25 * DAY).timestamp(),
        "web:closed-case-bbbbbbbb": t0.timestamp(),
        "zalo:oa:77": t0.timestamp(),
        "web:orphan-only-in-rasa": t0.timestamp(),  # the app row went first, or never existed
    })
    # Rasa's store encrypts what was said; the retention job works on the clear columns only.
    assert not [p for p in tracker_payloads(tracker_path) if "0912345678" in p or not p.startswith("gAAAAA")]
    retention = Retention(database, TrackerStore(f"sqlite:///{tracker_path}"), conversation_days=30, case_days=365)

    # Nothing is old yet: nothing goes.
    report = retention.purge(now=t0 + DAY)
    assert report.conversations == 0 and report.tracker_events == 0
    assert len(tracker_senders(tracker_path)) == 5

    # 31 days on: the conversation without a case is gone from every store, and Rasa's orphan too.
    report = retention.purge(now=t0 + 31 * DAY)
    with database.session() as session:
        assert _held(session, "web", "old-no-case-aaaaaaaa") == dict.fromkeys(_held(session, "web", "x"), 0)
        assert _held(session, "telegram", "424242")["messages"] == 2
        assert _held(session, "web", "closed-case-bbbbbbbb")["cases"] == 1  # kept with its case
        assert _held(session, "zalo", "oa:77")["messages"] == 2
        # sent outbox rows (7 days), handled webhook ids (14 days), message refs (48 h) expired everywhere
        assert _rows(session, OutboxItem, channel="zalo") == 0
        assert _rows(session, inbox.InboundUpdate, conversation_key="oa:77") == 0
        assert _rows(session, message_refs.MessageRef, channel="zalo") == 0
    assert tracker_senders(tracker_path) == {"telegram:424242", "zalo:oa:77"}
    assert report.conversations == 1 and report.tracker_events == 9  # 3 senders x 3 events

    # 366 days after the case closed: the case is one anonymous count; the open case stays whatever its age.
    report = retention.purge(now=t0 + 366 * DAY)
    with database.session() as session:
        assert _held(session, "web", "closed-case-bbbbbbbb") == dict.fromkeys(_held(session, "web", "x"), 0)
        assert _held(session, "telegram", "424242")["conversations"] == 0
        counts = session.scalars(select(CaseCount)).all()
        assert [(c.risk, c.category, c.status, c.outcome, c.count) for c in counts] == [
            ("high", "abuse", "closed", "referred", 1)]
        assert _rows(session, CaseEntry) == 1  # only the open case's transcript
        assert _rows(session, CaseEvent) >= 1
        still = _held(session, "zalo", "oa:77")
        assert still["conversations"] == 1 and still["messages"] == 2 and still["cases"] == 1
    assert tracker_senders(tracker_path) == {"zalo:oa:77"}
    assert report.cases_counted == 1 and report.conversations == 2
    retention.dispose()


def test_no_tracker_database_yet_is_not_an_error(database: Database, tmp_path: Path) -> None:
    missing = tmp_path / "not-created-by-rasa-yet.db"
    retention = Retention(database, TrackerStore(f"sqlite:///{missing}"), conversation_days=1, case_days=1)
    assert retention.purge(now=utc_now() + 400 * DAY).tracker_events == 0
    assert not missing.exists()  # we never create Rasa's database


def test_the_gateway_runs_the_job_in_the_background(tmp_path: Path, fake_rasa, make_tracker) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient
    from tests.gateway.gateway_support import make_settings

    from bot.app import create_app

    long_ago = utc_now() - 40 * DAY
    tracker_path = make_tracker({"web:forgotten-by-time-cccc": long_ago.timestamp()})
    settings = make_settings(tmp_path, fake_rasa.url, fake_rasa.token, RETENTION_CHECK_SECONDS="1",
                             RASA_TRACKER_URL=f"sqlite:///{tracker_path}")
    database = Database.from_settings(settings)
    from bot.db import migrate

    migrate(database)
    with database.session() as session:
        _conversation(session, "web", "forgotten-by-time-cccc", long_ago)
    with TestClient(create_app(settings)):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with database.session() as session:
                if transcript.find_conversation(session, "web", "forgotten-by-time-cccc") is None:
                    break
            time.sleep(0.2)
    with database.session() as session:
        assert transcript.find_conversation(session, "web", "forgotten-by-time-cccc") is None
    assert tracker_senders(tracker_path) == set()
    database.dispose()
