"""The vocabulary of the ``risk`` field that triage writes into every parse result.

Standard library only: the action server (app environment) imports it too, for
``CUE_CATEGORIES``. nlu imports nothing from the project (it is a Rasa component
package), so the levels are spelled here as well as in the dialogue contract
(common/dialogue.py); tests/common/test_dialogue_contract.py checks that the two agree.
"""

from __future__ import annotations

RISK_KEY = "risk"

LEVELS = ("none", "concern", "high", "imminent")
LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}

# Lexicon categories that only say "now" (symptoms, a time set, held since yesterday):
# never a level by themselves, and never a case's category.
CUE_CATEGORIES = ("immediacy", "symptoms")
