"""Written conversations, end to end through the web chat API against the trained model.

Each conversation of tests/conversations/dialogues/*.yml is played on the real stack
(Rasa server, action server, gateway), one message or button press at a time, and every
turn's replies are checked against what its writer expected (tests/conversations/dialogue_checks.py).

The figure that matters is the share of turns that meet all their checks; it is written
to results/dialogues.json (with every failing turn) and held at a floor. The floor is the
figure measured after the work on issue #18, a little under it; the first reading (on
main before that work) is in the README.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from actions.knowledge_base.content import read_content
from actions.knowledge_base.settings import DEFAULT_CONTENT_DIR
from devtools.stack import REPO_ROOT, Stack
from tests.conversations.dialogue_checks import CardIndex, Turn, automatic, check, questions
from tests.e2e.conftest import engine_python, netguard_log, stack, trained_model  # noqa: F401 - the real stack
from tests.e2e.webchat_support import new_conversation

pytestmark = pytest.mark.e2e

DIALOGUES = sorted((Path(__file__).parent / "dialogues").glob("*.yml"))
# Share of turns meeting all their checks (see the module docstring).
FLOOR = float(os.environ.get("DIALOGUE_FLOOR", "0.63"))  # measured 2026-12-07: 213/313 (68.1%)
REPORT = REPO_ROOT / "results" / "dialogues.json"


def send(stack: Stack, conversation_id: str, **body: str) -> list[dict[str, Any]]:
    """One message, as the chat page sends it; a 429 (one address sending this many
    conversations at once is rate-limited like any client) is waited out and sent again."""
    for _ in range(30):
        response = httpx.post(f"{stack.bot_url}/api/webchat/{conversation_id}/messages", json=body,
                              timeout=60, trust_env=False)
        if response.status_code != 429:
            assert response.status_code == 200, response.text
            return response.json()["messages"]
        time.sleep(float(response.headers.get("Retry-After") or 2))
    raise AssertionError("still rate-limited after 30 tries")


def conversations() -> list[dict[str, Any]]:
    found = []
    for path in DIALOGUES:
        for conversation in yaml.safe_load(path.read_text(encoding="utf-8"))["conversations"]:
            found.append({**conversation, "file": path.name})
    return found


def play(stack: Stack, conversation: dict[str, Any], cards: CardIndex) -> list[dict[str, Any]]:
    """Plays one conversation; one record per turn: what was sent, got, and what failed."""
    conversation_id = new_conversation()
    asked: set[str] = set()
    identity_known = False
    previous: Turn | None = None
    records = []
    for number, step in enumerate(conversation["turns"], start=1):
        expected = step.get("expect") or []
        if "press" in step:
            title = step["press"]
            offered = {b["title"]: b["payload"] for b in (previous.buttons if previous else [])}
            if title not in offered:
                records.append({"turn": number, "sent": f"[press] {title}", "got": [],
                                "failed": [f"button {title!r} was not offered (offered: {sorted(offered)})"]})
                break
            replies = send(stack, conversation_id, payload=offered[title])
            sent = f"[press] {title}"
        else:
            replies = send(stack, conversation_id, text=step["say"])
            sent = step["say"]
        turn = Turn(replies)
        failed = automatic(turn, asked, identity_known)
        for item in expected:
            name, arg = (next(iter(item.items())) if isinstance(item, dict) else (item, None))
            problem = check(name, arg, turn, cards)
            if problem:
                failed.append(f"{name}: {problem}")
        records.append({"turn": number, "sent": sent, "got": turn.texts, "failed": failed})
        asked |= questions(turn)
        identity_known = identity_known or any(e in ("adult", "child") for e in expected if isinstance(e, str))
        previous = turn
    return records


def test_written_conversations_go_the_way_a_counsellor_expects(stack: Stack) -> None:  # noqa: F811
    cards = CardIndex(read_content(DEFAULT_CONTENT_DIR).content.cards)
    results = []
    for conversation in conversations():
        turns = play(stack, conversation, cards)
        results.append({"name": conversation["name"], "file": conversation["file"], "who": conversation.get("who"),
                        "variant": conversation.get("variant"), "turns": turns})
    total = sum(len(c["turns"]) for c in results)
    passed = sum(1 for c in results for t in c["turns"] if not t["failed"])
    written = sum(len(c["turns"]) for c in conversations())
    by_who: dict[str, list[int]] = {}
    for c in results:
        tally = by_who.setdefault(c["who"] or "?", [0, 0])
        tally[0] += sum(1 for t in c["turns"] if not t["failed"])
        tally[1] += len(c["turns"])
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({"turns_passed": passed, "turns_played": total, "turns_written": written,
                                  "by_who": by_who, "conversations": results}, ensure_ascii=False, indent=1),
                      encoding="utf-8")
    share = passed / written
    print(f"\nwritten conversations: {passed}/{written} turns meet all their checks ({share:.1%}); "
          + ", ".join(f"{who} {p}/{n}" for who, (p, n) in sorted(by_who.items())) + f"; details in {REPORT}")
    assert len(conversations()) >= 60
    assert share >= FLOOR, f"{passed}/{written} turns meet their checks ({share:.1%} < {FLOOR:.0%}); see {REPORT}"
