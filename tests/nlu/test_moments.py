"""The moments that decide whether a child goes on: found in the words, answered when the
conversation calls for it, never in place of the safety net."""

import pytest

from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from nlu.moment_policy import MOMENT_ACTION, MomentPolicy
from nlu.moments import Moment, find_moment
from nlu.safety_policy import RISK_ACTION, SafetyNetPolicy
from nlu.triage import assess


@pytest.mark.parametrize("text, kind, sub", [
    ("em có chuyện muốn kể nhưng em sợ", "hesitation", None),
    ("e ko biet co nen ke ko nua", "hesitation", None),
    ("bạn có giữ bí mật không", "secrecy", None),
    ("neu em ke thi bo me em co biet khong", "secrecy", None),
    ("nếu em kể với mẹ thì chú có bị đi tù không", "consequence", "perpetrator"),
    ("em có bị đuổi học không", "consequence", "school"),
    ("nhà em có bị tan nát không", "consequence", "family"),
    ("tại em mà, em không la lên", "blame", None),
    ("bạn tên gì", "about_me", "name"),
    ("bn tên j z", "about_me", "name"),
    ("mây mấy tuổi rồi", "about_me", "age"),
    ("bạn là người thật hay máy vậy", "about_me", "person"),
    ("bạn làm được gì", "about_me", "abilities"),
])
def test_moments_are_found_in_the_words_with_or_without_diacritics(text, kind, sub):
    assert find_moment(text) == Moment(kind, sub)


@pytest.mark.parametrize("text", [
    "cho em gặp người thật",  # a request for a person, not a question about Mây
    "em 13 tuổi có được đi làm không",  # the child's age, not Mây's
    "hôm nay trời đẹp quá",
    "",
])
def test_everything_else_is_no_moment(text):
    assert find_moment(text) is None


def test_hesitation_is_concern_without_a_question():
    ranking = [{"name": "out_of_scope", "confidence": 0.8}]
    risk = assess(ranking, "", [], danger_probability=0.05, moment={"kind": "hesitation", "sub": None})
    assert (risk.level, risk.check_in, risk.escalate) == ("concern", False, False)


DOMAIN = Domain.from_yaml("""
version: "3.1"
intents: [greet, ask_law, disclose_abuse, bot_challenge]
slots:
  disclosed:
    type: bool
    initial_value: false
    influence_conversation: false
    mappings: [{type: custom}]
responses:
  utter_greet: [{text: "Chào em"}]
actions: [action_respond_to_risk, action_check_in, action_respond_to_moment]
""")


def policy(cls, tmp_path):
    return cls.create(cls.get_default_config(), LocalModelStorage(tmp_path), Resource(cls.__name__),
                      ExecutionContext(GraphSchema({}), "test"))


def said(text, intent="ask_law", moment=None, risk=None, disclosed=False):
    parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text,
             "risk": risk or {"level": "none", "escalate": False, "check_in": False},
             "moment": moment.as_dict() if moment else None}
    events = [ActionExecuted(ACTION_LISTEN_NAME)]
    if disclosed:
        events.append(SlotSet("disclosed", True))
    events.append(UserUttered(text, parse["intent"], [], parse))
    return DialogueStateTracker.from_events("test", events, DOMAIN.slots)


def predicted(p, tracker):
    prediction = p.predict_action_probabilities(tracker, DOMAIN)
    return DOMAIN.action_names_or_texts[prediction.probabilities.index(1.0)] if max(prediction.probabilities) else None


@pytest.mark.parametrize("moment", [Moment("hesitation"), Moment("secrecy"), Moment("about_me", "name")])
def test_these_moments_are_always_answered(tmp_path, moment):
    assert predicted(policy(MomentPolicy, tmp_path), said("...", moment=moment)) == MOMENT_ACTION


@pytest.mark.parametrize("moment", [Moment("consequence", "perpetrator"), Moment("blame")])
def test_consequence_and_blame_are_answered_only_after_a_disclosure(tmp_path, moment):
    p = policy(MomentPolicy, tmp_path)
    assert predicted(p, said("...", moment=moment)) is None  # "bị phạt thế nào": a law question
    assert predicted(p, said("...", moment=moment, disclosed=True)) == MOMENT_ACTION


def test_after_answering_a_moment_the_bot_listens(tmp_path):
    tracker = said("...", moment=Moment("secrecy"))
    tracker.update(ActionExecuted(MOMENT_ACTION))
    assert predicted(policy(MomentPolicy, tmp_path), tracker) == ACTION_LISTEN_NAME


def test_the_safety_net_wins_over_a_moment(tmp_path):
    escalating = {"level": "high", "escalate": True, "check_in": False}
    tracker = said("chú sờ người em, bạn có giữ bí mật không", "disclose_abuse", Moment("secrecy"), escalating)
    assert predicted(policy(MomentPolicy, tmp_path), tracker) is None
    both = [policy(MomentPolicy, tmp_path).predict_action_probabilities(tracker, DOMAIN),
            policy(SafetyNetPolicy, tmp_path).predict_action_probabilities(tracker, DOMAIN)]
    best = DefaultPolicyPredictionEnsemble().combine_predictions(both, tracker, DOMAIN)
    assert DOMAIN.action_names_or_texts[best.probabilities.index(1.0)] == RISK_ACTION


def test_without_a_parse_result_the_moment_is_read_from_the_text(tmp_path):
    # rasa test: user events carry the story's intent, not the parse result.
    events = [ActionExecuted(ACTION_LISTEN_NAME), UserUttered("bạn tên gì", {"name": "bot_challenge"})]
    tracker = DialogueStateTracker.from_events("test", events, DOMAIN.slots)
    assert predicted(policy(MomentPolicy, tmp_path), tracker) == MOMENT_ACTION
