"""The worker that handles accepted updates (bot.inbox) through their channel.

Webhooks and the Telegram poller only `accept` (a quick database write) and
answer the platform; this worker does the slow part (Rasa) in the background,
in order per conversation, and survives restarts because the rows do.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy.orm import Session

from bot import inbox
from bot.db import Database
from bot.models import utc_now

if TYPE_CHECKING:
    from bot.coordination.rate_limits import Limiter

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]
# The update being handled in this task: the Relay's reply hook marks it done
# in the same transaction as the replies (and their outbox rows), so a crash
# right after cannot make the worker answer it a second time.
CURRENT_UPDATE: contextvars.ContextVar[int | None] = contextvars.ContextVar("current_update", default=None)
POLL_SECONDS = 0.5
PURGE_EVERY_SECONDS = 3600.0


class Intake:
    def __init__(self, database: Database, lease_seconds: float, limiter: Limiter | None = None) -> None:
        self._database = database
        # Per-person limit (bot/coordination/rate_limits.py): a flooding chat's updates wait, in order; others go on.
        self._limiter = limiter
        self._lease = timedelta(seconds=lease_seconds)
        self._handlers: dict[str, Handler] = {}
        self._busy: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()

    def register(self, source: str, handler: Handler) -> None:
        self._handlers[source] = handler

    async def accept(self, source: str, update_id: str, conversation_key: str,
                     payload: dict[str, Any]) -> bool:
        """Store an update for handling; False for a redelivery (already seen)."""
        new = await self._database.run(lambda s: inbox.accept(s, source, update_id, conversation_key, payload))
        if new:
            self._wake.set()
        return bool(new)

    async def run(self, stop: asyncio.Event) -> None:
        last_purge = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            if loop.time() - last_purge > PURGE_EVERY_SECONDS:
                last_purge = loop.time()
                await self._safely(lambda s: inbox.purge_old(s))
            busy = set(self._busy)
            claimed = await self._safely(lambda s: inbox.claim_due(s, self._lease, busy)) or []
            for update in claimed:
                if update.source not in self._handlers:
                    logger.warning("no handler for updates of %s", update.source)
                    continue
                wait = self._limiter.acquire(update.key) if self._limiter is not None else 0.0
                if wait > 0:
                    await self._safely(lambda s, u=update.id, w=wait: _defer(s, u, w))
                    continue
                self._busy[update.key] = asyncio.create_task(self._handle(update))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_SECONDS)
            except TimeoutError:
                pass
        for task in list(self._busy.values()):
            task.cancel()
        await asyncio.gather(*self._busy.values(), return_exceptions=True)

    async def _handle(self, update: inbox.ClaimedUpdate) -> None:
        CURRENT_UPDATE.set(update.id)  # this task's own context
        try:
            await self._handlers[update.source](update.payload)
        except asyncio.CancelledError:
            raise  # shutting down: the lease runs out and the update is handled again
        except Exception as error:  # noqa: BLE001
            logger.exception("handling a %s update failed", update.source)
            delay = min(300.0, 2.0 ** update.attempts)
            await self._safely(lambda s: inbox.retry(s, update.id, update.attempts, delay, repr(error)))
        else:
            await self._safely(lambda s: inbox.finish(s, update.id))
        finally:
            self._busy.pop(update.key, None)
            self._wake.set()

    async def _safely(self, work: Callable[[Session], Any]) -> Any:
        try:
            return await self._database.run(work)
        except Exception:  # noqa: BLE001 (e.g. a busy database: the next round retries)
            logger.exception("intake: database work failed")
            return None



def _defer(session: Session, update_id: int, seconds: float) -> None:
    """Back to pending, due in `seconds`; attempts unchanged (nothing failed)."""
    from sqlalchemy import update

    session.execute(
        update(inbox.InboundUpdate).execution_options(synchronize_session=False)
        .where(inbox.InboundUpdate.id == update_id)
        .values(status=inbox.PENDING, locked_until=None, next_attempt_at=utc_now() + timedelta(seconds=seconds))
    )


def finish_current_update(session: Session) -> None:
    """Part of the Relay's reply hook (see CURRENT_UPDATE)."""
    update_id = CURRENT_UPDATE.get()
    if update_id is not None:
        inbox.finish(session, update_id)
