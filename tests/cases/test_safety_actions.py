"""The safety actions: the consent ladder, imminent danger, adults reporting a child, what was said before.

Each test builds a Tracker as Rasa would send it and checks both the messages
(what the child reads) and the gateway instruction (never shown)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import safety
from actions import safety_messages as say


def tracker(intent: str = "disclose_abuse", level: str = "high", signals: list[dict[str, str]] | None = None,
            slots: dict[str, Any] | None = None, entities: list[dict[str, Any]] | None = None,
            active_loop: str | None = None) -> Tracker:
    latest = {"text": "...", "intent": {"name": intent, "confidence": 0.9}, "entities": entities or [],
              "risk": {"level": level, "escalate": level in ("high", "imminent"), "check_in": False,
                       "signals": signals or []}}
    return Tracker("web:test", slots or {}, latest, [], False, None, {"name": active_loop} if active_loop else {},
                   "action_listen")


def run(action: Any, t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    shown = [m for m in dispatcher.messages if not m.get("custom")]
    handoffs = [m["custom"]["handoff"] for m in dispatcher.messages if m.get("custom")]
    return shown, handoffs, events


def titles(messages: list[dict[str, Any]]) -> list[str]:
    return [b["title"] for m in messages for b in m.get("buttons") or []]


def slot(events: list[dict[str, Any]], name: str) -> Any:
    return next((e["value"] for e in events if e.get("event") == "slot" and e["name"] == name), "unset")


def followup(events: list[dict[str, Any]]) -> str | None:
    return next((e["name"] for e in events if e.get("event") == "followup"), None)


def text(messages: list[dict[str, Any]]) -> str:
    return " ".join(m.get("text") or "" for m in messages)


def test_high_risk_offers_the_ladder_and_asks_for_nobody_yet() -> None:
    shown, handoffs, events = run(safety.ActionRespondToRisk(), tracker(signals=[
        {"phrase": "đánh", "category": "physical_violence", "level": "high"}]))

    assert titles(shown) == ["Nói chuyện với tư vấn viên ngay", "Gọi 111", "Chỉ cần thông tin thôi"]
    assert handoffs == []
    assert "111" in text(shown) and "không phải lỗi của em" in text(shown)
    assert slot(events, "handoff_offered") is True and slot(events, "risk_category") == "physical_violence"


def test_the_ladder_comes_back_shorter_after_it_was_offered() -> None:
    shown, handoffs, _ = run(safety.ActionRespondToRisk(), tracker(slots={"handoff_offered": True}))
    assert say.OFFER_AGAIN.text in text(shown) and say.OFFER.text not in text(shown) and handoffs == []


def test_imminent_danger_asks_for_a_counsellor_without_asking_and_says_so() -> None:
    shown, handoffs, events = run(safety.ActionRespondToRisk(), tracker(intent="self_harm", level="imminent",
                                  signals=[{"phrase": "dao", "category": "suicide_means", "level": "imminent"}]))

    assert handoffs == [{"risk": "imminent", "category": "suicide_means", "consent": "not_required"}]
    assert "đang mời một tư vấn viên" in text(shown) and "115" in text(shown)
    assert not titles(shown)
    assert slot(events, "handoff_requested") is True
    assert "ngay" not in re.findall(r"vào (\w+)", text(shown))  # never "vào ngay": a promise we cannot keep


def test_an_overdose_already_taken_gets_call_115_now_before_anything_else() -> None:
    shown, handoffs, _ = run(safety.ActionRespondToRisk(), tracker(intent="self_harm", level="imminent", signals=[
        {"phrase": "vừa uống một vỉ", "category": "overdose", "level": "imminent"},
        {"phrase": "chóng mặt", "category": "symptoms", "level": "imminent"}]))

    first = shown[0]["text"]
    assert first.startswith("Em gọi 115") and "?" not in first
    assert "tự tử" not in text(shown)  # no screening question in front of the emergency
    assert handoffs == [{"risk": "imminent", "category": "overdose", "consent": "not_required"}]


def test_symptoms_and_other_cues_never_become_the_cases_category() -> None:
    risk = {"signals": [{"phrase": "chóng mặt", "category": "symptoms", "level": "imminent"},
                        {"phrase": "từ hôm qua", "category": "immediacy", "level": "imminent"},
                        {"phrase": "bị nhốt", "category": "neglect", "level": "high"}]}
    assert safety.category_of("disclose_abuse", risk) == "neglect"


@pytest.mark.parametrize(("choice", "handoff", "requested"), [
    ("counsellor", {"risk": "high", "category": "physical_violence", "consent": "given"}, True),
    ("info_only", {"risk": "high", "category": "physical_violence", "consent": "declined"}, "unset"),
    ("call_111", None, "unset"),
])
def test_the_childs_choice_is_what_happens(choice: str, handoff: dict[str, str] | None, requested: Any) -> None:
    t = tracker(intent="request_human", level="none", entities=[{"entity": "handoff_choice", "value": choice}],
                slots={"risk_level": "high", "risk_category": "physical_violence"})
    shown, handoffs, events = run(safety.ActionHandoffChoice(), t)

    assert handoffs == ([handoff] if handoff else [])
    assert slot(events, "handoff_requested") == requested
    if choice == "info_only":
        assert "tôn trọng" in text(shown)
    if choice == "call_111":
        assert "111" in text(shown) and titles(shown) == ["Nói chuyện với tư vấn viên ngay"]


def test_asking_twice_does_not_ask_twice() -> None:
    t = tracker(intent="request_human", level="none", slots={"handoff_requested": True})
    shown, handoffs, _ = run(safety.ActionHandoffChoice(), t)
    assert handoffs == [] and say.ALREADY_ASKED.text in text(shown)


def test_a_typed_request_for_a_person_is_consent() -> None:
    shown, handoffs, _ = run(safety.ActionHandoffChoice(), tracker(intent="request_human", level="none"))
    assert handoffs == [{"risk": "concern", "category": "request", "consent": "given"}]


def test_self_harm_asks_directly_about_a_plan_and_the_means_and_gives_111_and_115() -> None:
    shown, _, _ = run(safety.ActionRespondToRisk(), tracker(intent="self_harm", signals=[
        {"phrase": "muốn chết", "category": "suicide_plan", "level": "high"}]))
    said = text(shown)
    assert "tự tử" in said and "làm thế nào" in said and "thứ gì" in said
    assert "111" in said and "115" in said


def test_an_adult_reporting_a_child_gets_what_to_do_whom_to_call_and_the_offer_in_adult_words() -> None:
    shown, handoffs, events = run(safety.ActionRespondToRisk(), tracker(intent="report_abuse_other"))
    said = text(shown)
    assert "anh/chị" in said and not re.search(r"(?<![Tt]rẻ )\bem\b", said)
    assert "113" in said and "115" in said and "111" in said and "bí mật" in said and "Điều 51 Luật Trẻ em" in said
    assert titles(shown) == ["Nói chuyện với tư vấn viên ngay", "Gọi 111", "Chỉ cần thông tin thôi"]
    assert handoffs == [] and followup(events) is None  # no questions: the next message may be a question
    assert slot(events, "audience") == "parent" and slot(events, "disclosed") is True


def test_a_parent_disclosing_for_her_own_child_is_answered_as_an_adult() -> None:
    # "con tôi 14 tuổi bị bạn cùng lớp đánh hội đồng": the intent may say disclose_abuse, the slot says who writes.
    shown, _, _ = run(safety.ActionRespondToRisk(), tracker(intent="disclose_abuse", slots={"audience": "parent"}))
    said = text(shown)
    assert "anh/chị" in said and "không phải lỗi của cháu" in said and "Cảm ơn em" not in said


def test_a_child_reporting_a_friend_is_thanked_as_a_child() -> None:
    shown, _, _ = run(safety.ActionRespondToRisk(), tracker(intent="report_abuse_other", slots={"audience": "child"}))
    assert "Cảm ơn em đã lên tiếng cho bạn ấy" in text(shown) and "anh/chị" not in text(shown)


def test_telling_more_after_a_disclosure_is_thanked_briefly_and_never_asked_whether_something_is_wrong() -> None:
    shown, _, _ = run(safety.ActionRespondToRisk(), tracker(slots={"disclosed": True, "handoff_offered": True}))
    assert text(shown).startswith(say.MORE_TOLD.text) and "Cảm ơn em đã dũng cảm" not in text(shown)
    assert titles(shown) == ["Nói chuyện với tư vấn viên ngay", "Gọi 111", "Chỉ cần thông tin thôi"]
    shown, _, events = run(safety.ActionCheckIn(), tracker(level="concern", slots={"disclosed": True}))
    assert "có ai làm em đau" not in text(shown) and "đang nghe" in text(shown) and slot(events, "risk_level") == "unset"


def test_an_adult_choosing_information_only_is_answered_as_an_adult() -> None:
    t = tracker(intent="request_human", level="none", entities=[{"entity": "handoff_choice", "value": "info_only"}],
                slots={"audience": "parent", "risk_level": "high"})
    shown, handoffs, _ = run(safety.ActionHandoffChoice(), t)
    assert "anh/chị" in text(shown) and handoffs[0]["consent"] == "declined"


def test_nothing_the_bot_says_asks_for_proof_or_pictures_and_numbers_are_exact() -> None:
    every = [value for name, value in vars(say).items() if not name.startswith("_")]
    replies = [r for v in every for r in (v if isinstance(v, tuple) else (v,)) if isinstance(r, say.Reply)]
    replies += [r for v in every if isinstance(v, dict) for r in v.values() if isinstance(r, say.Reply)]
    for reply in replies:
        assert not re.search(r"(?<!không cần )gửi (cho mình )?(ảnh|hình)", reply.text), reply.text
        for number in re.findall(r"\b1\d\d\b", reply.text):
            assert number in {"111", "113", "114", "115"}, reply.text
