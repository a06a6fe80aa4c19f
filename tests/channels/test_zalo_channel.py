"""Zalo OA through the real gateway against the fake Zalo platform."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import httpx
import pytest
from tests.channels.channel_support import GatewayThread, transcript, wait_until
from sqlalchemy import select

from bot import replies
from bot.channels.zalo import expected_signature, messaging_windows, signature_matches
from bot.channels.zalo_tokens import ZaloTokens
from bot.db import Database
from bot.inbox import InboundUpdate
from bot.models import Conversation
from devtools.fake_zalo import FakeZalo

USER = "8412345678901234567"


def conversation_id(zalo: FakeZalo, user: str = USER) -> str:
    return f"{zalo.oa_id}:{user}"


# ---- signatures ------------------------------------------------------------------------------


def post_event(gateway: GatewayThread, zalo: FakeZalo, event: dict, *, signature: str | None = "auto",
               raw: bytes | None = None, headers: dict | None = None) -> httpx.Response:
    body = raw if raw is not None else json.dumps(event, ensure_ascii=False).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    if signature == "auto":
        sent["X-ZEvent-Signature"] = zalo.sign(body, headers.get("X-ZEvent-Timestamp") if headers and
                                               "X-ZEvent-Timestamp" in headers else event["timestamp"])
    elif signature is not None:
        sent["X-ZEvent-Signature"] = signature
    with httpx.Client(trust_env=False) as http:
        return http.post(gateway.url + "/zalo/webhook", content=body, headers=sent)


def test_signature_forms() -> None:
    digest = expected_signature("app", b'{"a":1}', "1700000000000", "key")
    assert signature_matches("mac=" + digest, "app", b'{"a":1}', "1700000000000", "key")
    assert signature_matches(digest, "app", b'{"a":1}', "1700000000000", "key")
    assert signature_matches("MAC=" + digest.upper(), "app", b'{"a":1}', "1700000000000", "key")
    assert not signature_matches(digest, "app", b'{"a":2}', "1700000000000", "key")
    assert not signature_matches(digest, "app", b'{"a":1}', "1700000000001", "key")
    assert not signature_matches(expected_signature("app", b'{"a":1}', "1700000000000", "other"),
                                 "app", b'{"a":1}', "1700000000000", "key")
    assert not signature_matches("", "app", b'{"a":1}', "1700000000000", "key")


def test_the_webhook_accepts_only_signed_fresh_events(zalo_gateway: GatewayThread, fake_zalo: FakeZalo,
                                                      fake_rasa) -> None:
    event = fake_zalo.event("user_send_text", USER, {"text": "xin chào"})
    raw = json.dumps(event).encode()
    bare = fake_zalo.sign(raw, event["timestamp"])[4:]

    assert post_event(zalo_gateway, fake_zalo, event, signature=None).status_code == 401  # missing
    assert post_event(zalo_gateway, fake_zalo, event, signature="mac=" + "0" * 64).status_code == 401
    wrong_key = "mac=" + expected_signature(fake_zalo.app_id, raw, event["timestamp"], "not-the-oa-key")
    assert post_event(zalo_gateway, fake_zalo, event, raw=raw, signature=wrong_key).status_code == 401
    app_secret = "mac=" + expected_signature(fake_zalo.app_id, raw, event["timestamp"], fake_zalo.app_secret)
    assert post_event(zalo_gateway, fake_zalo, event, raw=raw, signature=app_secret).status_code == 401
    stale = fake_zalo.event("user_send_text", USER, {"text": "cũ"},
                            timestamp_ms=int((time.time() - 6 * 60) * 1000))
    assert post_event(zalo_gateway, fake_zalo, stale).status_code == 401

    assert post_event(zalo_gateway, fake_zalo, event, raw=raw, signature=bare.upper()).status_code == 200
    assert post_event(zalo_gateway, fake_zalo, event, raw=raw).status_code == 200  # replayed: mac= form
    fake_zalo.wait_for_sent(USER, 2)
    time.sleep(0.5)
    assert fake_rasa.texts_received() == ["xin chào"], "a replayed event was handled twice"


def test_the_timestamp_header_wins_over_the_body(zalo_gateway: GatewayThread, fake_zalo: FakeZalo,
                                                 fake_rasa) -> None:
    event = fake_zalo.event("user_send_text", USER, {"text": "chào"}, timestamp_ms=1)  # body: ancient
    now = str(int(time.time() * 1000))
    assert post_event(zalo_gateway, fake_zalo, event, headers={"X-ZEvent-Timestamp": now}).status_code == 200
    fake_zalo.wait_for_sent(USER, 1)


def test_probe_and_bad_bodies(zalo_gateway: GatewayThread, fake_zalo: FakeZalo) -> None:
    url = zalo_gateway.url + "/zalo/webhook"
    with httpx.Client(trust_env=False) as http:
        probe = http.post(url, content=b"{}", headers={"Content-Type": "application/json"})
        assert probe.status_code == 200 and probe.content == b""
        assert http.post(url, content=b"").status_code == 200
        assert http.post(url, content=b'{"event_name":"user_send_text"}').status_code == 401
        signed = {"X-ZEvent-Signature": "mac=" + "a" * 64}
        assert http.post(url, content=b"{oops", headers=signed).status_code == 400
        assert http.post(url, content=b"\xff\xfe\xfd", headers=signed).status_code == 400
        assert http.post(url, content=b"[1,2,3]", headers=signed).status_code == 400
        assert http.post(url, content=b'{"app_id": {"x": 1}}', headers=signed).status_code == 401
        assert http.post(url, content=b"x" * 2_000_000, headers=signed).status_code == 413
        assert http.get(zalo_gateway.url + "/healthz").status_code == 200
    # A signed event of a kind we do not handle is acknowledged and ignored.
    follow = fake_zalo.event("follow", USER, {})
    assert post_event(zalo_gateway, fake_zalo, follow).status_code == 200


def test_an_answer_within_two_seconds_even_when_rasa_is_slow(zalo_gateway: GatewayThread,
                                                            fake_zalo: FakeZalo, fake_rasa) -> None:
    def slow(sender: str, text: str) -> list[dict]:
        time.sleep(3)
        return [{"text": "xong"}]

    fake_rasa.reply = slow
    event = fake_zalo.event("user_send_text", USER, {"text": "chào"})
    started = time.monotonic()
    assert post_event(zalo_gateway, fake_zalo, event).status_code == 200
    assert time.monotonic() - started < 2.0
    fake_zalo.wait_for_sent(USER, 1, timeout=15)


# ---- conversations ---------------------------------------------------------------------------------


def test_text_reply_echo_and_counsellor_turn(zalo_gateway: GatewayThread, fake_zalo: FakeZalo, fake_rasa) -> None:
    fake_zalo.user_says(USER, "xin chào")
    sent = fake_zalo.wait_for_sent(USER, 2)
    assert sent[0].text == "Chào em! Hôm nay em thế nào?"
    assert "1. Em đang buồn" in sent[1].text and "2. Hỏi về quyền trẻ em" in sent[1].text
    assert all(call["access_token"] == fake_zalo.env()["ZALO_ACCESS_TOKEN"] for call in fake_zalo.send_calls)

    fake_zalo.user_says(USER, "2")  # the numbered choice -> the offered payload
    fake_zalo.wait_for_sent(USER, 3)
    assert fake_rasa.texts_received() == ["xin chào", '/ask_rights{"topic":"rights"}']

    fake_zalo.counsellor_types(USER, "Chào em, chị là tư vấn viên.")
    wait_until(lambda: ("counsellor", "Chào em, chị là tư vấn viên.") in
               transcript(zalo_gateway.settings, "zalo", conversation_id(fake_zalo)), what="counsellor turn")
    time.sleep(0.5)
    assert len(fake_rasa.webhook_calls) == 2, "echoes must not reach Rasa"
    assert len(fake_zalo.sent_to(USER)) == 3
    # The bot's own echoes are dropped on arrival, before the intake: stored, they
    # would spend the child's per-person rate limit (only 2 user events + 1 counsellor turn).
    with Database.from_settings(zalo_gateway.settings).session() as session:
        stored = session.scalars(select(InboundUpdate.update_id)).all()
    assert len(stored) == 3, stored



def test_images_are_not_read(zalo_gateway: GatewayThread, fake_zalo: FakeZalo, fake_rasa) -> None:
    fake_zalo.user_sends_image(USER)
    [answer] = fake_zalo.wait_for_sent(USER, 1)
    assert answer.text == replies.TEXT_ONLY
    assert ("user", "[Trẻ đã gửi một ảnh]") in transcript(zalo_gateway.settings, "zalo", conversation_id(fake_zalo))
    assert fake_rasa.texts_received() == []


def test_long_replies_are_split_at_2000(zalo_gateway: GatewayThread, fake_zalo: FakeZalo, fake_rasa) -> None:
    long = ("Một câu khá dài cho em đọc. " * 120).strip()
    fake_rasa.reply = lambda sender, text: [{"text": long}]
    fake_zalo.user_says(USER, "kể đi")
    fake_zalo.wait_for_sent(USER, 2)
    time.sleep(0.5)
    parts = fake_zalo.sent_to(USER)
    assert len(parts) == 2 and all(len(p.text) <= 2000 for p in parts)
    assert " ".join(p.text for p in parts) == long


def test_expired_token_is_refreshed_once_and_the_send_retried(zalo_gateway: GatewayThread,
                                                              fake_zalo: FakeZalo) -> None:
    fake_zalo.expire_access_token()
    fake_zalo.user_says(USER, "chào")
    fake_zalo.wait_for_sent(USER, 1)
    assert len(fake_zalo.refresh_calls) == 1


def test_concurrent_token_errors_make_one_refresh(zalo_gateway: GatewayThread, fake_zalo: FakeZalo) -> None:
    fake_zalo.refresh_delay = 0.5
    fake_zalo.expire_access_token()
    users = [f"84{i:017d}" for i in range(4)]
    for user in users:
        fake_zalo.user_says(user, "chào")
    for user in users:
        fake_zalo.wait_for_sent(user, 1)
    assert len(fake_zalo.refresh_calls) == 1


def test_refreshes_from_two_processes_make_one_call(tmp_path, fake_zalo: FakeZalo, fake_rasa, gateway_port) -> None:
    """Two token stores (as two gateway processes) share only the database lock."""
    from tests.channels.channel_support import channel_settings

    settings = channel_settings(tmp_path, fake_rasa, gateway_port, zalo=fake_zalo)
    database = Database.from_settings(settings)
    from bot.db import migrate

    migrate(database)
    accounts = {settings.zalo.oa_id: settings.zalo}
    first, second = ZaloTokens(database, accounts), ZaloTokens(database, accounts)
    first.seed()
    old = settings.zalo.access_token
    fake_zalo.refresh_delay = 0.5
    results: list[str] = []
    threads = [threading.Thread(target=lambda t=t: results.append(t.refresh_blocking(fake_zalo.oa_id, old)))
               for t in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fake_zalo.refresh_calls) == 1
    assert results[0] == results[1] == fake_zalo.access_token
    first.close(), second.close(), database.dispose()


def test_outside_the_window_is_recorded_for_the_console(zalo_gateway: GatewayThread, fake_zalo: FakeZalo) -> None:
    fake_zalo.fail_next(-230)
    fake_zalo.user_says(USER, "chào")
    external = conversation_id(fake_zalo)
    wait_until(lambda: any("7 ngày" in text for _, text in transcript(zalo_gateway.settings, "zalo", external)),
               what="window notice")
    database = Database.from_settings(zalo_gateway.settings)
    with database.session() as session:
        conversation = session.scalars(select(Conversation).where(Conversation.external_id == external)).one()
        windows = messaging_windows(conversation)
        assert windows.closed_at is not None and not windows.is_open
        assert timedelta(hours=47) < windows.free_reply_left <= timedelta(hours=48)
        assert timedelta(days=6) < windows.messaging_left <= timedelta(days=7)
    database.dispose()


def test_rate_limit_error_is_retried(zalo_gateway: GatewayThread, fake_zalo: FakeZalo) -> None:
    fake_zalo.fail_next(-32)
    fake_zalo.user_says(USER, "chào")
    [sent] = fake_zalo.wait_for_sent(USER, 1, timeout=20)
    assert len(fake_zalo.send_calls) == 2


def test_quick_exit_on_zalo(zalo_gateway: GatewayThread, fake_zalo: FakeZalo, fake_rasa) -> None:
    fake_zalo.user_says(USER, "xin chào")
    fake_zalo.wait_for_sent(USER, 2)
    fake_zalo.user_says(USER, "thoát nhanh")
    sent = fake_zalo.wait_for_sent(USER, 3)
    assert sent[-1].text == replies.QUICK_EXIT_LINE
    assert fake_rasa.texts_received() == ["xin chào"]
    assert ("user", replies.CHILD_LEFT_QUICKLY) in transcript(zalo_gateway.settings, "zalo", conversation_id(fake_zalo))


@pytest.mark.parametrize("retry_first", [True])
def test_webhook_retries_reach_the_gateway(tmp_path, fake_rasa, gateway_port, retry_first) -> None:
    """Zalo retries when it cannot connect: an event sent while the gateway is down arrives later."""
    from tests.channels.channel_support import channel_settings

    with FakeZalo(webhook_url=f"http://127.0.0.1:{gateway_port}/zalo/webhook") as zalo:
        zalo.user_says(USER, "chào")  # nobody listens yet
        time.sleep(0.3)
        with GatewayThread(channel_settings(tmp_path, fake_rasa, gateway_port, zalo=zalo)):
            zalo.wait_for_sent(USER, 1, timeout=20)
        assert any(attempt > 0 for status, attempt in zalo.deliveries if status == 200)
