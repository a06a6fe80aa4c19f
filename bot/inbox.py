"""The inbox: incoming updates of push channels, remembered by their update id.

A webhook (or the Telegram poller) calls `accept` before answering the
platform: the update is written with its update id (Telegram `update_id`,
Zalo `msg_id`) under a unique constraint, so

- a redelivery, even after a restart, finds the row and is dropped;
- an update that was acknowledged but not yet answered when the process died
  is still in the table, `pending`, and a worker (after the restart) handles it.

Workers claim rows with a lease, like the outbox, and one conversation's
updates are handled in the order they came. Once handled, the stored update
(which holds what the child wrote) is erased; only the id stays, for a while.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String, UniqueConstraint, and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.at_rest import EncryptedJSON
from bot.models import EXTERNAL_ID_MAX_CHARS, Base, utc_now

logger = logging.getLogger(__name__)

PENDING, PROCESSING, DONE, FAILED = "pending", "processing", "done", "failed"
MAX_ATTEMPTS = 8
# Zalo retries for about an hour; Telegram's update ids are random after a
# week of silence. Two weeks of ids cover both.
KEEP_IDS_FOR = timedelta(days=14)


class InboundUpdate(Base):
    __tablename__ = "inbound_updates"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_inbound_updates_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Whose ids these are: "telegram:<bot id>", "zalo:<OA id>".
    source: Mapped[str] = mapped_column(String(64))
    # The platform's id of the update (not of a conversation: that is `conversation_key`);
    # the column keeps the name the first migration gave it.
    update_id: Mapped[str] = mapped_column("external_id", String(EXTERNAL_ID_MAX_CHARS))
    # The conversation it belongs to, to keep its updates in order.
    conversation_key: Mapped[str] = mapped_column(String(EXTERNAL_ID_MAX_CHARS))
    # The platform's update (with what the child wrote), encrypted at rest (bot.at_rest).
    payload: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON, default=None)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


@dataclass(frozen=True)
class ClaimedUpdate:
    id: int
    source: str
    update_id: str
    payload: dict[str, Any]
    attempts: int
    key: str  # source and conversation: at most one in hand at a time


def accept(session: Session, source: str, update_id: str, conversation_key: str,
           payload: dict[str, Any]) -> bool:
    """Remember an update; False if it was seen before (a redelivery: drop it)."""
    try:
        with session.begin_nested():
            session.add(InboundUpdate(
                source=source, update_id=update_id, conversation_key=conversation_key,
                payload=payload, status=PENDING, received_at=utc_now(), next_attempt_at=utc_now(),
            ))
    except IntegrityError:
        return False
    return True


def claim_due(session: Session, lease: timedelta, busy: set[str], limit: int = 20) -> list[ClaimedUpdate]:
    """Claim the oldest due update of each conversation not already in hand."""
    now = utc_now()
    due = or_(
        and_(InboundUpdate.status == PENDING, InboundUpdate.next_attempt_at <= now),
        and_(InboundUpdate.status == PROCESSING, InboundUpdate.locked_until < now),
    )
    rows = session.scalars(select(InboundUpdate).where(due).order_by(InboundUpdate.id).limit(limit)).all()
    claimed: list[ClaimedUpdate] = []
    seen: set[str] = set()
    for row in rows:
        key = f"{row.source}|{row.conversation_key}"
        if key in seen or key in busy:
            continue
        seen.add(key)
        earlier = session.scalars(
            select(InboundUpdate.id).where(
                InboundUpdate.source == row.source,
                InboundUpdate.conversation_key == row.conversation_key,
                InboundUpdate.id < row.id,
                InboundUpdate.status.in_((PENDING, PROCESSING)),
            ).limit(1)
        ).first()
        if earlier is not None:
            continue
        won = session.execute(
            update(InboundUpdate).execution_options(synchronize_session=False).where(InboundUpdate.id == row.id, due)
            .values(status=PROCESSING, locked_until=now + lease)
        ).rowcount  # type: ignore[attr-defined]
        if won == 1 and row.payload is not None:
            claimed.append(ClaimedUpdate(row.id, row.source, row.update_id, row.payload, row.attempts, key))
    return claimed


def finish(session: Session, update_id: int) -> None:
    """Handled: forget what it said, keep the id for deduplication."""
    session.execute(
        update(InboundUpdate).execution_options(synchronize_session=False).where(InboundUpdate.id == update_id)
        .values(status=DONE, payload=None, locked_until=None)
    )


def retry(session: Session, update_id: int, attempts: int, delay_seconds: float, reason: str) -> None:
    if attempts + 1 >= MAX_ATTEMPTS:
        logger.error("inbound update %s given up after %s attempts: %s", update_id, attempts + 1, reason)
        values: dict[str, Any] = {"status": FAILED, "payload": None}
    else:
        values = {"status": PENDING, "next_attempt_at": utc_now() + timedelta(seconds=delay_seconds)}
    session.execute(
        update(InboundUpdate).execution_options(synchronize_session=False).where(InboundUpdate.id == update_id)
        .values(attempts=attempts + 1, locked_until=None, **values)
    )


def purge_old(session: Session, now: datetime | None = None) -> int:
    cutoff = (now or utc_now()) - KEEP_IDS_FOR
    result = session.execute(
        delete(InboundUpdate).where(InboundUpdate.status.in_((DONE, FAILED)),
                                    InboundUpdate.received_at < cutoff)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
