"""Triage: intent base level, confidence thresholds, raise-only lexicon, imminence."""

import pytest

from nlu.danger_lexicon import LEVEL_RANK, Signal
from nlu.triage import assess, assess_text
from nlu.vietnamese_text import canonical


def sig(level="high", category="physical_violence", ambiguous=None, **flags):
    return Signal(
        phrase="x", canonical="x", category=category, level=level,
        ambiguous=(level == "concern") if ambiguous is None else ambiguous,
        start=0, end=1, **flags,
    )


def rank(name, conf, other="greet"):
    return [{"name": name, "confidence": conf}, {"name": other, "confidence": 1 - conf}]


@pytest.mark.parametrize("intent", ["disclose_abuse", "report_abuse_other", "self_harm"])
def test_confident_danger_intent_is_high(intent):
    risk = assess(rank(intent, 0.9), "", [])
    assert (risk.level, risk.escalate, risk.check_in, risk.source) == ("high", True, False, "model")


@pytest.mark.parametrize("intent", ["bullying", "mental_health"])
def test_concern_intents(intent):
    risk = assess(rank(intent, 0.9), "", [])
    assert (risk.level, risk.escalate, risk.check_in) == ("concern", False, False)


@pytest.mark.parametrize("intent", ["greet", "ask_law", "out_of_scope", "thank"])
def test_other_intents_are_none(intent):
    risk = assess(rank(intent, 0.95), "", [])
    assert (risk.level, risk.escalate, risk.check_in, risk.source) == ("none", False, False, "none")


def test_hesitant_danger_intent_checks_in():
    risk = assess(rank("self_harm", 0.35, other="mental_health"), "", [])
    assert (risk.level, risk.escalate, risk.check_in) == ("concern", False, True)


def test_hesitant_danger_intent_confirmed_by_lexicon_is_high():
    risk = assess(rank("disclose_abuse", 0.35), "", [sig("concern")])
    assert risk.level == "high" and risk.escalate


def test_danger_mass_spread_over_intents_checks_in():
    ranking = [
        {"name": "mental_health", "confidence": 0.4},
        {"name": "self_harm", "confidence": 0.2},
        {"name": "disclose_abuse", "confidence": 0.15},
        {"name": "greet", "confidence": 0.25},
    ]
    risk = assess(ranking, "", [])
    assert risk.level == "concern" and risk.check_in


def test_unambiguous_signal_raises_any_intent_to_high():
    risk = assess(rank("ask_law", 0.9), "", [sig("high")])
    assert (risk.level, risk.escalate, risk.source) == ("high", True, "lexicon")


def test_ambiguous_signal_only_checks_in():
    risk = assess(rank("out_of_scope", 0.9), "", [sig("concern")])
    assert (risk.level, risk.escalate, risk.check_in) == ("concern", False, True)


def test_ambiguous_signal_with_concern_intent_is_not_a_check_in():
    risk = assess(rank("bullying", 0.9), "", [sig("concern")])
    assert (risk.level, risk.check_in, risk.source) == ("concern", False, "both")


def test_several_ambiguous_danger_signals_add_up():
    signals = [Signal(f"p{i}", f"p{i}", "trafficking", "concern", True, 0, 1) for i in range(3)]
    assert assess(rank("greet", 0.9), "", signals).level == "high"


@pytest.mark.parametrize("flag", ["negated", "info_question"])
def test_discounted_signals_do_not_count(flag):
    risk = assess(rank("ask_law", 0.9), "", [sig("high", **{flag: True})])
    assert risk.level == "none" and risk.signals == []


@pytest.mark.parametrize(
    "intent, conf, signals",
    [
        ("disclose_abuse", 0.9, []),
        ("self_harm", 0.95, [sig("concern")]),
        ("bullying", 0.8, [sig("high")]),
        ("greet", 0.9, [sig("high"), sig("concern")]),
        ("disclose_abuse", 0.9, [sig("imminent", ambiguous=True)]),
    ],
)
def test_lexicon_never_lowers_the_model_level(intent, conf, signals):
    alone = assess(rank(intent, conf), "", [])
    combined = assess(rank(intent, conf), "", signals)
    assert LEVEL_RANK[combined.level] >= LEVEL_RANK[alone.level]


def test_imminent_cue_with_danger_intent():
    risk = assess(rank("self_harm", 0.9), "", [sig("imminent", "suicide_means", ambiguous=True)])
    assert risk.level == "imminent" and risk.escalate


def test_imminent_cue_alone_is_not_imminent():
    risk = assess(rank("out_of_scope", 0.9), "", [sig("imminent", "suicide_means", ambiguous=True)])
    assert risk.level == "concern" and risk.check_in


def test_imminent_cue_with_unambiguous_signal():
    signals = [sig("imminent", "suicide_means", ambiguous=True), sig("high", "suicide_plan")]
    assert assess(rank("greet", 0.9), "", signals).level == "imminent"


def test_now_marker_on_acute_signal_is_imminent():
    assert assess(rank("disclose_abuse", 0.9), "", [sig("high", now=True)]).level == "imminent"


def test_urgency_phrase_in_text():
    text = canonical("tối nay em sẽ đi thật xa")
    assert assess(rank("self_harm", 0.9), text, []).level == "imminent"
    assert assess(rank("greet", 0.9), text, []).level == "none"


def test_risk_dict_shape():
    risk = assess(rank("ask_law", 0.9), "", [sig("high")]).as_dict()
    assert set(risk) == {"level", "escalate", "check_in", "signals", "source"}
    assert risk["signals"] == [{"phrase": "x", "category": "physical_violence", "level": "high"}]


def test_escalate_iff_high_or_imminent():
    for level in ("none", "concern", "high", "imminent"):
        from nlu.triage import RiskAssessment

        assert RiskAssessment(level=level).escalate == (level in ("high", "imminent"))


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("Mẹ em đang cầm gậy đuổi đánh em", "disclose_abuse", "imminent"),
        ("me e dang cam gay duoi danh e", "greet", "imminent"),
        ("em đang đứng trên sân thượng, em muốn chết", "out_of_scope", "imminent"),
        ("bị bạo hành trẻ em bị phạt thế nào", "ask_law", "none"),
        ("bố không đánh em, bố thương em lắm", "thank", "none"),
        ("em chưa bao giờ nghĩ đến tự tử", "mental_health", "concern"),
    ],
)
def test_end_to_end_examples(text, intent, expected):
    assert assess_text(text, rank(intent, 0.9)).level == expected


def test_quick_exit_is_not_overridden_by_a_check_in():
    risk = assess(rank("quick_exit", 0.9), "", [sig("imminent", "imminent_danger", ambiguous=True)])
    assert not risk.check_in and not risk.escalate
    risk = assess(rank("quick_exit", 0.9), "", [sig("high")])
    assert risk.escalate  # a real disclosure still escalates
