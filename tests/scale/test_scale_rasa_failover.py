"""One Rasa server is killed (SIGKILL) while conversations are running.

The conversations continue on the other server: the gateway retries a turn
whose server died, and nothing is lost or duplicated. Sent, stored and
answered are compared for every turn: the app database holds each message
once, in order, with exactly the replies its request returned, every turn got
the bot's answer, and the surviving server's tracker saw each message once.

This module kills a server of the shared stack, so it runs last (name order).
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from bot.db import Database
from tests.scale.scale_support import (SCRIPTS, Chat, Progress, new_conversation_id, run_chats, stored_messages,
                           tracker_problems, transcript_problems)
from devtools.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.slow]

CONVERSATIONS = 60
MIX = ("child", "report", "parent")
CONCURRENT = 16
# Kill once this share of the run's turns is answered: many turns are in flight then, on both servers.
KILL_AFTER = 0.3


def test_killing_a_rasa_server_loses_and_duplicates_nothing(scale_stack: Stack, app_database: Database) -> None:
    stack = scale_stack
    chats = [Chat(new_conversation_id(), MIX[i % len(MIX)]) for i in range(CONVERSATIONS)]
    total = sum(len(SCRIPTS[c.script]) for c in chats)
    survivor = stack.rasa_urls[0]
    progress = Progress()
    at_kill: dict[str, float] = {}

    async def run() -> None:
        time_to_kill = asyncio.Event()

        def on_answer(progress: Progress) -> None:
            if progress.answered >= total * KILL_AFTER:
                time_to_kill.set()

        async def killer() -> None:
            await time_to_kill.wait()
            at_kill.update(answered=progress.answered, in_flight=progress.sent - progress.answered,
                           time=time.monotonic())
            await asyncio.to_thread(stack.kill_rasa, 1)

        progress.on_answer = on_answer
        kill = asyncio.create_task(killer())
        # Slots are read from the surviving server only: the other one is about to die.
        await run_chats(chats, stack.bot_urls, [survivor], stack.token, concurrency=CONCURRENT, seed=11,
                        progress=progress)
        await kill

    started = time.monotonic()
    asyncio.run(run())
    finished = time.monotonic()

    assert "rasa-1" not in stack.processes_info(), "the Rasa server was not killed"
    after_kill = progress.answered - at_kill["answered"]
    print(f"\n{total} turns in {finished - started:.1f}s; Rasa 1 killed after {at_kill['answered']:.0f} turns "
          f"with {at_kill['in_flight']:.0f} in flight; {after_kill} answered in the "
          f"{finished - at_kill['time']:.1f}s after")
    # Turns were waiting for an answer when the server died (about half of them on it).
    assert at_kill["in_flight"] >= CONCURRENT // 4, at_kill

    problems = [m for c in chats for m in c.slot_mismatches]
    for chat in chats:
        problems += transcript_problems(chat, stored_messages(app_database, chat.conversation_id))
    with httpx.Client(trust_env=False, timeout=60) as http:
        for chat in chats:
            tracker = http.get(f"{survivor}/conversations/{chat.sender_id}/tracker", params={"token": stack.token})
            tracker.raise_for_status()
            problems += tracker_problems(chat, tracker.json())
    assert not problems, f"{len(problems)} problems, the first ones:\n" + "\n".join(problems[:15])
    assert after_kill > 0, "no conversation went on after the kill"
