"""The web chat API against the real stack: Rasa 3.6 (engine env), action server, gateway."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.rasa_client import RasaClient
from bot.replies import RASA_UNAVAILABLE
from devtools.stack import Stack
from tests.e2e.webchat_support import new_conversation, send

pytestmark = pytest.mark.e2e


def tracker(stack: Stack, conversation_id: str) -> dict[str, Any]:
    async def fetch() -> dict[str, Any]:
        async with RasaClient(stack.rasa_url, stack.token) as rasa:
            return await rasa.get_tracker(f"web:{conversation_id}")

    return asyncio.run(fetch())


def test_greeting_gets_a_reply_from_the_bot(stack: Stack) -> None:
    replies = send(stack, new_conversation(), text="xin chào")

    assert replies, "the bot did not answer a greeting"
    assert all(r["sender"] == "bot" for r in replies)
    assert any(r["text"].strip() for r in replies)
    assert RASA_UNAVAILABLE not in [r["text"] for r in replies]


def test_a_disclosure_without_diacritics_gets_the_safety_message(stack: Stack) -> None:
    conversation = new_conversation()
    send(stack, conversation, text="xin chào")

    replies = send(stack, conversation, text="bo em danh em dau lam, em so lam")

    assert any("111" in r["text"] for r in replies), replies
    assert all(r["sender"] == "bot" for r in replies)


def test_a_typed_slash_command_reaches_the_nlu_as_plain_text(stack: Stack) -> None:
    conversation = new_conversation()
    send(stack, conversation, text="xin chào")

    send(stack, conversation, text="/restart")

    latest = tracker(stack, conversation)["latest_message"]
    assert latest["text"] == "restart"
    assert latest["intent"]["name"] != "restart"
    events = [e["event"] for e in tracker(stack, conversation)["events"]]
    assert "restart" not in events


def test_a_button_the_bot_offered_can_be_pressed(stack: Stack) -> None:
    conversation = new_conversation()
    offered = [b for r in send(stack, conversation, text="bo em danh em dau lam, em so lam") for b in r["buttons"]]
    if not offered:
        pytest.skip("the safety reply offers no buttons in this model")

    replies = send(stack, conversation, payload=offered[0]["payload"])

    assert replies and RASA_UNAVAILABLE not in [r["text"] for r in replies]
    forged = httpx.post(
        f"{stack.bot_url}/api/webchat/{conversation}/messages",
        json={"payload": "/restart"}, timeout=30, trust_env=False,
    )
    assert forged.status_code == 400


def test_polling_returns_what_the_bot_said(stack: Stack) -> None:
    conversation = new_conversation()
    replies = send(stack, conversation, text="xin chào")

    polled = httpx.get(f"{stack.bot_url}/api/webchat/{conversation}/messages", params={"after": 0},
                       timeout=30, trust_env=False).json()["messages"]

    assert [m["id"] for m in polled] == [r["id"] for r in replies]


def test_every_process_listens_on_loopback_only(stack: Stack) -> None:
    listening = _listening_addresses()
    for name, port in stack.ports.items():
        addresses = listening.get(port, set())
        assert addresses, f"the {name} is not listening on {port}"
        assert addresses <= {"127.0.0.1"}, f"the {name} listens on {addresses}"


def test_rasa_keeps_its_tracker_where_the_stack_says(stack: Stack) -> None:
    send(stack, new_conversation(), text="xin chào")
    # endpoints.yml takes the path from RASA_TRACKER_DB (a quoted "${VAR}" would stay literal).
    assert (stack.data_dir / "rasa_tracker.db").stat().st_size > 0
    assert not list(stack.repo.glob("$*")), "an endpoints.yml variable was not substituted"


def test_nothing_left_the_machine(stack: Stack, netguard_log: Path) -> None:
    send(stack, new_conversation(), text="xin chào")
    assert not netguard_log.exists() or netguard_log.read_text() == ""


def _listening_addresses() -> dict[int, set[str]]:
    """Port -> local addresses in LISTEN state, from /proc/net/tcp{,6}."""
    found: dict[int, set[str]] = {}
    for table, loopback in (("/proc/net/tcp", "0100007F"), ("/proc/net/tcp6", "00000000000000000000000001000000")):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            if state != "0A":  # LISTEN
                continue
            address, port = local.split(":")
            found.setdefault(int(port, 16), set()).add("127.0.0.1" if address == loopback else address)
    return found
