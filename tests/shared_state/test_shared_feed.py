"""The console's live feed across workers: a notice published on one worker reaches
consoles connected to another, once, through Redis pub/sub."""

from __future__ import annotations

import asyncio
from pathlib import Path

from devtools.fake_rasa import FakeRasa
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.cases.feed import CaseFeed, Notice
from bot.coordination.feed_bus import RedisFeedBus
from bot.coordination.redis_connection import RedisConnection
from bot.settings import load_settings


def test_a_notice_reaches_the_other_workers_console_once(redis_url: str, redis_prefix: str) -> None:
    async def work() -> tuple[list[Notice], list[Notice]]:
        connections = [RedisConnection(redis_url, redis_prefix) for _ in range(2)]
        feeds = [CaseFeed(), CaseFeed()]
        buses = [RedisFeedBus(c) for c in connections]
        for bus, feed in zip(buses, feeds, strict=True):
            bus.attach(feed)
        try:
            for bus in buses:
                await bus.wait_subscribed(5)
            console_on_a, console_on_b = feeds[0].subscribe(), feeds[1].subscribe()
            feeds[0].publish(Notice("queue", 12))
            feeds[1].publish(Notice("alert", 7, {"risk": "high", "minutes": 3}))
            got_b = [await asyncio.wait_for(console_on_b.get(), 5) for _ in range(2)]
            got_a = [await asyncio.wait_for(console_on_a.get(), 5) for _ in range(2)]
            await asyncio.sleep(0.2)  # anything more would be a duplicate
            assert console_on_a.empty() and console_on_b.empty()
            return got_a, got_b
        finally:
            for bus in buses:
                await bus.aclose()
            for connection in connections:
                await connection.aclose()

    got_a, got_b = asyncio.run(work())
    expected = [Notice("queue", 12), Notice("alert", 7, {"risk": "high", "minutes": 3})]
    # Each console: its own worker's notice at once, the other's through Redis.
    assert sorted(got_a, key=repr) == sorted(expected, key=repr) == sorted(got_b, key=repr)


def test_two_gateway_workers_share_the_feed(tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    with FakeRasa() as rasa:
        settings = load_settings({"DATA_DIR": str(tmp_path), "RASA_URL": rasa.url, "RASA_TOKEN": rasa.token,
                                  "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": redis_prefix})
        with TestClient(create_app(settings)) as worker_a, TestClient(create_app(settings)) as worker_b:
            feed_a = worker_a.app.state.handoff.feed  # type: ignore[attr-defined]
            feed_b = worker_b.app.state.handoff.feed  # type: ignore[attr-defined]
            for worker in (worker_a, worker_b):
                worker.portal.call(worker.app.state.coordination.bus.wait_subscribed, 5)  # type: ignore[union-attr,attr-defined]
            console_on_b = worker_b.portal.call(feed_b.subscribe)  # type: ignore[union-attr]
            worker_a.portal.call(feed_a.publish, Notice("queue", 42))  # type: ignore[union-attr]

            async def next_notice() -> Notice:
                return await asyncio.wait_for(console_on_b.get(), 5)

            assert worker_b.portal.call(next_notice) == Notice("queue", 42)  # type: ignore[union-attr]
