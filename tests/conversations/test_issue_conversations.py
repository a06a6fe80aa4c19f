"""The conversations that issue #18 was filed with, end to end, every turn required.

The written conversations (test_dialogues.py) are held at a floor: they were written by
people who had not read the bot's rules, and some of their turns still fail. The
conversations below are the ones the issue quotes as it went wrong on main; each of their
turns must now go the way a counsellor expects, through the real stack (web chat API,
Rasa server with the trained model, action server), checked with the same vocabulary
(tests/conversations/dialogue_checks.py).
"""

from __future__ import annotations

import pytest

from actions.knowledge_base.content import read_content
from actions.knowledge_base.settings import DEFAULT_CONTENT_DIR
from devtools.stack import Stack
from tests.conversations.dialogue_checks import CardIndex
from tests.conversations.test_dialogues import play
from tests.e2e.conftest import engine_python, netguard_log, stack, trained_model  # noqa: F401 - the real stack

pytestmark = pytest.mark.e2e

A_PARENT = {"name": "a parent reports school violence, then asks whom to tell and what the school must do", "turns": [
    {"say": "con tôi 14 tuổi bị bạn cùng lớp đánh hội đồng, quay clip đăng lên mạng", "expect": ["adult", "safety"]},
    {"say": "tôi nên báo cho ai", "expect": ["adult", {"card": [
        "reporting-who-receives", "reporting-how-to-report", "school-violence-being-bullied", "school-violence-witness",
        "hotline-111"]}]},
    {"say": "nhà trường có trách nhiệm gì không", "expect": ["adult", {"card": [
        "school-violence-being-bullied", "school-violence-what-is", "school-violence-aggressor"]}]},
]}

A_CHILD = {"name": "a child hesitates, asks about secrecy, discloses, wants information only, asks about prison",
           "turns": [
    {"say": "em có chuyện muốn kể nhưng em sợ", "expect": ["child", "listens"]},
    {"say": "bạn có giữ bí mật không", "expect": ["child", "secrecy"]},
    {"say": "chú em hay vào phòng lúc em ngủ rồi sờ người em", "expect": ["child", "safety"]},
    {"press": "Chỉ cần thông tin thôi", "expect": ["child", "no_safety"]},
    {"say": "nếu em kể với mẹ thì chú có bị đi tù không",
     "expect": ["child", "consequence", "offers_counsellor", "no_citation"]},
]}

SMALL_TALK = {"name": "small talk is answered as Mây", "turns": [
    {"say": "bạn tên gì", "expect": ["about_may", "no_safety"]},
]}


@pytest.mark.parametrize("conversation", [A_PARENT, A_CHILD, SMALL_TALK], ids=lambda c: c["name"])
def test_the_issues_conversations_go_the_way_a_counsellor_expects(stack: Stack,  # noqa: F811
                                                                  conversation: dict) -> None:
    cards = CardIndex(read_content(DEFAULT_CONTENT_DIR).content.cards)
    turns = play(stack, conversation, cards)
    failures = [f"turn {t['turn']} {t['sent']!r}: {t['failed']} — got {t['got']}" for t in turns if t["failed"]]
    assert len(turns) == len(conversation["turns"]) and not failures, "\n".join(failures)
