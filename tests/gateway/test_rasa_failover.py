"""The Rasa client with several servers: which one is asked, and a turn that fails mid-way.

Two fake Rasa servers share one tracker (`events`), as real ones share the tracker
store. The real multi-process proof (real Rasa processes killed mid-run) is in tests/scale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from devtools.fake_rasa import FakeRasa, unused_port

from bot.messages import BotReply
from bot.rasa_client import MESSAGE_ID_KEY, RasaClient, RasaUnavailable, turn_from_events
from bot.rasa_servers import RasaServers

SENDER = "web:failover-test"


@pytest.fixture
def two_rasas() -> Iterator[tuple[FakeRasa, FakeRasa]]:
    with FakeRasa() as first, FakeRasa() as second:
        second.events = first.events  # one tracker store behind both
        first.record_turns = second.record_turns = True
        yield first, second


def converse(urls: list[str], token: str, *texts: str, **kwargs: Any) -> list[Any]:
    async def work() -> list[Any]:
        async with RasaClient(urls, token, **kwargs) as client:
            return [await client.converse(SENDER, text) for text in texts]

    return asyncio.run(work())


def user_events(fake: FakeRasa) -> list[str]:
    return [e["text"] for e in fake.events.get(SENDER, []) if e["event"] == "user"]


def test_healthy_servers_take_turns(two_rasas: tuple[FakeRasa, FakeRasa]) -> None:
    first, second = two_rasas
    converse([first.url, second.url], first.token, "một", "hai", "ba", "bốn")
    assert len(first.webhook_calls) == 2 and len(second.webhook_calls) == 2


def test_a_server_that_refuses_connections_is_passed_over_then_skipped(fake_rasa: FakeRasa) -> None:
    down = f"http://127.0.0.1:{unused_port()}"
    attempts: list[str] = []

    class Counting(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            attempts.append(f"{request.url.scheme}://{request.url.host}:{request.url.port}")
            return await super().handle_async_request(request)

    turns = converse([down, fake_rasa.url], fake_rasa.token, "một", "hai", "ba", transport=Counting())

    assert [t.replies for t in turns] == [[BotReply(f"Mình nghe em nói: {w}")] for w in ("một", "hai", "ba")]
    # Tried once; for the next few seconds the healthy server is asked first.
    assert attempts.count(down) == 1 and len(fake_rasa.webhook_calls) == 3


def test_killed_after_saving_the_turn_the_replies_come_from_the_tracker_not_a_resend(
    two_rasas: tuple[FakeRasa, FakeRasa],
) -> None:
    first, second = two_rasas
    first.failures = ["after"]

    [turn] = converse([first.url, second.url], first.token, "em bị đánh")

    assert turn.replies == [BotReply("Mình nghe em nói: em bị đánh")]
    assert user_events(first) == ["em bị đánh"]  # one turn, not two
    assert second.webhook_calls == [] and second.tracker_reads == 1


def test_killed_before_saving_the_turn_the_message_is_sent_again_elsewhere(
    two_rasas: tuple[FakeRasa, FakeRasa],
) -> None:
    first, second = two_rasas
    first.failures = ["before"]

    [turn] = converse([first.url, second.url], first.token, "em bị đánh")

    assert turn.replies == [BotReply("Mình nghe em nói: em bị đánh")]
    assert user_events(first) == ["em bị đánh"]  # not lost
    assert len(second.webhook_calls) == 1
    # The same id both times: the resend is the same message, not a new one.
    assert second.webhook_calls[0]["metadata"] == first.webhook_calls[0]["metadata"]


def test_a_handoff_request_survives_the_rebuild(two_rasas: tuple[FakeRasa, FakeRasa]) -> None:
    first, second = two_rasas
    handoff = {"handoff": {"risk": "high", "category": "physical_violence", "consent": "given"}}
    first.reply = lambda sender, _text: [
        {"recipient_id": sender, "text": "Em đang không an toàn.",
         "buttons": [{"title": "Gặp tư vấn viên", "payload": "/request_human"}]},
        {"recipient_id": sender, "custom": handoff},
    ]
    first.failures = ["after"]

    [turn] = converse([first.url, second.url], first.token, "bố đánh em")

    assert [r.text for r in turn.replies] == ["Em đang không an toàn."]
    assert turn.replies[0].buttons[0].payload == "/request_human"
    assert turn.instructions == [handoff]


def test_a_timed_out_turn_that_was_saved_is_not_sent_again(two_rasas: tuple[FakeRasa, FakeRasa]) -> None:
    first, second = two_rasas
    first.failures = ["slow:1.5"]  # the fake saves the turn, then answers too late

    [turn] = converse([first.url, second.url], first.token, "em muốn hỏi",
                      timeout=httpx.Timeout(0.5, connect=0.5), settle_seconds=0.1)

    assert [r.text for r in turn.replies] == ["Mình nghe em nói: em muốn hỏi"]
    assert user_events(first) == ["em muốn hỏi"] and second.webhook_calls == []


def test_two_failures_in_a_row_are_one_clear_error_and_nothing_doubles(
    two_rasas: tuple[FakeRasa, FakeRasa],
) -> None:
    first, second = two_rasas
    first.failures = ["before"]
    second.failures = ["before"]
    with pytest.raises(RasaUnavailable, match="twice"):
        converse([first.url, second.url], first.token, "alo")
    assert user_events(first) == []


def test_the_turn_is_found_by_its_id_among_other_turns() -> None:
    events: list[dict[str, Any]] = [
        {"event": "user", "text": "a", "metadata": {MESSAGE_ID_KEY: "one"}},
        {"event": "bot", "text": "reply to a", "data": {}},
        {"event": "user", "text": "b", "metadata": {MESSAGE_ID_KEY: "two"}},
        {"event": "action", "name": "utter_b"},
        {"event": "bot", "text": "reply to b", "data": {"buttons": None}},
        {"event": "bot", "text": None, "data": {"custom": {"handoff": {"risk": "concern"}}}},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "c", "metadata": {}},
        {"event": "bot", "text": "reply to c", "data": {}},
    ]
    turn = turn_from_events(events, "two")
    assert turn is not None
    assert turn.replies == [BotReply("reply to b")]
    assert turn.instructions == [{"handoff": {"risk": "concern"}}]
    assert turn_from_events(events, "three") is None


def test_server_order_round_robin_and_a_pause_for_the_failed() -> None:
    now = [100.0]
    servers = RasaServers(["http://a", "http://b", "http://c"], pause_seconds=5.0, clock=lambda: now[0])
    assert [servers.order()[0] for _ in range(4)] == ["http://a", "http://b", "http://c", "http://a"]

    servers.failed("http://b")
    now[0] += 1
    servers.failed("http://a")
    assert servers.order() == ["http://c", "http://b", "http://a"]  # healthy first, then oldest failure
    now[0] += 4.5  # b rested long enough (5.5 s), a not yet (4.5 s)
    assert servers.order()[-1] == "http://a" and "http://b" in servers.order()[:2]
    servers.succeeded("http://a")
    assert sorted(servers.order()) == ["http://a", "http://b", "http://c"]


def test_through_the_web_chat_a_server_dying_mid_turn_costs_the_child_nothing(
    two_rasas: tuple[FakeRasa, FakeRasa], tmp_path: Any, conversation_id: str,
) -> None:
    from fastapi.testclient import TestClient
    from tests.gateway.gateway_support import make_settings

    from bot.app import create_app

    first, second = two_rasas
    settings = make_settings(tmp_path, first.url, first.token, RASA_URLS=f"{first.url},{second.url}")
    first.failures = ["after"]  # the first message: saved, then the server died (rebuilt from the tracker)
    second.failures = ["before"]  # the second: the server died before saving it (sent again)
    with TestClient(create_app(settings)) as client:
        answers = [client.post(f"/api/webchat/{conversation_id}/messages", json={"text": text}).json()["messages"]
                   for text in ("một", "hai", "ba", "bốn")]
        polled = client.get(f"/api/webchat/{conversation_id}/messages").json()["messages"]

    expected = [f"Mình nghe em nói: {w}" for w in ("một", "hai", "ba", "bốn")]
    assert [[m["text"] for m in answer] for answer in answers] == [[e] for e in expected]
    assert [m["text"] for m in polled] == expected  # each reply stored once, in order
    sender = f"web:{conversation_id}"
    assert [e["text"] for e in first.events[sender] if e["event"] == "user"] == ["một", "hai", "ba", "bốn"]
    assert len(first.webhook_calls) + len(second.webhook_calls) == 5  # only "hai" went twice
