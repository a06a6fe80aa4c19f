"""Triage: evidence decides risk. High needs corroboration (the lexicon with a model that does not
rule it out, or a sure model), imminent needs an immediacy cue, everyday words stay none."""

import pytest

from nlu.danger_lexicon import Signal
from nlu.risk_field import LEVEL_RANK
from nlu.triage import DEFAULTS, assess, assess_text
from nlu.vietnamese_text import canonical


def sig(level="high", category="physical_violence", ambiguous=None, **flags):
    return Signal(
        phrase="x", canonical=f"x{category}{level}", category=category, level=level,
        ambiguous=(level == "concern") if ambiguous is None else ambiguous,
        start=0, end=1, **flags,
    )


def rank(name, conf, other="greet"):
    return [{"name": name, "confidence": conf}, {"name": other, "confidence": 1 - conf}]


@pytest.mark.parametrize("intent", ["disclose_abuse", "report_abuse_other", "self_harm"])
def test_a_sure_model_is_high_without_any_signal(intent):
    risk = assess(rank(intent, 0.9), "", [], danger_probability=0.95)
    assert (risk.level, risk.escalate, risk.check_in, risk.source) == ("high", True, False, "model")


def test_a_hesitant_danger_intent_alone_is_never_high():
    ranking = [{"name": "disclose_abuse", "confidence": 0.3}, {"name": "greet", "confidence": 0.25},
               {"name": "ask_law", "confidence": 0.25}, {"name": "thank", "confidence": 0.2}]
    risk = assess(ranking, "", [], danger_probability=0.95)
    assert risk.level == "concern" and risk.check_in and not risk.escalate


def test_a_danger_intent_the_model_does_not_believe_is_not_high():
    # "bố em mới mua xe đạp mới cho em": the intent head says abuse, the danger head says no.
    risk = assess(rank("disclose_abuse", 0.9), "", [], danger_probability=0.05)
    assert risk.level == "none" and not risk.check_in


def test_the_head_and_the_ranking_must_agree():
    # Evidence is the geometric mean: a sure head with a hesitant ranking, or the reverse, is not enough.
    assert assess(rank("self_harm", 0.9), "", [], danger_probability=0.5).level == "high"
    assert assess(rank("self_harm", 0.9), "", [], danger_probability=0.2).level == "none"
    ranking = [{"name": "self_harm", "confidence": 0.35}, {"name": "out_of_scope", "confidence": 0.33},
               {"name": "greet", "confidence": 0.32}]
    assert assess(ranking, "", [], danger_probability=0.99).level == "concern"


def test_a_suicide_means_with_a_self_harm_intent_is_high():
    means = sig("imminent", "suicide_means", ambiguous=True)
    assert assess(rank("self_harm", 0.6), "", [means], danger_probability=0.05).level in ("high", "imminent")
    assert assess(rank("out_of_scope", 0.6), "", [means], danger_probability=0.05).level == "none"


def test_a_suicide_phrase_is_never_ruled_out_by_the_model():
    phrase = sig("high", "suicide_plan")
    assert assess(rank("out_of_scope", 0.99), "", [phrase], danger_probability=0.001).level == "high"
    assert assess(rank("out_of_scope", 0.99), "", [sig("high")], danger_probability=0.001).level == "concern"


@pytest.mark.parametrize("intent", ["bullying", "mental_health", "request_human", "quick_exit"])
def test_support_intents_are_concern_without_a_question(intent):
    risk = assess(rank(intent, 0.9), "", [], danger_probability=0.01)
    assert (risk.level, risk.escalate, risk.check_in) == ("concern", False, False)


@pytest.mark.parametrize("intent", ["greet", "ask_law", "out_of_scope", "thank"])
def test_other_intents_are_none(intent):
    risk = assess(rank(intent, 0.95), "", [], danger_probability=0.01)
    assert (risk.level, risk.escalate, risk.check_in, risk.source) == ("none", False, False, "none")


