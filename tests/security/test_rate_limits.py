"""Per-person rate limits (bot/coordination/rate_limits.py) and the message size cap, on every channel."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from tests.gateway.gateway_support import make_settings
from sqlalchemy import select

from bot import inbox
from bot.app import create_app
from bot.cases.crypto import Keyring
from bot.channels.intake import Intake
from bot.db import Database, migrate
from bot.messages import Inbound
from bot.models import utc_now
from bot.rasa_client import RasaClient
from bot.coordination.rate_limits import LocalRateLimiter
from bot.relay import Relay


def test_a_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    limiter = LocalRateLimiter(burst=3, per_minute=60, clock=lambda: now[0])
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(1.0)
    assert limiter.acquire("b") == 0.0  # someone else is not slowed
    now[0] = 1.0
    assert limiter.acquire("a") == 0.0
    assert limiter.retry_after("a") == 1


def test_memory_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.coordination.rate_limits as module

    monkeypatch.setattr(module, "MAX_KEYS", 100)
    now = [0.0]
    limiter = LocalRateLimiter(burst=2, per_minute=60, clock=lambda: now[0])
    for i in range(1000):
        now[0] += 0.01
        limiter.acquire(f"k{i}")
    assert len(limiter._buckets) <= 200  # full buckets are forgotten


def test_web_chat_flood_gets_429_and_slows_only_that_conversation(tmp_path: Path, fake_rasa) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, fake_rasa.url, fake_rasa.token, RATE_LIMIT_BURST="3", RATE_LIMIT_PER_MINUTE="2")
    flooder, other = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    with TestClient(create_app(settings)) as client:
        codes = [client.post(f"/api/webchat/{flooder}/messages", json={"text": f"tin {i}"}).status_code
                 for i in range(10)]
        assert codes[:3] == [200, 200, 200] and set(codes[3:]) == {429}
        refused = client.post(f"/api/webchat/{flooder}/messages", json={"text": "nữa"})
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1
        assert client.post(f"/api/webchat/{other}/messages", json={"text": "xin chào"}).status_code == 200
    # Refused messages were neither stored nor passed to Rasa.
    assert fake_rasa.texts_received() == ["tin 0", "tin 1", "tin 2", "xin chào"]


def test_push_channel_flood_is_deferred_in_order_while_others_go_on(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'app.db'}", Keyring([Fernet.generate_key().decode()]))
    migrate(database)
    handled: list[str] = []

    async def handler(payload: dict[str, object]) -> None:
        handled.append(str(payload["n"]))

    async def scenario() -> None:
        intake = Intake(database, lease_seconds=60, limiter=LocalRateLimiter(burst=2, per_minute=1))
        intake.register("telegram:1", handler)
        for n in range(6):
            await intake.accept("telegram:1", f"flood-{n}", "111", {"n": f"flood-{n}"})
        await intake.accept("telegram:1", "calm-0", "222", {"n": "calm-0"})
        stop = asyncio.Event()
        runner = asyncio.create_task(intake.run(stop))
        await asyncio.sleep(2.5)
        stop.set()
        await runner

    asyncio.run(scenario())
    assert handled.count("calm-0") == 1
    assert [h for h in handled if h.startswith("flood")] == ["flood-0", "flood-1"]  # in order, then slowed
    with database.session() as session:
        waiting = session.scalars(select(inbox.InboundUpdate).where(
            inbox.InboundUpdate.conversation_key == "111", inbox.InboundUpdate.status == inbox.PENDING)).all()
        assert len(waiting) == 4  # nothing lost: each comes later
        assert all(u.attempts == 0 for u in waiting)
        first = min(waiting, key=lambda u: u.id)  # deferred; the later ones wait behind it, in order
        assert first.next_attempt_at.replace(tzinfo=utc_now().tzinfo) > utc_now() + timedelta(seconds=20)
    database.dispose()


@pytest.mark.parametrize("channel", ["web", "telegram", "zalo"])
def test_the_size_cap_holds_on_every_channel(tmp_path: Path, fake_rasa, channel: str) -> None:  # type: ignore[no-untyped-def]
    """Every channel hands text to Relay.handle, which refuses over-long text before Rasa."""
    database = Database(f"sqlite:///{tmp_path / 'app.db'}", Keyring([Fernet.generate_key().decode()]))
    migrate(database)

    async def scenario() -> list[str]:
        rasa = RasaClient(fake_rasa.url, fake_rasa.token)
        relay = Relay(database, rasa, max_message_chars=50)
        replies = await relay.handle(Inbound(channel=channel, external_id="someone-123", text="a" * 51))
        await rasa.aclose()
        return [r.text for r in replies]

    texts = asyncio.run(scenario())
    assert "tối đa 50 ký tự" in texts[0]
    assert fake_rasa.webhook_calls == []
    database.dispose()
