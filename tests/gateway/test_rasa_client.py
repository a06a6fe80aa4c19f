from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import httpx
import pytest
from devtools.fake_rasa import FakeRasa, unused_port

from bot.messages import BotReply, Button
from bot.rasa_client import RasaClient, RasaUnavailable


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def _with_client(url: str, token: str, work: Any, **kwargs: Any) -> Any:
    async with RasaClient(url, token, **kwargs) as client:
        return await work(client)


def test_send_message_speaks_the_rest_webhook_shape(fake_rasa: FakeRasa) -> None:
    replies = run(_with_client(fake_rasa.url, fake_rasa.token,
                               lambda c: c.send_message("web:abc", "Xin chào", {"channel": "web"})))

    [call] = fake_rasa.webhook_calls
    message_id = call["metadata"].pop("gateway_message_id")  # the gateway's own id of the message
    assert call == {"sender": "web:abc", "message": "Xin chào", "metadata": {"channel": "web"}}
    assert len(message_id) == 32
    assert replies[0] == BotReply("Chào em! Hôm nay em thế nào?")
    assert replies[1].buttons[0] == Button("Em đang buồn", "/mental_health")


def test_messages_the_gateway_cannot_show_are_dropped(fake_rasa: FakeRasa) -> None:
    fake_rasa.reply = lambda sender, _text: [
        {"recipient_id": sender, "image": "https://example.invalid/cat.png"},
        {"recipient_id": sender, "custom": {"handoff": True}},
        {"recipient_id": sender, "buttons": [{"title": "Có", "payload": "/affirm"}, {"title": "x"}]},
        "not a message",
    ]
    replies = run(_with_client(fake_rasa.url, fake_rasa.token, lambda c: c.send_message("s", "hi")))

    assert replies == [BotReply(text="", buttons=(Button("Có", "/affirm"),))]


def test_tracker_and_events_use_the_token(fake_rasa: FakeRasa) -> None:
    async def work(client: RasaClient) -> Any:
        await client.append_events("web:abc-_1", [{"event": "pause"}])
        return await client.get_tracker("web:abc-_1")

    tracker = run(_with_client(fake_rasa.url, fake_rasa.token, work))

    assert tracker == {"sender_id": "web:abc-_1", "events": [{"event": "pause"}]}


@pytest.mark.parametrize("sender_id", ["web:../../status", "web:a/b", "web:a?token=x", "web:a b", ""])
def test_a_sender_id_that_could_change_the_path_is_refused(fake_rasa: FakeRasa, sender_id: str) -> None:
    with pytest.raises(ValueError):
        run(_with_client(fake_rasa.url, fake_rasa.token, lambda c: c.get_tracker(sender_id)))


def test_a_wrong_token_is_an_error(fake_rasa: FakeRasa) -> None:
    with pytest.raises(RasaUnavailable, match="401"):
        run(_with_client(fake_rasa.url, "wrong", lambda c: c.get_tracker("web:abc")))
    assert run(_with_client(fake_rasa.url, "wrong", lambda c: c.is_ready())) is False


def test_rasa_down_is_one_clear_error_after_retrying() -> None:
    with pytest.raises(RasaUnavailable, match="cannot connect"):
        run(_with_client(f"http://127.0.0.1:{unused_port()}", "t", lambda c: c.send_message("s", "hi")))


def test_a_connection_error_is_retried(fake_rasa: FakeRasa) -> None:
    attempts = []

    class FlakyTransport(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            attempts.append(request.url.path)
            if len(attempts) == 1:
                raise httpx.ConnectError("refused", request=request)
            return await super().handle_async_request(request)

    replies = run(_with_client(fake_rasa.url, fake_rasa.token, lambda c: c.send_message("s", "hi"),
                               transport=FlakyTransport()))

    assert len(attempts) == 2 and replies == [BotReply("Mình nghe em nói: hi")]


def test_a_slow_rasa_is_not_retried_and_times_out() -> None:
    # A server that accepts and never answers: the message may be in progress, so no retry.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        accepted = []
        threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
        url = "http://127.0.0.1:%d" % server.getsockname()[1]

        with pytest.raises(RasaUnavailable, match="Timeout"):
            run(_with_client(url, "t", lambda c: c.send_message("s", "hi"),
                             timeout=httpx.Timeout(0.5, connect=0.5)))
        assert len(accepted) == 1


def test_invalid_json_from_rasa_is_an_error(fake_rasa: FakeRasa) -> None:
    fake_rasa.reply = lambda _s, _t: {"not": "a list"}  # type: ignore[assignment,return-value]
    with pytest.raises(RasaUnavailable, match="list"):
        run(_with_client(fake_rasa.url, fake_rasa.token, lambda c: c.send_message("s", "hi")))
