from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.text_guard import clean, guard_free_text, neutralise_leading_slashes


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("/restart", "restart"),
        ("///restart", "restart"),
        (" \t/ \n/restart ", "restart"),
        ("\ufeff/restart", "restart"),
        ("\uff0f\uff0frestart", "restart"),
        ("bố em / mẹ em", "bố em / mẹ em"),
        ("1/2 lớp em", "1/2 lớp em"),
        ("", ""),
        ("/", ""),
    ],
)
def test_leading_slashes_are_neutralised(typed: str, expected: str) -> None:
    assert neutralise_leading_slashes(typed) == expected


# database=None: no example database (.hypothesis/) left in the work tree.
@settings(database=None)
@given(st.text())
def test_nothing_forwarded_can_start_a_forced_intent(text: str) -> None:
    guarded = guard_free_text(text, max_chars=10_000)
    # Rasa strips whitespace, then treats a leading "/" as an intent.
    assert not guarded.text.strip().startswith("/")
    assert neutralise_leading_slashes(guarded.text) == guarded.text  # idempotent


@settings(database=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_clean_text_has_no_nul_or_control_characters(text: str) -> None:
    cleaned = clean(text)
    assert not any(ord(c) < 32 and c not in "\t\n\r" for c in cleaned)
    assert "\x7f" not in cleaned


def test_the_cap_counts_characters_not_bytes() -> None:
    assert not guard_free_text("ệ" * 10, max_chars=10).too_long
    assert guard_free_text("ệ" * 11, max_chars=10).too_long
    assert not guard_free_text("  " + "a" * 10 + "  ", max_chars=10).too_long
