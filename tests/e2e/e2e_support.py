"""Helpers of the end-to-end tests (conftest.py is for fixtures): staff accounts made
with the CLI, a counsellor's console session over HTTP, and what the app database
and Rasa's tracker say."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from typing import Any

import httpx

from devtools.stack import REPO_ROOT, Stack

PASSWORD = "mat-khau-thu-nghiem"


def stack_env(stack: Stack) -> dict[str, str]:
    return {"DATA_DIR": str(stack.data_dir), "APP_DATABASE_URL": f"sqlite:///{stack.data_dir / 'app.db'}",
            "PYTHONPATH": str(REPO_ROOT), "RASA_TOKEN": stack.token}


def create_staff(stack: Stack, accounts: tuple[tuple[str, str, str, str], ...]) -> None:
    """(username, name, role, capacity) each, with `python -m bot.users`, as the README says."""
    for username, name, role, capacity in accounts:
        subprocess.run([sys.executable, "-m", "bot.users", "create", username, "--name", name, "--role", role,
                        "--capacity", capacity, "--password-stdin"], input=PASSWORD + "\n", text=True,
                       check=True, cwd=REPO_ROOT, env={**os.environ, **stack_env(stack)})


def cases(stack: Stack) -> list[dict[str, Any]]:
    with sqlite3.connect(stack.data_dir / "app.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM cases ORDER BY id")]


def tracker(stack: Stack, sender_id: str) -> dict[str, Any]:
    # Plain HTTP: Playwright's sync API keeps an event loop running in this thread.
    response = httpx.get(f"{stack.rasa_url}/conversations/{sender_id}/tracker", params={"token": stack.token},
                         timeout=30, trust_env=False)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def bot_events(state: dict[str, Any]) -> list[Any]:
    return [e.get("text") for e in state["events"] if e.get("event") == "bot"]


class Console:
    """A counsellor's console session over plain HTTP (forms, cookies, CSRF)."""

    def __init__(self, stack: Stack, username: str) -> None:
        self.http = httpx.Client(base_url=stack.bot_url, trust_env=False, timeout=30, follow_redirects=False)
        page = self.http.get("/console/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        login = self.http.post("/console/login", data={"username": username, "password": PASSWORD,
                                                      "csrf_token": token})
        assert login.status_code == 303, login.text
        queue = self.http.get("/console/queue").text
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', queue).group(1)  # type: ignore[union-attr]

    def post(self, path: str, **form: Any) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.csrf, **form})

    def entries(self, case_id: int) -> list[str]:
        return [e["text"] for e in self.http.get(f"/console/api/cases/{case_id}/entries").json()["entries"]]
