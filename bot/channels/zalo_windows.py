"""Zalo's messaging windows of a conversation, for the counsellor console.

Zalo lets an OA reply for free for 48 hours after the user's last message,
and not at all after 7 days (`-230`). The last interaction is the child's
latest message in the transcript; a refusal is stored when Zalo answers
`-230`/`-213`, and forgotten once the child writes again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from bot.models import Conversation, Message, Sender, ZaloWindow, as_utc, utc_now

CHANNEL = "zalo"  # the channel's name in conversations (bot.channels.zalo uses this one)
FREE_REPLY_WINDOW = timedelta(hours=48)
MESSAGING_WINDOW = timedelta(days=7)




@dataclass(frozen=True)
class MessagingWindows:
    """What the console shows for a Zalo conversation."""

    last_interaction_at: datetime | None
    free_reply_left: timedelta  # replies are free for 48 h after the child's last message
    messaging_left: timedelta  # after 7 days the OA cannot write to the child at all
    closed_at: datetime | None  # Zalo refused a message since the child last wrote

    @property
    def is_open(self) -> bool:
        return self.closed_at is None and self.messaging_left > timedelta(0)


def messaging_windows(conversation: Conversation, now: datetime | None = None) -> MessagingWindows:
    """For a Zalo conversation attached to an open Session."""
    session = object_session(conversation)
    if session is None:
        raise ValueError("the conversation must belong to an open session")
    now = now or utc_now()
    last = session.scalars(
        select(Message.created_at)
        .where(Message.conversation_id == conversation.id, Message.sender == Sender.USER)
        .order_by(Message.id.desc()).limit(1)
    ).first()
    last = as_utc(last) if last is not None else None
    window = session.get(ZaloWindow, conversation.id)
    closed = as_utc(window.closed_at) if window is not None and window.closed_at is not None else None
    if closed is not None and last is not None and last > closed:
        closed = None  # the child wrote again: the window reopened

    def left(length: timedelta) -> timedelta:
        return max(timedelta(0), last + length - now) if last is not None else timedelta(0)

    return MessagingWindows(last, left(FREE_REPLY_WINDOW), left(MESSAGING_WINDOW), closed)


def record_window_closed(session: Session, conversation: Conversation, code: int) -> bool:
    """Store that Zalo refused; True if this is news since the child last wrote."""
    already = messaging_windows(conversation).closed_at is not None
    window = session.get(ZaloWindow, conversation.id)
    if window is None:
        window = ZaloWindow(conversation_id=conversation.id)
        session.add(window)
    if not already:
        window.closed_at = utc_now()
        window.error_code = code
    return not already


