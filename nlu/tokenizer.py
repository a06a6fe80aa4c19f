"""Rasa tokenizer for Vietnamese as children type it (accented, unaccented, teencode).

Each Rasa token keeps the ORIGINAL text and offsets (entity annotations align) and
carries the canonical form (accent-free, teencode expanded) as its ``lemma``, so that
featurizers with ``use_lemma: True`` see "bố em đánh em" and "bo e danh e" alike.
Syllables are not merged into words (no pyvi): the featurizers' n-grams do that job.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from nlu import vietnamese_text


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class VietnameseTokenizer(Tokenizer):
    """Syllable tokenizer; ``lemma`` = canonical form from ``nlu.vietnamese_text``."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Returns the component's default config."""
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # Punctuation characters kept as tokens ("?" marks questions); others dropped.
            "keep_punctuation": "?",
            # Emoji carry feelings (😭, 😔): kept as tokens.
            "keep_emoji": True,
        }

    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        """Vietnamese only; the canonicaliser is Vietnamese-specific."""
        return ["vi"]

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "VietnameseTokenizer":
        """Creates a new component (see parent class for full docstring)."""
        return cls(config)

    def _keep(self, token: vietnamese_text.Token) -> bool:
        if token.kind == "emoji":
            return bool(self._config.get("keep_emoji", True))
        if token.kind == "punct":
            keep = self._config.get("keep_punctuation") or ""
            return any(ch in keep for ch in token.canonical)
        return True

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """Tokenizes the text of the given attribute of the message."""
        text = message.get(attribute) or ""
        tokens = [
            Token(t.text, t.start, t.end, lemma=self._lemma(t))
            for t in vietnamese_text.tokenize(text)
            if self._keep(t)
        ]
        if not tokens:
            # Nothing word-like (e.g. only ":)"): one token, like WhitespaceTokenizer.
            tokens = [Token(text, 0, len(text), lemma=text.lower())]
        return self._apply_token_pattern(tokens)

    @staticmethod
    def _lemma(token: vietnamese_text.Token) -> Text:
        if token.kind == "punct":
            # "?!" → "?": one question feature whatever the run typed.
            return "?" if "?" in token.canonical else token.canonical
        return token.canonical
