"""One turn of a conversation at a time, on any worker.

A turn is: store what the person sent, check the handoff lock, ask Rasa, store and
queue the replies. Two messages of one conversation arriving at two workers are
handled one after the other, and a counsellor's "take" (and "close", which runs the
check-in through Rasa) holds the same lock, so it waits for a turn in flight: once
take returns, the case row says `active` and every later turn, on any worker, reads
it before asking Rasa. No bot reply can reach the child after that.

- `LocalTurnLocks`: asyncio locks, for one process.
- `RedisTurnLocks`: a local lock first (tasks of one worker queue in memory), then a
  Redis key `SET NX PX` with a random token. The key expires after `ttl_seconds`, so a
  dead worker cannot block a child for longer; a live holder renews it while its turn
  runs (Rasa may take tens of seconds), and releases only its own token (Lua
  compare-and-delete).

Not reentrant: take it at the entry points (Relay.handle, Handoff.take/close), never
inside them. If Redis cannot be reached the turn goes on under the local lock only
(logged): the durable handoff lock in the database still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Protocol

import redis

from bot.coordination.redis_connection import RedisConnection

logger = logging.getLogger(__name__)

# Longer than any turn the gateway lets run (Rasa's 30 s timeout, the 90 s resend
# after a failure mid-turn, the database work around them).
DEFAULT_WAIT_SECONDS = 180.0
DEFAULT_TTL_SECONDS = 15.0
POLL_START_SECONDS = 0.005
POLL_MAX_SECONDS = 0.1

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class TurnLockTimeout(Exception):
    """Waited `wait_seconds` for a conversation's turn lock without getting it."""


class TurnLocks(Protocol):
    def hold(self, key: str) -> contextlib.AbstractAsyncContextManager[None]: ...


class LocalTurnLocks:
    """Per-key asyncio locks; a key's lock is forgotten when nobody holds or waits for it."""

    def __init__(self, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
        self._wait = wait_seconds
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            try:
                await asyncio.wait_for(lock.acquire(), timeout=self._wait)
            except TimeoutError:
                raise TurnLockTimeout(f"conversation busy for {self._wait:.0f} s") from None
            try:
                yield
            finally:
                lock.release()
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    @property
    def held_keys(self) -> int:
        return len(self._locks)


class RedisTurnLocks:
    def __init__(self, connection: RedisConnection, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
        self._connection = connection
        self._ttl_ms = max(1, int(ttl_seconds * 1000))
        self._wait = wait_seconds
        self._local = LocalTurnLocks(wait_seconds)
        self._release = connection.aio.register_script(RELEASE)
        self._renew = connection.aio.register_script(RENEW)

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        async with self._local.hold(key):
            name = self._connection.key("turn", key)
            token = uuid.uuid4().hex
            held = await self._acquire(name, token, deadline)
            renewer = asyncio.create_task(self._keep(name, token)) if held else None
            try:
                yield
            finally:
                if renewer is not None:
                    renewer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await renewer
                if held:
                    await self._let_go(name, token)

    async def _acquire(self, name: str, token: str, deadline: float) -> bool:
        """True once the key is ours; False if Redis cannot be asked (go on unlocked)."""
        loop = asyncio.get_running_loop()
        delay = POLL_START_SECONDS
        while True:
            try:
                if await self._connection.aio.set(name, token, nx=True, px=self._ttl_ms):
                    return True
            except redis.RedisError as error:
                logger.warning("turn lock: Redis unavailable, going on with this worker's lock only (%s)", error)
                return False
            if loop.time() >= deadline:
                raise TurnLockTimeout(f"conversation busy on another worker for {self._wait:.0f} s")
            await asyncio.sleep(delay)
            delay = min(POLL_MAX_SECONDS, delay * 2)

    async def _keep(self, name: str, token: str) -> None:
        """Renew the key while the turn runs (every third of its lifetime)."""
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                if not await self._renew(keys=[name], args=[token, self._ttl_ms]):
                    logger.error("turn lock %s expired while its turn was running", name)
                    return
            except redis.RedisError as error:
                logger.warning("turn lock: could not renew (%s)", error)

    async def _let_go(self, name: str, token: str) -> None:
        try:
            await self._release(keys=[name], args=[token])
        except redis.RedisError as error:  # it expires by itself
            logger.warning("turn lock: could not release (%s)", error)
