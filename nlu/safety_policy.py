"""SafetyNetPolicy: no story or rule can route around a disclosure.

When the latest user message's parse data has ``risk.escalate``, predict
``action_respond_to_risk``; when it has only ``risk.check_in`` (an ambiguous signal),
predict ``action_check_in``, the one gentle question (confidence 1.0, priority above
RulePolicy); right after either action predict ``action_listen``; otherwise abstain.

The prediction is flagged ``is_no_user_prediction`` so the ensemble ranks it with
RulePolicy's loop "happy path" predictions, where priority decides: a disclosure in the
middle of a form is still answered.

In ``rasa test`` (end-to-end conversation tests) the tracker's user events carry the
story's intent but not the parse result; the policy then assesses the text itself
with the same triage (``nlu.triage``), so tests see what production does.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.core.constants import RULE_POLICY_PRIORITY
from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

RISK_ACTION = "action_respond_to_risk"
CHECK_IN_ACTION = "action_check_in"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class SafetyNetPolicy(Policy):
    """Forces ``action_respond_to_risk`` after a risky user message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Above MomentPolicy (+1), which is above RulePolicy: a disclosure wins over anything.
            "priority": RULE_POLICY_PRIORITY + 2,
            "risk_action": RISK_ACTION,
            "check_in_action": CHECK_IN_ACTION,
            # Assess the text when the parse data has no risk field (rasa test, /intent).
            "assess_missing_risk": True,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Optional[Any] = None,
    ) -> None:
        config = {**self.get_default_config(), **config}
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self.risk_action = config["risk_action"]
        self.check_in_action = config["check_in_action"]

    def train(
        self,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        """Nothing to learn; checks the domain knows the action."""
        if self.risk_action not in domain.action_names_or_texts:
            logger.warning(
                f"'{self.risk_action}' is not in the domain: SafetyNetPolicy will abstain."
            )
        # Write a small file so the resource exists for Rasa's training cache.
        with self._model_storage.write_to(self._resource) as path:
            (Path(path) / "safety_net_policy.json").write_text(
                json.dumps({"risk_action": self.risk_action}), encoding="utf-8"
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "SafetyNetPolicy":
        return cls(config, model_storage, resource, execution_context)

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Risk action or check-in after a risky message, listen after it, otherwise abstain."""
        result = self._default_predictions(domain)
        if self.risk_action not in domain.action_names_or_texts:
            return self._prediction(result)

        last = _last_turn_event(tracker)
        target = None
        if isinstance(last, UserUttered):
            target = self._response_to(last)
            # Inside a form (e.g. a report about another child) the person is
            # already telling us what happened: an ambiguous word there is an
            # answer, not a reason to interrupt with "are you OK?". An
            # escalation still interrupts anything.
            if target == self.check_in_action and tracker.active_loop_name:
                target = None
        elif isinstance(last, ActionExecuted) and last.action_name in (self.risk_action, self.check_in_action):
            target = ACTION_LISTEN_NAME

        if target is None or target not in domain.action_names_or_texts:
            return self._prediction(result)
        result[domain.index_for_action(target)] = 1.0
        return self._prediction(result, is_no_user_prediction=True)

    def _response_to(self, event: UserUttered) -> Optional[Text]:
        """The risk action for an escalation, the check-in for an ambiguous signal."""
        risk = self._risk_of(event)
        if risk.get("escalate"):
            return self.risk_action
        if risk.get("check_in"):
            return self.check_in_action
        return None

    def _risk_of(self, event: UserUttered) -> Dict[Text, Any]:
        risk = (event.parse_data or {}).get("risk")
        intent = dict(event.intent or {})
        if risk is None and self.config.get("assess_missing_risk", True):
            if not (event.text or intent.get("name")):
                return {}
            from nlu.triage import assess_text  # engine-only import, kept lazy

            if intent.get("name") and intent.get("confidence") is None:
                intent["confidence"] = 1.0  # a story's intent is certain
            ranking = [intent] if intent.get("name") else []
            risk = assess_text(event.text or "", ranking).as_dict()
        return risk if isinstance(risk, dict) else {}


def _last_turn_event(tracker: DialogueStateTracker) -> Optional[Any]:
    """The latest user message or action (slot and other events are skipped)."""
    for event in reversed(tracker.events):
        if isinstance(event, (UserUttered, ActionExecuted)):
            return event
    return None
