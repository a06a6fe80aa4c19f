from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from devtools.fake_rasa import FakeRasa
from tests.gateway.gateway_support import make_settings


@pytest.fixture
def settings(tmp_path: Path, fake_rasa: FakeRasa) -> Settings:
    return make_settings(tmp_path, fake_rasa.url, fake_rasa.token, MAX_MESSAGE_CHARS="200")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    # The context manager runs the app's lifespan (database, Rasa client).
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def conversation_id() -> str:
    return secrets.token_urlsafe(24)
