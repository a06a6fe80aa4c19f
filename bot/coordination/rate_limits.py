"""Per-person rate limits shared by every gateway worker: a token bucket in Redis.

The same interface and the same arithmetic as bot.ratelimit.RateLimiter, but the
bucket lives in Redis and one Lua script reads, refills and takes from it
atomically, on Redis's clock, so a flood split across two workers is limited once.
A bucket's key expires once it would be full again, so memory stays bounded.

Fails open: if Redis cannot be asked, the message is allowed (and logged). A rate
limit protects the service; it must never be the reason a child goes unanswered.
"""

from __future__ import annotations

import logging
import math
import time

import redis

from bot.coordination.redis_connection import RedisConnection

logger = logging.getLogger(__name__)

# KEYS[1]: the bucket (hash: tokens, at). ARGV: burst, tokens per second.
# Returns the seconds to wait as a string (Lua numbers become integers in replies).
TAKE_TOKEN = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return tostring(wait)
"""
WARN_EVERY_SECONDS = 60.0


class RedisRateLimiter:
    def __init__(self, connection: RedisConnection, name: str, burst: int, per_minute: float) -> None:
        if burst < 1 or per_minute <= 0:
            raise ValueError("burst must be >= 1 and per_minute > 0")
        self.burst = float(burst)
        self.rate = per_minute / 60.0  # tokens per second
        self._connection = connection
        self._name = name
        self._script = connection.sync.register_script(TAKE_TOKEN)
        self._warned_at = -math.inf

    def acquire(self, key: str) -> float:
        """Take one token: 0.0 if allowed now, else the seconds until one is available."""
        try:
            raw = self._script(keys=[self._connection.key("rate", self._name, key)],
                               args=[repr(self.burst), repr(self.rate)])
            return float(raw)
        except (redis.RedisError, ValueError) as error:
            if time.monotonic() - self._warned_at > WARN_EVERY_SECONDS:
                self._warned_at = time.monotonic()
                logger.warning("rate limit %s: Redis unavailable, allowing messages (%s)", self._name, error)
            return 0.0

    def retry_after(self, key: str) -> int:
        """`acquire`, as whole seconds for a Retry-After header (0 = allowed)."""
        wait = self.acquire(key)
        return 0 if wait <= 0 else max(1, math.ceil(wait))
