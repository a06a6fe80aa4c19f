"""Risk triage: intent ranking + danger signals → the ``risk`` field of a parse result.

``assess`` is a pure function (unit-tested without Rasa); ``RiskTriage`` is the graph
component that runs it after the intent classifier and before FallbackClassifier and
writes ``message["risk"]`` (see docs/architecture.md):

    {"level": "none|concern|high|imminent", "escalate": bool, "check_in": bool,
     "signals": [{"phrase", "category", "level"}], "source": "model|lexicon|both|none"}

Rules (a missed disclosure costs more than a needless check-in):
* The intent gives a base level: disclose_abuse, report_abuse_other, self_harm → high;
  bullying, mental_health → concern; others → none. A danger intent below
  ``high_confidence`` gives concern + check_in instead of high, unless a counted
  signal confirms it; a danger probability mass ≥ ``check_in_mass`` also checks in.
* The lexicon only RAISES the level: an unambiguous signal → its level (high), an
  ambiguous one → concern (check_in when nothing else gave concern); several distinct
  ambiguous danger signals together → high; a suicide means (knife, pills, rooftop) in
  a message the model finds distressed → high.
* Negated and information-question signals do not count.
* imminent = an imminent cue (an imminent-level signal, a "now" marker before an acute
  signal, or an urgency phrase) together with a confident danger intent or an
  unambiguous signal.
* escalate = level in (high, imminent).
* A confident quick_exit is never turned into a check-in (only a real escalation
  overrides the child's wish to hide the chat).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu import vietnamese_text
from nlu.danger_lexicon import LEVEL_RANK, Signal, load_lexicon

logger = logging.getLogger(__name__)

RISK_KEY = "risk"

DANGER_INTENTS = ("disclose_abuse", "report_abuse_other", "self_harm")
CONCERN_INTENTS = ("bullying", "mental_health")
# Categories of ambiguous signals that add up to a disclosure when several co-occur.
ACCUMULATING_CATEGORIES = (
    "physical_violence", "sexual_abuse", "grooming", "sextortion", "neglect",
    "trafficking", "exploitation", "forced_marriage", "suicide_plan", "self_harm",
    "suicide_means", "imminent_danger",
)
# Urgency in the canonical text ("tối nay em sẽ..."): imminent when danger is confirmed.
URGENCY_PHRASES = ("ngay bay gio", "ngay luc nay", "toi nay", "dem nay")

DEFAULTS: Dict[str, Any] = {
    "high_confidence": 0.4,  # a danger intent at or above this is high on its own
    "confirm_floor": 0.3,  # danger-intent mass above this + a danger signal → high
    "check_in_mass": 0.3,  # summed danger-intent probability that asks for a check-in
    "concern_confidence": 0.4,  # bullying / mental_health at or above this → concern
    "accumulate": 3,  # distinct ambiguous danger signals that together mean high
}


@dataclass
class RiskAssessment:
    """The triage outcome; ``as_dict`` is the public ``risk`` field."""

    level: str = "none"
    check_in: bool = False
    signals: List[Signal] = field(default_factory=list)
    source: str = "none"

    @property
    def escalate(self) -> bool:
        return self.level in ("high", "imminent")

    def as_dict(self) -> Dict[str, Any]:
        return {
            "level": self.level,
            "escalate": self.escalate,
            "check_in": self.check_in,
            "signals": [s.as_dict() for s in self.signals],
            "source": self.source,
        }


def _ranking(intent_ranking: Optional[Iterable[Dict[str, Any]]]) -> List[Dict[str, Any]]:
    ranking = [r for r in (intent_ranking or []) if r and r.get("name")]
    return sorted(ranking, key=lambda r: -float(r.get("confidence") or 0.0))


def assess(
    intent_ranking: Optional[Sequence[Dict[str, Any]]],
    canonical_text: Text,
    signals: Sequence[Signal],
    config: Optional[Dict[str, Any]] = None,
) -> RiskAssessment:
    """Combines the intent ranking and the lexicon signals into a risk level."""
    cfg = {**DEFAULTS, **(config or {})}
    ranking = _ranking(intent_ranking)
    top = ranking[0] if ranking else {"name": None, "confidence": 0.0}
    top_name, top_conf = top.get("name"), float(top.get("confidence") or 0.0)
    danger_mass = sum(
        float(r.get("confidence") or 0.0) for r in ranking if r["name"] in DANGER_INTENTS
    )

    counted = [s for s in signals if s.counts]
    unambiguous = [s for s in counted if not s.ambiguous]
    ambiguous = [s for s in counted if s.ambiguous]

    # --- the model's view
    model_level, model_check_in = "none", False
    top_is_danger = top_name in DANGER_INTENTS
    if top_is_danger and top_conf >= cfg["high_confidence"]:
        model_level = "high"
    elif danger_mass >= cfg["confirm_floor"] and any(
        s.category in ACCUMULATING_CATEGORIES for s in counted
    ):
        # A hesitant danger intent confirmed by the lexicon (even an ambiguous signal).
        model_level = "high"
    elif top_is_danger or danger_mass >= cfg["check_in_mass"]:
        model_level, model_check_in = "concern", True
    elif top_name in CONCERN_INTENTS and top_conf >= cfg["concern_confidence"]:
        model_level = "concern"
    if model_level == "concern" and any(s.category == "suicide_means" for s in counted):
        # A means (knife, pills, rooftop) in a distressed message is a warning sign.
        model_level, model_check_in = "high", False

    # --- the lexicon's view (can only raise)
    lexicon_level = "none"
    if unambiguous:
        lexicon_level = "high"  # imminent needs a cue AND support, decided below
    elif ambiguous:
        distinct = {
            s.canonical for s in ambiguous if s.category in ACCUMULATING_CATEGORIES
        }
        lexicon_level = "high" if len(distinct) >= cfg["accumulate"] else "concern"

    level = max(model_level, lexicon_level, key=LEVEL_RANK.__getitem__)

    # --- imminence
    cue = any(s.level == "imminent" for s in counted) or any(
        s.now and s.level in ("high", "imminent") and not s.ambiguous for s in counted
    )
    if not cue and canonical_text:
        padded = f" {canonical_text} "
        cue = any(f" {p} " in padded for p in URGENCY_PHRASES)
    support = (top_is_danger and top_conf >= cfg["high_confidence"]) or any(
        s.level in ("high", "imminent") for s in unambiguous
    )
    if cue and support and level in ("high", "concern"):
        level = "imminent"

    check_in = level == "concern" and (
        model_check_in or (model_level == "none" and bool(ambiguous))
    )
    if check_in and top_name == "quick_exit" and top_conf >= cfg["high_confidence"]:
        # A child hiding the chat must not get a check-in message on screen; only a
        # real escalation (high/imminent) overrides the quick exit.
        check_in = False

    if level == "none":
        source = "none"
    elif model_level != "none" and lexicon_level != "none":
        source = "both"
    elif model_level != "none":
        source = "model"
    else:
        source = "lexicon"
    return RiskAssessment(level=level, check_in=check_in, signals=counted, source=source)


# ------------------------------------------------------------------ graph component



@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class RiskTriage(GraphComponent):
    """Adds the ``risk`` field to every parsed message (after the intent classifier)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DEFAULTS, "lexicon_path": None}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._config = {**self.get_default_config(), **config}
        self._lexicon = load_lexicon(self._config.get("lexicon_path"))

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "RiskTriage":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            ranking = message.get(INTENT_RANKING_KEY)
            if not ranking and message.get(INTENT):
                ranking = [message.get(INTENT)]
            signals = self._lexicon.find(text)
            assessment = assess(
                ranking, vietnamese_text.canonical(text), signals, self._config
            )
            message.set(RISK_KEY, assessment.as_dict(), add_to_output=True)
        return messages


def assess_text(
    text: Text, intent_ranking: Optional[Sequence[Dict[str, Any]]] = None
) -> RiskAssessment:
    """Convenience for callers without a pipeline (policy fallback, scripts)."""
    return assess(intent_ranking, vietnamese_text.canonical(text), load_lexicon().find(text))
