"""Risk triage: evidence decides the ``risk`` field of a parse result, not a forced choice.

``assess`` is a pure function (unit-tested without Rasa); ``RiskTriage`` is the graph
component that runs it after the intent classifier and before FallbackClassifier and
writes ``message["risk"]`` (see docs/architecture.md):

    {"level": "none|concern|high|imminent", "escalate": bool, "check_in": bool,
     "signals": [{"phrase", "category", "level"}], "source": "model|lexicon|both|none",
     "danger_probability": float | null}

Two kinds of evidence:
* the model's **danger evidence**: the geometric mean of ``danger_probability`` (the
  calibrated probability that the message is a disclosure, from the danger head of
  ``nlu.linear_intent``, a head that may say "none of these") and the danger intents'
  share of the intent ranking (which must pick an intent). Both must agree: an idiom the
  intent ranking calls "self_harm" but the head does not believe stays low, and so does a
  message the head flags in a ranking that reads it as a question about the law. The
  intent ranking also says whether the message is distress or bullying.
* the danger lexicon (``nlu.danger_lexicon``): accent-aware phrases and patterns, each
  unambiguous (a disclosure in most contexts) or ambiguous (a word that is often harmless).
  Negated and information-question signals do not count.

Rules (thresholds in ``DEFAULTS``, chosen on the development sets, see docs/triage.md):
* high needs corroboration: an unambiguous signal the model does not rule out (it rules
  it out when the evidence is below ``lexicon_floor`` and the top intent is neither a
  danger nor a support intent; never a suicide or self-harm signal); or an ambiguous
  danger signal with evidence ≥ ``with_signal``; or several distinct ambiguous signals
  (``accumulate``) the model does not rule out; or a suicide means with a self-harm intent;
  or the model alone: evidence ≥ ``model_alone`` with a danger intent on top at ≥
  ``alone_intent_confidence``. A danger intent at low confidence is never high by itself.
* concern: an unambiguous signal the model rules out, evidence ≥ ``check_in`` (unless
  another intent is at ≥ ``settled_confidence``: a question about the law, small talk) or an
  ambiguous signal with evidence ≥ ``ambiguous_floor`` ask one gentle question
  (``check_in``); a confident bullying, mental-health, request-for-a-person or quick-exit
  intent is concern without a question (support, or the child's own choice), and so is
  hesitation ("em có chuyện muốn kể nhưng em sợ", ``nlu.moments``).
* imminent = high + an immediacy cue: an imminent-level signal (an overdose swallowed,
  "đang" or "vừa" + an acute act, a knife in hand, a means ready) or a cue-only signal
  (``immediacy``: held since yesterday, being taken, a time set, a farewell written;
  ``symptoms``: dizzy, vomiting, bleeding a lot), or an urgency phrase ("tối nay"). Cues
  count in a question too, and never raise the level on their own.
* escalate = level in (high, imminent).
* A confident quick_exit is never turned into a check-in (only a real escalation
  overrides the child's wish to hide the chat), nor is hesitation, a secrecy question or
  small talk about Mây: those get their own answer (``nlu.moment_policy``).

Without a danger probability (a model trained before the danger head, or the policy's
fallback on a bare intent), the danger intents' share stands for the evidence, and the
lexicon is trusted as it is (only a model can rule a phrase out).
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
from nlu.danger_lexicon import Signal, load_lexicon
from nlu.linear_intent import DANGER_PROBABILITY_KEY
from nlu.moments import ALWAYS_ANSWERED, MOMENT_KEY
from nlu.risk_field import CUE_CATEGORIES, RISK_KEY

logger = logging.getLogger(__name__)

DANGER_INTENTS = ("disclose_abuse", "report_abuse_other", "self_harm")
CONCERN_INTENTS = ("bullying", "mental_health")
# Intents that mean concern without a question: distress, being bullied, asking for a person,
# hiding the chat from someone in the room.
SUPPORT_INTENTS = (*CONCERN_INTENTS, "request_human", "quick_exit")
# Categories of ambiguous signals that point at danger (and add up when several co-occur).
DANGER_CATEGORIES = (
    "physical_violence", "sexual_abuse", "grooming", "sextortion", "neglect",
    "trafficking", "exploitation", "forced_marriage", "suicide_plan", "self_harm",
    "suicide_means", "imminent_danger", "overdose",
)
# Signals about suicide or self-harm: the model never overrules them.
SELF_HARM_CATEGORIES = ("suicide_plan", "self_harm", "overdose")
# Urgency in the canonical text ("tối nay em sẽ..."): imminent when danger is established.
URGENCY_PHRASES = ("ngay bay gio", "ngay luc nay", "toi nay", "dem nay")

DEFAULTS: Dict[str, Any] = {
    "model_alone": 0.6,  # danger evidence that is high without any signal ...
    "alone_intent_confidence": 0.5,  # ... when a danger intent is the top one, at least this sure
    "with_signal": 0.35,  # danger evidence that is high with an ambiguous danger signal
    "lexicon_floor": 0.08,  # an unambiguous signal is high unless the evidence is below this
    "check_in": 0.5,  # danger evidence that asks one gentle question ...
    "settled_confidence": 0.45,  # ... unless another intent is at least this sure
    "ambiguous_floor": 0.15,  # an ambiguous danger signal asks only above this
    "concern_confidence": 0.6,  # a support intent (distress, bullying, a person, hiding) at or above → concern
    "quick_exit_confidence": 0.4,
    "accumulate": 3,  # distinct ambiguous danger signals that together mean high
}

@dataclass
class RiskAssessment:
    """The triage outcome; ``as_dict`` is the public ``risk`` field."""

    level: str = "none"
    check_in: bool = False
    signals: List[Signal] = field(default_factory=list)
    source: str = "none"
    danger_probability: Optional[float] = None

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
            "danger_probability": None if self.danger_probability is None
            else round(float(self.danger_probability), 4),
        }


def _ranking(intent_ranking: Optional[Iterable[Dict[str, Any]]]) -> List[Dict[str, Any]]:
    ranking = [r for r in (intent_ranking or []) if r and r.get("name")]
    return sorted(ranking, key=lambda r: -float(r.get("confidence") or 0.0))


def assess(
    intent_ranking: Optional[Sequence[Dict[str, Any]]],
    canonical_text: Text,
    signals: Sequence[Signal],
    config: Optional[Dict[str, Any]] = None,
    danger_probability: Optional[float] = None,
    moment: Optional[Dict[str, Any]] = None,
) -> RiskAssessment:
    """Combines the model's danger evidence, the intent ranking and the lexicon."""
    cfg = {**DEFAULTS, **(config or {})}
    ranking = _ranking(intent_ranking)
    top = ranking[0] if ranking else {"name": None, "confidence": 0.0}
    top_name, top_conf = top.get("name"), float(top.get("confidence") or 0.0)
    # The model's danger evidence: the danger head and the intent ranking must agree (the
    # geometric mean of the head's calibrated probability and the danger intents' share).
    danger_share = sum(float(r.get("confidence") or 0.0) for r in ranking if r["name"] in DANGER_INTENTS)
    probability = danger_share if danger_probability is None else (danger_probability * danger_share) ** 0.5

    counted = [s for s in signals if s.counts]
    evidence = [s for s in counted if s.category not in CUE_CATEGORIES]
    # A cue counts in a question too ("nhà bên cạnh đang có tiếng trẻ gào khóc, tôi phải làm gì?").
    cues = [s for s in signals if s.category in CUE_CATEGORIES and not s.negated]
    unambiguous = [s for s in evidence if not s.ambiguous]
    ambiguous = [s for s in evidence if s.ambiguous and s.category in DANGER_CATEGORIES]
    distinct = {s.canonical for s in ambiguous}

    # --- is it a disclosure? (high needs corroboration)
    # The model "rules out" a lexicon phrase when it gives danger almost no chance and
    # does not read the message as bullying or distress either ("bị đánh thua 3 trận").
    distressed = top_name in SUPPORT_INTENTS or top_name in DANGER_INTENTS
    # Only a model can rule out, and never a suicide or self-harm phrase (a missed one costs the
    # most; their idioms, "nóng muốn chết", are the lexicon's own not_signals). Without a danger
    # probability the lexicon is trusted.
    never_ruled_out = any(s.category in SELF_HARM_CATEGORIES for s in unambiguous)
    ruled_out = (danger_probability is not None and probability < cfg["lexicon_floor"]
                 and not distressed and not never_ruled_out)
    # Another intent the model is sure of (a question about the law, small talk, everyday talk):
    # a middling danger probability alone does not interrupt it with a question.
    settled = top_name not in DANGER_INTENTS and top_name not in SUPPORT_INTENTS and top_conf >= cfg["settled_confidence"]
    lexicon_high = bool(unambiguous) and not ruled_out
    # The model alone: strong evidence AND a danger intent on top (out-of-domain text, a long
    # review or a news comment, can get a high head probability with a hesitant intent).
    danger_top = top_name in DANGER_INTENTS
    # A means (a rope, pills, a rooftop) in a message the model reads as self-harm is a warning sign.
    means_with_intent = top_name == "self_harm" and top_conf >= cfg["alone_intent_confidence"] and any(
        s.category == "suicide_means" for s in ambiguous)
    model_high = (
        means_with_intent
        or (danger_top and probability >= cfg["model_alone"] and top_conf >= cfg["alone_intent_confidence"])
        or (bool(ambiguous) and probability >= cfg["with_signal"]))
    added_up = len(distinct) >= cfg["accumulate"] and not ruled_out
    if lexicon_high or model_high or added_up:
        level, check_in = "high", False
    elif unambiguous or (probability >= cfg["check_in"] and not settled) or (
            ambiguous and probability >= cfg["ambiguous_floor"]):
        level, check_in = "concern", True
    elif top_name in SUPPORT_INTENTS and top_conf >= cfg["concern_confidence"]:
        level, check_in = "concern", False
    elif (moment or {}).get("kind") == "hesitation":
        # "em có chuyện muốn kể nhưng em sợ": concern; the answer is to listen (nlu.moment_policy).
        level, check_in = "concern", False
    else:
        level, check_in = "none", False

    # --- imminence: established danger plus a sign that it is happening now
    if level == "high":
        cue = bool(cues) or any(s.level == "imminent" for s in evidence) or any(
            s.now and s.level in ("high", "imminent") and not s.ambiguous for s in evidence)
        if not cue and canonical_text:
            padded = f" {canonical_text} "
            cue = any(f" {p} " in padded for p in URGENCY_PHRASES)
        if cue:
            level = "imminent"

    if check_in and (moment or {}).get("kind") in ALWAYS_ANSWERED:
        # "nếu em kể thì có ai biết không": the question is the moment; it gets its own answer.
        check_in = False
    if check_in and top_name == "quick_exit" and top_conf >= cfg["quick_exit_confidence"]:
        # A child hiding the chat must not get a check-in message on screen; only a
        # real escalation (high/imminent) overrides the quick exit.
        check_in = False

    model_says = probability >= cfg["check_in"] or (top_name in CONCERN_INTENTS and top_conf >= cfg["concern_confidence"])
    lexicon_says = bool(unambiguous or ambiguous)
    if level == "none":
        source = "none"
    elif model_says and lexicon_says:
        source = "both"
    elif lexicon_says:
        source = "lexicon"
    else:
        source = "model"
    shown = evidence + (cues if level == "imminent" else [])
    return RiskAssessment(level=level, check_in=check_in, signals=shown, source=source,
                          danger_probability=danger_probability)


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
                ranking, vietnamese_text.canonical(text), signals, self._config,
                message.get(DANGER_PROBABILITY_KEY), message.get(MOMENT_KEY),
            )
            message.set(RISK_KEY, assessment.as_dict(), add_to_output=True)
        return messages


def assess_text(
    text: Text, intent_ranking: Optional[Sequence[Dict[str, Any]]] = None
) -> RiskAssessment:
    """Convenience for callers without a pipeline (policy fallback, scripts)."""
    return assess(intent_ranking, vietnamese_text.canonical(text), load_lexicon().find(text))
