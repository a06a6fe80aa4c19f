"""Live notifications for open consoles (server-sent events).

In-process: the gateway is one process and the database is the truth; a
console that (re)connects reads the current state first, then waits here for
"something changed" to fetch again. Nothing of the transcript travels here.
"""

from __future__ import annotations

import asyncio
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

    def subscribe(self) -> asyncio.Queue[Notice]:
        queue: asyncio.Queue[Notice] = asyncio.Queue(SUBSCRIBER_BUFFER)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Notice]) -> None:
        self._subscribers.discard(queue)

    def publish(self, notice: Notice) -> None:
        """Call from the event loop's thread."""
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(notice)
            except asyncio.QueueFull:
                pass  # a stalled console re-reads everything on its next notice

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
