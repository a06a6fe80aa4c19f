"""The lock store (engine/lock_store.py), with Rasa 3.6's own lock code.

The scene of a Rasa server killed mid-turn: its ticket for the conversation
stays in the lock store until it expires, and the turn sent again to another
server gets the next ticket, expiring a moment later. Times are scaled down
(tickets of 0.5-0.6 s, a look once a second, as Rasa does).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from rasa.core.lock_store import InMemoryLockStore, LockStore
from rasa.utils.endpoints import EndpointConfig

from engine.lock_store import TicketSafeInMemoryLockStore, TicketSafeRedisLockStore
from tests.unavailable import unavailable

CLASS_PATH = "engine.lock_store.TicketSafeRedisLockStore"
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 11
DEAD_TICKET_SECONDS = 0.5  # the killed server's ticket
OWN_TICKET_SECONDS = 0.6  # the resent turn's: issued just after, so it expires just after
LOOK_EVERY_SECONDS = 1.0  # Rasa's default wait between looks


async def _turn_after_a_dead_ticket(store: LockStore, conversation: str, give_up_after: float) -> float:
    """Seconds until the resent turn holds the lock (TimeoutError after `give_up_after`)."""
    store.issue_ticket(conversation, DEAD_TICKET_SECONDS)  # the dead server never cleans it up
    started = time.monotonic()

    async def turn() -> float:
        async with store.lock(conversation, lock_lifetime=OWN_TICKET_SECONDS,
                              wait_time_in_seconds=LOOK_EVERY_SECONDS):
            return time.monotonic() - started

    return await asyncio.wait_for(turn(), give_up_after)


def test_rasas_own_lock_store_waits_for_ever_once_both_tickets_expired() -> None:
    # The upstream behaviour the plugin exists for: if this starts passing, Rasa fixed it.
    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(_turn_after_a_dead_ticket(InMemoryLockStore(), "c1", give_up_after=4.0))


def test_the_resent_turn_goes_ahead_once_the_dead_ticket_expired() -> None:
    waited = asyncio.run(_turn_after_a_dead_ticket(TicketSafeInMemoryLockStore(), "c1", give_up_after=4.0))
    assert DEAD_TICKET_SECONDS <= waited < 2 * LOOK_EVERY_SECONDS + DEAD_TICKET_SECONDS


def test_a_live_older_ticket_still_keeps_the_next_turn_waiting() -> None:
    store = TicketSafeInMemoryLockStore()
    order: list[str] = []

    async def first() -> None:
        async with store.lock("c1", lock_lifetime=10, wait_time_in_seconds=0.05):
            order.append("first in")
            await asyncio.sleep(0.4)
            order.append("first out")

    async def second() -> None:
        await asyncio.sleep(0.05)  # asks while the first holds the lock
        async with store.lock("c1", lock_lifetime=10, wait_time_in_seconds=0.05):
            order.append("second in")

    async def both() -> None:
        await asyncio.gather(first(), second())

    asyncio.run(both())
    assert order == ["first in", "first out", "second in"]
    assert store.get_lock("c1") is None  # cleaned up after the last turn


def test_the_redis_store_is_built_from_an_endpoint_config_and_recovers_too() -> None:
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError as error:
        unavailable(f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}: {error}")
    prefix = f"locktest{uuid.uuid4().hex[:8]}"
    store = LockStore.create(EndpointConfig(url=REDIS_HOST, type=CLASS_PATH, port=REDIS_PORT, db=REDIS_DB,
                                            key_prefix=prefix))
    try:
        assert isinstance(store, TicketSafeRedisLockStore)
        assert store.key_prefix.startswith(prefix + ":")
        waited = asyncio.run(_turn_after_a_dead_ticket(store, "web:abc", give_up_after=4.0))
        assert waited < 2 * LOOK_EVERY_SECONDS + DEAD_TICKET_SECONDS
        assert store.get_lock("web:abc") is None
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()
