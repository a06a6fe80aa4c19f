"""Hypothesis against the live webhooks, channels on: a real gateway (uvicorn on loopback) with the
fake Telegram and Zalo platforms of devtools/. Random update-shaped JSON with the right secret, and
correctly signed random Zalo events: never a 5xx, and the gateway keeps answering."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.channels.channel_support import GatewayThread, channel_settings  # noqa: E402

from devtools.fake_telegram import FakeTelegram  # noqa: E402
from devtools.fake_zalo import FakeZalo  # noqa: E402
from devtools.ports import free_port  # noqa: E402

SECRET = {"X-Telegram-Bot-Api-Secret-Token": "test-secret_123"}
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SENT: dict[str, int] = {"telegram": 0, "zalo": 0}

scalars = st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.text(max_size=60)
values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
                      max_leaves=20)
ids = st.integers(min_value=-10, max_value=2**40) | st.text(max_size=12)
chats = st.fixed_dictionaries({"id": ids}, optional={"type": st.sampled_from(["private", "group", "channel", "x"])})
telegram_updates = st.fixed_dictionaries({"update_id": st.integers(min_value=0, max_value=2**31)}, optional={
    "message": st.fixed_dictionaries({}, optional={"message_id": ids, "date": st.integers(), "chat": chats | values,
                                                   "text": st.text(max_size=300), "from": values, "photo": values,
                                                   "caption": st.text(max_size=50), "entities": values}),
    "callback_query": st.fixed_dictionaries({}, optional={"id": st.text(max_size=8), "data": st.text(max_size=80),
                                                          "from": values, "message": values}),
    "edited_message": values,
})
zalo_events = st.fixed_dictionaries({
    "event_name": st.sampled_from(["user_send_text", "user_send_image", "anonymous_send_text", "oa_send_text",
                                   "user_send_sticker", "follow", "user_received_message", "x"]) | st.text(max_size=20),
    "timestamp": st.integers(min_value=0, max_value=2**45).map(str),
}, optional={
    "app_id": st.text(max_size=10),
    "sender": st.fixed_dictionaries({}, optional={"id": ids}) | values,
    "recipient": st.fixed_dictionaries({}, optional={"id": ids}) | values,
    "message": st.fixed_dictionaries({}, optional={"msg_id": ids, "text": st.text(max_size=300),
                                                   "attachments": values}) | values,
})


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from devtools.fake_rasa import FakeRasa

    port = free_port()
    with FakeRasa() as rasa, FakeTelegram() as telegram, \
            FakeZalo(webhook_url=f"http://127.0.0.1:{port}/zalo/webhook") as zalo:
        settings_ = channel_settings(tmp_path_factory.mktemp("live"), rasa, port, telegram=telegram, zalo=zalo,
                                     RATE_LIMIT_BURST="10000", RATE_LIMIT_PER_MINUTE="60000")
        with GatewayThread(settings_) as gateway:
            telegram.wait_for(lambda: bool(telegram.webhook_url), timeout=20)
            with httpx.Client(trust_env=False, timeout=30) as http:
                yield {"gateway": gateway, "zalo": zalo, "http": http}


@FUZZ
@given(telegram_updates)
def test_telegram_webhook_with_the_right_secret_takes_any_update(live: dict[str, Any], update: dict[str, Any]) -> None:
    SENT["telegram"] += 1
    response = live["http"].post(live["gateway"].url + "/telegram/webhook", json=update, headers=SECRET)
    assert response.status_code < 500, response.text[:300]


@FUZZ
@given(zalo_events)
def test_zalo_webhook_with_a_valid_signature_takes_any_event(live: dict[str, Any], event: dict[str, Any]) -> None:
    SENT["zalo"] += 1
    raw = json.dumps(event, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "X-ZEvent-Signature": live["zalo"].sign(raw, event["timestamp"])}
    response = live["http"].post(live["gateway"].url + "/zalo/webhook", content=raw, headers=headers)
    assert response.status_code < 500, response.text[:300]


@FUZZ
@given(zalo_events, st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=80))
def test_zalo_webhook_refuses_every_forged_signature(live: dict[str, Any], event: dict[str, Any], forged: str) -> None:
    SENT["zalo"] += 1
    raw = json.dumps(event, ensure_ascii=False).encode()
    if forged.strip().lower().removeprefix("mac=") == live["zalo"].sign(raw, event["timestamp"])[4:]:
        return
    headers = {"Content-Type": "application/json", "X-ZEvent-Signature": forged}
    response = live["http"].post(live["gateway"].url + "/zalo/webhook", content=raw, headers=headers)
    assert response.status_code in (400, 401, 403), response.status_code


def test_zz_the_gateway_is_still_well(live: dict[str, Any]) -> None:
    time.sleep(1.0)  # let the intake worker go through what was accepted
    assert live["http"].get(live["gateway"].url + "/healthz").status_code == 200
    print(f"\nwebhook fuzz: {SENT}")
    assert SENT["telegram"] + SENT["zalo"] >= 300 or sum(SENT.values()) == 0
