"""Rasa's Redis lock store, without the wait that never ends after a server dies.

Rasa 3.6 serialises the turns of one conversation with numbered tickets in the
lock store; each ticket expires after TICKET_LOCK_LIFETIME. A request waits
until the ticket being served (the lowest one left) is its own. When a Rasa
server is killed mid-turn, its ticket stays until it expires; the gateway sends
the turn again to another server, whose ticket was issued a moment later and so
expires a moment later. If the waiting server does not look during that moment
(it looks once a second), both tickets expire together: its own number is gone,
"now serving" never equals it again, and the request waits until the client
hangs up (Rasa's `_acquire_lock`; seen in tests/scale/test_scale_rasa_failover.py
as a turn lost 90 s after the kill). Rasa then logs `rest.message.received.timeout`.

Here a request goes ahead when no live ticket older than its own is left,
whether or not its own ticket is still there. Mutual exclusion between live
tickets is unchanged. (Rasa's read-modify-write of the lock is not atomic
across servers either; the gateway's per-conversation turn lock, held for the
whole turn, is what keeps two turns of one conversation apart in practice.)

endpoints.yml:
    lock_store:
      type: engine.lock_store.TicketSafeRedisLockStore
      url: 127.0.0.1
      port: 6379
      db: 1
      key_prefix: treem
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)


class _TicketSafeAcquire(LockStore):
    async def _acquire_lock(self, conversation_id: str, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        while True:
            lock = self.get_lock(conversation_id)
            if lock is None:
                # Deleted by the last holder's clean-up because no live ticket was left (ours
                # had expired too): nobody is ahead of us.
                logger.debug("lock for a conversation gone while waiting: going ahead")
                return TicketLock(conversation_id)
            lock.remove_expired_tickets()
            if all(other.number >= ticket for other in lock.tickets):
                return lock
            await asyncio.sleep(wait_time_in_seconds)
            self.update_lock(conversation_id)


class TicketSafeRedisLockStore(_TicketSafeAcquire, RedisLockStore):
    """RedisLockStore whose waiters go ahead once every older ticket has expired."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        # Rasa builds a lock store named by module path with `endpoint_config=` only.
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)


class TicketSafeInMemoryLockStore(_TicketSafeAcquire, InMemoryLockStore):
    """The same rule in one process (tests; a single Rasa server)."""

    def __init__(self, endpoint_config: EndpointConfig | None = None) -> None:
        super().__init__()
