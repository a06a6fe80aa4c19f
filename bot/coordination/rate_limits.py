"""Per-person rate limits on incoming messages: a flood slows its sender, nobody else.

A token bucket per key (the conversation on its channel; for the web chat also
the client address, whose bucket is larger since many people may share one):
`burst` messages at once, refilled at `per_minute`. Two implementations of one
interface (`Limiter`), chosen once at start-up (bot/coordination/build.py):

- `LocalRateLimiter`, in memory, per process; keys idle long enough to be full again
  are forgotten, so memory stays bounded;
- `RedisRateLimiter`, with several gateway workers (REDIS_URL): the same arithmetic, but
  the bucket lives in Redis and one Lua script reads, refills and takes from it atomically,
  on Redis's clock, so a flood split across two workers is limited once. A bucket's key
  expires once it would be full again. It fails open: if Redis cannot be asked, the message
  is allowed (and logged). A rate limit protects the service; it must never be the reason a
  child goes unanswered.

- Web chat API: over the limit, 429 with Retry-After (nothing stored, nothing sent to Rasa).
  The address is the client's as uvicorn sees it: behind a reverse proxy on the same host,
  uvicorn takes it from X-Forwarded-For (it trusts that header from 127.0.0.1 only, by default).
- Telegram / Zalo: the update is already accepted (the platform must hear "OK"); the
  intake worker defers it until the sender's bucket has a token again, so that
  conversation waits in order while every other conversation goes on.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

import redis

from bot.coordination.redis_connection import RedisConnection

logger = logging.getLogger(__name__)

MAX_KEYS = 50_000


class Limiter(Protocol):
    def acquire(self, key: str) -> float: ...

    def retry_after(self, key: str) -> int: ...


# (name, burst, per_minute) -> a limiter; the name tells shared buckets apart.
LimiterFactory = Callable[[str, int, float], Limiter]


class LocalRateLimiter:
    def __init__(self, burst: int, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        if burst < 1 or per_minute <= 0:
            raise ValueError("burst must be >= 1 and per_minute > 0")
        self.burst = float(burst)
        self.rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def acquire(self, key: str) -> float:
        """Take one token: 0.0 if allowed now, else the seconds until one is available."""
        now = self._clock()
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > MAX_KEYS:
                self._forget_full(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def retry_after(self, key: str) -> int:
        """`acquire`, as whole seconds for a Retry-After header (0 = allowed)."""
        wait = self.acquire(key)
        return 0 if wait <= 0 else max(1, math.ceil(wait))

    def _forget_full(self, now: float) -> None:
        self._buckets = {
            k: (t, at) for k, (t, at) in self._buckets.items()
            if t + (now - at) * self.rate < self.burst
        }


def in_memory(_name: str, burst: int, per_minute: float) -> Limiter:
    return LocalRateLimiter(burst, per_minute)


class ChannelLimits:
    """The limiters of the gateway: in memory (one process) unless `make` shares them."""

    # One address may be a school or a family behind one router.
    ADDRESS_FACTOR = 10

    def __init__(self, burst: int, per_minute: int, make: LimiterFactory = in_memory) -> None:
        self.per_person = make("person", burst, per_minute)
        self.per_address = make("address", burst * self.ADDRESS_FACTOR, per_minute * self.ADDRESS_FACTOR)


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
