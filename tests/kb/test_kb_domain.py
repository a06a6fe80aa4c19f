"""The knowledge base's part of the Rasa domain and rules agree with the code."""

from __future__ import annotations

import yaml

from actions import answer_question
from actions.knowledge_base.content import read_content
from actions.knowledge_base.replies import AUDIENCE_ENTITY, CARD_ENTITY, KB_INTENTS, TOPIC_ENTITY
from tests.kb.kb_paths import REAL_CONTENT, REPO_ROOT

DOMAIN = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))
RULES = yaml.safe_load((REPO_ROOT / "stories" / "knowledge_base.yml").read_text(encoding="utf-8"))["rules"]


def _names(items: list) -> set[str]:
    return {next(iter(i)) if isinstance(i, dict) else str(i) for i in items or []}


def test_the_domain_declares_what_the_actions_use() -> None:
    assert {CARD_ENTITY, TOPIC_ENTITY, AUDIENCE_ENTITY} <= _names(DOMAIN["entities"])
    assert {"action_answer_question", "action_record_feedback"} <= _names(DOMAIN["actions"])
    slots = DOMAIN["slots"]
    for name in (answer_question.AUDIENCE_SLOT, answer_question.AUDIENCE_ASKED_SLOT,
                 answer_question.PENDING_CARD_SLOT, answer_question.LAST_CARD_SLOT,
                 answer_question.AWAITING_FEEDBACK_SLOT, answer_question.TOPIC_SLOT,
                 answer_question.LAST_QUESTION_SLOT):
        assert name in slots, f"domain.yml has no slot {name!r}"
    assert slots["audience"]["values"] == ["child", "parent"]
    # Set after every message (the button's entity or the words) by action_validate_slot_mappings.
    assert slots["audience"]["mappings"] == [{"type": "custom"}]
    assert "action_validate_slot_mappings" in _names(DOMAIN["actions"])


def test_every_payload_intent_is_in_the_domain_and_routed_here() -> None:
    assert set(KB_INTENTS) | {"affirm", "deny"} <= _names(DOMAIN["intents"])
    routed = {rule["steps"][0]["intent"] for rule in RULES
              if "intent" in rule["steps"][0] and rule["steps"][1] == {"action": "action_answer_question"}}
    assert routed == set(KB_INTENTS)
    feedback = [r for r in RULES if r["steps"][-1] == {"action": "action_record_feedback"}]
    assert {r["steps"][1]["intent"] for r in feedback} == {"affirm", "deny"}
    assert all(r["steps"][0] == {"action": "action_answer_question"} for r in feedback)


def test_card_intents_are_domain_intents() -> None:
    intents = _names(DOMAIN["intents"])
    unknown = {(c.id, i) for c in read_content(REAL_CONTENT).content.cards for i in c.intents if i not in intents}
    assert not unknown, f"cards name intents the domain does not have: {sorted(unknown)}"
