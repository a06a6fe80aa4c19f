"""Server-sent events for open consoles: "the queue changed", "case 12 has new messages".

Only ids and kinds travel here, never a transcript: the page fetches what it
is allowed to see. A stream ends after MAX_STREAM_SECONDS and the browser's
EventSource reconnects by itself, so a shutting-down gateway is never held
open by a console.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import Request

from bot.cases.feed import CaseFeed

KEEPALIVE_SECONDS = 15.0
MAX_STREAM_SECONDS = 120.0
RECONNECT_MS = 1000


async def event_stream(request: Request, feed: CaseFeed) -> AsyncIterator[str]:
    queue = feed.subscribe()
    started = time.monotonic()
    try:
        yield f"retry: {RECONNECT_MS}\nevent: hello\ndata: {{}}\n\n"
        while time.monotonic() - started < MAX_STREAM_SECONDS:
            if await request.is_disconnected():
                return
            try:
                notice = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            data = {"case_id": notice.case_id, **(notice.data or {})}
            yield f"event: {notice.kind}\ndata: {json.dumps(data)}\n\n"
    finally:
        feed.unsubscribe(queue)
