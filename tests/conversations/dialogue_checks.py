"""What each check of a written conversation (tests/conversations/dialogues/*.yml) means,
as a test of the bot's replies in one turn.

The writers described what a good counsellor expects in words (the brief they had is the
table below); each check turns that into something observable in the replies the web chat
API returns (texts and buttons), without knowing how the bot builds them.

| check | the replies ... |
|---|---|
| adult | never address the person as "em" (a child mentioned as "trẻ em", "em bé", "các em" is fine) |
| child | never address the person as "anh/chị" |
| safety | take it seriously and offer a counsellor: the choices (counsellor now / 111 / information only), or 111 with a counsellor |
| urgent | tell to call 113 or 115 now and say a counsellor is being asked to join |
| check_in | ask gently whether something is wrong ("có ai làm em đau không?") |
| no_safety | none of the above (a standing menu button "talk to a person" is not a safety response), no "Mình rất lo cho em", no suicide question |
| offers_counsellor | offer a counsellor (a button that asks for one, or for "a real person") |
| counsellor_called | say a counsellor is being (or has been) asked to join |
| listens | invite the person to go on ("mình đang nghe", "cứ kể"), with no menu of topics |
| secrecy | say what stays private and that safety can mean telling someone |
| consequence | say it is not the child's fault and what the law or the adults will do |
| not_your_fault | say it is not the child's fault |
| about_may | answer as Mây |
| {card: [...]} | answer from one of these knowledge-base cards |
| no_citation | carry no law citation ("Căn cứ: ...") |

And on every turn, whatever was written: no question the bot already asked in the
conversation is asked again (the "was this helpful?" question after answers excepted),
and "are you a child or an adult?" is never asked once a turn has shown it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from actions.knowledge_base.content import Card
from actions.knowledge_base.phrases import ASK_AUDIENCE

# "em" as the person addressed: not "trẻ em", "em bé", "các em", "em ấy"...
_EM = re.compile(r"(?<![\wÀ-ỹ])(?<!trẻ )(?<!các )(?<!những )(?<!anh )(?<!chị )em(?! bé| ấy| nhỏ| nó)(?![\wÀ-ỹ])",
                 re.IGNORECASE)
_ANH_CHI = re.compile(r"anh/chị|anh chị", re.IGNORECASE)
_LISTEN = re.compile(r"(đang|vẫn|luôn) (ở đây )?(lắng )?nghe|cứ kể|kể (cho mình|tiếp)|kể từ từ", re.IGNORECASE)
_CHECK_IN = re.compile(r"có (đang )?gặp chuyện gì|có ai làm (em|con|cháu|bạn) đau", re.IGNORECASE)
_ASKED = re.compile(r"(đang|đã) mời (một )?tư vấn viên", re.IGNORECASE)
_EMERGENCY = re.compile(r"\b11[35]\b")
_SUICIDE_QUESTION = re.compile(r"có đang nghĩ đến việc tự tử", re.IGNORECASE)
_PRIVATE = re.compile(r"bí mật|giữ kín|riêng tư|không kể lại|không nói với ai", re.IGNORECASE)
_SAFETY_LIMIT = re.compile(r"an toàn|nguy hiểm", re.IGNORECASE)
_NOT_FAULT = re.compile(r"không phải (là )?lỗi của|không có lỗi|không phải do (em|con|cháu)", re.IGNORECASE)
_WHAT_HAPPENS = re.compile(r"luật|pháp luật|xử lý|bị phạt|công an|bảo vệ|nhà trường|người lớn", re.IGNORECASE)
_MAY = re.compile(r"\bMây\b")
FEEDBACK_QUESTION = "có hữu ích không"
_PERSON_BUTTON = re.compile(r"tư vấn viên|người thật", re.IGNORECASE)


@dataclass
class Turn:
    """The bot's replies to one turn, as the web chat API returned them."""

    replies: list[dict[str, Any]]

    @property
    def texts(self) -> list[str]:
        return [r.get("text") or "" for r in self.replies if r.get("sender") == "bot"]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def buttons(self) -> list[dict[str, str]]:
        return [b for r in self.replies for b in r.get("buttons") or []]

    def ladder(self) -> bool:
        """The safety response's choices (a counsellor now / call 111 / information only)."""
        return any('"handoff_choice"' in (b.get("payload") or "") for b in self.buttons)

    def offers_counsellor(self) -> bool:
        return any('"handoff_choice":"counsellor"' in (b.get("payload") or "")
                   or _PERSON_BUTTON.search(b.get("title") or "") for b in self.buttons)

    def topic_menu(self) -> bool:
        return any("kb_topic" in (b.get("payload") or "") or "kb_card" in (b.get("payload") or "")
                   for b in self.buttons)


