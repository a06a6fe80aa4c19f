"""What the bot sends: chat messages with buttons, built from cards.

Buttons carry Rasa payloads (`/intent{"entity":"value"}`): the gateway only
accepts payloads the bot offered, and every payload here names an intent that
stories/knowledge_base.yml routes to `action_answer_question`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from actions.knowledge_base.citations import basis_line
from actions.knowledge_base.content import Card, Citation, Document, Topic
from actions.knowledge_base.phrases import AUDIENCE_BUTTONS, FEEDBACK_BUTTONS, phrase
from actions.knowledge_base.text import has_diacritics

# Intents whose messages the knowledge base answers (stories/knowledge_base.yml has one rule each).
KB_INTENTS = ("ask_rights", "ask_law", "ask_reporting", "ask_support_policy", "ask_online_safety",
              "ask_child_labour", "ask_hotline")
FALLBACK_PAYLOAD_INTENT = "ask_law"  # for a card serving only intents routed elsewhere (e.g. bullying)
CARD_ENTITY, TOPIC_ENTITY, AUDIENCE_ENTITY = "kb_card", "kb_topic", "audience"

CHILD_MESSAGE_LIMIT = 350
PARENT_MESSAGE_LIMIT = 700
MAX_FOLLOW_UPS = 3
MAX_CHOICES = 4
BUTTON_TITLE_LIMIT = 60


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class OutMessage:
    text: str
    buttons: tuple[Button, ...] = ()

    def as_dispatch(self) -> dict[str, Any]:
        """Keyword arguments for rasa-sdk's `dispatcher.utter_message`."""
        kwargs: dict[str, Any] = {"text": self.text}
        if self.buttons:
            kwargs["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        return kwargs


@dataclass(frozen=True)
class ComposedAnswer:
    messages: list[OutMessage]
    answer_messages: list[str]  # the answer itself and its basis line, without the questions after it
    register: str
    citations: tuple[Citation, ...] = field(default=())

    @property
    def body(self) -> list[str]:
        """The answer without its basis line: support for feelings carries no citation."""
        return self.answer_messages[:-1]


def payload(intent: str, entities: dict[str, str]) -> str:
    return f"/{intent}{json.dumps(entities, ensure_ascii=False, separators=(',', ':'))}"


def payload_intent(intents: tuple[str, ...] | list[str]) -> str:
    return next((i for i in intents if i in KB_INTENTS), FALLBACK_PAYLOAD_INTENT)


def card_button(card: Card) -> Button:
    return Button(button_title(card), payload(payload_intent(card.intents), {CARD_ENTITY: card.id}))


def topic_button(topic: Topic, cards: list[Card]) -> Button:
    counts = Counter(i for card in cards for i in card.intents if i in KB_INTENTS)
    intent = counts.most_common(1)[0][0] if counts else FALLBACK_PAYLOAD_INTENT
    return Button(_shorten(topic.title), payload(intent, {TOPIC_ENTITY: topic.slug}))


def audience_buttons(card: Card) -> tuple[Button, ...]:
    """"Child or parent?" buttons that also carry the card: the click answers it in that register.

    (A separate "inform_audience" intent would need NLU examples of its own.)
    """
    intent = payload_intent(card.intents)
    return tuple(Button(title, payload(intent, {CARD_ENTITY: card.id, AUDIENCE_ENTITY: value}))
                 for title, value in AUDIENCE_BUTTONS)


def feedback_buttons() -> tuple[Button, ...]:
    return tuple(Button(title, value) for title, value in FEEDBACK_BUTTONS)


def button_title(card: Card) -> str:
    """The card's title, else its first readable example question (accented, short enough)."""
    if card.title:
        return _shorten(card.title)
    questions = sorted(card.questions, key=lambda q: (not has_diacritics(q), len(q) > BUTTON_TITLE_LIMIT))
    return _shorten(questions[0]) if questions else card.id


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= BUTTON_TITLE_LIMIT:
        return text
    return text[: BUTTON_TITLE_LIMIT - 1].rsplit(" ", 1)[0] + "…"


def register_for(card: Card, audience: str | None) -> str:
    """The register to answer in: the person's, if the card has it; else what the card has."""
    if audience == "parent" and card.parent_answer:
        return "parent"
    if audience == "child" and card.child_answer:
        return "child"
    return "child" if card.child_answer else "parent"


def needs_audience(card: Card) -> bool:
    """Only worth asking who is writing when the card really has two versions."""
    return bool(card.child_answer) and bool(card.parent_answer)


def split_for_chat(text: str, limit: int) -> list[str]:
    """Split a long message at sentence ends (then at spaces) so each part fits `limit`."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    sentences = re.split(r"(?<=[.!?…])\s+|\n+", text)
    parts: list[str] = []
    current = ""
    for sentence in sentences:
        while len(sentence) > limit:  # one very long sentence: cut at the last space that fits
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            if current:
                parts.append(current)
                current = ""
            parts.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        candidate = f"{current} {sentence}".strip()
        if len(candidate) <= limit:
            current = candidate
        else:
            parts.append(current)
            current = sentence
    if current:
        parts.append(current)
    return [p for p in parts if p]


def compose_answer(card: Card, audience: str | None, documents: dict[str, Document],
                   cards: dict[str, Card]) -> ComposedAnswer:
    register = register_for(card, audience)
    source = card.child_answer if register == "child" else card.parent_answer
    limit = CHILD_MESSAGE_LIMIT if register == "child" else PARENT_MESSAGE_LIMIT
    texts = [part for message in source for part in split_for_chat(message, limit)]
    texts.append(basis_line(card.citations, documents, card.checked_on, card.quotes))
    messages = [OutMessage(t) for t in texts]

    follow_ups = [cards[i] for i in card.follow_ups if i in cards][:MAX_FOLLOW_UPS]
    if follow_ups:
        messages.append(OutMessage(phrase("follow_ups", register), tuple(card_button(c) for c in follow_ups)))
    messages.append(OutMessage(phrase("feedback_question", register), feedback_buttons()))
    return ComposedAnswer(messages, texts, register, card.citations)
