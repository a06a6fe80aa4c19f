"""Helpers shared by the gateway tests (conftest.py is for fixtures only)."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings, load_settings


def make_settings(data_dir: Path, rasa_url: str, token: str, **extra: str) -> Settings:
    return load_settings(
        {"DATA_DIR": str(data_dir), "RASA_URL": rasa_url, "RASA_TOKEN": token, **extra}
    )
