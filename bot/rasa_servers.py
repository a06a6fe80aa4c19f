"""Which Rasa server to ask next, when several serve the same conversations.

Every server reads and writes the same tracker store under the same lock store
(devtools/stack.py, deploy/), so any of them can take any turn. Healthy servers
take turns (round-robin); a server that just failed is left alone for
`pause_seconds` and tried only after the healthy ones, the one that failed
longest ago first. Nobody is ever excluded for good: when every server failed
recently they are all tried again, so a restarted Rasa is found at once.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence

FAILED_PAUSE_SECONDS = 5.0


class RasaServers:
    def __init__(self, urls: Sequence[str], pause_seconds: float = FAILED_PAUSE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not urls:
            raise ValueError("at least one Rasa URL is needed")
        self.urls = tuple(url.rstrip("/") for url in urls)
        self._pause = pause_seconds
        self._clock = clock
        self._turns = itertools.count()
        self._failed_at: dict[str, float] = {}

    def order(self) -> list[str]:
        """Every URL, best first: healthy ones from the next in turn, then the recently failed."""
        now = self._clock()
        start = next(self._turns) % len(self.urls)
        rotated = self.urls[start:] + self.urls[:start]
        healthy = [u for u in rotated if u not in self._failed_at or now - self._failed_at[u] >= self._pause]
        resting = sorted((u for u in rotated if u not in healthy), key=lambda u: self._failed_at[u])
        return healthy + resting

    def failed(self, url: str) -> None:
        self._failed_at[url] = self._clock()

    def succeeded(self, url: str) -> None:
        self._failed_at.pop(url, None)
