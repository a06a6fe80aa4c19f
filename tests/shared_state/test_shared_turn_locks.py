"""The per-conversation turn lock across workers (Redis), and what it guarantees."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from bot.coordination.redis_connection import RedisConnection
from bot.coordination.turn_locks import LocalTurnLocks, RedisTurnLocks, TurnLockTimeout


def run(work: Callable[[], Any]) -> Any:
    return asyncio.run(work())


async def _connections(url: str, prefix: str, count: int) -> list[RedisConnection]:
    return [RedisConnection(url, prefix) for _ in range(count)]


async def _close(connections: list[RedisConnection]) -> None:
    for connection in connections:
        await connection.aclose()


async def _hold_and_record(locks: Any, key: str, log: list[str], name: str, seconds: float) -> None:
    async with locks.hold(key):
        log.append(f"{name} in")
        await asyncio.sleep(seconds)
        log.append(f"{name} out")


def test_two_workers_take_turns_on_one_conversation(redis_url: str, redis_prefix: str) -> None:
    async def work() -> list[str]:
        a, b = await _connections(redis_url, redis_prefix, 2)
        log: list[str] = []
        try:
            first = asyncio.create_task(_hold_and_record(RedisTurnLocks(a), "web:c1", log, "A", 0.3))
            await asyncio.sleep(0.05)
            await _hold_and_record(RedisTurnLocks(b), "web:c1", log, "B", 0.0)
            await first
        finally:
            await _close([a, b])
        return log

    assert run(work) == ["A in", "A out", "B in", "B out"]


def test_other_conversations_are_not_held_up(redis_url: str, redis_prefix: str) -> None:
    async def work() -> list[str]:
        a, b = await _connections(redis_url, redis_prefix, 2)
        log: list[str] = []
        try:
            first = asyncio.create_task(_hold_and_record(RedisTurnLocks(a), "web:c1", log, "A", 0.3))
            await asyncio.sleep(0.05)
            await _hold_and_record(RedisTurnLocks(b), "web:c2", log, "B", 0.0)
            await first
        finally:
            await _close([a, b])
        return log

    assert run(work) == ["A in", "B in", "B out", "A out"]


def test_a_dead_workers_lock_expires(redis_url: str, redis_prefix: str) -> None:
    async def work() -> float:
        [a] = await _connections(redis_url, redis_prefix, 1)
        try:
            # What a worker killed mid-turn leaves behind: its key, never released.
            await a.aio.set(a.key("turn", "web:c1"), "dead-worker", px=400)
            loop = asyncio.get_running_loop()
            started = loop.time()
            async with RedisTurnLocks(a, ttl_seconds=5).hold("web:c1"):
                return loop.time() - started
        finally:
            await _close([a])

    assert 0.3 < run(work) < 1.5


def test_a_long_turn_keeps_its_lock_past_the_expiry(redis_url: str, redis_prefix: str) -> None:
    async def work() -> list[str]:
        a, b = await _connections(redis_url, redis_prefix, 2)
        log: list[str] = []
        try:
            # A turn three times as long as the key's lifetime: renewed, never lost.
            first = asyncio.create_task(_hold_and_record(RedisTurnLocks(a, ttl_seconds=0.3), "web:c1", log, "A", 0.9))
            await asyncio.sleep(0.05)
            await _hold_and_record(RedisTurnLocks(b, ttl_seconds=0.3), "web:c1", log, "B", 0.0)
            await first
            assert await a.aio.exists(a.key("turn", "web:c1")) == 0  # released at the end
        finally:
            await _close([a, b])
        return log

    assert run(work) == ["A in", "A out", "B in", "B out"]


def test_releasing_never_deletes_someone_elses_lock(redis_url: str, redis_prefix: str) -> None:
    async def work() -> bytes | None:
        [a] = await _connections(redis_url, redis_prefix, 1)
        name = a.key("turn", "web:c1")
        try:
            async with RedisTurnLocks(a, ttl_seconds=0.2).hold("web:c1"):
                await a.aio.delete(name)  # as if it had expired...
                await a.aio.set(name, "another-worker", px=5000)  # ...and another worker took it
            return await a.aio.get(name)
        finally:
            await _close([a])

    assert run(work) == b"another-worker"


def test_waiting_too_long_is_an_error(redis_url: str, redis_prefix: str) -> None:
    async def work() -> None:
        [a] = await _connections(redis_url, redis_prefix, 1)
        try:
            await a.aio.set(a.key("turn", "web:c1"), "stuck-worker", px=5000)
            async with RedisTurnLocks(a, wait_seconds=0.2).hold("web:c1"):
                pass
        finally:
            await _close([a])

    with pytest.raises(TurnLockTimeout):
        run(work)


def test_without_redis_the_turn_goes_on_under_the_local_lock(redis_prefix: str) -> None:
    from devtools.fake_rasa import unused_port

    async def work() -> list[str]:
        [a] = await _connections(f"redis://127.0.0.1:{unused_port()}/0", redis_prefix, 1)
        locks = RedisTurnLocks(a)
        log: list[str] = []
        try:
            await asyncio.gather(_hold_and_record(locks, "web:c1", log, "A", 0.1),
                                 _hold_and_record(locks, "web:c1", log, "B", 0.0))
        finally:
            await _close([a])
        return log

    assert run(work) == ["A in", "A out", "B in", "B out"]


def test_local_locks_are_forgotten_when_free() -> None:
    async def work() -> int:
        locks = LocalTurnLocks()
        log: list[str] = []
        await asyncio.gather(*(_hold_and_record(locks, f"k{i % 3}", log, str(i), 0.01) for i in range(9)))
        return locks.held_keys

    assert run(work) == 0