def test_a_middling_probability_asks_one_question():
    ranking = [{"name": "greet", "confidence": 0.4}, {"name": "mental_health", "confidence": 0.3},
               {"name": "self_harm", "confidence": 0.3}]
    risk = assess(ranking, "", [], danger_probability=0.9)
    assert risk.level == "concern" and risk.check_in


def test_a_middling_probability_does_not_interrupt_a_sure_other_intent():
    risk = assess(rank("ask_law", 0.8), "", [], danger_probability=0.6)
    assert risk.level == "none"


def test_an_unambiguous_signal_is_high_unless_the_model_rules_it_out():
    ranking = [{"name": "ask_law", "confidence": 0.6}, {"name": "disclose_abuse", "confidence": 0.4}]
    assert assess(ranking, "", [sig("high")], danger_probability=0.3).level == "high"
    # "bị đánh thua 3 trận": a lexicon phrase in a message the model calls everyday.
    ruled_out = assess(rank("out_of_scope", 0.9), "", [sig("high")], danger_probability=0.01)
    assert ruled_out.level == "concern" and ruled_out.check_in


def test_peer_violence_the_danger_head_underrates_is_still_high():
    # Bullying is not a danger intent for the head, but serious violence in it is a disclosure.
    assert assess(rank("bullying", 0.8), "", [sig("high")], danger_probability=0.02).level == "high"


def test_without_a_model_the_lexicon_is_trusted():
    assert assess(rank("greet", 0.9), "", [sig("high")]).level == "high"


def test_an_ambiguous_signal_needs_the_model():
    assert assess(rank("out_of_scope", 0.9), "", [sig("concern")], danger_probability=0.05).level == "none"
    ranking = [{"name": "out_of_scope", "confidence": 0.4}, {"name": "disclose_abuse", "confidence": 0.3},
               {"name": "greet", "confidence": 0.3}]
    checked = assess(ranking, "", [sig("concern")], danger_probability=0.2)
    assert checked.level == "concern" and checked.check_in
    assert assess(rank("disclose_abuse", 0.5), "", [sig("concern")], danger_probability=0.4).level == "high"


def test_several_ambiguous_danger_signals_add_up():
    signals = [Signal(f"p{i}", f"p{i}", "trafficking", "concern", True, 0, 1) for i in range(3)]
    assert assess(rank("greet", 0.9, other="disclose_abuse"), "", signals, danger_probability=0.1).level == "high"
    assert assess(rank("greet", 0.9, other="disclose_abuse"), "", signals, danger_probability=0.01).level != "high"


@pytest.mark.parametrize("flag", ["negated", "info_question"])
def test_discounted_signals_do_not_count(flag):
    risk = assess(rank("ask_law", 0.9), "", [sig("high", **{flag: True})], danger_probability=0.01)
    assert risk.level == "none" and risk.signals == []


@pytest.mark.parametrize(
    "intent, conf, probability, signals",
    [
        ("disclose_abuse", 0.9, 0.95, []),
        ("self_harm", 0.95, 0.9, [sig("concern")]),
        ("bullying", 0.8, 0.1, [sig("high")]),
        ("greet", 0.9, 0.5, [sig("high"), sig("concern")]),
        ("disclose_abuse", 0.9, 0.95, [sig("imminent", ambiguous=True)]),
    ],
)
def test_the_lexicon_never_lowers_the_model_level(intent, conf, probability, signals):
    alone = assess(rank(intent, conf), "", [], danger_probability=probability)
    combined = assess(rank(intent, conf), "", signals, danger_probability=probability)
    assert LEVEL_RANK[combined.level] >= LEVEL_RANK[alone.level]


def test_established_danger_with_an_immediacy_cue_is_imminent():
    risk = assess(rank("self_harm", 0.9), "", [sig("imminent", "suicide_means", ambiguous=True)],
                  danger_probability=0.95)
    assert risk.level == "imminent" and risk.escalate


def test_a_cue_alone_is_never_a_level():
    for category in ("immediacy", "symptoms"):
        risk = assess(rank("out_of_scope", 0.9), "", [sig("imminent", category, ambiguous=True)],
                      danger_probability=0.02)
        assert risk.level == "none", category


