"""Answering one message: the single code path of the bot's action and `make ask`.

    kb = default_knowledge_base()            # migrated, loaded, indexed once per process
    reply = kb.respond(UserMessage.from_parse(parse), ConversationState(...))

`respond` is pure (no database, no Rasa): it takes the parsed message and what
the conversation knows, and returns the messages to send and the new state.
`actions/answer_question.py` turns that into dispatcher calls and slot events;
`scripts/ask.py` prints it as JSON.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from actions.knowledge_base.audience import infer_audience
from actions.knowledge_base.content import Card, Citation, Content
from actions.knowledge_base.phrases import ASK_AUDIENCE, phrase
from actions.knowledge_base.replies import (
    AUDIENCE_ENTITY,
    CARD_ENTITY,
    MAX_CHOICES,
    TOPIC_ENTITY,
    Button,
    OutMessage,
    audience_buttons,
    card_button,
    compose_answer,
    needs_audience,
    topic_button,
)
from actions.knowledge_base.retrieval import Decision, RetrievalIndex, ScoredCard
from actions.knowledge_base.text import canonical

if TYPE_CHECKING:
    from actions.knowledge_base.database import KnowledgeBaseDatabase

logger = logging.getLogger(__name__)
AUDIENCES = ("child", "parent")
FALLBACK_INTENT = "nlu_fallback"


@dataclass(frozen=True)
class UserMessage:
    text: str
    intent: str | None = None
    intent_confidence: float = 0.0
    entities: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_parse(cls, parse: dict[str, Any]) -> UserMessage:
        """From a Rasa parse result or a tracker's `latest_message` (same shape)."""
        intent = parse.get("intent") or {}
        name, confidence = intent.get("name"), float(intent.get("confidence") or 0.0)
        if name == FALLBACK_INTENT:  # the classifier's best real guess still helps ranking a little
            ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT]
            best = ranking[0] if ranking else {}
            name, confidence = best.get("name"), float(best.get("confidence") or 0.0)
        entities: dict[str, str] = {}
        for entity in parse.get("entities") or []:
            if entity.get("entity") and entity.get("value") is not None:
                entities.setdefault(str(entity["entity"]), str(entity["value"]))
        return cls(text=parse.get("text") or "", intent=name, intent_confidence=confidence, entities=entities)


@dataclass(frozen=True)
class ConversationState:
    """What the knowledge base remembers between messages (kept in Rasa slots by the action)."""

    audience: str | None = None
    audience_asked: bool = False
    pending_card: str | None = None  # the answer waiting for "child or parent?"
    topic: str | None = None  # the conversation's topic: what was disclosed or answered last
    last_question: str | None = None  # what was disclosed or asked last, for a follow-up ("thế còn ...?")


@dataclass(frozen=True)
class Reply:
    kind: str  # answer | clarify | topics | ask_audience
    messages: list[OutMessage]
    state: ConversationState
    card_id: str | None = None
    confidence: float = 0.0
    register: str | None = None
    citations: tuple[Citation, ...] = ()
    answer_messages: tuple[str, ...] = ()
    answer_body: tuple[str, ...] = ()  # answer_messages without the basis line
    topic: str | None = None  # the answered card's topic
    # The question as it was understood: with the conversation it leaned on, if it did
    # ("tôi nên báo cho ai" after a disclosure), so that the next follow-up keeps the thread.
    read_as: str | None = None

    @property
    def answer_text(self) -> str:
        """The answer as one text (for `make ask`): answer and basis line, or the question and its choices."""
        if self.answer_messages:
            return "\n\n".join(self.answer_messages)
        lines = []
        for message in self.messages:
            lines.append(message.text)
            lines.extend(f"- {b.title}" for b in message.buttons)
        return "\n".join(lines)


