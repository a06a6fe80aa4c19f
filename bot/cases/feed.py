"""Live notifications for open consoles (server-sent events).

The database is the truth; a console that (re)connects reads the current state
first, then waits here for "something changed" to fetch again. Nothing of the
transcript travels here.

`publish` delivers to this process's consoles at once and hands the notice to
the forwarders: with several gateway workers, bot/coordination/feed_bus.py
forwards it through Redis and calls `deliver` on the other workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SUBSCRIBER_BUFFER = 100


@dataclass(frozen=True)
class Notice:
    kind: str  # "queue" (cases changed), "case" (new transcript entries), "alert"
    case_id: int | None = None
    data: dict[str, Any] | None = None


class CaseFeed:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[Notice]] = set()
        self._forwarders: list[Callable[[Notice], None]] = []

    def subscribe(self) -> asyncio.Queue[Notice]:
        queue: asyncio.Queue[Notice] = asyncio.Queue(SUBSCRIBER_BUFFER)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Notice]) -> None:
        self._subscribers.discard(queue)

    def add_forwarder(self, forward: Callable[[Notice], None]) -> None:
        """`forward(notice)` is called for every notice published here (not for those delivered)."""
        self._forwarders.append(forward)

    def publish(self, notice: Notice) -> None:
        """A change made by this process. Call from the event loop's thread."""
        self.deliver(notice)
        for forward in self._forwarders:
            forward(notice)

    def deliver(self, notice: Notice) -> None:
        """Tell this process's consoles (a notice from here or from another worker)."""
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(notice)
            except asyncio.QueueFull:
                pass  # a stalled console re-reads everything on its next notice

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
