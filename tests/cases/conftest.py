"""Fixtures for the case unit tests: a migrated SQLite app database and a keyring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.cases.crypto import Keyring
from bot.db import Database, migrate


@pytest.fixture
def database(tmp_path: Path, keyring: Keyring) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'app.db'}", keyring)
    migrate(db)
    yield db
    db.dispose()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring([Fernet.generate_key().decode()])
