"""Choose the shared (Redis) or in-process implementations from the settings."""
# Also: bot/coordination/job_lock.py (periodic jobs, one worker at a time) decides in
# the app database, with or without Redis.

from __future__ import annotations

from dataclasses import dataclass, field

from bot.cases.feed import CaseFeed
from bot.coordination.feed_bus import RedisFeedBus
from bot.coordination.rate_limits import ChannelLimits, RedisRateLimiter
from bot.coordination.redis_connection import RedisConnection
from bot.coordination.send_pacing import RedisSendPacer
from bot.coordination.turn_locks import LocalTurnLocks, RedisTurnLocks, TurnLocks
from bot.settings import Settings


@dataclass
class Coordination:
    rate_limits: ChannelLimits
    turn_locks: TurnLocks
    feed: CaseFeed = field(default_factory=CaseFeed)
    connection: RedisConnection | None = None
    bus: RedisFeedBus | None = None

    def limits(self, namespace: str, burst: int, per_minute: int) -> ChannelLimits:
        """More per-person limits of their own (e.g. the web chat's polling), shared like `rate_limits`."""
        if self.connection is None:
            return ChannelLimits(burst, per_minute)
        connection = self.connection
        return ChannelLimits(burst, per_minute, lambda name, b, p: RedisRateLimiter(
            connection, f"{namespace}-{name}", b, p))

    @property
    def shared(self) -> bool:
        return self.connection is not None

    def send_pacer(self, channel: str, per_key_interval: float, overall_per_second: int) -> RedisSendPacer | None:
        """A platform's send pacing shared by the workers; None in one process (the channel keeps its own)."""
        if self.connection is None:
            return None
        return RedisSendPacer(self.connection, channel, per_key_interval, overall_per_second)

    async def aclose(self) -> None:
        if self.bus is not None:
            await self.bus.aclose()
        if self.connection is not None:
            await self.connection.aclose()


def build(settings: Settings) -> Coordination:
    """Call from the event loop that will use it (the gateway's lifespan): the
    Redis pub/sub listener starts here."""
    if not settings.redis_url:
        return Coordination(ChannelLimits(settings.rate_limit_burst, settings.rate_limit_per_minute),
                            LocalTurnLocks())
    connection = RedisConnection(settings.redis_url, settings.redis_key_prefix)
    limits = ChannelLimits(settings.rate_limit_burst, settings.rate_limit_per_minute,
                           lambda name, burst, per_minute: RedisRateLimiter(connection, name, burst, per_minute))
    feed = CaseFeed()
    bus = RedisFeedBus(connection)
    bus.attach(feed)
    return Coordination(limits, RedisTurnLocks(connection), feed, connection, bus)
