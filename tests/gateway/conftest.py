from __future__ import annotations

import secrets
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_rasa import FakeRasa
from gateway_support import make_settings

# Starlette 1.x suggests "httpx2" for its test client; httpx works and is what we ship.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
from fastapi.testclient import TestClient  # noqa: E402

from bot.app import create_app
from bot.settings import Settings


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    with FakeRasa() as fake:
        yield fake


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
