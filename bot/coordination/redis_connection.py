"""Redis clients for the gateway's shared state, and the names of its keys.

One synchronous client (the rate limits are asked from synchronous code, a
loopback round trip of well under a millisecond) and one asyncio client (locks,
pub/sub). Short timeouts: Redis is an aid here, never worth a stuck request.
"""

from __future__ import annotations

import redis
import redis.asyncio

SOCKET_TIMEOUT_SECONDS = 0.5


class RedisConnection:
    def __init__(self, url: str, key_prefix: str) -> None:
        self.url = url
        self.prefix = key_prefix
        options = {"socket_timeout": SOCKET_TIMEOUT_SECONDS, "socket_connect_timeout": SOCKET_TIMEOUT_SECONDS,
                   "health_check_interval": 30}
        self.sync = redis.Redis.from_url(url, **options)
        self.aio = redis.asyncio.Redis.from_url(url, **options)

    def key(self, *parts: str) -> str:
        """`<prefix><part>:<part>...`: every key of this gateway, so tests (or a shared
        Redis) can tell them apart and delete only their own."""
        return self.prefix + ":".join(parts)

    async def aclose(self) -> None:
        await self.aio.aclose()
        self.sync.close()
