"""The child's feedback after a counsellor closes a case (bot/cases/feedback.py): one optional
question with three choices on the web, Telegram and Zalo; the answer stored without
identifiers, never sent to Rasa; an optional comment, redacted and encrypted."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.cases.feedback import ALREADY_ANSWERED, QUESTION, THANKS, ChildFeedback, FeedbackPrompt
from bot.cases.hours import VIETNAM
from bot.cases.models import Role
from bot.db import Database
from bot.settings import Settings
from devtools.fake_rasa import FakeRasa
from devtools.fake_telegram import FakeTelegram
from devtools.fake_zalo import FakeZalo
from devtools.ports import free_port
from tests.channels.channel_support import GatewayThread, channel_settings, wait_until
from tests.console.console_support import child_says, login, make_staff, new_conversation, scripted_reply

DISCLOSURE = "bo em danh em dau lam"


def _feedback(settings: Settings) -> list[ChildFeedback]:
    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            return list(session.scalars(select(ChildFeedback).order_by(ChildFeedback.id)))
    finally:
        database.dispose()


def _prompts(settings: Settings) -> int:
    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            return len(session.scalars(select(FeedbackPrompt)).all())
    finally:
        database.dispose()


def _take_and_close(console: TestClient | httpx.Client, csrf: str, outcome: str = "supported") -> int:
    [case] = console.get("/console/api/queue").json()["waiting"]
    assert console.post(f"/console/cases/{case['id']}/take", data={"csrf_token": csrf},
                        follow_redirects=False).status_code == 303
    assert console.post(f"/console/cases/{case['id']}/close", data={"csrf_token": csrf, "outcome": outcome},
                        follow_redirects=False).status_code == 303
    return case["id"]


def test_on_the_web_the_child_answers_with_a_button_and_may_add_a_comment(
        client: TestClient, settings: Settings, fake_rasa: FakeRasa) -> None:
    make_staff(settings, "lan", name="Lan")
    csrf = login(client, "lan")
    conversation = new_conversation()
    child_says(client, conversation, DISCLOSURE)
    _take_and_close(client, csrf)

    question = client.get(f"/api/webchat/{conversation}/messages").json()["messages"][-1]
    assert question["text"] == QUESTION == "Cuộc trò chuyện hôm nay có giúp được em không?"
    assert [b["title"] for b in question["buttons"]] == ["Có", "Bình thường", "Chưa"]
    calls = len(fake_rasa.webhook_calls)

    answered = client.post(f"/api/webchat/{conversation}/messages", json={"payload": question["buttons"][2]["payload"]})
    assert [m["text"] for m in answered.json()["messages"]] == [THANKS]
    assert len(fake_rasa.webhook_calls) == calls, "the answer must not reach Rasa"
    [row] = _feedback(settings)
    assert (row.answer, row.channel, row.comment) == ("no", "web", None) and row.counsellor_id is not None
    assert _prompts(settings) == 0  # the token that linked the question to the conversation is gone

    # The next message is kept as a comment, identifiers hidden, and still goes to the bot.
    child_says(client, conversation, "chi Lan tot lam nhung em muon noi nhieu hon, so em 0912345678")
    assert len(fake_rasa.webhook_calls) == calls + 1
    [row] = _feedback(settings)
    assert row.comment and "0912345678" not in row.comment and row.comment_from is None
    again = client.post(f"/api/webchat/{conversation}/messages", json={"payload": question["buttons"][0]["payload"]})
    assert [m["text"] for m in again.json()["messages"]] == [ALREADY_ANSWERED]
    assert len(_feedback(settings)) == 1

    # Supervisors see it in the reports, per counsellor, the comment without the number.
    make_staff(settings, "ha", Role.SUPERVISOR)
    client.cookies.clear()
    login(client, "ha")
    page = client.get("/console/reports").text
    assert 'id="feedback-by-counsellor"' in page and "Lan" in page
    assert "em muon noi nhieu hon" in page and "0912345678" not in page
    assert client.get("/console/api/reports/summary").json()["feedback"] == {"Có": 0, "Bình thường": 0, "Chưa": 1}


def test_no_question_after_an_emergency_referral_or_a_case_nobody_took(
        client: TestClient, settings: Settings) -> None:
    make_staff(settings, "lan")
    make_staff(settings, "ha", Role.SUPERVISOR)
    csrf = login(client, "lan")
    conversation = new_conversation()
    child_says(client, conversation, DISCLOSURE)
    _take_and_close(client, csrf, outcome="emergency")
    assert all(m["text"] != QUESTION for m in client.get(f"/api/webchat/{conversation}/messages").json()["messages"])

    other = new_conversation()
    child_says(client, other, DISCLOSURE)
    client.cookies.clear()
    csrf = login(client, "ha")
    [case] = client.get("/console/api/queue").json()["waiting"]
    client.post(f"/console/cases/{case['id']}/close", data={"csrf_token": csrf, "outcome": "child_left"})
    assert all(m["text"] != QUESTION for m in client.get(f"/api/webchat/{other}/messages").json()["messages"])
    assert _prompts(settings) == 0


def _console(gateway: GatewayThread, username: str) -> tuple[httpx.Client, str]:
    http = httpx.Client(base_url=gateway.url, trust_env=False, timeout=30)
    return http, login(http, username)  # type: ignore[arg-type]


def test_on_telegram_the_choices_are_buttons(tmp_path: Path, fake_rasa: FakeRasa) -> None:
    fake_rasa.reply = scripted_reply
    port = free_port()
    with FakeTelegram() as telegram:
        settings = channel_settings(tmp_path, fake_rasa, port, telegram=telegram, STAFFED_HOURS="always")
        make_staff(settings, "lan")
        with GatewayThread(settings) as gateway:
            telegram.wait_for(lambda: bool(telegram.webhook_url), timeout=20)
            telegram.user_says(77, DISCLOSURE)
            telegram.wait_for_bot_messages(77, 2)
            console, csrf = _console(gateway, "lan")
            wait_until(lambda: bool(console.get("/console/api/queue").json()["waiting"]), what="the case")
            _take_and_close(console, csrf)
            wait_until(lambda: any(m.text == QUESTION for m in telegram.bot_messages(77)), what="the question")
            question = next(m for m in telegram.bot_messages(77) if m.text == QUESTION)
            keyboard = question.reply_markup["inline_keyboard"]  # type: ignore[index]
            assert [row[0]["text"] for row in keyboard] == ["Có", "Bình thường", "Chưa"]
            telegram.user_presses(77, question.message_id, index=0)
            wait_until(lambda: len(_feedback(settings)) == 1, what="the answer stored")
            assert _feedback(settings)[0].answer == "yes" and _feedback(settings)[0].channel == "telegram"
            wait_until(lambda: any(m.text == THANKS for m in telegram.bot_messages(77)), what="the thanks")


def test_on_zalo_the_choices_are_numbered(tmp_path: Path, fake_rasa: FakeRasa) -> None:
    fake_rasa.reply = scripted_reply
    port = free_port()
    user = "8412345678901234567"
    with FakeZalo(webhook_url=f"http://127.0.0.1:{port}/zalo/webhook") as zalo:
        settings = channel_settings(tmp_path, fake_rasa, port, zalo=zalo, STAFFED_HOURS="always")
        make_staff(settings, "lan")
        with GatewayThread(settings) as gateway:
            zalo.user_says(user, DISCLOSURE)
            zalo.wait_for_sent(user, 2)
            console, csrf = _console(gateway, "lan")
            wait_until(lambda: bool(console.get("/console/api/queue").json()["waiting"]), what="the case")
            _take_and_close(console, csrf)
            wait_until(lambda: any(QUESTION in m.text for m in zalo.sent_to(user)), what="the question")
            question = next(m for m in zalo.sent_to(user) if QUESTION in m.text)
            assert "1. Có" in question.text and "2. Bình thường" in question.text and "3. Chưa" in question.text
            zalo.user_says(user, "2")
            wait_until(lambda: len(_feedback(settings)) == 1, what="the answer stored")
            assert (_feedback(settings)[0].answer, _feedback(settings)[0].channel) == ("neutral", "zalo")
            wait_until(lambda: any(THANKS in m.text for m in zalo.sent_to(user)), what="the thanks")


def test_a_comment_is_taken_only_from_the_conversation_that_answered(tmp_path: Path) -> None:
    from datetime import timedelta

    from cryptography.fernet import Fernet

    from bot.cases import feedback
    from bot.cases.crypto import Keyring
    from bot.db import migrate
    from bot.models import Conversation, utc_now

    keyring = Keyring([Fernet.generate_key().decode()])
    database = Database(f"sqlite:///{tmp_path / 'app.db'}", keyring)
    migrate(database)
    now = utc_now()
    with database.session() as session:
        old = Conversation(channel="web", external_id="a" * 20, created_at=now - timedelta(minutes=5))
        session.add(old)
        session.flush()
        reply = feedback.question(session, None, "web", now)
        assert feedback.record_answer(session, reply.buttons[1].payload, old.id, now) == THANKS
        # Same id, but begun after the answer (a reused id): not a comment.
        newer = Conversation(channel="web", external_id="b" * 20, created_at=now + timedelta(minutes=1))
        newer.id = old.id
        assert not feedback.take_comment(session, newer, "tin nhắn của người khác", keyring, now + timedelta(minutes=2))
        [row] = session.scalars(select(ChildFeedback)).all()
        assert row.comment is None and row.comment_from is None
    database.dispose()


def test_the_retention_job_clears_old_comments_and_keeps_the_answers(tmp_path: Path) -> None:
    from datetime import date, datetime, timedelta

    from cryptography.fernet import Fernet

    from bot.cases.crypto import Keyring
    from bot.db import migrate
    from bot.privacy import stores
    from bot.privacy.retention import Retention

    keyring = Keyring([Fernet.generate_key().decode()])
    database = Database(f"sqlite:///{tmp_path / 'app.db'}", keyring)
    migrate(database)
    today = date(2026, 12, 7)
    with database.session() as session:
        session.add(ChildFeedback(answered_on=today - timedelta(days=400), channel="web", answer="no",
                                  comment=keyring.encrypt("cũ")))
        session.add(ChildFeedback(answered_on=today - timedelta(days=10), channel="web", answer="yes",
                                  comment=keyring.encrypt("mới")))
    retention = Retention(database, stores.TrackerStore(f"sqlite:///{tmp_path / 'tracker.db'}"), 30, 365)
    retention.purge(now=datetime(2026, 12, 7, 12, tzinfo=VIETNAM))
    retention.dispose()
    rows = _feedback_rows(database)
    assert [(r.answer, r.comment is None) for r in rows] == [("no", True), ("yes", False)]
    database.dispose()


def _feedback_rows(database: Database) -> list[ChildFeedback]:
    with database.session() as session:
        return list(session.scalars(select(ChildFeedback).order_by(ChildFeedback.id)))
