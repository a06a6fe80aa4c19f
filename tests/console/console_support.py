"""Helpers for the console tests: accounts, login, a scripted disclosure."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from devtools.fake_rasa import FakeRasa, default_reply
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.cases.models import Role, StaffUser
from bot.console.auth import hash_password
from bot.db import Database, migrate
from bot.settings import Settings, load_settings

PASSWORD = "mot-mat-khau-dai"
# Texts the fake Rasa answers with a handoff instruction, as the action server would.
DISCLOSURES = {
    "bo em danh em": ("high", "physical_violence", "given"),
    "em dang cam dao": ("imminent", "suicide_means", "not_required"),
    "em chi can thong tin": ("high", "physical_violence", "declined"),
    "cho em gap nguoi that": ("concern", "request", "given"),
}


def make_settings_for(data_dir: Path, fake_rasa: FakeRasa, **extra: str) -> Settings:
    fake_rasa.reply = scripted_reply
    return load_settings({"DATA_DIR": str(data_dir), "RASA_URL": fake_rasa.url, "RASA_TOKEN": fake_rasa.token,
                          "STAFFED_HOURS": "always", "QUEUE_CHECK_SECONDS": "3600", **extra})


def scripted_reply(sender: str, text: str) -> list[dict[str, Any]]:
    for trigger, (risk, category, consent) in DISCLOSURES.items():
        if text.startswith(trigger):
            return [
                {"recipient_id": sender, "text": "Cảm ơn em đã kể cho mình."},
                {"recipient_id": sender, "custom": {"handoff": {"risk": risk, "category": category,
                                                                "consent": consent}}},
            ]
    return default_reply(sender, text)


def make_staff(settings: Settings, username: str, role: Role = Role.COUNSELLOR, capacity: int = 3,
               name: str | None = None) -> int:
    database = Database.from_settings(settings)
    try:
        migrate(database)
        with database.session() as session:
            user = StaffUser(username=username, display_name=name or username.capitalize(), role=role,
                             capacity=capacity, password_hash=hash_password(PASSWORD), active=True)
            session.add(user)
            session.flush()
            return user.id
    finally:
        database.dispose()


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; return the session's CSRF token."""
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = client.post("/console/login", data={"username": username, "password": password,
                                                   "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    queue = client.get("/console/queue")
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', queue.text).group(1)  # type: ignore[union-attr]


def new_conversation() -> str:
    return secrets.token_urlsafe(24)


def child_says(client: TestClient, conversation: str, text: str) -> list[dict[str, Any]]:
    response = client.post(f"/api/webchat/{conversation}/messages", json={"text": text})
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def staff_id(settings: Settings, username: str) -> int:
    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            return session.scalars(select(StaffUser.id).where(StaffUser.username == username)).one()
    finally:
        database.dispose()
