"""Telegram through the real gateway against the fake Bot API (webhook mode)."""

from __future__ import annotations

import time

import httpx
from tests.channels.channel_support import GatewayThread, channel_settings, transcript, wait_until

from bot import replies
from devtools.fake_telegram import FakeTelegram

CHAT = 4242


def test_start_sends_the_greeting_intent_and_buttons_become_an_inline_keyboard(
    telegram_gateway: GatewayThread, fake_telegram: FakeTelegram, fake_rasa
) -> None:
    def reply(sender: str, text: str) -> list[dict]:
        if text == "/greet":
            return [{"text": "Chào em! Mình là Mây.",
                     "buttons": [{"title": "Quyền của em", "payload": "/ask_rights"},
                                 {"title": "An toàn trên mạng", "payload": "/ask_online_safety"}]}]
        return [{"text": f"Bạn chọn: {text}"}]

    fake_rasa.reply = reply
    fake_telegram.user_says(CHAT, "/start")
    [greeting] = fake_telegram.wait_for_bot_messages(CHAT, 1)

    assert fake_rasa.texts_received() == ["/greet"]
    assert fake_rasa.webhook_calls[0]["sender"] == f"telegram:{CHAT}"
    keyboard = greeting.reply_markup["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == ["Quyền của em", "An toàn trên mạng"]
    assert all(len(row[0]["callback_data"].encode()) <= 64 for row in keyboard)

    fake_telegram.user_presses(CHAT, greeting.message_id, index=1)
    messages = fake_telegram.wait_for_bot_messages(CHAT, 2)

    assert fake_rasa.texts_received() == ["/greet", "/ask_online_safety"]
    assert messages[1].text == "Bạn chọn: /ask_online_safety"
    assert fake_telegram.callback_answers, "the callback query was not answered"
    edited = fake_telegram.bot_messages(CHAT)[0]
    assert "An toàn trên mạng" in edited.text and edited.reply_markup is None
    assert ("user", "An toàn trên mạng") in transcript(telegram_gateway.settings, "telegram", str(CHAT))


def test_a_forged_callback_cannot_force_an_intent(
    telegram_gateway: GatewayThread, fake_telegram: FakeTelegram, fake_rasa
) -> None:
    fake_telegram.user_says(CHAT, "xin chào")
    fake_telegram.wait_for_bot_messages(CHAT, 2)
    calls = len(fake_rasa.webhook_calls)
    fake_telegram.push_update({"callback_query": {
        "id": "forged", "from": {"id": CHAT, "is_bot": False, "first_name": "X"}, "chat_instance": "c",
        "data": "99999:0",
        "message": {"message_id": 1, "date": int(time.time()), "chat": {"id": CHAT, "type": "private"}}}})
    wait_until(lambda: "forged" in fake_telegram.callback_answers, what="the forged query answered")
    time.sleep(0.5)
    assert len(fake_rasa.webhook_calls) == calls


def test_typed_commands_are_plain_text_and_edits_are_not_new_messages(
    telegram_gateway: GatewayThread, fake_telegram: FakeTelegram, fake_rasa
) -> None:
    sent = fake_telegram.user_says(CHAT, "/restart")
    fake_telegram.wait_for_bot_messages(CHAT, 1)
    assert fake_rasa.texts_received() == ["restart"]

    fake_telegram.user_edits(CHAT, sent["message"]["message_id"], "bo em danh em")
    time.sleep(1.0)
    assert fake_rasa.texts_received() == ["restart"]
    assert len(fake_telegram.bot_messages(CHAT)) == 1


def test_photos_and_stickers_are_answered_kindly_and_noted_for_the_counsellor(
    telegram_gateway: GatewayThread, fake_telegram: FakeTelegram, fake_rasa
) -> None:
    fake_telegram.user_sends_photo(CHAT)
    [answer] = fake_telegram.wait_for_bot_messages(CHAT, 1)
    assert answer.text == replies.TEXT_ONLY
    assert "ảnh" not in answer.text.lower().replace("ảnh hưởng", "")  # never asks for pictures
    fake_telegram.user_sends_sticker(CHAT)
    fake_telegram.wait_for_bot_messages(CHAT, 2)
    assert fake_rasa.texts_received() == []
    lines = transcript(telegram_gateway.settings, "telegram", str(CHAT))
    assert ("user", "[Trẻ đã gửi một ảnh]") in lines
    assert ("user", "[Trẻ đã gửi một nhãn dán]") in lines
    assert not any(method == "getFile" for method, _ in fake_telegram.calls)


def test_a_caption_is_read_as_text(telegram_gateway: GatewayThread, fake_telegram: FakeTelegram, fake_rasa) -> None:
    fake_telegram.user_sends_photo(CHAT, caption="bo em danh em")
    fake_telegram.wait_for_bot_messages(CHAT, 1)
    assert fake_rasa.texts_received() == ["bo em danh em"]


def test_long_text_is_capped_politely(telegram_gateway: GatewayThread, fake_telegram: FakeTelegram,
                                      fake_rasa) -> None:
    fake_telegram.user_says(CHAT, "a" * 501)
    [answer] = fake_telegram.wait_for_bot_messages(CHAT, 1)
    assert answer.text == replies.message_too_long(500)
    assert fake_rasa.texts_received() == []


def test_long_replies_are_split_at_telegrams_limit(telegram_gateway: GatewayThread,
                                                    fake_telegram: FakeTelegram, fake_rasa) -> None:
    fake_rasa.reply = lambda sender, text: [{"text": ("Một câu khá dài. " * 400).strip()}]
    fake_telegram.user_says(CHAT, "kể chuyện")
    messages = fake_telegram.wait_for_bot_messages(CHAT, 2)
    time.sleep(1.5)
    messages = fake_telegram.bot_messages(CHAT)
    assert len(messages) == 2
    assert all(len(m.text) <= 4096 for m in messages)
    assert " ".join(m.text for m in messages) == ("Một câu khá dài. " * 400).strip()


def test_retry_after_is_honoured_and_the_answer_arrives_once(
    telegram_gateway: GatewayThread, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail_next("sendMessage", retry_after=1)
    started = time.monotonic()
    fake_telegram.user_says(CHAT, "chào bạn")
    fake_telegram.wait_for_bot_messages(CHAT, 1)
    assert time.monotonic() - started >= 1.0
    time.sleep(1.0)
    assert len(fake_telegram.bot_messages(CHAT)) == 1
    assert len(fake_telegram.calls_of("sendMessage")) == 2


def test_one_message_per_second_per_chat(telegram_gateway: GatewayThread, fake_telegram: FakeTelegram,
                                         fake_rasa) -> None:
    fake_rasa.reply = lambda sender, text: [{"text": f"tin {i}"} for i in range(3)]
    fake_telegram.user_says(CHAT, "chào")
    messages = fake_telegram.wait_for_bot_messages(CHAT, 3)
    assert [m.text for m in messages] == ["tin 0", "tin 1", "tin 2"]
    gaps = [b.date - a.date for a, b in zip(messages, messages[1:], strict=False)]
    assert all(gap >= 0.95 for gap in gaps), gaps


def test_quick_exit_deletes_the_chat_and_leaves_one_neutral_line(
    telegram_gateway: GatewayThread, fake_telegram: FakeTelegram, fake_rasa
) -> None:
    fake_telegram.user_says(CHAT, "xin chào")
    fake_telegram.wait_for_bot_messages(CHAT, 2)
    fake_telegram.user_says(CHAT, "bo em danh em")
    fake_telegram.wait_for_bot_messages(CHAT, 3)
    assert fake_telegram.bot_messages(CHAT)[0].reply_markup["keyboard"][0][0]["text"] == "Thoát nhanh"

    fake_telegram.user_says(CHAT, "Thoát nhanh")
    wait_until(lambda: [m.text for m in fake_telegram.visible(CHAT)] == [replies.QUICK_EXIT_LINE],
               what="only the neutral line left")
    assert len(fake_telegram.calls_of("deleteMessage")) == 6  # 3 of the child's, 3 of the bot's
    assert fake_rasa.texts_received() == ["xin chào", "bo em danh em"]
    lines = transcript(telegram_gateway.settings, "telegram", str(CHAT))
    assert ("user", replies.CHILD_LEFT_QUICKLY) in lines
    neutral = fake_telegram.bot_messages(CHAT)[-1]
    assert neutral.reply_markup == {"remove_keyboard": True}


def test_the_webhook_requires_the_secret_and_survives_bad_bodies(
    telegram_gateway: GatewayThread, fake_telegram: FakeTelegram, fake_rasa
) -> None:
    url = telegram_gateway.url + "/telegram/webhook"
    good = {"X-Telegram-Bot-Api-Secret-Token": "test-secret_123"}
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "hi",
                                          "chat": {"id": CHAT, "type": "private"}}}
    with httpx.Client(trust_env=False) as http:
        assert http.post(url, json=update).status_code == 401
        assert http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "test-secret_12"}).status_code == 401
        assert http.post(url, content=b"{not json", headers=good).status_code == 400
        assert http.post(url, content=b'{"update_id": "\xff\xfe"}', headers=good).status_code == 400
        assert http.post(url, content=b"\xff\xfe\x00", headers=good).status_code == 400
        assert http.post(url, json=[1, 2], headers=good).status_code == 400
        assert http.post(url, json={"update_id": "7"}, headers=good).status_code == 400
        assert http.post(url, json={"update_id": True}, headers=good).status_code == 400
        assert http.post(url, content=b"x" * 2_000_000, headers=good).status_code == 413
        assert http.post(url, json={"update_id": 55, "poll": {"id": "1"}}, headers=good).status_code == 200
        assert http.get(telegram_gateway.url + "/healthz").status_code == 200
    fake_telegram.user_says(CHAT, "vẫn chạy chứ")
    fake_telegram.wait_for_bot_messages(CHAT, 1)


