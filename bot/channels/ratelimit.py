"""Pace sends so a channel's rate limits are never hit on purpose.

One limiter per channel and process: at most one send per `per_key_interval`
to the same chat, at most `overall_per_second` in total, and a global pause
when the platform asks for one (Telegram's `retry_after`, Zalo's `-32`).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class RateLimiter:
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
