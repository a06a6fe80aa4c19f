"""Retrieval accuracy on paraphrase sets: how often the bot answers with the expected card.

A paraphrase file is YAML with a list `questions` of {q, audience, expect_card,
variant} (expect_card null: the bot should not answer with any card). Three rates:
  answered  the bot's real behaviour: it answered, with the expected card
            (a clarifying question counts as a miss);
  one_step  answered right, or asked which card was meant with the right one
            among the buttons: the person gets the answer with at most one click;
  top1      the best-ranked card is the expected one, whatever the threshold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import json

import yaml

from actions.knowledge_base.service import ConversationState, KnowledgeBase, UserMessage


@dataclass(frozen=True)
class Outcome:
    question: dict[str, Any]
    answered_card: str | None
    top_card: str | None
    confidence: float
    kind: str
    offered: tuple[str, ...] = ()  # cards offered as buttons in a clarifying question

    @property
    def expected(self) -> str | None:
        return self.question.get("expect_card")

    @property
    def answered_right(self) -> bool:
        return self.answered_card == self.expected

    @property
    def one_step_right(self) -> bool:
        return self.answered_right or (self.kind == "clarify" and self.expected in self.offered)

    @property
    def top1_right(self) -> bool:
        return self.top_card == self.expected if self.expected else self.answered_card is None


def read_paraphrases(paths: Iterable[Path]) -> list[dict[str, Any]]:
    questions = []
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("questions") or []:
            questions.append({**item, "source": path.name})
    return questions


def evaluate(kb: KnowledgeBase, questions: list[dict[str, Any]],
             parses: list[dict[str, Any]] | None = None) -> list[Outcome]:
    """`parses` (Rasa parse results, same order) add the NLU intent; without them, words only."""
    outcomes = []
    for number, question in enumerate(questions):
        parse = parses[number] if parses else {"text": question["q"]}
        message = UserMessage.from_parse({**parse, "text": question["q"]})
        audience = question.get("audience") if question.get("audience") in ("child", "parent") else None
        reply = kb.respond(message, ConversationState(audience=audience, audience_asked=True))
        ranking = kb.rank(message, reply.state.audience, limit=1)
        offered = tuple(_card_of(b.payload) for m in reply.messages for b in m.buttons if "kb_card" in b.payload)
        outcomes.append(Outcome(question, reply.card_id, ranking[0].card_id if ranking else None,
                                reply.confidence, reply.kind, offered))
    return outcomes


def _card_of(payload: str) -> str:
    return json.loads(payload[payload.index("{"):]).get("kb_card", "")


def rate(outcomes: list[Outcome], attribute: str) -> float:
    return sum(getattr(o, attribute) for o in outcomes) / len(outcomes) if outcomes else 0.0


def report(outcomes: list[Outcome], *, misses: bool = True) -> str:
    """The rates per group; with `misses`, every question answered wrongly too."""
    lines = [f"{'group':<30} {'n':>4} {'answered':>9} {'one_step':>9} {'top1':>6}"]

    def row(name: str, group: list[Outcome]) -> None:
        lines.append(f"{name:<30} {len(group):>4} {rate(group, 'answered_right'):>9.1%} "
                     f"{rate(group, 'one_step_right'):>9.1%} {rate(group, 'top1_right'):>6.1%}")

    row("all", outcomes)
    for key in ("variant", "audience", "source"):
        groups: dict[str, list[Outcome]] = defaultdict(list)
        for outcome in outcomes:
            groups[f"{key}={outcome.question.get(key)}"].append(outcome)
        for name in sorted(groups):
            row(name, groups[name])
    wrong = [o for o in outcomes if not o.answered_right] if misses else []
    if wrong:
        lines.append("\nmisses (expected -> answered / top-ranked, confidence, kind):")
        for o in wrong:
            lines.append(f"  {o.expected} -> {o.answered_card} / {o.top_card} {o.confidence:.2f} {o.kind}: "
                         f"{o.question['q']}")
    return "\n".join(lines)