class KnowledgeBase:
    def __init__(self, content: Content, index: RetrievalIndex | None = None) -> None:
        self.content = content
        self.cards = {card.id: card for card in content.cards}
        self.documents = {document.number: document for document in content.documents}
        self.topics = {topic.slug: topic for topic in content.topics}
        self.index = index or RetrievalIndex(content.cards, {t.slug: t.title for t in content.topics})

    # ------------------------------------------------------------------ the one entry point
    def respond(self, message: UserMessage, state: ConversationState) -> Reply:
        # A button decides; the words only when nobody knows yet (the conversation keeps who is
        # talking, actions/conversation.py: "e báo công an được không" from a young mother stays adult).
        given_audience = _audience_from(message, known=state.audience)
        state = replace(state, audience=given_audience or state.audience)

        forced = self.cards.get(message.entities.get(CARD_ENTITY, ""))
        if forced is not None:  # a button we offered: follow-up, clarification, "child or parent?"
            return self._answer(forced, 1.0, state)
        topic = message.entities.get(TOPIC_ENTITY)
        if topic in self.topics:
            return self._topic_cards(topic, state)
        if message.text.startswith("/"):  # a menu button ("/ask_rights"): no question to match yet
            return self._intent_menu(message.intent, state)

        ranking = self.rank(message, state.audience)
        decision = self.index.decide(ranking)
        if (state.topic or state.last_question) and (decision.confidence < LEANS_ON_CONTEXT
                                                     or is_follow_up(message.text)):
            # A weak or elliptical question ("tôi nên báo cho ai", "thế còn nếu là hàng xóm?")
            # is read in the conversation: what was disclosed or asked just before.
            ranking = self.rank(message, state.audience, state.topic, state.last_question)
            decision = self.index.decide(ranking)
            leaned_on = state.last_question
        else:
            leaned_on = None
        pending = self.cards.get(state.pending_card or "")
        if decision.kind != "answer" and pending is not None and given_audience:
            # "Tôi là phụ huynh" typed instead of pressing a button: answer what was asked.
            return self._answer(pending, 1.0, state)
        if decision.kind == "answer":
            answer = self._answer(self.cards[decision.card_ids[0]], decision.confidence, state)
            return replace(answer, read_as=read_with(message.text, leaned_on)) if leaned_on else answer
        if decision.kind == "clarify":
            return self._clarify(decision, state)
        return self._topics(ranking, message.intent, decision.confidence, state)

    def answer_in_topic(self, message: UserMessage, state: ConversationState, topic: str) -> Reply | None:
        """The best card of one topic for a question that only makes sense with what was said
        before ("chú có bị đi tù không" after a disclosure): the question and the conversation's
        last question or disclosure are read together. None when the topic has no card for it."""
        if topic not in self.topics:
            raise ValueError(f"unknown topic {topic!r}")
        text = f"{message.text} {state.last_question or ''}".strip()
        ranking = self.index.rank(text, intent=message.intent, intent_confidence=message.intent_confidence,
                                  audience=state.audience, topic=topic, limit=1)
        return self._answer(self.cards[ranking[0].card_id], ranking[0].score, state) if ranking else None

    def rank(self, message: UserMessage, audience: str | None = None, context: str | None = None,
             context_text: str | None = None, limit: int = 5) -> list[ScoredCard]:
        return self.index.rank(message.text, intent=message.intent, intent_confidence=message.intent_confidence,
                               audience=audience, context=context if context in self.topics else None,
                               context_text=context_text, limit=limit)

    # ------------------------------------------------------------------ reply kinds
    def _answer(self, card: Card, confidence: float, state: ConversationState) -> Reply:
        if state.audience is None and needs_audience(card) and not state.audience_asked:
            return Reply("ask_audience", [OutMessage(ASK_AUDIENCE, audience_buttons(card))],
                         replace(state, audience_asked=True, pending_card=card.id), confidence=confidence)
        composed = compose_answer(card, state.audience, self.documents, self.cards)
        return Reply("answer", composed.messages, replace(state, pending_card=None, topic=card.topic),
                     card_id=card.id, confidence=confidence, register=composed.register,
                     citations=composed.citations, answer_messages=tuple(composed.answer_messages),
                     answer_body=tuple(composed.body), topic=card.topic)

    def _clarify(self, decision: Decision, state: ConversationState) -> Reply:
        buttons = tuple(card_button(self.cards[i]) for i in decision.card_ids[:MAX_CHOICES])
        return Reply("clarify", [OutMessage(phrase("clarify", state.audience), buttons)],
                     replace(state, pending_card=None), confidence=decision.confidence)

    def _topic_cards(self, topic: str, state: ConversationState) -> Reply:
        cards = [c for c in self.content.cards if c.topic == topic]
        if len(cards) == 1:
            return self._answer(cards[0], 1.0, state)
        buttons = tuple(card_button(c) for c in cards[:MAX_CHOICES])
        return Reply("clarify", [OutMessage(phrase("topic_cards", state.audience), buttons)],
                     replace(state, pending_card=None), confidence=1.0)

    def _intent_menu(self, intent: str | None, state: ConversationState) -> Reply:
        serving = [c.topic for c in self.content.cards if intent and intent in c.intents]
        by_count = [slug for slug, _ in Counter(serving).most_common()]
        if len(by_count) == 1:
            return self._topic_cards(by_count[0], state)
        return Reply("topics", [OutMessage(phrase("intent_menu", state.audience), self._topic_buttons(by_count))],
                     replace(state, pending_card=None), confidence=0.0)

    def _topics(self, ranking: list[ScoredCard], intent: str | None, confidence: float,
                state: ConversationState) -> Reply:
        # Topics of the closest (if weak) matches first, then those serving the intent, then the first files.
        preferred = [self.cards[s.card_id].topic for s in ranking]
        preferred += [c.topic for c in self.content.cards if intent and intent in c.intents]
        return Reply("topics", [OutMessage(phrase("topics", state.audience), self._topic_buttons(preferred))],
                     replace(state, pending_card=None), confidence=confidence)

    def _topic_buttons(self, preferred: list[str]) -> tuple[Button, ...]:
        order = list(dict.fromkeys([*preferred, *self.topics]))[:MAX_CHOICES]
        return tuple(topic_button(self.topics[slug], [c for c in self.content.cards if c.topic == slug])
                     for slug in order if slug in self.topics)


