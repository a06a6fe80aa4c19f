"""BOT_ENV=production refuses to start with generated, default or example secrets, and debug switches."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.settings import SettingsError, load_settings


def _production(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"DATA_DIR": str(tmp_path), "BOT_ENV": "production", "RASA_TOKEN": secrets.token_urlsafe(32),
            "CASE_ENCRYPTION_KEYS": Fernet.generate_key().decode(), **extra}


def test_explicit_secrets_start(tmp_path: Path) -> None:
    settings = load_settings(_production(tmp_path))
    assert settings.is_production
    assert not (tmp_path / "secrets" / "rasa_token").exists()  # nothing generated


@pytest.mark.parametrize(("change", "named"), [
    ({"RASA_TOKEN": ""}, "RASA_TOKEN"),
    ({"RASA_TOKEN": "changeme"}, "RASA_TOKEN"),
    ({"RASA_TOKEN": "fake-rasa-token"}, "RASA_TOKEN"),
    ({"RASA_TOKEN": "short-but-random-7Gk2"}, "RASA_TOKEN"),
    ({"CASE_ENCRYPTION_KEYS": ""}, "CASE_ENCRYPTION_KEYS"),
    ({"LOG_MESSAGE_TEXT": "true"}, "LOG_MESSAGE_TEXT"),
    ({"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WEBHOOK_URL": "https://bot.example/telegram/webhook"},
     "TELEGRAM_WEBHOOK_SECRET"),
    ({"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WEBHOOK_URL": "https://bot.example/telegram/webhook",
      "TELEGRAM_WEBHOOK_SECRET": "secret"}, "TELEGRAM_WEBHOOK_SECRET"),
])
def test_production_refuses(tmp_path: Path, change: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(_production(tmp_path, **change))
    assert not (tmp_path / "secrets" / "rasa_token").exists()


def test_development_still_generates_what_it_needs(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path)})
    assert len(settings.rasa_token) >= 32
    assert (tmp_path / "secrets" / "rasa_token").stat().st_mode & 0o077 == 0
