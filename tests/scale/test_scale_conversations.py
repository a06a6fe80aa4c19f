"""200 simulated conversations through two gateway workers and two Rasa servers at once.

Each message of a conversation goes to a random worker, and each worker asks
either Rasa server, so consecutive turns of one conversation are handled by
different processes that share only PostgreSQL and Redis. Afterwards:
- the dialogue state is consistent: after every turn that sets slots (the
  audience, report_abuse_form's answers) a random Rasa server reports them;
- nothing is lost or duplicated: the app database holds every message once, in
  the order sent, each followed by exactly the bot replies its request returned;
- Rasa saw every message exactly once, in order (the tracker, read from both servers).
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from bot.db import Database
from tests.scale.scale_support import (Chat, cpu_seconds, new_conversation_id, run_chats, stored_messages, tracker_problems,
                           transcript_problems)
from devtools.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.slow]

CONVERSATIONS = 200
# Mixed like a campaign day: mostly children asking, some parents, some reports about another child.
MIX = ("child",) * 2 + ("parent",) + ("report",) * 2
CONCURRENT = 24


def test_200_interleaved_conversations_keep_their_state_and_every_message(
        scale_stack: Stack, app_database: Database) -> None:
    stack = scale_stack
    chats = [Chat(new_conversation_id(), MIX[i % len(MIX)]) for i in range(CONVERSATIONS)]

    pids = stack.processes_info()
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.monotonic()
    asyncio.run(run_chats(chats, stack.bot_urls, stack.rasa_urls, stack.token, concurrency=CONCURRENT, seed=7))
    elapsed = time.monotonic() - started
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    rasa_cpu = {name: seconds for name, seconds in cpu.items() if name.startswith("rasa")}

    turns = sum(len(c.exchanges) for c in chats)
    print(f"\n{CONVERSATIONS} conversations, {turns} turns in {elapsed:.1f}s ({turns / elapsed:.1f} turns/s); "
          f"CPU seconds: {', '.join(f'{n} {s:.1f}' for n, s in cpu.items())}")
    assert {e.worker for c in chats for e in c.exchanges} == set(stack.bot_urls), "a worker got no turn"
    # Both Rasa servers did a fair share of the work (the gateways take turns between them).
    assert min(rasa_cpu.values()) >= 0.25 * sum(rasa_cpu.values()), rasa_cpu

    problems = [m for c in chats for m in c.slot_mismatches]
    for chat in chats:
        problems += transcript_problems(chat, stored_messages(app_database, chat.conversation_id))
    with httpx.Client(trust_env=False, timeout=60) as http:
        for index, chat in enumerate(chats):
            rasa = stack.rasa_urls[index % len(stack.rasa_urls)]
            tracker = http.get(f"{rasa}/conversations/{chat.sender_id}/tracker", params={"token": stack.token})
            tracker.raise_for_status()
            problems += tracker_problems(chat, tracker.json())
    assert not problems, f"{len(problems)} problems, the first ones:\n" + "\n".join(problems[:15])
