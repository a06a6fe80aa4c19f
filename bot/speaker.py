"""What is said to a person: stored in the transcript and, for a push channel, queued for delivery,
in one unit of work.

Everything that reaches a person goes through the one `Speaker` of the gateway: the bot's replies
of a turn and the gateway's own notices (bot/relay.py), a counsellor's messages, the waiting
notices and the check-in after a case (bot/handoff.py), the quick-exit line of a channel adapter.
The reply hook (`bot.channels.push.reply_hook`) runs inside the unit of work that stores the
messages, so the outbox row commits or rolls back with them: there is no second route to the outbox.
A polling channel (the web chat) reads what was stored (`replies_after`).

    speaker = Speaker(database, on_replies=push.reply_hook(outbox))
    stored = await speaker.say("telegram", chat_id, [BotReply(text="...")], Sender.COUNSELLOR)
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from bot import transcript
from bot.db import Database
from bot.messages import BotReply, StoredMessage
from bot.models import Conversation, Message, Sender

# Called inside the unit of work that stores replies, so whatever it writes
# (the outbox of push channels) commits or rolls back with them.
ReplyHook = Callable[[Session, Conversation, list[Message]], None]


class Speaker:
    def __init__(self, database: Database, on_replies: ReplyHook | None = None) -> None:
        self._database = database
        self._on_replies = on_replies

    def add(self, session: Session, channel: str, external_id: str, bot_replies: list[BotReply],
            sender: Sender) -> tuple[Conversation, list[StoredMessage]]:
        """Inside a unit of work: store the replies and queue them (push channels)."""
        conversation = transcript.get_or_create_conversation(session, channel, external_id)
        stored = transcript.add_replies(session, conversation, bot_replies, sender)
        if self._on_replies is not None:
            self._on_replies(session, conversation, stored)
        return conversation, [transcript.to_stored(m) for m in stored]

    async def say(self, channel: str, external_id: str, bot_replies: list[BotReply],
                  sender: Sender = Sender.SYSTEM) -> list[StoredMessage]:
        """Store and queue replies in a unit of work of their own."""
        return await self._database.run(lambda s: self.add(s, channel, external_id, bot_replies, sender)[1])

    async def note(self, channel: str, external_id: str, sender: Sender, text: str) -> StoredMessage:
        """Record something for the transcript only (nothing is sent), e.g. that a child left
        quickly, or a counsellor's turn typed in the channel's own tool."""

        def store(session: Session) -> StoredMessage:
            conversation = transcript.get_or_create_conversation(session, channel, external_id)
            if sender is Sender.USER:
                return transcript.to_stored(transcript.add_user_message(session, conversation, text))
            stored = transcript.add_replies(session, conversation, [BotReply(text=text)], sender)
            return transcript.to_stored(stored[0])

        return await self._database.run(store)

    async def replies_after(self, channel: str, external_id: str, after: int, limit: int) -> list[StoredMessage]:
        """What a polling channel has not read yet."""

        def query(session: Session) -> list[StoredMessage]:
            conversation = transcript.find_conversation(session, channel, external_id)
            if conversation is None:
                return []
            found = transcript.replies_after(session, conversation, after, limit)
            return [transcript.to_stored(m) for m in found]

        return await self._database.run(query)
