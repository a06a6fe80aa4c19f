"""Follow-ups keep the conversation's thread (actions/knowledge_base/service.py): a weak
question is read with what came before, and the next one with both, through the action's
slots as Rasa would carry them (actions/answer_question.py: `kb_last_question`)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from actions.answer_question import slot_events
from actions.knowledge_base.content import read_content
from actions.knowledge_base.service import MAX_READ_AS_CHARS, ConversationState, KnowledgeBase, UserMessage
from actions.safety import disclosure_context
from actions.slots import LAST_QUESTION_SLOT
from tests.kb.kb_paths import REAL_CONTENT

DISCLOSURE = "con tôi 14 tuổi bị bạn cùng lớp đánh hội đồng, quay clip đăng lên mạng"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase(read_content(REAL_CONTENT).content)


def follow(kb: KnowledgeBase, state: ConversationState, question: str, intent: str, confidence: float
           ) -> tuple[str | None, ConversationState]:
    """One follow-up; the next state as the action's slot events leave it."""
    reply = kb.respond(UserMessage(question, intent, confidence), state)
    slots = {e["name"]: e["value"] for e in slot_events(state, reply, question)}
    return reply.card_id, replace(reply.state, last_question=slots.get(LAST_QUESTION_SLOT, state.last_question))


def test_a_parents_follow_ups_after_a_disclosure_stay_on_school_violence(kb: KnowledgeBase) -> None:
    disclosed = disclosure_context(DISCLOSURE, "bullying")
    state = ConversationState(audience="parent", topic="school-violence", last_question=disclosed)
    card, state = follow(kb, state, "tôi nên báo cho ai", "ask_reporting", 0.9)
    assert kb.cards[card].topic == "school-violence"
    assert DISCLOSURE in state.last_question  # the thread is kept for the next follow-up
    card, _ = follow(kb, state, "nhà trường có trách nhiệm gì không", "out_of_scope", 0.3)
    assert card == "school-violence-being-bullied"  # the school's duties to a bullied pupil (NĐ 80/2017 Điều 6)


def test_a_question_that_stands_on_its_own_starts_a_new_thread(kb: KnowledgeBase) -> None:
    state = ConversationState(audience="parent", topic="school-violence", last_question=disclosure_context(DISCLOSURE, ""))
    reply = kb.respond(UserMessage("trợ cấp xã hội hàng tháng cho trẻ mồ côi là bao nhiêu tiền", "ask_support_policy", 0.95),
                       state)
    assert reply.kind == "answer" and reply.read_as is None


def test_a_long_thread_is_kept_within_bounds(kb: KnowledgeBase) -> None:
    state = ConversationState(audience="parent", topic="school-violence", last_question="x " * 1000)
    reply = kb.respond(UserMessage("tôi nên báo cho ai", "ask_reporting", 0.9), state)
    assert reply.read_as is not None and reply.read_as.startswith("tôi nên báo cho ai")
    assert len(reply.read_as) <= MAX_READ_AS_CHARS
