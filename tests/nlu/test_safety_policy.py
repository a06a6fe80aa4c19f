"""SafetyNetPolicy on hand-built trackers."""

import pytest

from rasa.core.constants import RULE_POLICY_PRIORITY
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from nlu.safety_policy import CHECK_IN_ACTION, RISK_ACTION, SafetyNetPolicy

DOMAIN_YAML = """
version: "3.1"
intents: [greet, disclose_abuse, ask_law, self_harm]
entities: [province]
slots:
  province:
    type: text
    mappings: [{type: from_entity, entity: province}]
responses:
  utter_greet: [{text: "Chào em"}]
actions: [action_respond_to_risk, action_check_in]
"""


@pytest.fixture(scope="module")
def domain():
    return Domain.from_yaml(DOMAIN_YAML)


@pytest.fixture
def policy(tmp_path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    return SafetyNetPolicy.create(
        SafetyNetPolicy.get_default_config(), storage, Resource("safety"), context
    )


def risk(escalate=False, check_in=False):
    level = "high" if escalate else ("concern" if check_in else "none")
    return {"level": level, "escalate": escalate, "check_in": check_in, "signals": [], "source": "model"}


def tracker_with(domain, *events):
    return DialogueStateTracker.from_events(
        "test", [ActionExecuted(ACTION_LISTEN_NAME), *events], domain.slots
    )


def user(text, intent, parse_risk=None, confidence=0.9):
    parse = {"intent": {"name": intent, "confidence": confidence}, "entities": [], "text": text}
    if parse_risk is not None:
        parse["risk"] = parse_risk
    return UserUttered(text, parse["intent"], [], parse)


def predicted(policy, tracker, domain):
    prediction = policy.predict_action_probabilities(tracker, domain)
    if max(prediction.probabilities) == 0:
        return None, prediction
    return domain.action_names_or_texts[prediction.probabilities.index(1.0)], prediction


@pytest.mark.parametrize("flags, expected", [
    ({"escalate": True}, RISK_ACTION),
    ({"check_in": True}, CHECK_IN_ACTION),
    ({"escalate": True, "check_in": True}, RISK_ACTION),  # escalation wins over a check-in
])
def test_risky_message_predicts_its_action(policy, domain, flags, expected):
    tracker = tracker_with(domain, user("...", "greet", risk(**flags)))
    action, prediction = predicted(policy, tracker, domain)
    assert action == expected
    assert prediction.max_confidence == 1.0
    assert prediction.policy_priority > RULE_POLICY_PRIORITY


def test_risk_wins_whatever_the_intent(policy, domain):
    tracker = tracker_with(domain, user("...", "ask_law", risk(escalate=True), 0.99))
    assert predicted(policy, tracker, domain)[0] == RISK_ACTION


def test_safe_message_abstains(policy, domain):
    tracker = tracker_with(domain, user("chào", "greet", risk()))
    action, prediction = predicted(policy, tracker, domain)
    assert action is None and not any(prediction.probabilities)


@pytest.mark.parametrize("action", [RISK_ACTION, CHECK_IN_ACTION])
def test_listen_after_its_action(policy, domain, action):
    tracker = tracker_with(
        domain, user("...", "disclose_abuse", risk(escalate=True)), ActionExecuted(action)
    )
    assert predicted(policy, tracker, domain)[0] == ACTION_LISTEN_NAME


def test_abstains_after_other_actions(policy, domain):
    tracker = tracker_with(
        domain, user("...", "disclose_abuse", risk(escalate=True)),
        ActionExecuted(RISK_ACTION), ActionExecuted(ACTION_LISTEN_NAME),
    )
    assert predicted(policy, tracker, domain)[0] is None


def test_slot_events_after_the_message_are_skipped(policy, domain):
    tracker = tracker_with(
        domain, user("...", "disclose_abuse", risk(escalate=True)), SlotSet("province", "Huế")
    )
    assert predicted(policy, tracker, domain)[0] == RISK_ACTION


def test_missing_risk_is_assessed_from_text_and_intent(policy, domain):
    # rasa test: the story's intent, no parse result.
    tracker = tracker_with(domain, UserUttered("bố em đánh em", {"name": "disclose_abuse"}))
    assert predicted(policy, tracker, domain)[0] == RISK_ACTION
    tracker = tracker_with(domain, UserUttered("em muốn chết", {"name": "greet"}))
    assert predicted(policy, tracker, domain)[0] == RISK_ACTION
    tracker = tracker_with(domain, UserUttered(None, {"name": "self_harm"}))
    assert predicted(policy, tracker, domain)[0] == RISK_ACTION
    tracker = tracker_with(domain, UserUttered("xin chào", {"name": "greet"}))
    assert predicted(policy, tracker, domain)[0] is None


def test_abstains_when_domain_lacks_the_action(policy):
    domain = Domain.from_yaml('version: "3.1"\nintents: [greet]')
    tracker = tracker_with(domain, user("...", "greet", risk(escalate=True)))
    assert not any(policy.predict_action_probabilities(tracker, domain).probabilities)


def test_ensemble_prefers_it_over_rule_loop_prediction(policy, domain):
    tracker = tracker_with(domain, user("...", "greet", risk(escalate=True)))
    ours = policy.predict_action_probabilities(tracker, domain)
    rule = [0.0] * len(domain.action_names_or_texts)
    rule[domain.index_for_action("utter_greet")] = 1.0
    rule_prediction = PolicyPrediction(
        rule, "RulePolicy", RULE_POLICY_PRIORITY, is_no_user_prediction=True
    )
    best = DefaultPolicyPredictionEnsemble().combine_predictions(
        [rule_prediction, ours], tracker, domain
    )
    assert best.policy_name == "SafetyNetPolicy"
    assert domain.action_names_or_texts[best.probabilities.index(1.0)] == RISK_ACTION


def test_no_check_in_inside_a_form_but_escalation_still_interrupts(policy, domain):
    # A reporter describing what happened ("tiếng đánh") answers the form's question.
    in_form = [ActiveLoop("report_abuse_form"), ActionExecuted("report_abuse_form")]
    tracker = tracker_with(domain, *in_form, ActionExecuted(ACTION_LISTEN_NAME),
                           user("nghe tieng danh", "report_abuse_other", risk(check_in=True)))
    assert predicted(policy, tracker, domain)[0] is None
    tracker = tracker_with(domain, *in_form, ActionExecuted(ACTION_LISTEN_NAME),
                           user("no dang danh be", "report_abuse_other", risk(escalate=True)))
    assert predicted(policy, tracker, domain)[0] == RISK_ACTION
