"""The web chat's GET (polling) is rate-limited per conversation and per client address,
with its own budget: polling never uses up what a child may send (real gateway app, fake Rasa)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.gateway.gateway_support import make_settings

from bot import webchat
from bot.app import create_app
from bot.coordination.rate_limits import ChannelLimits, LocalRateLimiter


class Clock:
    """The limiters' clock, moved by hand: the test machine's speed must not matter."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(tmp_path: Path, fake_rasa, clock: Clock) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, fake_rasa.url, fake_rasa.token)
    with TestClient(create_app(settings)) as test_client:
        # The app's own polling limits (made on the first poll), read back and rebuilt on the test clock.
        assert _poll(test_client, secrets.token_urlsafe(18)) == 200
        made = test_client.app.state.poll_limits
        assert (made.per_person.burst, made.per_person.rate * 60) == (webchat.POLL_BURST, webchat.POLL_PER_MINUTE)
        assert made.per_address.burst == webchat.POLL_BURST * ChannelLimits.ADDRESS_FACTOR
        made.per_person = LocalRateLimiter(int(made.per_person.burst), made.per_person.rate * 60, clock=clock)
        made.per_address = LocalRateLimiter(int(made.per_address.burst), made.per_address.rate * 60, clock=clock)
        yield test_client


def _poll(client: TestClient, conversation: str) -> int:
    return client.get(f"/api/webchat/{conversation}/messages?after=0").status_code


def test_a_conversation_polling_too_fast_gets_429_and_others_do_not(client: TestClient, clock: Clock) -> None:
    flooding, other = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    codes = [_poll(client, flooding) for _ in range(webchat.POLL_BURST + 5)]
    assert codes[: webchat.POLL_BURST] == [200] * webchat.POLL_BURST
    assert set(codes[webchat.POLL_BURST:]) == {429}

    response = client.get(f"/api/webchat/{flooding}/messages")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    # The bucket refills at POLL_PER_MINUTE: the next poll is allowed within a second.
    assert 1 <= int(response.headers["Retry-After"]) <= 60 / webchat.POLL_PER_MINUTE + 1

    clock.now += 60 / webchat.POLL_PER_MINUTE
    assert [_poll(client, flooding), _poll(client, flooding)] == [200, 429]  # one refilled, no more

    assert _poll(client, other) == 200  # same address, another conversation: unaffected
    # Polling did not spend the sending budget: the child can still write.
    sent = client.post(f"/api/webchat/{flooding}/messages", json={"text": "xin chào"})
    assert sent.status_code == 200, sent.text


def test_one_address_polling_for_many_conversations_is_limited_too(client: TestClient, clock: Clock) -> None:
    per_address = webchat.POLL_BURST * ChannelLimits.ADDRESS_FACTOR
    codes = []
    # A fresh conversation id every time: only the address bucket can stop it.
    for _ in range(per_address + 10):
        codes.append(_poll(client, secrets.token_urlsafe(18)))
    assert codes.count(200) == per_address
    assert set(codes[per_address:]) == {429}
    clock.now += 60.0  # a minute later the address may poll again
    assert _poll(client, secrets.token_urlsafe(18)) == 200


def test_the_page_polling_as_it_does_stays_well_under_the_limit() -> None:
    poll_ms = int(next(line for line in (Path(webchat.__file__).parent / "static" / "chat.js").read_text().splitlines()
                       if "const POLL_MS" in line).split("=")[1].strip(" ;"))
    assert 60_000 / poll_ms * 4 <= webchat.POLL_PER_MINUTE  # four open tabs of one conversation still pass