# A question answered below this confidence on its own is read again in the conversation.
LEANS_ON_CONTEXT = 0.3
_FOLLOW_UP = re.compile(r"^(?:the con|con neu|vay con|the neu|vay neu|neu la|con|vay thi|the thi|the|vay|con truong hop)\b")


MAX_READ_AS_CHARS = 400  # a thread of follow-ups keeps what it started from, within reason


def read_with(question: str, context: str) -> str:
    """A follow-up read with what it leaned on, newest first."""
    return f"{question} {context}"[:MAX_READ_AS_CHARS]


def is_follow_up(text: str) -> bool:
    """A question that leans on the one before: "thế còn nếu là hàng xóm?", "vậy thì sao", or
    a few words only ("ở đâu?", "mấy tiếng?")."""
    form = canonical(text or "")
    return bool(_FOLLOW_UP.search(form)) or 0 < len(form.split()) <= 4


def _audience_from(message: UserMessage, known: str | None = None) -> str | None:
    """A button's entity wins; otherwise, when nobody knows yet, what the words say
    ("con tôi", "em lớp 7")."""
    given = message.entities.get(AUDIENCE_ENTITY)
    if given in AUDIENCES:
        return given
    return None if known in AUDIENCES else infer_audience(message.text).audience


# ---------------------------------------------------------------------- the process-wide instance
# Built once per process, then rebuilt when the serving version in the database moved (an
# editor published a card in the console, or a load): checked at most every
# KB_RELOAD_SECONDS, rebuilt in a background thread while the previous index keeps answering.
_lock = threading.Lock()
_database: KnowledgeBaseDatabase | None = None
_knowledge_base: KnowledgeBase | None = None
_serving: int | None = None  # the serving version _knowledge_base was built from
_checked_at = 0.0
_rebuilding: threading.Thread | None = None


def default_database() -> KnowledgeBaseDatabase:
    """This process's knowledge-base database (KB_DATABASE_URL), created on first use."""
    global _database
    with _lock:
        if _database is None:
            from actions.knowledge_base.database import KnowledgeBaseDatabase
            from actions.knowledge_base.settings import kb_database_url

            _database = KnowledgeBaseDatabase(kb_database_url())
        return _database


def default_knowledge_base() -> KnowledgeBase:
    """Migrate, load the content if it changed, and build the index once per process; then
    follow what editors publish (a newer serving version), without a restart."""
    global _knowledge_base, _serving, _checked_at
    database = default_database()
    with _lock:
        if _knowledge_base is None:
            from actions.knowledge_base.loader import ensure_loaded
            from actions.knowledge_base.settings import kb_content_dir

            ensure_loaded(database, kb_content_dir())
            _serving, _knowledge_base = _build(database)
            _checked_at = time.monotonic()
            logger.info("knowledge base ready: %d cards, %d documents (serving version %s)",
                        len(_knowledge_base.content.cards), len(_knowledge_base.content.documents), _serving)
        elif time.monotonic() - _checked_at >= _reload_seconds():
            _checked_at = time.monotonic()
            _rebuild_if_published(database)
        return _knowledge_base


def _build(database: KnowledgeBaseDatabase) -> tuple[int, KnowledgeBase]:
    """The serving version first: content newer than it only means one more rebuild later."""
    from actions.knowledge_base.editing import serving_version
    from actions.knowledge_base.loader import read_content_from_database

    with database.session() as session:
        version = serving_version(session)
        content = read_content_from_database(session)
    return version, KnowledgeBase(content)


def _rebuild_if_published(database: KnowledgeBaseDatabase) -> None:
    """Called under _lock. One rebuild at a time, off the caller's thread."""
    global _rebuilding
    from actions.knowledge_base.editing import serving_version

    if _rebuilding is not None and _rebuilding.is_alive():
        return
    try:
        with database.session() as session:
            version = serving_version(session)
    except Exception:  # noqa: BLE001 - the database is away: keep answering with what we have
        logger.exception("could not read the knowledge base's serving version")
        return
    if version == _serving:
        return
    _rebuilding = threading.Thread(target=_rebuild, args=(database,), name="kb-rebuild", daemon=True)
    _rebuilding.start()


def _rebuild(database: KnowledgeBaseDatabase) -> None:
    global _knowledge_base, _serving
    try:
        version, knowledge_base = _build(database)
    except Exception:  # noqa: BLE001 - the previous index keeps answering
        logger.exception("could not rebuild the knowledge base")
        return
    with _lock:
        _serving, _knowledge_base = version, knowledge_base
    logger.info("knowledge base rebuilt: serving version %s, %d cards", version, len(knowledge_base.content.cards))


def wait_for_rebuild(timeout: float | None = None) -> None:
    """For tests and tools: let a rebuild under way finish."""
    thread = _rebuilding
    if thread is not None:
        thread.join(timeout)


def _reload_seconds() -> int:
    from actions.knowledge_base.settings import kb_reload_seconds

    return kb_reload_seconds()