def test_a_redelivered_update_is_dropped_even_after_a_restart(
    tmp_path, fake_rasa, fake_telegram: FakeTelegram, gateway_port: int
) -> None:
    settings = channel_settings(tmp_path, fake_rasa, gateway_port, telegram=fake_telegram)
    with GatewayThread(settings):
        fake_telegram.wait_for(lambda: bool(fake_telegram.webhook_url))
        update = fake_telegram.user_says(CHAT, "xin chào")
        fake_telegram.wait_for_bot_messages(CHAT, 2)
    with GatewayThread(settings):
        fake_telegram.redeliver(update)
        wait_until(lambda: fake_telegram.delivered.count(update["update_id"]) == 2, what="redelivery")
        time.sleep(1.0)
    assert fake_rasa.texts_received() == ["xin chào"]
    assert len(fake_telegram.bot_messages(CHAT)) == 2


def test_polling_mode_with_only_a_token(tmp_path, fake_rasa, fake_telegram: FakeTelegram,
                                        gateway_port: int) -> None:
    settings = channel_settings(tmp_path, fake_rasa, gateway_port, telegram=fake_telegram, webhook=False)
    assert settings.telegram is not None and not settings.telegram.uses_webhook
    with GatewayThread(settings):
        fake_telegram.user_says(CHAT, "xin chào")
        fake_telegram.wait_for_bot_messages(CHAT, 2)
    assert fake_telegram.calls_of("getUpdates")
    assert fake_rasa.texts_received() == ["xin chào"]
