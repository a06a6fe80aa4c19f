"""MomentPolicy: the moments that decide whether a child goes on get their answer.

After a user message whose parse result carries a ``moment`` (``nlu.moments``), predict
``action_respond_to_moment`` when the conversation calls for it; right after that action,
``action_listen``; otherwise abstain:

* hesitation, secrecy and small talk about Mây: always;
* a question about consequences ("chú có bị đi tù không") and self-blame ("tại em mà"):
  only once something has been disclosed (the ``disclosed`` slot); before that, "bị phạt
  thế nào" is a question about the law and the knowledge base answers it.

A message the safety net answers (``risk.escalate`` or ``risk.check_in``) is left to
SafetyNetPolicy, whose priority is higher. The prediction is flagged
``is_no_user_prediction`` like the safety net's, so it is ranked with RulePolicy's
predictions and priority decides (it wins over the rules, loses to the safety net).

In ``rasa test`` the tracker's user events carry no parse result; the moment is then found
in the text itself, as the component would.
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

from nlu.moments import ALWAYS_ANSWERED, MOMENT_KEY, Moment, find_moment
from nlu.safety_policy import _last_turn_event

logger = logging.getLogger(__name__)

MOMENT_ACTION = "action_respond_to_moment"
AFTER_DISCLOSURE = ("consequence", "blame")


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class MomentPolicy(Policy):
    """Forces ``action_respond_to_moment`` after a message that needs it."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "priority": RULE_POLICY_PRIORITY + 1,
            "moment_action": MOMENT_ACTION,
            "disclosed_slot": "disclosed",
        }

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, featurizer: Optional[Any] = None) -> None:
        config = {**self.get_default_config(), **config}
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self.moment_action = config["moment_action"]
        self.disclosed_slot = config["disclosed_slot"]

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        """Nothing to learn; checks the domain knows the action."""
        if self.moment_action not in domain.action_names_or_texts:
            logger.warning(f"'{self.moment_action}' is not in the domain: MomentPolicy will abstain.")
        with self._model_storage.write_to(self._resource) as path:
            (Path(path) / "moment_policy.json").write_text(json.dumps({"moment_action": self.moment_action}),
                                                          encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "MomentPolicy":
        return cls(config, model_storage, resource, execution_context)

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        result = self._default_predictions(domain)
        if self.moment_action not in domain.action_names_or_texts:
            return self._prediction(result)
        last = _last_turn_event(tracker)
        target = None
        if isinstance(last, UserUttered) and not tracker.active_loop_name:
            if self.needs_answer(last, bool(tracker.get_slot(self.disclosed_slot))):
                target = self.moment_action
        elif isinstance(last, ActionExecuted) and last.action_name == self.moment_action:
            target = ACTION_LISTEN_NAME
        if target is None or target not in domain.action_names_or_texts:
            return self._prediction(result)
        result[domain.index_for_action(target)] = 1.0
        return self._prediction(result, is_no_user_prediction=True)

    @staticmethod
    def needs_answer(event: UserUttered, disclosed: bool) -> bool:
        parse = event.parse_data or {}
        risk = parse.get("risk") or {}
        if risk.get("escalate") or risk.get("check_in"):
            return False  # the safety net answers
        if str(event.text or "").startswith("/"):
            return False  # a button: its own rule answers
        moment = Moment.from_dict(parse.get(MOMENT_KEY)) if MOMENT_KEY in parse else find_moment(event.text or "")
        if moment is None:
            return False
        return moment.kind in ALWAYS_ANSWERED or (disclosed and moment.kind in AFTER_DISCLOSURE)
