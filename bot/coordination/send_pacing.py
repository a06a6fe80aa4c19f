"""Pacing of sends to a platform, so a channel's rate limits are never hit on purpose.

At most one send per `per_key_interval` to the same chat, at most `overall_per_second` in
total, and a global pause when the platform asks for one (Telegram's `retry_after`, Zalo's
`-32`). Two implementations of one interface, chosen once at start-up (bot/channels/push.py
asks bot/coordination/build.py):

- `LocalSendPacer` paces one process (each channel has its own);
- `RedisSendPacer` paces every gateway worker together: the platforms' limits are per bot or
  per Official Account, not per process (Telegram allows about 30 messages a second in all and
  one a second per chat, and when it answers "retry after N s" every worker must hold back).
  The schedule lives in Redis and one Lua script (on Redis's clock) decides each send
  atomically. If Redis cannot be asked, this worker paces itself alone (a `LocalSendPacer`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

import redis

from bot.coordination.redis_connection import RedisConnection

logger = logging.getLogger(__name__)

_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""
# KEYS: pause-until, the key's next send, the last second's sends (sorted set).
# ARGV: per-key interval (s), sends allowed per second, a unique member.
# Returns "0" (send now, counted) or the seconds to wait.
TAKE_SLOT = _NOW + """
local interval = tonumber(ARGV[1])
local overall = tonumber(ARGV[2])
local delay = math.max(0, (tonumber(redis.call('GET', KEYS[1]) or '0')) - now,
                          (tonumber(redis.call('GET', KEYS[2]) or '0')) - now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - 1)
if redis.call('ZCARD', KEYS[3]) >= overall then
  local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  delay = math.max(delay, 1 - (now - tonumber(oldest[2])))
end
if delay > 0 then return tostring(delay) end
redis.call('ZADD', KEYS[3], now, ARGV[3])
redis.call('PEXPIRE', KEYS[3], 2000)
if interval > 0 then
  redis.call('SET', KEYS[2], tostring(now + interval), 'PX', math.ceil(interval * 1000) + 1000)
end
return '0'
"""
# KEYS[1]: a pause-until key. ARGV[1]: seconds. Only ever extends the pause.
PAUSE = _NOW + """
local seconds = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + seconds > current then
  redis.call('SET', KEYS[1], tostring(now + seconds), 'PX', math.ceil(seconds * 1000) + 1000)
end
return 1
"""
MAX_WAIT_STEP_SECONDS = 1.0


class LocalSendPacer:
    """Pacing in one process (the channel's own, and a Redis pacer's fallback)."""

    def __init__(self, per_key_interval: float, overall_per_second: int) -> None:
        self._per_key_interval = per_key_interval
        self._overall = overall_per_second
        self._next_for_key: dict[str, float] = {}
        self._recent: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        """Hold every send for `seconds` (the platform said we went too fast)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def pause_key(self, key: str, seconds: float) -> None:
        self._next_for_key[key] = max(self._next_for_key.get(key, 0.0), time.monotonic() + seconds)

    async def wait(self, key: str) -> None:
        """Return when a send to `key` is allowed, and count it."""
        while True:
            async with self._lock:
                now = time.monotonic()
                while self._recent and now - self._recent[0] >= 1.0:
                    self._recent.popleft()
                delay = max(self._paused_until - now, self._next_for_key.get(key, 0.0) - now)
                if len(self._recent) >= self._overall:
                    delay = max(delay, 1.0 - (now - self._recent[0]))
                if delay <= 0:
                    self._recent.append(now)
                    self._next_for_key[key] = now + self._per_key_interval
                    if len(self._next_for_key) > 10_000:  # forget chats long quiet
                        self._next_for_key = {k: t for k, t in self._next_for_key.items() if t > now}
                    return
            await asyncio.sleep(delay)


class RedisSendPacer:
    def __init__(self, connection: RedisConnection, channel: str, per_key_interval: float,
                 overall_per_second: int) -> None:
        self._connection = connection
        self._channel = channel
        self._interval = per_key_interval
        self._overall = overall_per_second
        self._take = connection.aio.register_script(TAKE_SLOT)
        self._pause = connection.sync.register_script(PAUSE)
        self._alone = LocalSendPacer(per_key_interval, overall_per_second)  # when Redis is away
        self._sequence = 0

    def pause(self, seconds: float) -> None:
        """Hold every send of this channel, on every worker, for `seconds`."""
        self._alone.pause(seconds)
        self._set_pause(self._connection.key("pace", self._channel, "pause"), seconds)

    def pause_key(self, key: str, seconds: float) -> None:
        self._alone.pause_key(key, seconds)
        self._set_pause(self._connection.key("pace", self._channel, "next", key), seconds)

    async def wait(self, key: str) -> None:
        """Return when a send to `key` is allowed, and count it."""
        while True:
            self._sequence += 1
            try:
                raw = await self._take(
                    keys=[self._connection.key("pace", self._channel, "pause"),
                          self._connection.key("pace", self._channel, "next", key),
                          self._connection.key("pace", self._channel, "recent")],
                    args=[repr(float(self._interval)), self._overall, f"{id(self)}:{self._sequence}"],
                )
                delay = float(raw)
            except (redis.RedisError, ValueError) as error:
                logger.warning("send pacing (%s): Redis unavailable, pacing this worker alone (%s)",
                               self._channel, error)
                await self._alone.wait(key)
                return
            if delay <= 0:
                return
            await asyncio.sleep(min(delay, MAX_WAIT_STEP_SECONDS))

    def _set_pause(self, name: str, seconds: float) -> None:
        try:
            self._pause(keys=[name], args=[repr(float(seconds))])
        except redis.RedisError as error:
            logger.warning("send pacing (%s): could not share a pause (%s)", self._channel, error)
