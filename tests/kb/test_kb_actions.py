"""The rasa-sdk actions, driven with a real Tracker and CollectingDispatcher."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answer_question import ActionAnswerQuestion, ActionRecordFeedback
from actions.knowledge_base.citations import assert_cites
from actions.knowledge_base.database import KnowledgeBaseDatabase
from actions.knowledge_base.feedback import feedback_summary
from actions.knowledge_base.service import KnowledgeBase

CHILD_LIMIT = 350


def tracker(text: str, intent: str = "ask_rights", confidence: float = 0.95,
            entities: dict[str, str] | None = None, **slots: Any) -> Tracker:
    message = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": [{"entity": k, "value": v} for k, v in (entities or {}).items()],
        "intent_ranking": [{"name": intent, "confidence": confidence}],
    }
    return Tracker("test-user", slots, message, [], False, None, {}, "action_listen")


def run(action: Any, tracker_: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker_, {}))
    return dispatcher.messages, events


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages]


def slot(events: list[dict[str, Any]], name: str) -> Any:
    values = [e["value"] for e in events if e.get("event") == "slot" and e.get("name") == name]
    assert values, f"no SlotSet({name!r}) in {events}"
    return values[-1]


def test_a_child_gets_the_child_answer_with_its_basis(fixture_kb: KnowledgeBase) -> None:
    messages, events = run(ActionAnswerQuestion(fixture_kb),
                           tracker("em lớp 7, em có quyền gì để không bị xâm hại tình dục?"))
    said = texts(messages)
    assert said[0].startswith("Em có quyền được bảo vệ")  # child_answer, not parent_answer
    assert all(len(t) <= CHILD_LIMIT for t in said)
    basis = assert_cites(said, "102/2016/QH13", "25")
    assert basis.cites("102/2016/QH13", "4")
    assert "đã được sửa đổi, bổ sung bởi 28/2018/QH14" in basis.text  # amended text: said so
    assert "Đối chiếu văn bản ngày 28/11/2026" in basis.text
    follow_ups = messages[-2]["buttons"]
    assert [b["payload"] for b in follow_ups] == [
        '/ask_reporting{"kb_card":"reporting-how-to-report"}', '/ask_law{"kb_card":"penalty-sexual-abuse"}']
    feedback = messages[-1]
    assert "hữu ích không?" in feedback["text"]
    assert [b["payload"] for b in feedback["buttons"]] == ["/affirm", "/deny"]
    assert slot(events, "audience") == "child"
    assert slot(events, "last_card") == "rights-protection-sexual-abuse"
    assert slot(events, "kb_awaiting_feedback") is True


def test_a_parent_gets_the_parent_answer(fixture_kb: KnowledgeBase) -> None:
    messages, events = run(ActionAnswerQuestion(fixture_kb),
                           tracker("Kẻ hiếp dâm con tôi 12 tuổi bị phạt tù bao nhiêu năm?", intent="ask_law"))
    said = texts(messages)
    assert said[0].startswith("Hiếp dâm người dưới 16 tuổi bị phạt tù")
    assert_cites(said, "100/2015/QH13", "142")
    assert slot(events, "audience") == "parent"


def test_the_audience_slot_chooses_the_register(fixture_kb: KnowledgeBase) -> None:
    messages, _ = run(ActionAnswerQuestion(fixture_kb),
                      tracker("cha mẹ hành hạ con có bị xử lý hình sự không", intent="ask_law", audience="parent"))
    assert texts(messages)[0].startswith("Ngược đãi, hành hạ con cháu dưới 16 tuổi")
    assert_cites(texts(messages), "100/2015/QH13", "185")
    assert "khoản 2 Điều 185" in texts(messages)[1]


def test_unknown_audience_is_asked_once_with_buttons_that_answer(fixture_kb: KnowledgeBase) -> None:
    action = ActionAnswerQuestion(fixture_kb)
    messages, events = run(action, tracker("Muốn báo một vụ xâm hại trẻ em thì gọi ở đâu?", intent="ask_reporting"))
    assert len(messages) == 1 and "phụ huynh" in messages[0]["text"]
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads == ['/ask_reporting{"kb_card":"reporting-how-to-report","audience":"child"}',
                        '/ask_reporting{"kb_card":"reporting-how-to-report","audience":"parent"}']
    assert slot(events, "kb_audience_asked") is True
    assert slot(events, "kb_pending_card") == "reporting-how-to-report"
    assert slot(events, "kb_awaiting_feedback") is False

    # The click: Rasa has already filled `audience` from the entity.
    click = json.loads(payloads[1][payloads[1].index("{"):])
    messages, events = run(action, tracker(payloads[1], intent="ask_reporting", confidence=1.0, entities=click,
                                           audience="parent", kb_audience_asked=True,
                                           kb_pending_card="reporting-how-to-report"))
    assert texts(messages)[0].startswith("Anh/chị báo ngay cho Tổng đài 111")
    assert slot(events, "kb_pending_card") is None
    assert slot(events, "last_card") == "reporting-how-to-report"

    # Asked once: the next unclear-audience question is answered (child register) without asking again.
    messages, _ = run(action, tracker("bao cho ai khi thay ban bi danh", intent="ask_reporting",
                                      kb_audience_asked=True))
    assert texts(messages)[0].startswith("Em có thể gọi 111")


def test_typing_the_audience_answers_the_pending_question(fixture_kb: KnowledgeBase) -> None:
    messages, _ = run(ActionAnswerQuestion(fixture_kb),
                      tracker("tôi là phụ huynh", intent="ask_reporting", kb_audience_asked=True,
                              kb_pending_card="reporting-how-to-report"))
    assert texts(messages)[0].startswith("Anh/chị báo ngay")


def test_a_kb_card_entity_forces_the_card(fixture_kb: KnowledgeBase) -> None:
    messages, events = run(ActionAnswerQuestion(fixture_kb),
                           tracker('/ask_law{"kb_card":"penalty-sexual-abuse"}', intent="ask_law",
                                   entities={"kb_card": "penalty-sexual-abuse"}, audience="child"))
    # A parent-only card shown to a child keeps the parent text: it is all the card has.
    assert_cites(texts(messages), "100/2015/QH13", "146")
    assert slot(events, "last_card") == "penalty-sexual-abuse"


def test_an_unclear_question_gets_topic_buttons_not_a_guess(fixture_kb: KnowledgeBase) -> None:
    messages, events = run(ActionAnswerQuestion(fixture_kb),
                           tracker("cách làm bánh flan", intent="ask_rights", confidence=0.3, audience="child"))
    assert len(messages) == 1
    assert "chưa hiểu rõ" in messages[0]["text"]
    buttons = messages[0]["buttons"]
    assert 3 <= len(buttons) <= 4
    assert all(b["payload"].startswith("/ask_") and '"kb_topic":' in b["payload"] for b in buttons)
    assert slot(events, "kb_awaiting_feedback") is False
    assert not [e for e in events if e.get("name") == "last_card"]


def test_a_menu_button_without_a_question_lists_choices(fixture_kb: KnowledgeBase) -> None:
    messages, _ = run(ActionAnswerQuestion(fixture_kb), tracker("/ask_rights", audience="child"))
    assert len(messages) == 1 and messages[0]["buttons"]
    assert all('"kb_card":"rights-' in b["payload"] for b in messages[0]["buttons"])


def test_a_topic_button_lists_that_topics_cards(fixture_kb: KnowledgeBase) -> None:
    messages, _ = run(ActionAnswerQuestion(fixture_kb),
                      tracker('/ask_law{"kb_topic":"penalties"}', intent="ask_law",
                              entities={"kb_topic": "penalties"}, audience="parent"))
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads == ['/ask_law{"kb_card":"penalty-sexual-abuse"}', '/ask_law{"kb_card":"penalty-domestic-abuse"}']
    assert messages[0]["buttons"][0]["title"] == "Mức phạt tội xâm hại tình dục trẻ em"  # the card's title


def test_feedback_is_stored_against_the_card(loaded_database: KnowledgeBaseDatabase) -> None:
    action = ActionRecordFeedback(loaded_database)
    messages, events = run(action, tracker("/affirm", intent="affirm", last_card="rights-child-age",
                                           kb_awaiting_feedback=True, audience="child"))
    assert texts(messages) == ["Cảm ơn em! Mình vui vì giúp được em. Em cứ hỏi tiếp nếu còn thắc mắc nhé."]
    assert events == [SlotSet("kb_awaiting_feedback", False)]
    run(action, tracker("/deny", intent="deny", last_card="rights-child-age", kb_awaiting_feedback=True,
                        audience="parent"))
    summary = feedback_summary(loaded_database)
    assert [(s.card_id, s.helpful, s.not_helpful) for s in summary] == [("rights-child-age", 1, 1)]


def test_feedback_without_a_pending_answer_stores_nothing(loaded_database: KnowledgeBaseDatabase) -> None:
    messages, _ = run(ActionRecordFeedback(loaded_database),
                      tracker("ừ", intent="affirm", last_card="rights-child-age", kb_awaiting_feedback=False))
    assert "Mình hiểu rồi" in texts(messages)[0]
    assert feedback_summary(loaded_database) == []


def test_a_broken_knowledge_base_still_answers_kindly(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> KnowledgeBase:
        raise RuntimeError("database down")

    monkeypatch.setattr("actions.answer_question.default_knowledge_base", broken)
    action = ActionAnswerQuestion()  # the warm-up fails and is logged: the action server still starts
    messages, events = run(action, tracker("em có quyền gì", audience="child"))
    assert "111" in texts(messages)[0]
    assert events == [SlotSet("kb_awaiting_feedback", False)]


def test_everyday_talk_gets_the_friendly_reply_not_a_law_card(fixture_kb: KnowledgeBase) -> None:
    from actions.answer_question import ActionChatOrAnswer

    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionChatOrAnswer(fixture_kb).run(
        dispatcher, tracker("hôm nay em được ăn kem dâu, ngon ghê", intent="out_of_scope"), {}))
    assert [m.get("response") for m in dispatcher.messages] == ["utter_out_of_scope"]
    assert slot(events, "kb_awaiting_feedback") is False


def test_a_question_the_nlu_took_for_small_talk_is_still_answered(fixture_kb: KnowledgeBase) -> None:
    from actions.answer_question import ActionChatOrAnswer

    messages, events = run(ActionChatOrAnswer(fixture_kb),
                           tracker("em lớp 7, em có quyền gì để không bị xâm hại tình dục?", intent="out_of_scope"))
    assert texts(messages)[0].startswith("Em có quyền được bảo vệ")
    assert slot(events, "last_card") and slot(events, "conversation_topic")
