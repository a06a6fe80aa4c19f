"""VietnameseTokenizer: original text and offsets, canonical lemmas, entity alignment."""

import pytest

from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.tokenizer import VietnameseTokenizer


@pytest.fixture
def tokenizer():
    return VietnameseTokenizer(VietnameseTokenizer.get_default_config())


def _tokens(tokenizer, text):
    message = Message.build(text=text)
    tokenizer.process([message])
    return message.get(TOKENS_NAMES[TEXT])


def test_lemmas_are_canonical(tokenizer):
    accented = [t.lemma for t in _tokens(tokenizer, "Bố em đánh em")]
    plain = [t.lemma for t in _tokens(tokenizer, "bo e danh e")]
    assert accented == plain == ["bo", "em", "danh", "em"]


def test_original_text_and_offsets_are_kept(tokenizer):
    text = "Ba ghẻ e ko cho ăn, e đói quáaa 😭"
    tokens = _tokens(tokenizer, text)
    for token in tokens:
        assert text[token.start:token.end] == token.text
    assert [t.text for t in tokens][:4] == ["Ba", "ghẻ", "e", "ko"]
    assert [t.lemma for t in tokens][:4] == ["ba", "ghe", "em", "khong"]
    assert tokens[-1].text == "😭"  # emoji kept as a token


def test_punctuation_dropped_except_question_mark(tokenizer):
    lemmas = [t.lemma for t in _tokens(tokenizer, "sao vậy?! thôi, về.")]
    assert lemmas == ["sao", "vay", "?", "thoi", "ve"]


def test_teencode_expansion_keeps_one_token(tokenizer):
    tokens = _tokens(tokenizer, "bme e đi r")
    assert tokens[0].text == "bme" and tokens[0].lemma == "bo me"
    assert len(tokens) == 4


def test_only_symbols_gives_one_token(tokenizer):
    tokens = _tokens(tokenizer, ":)")
    assert len(tokens) == 1 and tokens[0].text == ":)"


def test_entity_annotations_align_with_tokens(tokenizer):
    text = "em 12 tuổi, bị dượng ở Bình Dương đánh"
    entities = [
        {"start": 3, "end": 5, "value": "12", "entity": "age"},
        {"start": 15, "end": 20, "value": "dượng", "entity": "perpetrator"},
        {"start": 23, "end": 33, "value": "Bình Dương", "entity": "province"},
    ]
    message = Message(data={TEXT: text, ENTITIES: entities, "intent": "disclose_abuse"})
    tokenizer.process_training_data(TrainingData([message]))
    tokens = message.get(TOKENS_NAMES[TEXT])
    starts = {t.start for t in tokens}
    ends = {t.end for t in tokens}
    for entity in entities:
        assert entity["start"] in starts and entity["end"] in ends
        assert text[entity["start"]:entity["end"]] == entity["value"]


def test_decomposed_unicode_offsets(tokenizer):
    import unicodedata

    text = unicodedata.normalize("NFD", "mẹ đánh")
    tokens = _tokens(tokenizer, text)
    assert [t.lemma for t in tokens] == ["me", "danh"]
    assert all(text[t.start:t.end] == t.text for t in tokens)
