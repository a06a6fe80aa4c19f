"""Property-based fuzzing (Hypothesis) of the webhook parsers, the text normalisation and the
privacy helpers: no input crashes them, and the properties that other code relies on hold.

Each test stands alone: it fails unless its property was really tried on at least
MIN_INPUTS generated inputs (a fixture counts them around every test)."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels import telegram, zalo
from bot.privacy.forget import is_forget_phrase
from common.redaction import redact
from common.text_guard import guard_free_text
from nlu import vietnamese_text

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MIN_INPUTS = 100
_tried = [0]  # inputs the running test's property was called with

vietnamese = st.text(alphabet=st.sampled_from(
    list("aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ")
    + list("AĂÂĐÊÔƠƯ0123456789 .,!?/@+-_:()#\n") + ["\u0301", "\u0300", "\u200b", "\u202e", "\x00"]),
    max_size=300)
anything = st.one_of(st.text(max_size=500), vietnamese)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=15), children, max_size=5),
    max_leaves=30,
)
telegram_like = st.fixed_dictionaries({}, optional={
    "update_id": json_values,
    "message": st.dictionaries(st.sampled_from(["chat", "text", "from", "message_id"]), json_values, max_size=4),
    "callback_query": st.dictionaries(st.sampled_from(["message", "from", "data"]), json_values, max_size=3),
    "edited_message": json_values,
})


@pytest.fixture(autouse=True)
def _tried_enough_inputs() -> Iterator[None]:
    _tried[0] = 0
    yield
    assert _tried[0] >= MIN_INPUTS, f"the property was tried on {_tried[0]} inputs, fewer than {MIN_INPUTS}"


def _count() -> None:
    _tried[0] += 1


@FUZZ
@given(anything)
def test_canonical_never_crashes_and_ignores_how_accents_are_encoded(text: str) -> None:
    _count()
    composed = vietnamese_text.canonical(unicodedata.normalize("NFC", text))
    decomposed = vietnamese_text.canonical(unicodedata.normalize("NFD", text))
    assert isinstance(composed, str)
    assert composed == decomposed
    vietnamese_text.tokenize(text)


@FUZZ
@given(anything, st.integers(min_value=1, max_value=3000))
def test_the_text_guard_never_crashes_and_respects_the_cap(text: str, cap: int) -> None:
    _count()
    guarded = guard_free_text(text, cap)
    assert guarded.too_long or len(guarded.text) <= max(cap, len(text))


@FUZZ
@given(anything)
def test_redaction_is_total_and_stable(text: str) -> None:
    _count()
    once = redact(text)
    assert redact(once) == once


@FUZZ
@given(anything)
def test_forget_detection_never_crashes(text: str) -> None:
    _count()
    assert is_forget_phrase(text) in (True, False)


@FUZZ
@given(telegram_like)
def test_telegram_update_routing_never_crashes(data: dict[str, Any]) -> None:
    _count()
    assert isinstance(telegram._chat_key(data), str)
    raw = json.dumps(data).encode()
    assert telegram._json_object(raw) == data or telegram._json_object(raw) is None


@FUZZ
@given(st.binary(max_size=300))
def test_telegram_body_parser_takes_any_bytes(raw: bytes) -> None:
    _count()
    parsed = telegram._json_object(raw)
    assert parsed is None or isinstance(parsed, dict)


@FUZZ
@given(json_values)
def test_zalo_ids_never_crash(value: Any) -> None:
    _count()
    ids = zalo._ids(value)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in ids.items())


@FUZZ
@given(st.text(max_size=200), st.text(max_size=40), st.binary(max_size=200), st.text(max_size=20), st.text(max_size=40))
def test_zalo_signature_check_answers_false_not_an_exception(header: str, app_id: str, body: bytes,
                                                              timestamp: str, key: str) -> None:
    _count()
    assert zalo.signature_matches(header, app_id, body, timestamp, key) in (True, False)
