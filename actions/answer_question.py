"""The knowledge-base actions: answer a legal question, and record "was this helpful?".

Thin adapters: the answer itself is built by `KnowledgeBase.respond()` (the same
call `make ask` makes); here it only meets Rasa: slots in, messages and slot
events out. Slots (domain.yml, knowledge-base section):
  audience              child | parent, inferred from the wording or from a button
  kb_audience_asked     we asked "child or parent?" once and do not ask again
  kb_pending_card       the card waiting for that answer
  last_card             the card just answered, for feedback
  kb_awaiting_feedback  true right after an answer: the rule sends affirm/deny here
  conversation_topic    the knowledge-base topic of the conversation (what was disclosed or
                        answered last): follow-ups are answered in it
  kb_last_question      the question answered last, read together with a follow-up
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge_base.phrases import phrase
from actions.knowledge_base.service import (
    AUDIENCES,
    ConversationState,
    KnowledgeBase,
    Reply,
    UserMessage,
    default_database,
    default_knowledge_base,
)
from actions.slots import AUDIENCE_SLOT, LAST_CARD_SLOT, LAST_QUESTION_SLOT, TOPIC_SLOT

logger = logging.getLogger(__name__)

AUDIENCE_ASKED_SLOT = "kb_audience_asked"
PENDING_CARD_SLOT = "kb_pending_card"
AWAITING_FEEDBACK_SLOT = "kb_awaiting_feedback"


def conversation_state(tracker: Tracker) -> ConversationState:
    audience = tracker.get_slot(AUDIENCE_SLOT)
    return ConversationState(
        audience=audience if audience in AUDIENCES else None,
        audience_asked=bool(tracker.get_slot(AUDIENCE_ASKED_SLOT)),
        pending_card=tracker.get_slot(PENDING_CARD_SLOT) or None,
        topic=tracker.get_slot(TOPIC_SLOT) or None,
        last_question=tracker.get_slot(LAST_QUESTION_SLOT) or None,
    )


def slot_events(before: ConversationState, reply: Reply, question: str = "") -> list[EventType]:
    after = reply.state
    events: list[EventType] = []
    if after.audience != before.audience:
        events.append(SlotSet(AUDIENCE_SLOT, after.audience))
    if after.audience_asked != before.audience_asked:
        events.append(SlotSet(AUDIENCE_ASKED_SLOT, after.audience_asked))
    if after.pending_card != before.pending_card:
        events.append(SlotSet(PENDING_CARD_SLOT, after.pending_card))
    answered = reply.kind == "answer"
    if answered:
        events.append(SlotSet(LAST_CARD_SLOT, reply.card_id))
        if after.topic != before.topic:
            events.append(SlotSet(TOPIC_SLOT, after.topic))
        if question and not question.startswith("/"):
            events.append(SlotSet(LAST_QUESTION_SLOT, reply.read_as or question))
    # Always set, so the feedback rule's condition is exact whatever came before.
    events.append(SlotSet(AWAITING_FEEDBACK_SLOT, answered))
    return events


# Replies that mean "not sure what you asked": the top cards as buttons, or the topics.
UNANSWERED_KINDS = ("clarify", "topics")


class ActionAnswerQuestion(Action):
    def __init__(self, knowledge_base: KnowledgeBase | None = None, unanswered_database: Any = None) -> None:
        self._knowledge_base = knowledge_base
        self._unanswered_database = unanswered_database
        if knowledge_base is None:
            # rasa-sdk creates the action when the server starts: load the content
            # now (migrate, import if changed, index) instead of on the first question.
            try:
                default_knowledge_base()
            except Exception:  # noqa: BLE001 - retried on the first question; the server must start
                logger.exception("knowledge base not ready at start")
            else:  # the database is there and migrated
                _start_unanswered_retention()

    def name(self) -> str:
        return "action_answer_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        before = conversation_state(tracker)
        try:
            knowledge_base = self._knowledge_base or default_knowledge_base()
        except Exception:  # noqa: BLE001 - a broken database must not leave the person without a reply
            logger.exception("knowledge base unavailable")
            dispatcher.utter_message(text=phrase("unavailable", before.audience))
            return [SlotSet(AWAITING_FEEDBACK_SLOT, False)]

        message = UserMessage.from_parse(tracker.latest_message or {})
        reply = knowledge_base.respond(message, before)
        for out in reply.messages:
            dispatcher.utter_message(**out.as_dispatch())
        logger.info("kb reply: %s card=%s confidence=%.3f register=%s",
                    reply.kind, reply.card_id, reply.confidence, reply.register)
        if reply.kind in UNANSWERED_KINDS and message.text and not message.text.startswith("/"):
            self._keep_unanswered(knowledge_base, message, reply)
        self._count(reply)
        return slot_events(before, reply, message.text)

    def _count(self, reply: Reply) -> None:
        """One more answer of its kind today, for the reports page (answer_counts.py)."""
        from actions.knowledge_base.answer_counts import count_answer

        if self._unanswered_database is None and self._knowledge_base is not None:
            return
        try:
            count_answer(self._unanswered_database or default_database(), reply.kind, reply.state.audience)
        except Exception:  # noqa: BLE001 - a count lost must not break the conversation
            logger.exception("could not count an answer")

    def _keep_unanswered(self, knowledge_base: KnowledgeBase, message: UserMessage, reply: Reply) -> None:
        """A question the bot could not answer confidently, redacted, for editors (unanswered.py).
        An action built with a knowledge base of its own (tests, tools) keeps them only in the
        database it was given."""
        from actions.knowledge_base.settings import retention_days
        from actions.knowledge_base.unanswered import record_unanswered

        if self._unanswered_database is None and self._knowledge_base is not None:
            return
        try:
            closest = knowledge_base.rank(message, reply.state.audience, limit=1)
            record_unanswered(self._unanswered_database or default_database(), message.text, reply.state.audience,
                              closest[0].card_id if closest else None, reply.confidence, retention_days())
        except Exception:  # noqa: BLE001 - losing one of these must not break the conversation
            logger.exception("could not keep an unanswered question")


_unanswered_retention: Any = None  # this process's schedule (unanswered.start_purge_schedule)


def _start_unanswered_retention() -> None:
    """Questions nobody answered are deleted on the retention schedule, even when nobody writes.
    Once a process (rasa-sdk creates each action once)."""
    global _unanswered_retention
    from actions.knowledge_base.settings import retention_check_seconds, retention_days
    from actions.knowledge_base.unanswered import start_purge_schedule

    if _unanswered_retention is not None:
        return
    try:
        _unanswered_retention = start_purge_schedule(default_database, retention_days, retention_check_seconds())
    except Exception:  # noqa: BLE001 - the server must start; writes and readings purge too
        logger.exception("could not start the retention of unanswered questions")


class ActionChatOrAnswer(ActionAnswerQuestion):
    """Everyday talk (the out_of_scope intent): a short friendly reply, unless the knowledge
    base is sure the message is a question it answers. A follow-up such as "mỗi ngày mấy
    tiếng" or "làm hồ sơ ở đâu" reads like small talk on its own; in the conversation's topic
    it is a question, and it gets its answer."""

    # Surer than for a question the NLU recognised: everyday talk must not get a law card.
    ANSWER_ABOVE = 0.25

    def name(self) -> str:
        return "action_chat_or_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        before = conversation_state(tracker)
        try:
            knowledge_base = self._knowledge_base or default_knowledge_base()
            message = UserMessage.from_parse(tracker.latest_message or {})
            reply = knowledge_base.respond(message, replace(before, audience_asked=True))
        except Exception:  # noqa: BLE001 - small talk needs no database
            logger.exception("knowledge base unavailable for everyday talk")
            reply = None
        in_context = bool(before.topic or before.last_question)
        if reply is not None and reply.kind == "answer" and (
                reply.confidence >= self.ANSWER_ABOVE or in_context):
            for out in reply.messages:
                dispatcher.utter_message(**out.as_dispatch())
            return slot_events(before, replace(reply, state=replace(reply.state, audience_asked=before.audience_asked)),
                               message.text)
        dispatcher.utter_message(response="utter_out_of_scope")
        return [SlotSet(AWAITING_FEEDBACK_SLOT, False)]


class ActionRecordFeedback(Action):
    def __init__(self, database: Any = None) -> None:
        self._database = database

    def name(self) -> str:
        return "action_record_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        from actions.knowledge_base.feedback import record_feedback

        audience = tracker.get_slot(AUDIENCE_SLOT)
        audience = audience if audience in AUDIENCES else None
        card_id = tracker.get_slot(LAST_CARD_SLOT)
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        if not card_id or not tracker.get_slot(AWAITING_FEEDBACK_SLOT) or intent not in ("affirm", "deny"):
            dispatcher.utter_message(text=phrase("feedback_nothing", audience))
            return [SlotSet(AWAITING_FEEDBACK_SLOT, False)]

        helpful = intent == "affirm"
        try:
            record_feedback(self._database or default_database(), card_id, helpful, audience)
        except Exception:  # noqa: BLE001 - losing one feedback must not break the conversation
            logger.exception("could not store feedback for %s", card_id)
        dispatcher.utter_message(text=phrase("feedback_yes" if helpful else "feedback_no", audience))
        return [SlotSet(AWAITING_FEEDBACK_SLOT, False)]
