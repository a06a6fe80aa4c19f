"""Admission control for the turns that ask Rasa: a child hears something within seconds.

One `Admission` per gateway worker; `Relay.handle` runs every turn through `answer`:

- At most `max_in_flight` Rasa calls run at once in this worker (`slot`, around the
  call in Relay). A turn that finds them all taken waits for one in the background,
  and the child is answered at once with the busy reply (which names 111).
- A turn that has not finished after `deadline_seconds` (the conversation's turn lock,
  a slot and Rasa's work together) is answered with the busy reply too.
- Either way the turn is not cancelled: it goes on in the background with the
  conversation's turn lock, and its replies are stored when Rasa answers and reach the
  child as every later reply does (the web chat's poll, the push channels' outbox).
  A disclosure in it opens its case then, as in any turn. Only if this worker stops
  first is the turn lost (the child's message stays in the transcript).
- A turn that finishes in time is answered as before, errors included (e.g. a
  rejected message).
- `aclose` (at shutdown) waits a little for the turns in the background, then cancels them.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_IN_FLIGHT = 8
DEFAULT_DEADLINE_SECONDS = 4.0
SHUTDOWN_GRACE_SECONDS = 10.0

# Set by `answer` in the context of the turn it starts; `slot` sets it when the turn must wait.
_no_slot: contextvars.ContextVar[asyncio.Event | None] = contextvars.ContextVar("no_rasa_slot", default=None)


class Admission:
    def __init__(self, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
                 deadline_seconds: float = DEFAULT_DEADLINE_SECONDS) -> None:
        if max_in_flight < 1:
            raise ValueError("at least one Rasa call must be allowed")
        self.max_in_flight = max_in_flight
        self.deadline_seconds = deadline_seconds
        self._slots = asyncio.Semaphore(max_in_flight)
        self._in_flight = 0
        self._turns: set[asyncio.Task[Any]] = set()

    @property
    def in_flight(self) -> int:
        """Rasa calls running now in this worker."""
        return self._in_flight

    @property
    def turns(self) -> int:
        """Turns not finished yet, answered or not."""
        return len(self._turns)

    async def answer(self, turn: Coroutine[Any, Any, T], busy: Callable[[], Awaitable[T]]) -> T:
        """The turn's result if it finishes in time and was not kept waiting for a slot, else `busy()`."""
        no_slot = asyncio.Event()
        token = _no_slot.set(no_slot)
        try:
            task = asyncio.create_task(turn)
        finally:
            _no_slot.reset(token)
        self._turns.add(task)
        task.add_done_callback(self._finished)
        waiting = asyncio.create_task(no_slot.wait())
        try:
            done, _ = await asyncio.wait({task, waiting}, timeout=self.deadline_seconds,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
        if task in done:
            return task.result()
        task.answered_busy = True  # type: ignore[attr-defined]
        logger.warning("a turn is %s: answered busy, it goes on in the background",
                       "waiting for a Rasa slot" if no_slot.is_set() else "past its deadline")
        return await busy()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One of this worker's Rasa calls; if none is free, the child is told at once and the turn waits."""
        if self._slots.locked():
            event = _no_slot.get()
            if event is not None:
                event.set()
        async with self._slots:
            self._in_flight += 1
            try:
                yield
            finally:
                self._in_flight -= 1

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._turns.discard(task)
        if task.cancelled():
            return
        error = task.exception()  # retrieved here too: the caller of `answer` may have gone
        if error is not None and getattr(task, "answered_busy", False):
            logger.error("a turn that was answered busy failed in the background: %r", error)

    async def aclose(self, grace_seconds: float = SHUTDOWN_GRACE_SECONDS) -> None:
        turns = set(self._turns)
        if not turns:
            return
        _, pending = await asyncio.wait(turns, timeout=grace_seconds)
        for task in pending:
            task.cancel()
        if pending:
            logger.warning("%d turns were still waiting for Rasa at shutdown", len(pending))
            await asyncio.wait(pending)
