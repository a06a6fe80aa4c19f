"""The outbox: every message to a person on a push channel is written here first
(in the same transaction as the transcript), then sent by a worker.

- Written first: a crash between storing a reply and sending it loses nothing;
  the next worker (after a restart) sends it.
- Claimed with a lease (`status='sending'`, `locked_until`): several gateway
  processes share the table, each item is sent by one of them. An item whose
  lease ran out (its process died mid-send) is sent again: a send whose outcome
  is unknown is repeated rather than lost, so in that one window a child may
  see a line twice, never zero times.
- One conversation's items go out in order: an item is only claimed when no
  earlier item of its conversation is still waiting.
- Retries with exponential backoff; the transport says when to retry (Telegram
  `retry_after`, Zalo `-32`) or that a message can never be delivered.

The core knows nothing of Telegram or Zalo: each push channel registers a
`Transport` for its channel name.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import JSON, DateTime, Index, Integer, String, UniqueConstraint, and_, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.at_rest import EncryptedText
from bot.db import Database
from bot.messages import StoredMessage
from bot.models import CHANNEL_MAX_CHARS, EXTERNAL_ID_MAX_CHARS, Base, Conversation, Message, utc_now

logger = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED, CANCELLED = "pending", "sending", "sent", "failed", "cancelled"
UNFINISHED = (PENDING, SENDING)
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 300.0
# With the cap, about half an hour of trying before an item is given up.
MAX_ATTEMPTS = 14
CLAIM_BATCH = 50
POLL_SECONDS = 0.5
# Recording an item's outcome is retried until this long before its lease runs out.
RECORD_MARGIN_SECONDS = 5.0


class OutboxItem(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("message_id", "part"),  # enqueueing a message twice is harmless
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_channel_external_id_id", "channel", "external_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(CHANNEL_MAX_CHARS))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_MAX_CHARS))
    # The transcript message this part belongs to (its text is split per channel limit).
    message_id: Mapped[int | None] = mapped_column(Integer, default=None)
    part: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(EncryptedText, default="")  # encrypted at rest (bot.at_rest)
    # Buttons travel with the last part: [{"title", "payload", "index"}].
    buttons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    platform_message_id: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


# ---- what a transport sees and answers ----------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    id: int
    channel: str
    external_id: str
    message_id: int | None
    part: int
    text: str
    buttons: tuple[dict[str, Any], ...]
    attempts: int  # earlier attempts


@dataclass(frozen=True)
class Sent:
    platform_message_id: str | None = None


@dataclass(frozen=True)
class RetryLater:
    reason: str
    delay: float | None = None  # None: exponential backoff


@dataclass(frozen=True)
class Undeliverable:
    reason: str


SendResult = Sent | RetryLater | Undeliverable


class Transport(Protocol):
    max_chars: int  # one API call carries at most this many characters

    async def send(self, item: Outgoing) -> SendResult:
        """Send one part. Waits for the channel's rate limits itself; never raises
        for API errors (they are results)."""


# ---- splitting --------------------------------------------------------------------------


def split_text(text: str, max_chars: int) -> list[str]:
    """Split at paragraph, line, sentence or word boundaries, never inside a word
    unless a single word is longer than the limit."""
    text = text.strip()
    if len(text) <= max_chars:
        return [text]
    parts: list[str] = []
    rest = text
    while len(rest) > max_chars:
        window = rest[: max_chars + 1]
        cut = -1
        for separator in ("\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " "):
            position = window.rfind(separator, 0, max_chars)
            if position > max_chars // 3:
                cut = position + len(separator.rstrip())
                break
        if cut <= 0:
            cut = max_chars
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


# ---- the outbox ----------------------------------------------------------------------------


class Outbox:
    def __init__(self, database: Database, lease_seconds: float = 60.0) -> None:
        self._database = database
        self._lease = timedelta(seconds=lease_seconds)
        self._transports: dict[str, Transport] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_flight: dict[tuple[str, str], asyncio.Task[None]] = {}

    def register(self, channel: str, transport: Transport) -> None:
        self._transports[channel] = transport

    def handles(self, channel: str) -> bool:
        return channel in self._transports

    # -- writing (synchronous: inside the caller's unit of work) -----------------------

    def enqueue(self, session: Session, conversation: Conversation, messages: Sequence[Message]) -> None:
        """The Relay's reply hook: queue stored replies of push channels."""
        transport = self._transports.get(conversation.channel)
        if transport is None:
            return  # the web chat reads the transcript itself
        for message in messages:
            self._add(session, conversation.channel, conversation.external_id, message.id,
                      message.text, message.buttons or [], transport.max_chars)
        self.wake()

    def _add(self, session: Session, channel: str, external_id: str, message_id: int | None,
             text: str, buttons: list[dict[str, Any]], max_chars: int) -> None:
        parts = split_text(text, max_chars) if text.strip() else [""]
        now = utc_now()
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            session.add(OutboxItem(
                channel=channel, external_id=external_id, message_id=message_id, part=index,
                text=part,
                buttons=[{**b, "index": i} for i, b in enumerate(buttons)] if last else [],
                status=PENDING, next_attempt_at=now, created_at=now,
            ))
        session.flush()

    async def cancel_pending(self, channel: str, external_id: str) -> int:
        """Drop what has not been sent yet (quick exit: nothing more may appear)."""

        def work(session: Session) -> int:
            result = session.execute(
                update(OutboxItem).execution_options(synchronize_session=False)
                .where(OutboxItem.channel == channel, OutboxItem.external_id == external_id,
                       OutboxItem.status == PENDING)
                .values(status=CANCELLED, locked_until=None)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

        return await self._database.run(work)

    # -- the worker -----------------------------------------------------------------------

    def wake(self) -> None:
        """Look for due items now; callable from any thread (enqueue runs in one)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Send due items until `stop` is set. Safe to run in several processes."""
        self._loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                claimed = await self._database.run(self._claim_due)
            except Exception:  # noqa: BLE001 (the database may be busy; try again)
                logger.exception("outbox: claiming failed")
                claimed = []
            for item in claimed:
                key = (item.channel, item.external_id)
                self._in_flight[key] = asyncio.create_task(self._deliver(item, key))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_SECONDS)
            except TimeoutError:
                pass
        for task in list(self._in_flight.values()):
            task.cancel()
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    def _claim_due(self, session: Session) -> list[Outgoing]:
        now = utc_now()
        due = or_(
            and_(OutboxItem.status == PENDING, OutboxItem.next_attempt_at <= now),
            and_(OutboxItem.status == SENDING, OutboxItem.locked_until < now),  # a dead sender's
        )
        candidates = session.scalars(
            select(OutboxItem).where(due).order_by(OutboxItem.id).limit(CLAIM_BATCH)
        ).all()
        claimed: list[Outgoing] = []
        seen: set[tuple[str, str]] = set()
        for item in candidates:
            key = (item.channel, item.external_id)
            if key in seen or key in self._in_flight or item.channel not in self._transports:
                continue
            seen.add(key)
            earlier = session.scalars(
                select(OutboxItem.id).where(
                    OutboxItem.channel == item.channel, OutboxItem.external_id == item.external_id,
                    OutboxItem.id < item.id, OutboxItem.status.in_(UNFINISHED),
                ).limit(1)
            ).first()
            if earlier is not None:
                continue  # keep the conversation in order
            # Compare-and-set: of several processes, exactly one wins the item.
            won = session.execute(
                update(OutboxItem).execution_options(synchronize_session=False)
                .where(OutboxItem.id == item.id, due)
                .values(status=SENDING, locked_until=now + self._lease)
            ).rowcount  # type: ignore[attr-defined]
            if won == 1:
                claimed.append(Outgoing(
                    id=item.id, channel=item.channel, external_id=item.external_id,
                    message_id=item.message_id, part=item.part, text=item.text,
                    buttons=tuple(item.buttons or ()), attempts=item.attempts,
                ))
        return claimed

    async def _deliver(self, item: Outgoing, key: tuple[str, str]) -> None:
        lease_ends = asyncio.get_running_loop().time() + self._lease.total_seconds()
        try:
            try:
                result = await self._transports[item.channel].send(item)
            except Exception as error:  # noqa: BLE001 (a bug in a transport must not stop the worker)
                logger.exception("outbox: transport %s raised", item.channel)
                result = RetryLater(f"transport raised {type(error).__name__}")
            # The outcome is known now: a message delivered while the database is down (a restart
            # of PostgreSQL) is recorded once it is back, not sent again when the lease runs out.
            # Only while the lease holds: after it, another worker may have the item.
            within = lease_ends - asyncio.get_running_loop().time() - RECORD_MARGIN_SECONDS
            await self._database.run_retrying(lambda s: self._record(s, item, result), within_seconds=max(0.0, within))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001
            logger.exception("outbox: recording the result of item %s failed", item.id)
        finally:
            self._in_flight.pop(key, None)
            self.wake()  # the conversation's next item may be due now

    def _record(self, session: Session, item: Outgoing, result: SendResult) -> None:
        now = utc_now()
        values: dict[str, Any] = {"locked_until": None, "attempts": item.attempts + 1}
        if isinstance(result, Sent):
            values |= {"status": SENT, "sent_at": now, "platform_message_id": result.platform_message_id,
                       "last_error": None}
        elif isinstance(result, Undeliverable) or item.attempts + 1 >= MAX_ATTEMPTS:
            reason = result.reason if not isinstance(result, Sent) else ""
            logger.warning("outbox: item %s to %s given up: %s", item.id, item.channel, reason)
            values |= {"status": FAILED, "last_error": reason[:300]}
        else:
            delay = result.delay if result.delay is not None else backoff(item.attempts)
            values |= {"status": PENDING, "next_attempt_at": now + timedelta(seconds=delay),
                       "last_error": result.reason[:300]}
        # Only if we still hold it (a lease that ran out may have passed it on).
        session.execute(
            update(OutboxItem).execution_options(synchronize_session=False).where(OutboxItem.id == item.id, OutboxItem.status == SENDING).values(**values)
        )



def backoff(attempts: int) -> float:
    """1, 2, 4, ... seconds, capped, with jitter so retries of many items spread out."""
    delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempts)
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 (not for security)
