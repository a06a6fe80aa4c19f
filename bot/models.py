"""Tables of the gateway in the app database: conversations and their messages, and the
state the channel adapters keep (message references, Zalo windows and tokens).

All tables of the app database share `Base.metadata`, which the Alembic
environment imports to autogenerate migrations.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.at_rest import EncryptedText

# Named constraints so Alembic migrations can drop/alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CHANNEL_MAX_CHARS = 16
EXTERNAL_ID_MAX_CHARS = 128
PAYLOAD_MAX_CHARS = 1000
BUTTON_TITLE_MAX_CHARS = 200


def conversation_key(channel: str, external_id: str) -> str:
    """A conversation's one name outside the app database: Rasa's sender id (and so the tracker's),
    and the key of its turn lock."""
    return f"{channel}:{external_id}"


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A stored time, timezone-aware: SQLite hands back naive datetimes, written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Sender(enum.StrEnum):
    USER = "user"
    BOT = "bot"
    COUNSELLOR = "counsellor"
    SYSTEM = "system"  # written by the gateway itself, e.g. the "Rasa is down" reply


class Conversation(Base):
    """One conversation of one channel, e.g. a web chat tab or a Telegram chat."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(CHANNEL_MAX_CHARS))
    # The id the channel uses: web chat id chosen by the browser, Telegram chat id, ...
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_MAX_CHARS))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    last_activity: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id", cascade="all, delete-orphan"
    )

    @property
    def rasa_sender_id(self) -> str:
        return conversation_key(self.channel, self.external_id)


class Message(Base):
    """One message of the transcript, whoever wrote it. Ids only grow."""

    __tablename__ = "messages"
    # AUTOINCREMENT: SQLite must never reuse an id, clients poll with `after=<id>`.
    __table_args__ = (
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        Index("ix_messages_conversation_id_platform_ref", "conversation_id", "platform_ref"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    sender: Mapped[Sender] = mapped_column(
        Enum(
            Sender,
            name="message_sender",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda members: [m.value for m in members],
        )
    )
    # Encrypted at rest (Fernet token under the case keys, bot.at_rest): never filter on it.
    text: Mapped[str] = mapped_column(EncryptedText, default="")
    # Buttons the bot offered with this message: [{"title": ..., "payload": ...}].
    buttons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # For a user message sent by pressing a button: the payload (text holds its title).
    payload: Mapped[str | None] = mapped_column(String(PAYLOAD_MAX_CHARS), default=None)
    # The channel's id of a person's message (Telegram update_id, Zalo msg_id), so that an update
    # handled again after a crash mid-turn does not store the message twice.
    platform_ref: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_MAX_CHARS), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class OfferedButton(Base):
    """A button payload the bot offered in a conversation.

    A payload reaches Rasa verbatim (it may start with "/", i.e. force an
    intent), so the gateway only accepts payloads found here for the same
    conversation.
    """

    __tablename__ = "offered_buttons"
    __table_args__ = (Index("ix_offered_buttons_conversation_id_payload", "conversation_id", "payload"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(BUTTON_TITLE_MAX_CHARS))
    payload: Mapped[str] = mapped_column(String(PAYLOAD_MAX_CHARS))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


# Channel state (the adapters in bot.channels use these; the tables live here with the rest).

class MessageRef(Base):
    __tablename__ = "channel_message_refs"
    __table_args__ = (Index("ix_channel_message_refs_channel_external_id", "channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(CHANNEL_MAX_CHARS))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_MAX_CHARS))
    platform_message_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ZaloWindow(Base):
    """When Zalo last refused to deliver to a conversation (outside the 7-day window)."""

    __tablename__ = "zalo_windows"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    error_code: Mapped[int | None] = mapped_column(Integer, default=None)


class ZaloToken(Base):
    __tablename__ = "zalo_oa_tokens"

    oa_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text, default="")
    refresh_token: Mapped[str] = mapped_column(Text, default="")
    access_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Refreshing failed: a person must authorise the app for this OA again.
    needs_reauth: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
