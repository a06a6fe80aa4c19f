"""Danger-lexicon signals as sparse features for the intent classifier.

One feature per (category, ambiguous?) for counted signals, plus three flags for
signals found but not counted (negated, information question) and for a "now" marker.
Sequence features mark the tokens inside each signal; the sentence feature is their
union. Gives DIET the lexicon's knowledge of rare phrasings ("bóp cổ", "ảnh nóng").
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

import numpy as np
import scipy.sparse

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.danger_lexicon import DangerLexicon, load_lexicon

_FLAGS = ("negated_signal", "info_question_signal", "now_signal")


def feature_names(lexicon: DangerLexicon) -> List[str]:
    """Stable feature order: categories of the lexicon (sorted) then the flags."""
    categories = sorted({e.category for e in lexicon.entries.values()} | {
        p["category"] for p in lexicon.patterns.values()
    })
    names = [f"{c}:{kind}" for c in categories for kind in ("clear", "ambiguous")]
    return names + list(_FLAGS)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class DangerLexiconFeaturizer(SparseFeaturizer, GraphComponent):
    """Adds lexicon category features to the TEXT attribute."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**SparseFeaturizer.get_default_config(), "lexicon_path": None}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Nothing to validate."""

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, {**self.get_default_config(), **config})
        self._lexicon = load_lexicon(self._config.get("lexicon_path"))
        self._names = feature_names(self._lexicon)
        self._index = {n: i for i, n in enumerate(self._names)}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "DangerLexiconFeaturizer":
        return cls(config, execution_context.node_name)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._featurize(message)
        return messages

    def _featurize(self, message: Message) -> None:
        tokens = message.get(TOKENS_NAMES[TEXT])
        text = message.get(TEXT)
        if not tokens or not text:
            return
        sequence = np.zeros((len(tokens), len(self._names)), dtype=np.float32)
        sentence = np.zeros((1, len(self._names)), dtype=np.float32)
        for signal in self._lexicon.find(text):
            if signal.counts:
                name = f"{signal.category}:{'ambiguous' if signal.ambiguous else 'clear'}"
                columns = [self._index[name]]
                if signal.now:
                    columns.append(self._index["now_signal"])
            else:
                flag = "negated_signal" if signal.negated else "info_question_signal"
                columns = [self._index[flag]]
            for row, token in enumerate(tokens):
                if token.start < signal.end and signal.start < token.end:
                    sequence[row, columns] = 1.0
            sentence[0, columns] = 1.0
        self.add_features_to_message(
            scipy.sparse.coo_matrix(sequence), scipy.sparse.coo_matrix(sentence), TEXT, message
        )
