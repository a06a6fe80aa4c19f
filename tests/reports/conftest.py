"""Fixtures for the case record and report tests: a real gateway app (TestClient) over the fake
Rasa (devtools/fake_rasa.py), as in tests/console."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from devtools.fake_rasa import FakeRasa
from tests.console.console_support import make_settings_for


@pytest.fixture
def settings(tmp_path: Path, fake_rasa: FakeRasa) -> Settings:
    return make_settings_for(tmp_path, fake_rasa)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client
