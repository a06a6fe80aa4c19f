""""Xóa dữ liệu của em" through the web chat API of a real gateway app (fake Rasa on loopback),
with Rasa's tracker database written by Rasa 3.6 itself."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.privacy.privacy_support import tracker_senders
from fastapi.testclient import TestClient
from tests.gateway.gateway_support import make_settings
from sqlalchemy import func, select

from bot import transcript
from bot.app import create_app
from bot.cases import service
from bot.cases.models import Case, Consent, Risk
from bot.db import Database
from bot.models import Conversation, Message, utc_now
from bot.privacy.forget import CONFIRMED, CONFIRMED_CASE_RECORD_KEPT, FORGET_PAYLOAD, KEPT, is_forget_phrase


@pytest.mark.parametrize("text", [
    "Xóa dữ liệu của em", "xoa du lieu cua em", "xoá dữ liệu", "quên em đi", "Quên tớ đi!",
    "xóa hết tin nhắn của em", "xoá hết tin nhắn của em nhé", "bot ơi xóa dữ liệu của mình đi",
    "XÓA DỮ LIỆU CỦA EM", "xóa lịch sử chat", "làm ơn xóa thông tin của em",
])
def test_requests_are_recognised_without_accents_or_case(text: str) -> None:
    assert is_forget_phrase(text)


@pytest.mark.parametrize("text", [
    # A disclosure that merely contains the words must reach Rasa (and its risk triage).
    "nó dọa xóa dữ liệu của em rồi đánh em", "bạn ấy xóa tin nhắn của em rồi chửi em",
    "em muốn quên chuyện bị đánh", "làm sao xóa ảnh của em trên mạng", "quên mật khẩu rồi",
    "xóa", "em không muốn sống nữa", "xin chào",
])
def test_other_messages_are_not_requests(text: str) -> None:
    assert not is_forget_phrase(text)


def _intro_with_forget_button(sender: str, text: str) -> list[dict[str, Any]]:
    return [{"recipient_id": sender, "text": "Mình có thể giúp gì cho em?",
             "buttons": [{"title": "Xóa dữ liệu của em", "payload": FORGET_PAYLOAD}]}]


@pytest.fixture
def world(tmp_path: Path, fake_rasa, make_tracker) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    conversation_id = secrets.token_urlsafe(18)
    tracker_path = make_tracker({f"web:{conversation_id}": utc_now().timestamp(),
                                 "web:someone-else-entirely": utc_now().timestamp()})
    settings = make_settings(tmp_path, fake_rasa.url, fake_rasa.token, RASA_TRACKER_URL=f"sqlite:///{tracker_path}")
    fake_rasa.reply = _intro_with_forget_button
    with TestClient(create_app(settings)) as client:
        database = Database.from_settings(settings)
        yield {"client": client, "id": conversation_id, "tracker": tracker_path, "db": database, "rasa": fake_rasa}
        database.dispose()


def _post(world: dict[str, Any], **body: str) -> list[dict[str, Any]]:
    response = world["client"].post(f"/api/webchat/{world['id']}/messages", json=body)
    assert response.status_code == 200, response.text
    return response.json()["messages"]  # type: ignore[no-any-return]


def _messages_of(database: Database, external_id: str) -> list[str]:
    with database.session() as session:
        conversation = transcript.find_conversation(session, "web", external_id)
        if conversation is None:
            return []
        return list(session.scalars(select(Message.text).where(Message.conversation_id == conversation.id)))


@pytest.mark.parametrize("how", ["text", "button"])
def test_without_a_case_everything_goes_at_once(world: dict[str, Any], how: str) -> None:
    _post(world, text="số em là 0912345678, nhà em ở số 12 ngõ 34 phố Huế")
    assert "số em là 0912345678, nhà em ở số 12 ngõ 34 phố Huế" in _messages_of(world["db"], world["id"])
    calls_before = len(world["rasa"].webhook_calls)

    request = {"text": "Xóa dữ liệu của em"} if how == "text" else {"payload": FORGET_PAYLOAD}
    replies = _post(world, **request)

    assert [r["text"] for r in replies] == [CONFIRMED]
    assert len(world["rasa"].webhook_calls) == calls_before  # the request never reached Rasa
    # The app database holds only the confirmation (a new conversation); the request was never stored.
    assert _messages_of(world["db"], world["id"]) == [CONFIRMED]
    # Rasa's tracker: this person's events are gone, someone else's are not.
    assert tracker_senders(world["tracker"]) == {"web:someone-else-entirely"}
    # Polling ids still only grow (the web page keeps its cursor).
    assert replies[0]["id"] > 0


def test_a_button_that_was_not_offered_is_refused(world: dict[str, Any]) -> None:
    world["rasa"].reply = lambda sender, text: [{"recipient_id": sender, "text": "ok"}]
    _post(world, text="xin chào")
    response = world["client"].post(f"/api/webchat/{world['id']}/messages", json={"payload": FORGET_PAYLOAD})
    assert response.status_code == 400
    assert len(_messages_of(world["db"], world["id"])) == 2  # nothing deleted


def test_with_an_open_case_it_is_kept_and_the_child_is_told_why(world: dict[str, Any]) -> None:
    _post(world, text="em bị đánh")
    with world["db"].session() as session:
        conversation = transcript.find_conversation(session, "web", world["id"])
        service.open_case(session, conversation, service.HandoffRequest(Risk.HIGH, "abuse", Consent.GIVEN),
                          "ref", out_of_hours=False)

    replies = _post(world, text="quên em đi")

    assert [r["text"] for r in replies] == [KEPT]
    assert "em bị đánh" in _messages_of(world["db"], world["id"])
    assert f"web:{world['id']}" in tracker_senders(world["tracker"])
    with world["db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_with_a_closed_case_the_record_stays_but_not_who_it_was(world: dict[str, Any]) -> None:
    _post(world, text="em bị đánh")
    with world["db"].session() as session:
        conversation = transcript.find_conversation(session, "web", world["id"])
        case = service.open_case(session, conversation, service.HandoffRequest(Risk.HIGH, "abuse", Consent.GIVEN),
                                 "ref", out_of_hours=False).case
        case.status, case.closed_at = "closed", utc_now()

    # The child is told honestly that the case record stays for a while.
    assert [r["text"] for r in _post(world, text="xoá dữ liệu của em nhé")] == [CONFIRMED_CASE_RECORD_KEPT]

    with world["db"].session() as session:
        case_row = session.scalars(select(Case)).one()
        kept = session.get(Conversation, case_row.conversation_id)
        assert kept is not None and kept.external_id.startswith("forgotten-")
        assert session.scalar(select(func.count()).select_from(Message)
                              .where(Message.conversation_id == kept.id)) == 0
    assert _messages_of(world["db"], world["id"]) == [CONFIRMED_CASE_RECORD_KEPT]
    assert f"web:{world['id']}" not in tracker_senders(world["tracker"])
