"""Small pure pieces of the channels: splitting, the safe phrase, rate limiting, settings."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.quick_exit import is_quick_exit
from bot.coordination.send_pacing import LocalSendPacer
from bot.outbox import split_text
from bot.settings import SettingsError, load_settings


@given(st.text(min_size=1, max_size=3000), st.integers(min_value=20, max_value=500))
def test_split_parts_respect_the_limit_and_keep_the_words(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert all(len(p) <= limit for p in parts)
    assert "".join("".join(p.split()) for p in parts) == "".join(text.split())


def test_split_prefers_sentence_ends() -> None:
    parts = split_text("Câu một rất dài. Câu hai cũng dài. Câu ba.", 20)
    assert parts[0] == "Câu một rất dài."


@pytest.mark.parametrize("text", ["Thoát nhanh", "thoat nhanh", "THOÁT!", "  thoát  nhanh.  ", "exit", "#thoat_nhanh"])
def test_safe_phrases(text: str) -> None:
    assert is_quick_exit(text)


@pytest.mark.parametrize("text", ["em muốn thoát khỏi nhà", "thoát nhanh khỏi đây kiểu gì", "xin chào"])
def test_ordinary_messages_are_not_exits(text: str) -> None:
    assert not is_quick_exit(text)


def test_rate_limiter_paces_one_chat_but_not_others() -> None:
    async def scenario() -> tuple[float, float]:
        limiter = LocalSendPacer(per_key_interval=0.3, overall_per_second=100)
        start = time.monotonic()
        await limiter.wait("a")
        await limiter.wait("b")
        other = time.monotonic() - start
        await limiter.wait("a")
        return other, time.monotonic() - start

    other, same = asyncio.run(scenario())
    assert other < 0.1 and same >= 0.28


def test_channel_settings(tmp_path) -> None:
    base = {"DATA_DIR": str(tmp_path), "RASA_TOKEN": "x"}
    assert load_settings(base).telegram is None and load_settings(base).zalo is None
    polling = load_settings({**base, "TELEGRAM_BOT_TOKEN": "123:abc"}).telegram
    assert polling is not None and not polling.uses_webhook
    webhook = load_settings({**base, "TELEGRAM_BOT_TOKEN": "123:abc",
                             "TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram/webhook"}).telegram
    assert webhook is not None and webhook.uses_webhook and len(webhook.webhook_secret) >= 32
    assert "abc" not in repr(load_settings({**base, "TELEGRAM_BOT_TOKEN": "123:abc"}))
    with pytest.raises(SettingsError):
        load_settings({**base, "TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WEBHOOK_URL": "http://example.org/x"})
    with pytest.raises(SettingsError):
        load_settings({**base, "ZALO_APP_ID": "1"})
