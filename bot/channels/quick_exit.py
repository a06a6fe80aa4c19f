"""Recognise the safe phrase: a child who must leave at once types it (or presses
"Thoát nhanh") and the channel clears what it can and says one neutral line.

Only the whole message counts, compared without accents, case or punctuation,
so "em muốn thoát khỏi nhà" is an ordinary message for the NLU.
"""

from __future__ import annotations

import re

from nlu.vietnamese_text import fold

BUTTON_TITLE = "Thoát nhanh"
# Payload of the "Thoát nhanh" item an OA can put in its Zalo menu (oa.query.hide).
ZALO_MENU_PAYLOAD = "#thoat_nhanh"
SAFE_PHRASES = frozenset({
    "thoat nhanh", "thoat", "thoat gap", "thoat ngay", "thoat khan cap",
    "exit", "quit", "thoat_nhanh",
})
_NOT_WORD = re.compile(r"[^\w ]+")


def is_quick_exit(text: str) -> bool:
    normalised = _NOT_WORD.sub(" ", fold(text).lower())
    return " ".join(normalised.split()) in SAFE_PHRASES
