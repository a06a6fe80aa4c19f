"""The corrections of the 2026-12-07 legal review (issue #16), asked as people ask them.

Each question goes through `KnowledgeBase.respond()` on the real content, the one path
of the bot's action and `make ask`, and the test reads the answer a parent gets and its
basis line, so a correction that is not live fails here.
"""

from __future__ import annotations

import re

import pytest

from actions.knowledge_base.citations import assert_cites
from actions.knowledge_base.content import read_content
from actions.knowledge_base.service import ConversationState, KnowledgeBase, Reply, UserMessage
from tests.kb.kb_paths import REAL_CONTENT


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase(read_content(REAL_CONTENT).content)


def ask(kb: KnowledgeBase, question: str, intent: str, audience: str = "parent") -> Reply:
    reply = kb.respond(UserMessage(question, intent=intent, intent_confidence=0.9),
                       ConversationState(audience=audience))
    assert reply.kind == "answer", reply.answer_text
    return reply


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.;])\s+", text) if s]


def test_a_near_poor_single_mother_is_told_she_can_get_the_allowance(kb: KnowledgeBase) -> None:
    reply = ask(kb, "Tôi là mẹ đơn thân thuộc hộ cận nghèo, nuôi con 5 tuổi, có được trợ cấp hằng tháng không?",
                "ask_support_policy")
    assert reply.card_id == "social-assistance-other-groups"
    body = " ".join(reply.answer_body)
    assert "người đơn thân thuộc hộ nghèo hoặc hộ cận nghèo" in body
    assert "khoản 4 Điều 5" in body
    assert_cites(reply.answer_messages, "20/2021/NĐ-CP", "5")


def test_a_child_hears_that_near_poor_single_parents_count_too(kb: KnowledgeBase) -> None:
    reply = ask(kb, "mẹ em nuôi em một mình, nhà em hộ cận nghèo thì có được trợ cấp không ạ",
                "ask_support_policy", audience="child")
    assert reply.card_id == "social-assistance-other-groups"
    assert "hộ nghèo hoặc hộ cận nghèo" in " ".join(reply.answer_body)


def test_work_under_13_points_to_the_dossier_and_procedure_articles(kb: KnowledgeBase) -> None:
    reply = ask(kb, "Con tôi 10 tuổi được mời đóng quảng cáo thì hồ sơ xin phép làm thế nào?", "ask_child_labour")
    assert reply.card_id == "child-labour-under-13"
    body = " ".join(reply.answer_body)
    assert "Điều 6" in body and "Điều 7 Thông tư 09/2020/TT-BLĐTBXH" in body
    assert "Điều 5 Thông tư" not in body
    assert "Sở Lao động" not in body and "Sở LĐTBXH" not in body  # that body no longer exists
    assert "hỏi UBND cấp xã/phường" in body  # where to ask, until today's approving body is verified
    basis = assert_cites(reply.answer_messages, "09/2020/TT-BLĐTBXH", "6")
    assert basis.cites("09/2020/TT-BLĐTBXH", "7") and not basis.cites("09/2020/TT-BLĐTBXH", "5")


@pytest.mark.parametrize(("question", "intent", "card"), [
    ("Im lặng có được coi là đồng ý cho trường đăng ảnh con tôi không?", "ask_online_safety",
     "personal-data-who-consents"),
    ("Cô giáo tiết lộ bí mật riêng tư của con tôi cho cả lớp có bị cấm không?", "ask_law",
     "prohibited-privacy-discrimination"),
])
def test_silence_is_not_consent_is_no_longer_put_in_article_24(kb: KnowledgeBase, question: str, intent: str,
                                                                card: str) -> None:
    reply = ask(kb, question, intent)
    assert reply.card_id == card
    body = " ".join(reply.answer_body)
    assert "Điều 24" in body  # the article on children's data is still cited for what it does say
    silence = [s for s in sentences(body) if "im lặng" in s.lower()]
    assert silence, body
    assert not [s for s in silence if "Điều 24" in s], silence
    assert_cites(reply.answer_messages, "91/2025/QH15", "24")


def test_article_24_is_not_summarised_as_saying_silence_is_not_consent() -> None:
    law = read_content(REAL_CONTENT).content.document("91/2025/QH15")
    assert "im lặng" not in law.provision("24", None).summary.lower()
