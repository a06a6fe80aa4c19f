"""Knowledge-base answers through the web chat API on the real stack: a child
gets the child-friendly answer, a parent the precise one, and both end with
the law they come from."""

from __future__ import annotations

from typing import Any

import pytest

from actions.knowledge_base.citations import assert_cites
from actions.knowledge_base.content import read_content
from actions.knowledge_base.settings import DEFAULT_CONTENT_DIR
from devtools.stack import Stack
from tests.e2e.webchat_support import new_conversation, send

pytestmark = pytest.mark.e2e

CARDS = read_content(DEFAULT_CONTENT_DIR).content.cards


def answered_card(replies: list[dict[str, Any]], register: str):
    """The card whose answer in `register` ("child_answer"/"parent_answer") the bot sent."""
    texts = {r["text"] for r in replies}
    for card in CARDS:
        if any(message in texts for message in getattr(card, register)):
            return card
    return None


def sent_only_in(replies: list[dict[str, Any]], register: tuple[str, ...], other: tuple[str, ...]) -> bool:
    """Whether the bot sent a message that belongs to `register` and not to `other`."""
    return any(r["text"] in register and r["text"] not in other for r in replies)


def test_a_child_asking_about_rights_gets_the_child_answer_with_its_basis(stack: Stack) -> None:
    conversation = new_conversation()
    replies = send(stack, conversation, text="em hoc lop 6, tre em tui em co nhung quyen gi vay")

    card = answered_card(replies, "child_answer")
    assert card is not None, [r["text"] for r in replies]
    assert not sent_only_in(replies, card.parent_answer, card.child_answer), "parent wording for a child"
    assert "ask_rights" in card.intents
    assert_cites([r["text"] for r in replies], "102/2016/QH13")
    assert not any("111" in r["text"] and "nguy hiểm" in r["text"] for r in replies), "no safety reply here"


def test_a_parent_asking_about_a_penalty_gets_the_parent_answer_with_its_basis(stack: Stack) -> None:
    conversation = new_conversation()
    replies = send(stack, conversation,
                   text="Tôi là phụ huynh, cho tôi hỏi người hiếp dâm trẻ em dưới 16 tuổi thì bị phạt tù bao nhiêu năm?")

    card = answered_card(replies, "parent_answer")
    assert card is not None, [r["text"] for r in replies]
    assert not sent_only_in(replies, card.child_answer, card.parent_answer), "child wording for a parent"
    assert_cites([r["text"] for r in replies], "100/2015/QH13")
