"""Make free text typed by a person safe to hand to Rasa.

Rasa reads a message starting with "/" as a forced intent ("/restart" would
reset a conversation a counsellor has paused, "/affirm{...}" could set
entities). Only button payloads the bot itself offered may start with "/";
typed text loses its leading slashes (and the whitespace Rasa strips anyway)
and goes through the NLU like any other sentence.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Besides "/" itself: the fullwidth solidus, which NFKC normalisation in the
# NLU would turn into "/".
_SLASHES = "/\uff0f"
# Control characters other than tab and newlines: PostgreSQL rejects NUL and
# none of them is something a person meant to type.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class GuardedText:
    text: str  # what may be forwarded to Rasa
    too_long: bool  # over the cap: answer politely, do not forward

    @property
    def empty(self) -> bool:
        return not self.text


def clean(text: str) -> str:
    """Drop control characters and surrounding whitespace; what the transcript stores."""
    return _CONTROL.sub("", text).strip()


def neutralise_leading_slashes(text: str) -> str:
    """ "/restart" -> "restart", " / /start" -> "start"; other text is unchanged."""
    start = 0
    while start < len(text) and _is_strippable(text[start]):
        start += 1
    return text[start:].rstrip()


def guard_free_text(text: str, max_chars: int) -> GuardedText:
    cleaned = clean(text)
    if len(cleaned) > max_chars:
        return GuardedText(text="", too_long=True)
    return GuardedText(text=neutralise_leading_slashes(cleaned), too_long=False)


def _is_strippable(char: str) -> bool:
    # Format characters (zero-width space, BOM, ...) are invisible and could hide a slash.
    return char in _SLASHES or char.isspace() or unicodedata.category(char) == "Cf"
