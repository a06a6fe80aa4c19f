"""The moments of a conversation that decide whether a child goes on.

``find_moment(text)`` returns the first moment of ``nlu/lexicon/moments.yml`` found in a
message, or None:

    hesitation   "em có chuyện muốn kể nhưng em sợ"
    secrecy      "bạn có giữ bí mật không", "bố mẹ em có biết không"
    consequence  "chú có bị đi tù không" (sub: perpetrator), "em có bị đuổi học không"
                 (school), "nhà em có tan nát không" (family)
    blame        "tại em mà"
    about_me     "bạn tên gì" (sub: name, age, person, abilities, self)

Pure Python on the canonical form (``nlu.vietnamese_text``), so the engine (the
``ConversationMoments`` component and ``nlu.moment_policy``) and the action server
(``actions/conversation.py``) read the same moment from the same words. The component sets
``message["moment"] = {"kind": ..., "sub": ...}`` in the parse result; the triage reads it
too (hesitation is concern). Whether and how the bot answers a moment depends on the
conversation (nlu/moment_policy.py): a consequence question is a law question until
something has been disclosed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

import yaml

from nlu import vietnamese_text

MOMENTS_PATH = Path(__file__).parent / "lexicon" / "moments.yml"
MOMENT_KEY = "moment"
KINDS = ("hesitation", "secrecy", "consequence", "blame", "about_me")
# Answered whenever they come; the others (consequence, blame) once something was disclosed.
ALWAYS_ANSWERED = ("hesitation", "secrecy", "about_me")


@dataclass(frozen=True)
class Moment:
    kind: str
    sub: Optional[str] = None

    def as_dict(self) -> Dict[str, Optional[str]]:
        return {"kind": self.kind, "sub": self.sub}

    @classmethod
    def from_dict(cls, data: Any) -> Optional["Moment"]:
        if isinstance(data, dict) and data.get("kind") in KINDS:
            return cls(str(data["kind"]), data.get("sub"))
        return None


def _pattern(phrases: List[str]) -> re.Pattern:
    forms = sorted({vietnamese_text.canonical(p) for p in phrases if p}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(f) for f in forms) + r")(?!\w)")


@lru_cache(maxsize=2)
def _rules(path: Optional[str] = None) -> Tuple[List[Tuple[Moment, re.Pattern]], Optional[re.Pattern]]:
    with open(path or MOMENTS_PATH, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    rules = []
    for group in data.get("moments", []):
        if group.get("kind") not in KINDS:
            raise ValueError(f"moments.yml: unknown kind {group.get('kind')!r}")
        rules.append((Moment(group["kind"], group.get("sub")), _pattern(group.get("phrases", []))))
    unless = data.get("unless") or []
    return rules, (_pattern(unless) if unless else None)


def find_moment(text: Text, path: Optional[str] = None) -> Optional[Moment]:
    """The first moment whose phrase occurs in ``text`` (canonical, whole words), or None."""
    form = vietnamese_text.canonical(text or "")
    if not form:
        return None
    rules, unless = _rules(path)
    if unless is not None and unless.search(form):
        return None
    for moment, pattern in rules:
        if pattern.search(form):
            return moment
    return None


# ------------------------------------------------------------------ graph component (engine only)

try:  # the action server imports find_moment without Rasa installed
    from rasa.engine.graph import ExecutionContext, GraphComponent
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.engine.storage.resource import Resource
    from rasa.engine.storage.storage import ModelStorage
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message
except ImportError:  # pragma: no cover - app environment
    GraphComponent = None

if GraphComponent is not None:

    @DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
    class ConversationMoments(GraphComponent):
        """Adds ``moment`` to every parse result (before the triage, which reads it)."""

        @staticmethod
        def get_default_config() -> Dict[Text, Any]:
            return {"moments_path": None}

        def __init__(self, config: Dict[Text, Any]) -> None:
            self._path = config.get("moments_path")

        @classmethod
        def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                   execution_context: ExecutionContext) -> "ConversationMoments":
            return cls({**cls.get_default_config(), **config})

        def process(self, messages: List[Message]) -> List[Message]:
            for message in messages:
                moment = find_moment(message.get(TEXT) or "", self._path)
                message.set(MOMENT_KEY, moment.as_dict() if moment else None, add_to_output=True)
            return messages
