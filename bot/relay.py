"""The core path of every channel: check what a person sent, store it, ask Rasa,
store and return the replies.

Channel adapters build an `Inbound` and render the `StoredMessage`s they get
back; they know nothing about Rasa or the database. The handoff lock sits
here, between storing the user's message and asking Rasa (bot/handoff.py).

One turn of a conversation at a time: `handle` holds the conversation's turn
lock (bot/coordination/turn_locks.py; across workers with Redis), so two messages
of one conversation on two workers are handled one after the other, and a
counsellor's "take" waits for the turn in flight.

With an `Admission` (bot/admission.py; the app always has one), a turn that cannot
ask Rasa at once, or is not done within its deadline, is answered with the busy
reply (111) and goes on in the background, its turn lock held, its replies stored
when Rasa answers. A conversation a counsellor holds gets no busy reply.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from sqlalchemy.orm import Session

from bot import replies, transcript
from bot.admission import Admission
from bot.cases import feedback
from bot.coordination.turn_locks import LocalTurnLocks, TurnLocks, TurnLockTimeout
from bot.db import Database
from bot.messages import GREETING_PAYLOAD, BotReply, Inbound, StoredMessage
from bot.models import Conversation, Sender, conversation_key
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.speaker import Speaker
from common.text_guard import clean, guard_free_text

if TYPE_CHECKING:
    from bot.handoff import Handoff, LockState
    from bot.privacy.forget import Forgetting

logger = logging.getLogger(__name__)


class RejectedMessage(ValueError):
    """The message cannot be accepted as sent; `code` is stable for API clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Relay:
    def __init__(
        self,
        database: Database,
        rasa: RasaClient,
        max_message_chars: int,
        speaker: Speaker | None = None,
        handoff: Handoff | None = None,
        forgetting: Forgetting | None = None,
        log_message_text: bool = False,
        turn_locks: TurnLocks | None = None,
        admission: Admission | None = None,
    ) -> None:
        self._database = database
        self._admission = admission
        self.turn_locks = turn_locks or LocalTurnLocks()
        self._forgetting = forgetting  # "xóa dữ liệu của em" (bot/privacy/forget.py)
        self._log_message_text = log_message_text  # development only (LOG_MESSAGE_TEXT)
        self._rasa = rasa
        self._max_message_chars = max_message_chars
        # What the bot and the gateway say is stored and queued by the speaker (bot/speaker.py).
        self.speaker = speaker or Speaker(database)
        self._handoff = handoff

    async def handle(self, inbound: Inbound) -> list[StoredMessage]:
        """Process one message; return the replies meant for the person, in order (or the busy
        reply, the turn going on in the background)."""
        if self._admission is None:
            return await self._turn(inbound)
        return await self._admission.answer(self._turn(inbound), lambda: self._busy(inbound))

    async def _turn(self, inbound: Inbound) -> list[StoredMessage]:
        async with contextlib.AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(self.turn_locks.hold(conversation_key(inbound.channel, inbound.external_id)))
            except TurnLockTimeout as error:
                # Only a stuck worker holds a turn this long: answering beats waiting forever
                # (a taken conversation stays silent anyway: the case row is read below).
                logger.error("%s conversation: %s; handling the message anyway", inbound.channel, error)
            return await self._handle(inbound)
        raise AssertionError("unreachable")

    async def _handle(self, inbound: Inbound) -> list[StoredMessage]:
        if self._log_message_text:
            # WARNING: the gateway configures no log handlers, so this reaches stderr as-is.
            logger.warning("LOG_MESSAGE_TEXT %s:%s text=%r payload=%r", inbound.channel, inbound.external_id,
                        inbound.text, inbound.payload)
        if self._forgetting is not None and self._forgetting.is_request(inbound):
            forgotten = await self._forget(inbound)
            if forgotten is not None:
                return forgotten
        if inbound.text is None and inbound.payload is None:
            # Only a photo, sticker, voice...: never read. The transcript says what
            # kind it was (the counsellor sees it) and the child learns we read text.
            note = replies.attachment_notice(inbound.attachments)
            await self._database.run(
                lambda s: transcript.add_user_message(s, self._conversation(s, inbound), note,
                                                     platform_ref=inbound.external_message_id)
            )
            return await self._reply(inbound, replies.TEXT_ONLY)
        if inbound.payload is not None:
            def press(session: Session) -> tuple[str, LockState | None]:
                forward, conversation = self._store_button_press(session, inbound)
                if feedback.is_answer(forward):  # the question after a case (bot/cases/feedback.py)
                    return feedback.record_answer(session, forward, conversation.id), None
                return forward, self._lock_state(session, conversation)

            forward, state = await self._database.run(press)
            if feedback.is_answer(inbound.payload):
                return await self._reply(inbound, forward)  # never to Rasa: the thanks
            return await self._ask_rasa(inbound, forward, state)

        assert inbound.text is not None
        stored_text = clean(inbound.text)
        if not stored_text:
            raise RejectedMessage("empty_text", "text must contain something besides whitespace")
        guarded = guard_free_text(inbound.text, self._max_message_chars)

        to_rasa = not (guarded.too_long or guarded.empty)

        # One unit of work before Rasa: store the message and read the handoff lock.
        def store(session: Session) -> LockState | None:
            conversation = self._conversation(session, inbound)
            transcript.add_user_message(session, conversation, stored_text,
                                         platform_ref=inbound.external_message_id)
            if self._database.keyring is not None:  # a comment after the feedback question, kept apart
                feedback.take_comment(session, conversation, stored_text, self._database.keyring)
            return self._lock_state(session, conversation) if to_rasa else None

        state = await self._database.run(store)
        if guarded.too_long:
            return await self._reply(inbound, replies.message_too_long(self._max_message_chars))
        if guarded.empty:  # e.g. only slashes: nothing for the NLU to read
            return await self._reply(inbound, replies.EMPTY_AFTER_CLEANING)
        return await self._ask_rasa(inbound, guarded.text, state)

    async def _forget(self, inbound: Inbound) -> list[StoredMessage] | None:
        from bot.privacy.forget import CONFIRMED, CONFIRMED_CASE_RECORD_KEPT, KEPT, Outcome

        assert self._forgetting is not None
        outcome = await anyio.to_thread.run_sync(self._forgetting.forget, inbound)
        if outcome is None:
            return None  # a button that was not offered: refused as usual
        if outcome is Outcome.KEPT_OPEN_CASE:
            shown = inbound.text if inbound.text is not None else "Xóa dữ liệu của em"
            await self._database.run(
                lambda s: transcript.add_user_message(s, self._conversation(s, inbound), clean(shown) or shown)
            )
            return await self._reply(inbound, KEPT)
        # The confirmation starts a new, empty conversation (push channels deliver through it).
        kept = outcome is Outcome.FORGOTTEN_CASE_RECORD_KEPT
        return await self._reply(inbound, CONFIRMED_CASE_RECORD_KEPT if kept else CONFIRMED)

    def _store_button_press(self, session: Session, inbound: Inbound) -> tuple[str, Conversation]:
        assert inbound.payload is not None
        if inbound.opens_conversation:  # Messages guarantees it is the greeting
            conversation = self._conversation(session, inbound)
            transcript.add_user_message(session, conversation, "/start", payload=GREETING_PAYLOAD,
                                         platform_ref=inbound.external_message_id)
            return GREETING_PAYLOAD, conversation
        conversation = transcript.find_conversation(session, inbound.channel, inbound.external_id)
        button = (
            transcript.offered_button(session, conversation, inbound.payload)
            if conversation is not None
            else None
        )
        if conversation is None or button is None:
            raise RejectedMessage(
                "payload_not_offered",
                "payload must be one of the buttons the bot offered in this conversation",
            )
        # The transcript shows what the person saw and pressed: the button's title.
        transcript.add_user_message(session, conversation, button.title, payload=button.payload,
                                     platform_ref=inbound.external_message_id)
        return button.payload, conversation

    def _lock_state(self, session: Session, conversation: Conversation) -> LockState | None:
        return self._handoff.lock_state(session, conversation) if self._handoff is not None else None

    async def _ask_rasa(self, inbound: Inbound, text: str, state: LockState | None) -> list[StoredMessage]:
        # The handoff lock: a counsellor holds this conversation, the bot stays silent.
        # `state` was read in the unit of work that stored the message, under the turn lock.
        if self._handoff is not None and state is not None and await self._handoff.act_on(state):
            return []
        sender_id = conversation_key(inbound.channel, inbound.external_id)
        try:
            async with self._admission.slot() if self._admission is not None else contextlib.nullcontext():
                turn = await self._rasa.converse(sender_id, text)
        except RasaUnavailable as error:
            logger.warning("Rasa unavailable for a %s message: %s", inbound.channel, error)
            return await self._finish_turn(inbound, [BotReply(text=replies.RASA_UNAVAILABLE)], Sender.SYSTEM, [])
        if not turn.replies and not turn.instructions:
            # Rasa finished the turn without a word: its custom action failed (e.g. the action
            # server was down; Rasa logs it and goes on). Silence is no answer for a child.
            logger.warning("Rasa answered a %s message with nothing; the apology (111) instead", inbound.channel)
            return await self._finish_turn(inbound, [BotReply(text=replies.RASA_UNAVAILABLE)], Sender.SYSTEM, [])
        return await self._finish_turn(inbound, turn.replies, Sender.BOT, turn.instructions)

    async def _finish_turn(self, inbound: Inbound, bot_replies: list[BotReply], sender: Sender,
                           instructions: list[dict[str, Any]]) -> list[StoredMessage]:
        """Store the turn's replies and copy them into an open case: one unit of work after
        Rasa (a request for a counsellor takes the longer way, bot/handoff.py after_turn)."""
        handoff = self._handoff
        if handoff is None or instructions:
            stored = await self._store_replies(inbound, bot_replies, sender)
            return stored + await self._after_turn(inbound, instructions)

        def store(session: Session) -> tuple[list[StoredMessage], int | None]:
            conversation, stored = self.speaker.add(session, inbound.channel, inbound.external_id,
                                                    bot_replies, sender)
            return stored, handoff.sync_case(session, conversation)

        stored, case_id = await self._database.run(store)
        handoff.announce(case_id)
        return stored

    async def _busy(self, inbound: Inbound) -> list[StoredMessage]:
        """The busy reply for a turn still waiting for Rasa; nothing if a counsellor holds the conversation."""
        handoff = self._handoff
        if handoff is not None:
            def held(session: Session) -> bool:
                conversation = transcript.find_conversation(session, inbound.channel, inbound.external_id)
                return conversation is not None and handoff.counsellor_holds(session, conversation)

            if await self._database.run(held):
                return []
        return await self._finish_turn(inbound, [BotReply(text=replies.RASA_BUSY)], Sender.SYSTEM, [])

    async def _after_turn(self, inbound: Inbound, instructions: list[dict[str, Any]]) -> list[StoredMessage]:
        """Instructions for the gateway (a counsellor is needed) and the case transcript."""
        if self._handoff is None:
            return []
        return await self._handoff.after_turn(inbound, instructions)

    async def _reply(self, inbound: Inbound, text: str) -> list[StoredMessage]:
        return await self._store_replies(inbound, [BotReply(text=text)], Sender.SYSTEM)

    async def _store_replies(
        self, inbound: Inbound, bot_replies: list[BotReply], sender: Sender
    ) -> list[StoredMessage]:
        return await self.speaker.say(inbound.channel, inbound.external_id, bot_replies, sender)

    @staticmethod
    def _conversation(session: Session, inbound: Inbound) -> Conversation:
        return transcript.get_or_create_conversation(session, inbound.channel, inbound.external_id)