def test_a_cue_in_a_question_still_counts():
    cue = sig("imminent", "immediacy", ambiguous=True, info_question=True)
    assert assess(rank("report_abuse_other", 0.9), "", [cue], danger_probability=0.95).level == "imminent"


def test_an_overdose_taken_is_imminent():
    risk = assess(rank("self_harm", 0.6), "", [sig("imminent", "overdose")], danger_probability=0.7)
    assert risk.level == "imminent"


def test_now_marker_on_acute_signal_is_imminent():
    assert assess(rank("disclose_abuse", 0.9), "", [sig("high", now=True)], danger_probability=0.9).level == "imminent"


def test_urgency_phrase_in_text():
    text = canonical("tối nay em sẽ đi thật xa")
    assert assess(rank("self_harm", 0.9), text, [], danger_probability=0.9).level == "imminent"
    assert assess(rank("greet", 0.9), text, [], danger_probability=0.01).level == "none"


def test_risk_dict_shape():
    risk = assess(rank("ask_law", 0.9), "", [sig("high")], danger_probability=0.5).as_dict()
    assert set(risk) == {"level", "escalate", "check_in", "signals", "source", "danger_probability"}
    assert risk["signals"] == [{"phrase": "x", "category": "physical_violence", "level": "high"}]
    assert risk["danger_probability"] == 0.5


def test_escalate_iff_high_or_imminent():
    from nlu.triage import RiskAssessment

    for level in ("none", "concern", "high", "imminent"):
        assert RiskAssessment(level=level).escalate == (level in ("high", "imminent"))


@pytest.mark.parametrize(
    "text, intent, probability, expected",
    [
        ("Mẹ em đang cầm gậy đuổi đánh em", "disclose_abuse", 0.95, "imminent"),
        ("me e dang cam gay duoi danh e", "disclose_abuse", 0.6, "imminent"),
        ("em đang đứng trên sân thượng, em muốn chết", "self_harm", 0.9, "imminent"),
        ("em vừa uống một vỉ thuốc hạ sốt, giờ em chóng mặt buồn nôn quá", "self_harm", 0.7, "imminent"),
        ("bị bạo hành trẻ em bị phạt thế nào", "ask_law", 0.05, "none"),
        ("bố không đánh em, bố thương em lắm", "thank", 0.02, "none"),
        ("dễ thương quá", "out_of_scope", 0.02, "none"),
        ("em buồn ngủ quá", "out_of_scope", 0.01, "none"),
        ("bị đánh thua 3 trận liền rồi", "out_of_scope", 0.03, "none"),
        ("em vừa uống thuốc hạ sốt xong, đỡ nhiều rồi", "out_of_scope", 0.05, "none"),
    ],
)
def test_end_to_end_examples(text, intent, probability, expected):
    from nlu.danger_lexicon import load_lexicon

    risk = assess(rank(intent, 0.9), canonical(text), load_lexicon().find(text), danger_probability=probability)
    assert risk.level == expected


def test_assess_text_without_a_model_trusts_the_lexicon():
    assert assess_text("em muốn chết", rank("greet", 0.9)).level == "high"


def test_quick_exit_is_not_overridden_by_a_check_in():
    ranking = [{"name": "quick_exit", "confidence": 0.6}, {"name": "disclose_abuse", "confidence": 0.4}]
    risk = assess(ranking, "", [], danger_probability=0.99)  # evidence 0.63: would ask
    assert risk.level == "concern" and not risk.check_in and not risk.escalate
    # A real disclosure while hiding the chat still escalates: the lexicon is not ruled out.
    risk = assess(rank("quick_exit", 0.9), "", [sig("high")], danger_probability=0.01)
    assert risk.escalate


def test_thresholds_are_ordered():
    assert DEFAULTS["lexicon_floor"] < DEFAULTS["ambiguous_floor"] < DEFAULTS["with_signal"] < DEFAULTS["check_in"]
    assert DEFAULTS["with_signal"] < DEFAULTS["model_alone"]
