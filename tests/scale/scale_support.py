"""Helpers of the scale tests (conftest.py holds the fixtures): simulated children
talking through the web chat API of several gateway workers, a counsellor's
console session on one worker, and what the app database and Rasa say afterwards.
"""

from __future__ import annotations

import asyncio
import random
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from bench import procstats
from bot.db import Database
from bot.models import Conversation, Message, Sender

PASSWORD = "mat-khau-thu-nghiem-quy-mo"
# A turn waits for NLU, policies and the action server on a busy 2-core machine,
# and after a Rasa crash for the lock that server held (TICKET_LOCK_LIFETIME). The gateway's
# own worst case is longer than its first attempt: 30 s (timed out, Rasa cancels the turn),
# 5 s looking for it in the tracker, then up to 90 s for the resend (bot/rasa_client.py).
TURN_TIMEOUT_SECONDS = 150.0


# ---- what the simulated people say ------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One message: free text, or the payload of the offered button with this title."""

    text: str | None = None
    button: str | None = None
    # Slots Rasa must hold once this turn is answered (checked on a random Rasa server).
    slots: dict[str, Any] = field(default_factory=dict)


# Three kinds of conversation, each setting dialogue state over several turns.
CHILD_ASKING = (
    Turn(text="xin chào"),
    Turn(text="em hoc lop 6, tre em tui em co nhung quyen gi vay", slots={"audience": "child"}),
    Turn(text="cam on nhe", slots={"audience": "child"}),
)
PARENT_ASKING = (
    Turn(text="Tôi là phụ huynh, cho tôi hỏi người hiếp dâm trẻ em dưới 16 tuổi thì bị phạt tù bao nhiêu năm?",
         slots={"audience": "parent"}),
    Turn(text="cảm ơn", slots={"audience": "parent"}),
)
# An adult reporting a child: the adult register, what was disclosed and its topic carry over the
# turns, whichever Rasa server answers each one (tests/e2e/test_handoff_e2e.py).
REPORTING = (
    Turn(text="thằng bé nhà bên cạnh ngày nào cũng bị bố nó đánh, người bầm tím hết",
         slots={"audience": "parent", "disclosed": True, "handoff_offered": True}),
    Turn(button="Chỉ cần thông tin thôi", slots={"audience": "parent", "disclosed": True}),
    Turn(text="tôi nên báo cho ai", slots={"audience": "parent", "disclosed": True}),
)
SCRIPTS = {"child": CHILD_ASKING, "parent": PARENT_ASKING, "report": REPORTING}


def new_conversation_id() -> str:
    return secrets.token_urlsafe(24)


# ---- a simulated person ----------------------------------------------------------------------------


@dataclass
class Exchange:
    """One turn as the person lived it: what went where, what came back."""

    worker: str
    sent: str  # the text typed, or the title of the button pressed
    forwarded: str  # what Rasa should have received: the text, or the button's payload
    status: int
    replies: list[dict[str, Any]]


@dataclass
class Chat:
    conversation_id: str
    script: str
    exchanges: list[Exchange] = field(default_factory=list)
    slot_mismatches: list[str] = field(default_factory=list)

    @property
    def sender_id(self) -> str:
        return f"web:{self.conversation_id}"


async def post_message(http: httpx.AsyncClient, worker: str, conversation_id: str,
                       body: dict[str, str]) -> httpx.Response:
    return await http.post(f"{worker}/api/webchat/{conversation_id}/messages", json=body,
                           timeout=TURN_TIMEOUT_SECONDS)


async def tracker_of(http: httpx.AsyncClient, rasa_url: str, token: str, sender_id: str) -> dict[str, Any]:
    response = await http.get(f"{rasa_url}/conversations/{sender_id}/tracker", params={"token": token},
                              timeout=TURN_TIMEOUT_SECONDS)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


@dataclass
class Progress:
    """Turns sent and answered so far across all chats; `on_answer` runs after each answer."""

    sent: int = 0
    answered: int = 0
    on_answer: Callable[[Progress], None] | None = None


async def run_chat(http: httpx.AsyncClient, chat: Chat, workers: Sequence[str], rasa_urls: Sequence[str],
                   token: str, rng: random.Random, progress: Progress, check_slots: bool = True) -> Chat:
    """Play one script, each message to a random gateway worker; slots read from a random Rasa."""
    buttons: dict[str, str] = {}
    for turn in SCRIPTS[chat.script]:
        worker = rng.choice(workers)
        if turn.button is not None:
            payload = buttons.get(turn.button)
            if payload is None:
                chat.slot_mismatches.append(f"{chat.sender_id}: no button {turn.button!r} was offered "
                                            f"({sorted(buttons)})")
                return chat
            body, sent, forwarded = {"payload": payload}, turn.button, payload
        else:
            assert turn.text is not None
            body, sent, forwarded = {"text": turn.text}, turn.text, turn.text
        progress.sent += 1
        response = await post_message(http, worker, chat.conversation_id, body)
        progress.answered += 1
        if progress.on_answer is not None:
            progress.on_answer(progress)
        replies = response.json().get("messages", []) if response.status_code == 200 else []
        chat.exchanges.append(Exchange(worker, sent, forwarded, response.status_code, replies))
        if response.status_code != 200:
            return chat  # the checks report it; the next turns would only add noise
        buttons = {b["title"]: b["payload"] for r in replies for b in r.get("buttons", [])}
        if check_slots and turn.slots:
            rasa = rng.choice(rasa_urls)
            tracker = await tracker_of(http, rasa, token, chat.sender_id)
            slots = {**tracker.get("slots", {}), "active_loop": (tracker.get("active_loop") or {}).get("name")}
            for name, expected in turn.slots.items():
                if slots.get(name) != expected:
                    chat.slot_mismatches.append(f"{chat.sender_id} turn {len(chat.exchanges)} ({rasa}): "
                                                f"{name}={slots.get(name)!r}, expected {expected!r}")
    return chat


