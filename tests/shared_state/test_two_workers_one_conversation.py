"""Two gateway workers, one conversation: turns one after the other, and take waits for a turn.

Two apps (two workers as far as shared state goes: their own event loops, Redis
connections and database pools) on one PostgreSQL database and one Redis, in front
of one fake Rasa whose replies the test holds back to keep a turn in flight.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from devtools.fake_rasa import FakeRasa
from fastapi.testclient import TestClient

from bot import transcript
from bot.app import create_app
from bot.cases import service
from bot.cases.models import Consent, Risk, Role, StaffUser
from bot.db import Database
from bot.models import Message, Sender
from bot.settings import Settings, load_settings


class HeldRasa(FakeRasa):
    """Messages starting with "chậm" wait until `release` is set; counts turns in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self._count = threading.Lock()
        self.reply = self._reply

    def _reply(self, sender: str, text: str) -> list[dict[str, Any]]:
        with self._count:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if text.startswith("chậm"):
                self.release.wait(timeout=15)
            return [{"recipient_id": sender, "text": f"Mình nghe em nói: {text}"}]
        finally:
            with self._count:
                self.in_flight -= 1

    def wait_for_calls(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.webhook_calls) < count:
            assert time.monotonic() < deadline, f"Rasa got {len(self.webhook_calls)} calls, expected {count}"
            time.sleep(0.01)


@pytest.fixture
def rasa() -> Iterator[HeldRasa]:
    with HeldRasa() as fake:
        yield fake
        fake.release.set()


@pytest.fixture
def settings(tmp_path: Path, rasa: HeldRasa, redis_url: str, redis_prefix: str, postgres_database: str) -> Settings:
    return load_settings({
        "DATA_DIR": str(tmp_path), "RASA_URL": rasa.url, "RASA_TOKEN": rasa.token,
        "APP_DATABASE_URL": postgres_database, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": redis_prefix,
        "STAFFED_HOURS": "always",
    })


@pytest.fixture
def workers(settings: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        yield a, b


def post(worker: TestClient, conversation: str, text: str) -> list[dict[str, Any]]:
    response = worker.post(f"/api/webchat/{conversation}/messages", json={"text": text})
    assert response.status_code == 200, response.text
    return response.json()["messages"]  # type: ignore[no-any-return]


def in_thread(work: Any) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def target() -> None:
        result["value"] = work()
        result["done_at"] = time.monotonic()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


def test_two_messages_of_one_conversation_on_two_workers_are_handled_in_turn(
    workers: tuple[TestClient, TestClient], rasa: HeldRasa,
) -> None:
    worker_a, worker_b = workers
    conversation = secrets.token_urlsafe(16)
    first, first_result = in_thread(lambda: post(worker_a, conversation, "chậm một"))
    rasa.wait_for_calls(1)
    second, second_result = in_thread(lambda: post(worker_b, conversation, "hai"))
    time.sleep(0.5)
    assert len(rasa.webhook_calls) == 1  # worker B waits for A's turn instead of asking Rasa now
    rasa.release.set()
    first.join(10)
    second.join(10)

    assert rasa.most_in_flight == 1
    assert rasa.texts_received() == ["chậm một", "hai"]
    assert [m["text"] for m in first_result["value"]] == ["Mình nghe em nói: chậm một"]
    assert [m["text"] for m in second_result["value"]] == ["Mình nghe em nói: hai"]
    polled = worker_b.get(f"/api/webchat/{conversation}/messages").json()["messages"]
    assert [m["text"] for m in polled] == ["Mình nghe em nói: chậm một", "Mình nghe em nói: hai"]


def test_take_on_one_worker_waits_for_the_turn_in_flight_on_the_other(
    workers: tuple[TestClient, TestClient], rasa: HeldRasa, settings: Settings,
) -> None:
    worker_a, worker_b = workers
    conversation = secrets.token_urlsafe(16)
    case_id, staff_id = _waiting_case(settings, conversation)

    turn, turn_result = in_thread(lambda: post(worker_a, conversation, "chậm: em sợ lắm"))
    rasa.wait_for_calls(1)
    handoff = worker_b.app.state.handoff  # type: ignore[attr-defined]
    take, take_result = in_thread(lambda: worker_b.portal.call(handoff.take, case_id, staff_id))  # type: ignore[union-attr]
    time.sleep(0.5)
    assert take.is_alive()  # the counsellor's take waits while Rasa is answering
    rasa.release.set()
    turn.join(10)
    take.join(10)

    assert take_result["done_at"] >= turn_result["done_at"]
    senders = _senders_in_order(settings, conversation)
    # The bot's reply came before the counsellor joined, never after.
    assert senders[-2:] == [Sender.BOT, Sender.SYSTEM]
    # From now on, on every worker, nothing reaches Rasa and the bot says nothing.
    calls = len(rasa.webhook_calls)
    assert post(worker_a, conversation, "cô ơi") == [] and post(worker_b, conversation, "cô ơi") == []
    assert len(rasa.webhook_calls) == calls
    assert _senders_in_order(settings, conversation)[-2:] == [Sender.USER, Sender.USER]


def _waiting_case(settings: Settings, conversation: str) -> tuple[int, int]:
    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            staff = StaffUser(username=f"lan-{secrets.token_hex(4)}", display_name="Cô Lan",
                              role=Role.COUNSELLOR, capacity=2, password_hash="x", active=True)
            session.add(staff)
            talk = transcript.get_or_create_conversation(session, "web", conversation)
            opened = service.open_case(session, talk, service.HandoffRequest(Risk.HIGH, "abuse", Consent.GIVEN),
                                       "ref", out_of_hours=False)
            session.flush()
            return opened.case.id, staff.id
    finally:
        database.dispose()


def _senders_in_order(settings: Settings, conversation: str) -> list[Sender]:
    from sqlalchemy import select

    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            talk = transcript.find_conversation(session, "web", conversation)
            assert talk is not None
            return list(session.scalars(
                select(Message.sender).where(Message.conversation_id == talk.id).order_by(Message.id)
            ))
    finally:
        database.dispose()
