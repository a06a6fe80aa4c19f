"""Who is talking, for the whole conversation, and the answers to the moments that decide
whether a child goes on (actions/conversation.py), with a Tracker as Rasa sends it."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import conversation
from actions import conversation_messages as talk
from actions.conversation import audience_after
from actions.safety import disclosure_context


def tracker(text: str, moment: dict[str, Any] | None = None, slots: dict[str, Any] | None = None,
            entities: list[dict[str, Any]] | None = None) -> Tracker:
    latest = {"text": text, "intent": {"name": "out_of_scope", "confidence": 0.9}, "entities": entities or [],
              "moment": moment, "risk": {"level": "none", "escalate": False, "check_in": False, "signals": []}}
    return Tracker("web:test", slots or {}, latest, [], False, None, {}, "action_listen")


def run(action: Any, t: Tracker) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    shown = [m for m in dispatcher.messages if not m.get("custom")]
    return " ".join(m.get("text") or "" for m in shown), [b for m in shown for b in m.get("buttons") or []], events


@pytest.mark.parametrize("current, text, expected", [
    (None, "con tôi 14 tuổi bị bạn cùng lớp đánh", "parent"),
    (None, "em học lớp 7, bố em hay đánh em", "child"),
    (None, "hôm nay trời đẹp", None),
    ("parent", "e cảm ơn ạ, e sẽ đưa bé đi khám", "parent"),  # a young mother who writes "e" stays an adult
    ("child", "bố mẹ em có biết không", "child"),
    ("child", "tôi là phụ huynh của cháu", "parent"),  # a clear adult cue changes it
])
def test_who_is_talking_is_kept_for_the_whole_conversation(current, text, expected):
    assert audience_after(current, text, None) == expected


def test_a_button_says_who_is_talking_whatever_came_before():
    assert audience_after("child", "Tôi là phụ huynh, người lớn", "parent") == "parent"


def test_the_slot_mapping_action_sets_the_audience_only_when_it_changes():
    action = conversation.ValidateSlotMappings()
    extracted = asyncio.run(action.extract_audience(CollectingDispatcher(), tracker("con tôi bị đánh"), {}))
    assert extracted == {"audience": "parent"}
    same = asyncio.run(action.extract_audience(CollectingDispatcher(),
                                               tracker("con tôi bị đánh", slots={"audience": "parent"}), {}))
    assert same == {}


def test_hesitation_gets_an_invitation_to_go_on_and_no_menu():
    said, buttons, _ = run(conversation.ActionRespondToMoment(),
                           tracker("em có chuyện muốn kể nhưng em sợ", {"kind": "hesitation", "sub": None}))
    assert "Em cứ kể, mình đang nghe" in said and buttons == []


def test_secrecy_is_answered_honestly_in_the_persons_register():
    said, _, _ = run(conversation.ActionRespondToMoment(),
                     tracker("bạn có giữ bí mật không", {"kind": "secrecy", "sub": None}))
    assert "không kể chuyện của em cho bố mẹ" in said and "an toàn" in said and "bí mật" in said
    said, _, _ = run(conversation.ActionRespondToMoment(),
                     tracker("thông tin của tôi có được giữ bí mật không", {"kind": "secrecy", "sub": None},
                             slots={"audience": "parent"}))
    assert "anh/chị" in said and "Điều 24" in said and not re.search(r"(?<![Tt]rẻ )\bem\b", said)


def test_mây_answers_as_mây():
    said, _, _ = run(conversation.ActionRespondToMoment(), tracker("bạn tên gì", {"kind": "about_me", "sub": "name"}))
    assert said.startswith("Mình tên là Mây")
    said, buttons, _ = run(conversation.ActionRespondToMoment(),
                           tracker("bạn là người thật hả", {"kind": "about_me", "sub": "person"}))
    assert "không phải người thật" in said and [b["title"] for b in buttons] == ["Nói chuyện với người thật"]


def test_after_a_disclosure_a_consequence_question_gets_the_truth_and_the_offer_again():
    said, buttons, events = run(conversation.ActionRespondToMoment(),
                                tracker("em có bị đuổi học không", {"kind": "consequence", "sub": "school"},
                                        slots={"disclosed": True}))
    assert "không phải lý do để ai phạt em" in said and "Pháp luật" in said
    assert [b["title"] for b in buttons] == ["Nói chuyện với tư vấn viên ngay", "Gọi 111", "Chỉ cần thông tin thôi"]
    assert {"event": "slot", "timestamp": None, "name": "handoff_offered", "value": True} in events


def test_will_he_go_to_prison_gets_the_law_on_what_was_disclosed_in_plain_words_for_a_child():
    disclosed = disclosure_context("chú em hay vào phòng lúc em ngủ rồi sờ người em", "sexual_abuse")
    said, buttons, events = run(conversation.ActionRespondToMoment(),
                                tracker("nếu em kể với mẹ thì chú có bị đi tù không",
                                        {"kind": "consequence", "sub": "perpetrator"},
                                        slots={"disclosed": True, "kb_last_question": disclosed}))
    assert {"event": "slot", "timestamp": None, "name": "last_card", "value": "criminal-lewd-porn"} in events
    assert "không phải lỗi của em" in said and "Căn cứ:" not in said
    assert "Nói chuyện với tư vấn viên ngay" in [b["title"] for b in buttons]


def test_an_adult_asking_what_happens_to_the_abuser_gets_the_article_too():
    disclosed = disclosure_context("bố dượng hay đánh con tôi bằng roi, người cháu đầy vết bầm", "physical_violence")
    said, _, events = run(conversation.ActionRespondToMoment(),
                          tracker("ông ta có bị đi tù không", {"kind": "consequence", "sub": "perpetrator"},
                                  slots={"disclosed": True, "kb_last_question": disclosed, "audience": "parent"}))
    assert {"event": "slot", "timestamp": None, "name": "last_card", "value": "criminal-family-abuse"} in events
    assert "Căn cứ:" in said


def test_no_offer_again_when_a_counsellor_is_already_on_the_way():
    _, buttons, _ = run(conversation.ActionRespondToMoment(),
                        tracker("nhà em có tan nát không", {"kind": "consequence", "sub": "family"},
                                slots={"disclosed": True, "handoff_requested": True}))
    assert buttons == []


def test_blame_is_never_the_childs_fault():
    said, _, _ = run(conversation.ActionRespondToMoment(), tracker("tại em mà", {"kind": "blame", "sub": None},
                                                                  slots={"disclosed": True}))
    assert said.startswith("Đây không phải lỗi của em")


def test_every_moment_has_both_registers_and_exact_numbers():
    for name in talk.names():
        for adult in (False, True):
            for reply in talk.texts(name, adult):
                if adult:
                    assert not re.search(r"(?<![Tt]rẻ )\bem\b", reply.text), (name, reply.text)
                else:
                    assert "anh/chị" not in reply.text.lower(), (name, reply.text)
                for number in re.findall(r"\b1\d\d\b", reply.text):
                    assert number in {"111", "113", "114", "115"}, reply.text
