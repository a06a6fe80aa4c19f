"""Sends to a platform paced across workers: one overall rate, one per-chat interval, one pause."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from bot.coordination.redis_connection import RedisConnection
from bot.coordination.send_pacing import RedisSendPacer


def _with_two_pacers(redis_url: str, prefix: str, per_key: float, overall: int,
                     work: Callable[[RedisSendPacer, RedisSendPacer], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        connections = [RedisConnection(redis_url, prefix) for _ in range(2)]
        try:
            a, b = (RedisSendPacer(c, "telegram", per_key, overall) for c in connections)
            return await work(a, b)
        finally:
            for connection in connections:
                await connection.aclose()

    return asyncio.run(run())


def test_the_overall_rate_holds_across_two_workers(redis_url: str, redis_prefix: str) -> None:
    async def work(a: RedisSendPacer, b: RedisSendPacer) -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        # 12 sends to different chats, half through each worker, 5 a second allowed in all.
        await asyncio.gather(*((a if i % 2 else b).wait(f"chat-{i}") for i in range(12)))
        return loop.time() - started

    elapsed = _with_two_pacers(redis_url, redis_prefix, 0.0, 5, work)
    assert 1.9 < elapsed < 4.0  # 5 now, 5 a second later, 2 a second after that


def test_one_chat_gets_one_send_per_interval_whichever_worker_sends(redis_url: str, redis_prefix: str) -> None:
    async def work(a: RedisSendPacer, b: RedisSendPacer) -> float:
        loop = asyncio.get_running_loop()
        await a.wait("chat-1")
        started = loop.time()
        await b.wait("chat-1")
        return loop.time() - started

    assert 0.35 < _with_two_pacers(redis_url, redis_prefix, 0.5, 30, work) < 1.2


def test_a_pause_asked_on_one_worker_holds_the_other(redis_url: str, redis_prefix: str) -> None:
    async def work(a: RedisSendPacer, b: RedisSendPacer) -> float:
        loop = asyncio.get_running_loop()
        a.pause(0.6)  # e.g. Telegram's retry_after, seen by worker A
        started = loop.time()
        await b.wait("chat-2")
        return loop.time() - started

    assert 0.45 < _with_two_pacers(redis_url, redis_prefix, 0.0, 30, work) < 1.5
