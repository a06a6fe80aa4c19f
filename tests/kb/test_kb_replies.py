"""Chat-sized messages and the choice of register."""

from __future__ import annotations

from actions.knowledge_base.content import read_content
from actions.knowledge_base.replies import (
    CHILD_MESSAGE_LIMIT,
    button_title,
    compose_answer,
    payload,
    register_for,
    split_for_chat,
)
from tests.kb.kb_paths import FIXTURE_CONTENT, REAL_CONTENT

CONTENT = read_content(FIXTURE_CONTENT).content


def test_split_keeps_short_messages_whole() -> None:
    assert split_for_chat("Một câu ngắn.", 350) == ["Một câu ngắn."]


def test_split_cuts_at_sentence_ends_within_the_limit() -> None:
    text = " ".join(f"Câu số {n} nói về quyền của em và cách giữ an toàn." for n in range(20))
    parts = split_for_chat(text, 120)
    assert all(len(p) <= 120 for p in parts)
    assert all(p.endswith(".") for p in parts)
    assert " ".join(parts) == text


def test_split_cuts_a_very_long_sentence_at_spaces() -> None:
    parts = split_for_chat("chữ " * 200, 100)
    assert all(0 < len(p) <= 100 for p in parts)


def test_register_follows_the_audience_when_the_card_has_it() -> None:
    both = CONTENT.card("rights-violence")
    assert register_for(both, "child") == "child"
    assert register_for(both, "parent") == "parent"
    assert register_for(both, None) == "child"  # simpler words when we do not know
    assert register_for(CONTENT.card("rights-child-age"), "parent") == "child"  # the only text it has
    assert register_for(CONTENT.card("penalty-sexual-abuse"), "child") == "parent"


def test_payloads_are_compact_rasa_intents_with_entities() -> None:
    assert payload("ask_rights", {"kb_card": "rights-overview"}) == '/ask_rights{"kb_card":"rights-overview"}'


def test_button_titles_prefer_the_title_then_an_accented_question() -> None:
    assert button_title(CONTENT.card("penalty-sexual-abuse")) == "Mức phạt tội xâm hại tình dục trẻ em"
    assert button_title(CONTENT.card("rights-child-age")) == "Bao nhiêu tuổi thì được gọi là trẻ em?"


def test_every_child_answer_of_the_real_content_fits_a_chat_message() -> None:
    content = read_content(REAL_CONTENT).content
    documents = {d.number: d for d in content.documents}
    cards = {c.id: c for c in content.cards}
    for card in content.cards:
        if card.child_answer:
            composed = compose_answer(card, "child", documents, cards)
            long = [m for m in composed.answer_messages[:-1] if len(m) > CHILD_MESSAGE_LIMIT]
            assert not long, f"{card.source_file}: card '{card.id}' has child messages over {CHILD_MESSAGE_LIMIT}"


def test_the_body_of_an_answer_is_the_answer_without_its_citation() -> None:
    # Support for feelings (actions/safety.py) uses the body: no "Căn cứ: ..." under comfort.
    content = read_content(REAL_CONTENT).content
    documents = {d.number: d for d in content.documents}
    cards = {c.id: c for c in content.cards}
    composed = compose_answer(cards["mental-health-feeling-sad"], "child", documents, cards)
    assert composed.answer_messages[-1].startswith("Căn cứ:")
    assert composed.body == composed.answer_messages[:-1]
    assert not any("Căn cứ" in m for m in composed.body)
