"""Column types that keep what a child wrote (and what was answered) encrypted at rest.

`EncryptedText` / `EncryptedJSON` store a Fernet token (bot.cases.crypto.Keyring:
the newest case key encrypts, any configured key decrypts) and hand the plain
value to Python. They find the keyring on the engine's dialect, where
`bot.db.Database` puts the keyring it was built with (`attach_keyring`): every
engine has its own dialect object, so two databases in one process (tests, the
bench) each use their own keys, and there is no module-level key to leak
between them.

Without a keyring, reading or writing such a column raises instead of
silently storing plain text (fail closed).

Ciphertext cannot be compared or searched: never filter, order or group by
these columns in SQL (ordering is by id, polling is `id > after`).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Dialect, Engine, Text
from sqlalchemy.types import TypeDecorator

from bot.cases.crypto import CaseKeyError, Keyring

_ATTRIBUTE = "child_safety_keyring"


def attach_keyring(engine: Engine, keyring: Keyring | None) -> None:
    setattr(engine.dialect, _ATTRIBUTE, keyring)


def keyring_of(dialect: Dialect) -> Keyring:
    keyring = getattr(dialect, _ATTRIBUTE, None)
    if keyring is None:
        raise CaseKeyError(
            "this Database has no keyring: build it with Database.from_settings(settings) "
            "or Database(url, keyring=...)"
        )
    return keyring


class EncryptedText(TypeDecorator[str]):
    """A str in Python, a Fernet token (ASCII text) in the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_of(dialect).encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_of(dialect).decrypt(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON value in Python (e.g. a webhook update), its encrypted JSON text in the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_of(dialect).encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(keyring_of(dialect).decrypt(value))
