"""Deleting one person's data from every store, and Rasa's tracker store.

Every deletion of a conversation goes through `delete_conversation` and
`TrackerStore.delete`, so "forget me" and the retention job cannot drift
apart when a table is added: add its line here (and to docs/data-inventory.md).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import Engine, create_engine, delete, event, inspect, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot import inbox
from bot.cases.models import Case, CaseEntry, CaseEvent, CaseNote
from bot.models import Conversation, Message, MessageRef, OfferedButton, ZaloWindow
from bot.outbox import OutboxItem

logger = logging.getLogger(__name__)

FORGOTTEN_PREFIX = "forgotten-"


class TrackerStore:
    """Rasa's SQL tracker store (`events` table of SQLTrackerStore, Rasa 3.6), opened directly.

    The gateway never reads what is in it; it only deletes a conversation's
    events (`sender_id` = "<channel>:<external id>"). A missing database or
    table (Rasa has not started yet) means there is nothing to delete.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None

    def _connect(self) -> Engine | None:
        if not self.url:
            return None
        if self._engine is None:
            parsed = make_url(self.url)
            if parsed.get_backend_name() == "sqlite":
                if not parsed.database or not _exists(parsed.database):
                    return None  # never create Rasa's database ourselves
                engine = create_engine(self.url, connect_args={"timeout": 30})

                @event.listens_for(engine, "connect")
                def _busy(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
                    dbapi_connection.execute("PRAGMA busy_timeout=30000")
            else:
                engine = create_engine(self.url, pool_pre_ping=True)
            self._engine = engine
        if not inspect(self._engine).has_table("events"):
            return None
        return self._engine

    def delete(self, sender_ids: Iterable[str]) -> int:
        ids = sorted(set(sender_ids))
        engine = self._connect()
        if engine is None or not ids:
            return 0
        removed = 0
        with engine.begin() as connection:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                params = {f"s{i}": s for i, s in enumerate(chunk)}
                marks = ", ".join(f":s{i}" for i in range(len(chunk)))
                result = connection.execute(text(f"DELETE FROM events WHERE sender_id IN ({marks})"), params)
                removed += int(result.rowcount or 0)
        return removed

    def senders_inactive_since(self, cutoff_timestamp: float) -> list[str]:
        """Conversations whose newest event is older than the cutoff (Unix seconds)."""
        engine = self._connect()
        if engine is None:
            return []
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT sender_id FROM events GROUP BY sender_id HAVING MAX(timestamp) < :cutoff"),
                {"cutoff": cutoff_timestamp},
            )
            return [row[0] for row in rows]

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _exists(path: str) -> bool:
    return Path(path).is_file()


def delete_messages(session: Session, conversation: Conversation) -> None:
    """Everything a conversation said and everything sent or to be sent for it, except case records."""
    cid, channel, external_id = conversation.id, conversation.channel, conversation.external_id
    session.execute(update(CaseEntry).where(
        CaseEntry.message_id.in_(select(Message.id).where(Message.conversation_id == cid))
    ).values(message_id=None))
    session.execute(delete(OfferedButton).where(OfferedButton.conversation_id == cid))
    session.execute(delete(Message).where(Message.conversation_id == cid))
    session.execute(delete(ZaloWindow).where(ZaloWindow.conversation_id == cid))
    session.execute(delete(OutboxItem).where(OutboxItem.channel == channel, OutboxItem.external_id == external_id))
    session.execute(delete(MessageRef).where(MessageRef.channel == channel, MessageRef.external_id == external_id))
    # Handled updates keep only their id (the text was erased when handled): drop those too.
    session.execute(delete(inbox.InboundUpdate).where(
        inbox.InboundUpdate.conversation_key == external_id,
        inbox.InboundUpdate.status.in_((inbox.DONE, inbox.FAILED)),
    ))
    session.expire_all()


def delete_conversation(session: Session, conversation: Conversation) -> None:
    """The conversation and all it holds; its cases (closed ones: see `retention`) must be gone first."""
    delete_messages(session, conversation)
    session.execute(delete(Conversation).where(Conversation.id == conversation.id))


def unlink_person(session: Session, conversation: Conversation) -> None:
    """Keep the conversation row (its cases point at it) but not the channel's id of the person."""
    delete_messages(session, conversation)
    session.execute(update(Conversation).where(Conversation.id == conversation.id).values(
        external_id=FORGOTTEN_PREFIX + secrets.token_hex(16)
    ))


def delete_cases(session: Session, case_ids: list[int]) -> None:
    if not case_ids:
        return
    session.execute(delete(CaseEntry).where(CaseEntry.case_id.in_(case_ids)))
    session.execute(delete(CaseNote).where(CaseNote.case_id.in_(case_ids)))
    session.execute(delete(CaseEvent).where(CaseEvent.case_id.in_(case_ids)))
    session.execute(delete(Case).where(Case.id.in_(case_ids)))
