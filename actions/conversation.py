"""The conversation as a whole: who is talking, and the moments that decide whether a child goes on.

Two actions, both thin (the texts are in actions/conversation_messages.py):

* ``action_validate_slot_mappings`` (Rasa calls it after every message, before anything
  answers): keeps the ``audience`` slot, who is talking, for the whole conversation. A button
  ("Tôi là phụ huynh") decides; otherwise the words do (actions/knowledge_base/audience.py):
  "con tôi", "tôi là giáo viên" make it an adult; "em lớp 7" a child. Once an adult has said
  so, a young mother who calls herself "em" stays an adult; once a child, only a clear adult
  cue ("con tôi", "tôi là phụ huynh") changes it.
* ``action_respond_to_moment`` (chosen by nlu/moment_policy.py): hesitation, secrecy, a
  question about consequences, self-blame and small talk about Mây, in the person's register.
  After a disclosure a consequence question also gets the law's answer from the knowledge
  base, in the conversation's topic, and the counsellor is offered again (unless one is on
  the way).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from actions import conversation_messages as talk
from actions.knowledge_base.audience import PARENT, infer_audience, is_strong_adult_cue
from actions.knowledge_base.replies import AUDIENCE_ENTITY
from actions.safety import is_adult, utter
from actions.slots import AUDIENCE_SLOT, DISCLOSED_SLOT, LAST_CARD_SLOT, TOPIC_SLOT
from common.dialogue import SLOT_HANDOFF_REQUESTED
from nlu.moments import MOMENT_KEY, Moment, find_moment

logger = logging.getLogger(__name__)

LAW_TOPIC = "criminal-law"  # the cards that say what happens to a person who harms a child


def audience_after(current: Any, text: str, button: Any) -> str | None:
    """Who is talking after this message (None: still unknown)."""
    if button in ("child", "parent"):
        return str(button)
    guess = infer_audience(text)
    if guess.audience is None or guess.audience == current:
        return current if current in ("child", "parent") else None
    if current is None:
        return guess.audience
    if guess.audience == PARENT:
        # A child rarely writes "con tôi" or "tôi là phụ huynh"; those switch a child to an adult.
        return PARENT if is_strong_adult_cue(text) else current
    return current  # an adult who writes "em" (a young mother, a teacher) stays an adult


class ValidateSlotMappings(ValidationAction):
    """Custom slot mappings, run by Rasa after every user message."""

    def name(self) -> str:
        return "action_validate_slot_mappings"

    async def extract_audience(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> dict[str, Any]:
        latest = tracker.latest_message or {}
        button = next(tracker.get_latest_entity_values(AUDIENCE_ENTITY), None)
        current = tracker.get_slot(AUDIENCE_SLOT)
        after = audience_after(current, str(latest.get("text") or ""), button)
        return {AUDIENCE_SLOT: after} if after != current else {}


def moment_of(tracker: Tracker) -> Moment | None:
    latest = tracker.latest_message or {}
    return Moment.from_dict(latest.get(MOMENT_KEY)) or find_moment(str(latest.get("text") or ""))


class ActionRespondToMoment(Action):
    def name(self) -> str:
        return "action_respond_to_moment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        moment = moment_of(tracker)
        adult = is_adult(tracker)
        if moment is None:  # the policy saw one; the text no longer shows it (should not happen)
            utter(dispatcher, talk.texts("listening", adult))
            return []
        name = f"{moment.kind}/{moment.sub}" if moment.sub else moment.kind
        utter(dispatcher, talk.texts(name, adult))
        events: list[EventType] = []
        if moment.kind == "consequence" and tracker.get_slot(DISCLOSED_SLOT):
            events += self._law_answer(dispatcher, tracker, moment)
            if not tracker.get_slot(SLOT_HANDOFF_REQUESTED):
                utter(dispatcher, talk.texts("offer_again", adult))
                events.append(SlotSet("handoff_offered", True))
        return events

    @staticmethod
    def _law_answer(dispatcher: CollectingDispatcher, tracker: Tracker, moment: Moment) -> list[EventType]:
        """What the law says about the person who did it (only for "will he go to prison?"):
        the criminal-law card closest to the question read with what was disclosed."""
        if moment.sub != "perpetrator":
            return []
        try:
            from actions.answer_question import conversation_state
            from actions.knowledge_base.service import UserMessage, default_knowledge_base

            # Spoken to as the moment's own words were (a child unless the person is an adult).
            state = replace(conversation_state(tracker), audience="parent" if is_adult(tracker) else "child")
            text = str((tracker.latest_message or {}).get("text") or "")
            reply = default_knowledge_base().answer_in_topic(
                UserMessage(text=text, intent="ask_law", intent_confidence=1.0), state, LAW_TOPIC)
        except Exception:  # noqa: BLE001 - the moment's own words already answered the child
            logger.exception("knowledge base unavailable for a consequence question")
            return []
        if reply is None or reply.kind != "answer":
            return []
        # A child gets what the law does in plain words; the article numbers are for adults.
        for message in (reply.answer_messages if is_adult(tracker) else reply.answer_body):
            dispatcher.utter_message(text=message)
        return [SlotSet(LAST_CARD_SLOT, reply.card_id), SlotSet(TOPIC_SLOT, reply.topic or tracker.get_slot(TOPIC_SLOT))]
