"""The gateway's background work with two workers on one PostgreSQL database:
each channel update and outgoing message is claimed once, a late case is announced
once, and a closed case is counted once by retention."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from devtools.fake_rasa import FakeRasa
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot import inbox, transcript
from bot.app import create_app
from bot.cases import service
from bot.cases.models import Case, Consent, Risk
from bot.db import Database
from bot.models import Message, Sender, utc_now
from bot.privacy.models import CaseCount
from bot.settings import Settings, load_settings


def _together(*works: Any) -> list[Any]:
    barrier = threading.Barrier(len(works))
    results: list[Any] = [None] * len(works)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = works[index]()
        except Exception as error:  # noqa: BLE001 - asserted by the caller
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, redis_prefix: str, fresh_postgres_database: str) -> Iterator[Settings]:
    with FakeRasa() as rasa:
        yield load_settings({
            "DATA_DIR": str(tmp_path), "RASA_URL": rasa.url, "RASA_TOKEN": rasa.token,
            "APP_DATABASE_URL": fresh_postgres_database, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": redis_prefix,
            "STAFFED_HOURS": "always", "WAIT_LIMIT_HIGH_SECONDS": "60",
        })


@pytest.fixture
def workers(settings: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        yield a, b


@pytest.fixture
def database(settings: Settings, workers: tuple[TestClient, TestClient]) -> Iterator[Database]:
    db = Database.from_settings(settings)  # the workers have migrated it
    yield db
    db.dispose()


def test_channel_updates_are_claimed_once_by_two_workers(database: Database) -> None:
    with database.session() as session:
        for i in range(60):
            inbox.accept(session, "telegram", f"update-{i}", f"chat-{i % 20}", {"n": i})

    def claim_all() -> list[int]:
        claimed: list[int] = []
        for _ in range(10):
            with database.session() as session:
                batch = inbox.claim_due(session, timedelta(seconds=60), set())
                claimed += [u.id for u in batch]
                for update in batch:
                    inbox.finish(session, update.id)
        return claimed

    first, second = _together(claim_all, claim_all)
    assert not isinstance(first, Exception) and not isinstance(second, Exception)
    assert not set(first) & set(second)  # nobody handles an update twice
    assert len(first) + len(second) == 60


def test_a_late_case_is_announced_once_when_both_workers_watch(
    workers: tuple[TestClient, TestClient], database: Database,
) -> None:
    conversation = secrets.token_urlsafe(12)
    with database.session() as session:
        talk = transcript.get_or_create_conversation(session, "web", conversation)
        case_id = service.open_case(session, talk, service.HandoffRequest(Risk.HIGH, "abuse", Consent.GIVEN),
                                    "ref", out_of_hours=False).case.id
    later = utc_now() + timedelta(minutes=5)

    def watch(worker: TestClient) -> Any:
        return lambda: worker.portal.call(worker.app.state.handoff.check_waiting, later)  # type: ignore[union-attr]

    results = _together(watch(workers[0]), watch(workers[1]))

    assert sorted(map(len, results)) == [0, 1]  # one worker found it late, the other found it done
    with database.session() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.alerts_sent == 1
        told = session.scalar(select(func.count()).select_from(Message).where(
            Message.conversation_id == case.conversation_id, Message.sender == Sender.SYSTEM))
        assert told == 1  # the child hears "still waiting" once


def test_retention_counts_a_closed_case_once_when_both_workers_purge(
    workers: tuple[TestClient, TestClient], database: Database,
) -> None:
    category = f"test-{secrets.token_hex(4)}"
    with database.session() as session:
        talk = transcript.get_or_create_conversation(session, "web", secrets.token_urlsafe(12))
        service.open_case(session, talk, service.HandoffRequest(Risk.HIGH, category, Consent.DECLINED),
                          "ref", out_of_hours=False)
    much_later = utc_now() + timedelta(days=800)

    results = _together(*(lambda w=w: w.app.state.retention.purge(much_later) for w in workers))  # type: ignore[attr-defined]

    assert not [r for r in results if isinstance(r, Exception)], results
    with database.session() as session:
        counted = session.scalars(select(CaseCount.count).where(CaseCount.category == category)).all()
    assert counted == [1]
