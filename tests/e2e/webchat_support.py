"""Talking to the real stack through the web chat API, as the chat page does."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from devtools.stack import Stack


def new_conversation() -> str:
    return secrets.token_urlsafe(24)


def send(stack: Stack, conversation_id: str, **body: str) -> list[dict[str, Any]]:
    """POST one message ({"text": ...} or {"payload": ...}); the bot's replies."""
    response = httpx.post(
        f"{stack.bot_url}/api/webchat/{conversation_id}/messages", json=body, timeout=60, trust_env=False
    )
    assert response.status_code == 200, response.text
    return response.json()["messages"]
