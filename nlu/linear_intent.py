"""Linear intent classifier on canonical n-grams, blended with DIET's ranking.

Why: with ~1,700 examples, a TF-IDF logistic regression over the canonical form
(word 1-2-grams, char_wb 2-5-grams) plus the original spelling (accented evidence)
generalises better to new phrasings than DIET alone, and blending the two rankings
gives the best disclosure recall (scripts/nlu_experiment.py). DIET still runs before
it (entities, and its intent ranking is the ``diet_weight`` share of the blend).

Features come from the tokenizer's tokens: ``lemma`` (canonical) and ``text``
(original, lower-cased). The model is stored as JSON + NumPy arrays (no pickle).

A second head on the same features answers one question only: is this message a
disclosure of danger (any of ``danger_intents``) or not? It is a class-balanced
logistic regression whose score is calibrated (Platt scaling on out-of-fold scores of
the training data), and its probability is set on the message as
``danger_probability`` for the triage (``nlu.triage``). The intent head has to pick
one of the intents; this head may say "none of these", which is what keeps a family
word or an idiom in an everyday message from becoming a disclosure.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np
import scipy.sparse

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

DANGER_PROBABILITY_KEY = "danger_probability"

_VIEWS = {
    # name: (source, analyzer, ngram_range)
    "lemma_words": ("lemma", "word", (1, 2)),
    "lemma_chars": ("lemma", "char_wb", (2, 5)),
    "original_words": ("text", "word", (1, 1)),
}


def _view_text(message: Message, source: str) -> str:
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    if source == "lemma":
        return " ".join(t.lemma for t in tokens)
    return " ".join(t.text.lower() for t in tokens)


def _vectorizer(analyzer: str, ngram_range, vocabulary=None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer=analyzer,
        ngram_range=tuple(ngram_range),
        sublinear_tf=True,
        lowercase=True,
        token_pattern=r"(?u)\b\w+\b",
        vocabulary=vocabulary,
        dtype=np.float32,
    )


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """TF-IDF + logistic regression; blends its probabilities with the previous ranking."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "C": 20.0,  # inverse regularisation of the logistic regression
            "max_iter": 3000,
            # "balanced": each intent weighs the same in training, so the large everyday class
            # (out_of_scope) does not pull questions and disclosures towards it; None: as counted.
            "class_weight": None,
            # Share of the previous classifier's (DIET's) ranking in the blend; 0 = ours only.
            "diet_weight": 0.3,
            "ranking_length": 10,
            # The danger head: which intents are a disclosure, its regularisation, and
            # the folds of the out-of-fold scores its calibration is fitted on.
            "danger_intents": ["disclose_abuse", "report_abuse_other", "self_harm"],
            "danger_C": 5.0,
            "calibration_folds": 5,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vectorizers: Optional[Dict[str, Any]] = None,
        classes: Optional[List[str]] = None,
        coef: Optional[np.ndarray] = None,
        intercept: Optional[np.ndarray] = None,
        danger: Optional[Dict[str, np.ndarray]] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._vectorizers = vectorizers or {}
        self._classes = classes or []
        self._coef = coef
        self._intercept = intercept
        # {"coef": (n_features,), "intercept": (1,), "platt": (2,)} or None (not trained)
        self._danger = danger

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LinearIntentClassifier":
        return cls(config, model_storage, resource)

    # ----------------------------------------------------------------- training

    def _matrix(self, messages: List[Message]) -> scipy.sparse.csr_matrix:
        blocks = [
            self._vectorizers[name].transform([_view_text(m, source) for m in messages])
            for name, (source, _, _) in _VIEWS.items()
        ]
        return scipy.sparse.hstack(blocks).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if len(examples) < 2 or len({e.get(INTENT) for e in examples}) < 2:
            logger.warning("LinearIntentClassifier: not enough intents to train.")
            return self._resource
        for name, (source, analyzer, ngrams) in _VIEWS.items():
            self._vectorizers[name] = _vectorizer(analyzer, ngrams).fit(
                [_view_text(e, source) for e in examples]
            )
        matrix = self._matrix(examples)
        intents = [e.get(INTENT) for e in examples]
        clf = LogisticRegression(C=float(self._config["C"]), max_iter=int(self._config["max_iter"]),
                                 class_weight=self._config["class_weight"])
        clf.fit(matrix, intents)
        self._classes = [str(c) for c in clf.classes_]
        self._coef = clf.coef_.astype(np.float32)
        self._intercept = clf.intercept_.astype(np.float32)
        self._danger = self._train_danger_head(matrix, intents)
        self.persist()
        return self._resource

    def _train_danger_head(self, matrix: scipy.sparse.csr_matrix, intents: List[str]) -> Optional[Dict[str, np.ndarray]]:
        """Danger or not, class-balanced, with Platt scaling fitted on out-of-fold scores."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        labels = np.array([intent in self._config["danger_intents"] for intent in intents], dtype=int)
        folds = int(self._config["calibration_folds"])
        if labels.sum() < folds or (len(labels) - labels.sum()) < folds:
            logger.warning("LinearIntentClassifier: too few examples for the danger head; it is off.")
            return None

        def head() -> Any:
            return LogisticRegression(C=float(self._config["danger_C"]), class_weight="balanced",
                                      max_iter=int(self._config["max_iter"]))

        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=42)
        scores = cross_val_predict(head(), matrix, labels, cv=splitter, method="decision_function")
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(scores.reshape(-1, 1), labels)
        final = head().fit(matrix, labels)
        return {
            "coef": final.coef_[0].astype(np.float32),
            "intercept": final.intercept_.astype(np.float32),
            "platt": np.array([platt.coef_[0][0], platt.intercept_[0]], dtype=np.float32),
        }

    def danger_probabilities(self, matrix: scipy.sparse.csr_matrix) -> Optional[np.ndarray]:
        if self._danger is None:
            return None
        scores = matrix @ self._danger["coef"] + self._danger["intercept"][0]
        slope, offset = self._danger["platt"]
        return 1.0 / (1.0 + np.exp(-(slope * scores + offset)))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    # --------------------------------------------------------------- prediction

    def process(self, messages: List[Message]) -> List[Message]:
        if self._coef is None or not messages:
            return messages
        matrix = self._matrix(messages)
        probabilities = _softmax(matrix @ self._coef.T + self._intercept)
        danger = self.danger_probabilities(matrix)
        weight = float(self._config["diet_weight"])
        for position, (message, ours) in enumerate(zip(messages, probabilities)):
            if danger is not None:
                message.set(DANGER_PROBABILITY_KEY, float(danger[position]))
            blended = dict(zip(self._classes, (1.0 - weight) * ours))
            if weight > 0:
                for item in message.get(INTENT_RANKING_KEY) or []:
                    name = item.get("name")
                    if name in blended:
                        blended[name] += weight * float(item.get("confidence") or 0.0)
            ranking = sorted(
                ({"name": n, "confidence": float(c)} for n, c in blended.items()),
                key=lambda r: -r["confidence"],
            )
            message.set(INTENT, ranking[0], add_to_output=True)
            length = int(self._config["ranking_length"])
            message.set(INTENT_RANKING_KEY, ranking[:length] if length > 0 else ranking, add_to_output=True)
        return messages

    # -------------------------------------------------------------- persistence

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as path:
            meta = {
                "classes": self._classes,
                "vocabularies": {
                    name: {term: int(i) for term, i in vec.vocabulary_.items()}
                    for name, vec in self._vectorizers.items()
                },
            }
            (path / "linear_intent.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            arrays = {f"idf_{name}": vec.idf_ for name, vec in self._vectorizers.items()}
            if self._danger is not None:
                arrays.update({f"danger_{key}": value for key, value in self._danger.items()})
            np.savez(path / "linear_intent.npz", coef=self._coef, intercept=self._intercept, **arrays)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "LinearIntentClassifier":
        try:
            with model_storage.read_from(resource) as path:
                meta = json.loads((path / "linear_intent.json").read_text(encoding="utf-8"))
                arrays = np.load(path / "linear_intent.npz")
                vectorizers = {}
                for name, (_, analyzer, ngrams) in _VIEWS.items():
                    vec = _vectorizer(analyzer, ngrams, vocabulary=meta["vocabularies"][name])
                    vec.idf_ = arrays[f"idf_{name}"]
                    vectorizers[name] = vec
                danger = None
                if "danger_coef" in arrays.files:
                    danger = {key: arrays[f"danger_{key}"] for key in ("coef", "intercept", "platt")}
                return cls(
                    config, model_storage, resource, vectorizers, meta["classes"],
                    arrays["coef"], arrays["intercept"], danger,
                )
        except (ValueError, FileNotFoundError, KeyError):
            logger.warning("LinearIntentClassifier: no trained model found; it will pass through.")
            return cls(config, model_storage, resource)
