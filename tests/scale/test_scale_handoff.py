"""An escalation taken on one gateway worker holds on every worker.

A child discloses and asks for a counsellor (tests/e2e/test_handoff_e2e.py has the
same flow on one process); the counsellor takes the case in worker A's console.
From then on the child's messages sent to worker B (or A) get no bot reply and
never reach Rasa; the counsellor's reply reaches the child through either
worker; after the case is closed the bot answers again, on both workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.scale.scale_support import Console, new_conversation_id
from devtools.stack import Stack
from devtools.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

DISCLOSURE = "bo em danh em dau lam, em so lam"
TALK_TO_A_COUNSELLOR = "Nói chuyện với tư vấn viên ngay"


@pytest.fixture
def counsellor(scale_stack: Stack) -> Iterator[Console]:
    console = Console(scale_stack.bot_urls[0], "lan")  # worker A
    yield console
    console.close()


def send(worker: str, conversation: str, **body: str) -> list[dict[str, Any]]:
    response = httpx.post(f"{worker}/api/webchat/{conversation}/messages", json=body, timeout=60, trust_env=False)
    assert response.status_code == 200, response.text
    return response.json()["messages"]  # type: ignore[no-any-return]


def polled(worker: str, conversation: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{worker}/api/webchat/{conversation}/messages", timeout=60, trust_env=False)
    assert response.status_code == 200, response.text
    return response.json()["messages"]  # type: ignore[no-any-return]


def tracker(rasa_url: str, token: str, sender_id: str) -> dict[str, Any]:
    response = httpx.get(f"{rasa_url}/conversations/{sender_id}/tracker", params={"token": token}, timeout=60,
                         trust_env=False)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def test_a_case_taken_on_worker_a_silences_the_bot_on_worker_b(scale_stack: Stack, counsellor: Console) -> None:
    stack = scale_stack
    worker_a, worker_b = stack.bot_urls
    rasa_a, rasa_b = stack.rasa_urls
    child = new_conversation_id()
    sender_id = f"web:{child}"

    waiting_before = {c["id"] for c in counsellor.queue()["waiting"]}

    # The child discloses on worker B and asks for a counsellor on worker A.
    replies = send(worker_b, child, text=DISCLOSURE)
    assert any("111" in r["text"] for r in replies), replies
    choice = next(b["payload"] for r in replies for b in r["buttons"] if b["title"] == TALK_TO_A_COUNSELLOR)
    replies = send(worker_a, child, payload=choice)
    assert any("đang mời một tư vấn viên" in r["text"] for r in replies), replies

    # Worker A's console sees the case (written by whichever worker served the request) and takes it.
    case = wait_for(lambda: next((c for c in counsellor.queue()["waiting"] if c["id"] not in waiting_before), None),
                    "the case in worker A's queue")
    assert case["risk"] == "high", case
    taken = counsellor.post(f"/console/cases/{case['id']}/take")
    assert taken.status_code == 303, taken.text
    assert any("đã vào" in m["text"] for m in polled(worker_b, child)), "the child was not told on worker B"
    bot_turns_before = [e for e in tracker(rasa_b, stack.token, sender_id)["events"] if e.get("event") == "bot"]

    # Held: the child's messages, to either worker, reach the counsellor only.
    for worker, text in ((worker_b, "em dang o nha mot minh, em so lam"), (worker_a, "chi oi em van o day")):
        assert send(worker, child, text=text) == [], f"the bot answered on {worker} during the handoff"
        assert text in counsellor.entries(case["id"])
    state = tracker(rasa_a, stack.token, sender_id)
    assert state.get("paused") is True
    assert [e for e in state["events"] if e.get("event") == "bot"] == bot_turns_before, "Rasa answered"
    assert "em dang o nha mot minh, em so lam" not in [e.get("text") for e in state["events"]]

    # The counsellor's reply, sent through worker A, reaches the child through either worker.
    said = "Chào em, chị là Lan. Em đang ở đâu, có an toàn không?"
    assert counsellor.post(f"/console/cases/{case['id']}/reply", text=said).status_code == 303
    for worker in (worker_b, worker_a):
        assert [m["sender"] for m in polled(worker, child) if m["text"] == said] == ["counsellor"], worker

    # Closed on worker A: the bot is back, on worker B too.
    closed = counsellor.post(f"/console/cases/{case['id']}/close", outcome="supported")
    assert closed.status_code == 303, closed.text
    wait_for(lambda: any("Mình là Mây đây" in m["text"] for m in polled(worker_b, child)), "the bot's check-in")
    assert tracker(rasa_b, stack.token, sender_id).get("paused") is False
    for worker in (worker_b, worker_a):
        replies = send(worker, child, text="cam on, em on roi")
        assert replies and all(r["sender"] == "bot" for r in replies), (worker, replies)
