"""Tables of escalation and the counsellor console, in the app database.

They share `bot.models.Base`, so one Alembic history (bot/migrations) owns the
whole app schema. Everything a child said is stored here only as Fernet
ciphertext (`CaseEntry.body`, `CaseNote.body`); the rest is metadata a
supervisor needs to run the queue.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models import CHANNEL_MAX_CHARS, Base, utc_now
from common import dialogue

USERNAME_MAX_CHARS = 64


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings with a CHECK constraint: identical on SQLite and PostgreSQL.
    return Enum(cls, name=name, native_enum=False, create_constraint=True, length=16,
                values_callable=lambda members: [m.value for m in members])


class Role(enum.StrEnum):
    COUNSELLOR = "counsellor"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    # Edits the legal knowledge base (bot/console/knowledge.py); outside the case hierarchy:
    # rank 0, so an editor holds no counsellor right (no queue, no transcript, no case).
    EDITOR = "editor"

    @property
    def rank(self) -> int:
        return {"editor": 0, "counsellor": 1, "supervisor": 2, "admin": 3}[self.value]


class Risk(enum.StrEnum):
    """A case's risk: the dialogue contract's levels above "none"."""

    CONCERN = dialogue.CONCERN
    HIGH = dialogue.HIGH
    IMMINENT = dialogue.IMMINENT

    @property
    def priority(self) -> int:
        """Higher first in the queue (concern 1, high 2, imminent 3)."""
        return dialogue.RISK_RANK[self.value]


class CaseStatus(enum.StrEnum):
    WAITING = "waiting"  # in the queue: the bot keeps the child company
    ACTIVE = "active"  # a counsellor has it: the bot is silent (the handoff lock)
    CLOSED = "closed"
    DECLINED = "declined"  # the child chose "information only": a record, no transcript


OPEN_STATUSES = (CaseStatus.WAITING.value, CaseStatus.ACTIVE.value)
OPEN_CONDITION = "status IN ('waiting', 'active')"


class Consent(enum.StrEnum):
    GIVEN = dialogue.CONSENT_GIVEN
    NOT_REQUIRED = dialogue.CONSENT_NOT_REQUIRED  # imminent danger: a counsellor is asked at once
    DECLINED = dialogue.CONSENT_DECLINED


class StaffUser(Base):
    """A person of the hotline who uses the console. Created with `python -m bot.users`."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX_CHARS), unique=True)
    # What the child sees ("Tư vấn viên Lan đã vào"): a first name or an alias, never a full name.
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "staff_role"))
    # Most cases this person may hold at once; taking one more is refused.
    capacity: Mapped[int] = mapped_column(Integer, default=3)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Optional discreet alerts ("Ca mới — mức CAO"); never any child content.
    alert_chat_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    def has_role(self, role: Role) -> bool:
        return self.role.rank >= role.rank


class ConsoleSession(Base):
    """A server-side login session: the cookie holds a random token, this row its hash."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    user: Mapped[StaffUser] = relationship()


class Case(Base):
    """One escalation of one conversation, from the request to the outcome."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_priority", "status", "priority"),
        Index("ix_cases_user_ref", "user_ref"),
        # At most one open case per conversation: the handoff lock is unambiguous.
        Index("uq_cases_open_conversation", "conversation_id", unique=True,
              sqlite_where=text(OPEN_CONDITION), postgresql_where=text(OPEN_CONDITION)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    channel: Mapped[str] = mapped_column(String(CHANNEL_MAX_CHARS))
    # Pseudonymous: an HMAC of the channel's id of the person, stable across their conversations.
    user_ref: Mapped[str] = mapped_column(String(32))
    risk: Mapped[Risk] = mapped_column(_enum(Risk, "case_risk"))
    priority: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(64), default="")
    consent: Mapped[Consent] = mapped_column(_enum(Consent, "case_consent"))
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "case_status"))
    out_of_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    waiting_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    declined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    alerts_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_alert_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Messages of the conversation up to this id are in the encrypted transcript.
    transcript_until_id: Mapped[int] = mapped_column(Integer, default=0)
    # Rasa's tracker got "pause" and has not had its "resume" yet (retried if Rasa was down).
    rasa_paused: Mapped[bool] = mapped_column(Boolean, default=False)

    assigned_to: Mapped[StaffUser | None] = relationship()


class CaseEvent(Base):
    """Every change of a case, with its time: created, taken, transferred, alerted, closed..."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case_id", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CaseEntry(Base):
    """One message of the case's transcript, encrypted at rest."""

    __tablename__ = "case_entries"
    __table_args__ = (
        UniqueConstraint("case_id", "message_id"),
        Index("ix_case_entries_case_id_id", "case_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    sender: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)  # Fernet token of the text
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class CaseNote(Base):
    """A counsellor's private note: never shown to the child, encrypted at rest."""

    __tablename__ = "case_notes"
    __table_args__ = (Index("ix_case_notes_case_id", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    author: Mapped[StaffUser] = relationship()


class CannedResponse(Base):
    """A prepared reply counsellors insert and adapt; supervisors edit the list."""

    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class AuditEntry(Base):
    """Who did or saw what, when. Append-only: the migration adds triggers that
    refuse UPDATE and DELETE on this table."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_case_id", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    actor_id: Mapped[int | None] = mapped_column(Integer, default=None)  # no FK: outlives accounts
    actor: Mapped[str] = mapped_column(String(USERNAME_MAX_CHARS))  # username, or "system"
    action: Mapped[str] = mapped_column(String(48))
    case_id: Mapped[int | None] = mapped_column(Integer, default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
