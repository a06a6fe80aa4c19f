"""Helpers shared by the privacy tests (conftest.py is for fixtures only)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def engine_python() -> str:
    return subprocess.run([str(REPO / "scripts" / "setup_env.sh"), "--path", "engine"], check=True,
                          capture_output=True, text=True).stdout.strip()


def tracker_senders(path: Path) -> set[str]:
    """The conversations Rasa's `events` table still holds."""
    with sqlite3.connect(path) as connection:
        return {row[0] for row in connection.execute("SELECT DISTINCT sender_id FROM events")}


def tracker_payloads(path: Path) -> list[str]:
    """The raw `events.data` column, as stored."""
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT data FROM events ORDER BY id")]
