"""Per-person rate limits shared through Redis: a flood split across workers is limited once."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from devtools.fake_rasa import FakeRasa, unused_port
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.coordination.rate_limits import RedisRateLimiter
from bot.coordination.redis_connection import RedisConnection
from bot.settings import load_settings


@pytest.fixture
def two_connections(redis_url: str, redis_prefix: str) -> Iterator[tuple[RedisConnection, RedisConnection]]:
    # Two connections = two worker processes as far as Redis can tell.
    first, second = RedisConnection(redis_url, redis_prefix), RedisConnection(redis_url, redis_prefix)
    yield first, second
    first.sync.close()
    second.sync.close()


def test_a_flood_split_across_two_workers_is_limited_once(
    two_connections: tuple[RedisConnection, RedisConnection],
) -> None:
    a, b = (RedisRateLimiter(c, "person", burst=4, per_minute=6) for c in two_connections)
    waits = [(a if i % 2 else b).acquire("web:flooder") for i in range(6)]

    assert waits[:4] == [0.0] * 4  # the burst, whichever worker took it
    # Then one token every 10 s (6 a minute), for both workers alike.
    assert 9.0 < waits[4] <= 10.0 and 9.0 < waits[5] <= 10.0
    assert b.retry_after("web:flooder") == 10
    # Someone else is not affected.
    assert a.acquire("web:someone-else") == 0.0


def test_tokens_come_back_at_the_configured_rate(two_connections: tuple[RedisConnection, RedisConnection]) -> None:
    a, b = (RedisRateLimiter(c, "person", burst=1, per_minute=600) for c in two_connections)  # 10 a second
    assert a.acquire("k") == 0.0
    assert b.acquire("k") > 0.0
    time.sleep(0.15)
    assert b.acquire("k") == 0.0


def test_a_bucket_is_forgotten_once_it_would_be_full(
    two_connections: tuple[RedisConnection, RedisConnection], redis_prefix: str,
) -> None:
    connection = two_connections[0]
    limiter = RedisRateLimiter(connection, "person", burst=3, per_minute=60)
    limiter.acquire("web:quiet")
    ttl_ms = connection.sync.pttl(f"{redis_prefix}rate:person:web:quiet")
    assert 1000 < ttl_ms <= 2000  # one token to refill (1 s) plus a second of margin


def test_without_redis_messages_are_allowed(redis_prefix: str) -> None:
    connection = RedisConnection(f"redis://127.0.0.1:{unused_port()}/0", redis_prefix)
    limiter = RedisRateLimiter(connection, "person", burst=1, per_minute=1)
    assert [limiter.acquire("web:x") for _ in range(3)] == [0.0, 0.0, 0.0]


def test_two_gateway_workers_answer_429_to_one_flood(
    tmp_path: Path, redis_url: str, redis_prefix: str, postgres_database: str,
) -> None:
    conversation = secrets.token_urlsafe(16)
    with FakeRasa() as rasa:
        settings = load_settings({
            "DATA_DIR": str(tmp_path), "RASA_URL": rasa.url, "RASA_TOKEN": rasa.token,
            "APP_DATABASE_URL": postgres_database, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": redis_prefix,
            "RATE_LIMIT_BURST": "3", "RATE_LIMIT_PER_MINUTE": "1",
        })
        with TestClient(create_app(settings)) as worker_a, TestClient(create_app(settings)) as worker_b:
            statuses = [
                (worker_a if i % 2 == 0 else worker_b)
                .post(f"/api/webchat/{conversation}/messages", json={"text": f"tin {i}"}).status_code
                for i in range(5)
            ]
        assert statuses == [200, 200, 200, 429, 429]
        assert len(rasa.webhook_calls) == 3


def test_redis_keys_carry_the_prefix(two_connections: tuple[RedisConnection, RedisConnection],
                                     redis_prefix: str, redis_url: str) -> None:
    RedisRateLimiter(two_connections[0], "address", burst=2, per_minute=2).acquire("10.0.0.1")
    client = redis.Redis.from_url(redis_url)
    try:
        assert [k.decode() for k in client.scan_iter(match=redis_prefix + "*")] == [
            f"{redis_prefix}rate:address:10.0.0.1"
        ]
    finally:
        client.close()


def test_polling_is_limited_once_across_two_workers_and_apart_from_sending(
    tmp_path: Path, redis_url: str, redis_prefix: str, postgres_database: str,
) -> None:
    from bot import webchat

    conversation = secrets.token_urlsafe(16)
    with FakeRasa() as rasa:
        settings = load_settings({
            "DATA_DIR": str(tmp_path), "RASA_URL": rasa.url, "RASA_TOKEN": rasa.token,
            "APP_DATABASE_URL": postgres_database, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": redis_prefix,
        })
        with TestClient(create_app(settings)) as worker_a, TestClient(create_app(settings)) as worker_b:
            assert worker_a.post(f"/api/webchat/{conversation}/messages", json={"text": "alo"}).status_code == 200
            started = time.monotonic()
            statuses = [
                (worker_a if i % 2 == 0 else worker_b)
                .get(f"/api/webchat/{conversation}/messages").status_code
                for i in range(2 * webchat.POLL_BURST)
            ]
            refilled = (time.monotonic() - started) * webchat.POLL_PER_MINUTE / 60
            # Polling spent its own budget, not the sending one.
            sent = worker_b.post(f"/api/webchat/{conversation}/messages", json={"text": "còn đó không"})
    # Each worker alone would have let a whole burst through (2 x POLL_BURST in all).
    allowed = statuses.count(200)
    assert webchat.POLL_BURST <= allowed <= webchat.POLL_BURST + refilled + 1
    assert statuses.count(429) == len(statuses) - allowed
    assert sent.status_code == 200