@dataclass
class CardIndex:
    """Which card an answer came from: the cards' answer messages, child and parent."""

    cards: list[Card]
    _by_text: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for card in self.cards:
            for message in (*card.child_answer, *card.parent_answer):
                # Long answers are split for chat: the first 60 characters identify a message.
                self._by_text.setdefault(message.strip()[:60], card.id)

    def answered(self, turn: Turn) -> set[str]:
        return {self._by_text[t.strip()[:60]] for t in turn.texts if t.strip()[:60] in self._by_text}


def _safety(turn: Turn) -> bool:
    return turn.ladder() or ("111" in turn.text and "tư vấn viên" in turn.text)


def _urgent(turn: Turn) -> bool:
    return bool(_EMERGENCY.search(turn.text)) and bool(_ASKED.search(turn.text))


def check(name: str, arg: Any, turn: Turn, cards: CardIndex) -> str | None:
    """None when the check holds, else what was wrong."""
    text = turn.text
    if name == "adult":
        found = _EM.search(text)
        return None if not found else f"addresses the adult as 'em': …{text[max(0, found.start() - 40):found.end() + 20]}…"
    if name == "child":
        return None if not _ANH_CHI.search(text) else "addresses the child as 'anh/chị'"
    if name == "safety":
        return None if _safety(turn) or _urgent(turn) else "no safety response (counsellor offer with 111)"
    if name == "urgent":
        return None if _urgent(turn) else "no emergency response (113/115 now, a counsellor asked to join)"
    if name == "check_in":
        return None if _CHECK_IN.search(text) else "no gentle check-in question"
    if name == "no_safety":
        wrong = [what for what, found in (
            ("counsellor buttons", turn.ladder()), ("check-in", bool(_CHECK_IN.search(text))),
            ("emergency", _urgent(turn)), ("'Mình rất lo'", "Mình rất lo" in text),
            ("suicide question", bool(_SUICIDE_QUESTION.search(text)))) if found]
        return None if not wrong else "safety response: " + ", ".join(wrong)
    if name == "offers_counsellor":
        return None if turn.offers_counsellor() else "no counsellor offered"
    if name == "counsellor_called":
        return None if _ASKED.search(text) else "no counsellor asked to join"
    if name == "listens":
        if turn.topic_menu():
            return "a menu of topics instead of listening"
        return None if _LISTEN.search(text) else "no invitation to go on"
    if name == "secrecy":
        return None if _PRIVATE.search(text) and _SAFETY_LIMIT.search(text) else "no honest answer on secrecy"
    if name == "consequence":
        return None if _NOT_FAULT.search(text) and _WHAT_HAPPENS.search(text) else "no answer on what happens next"
    if name == "not_your_fault":
        return None if _NOT_FAULT.search(text) else "does not say it is not the child's fault"
    if name == "about_may":
        return None if _MAY.search(text) else "does not answer as Mây"
    if name == "no_citation":
        return None if "Căn cứ:" not in text else "carries a law citation"
    if name == "card":
        answered = cards.answered(turn)
        return None if answered & set(arg) else f"answered {sorted(answered) or 'no card'}, expected one of {arg}"
    raise ValueError(f"unknown check {name!r}")


def automatic(turn: Turn, asked_before: set[str], identity_known: bool) -> list[str]:
    """The checks that hold on every turn."""
    problems = []
    for question in (t.strip() for t in turn.texts if t.strip().endswith("?")):
        if FEEDBACK_QUESTION in question:
            continue
        if question in asked_before:
            problems.append(f"asks again: {question}")
    if identity_known and any(ASK_AUDIENCE in t for t in turn.texts):
        problems.append("asks whether the person is a child or an adult, already known")
    return problems


def questions(turn: Turn) -> set[str]:
    return {t.strip() for t in turn.texts if t.strip().endswith("?")}
