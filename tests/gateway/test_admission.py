"""Admission control (bot/admission.py) through the real app: a slow or overloaded Rasa
costs the child seconds, not half a minute, and the message is still answered."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import replies
from bot.app import create_app
from bot.cases.models import Case
from bot.db import Database
from bot.models import Conversation
from bot.settings import Settings
from devtools.fake_rasa import FakeRasa, default_reply
from devtools.waiting import wait_for
from tests.gateway.gateway_support import make_settings

DISCLOSURE = "bo em danh em"


class GatedRasa:
    """The fake Rasa's replies wait for `gate`; counts the calls it works on at once."""

    def __init__(self, fake: FakeRasa) -> None:
        self.gate = threading.Event()
        self.working = 0
        self.most_at_once = 0
        self._lock = threading.Lock()
        fake.reply = self.reply

    def reply(self, sender: str, text: str) -> list[dict[str, Any]]:
        with self._lock:
            self.working += 1
            self.most_at_once = max(self.most_at_once, self.working)
        try:
            self.gate.wait(30)
        finally:
            with self._lock:
                self.working -= 1
        if text == DISCLOSURE:
            return [{"recipient_id": sender, "text": "Cảm ơn em đã kể cho mình."},
                    {"recipient_id": sender, "custom": {"handoff": {"risk": "high", "category": "physical_violence",
                                                                    "consent": "given"}}}]
        return default_reply(sender, text)


@pytest.fixture
def gated(fake_rasa: FakeRasa) -> Iterator[GatedRasa]:
    gated = GatedRasa(fake_rasa)
    yield gated
    gated.gate.set()  # let the fake's threads go


def app_settings(tmp_path: Path, fake_rasa: FakeRasa, **extra: str) -> Settings:
    return make_settings(tmp_path, fake_rasa.url, fake_rasa.token, STAFFED_HOURS="always", **extra)


def say(client: TestClient, conversation: str, text: str) -> tuple[list[dict[str, Any]], float]:
    started = time.monotonic()
    response = client.post(f"/api/webchat/{conversation}/messages", json={"text": text})
    assert response.status_code == 200, response.text
    return response.json()["messages"], time.monotonic() - started


def bot_replies(client: TestClient, conversation: str) -> list[str]:
    messages = client.get(f"/api/webchat/{conversation}/messages").json()["messages"]
    return [m["text"] for m in messages if m["sender"] == "bot"]


def test_a_slow_rasa_gets_the_child_the_busy_reply_with_111_within_five_seconds_and_the_answer_later(
        tmp_path: Path, fake_rasa: FakeRasa, gated: GatedRasa) -> None:
    settings = app_settings(tmp_path, fake_rasa)  # the default deadline
    with TestClient(create_app(settings)) as client:
        said, seconds = say(client, "slowrasa-child-aaaaaaaa", "em buồn quá")

        assert seconds < 5
        assert [(m["sender"], m["text"]) for m in said] == [("system", replies.RASA_BUSY)]
        assert "111" in replies.RASA_BUSY
        gated.gate.set()
        assert wait_for(lambda: bot_replies(client, "slowrasa-child-aaaaaaaa"), "the late answer", timeout=20) \
            == ["Mình nghe em nói: em buồn quá"]
    assert len(fake_rasa.webhook_calls) == 1  # kept and answered once, not sent again


def test_beyond_the_bound_of_rasa_calls_a_child_is_told_busy_at_once_and_answered_when_a_call_ends(
        tmp_path: Path, fake_rasa: FakeRasa, gated: GatedRasa) -> None:
    settings = app_settings(tmp_path, fake_rasa, RASA_MAX_IN_FLIGHT="1", RASA_REPLY_DEADLINE_SECONDS="30")
    with TestClient(create_app(settings)) as client:
        first: list[Any] = []
        thread = threading.Thread(target=lambda: first.append(say(client, "first-child-aaaaaaaaaa", "xin chào")))
        thread.start()
        wait_for(lambda: gated.working == 1, "the first child's turn in Rasa")

        said, seconds = say(client, "second-child-aaaaaaaaa", "em sợ lắm")

        assert seconds < 1  # at once, not after the 30 s deadline
        assert [(m["sender"], m["text"]) for m in said] == [("system", replies.RASA_BUSY)]
        assert len(fake_rasa.webhook_calls) == 1  # the second waits in the gateway, not in Rasa
        gated.gate.set()
        thread.join(20)
        assert [m["sender"] for m in first[0][0]] == ["bot", "bot"]  # the first was answered as usual
        assert wait_for(lambda: bot_replies(client, "second-child-aaaaaaaaa"), "the second's answer", timeout=20) \
            == ["Mình nghe em nói: em sợ lắm"]
    assert gated.most_at_once == 1 and len(fake_rasa.webhook_calls) == 2


def test_a_disclosure_made_while_rasa_is_slow_reaches_the_counsellors_queue_when_rasa_answers(
        tmp_path: Path, fake_rasa: FakeRasa, gated: GatedRasa) -> None:
    settings = app_settings(tmp_path, fake_rasa, RASA_REPLY_DEADLINE_SECONDS="0.5")
    with TestClient(create_app(settings)) as client:
        said, _ = say(client, "disclosing-child-aaaaa", DISCLOSURE)
        assert [m["text"] for m in said] == [replies.RASA_BUSY]
        assert cases(settings) == []
        gated.gate.set()
        assert wait_for(lambda: cases(settings), "the case", timeout=20) == [("disclosing-child-aaaaa", "high")]
        assert "Cảm ơn em đã kể cho mình." in bot_replies(client, "disclosing-child-aaaaa")


def cases(settings: Settings) -> list[tuple[str, str]]:
    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            rows = session.execute(select(Conversation.external_id, Case.risk)
                                   .join(Conversation, Case.conversation_id == Conversation.id)).all()
            return [(external_id, risk.value) for external_id, risk in rows]
    finally:
        database.dispose()