async def run_chats(chats: Sequence[Chat], workers: Sequence[str], rasa_urls: Sequence[str], token: str,
                    *, concurrency: int, seed: int, check_slots: bool = True,
                    progress: Progress | None = None) -> list[Chat]:
    """Every chat, at most `concurrency` at once, their turns interleaved across the workers."""
    # Idle connections dropped before uvicorn's 5 s keep-alive timeout closes them: a POST written
    # into a connection the server is closing fails with ReadError (browsers retry; httpx does not).
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2,
                          keepalive_expiry=2.0)
    gate = asyncio.Semaphore(concurrency)
    progress = progress or Progress()
    async with httpx.AsyncClient(trust_env=False, limits=limits) as http:

        async def one(index: int, chat: Chat) -> Chat:
            async with gate:
                rng = random.Random(seed * 100_003 + index)
                return await run_chat(http, chat, workers, rasa_urls, token, rng, progress, check_slots)

        return list(await asyncio.gather(*(one(i, c) for i, c in enumerate(chats))))


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and the processes it started
    (the action server's Sanic serves from a worker process)."""
    return procstats.cpu_seconds(procstats.process_tree(pid))


def descendants(pid: int) -> set[int]:
    """Every process below `pid`."""
    return set(procstats.process_tree(pid)) - {pid}


# ---- what the stores say -------------------------------------------------------------------------


def stored_messages(database: Database, conversation_id: str) -> list[Message]:
    with database.session() as session:
        conversation = session.scalars(select(Conversation).where(
            Conversation.channel == "web", Conversation.external_id == conversation_id)).first()
        if conversation is None:
            return []
        return list(session.scalars(select(Message).where(Message.conversation_id == conversation.id)
                                    .order_by(Message.id)))


def transcript_problems(chat: Chat, stored: Sequence[Message]) -> list[str]:
    """Sent vs stored vs answered for one conversation.

    The transcript must be exactly: each message the person sent, once, in the
    order sent, each followed by exactly the replies that turn's request
    returned (same ids, in order), each answered by the bot.
    """
    problems = []
    expected: list[tuple[str, str, int | None]] = []  # (sender, text, id or None for the user's)
    for number, exchange in enumerate(chat.exchanges, 1):
        if exchange.status != 200:
            problems.append(f"{chat.sender_id} turn {number} to {exchange.worker}: HTTP {exchange.status}")
        elif not exchange.replies:
            problems.append(f"{chat.sender_id} turn {number} ({exchange.sent!r}): no reply")
        elif any(r["sender"] != "bot" for r in exchange.replies):
            problems.append(f"{chat.sender_id} turn {number} ({exchange.sent!r}): answered by "
                            f"{[(r['sender'], r['text'][:60]) for r in exchange.replies]}")
        expected.append((Sender.USER.value, exchange.sent, None))
        expected += [(r["sender"], r["text"], r["id"]) for r in exchange.replies]
    # The person's own messages are matched by text (the API does not return their ids).
    found = [(m.sender.value, m.text, None if m.sender is Sender.USER else m.id) for m in stored]
    if found != expected:
        problems.append(f"{chat.sender_id}: the transcript differs from the exchange\n"
                        f"  stored:   {[(s, t[:40], i) for s, t, i in found]}\n"
                        f"  expected: {[(s, t[:40], i) for s, t, i in expected]}")
    return problems


def tracker_problems(chat: Chat, tracker: dict[str, Any]) -> list[str]:
    """Rasa saw each forwarded message exactly once, in order (no lost or replayed turn)."""
    seen = [e.get("text") for e in tracker.get("events", []) if e.get("event") == "user"]
    sent = [e.forwarded for e in chat.exchanges if e.status == 200]
    if seen != sent:
        return [f"{chat.sender_id}: Rasa's tracker has the user messages {seen}, the person sent {sent}"]
    return []


# ---- a counsellor's console session ----------------------------------------------------------------


class Console:
    """A counsellor's console session over plain HTTP (forms, cookies, CSRF) on one gateway worker."""

    def __init__(self, base_url: str, username: str) -> None:
        self.http = httpx.Client(base_url=base_url, trust_env=False, timeout=60, follow_redirects=False)
        page = self.http.get("/console/login").text
        token = _search(r'name="csrf_token" value="([^"]+)"', page)
        login = self.http.post("/console/login", data={"username": username, "password": PASSWORD,
                                                      "csrf_token": token})
        assert login.status_code == 303, login.text
        self.csrf = _search(r'name="csrf-token" content="([^"]+)"', self.http.get("/console/queue").text)

    def post(self, path: str, **form: Any) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.csrf, **form})

    def queue(self) -> dict[str, Any]:
        return self.http.get("/console/api/queue").json()  # type: ignore[no-any-return]

    def entries(self, case_id: int) -> list[str]:
        return [e["text"] for e in self.http.get(f"/console/api/cases/{case_id}/entries").json()["entries"]]

    def close(self) -> None:
        self.http.close()


def _search(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found is not None, f"{pattern} not found in the page"
    return found.group(1)
