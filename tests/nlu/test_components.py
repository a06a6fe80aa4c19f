"""Graph components without full training: lexicon features, linear intent classifier,
risk triage writing the parse-result field."""

import numpy as np
import pytest

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.danger_features import DangerLexiconFeaturizer, feature_names
from nlu.danger_lexicon import load_lexicon
from nlu.linear_intent import LinearIntentClassifier
from nlu.tokenizer import VietnameseTokenizer
from nlu.triage import RiskTriage

TOKENIZER = VietnameseTokenizer(VietnameseTokenizer.get_default_config())
EXAMPLES = {
    "greet": ["xin chào", "chào bạn", "hello ad", "chao ban nha", "hi ban oi"],
    "disclose_abuse": ["bố em đánh em", "me e dap e", "chú sờ vào người em",
                       "ba nhot tui trong phong", "duong bat em coi do"],
    "ask_law": ["luật trẻ em quy định gì", "tre em may tuoi duoc di lam",
                "bỏ rác bị phạt bao nhiêu", "luat giao thong the nao", "đi xe chưa đủ tuổi bị phạt không"],
}


def messages(texts):
    msgs = [Message.build(text=t) for t in texts]
    TOKENIZER.process(msgs)
    return msgs


@pytest.fixture
def context():
    return ExecutionContext(GraphSchema({}), "test-node")


def training_data():
    examples = [Message.build(text=t, intent=i) for i, ts in EXAMPLES.items() for t in ts]
    data = TrainingData(examples)
    TOKENIZER.process_training_data(data)
    return data


def test_lexicon_features(context, tmp_path):
    featurizer = DangerLexiconFeaturizer.create(
        DangerLexiconFeaturizer.get_default_config(), LocalModelStorage(tmp_path),
        Resource("lex"), context,
    )
    names = feature_names(load_lexicon())
    [danger, safe] = messages(["bố em không đánh em nhưng mẹ đánh em", "xin chào"])
    featurizer.process([danger, safe])
    seq, sent = danger.get_sparse_features(TEXT)
    assert sent.features.shape == (1, len(names))
    assert seq.features.shape[0] == len(danger.get("text_tokens"))
    on = {names[i] for i in sent.features.tocsr().indices}
    assert "physical_violence:clear" in on and "negated_signal" in on
    seq_safe, sent_safe = safe.get_sparse_features(TEXT)
    assert sent_safe.features.nnz == 0


def test_linear_intent_train_persist_load_and_blend(context, tmp_path):
    storage = LocalModelStorage(tmp_path)
    config = {**LinearIntentClassifier.get_default_config(), "diet_weight": 0.0}
    clf = LinearIntentClassifier.create(config, storage, Resource("linear"), context)
    clf.train(training_data())
    loaded = LinearIntentClassifier.load(config, storage, Resource("linear"), context)
    [msg] = messages(["bo e danh e"])
    loaded.process([msg])
    assert msg.get("intent")["name"] == "disclose_abuse"
    ranking = msg.get("intent_ranking")
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-4

    # With diet_weight, the previous ranking takes its share of the blend.
    blend = LinearIntentClassifier.load(
        {**config, "diet_weight": 0.9}, storage, Resource("linear"), context
    )
    [msg] = messages(["bo e danh e"])
    msg.set("intent_ranking", [{"name": "greet", "confidence": 1.0}])
    blend.process([msg])
    assert msg.get("intent")["name"] == "greet"


def test_the_danger_head_gives_a_calibrated_probability_that_survives_persistence(context, tmp_path):
    storage = LocalModelStorage(tmp_path)
    config = {**LinearIntentClassifier.get_default_config(), "diet_weight": 0.0}
    LinearIntentClassifier.create(config, storage, Resource("linear"), context).train(training_data())
    loaded = LinearIntentClassifier.load(config, storage, Resource("linear"), context)
    danger, safe = messages(["bo e danh e dau lam", "xin chao ban"])
    loaded.process([danger, safe])
    p_danger, p_safe = danger.get("danger_probability"), safe.get("danger_probability")
    assert 0.0 <= p_safe < p_danger <= 1.0
    # Not part of the parse output by itself: the triage reports it inside "risk".
    assert "danger_probability" not in danger.as_dict(only_output_properties=True)


def test_too_few_danger_examples_leave_the_head_off(context, tmp_path):
    storage = LocalModelStorage(tmp_path)
    data = TrainingData([Message.build(text=t, intent=i) for i, t in
                         [("greet", "xin chào"), ("greet", "hello"), ("ask_law", "luật là gì"),
                          ("ask_law", "phạt bao nhiêu"), ("disclose_abuse", "bố đánh em")]])
    TOKENIZER.process_training_data(data)
    clf = LinearIntentClassifier.create(LinearIntentClassifier.get_default_config(), storage, Resource("l"), context)
    clf.train(data)
    [msg] = messages(["bố đánh em"])
    LinearIntentClassifier.load(LinearIntentClassifier.get_default_config(), storage, Resource("l"), context).process([msg])
    assert msg.get("intent") and msg.get("danger_probability") is None


def test_untrained_linear_intent_passes_through(context, tmp_path):
    clf = LinearIntentClassifier.load(
        LinearIntentClassifier.get_default_config(), LocalModelStorage(tmp_path),
        Resource("missing"), context,
    )
    [msg] = messages(["xin chào"])
    msg.set("intent", {"name": "greet", "confidence": 0.9})
    clf.process([msg])
    assert msg.get("intent")["name"] == "greet"


def test_risk_triage_sets_output_field(context, tmp_path):
    triage = RiskTriage.create(RiskTriage.get_default_config(), LocalModelStorage(tmp_path),
                               Resource("triage"), context)
    [risky, safe] = messages(["em muốn chết", "xin chào"])
    risky.set("intent", {"name": "greet", "confidence": 0.9}, add_to_output=True)
    safe.set("intent", {"name": "greet", "confidence": 0.9}, add_to_output=True)
    triage.process([risky, safe])
    out = risky.as_dict(only_output_properties=True)
    # No danger head ran here: without a model's probability the lexicon is trusted.
    assert out["risk"]["escalate"] and out["risk"]["source"] == "lexicon"
    assert out["risk"]["danger_probability"] is None
    assert out["risk"]["signals"][0]["category"] == "suicide_plan"
    assert safe.as_dict(only_output_properties=True)["risk"]["level"] == "none"
