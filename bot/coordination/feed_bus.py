"""The console's live feed across workers: Redis pub/sub behind bot.cases.feed.CaseFeed.

Each worker delivers its own notices to its own consoles at once (bot/cases/feed.py)
and also publishes them on one Redis channel; it passes on to its consoles the notices
published by the other workers. A notice only says "case 12 changed": the console then
reads the database, so a notice lost while Redis is away costs a late refresh, never data
(a console also re-reads everything whenever its stream reconnects).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

import redis

from bot.cases.feed import CaseFeed, Notice
from bot.coordination.redis_connection import RedisConnection

logger = logging.getLogger(__name__)

OUTGOING_BUFFER = 1000
RECONNECT_SECONDS = 1.0


class RedisFeedBus:
    def __init__(self, connection: RedisConnection) -> None:
        self._connection = connection
        self.channel = connection.key("feed")
        self.origin = uuid.uuid4().hex  # this worker: its own notices are not delivered twice
        self._outgoing: asyncio.Queue[Notice] = asyncio.Queue(OUTGOING_BUFFER)
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()

    def attach(self, feed: CaseFeed) -> None:
        """Publish what `feed` publishes; start the publisher and the listener (in the event loop)."""
        feed.add_forwarder(self.forward)
        self._tasks = [asyncio.create_task(self._publish_forever()),
                       asyncio.create_task(self._listen_forever(feed))]

    async def wait_subscribed(self, timeout: float) -> None:
        await asyncio.wait_for(self._subscribed.wait(), timeout)

    def forward(self, notice: Notice) -> None:
        try:
            self._outgoing.put_nowait(notice)
        except asyncio.QueueFull:
            logger.warning("live feed: Redis is behind, a notice was dropped")

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _publish_forever(self) -> None:
        while True:
            notice = await self._outgoing.get()
            message = json.dumps({"origin": self.origin, "kind": notice.kind, "case_id": notice.case_id,
                                  "data": notice.data})
            try:
                await self._connection.aio.publish(self.channel, message)
            except redis.RedisError as error:
                logger.warning("live feed: could not publish to Redis (%s)", error)

    async def _listen_forever(self, feed: CaseFeed) -> None:
        while True:
            try:
                async with self._connection.aio.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        notice = self._decode(message)
                        if notice is not None:
                            feed.deliver(notice)
            except redis.RedisError as error:
                self._subscribed.clear()
                logger.warning("live feed: Redis subscription lost (%s); reconnecting", error)
                await asyncio.sleep(RECONNECT_SECONDS)

    def _decode(self, message: dict[str, Any]) -> Notice | None:
        if message.get("type") != "message":
            return None
        try:
            data = json.loads(message["data"])
            if data.get("origin") == self.origin:
                return None
            extra = data.get("data")
            return Notice(str(data["kind"]), data.get("case_id"), extra if isinstance(extra, dict) else None)
        except (ValueError, KeyError, TypeError):
            logger.warning("live feed: ignoring a malformed notice")
            return None
