"""Text normalisation for retrieval: the NLU's own canonical form.

`nlu/vietnamese_text.py` is standard library only, so the app environment
imports it too: accent-free, lower-case, teencode expanded ("e" -> "em",
"16t" -> "16 tuoi"). Using the very function the NLU uses keeps the knowledge
base and the classifier reading a message the same way.
"""

from __future__ import annotations

from nlu.vietnamese_text import canonical, has_diacritics

__all__ = ["canonical", "has_diacritics"]
