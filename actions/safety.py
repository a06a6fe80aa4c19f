"""The risk response and the way to a counsellor: what the bot does when triage finds danger.

SafetyNetPolicy (nlu/safety_policy.py) sends every message whose triage says
`escalate` here (and `check_in` ones to action_check_in); the danger intents
come here by rule, so this action owns the first reply to any disclosure.

The dialogue decides, the gateway acts: when a counsellor is needed, the
action sends the handoff instruction of the dialogue contract (common/dialogue.py),
a custom message the gateway reads and never shows, and the gateway opens (or
updates) the case (bot/handoff.py).

- imminent: a counsellor is asked at once, without asking; the person is told.
- high: the consent ladder (talk to a counsellor now / call 111 / information
  only); declining is respected and the offer comes back later.
- an adult writing about a child (the `audience` slot, set for the whole
  conversation by actions/conversation.py): the same, in adult wording, with what
  to do, whom to call and the reporter's confidentiality.
- concern: support and self-help steps from the knowledge base, with the offer.
- once something has been disclosed (`disclosed`), a further disclosure is thanked
  briefly, never answered with the whole safety reply again, and the gentle
  "is something wrong?" question is not asked again.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import conversation_messages as talk
from actions import safety_messages as say
from actions.safety_messages import Reply
from actions.slots import AUDIENCE_SLOT, DISCLOSED_SLOT, LAST_QUESTION_SLOT, TOPIC_SLOT
from common.dialogue import (
    ACTION_HANDOFF_CHECK_IN,
    CASE_RISK_LEVELS,
    RISK_LEVELS,
    RISK_RANK,
    SLOT_HANDOFF_REQUESTED,
    HandoffInstruction,
)
from nlu.risk_field import CUE_CATEGORIES  # lexicon categories that only say "now": never a case's category

logger = logging.getLogger(__name__)

CHOICE_ENTITY = "handoff_choice"
# Knowledge-base cards with self-help steps for concerns (actions/knowledge_base/content).
CONCERN_CARDS = {"bullying": "school-violence-being-bullied", "mental_health": "mental-health-feeling-sad"}
INTENT_CATEGORIES = {"disclose_abuse": "abuse", "self_harm": "self_harm",
                     "report_abuse_other": "report_other", "bullying": "bullying",
                     "mental_health": "mental_health", "request_human": "request"}
# What each danger category is called in the knowledge-base cards' words: a disclosure rarely
# names its harm ("chú hay vào phòng rồi sờ người em"), and the questions that follow it
# ("chú có bị đi tù không", "tôi nên báo cho ai") are read in what it was about.
CATEGORY_WORDS = {
    "sexual_abuse": "xâm hại tình dục, dâm ô, sờ vào vùng kín của trẻ em",
    "grooming": "người lạ trên mạng dụ dỗ, gạ gặp mặt trẻ em",
    "sextortion": "bị tống tiền, đe dọa tung ảnh nhạy cảm trên mạng",
    "physical_violence": "bạo lực, đánh đập, hành hạ trẻ em",
    "bullying": "bạo lực học đường, bị bạn đánh, bắt nạt ở trường",
    "neglect": "bỏ rơi, bỏ mặc, không chăm sóc trẻ em",
    "exploitation": "bóc lột, bắt trẻ em làm việc nặng nhọc",
    "trafficking": "mua bán trẻ em, bắt cóc",
    "forced_marriage": "tảo hôn, ép trẻ em lấy chồng",
    "self_harm": "tự làm đau bản thân, tự hại",
    "suicide_plan": "ý nghĩ tự tử, muốn chết",
    "suicide_means": "ý nghĩ tự tử, muốn chết",
    "overdose": "uống thuốc quá liều, tự hại",
}


def risk_of(tracker: Tracker) -> dict[str, Any]:
    """The triage result of the latest user message (see docs/architecture.md)."""
    risk = (tracker.latest_message or {}).get("risk") or {}
    level = risk.get("level") if risk.get("level") in RISK_LEVELS else "none"
    return {**risk, "level": level}


def intent_of(tracker: Tracker) -> str:
    return str(((tracker.latest_message or {}).get("intent") or {}).get("name") or "")


def category_of(intent: str, risk: dict[str, Any]) -> str:
    """The most serious danger-lexicon category, else one named after the intent."""
    signals = [s for s in risk.get("signals") or []
               if isinstance(s, dict) and s.get("category") and s.get("category") not in CUE_CATEGORIES]
    signals.sort(key=lambda s: -RISK_RANK.get(str(s.get("level")), 0))
    return str(signals[0]["category"]) if signals else INTENT_CATEGORIES.get(intent, "")


def is_adult(tracker: Tracker) -> bool:
    """An adult is writing: the `audience` slot says "parent" (the adult register), or
    nobody has said yet and the message tells about another child."""
    audience = tracker.get_slot(AUDIENCE_SLOT)
    return audience == "parent" or (audience is None and intent_of(tracker) == "report_abuse_other")


def disclosure_context(text: str, category: str) -> str:
    """What was disclosed, in the words the cards use for its harm (CATEGORY_WORDS)."""
    words = CATEGORY_WORDS.get(category)
    return f"{text} ({words})" if words else text


def topic_of_disclosure(text: str, audience: Any) -> str | None:
    """The knowledge-base topic closest to what was disclosed (`disclosure_context`), so that
    the questions that follow ("tôi nên báo cho ai", "nhà trường có trách nhiệm gì") are
    answered in it."""
    try:
        from actions.knowledge_base.service import default_knowledge_base

        knowledge_base = default_knowledge_base()
        ranking = knowledge_base.index.rank(text, audience=audience if audience in ("child", "parent") else None,
                                            limit=1)
    except Exception:  # noqa: BLE001 - the topic only helps; the safety reply must not depend on it
        logger.exception("knowledge base unavailable for the topic of a disclosure")
        return None
    return knowledge_base.cards[ranking[0].card_id].topic if ranking else None


def utter(dispatcher: CollectingDispatcher, replies: tuple[Reply, ...] | list[Reply]) -> None:
    for reply in replies:
        buttons = [{"title": t, "payload": p} for t, p in reply.buttons]
        dispatcher.utter_message(text=reply.text, buttons=buttons or None)


def ask_for_counsellor(dispatcher: CollectingDispatcher, risk: str, category: str, consent: str) -> None:
    """The instruction to the gateway; the person never sees it."""
    dispatcher.utter_message(json_message=HandoffInstruction(risk, category, consent).as_custom())


class ActionRespondToRisk(Action):
    def name(self) -> str:
        return "action_respond_to_risk"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        risk = risk_of(tracker)
        intent = intent_of(tracker)
        categories = {str(s.get("category", "")) for s in risk.get("signals") or [] if isinstance(s, dict)}
        # A danger intent whose triage came out "none" (for example a negated
        # sentence the classifier still read as a disclosure) gets the gentle
        # check-in question: asking costs little, missing a child costs a lot.
        level = risk["level"] if risk["level"] != "none" else "concern"
        category = category_of(intent, risk)
        requested = bool(tracker.get_slot(SLOT_HANDOFF_REQUESTED))
        adult = is_adult(tracker)
        told_before = bool(tracker.get_slot(DISCLOSED_SLOT))
        events: list[EventType] = [SlotSet("risk_level", level), SlotSet("risk_category", category)]

        if adult and tracker.get_slot(AUDIENCE_SLOT) is None:
            events.append(SlotSet(AUDIENCE_SLOT, "parent"))  # and so for the rest of the conversation
        if level in ("high", "imminent"):
            events.append(SlotSet(DISCLOSED_SLOT, True))
            if not told_before:
                disclosed = disclosure_context(str((tracker.latest_message or {}).get("text") or ""), category)
                topic = topic_of_disclosure(disclosed, tracker.get_slot(AUDIENCE_SLOT))
                if topic:
                    events.append(SlotSet(TOPIC_SLOT, topic))
                # The disclosure is what the questions that follow lean on (actions/answer_question.py).
                events.append(SlotSet(LAST_QUESTION_SLOT, disclosed))

        if level == "imminent":
            replies = say.replies_for(level, intent, categories, adult)
            if requested:  # already asked for: raise the case's risk, do not repeat the news
                replies = tuple(r for r in replies if r not in (say.COUNSELLOR_ASKED, say.IMMINENT_ADULT[1]))
            utter(dispatcher, replies)
            ask_for_counsellor(dispatcher, "imminent", category, "not_required")
            events.append(SlotSet(SLOT_HANDOFF_REQUESTED, True))
            return events

        moment = (tracker.latest_message or {}).get("moment") or {}
        if level == "high":
            if told_before and moment.get("kind"):
                # "nếu em kể thì em có bị đuổi học không": after a disclosure, the question is the moment.
                return [*events, FollowupAction("action_respond_to_moment")]
            if told_before:
                # The person is telling more: thank, no second full safety reply.
                utter(dispatcher, [say.MORE_TOLD_ADULT if adult else say.MORE_TOLD])
            else:
                utter(dispatcher, say.replies_for(level, intent, categories, adult))
            if requested:
                utter(dispatcher, [say.ALSO_ASKED_ADULT if adult else say.STILL_WITH_YOU])
                ask_for_counsellor(dispatcher, "high", category, "given")
            elif tracker.get_slot("handoff_offered"):
                utter(dispatcher, [say.OFFER_AGAIN_ADULT if adult else say.OFFER_AGAIN])
            else:
                utter(dispatcher, [say.OFFER_ADULT if adult else say.OFFER])
                events.append(SlotSet("handoff_offered", True))
            return events

        if intent in CONCERN_CARDS:
            return [*events, FollowupAction("action_support_concern")]
        # Unclear: one gentle question; its own action so the yes/no rules follow it.
        return [*events, FollowupAction("action_check_in")]


class ActionCheckIn(Action):
    """One gentle question when a signal is ambiguous ("đánh" may be "đánh răng").

    Its own action (not a branch of the risk response) so the rules for the
    child's yes or no can follow it directly.
    """

    def name(self) -> str:
        return "action_check_in"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        if tracker.get_slot(DISCLOSED_SLOT):
            # Already told us: never ask again whether something is wrong; answer the moment
            # ("tại em mà", "chú có bị đi tù không") or keep listening.
            if ((tracker.latest_message or {}).get("moment") or {}).get("kind"):
                return [FollowupAction("action_respond_to_moment")]
            utter(dispatcher, talk.texts("listening", is_adult(tracker)))
            return []
        utter(dispatcher, say.CHECK_IN_ADULT if is_adult(tracker) else say.CHECK_IN)
        return [SlotSet("risk_level", "concern")]


class ActionSupportConcern(Action):
    """Bullying, sadness, stress: support and self-help steps from the knowledge base,
    then the offer of a counsellor (the child decides)."""

    def name(self) -> str:
        return "action_support_concern"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        intent = intent_of(tracker)
        card = CONCERN_CARDS.get(intent) or CONCERN_CARDS["mental_health"]
        texts = _card_texts(card, tracker.get_slot(AUDIENCE_SLOT))
        if texts:
            for text in texts:
                dispatcher.utter_message(text=text)
        else:
            utter(dispatcher, say.SELF_HELP_FALLBACK.get(intent, say.SELF_HELP_FALLBACK["mental_health"]))
        if not tracker.get_slot(SLOT_HANDOFF_REQUESTED):
            utter(dispatcher, [say.CONCERN_OFFER_ADULT if is_adult(tracker) else say.CONCERN_OFFER])
        return [SlotSet("risk_category", INTENT_CATEGORIES.get(intent, "mental_health"))]


def _card_texts(card_id: str, audience: Any) -> list[str]:
    try:
        from actions.knowledge_base.service import ConversationState, UserMessage, default_knowledge_base

        knowledge_base = default_knowledge_base()
        state = ConversationState(audience=audience if audience in ("child", "parent") else "child",
                                  audience_asked=True)
        reply = knowledge_base.respond(UserMessage(text="", entities={"kb_card": card_id}), state)
    except Exception:  # noqa: BLE001 - the fixed steps below still help the child
        logger.exception("knowledge base unavailable for a concern")
        return []
    # Self-help for feelings and bullying: the steps, without the card's law citation.
    return list(reply.answer_body)


class ActionHandoffChoice(Action):
    """The child's answer to the offer (or a typed "cho em gặp người thật")."""

    def name(self) -> str:
        return "action_handoff_choice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        choice = next(tracker.get_latest_entity_values(CHOICE_ENTITY), None) or "counsellor"
        level = tracker.get_slot("risk_level")
        risk = level if level in CASE_RISK_LEVELS else "concern"
        category = tracker.get_slot("risk_category") or "request"
        requested = bool(tracker.get_slot(SLOT_HANDOFF_REQUESTED))

        adult = is_adult(tracker)
        if choice == "call_111":
            utter(dispatcher, [say.HOW_TO_CALL_111_ADULT if adult else say.HOW_TO_CALL_111])
            return []
        if choice == "info_only":
            utter(dispatcher, [say.CHOSE_INFO_ADULT if adult else say.CHOSE_INFO])
            if risk in ("high", "imminent") and not requested:
                ask_for_counsellor(dispatcher, risk, category, "declined")  # a record, no transcript
            return [SlotSet("handoff_offered", True)]
        if requested:
            utter(dispatcher, [say.ALSO_ASKED_ADULT if adult else say.ALREADY_ASKED])
            return []
        utter(dispatcher, [say.CHOSE_COUNSELLOR_ADULT if adult else say.CHOSE_COUNSELLOR])
        ask_for_counsellor(dispatcher, risk, category, "given")
        return [SlotSet(SLOT_HANDOFF_REQUESTED, True), SlotSet("handoff_offered", True)]


class ActionHandoffCheckIn(Action):
    """Run by the gateway when a counsellor closes the case: the bot is back, briefly."""

    def name(self) -> str:
        return ACTION_HANDOFF_CHECK_IN

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        utter(dispatcher, [say.AFTER_HANDOFF])
        return [SlotSet(SLOT_HANDOFF_REQUESTED, False), SlotSet("handoff_offered", False)]
