"""The transcript: conversations, their messages, and the buttons the bot offered.

Functions take an open Session so callers choose the unit of work; they never
commit themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.messages import BotReply, Button, StoredMessage
from bot.models import (
    BUTTON_TITLE_MAX_CHARS,
    PAYLOAD_MAX_CHARS,
    Conversation,
    Message,
    OfferedButton,
    Sender,
    utc_now,
)

# What a person sees of a conversation: everything but their own messages.
REPLY_SENDERS = (Sender.BOT, Sender.COUNSELLOR, Sender.SYSTEM)


def find_conversation(session: Session, channel: str, external_id: str) -> Conversation | None:
    return session.scalars(
        select(Conversation).where(
            Conversation.channel == channel, Conversation.external_id == external_id
        )
    ).one_or_none()


def get_or_create_conversation(session: Session, channel: str, external_id: str) -> Conversation:
    conversation = find_conversation(session, channel, external_id)
    if conversation is not None:
        return conversation
    try:
        # A savepoint, so losing the race with a concurrent first message only
        # undoes this insert, not the caller's transaction.
        with session.begin_nested():
            conversation = Conversation(channel=channel, external_id=external_id)
            session.add(conversation)
    except IntegrityError:
        conversation = find_conversation(session, channel, external_id)
        if conversation is None:
            raise
    return conversation


def add_user_message(
    session: Session, conversation: Conversation, text: str, payload: str | None = None,
    platform_ref: str | None = None,
) -> Message:
    """Store what the person sent. With `platform_ref` (the channel's id of the message), a message
    already stored under it (the same update handled again after a crash mid-turn) is returned
    instead of being stored a second time."""
    if platform_ref is not None:
        stored = session.scalars(
            select(Message).where(Message.conversation_id == conversation.id, Message.sender == Sender.USER,
                                  Message.platform_ref == platform_ref).limit(1)
        ).first()
        if stored is not None:
            return stored
    message = _add(session, conversation, Sender.USER, text, (), payload)
    message.platform_ref = platform_ref
    return message


def add_replies(
    session: Session,
    conversation: Conversation,
    replies: Iterable[BotReply],
    sender: Sender = Sender.BOT,
) -> list[Message]:
    """Store replies in order and remember every button they offer."""
    return [_add(session, conversation, sender, r.text, r.buttons, None) for r in replies]


def offered_button(session: Session, conversation: Conversation, payload: str) -> OfferedButton | None:
    """The latest button with this payload offered in this conversation, if any."""
    return session.scalars(
        select(OfferedButton)
        .where(OfferedButton.conversation_id == conversation.id, OfferedButton.payload == payload)
        .order_by(OfferedButton.id.desc())
        .limit(1)
    ).one_or_none()


def replies_after(
    session: Session, conversation: Conversation, after: int, limit: int
) -> Sequence[Message]:
    return session.scalars(
        select(Message)
        .where(
            Message.conversation_id == conversation.id,
            Message.id > after,
            Message.sender.in_(REPLY_SENDERS),
        )
        .order_by(Message.id)
        .limit(limit)
    ).all()


def to_stored(message: Message) -> StoredMessage:
    return StoredMessage(
        id=message.id,
        sender=message.sender,
        text=message.text,
        buttons=tuple(Button(b["title"], b["payload"]) for b in message.buttons or ()),
        created_at=message.created_at,
    )


def _add(
    session: Session,
    conversation: Conversation,
    sender: Sender,
    text: str,
    buttons: Sequence[Button],
    payload: str | None,
) -> Message:
    now = utc_now()
    # The conversation's row first: on PostgreSQL this locks it until commit, so the
    # message ids of one conversation are handed out in commit order even when two
    # workers write to it at once. Clients poll with `after=<last id seen>`; an id
    # taken before another's but committed after it would never be shown.
    session.execute(
        update(Conversation).where(Conversation.id == conversation.id).values(last_activity=now)
    )
    message = Message(
        conversation_id=conversation.id,
        sender=sender,
        text=text,
        buttons=[b.as_dict() for b in buttons],
        payload=payload,
        created_at=now,
    )
    session.add(message)
    session.flush()  # assigns the id, which the offered buttons refer to
    for button in buttons:
        # Over-long payloads cannot be stored, so they can never be accepted back either.
        if len(button.payload) <= PAYLOAD_MAX_CHARS:
            session.add(
                OfferedButton(
                    conversation_id=conversation.id,
                    message_id=message.id,
                    title=button.title[:BUTTON_TITLE_MAX_CHARS],
                    payload=button.payload,
                    created_at=now,
                )
            )
    return message
