"""Rasa's tracker store encrypts what a child writes (engine/tracker_store.py, loaded
from endpoints.yml by the real Rasa 3.6 server of the stack), and Rasa still answers in context.

Rasa's SQLTrackerStore keeps no tracker in memory: every turn reads the conversation back
from the database, so the second turn below is answered from decrypted events.
"""

from __future__ import annotations

import json
import sqlite3
import stat

import pytest

from bot.replies import RASA_UNAVAILABLE
from devtools.stack import Stack
from tests.e2e.e2e_support import tracker
from tests.e2e.webchat_support import new_conversation, send

pytestmark = pytest.mark.e2e

# A disclosure (sets the risk and perpetrator slots), with a phone number and a street in it.
DISCLOSURE = "bo em danh em dau lam, em so lam. so dien thoai cua em la 0987654321, nha em o ngo 45 Hang Bac"
# A follow-up naming nobody: what turn 1 set must still be there after it.
FOLLOW_UP = "em phải làm sao bây giờ, tối nay em sợ về nhà lắm"
PLAIN = ("0987654321", "Hang Bac", "danh em dau lam", "phải làm sao", "sợ về nhà")
# As written in UTF-8, and as JSON escapes them (Rasa's json.dumps uses \uXXXX).
SECRETS = PLAIN + tuple(json.dumps(s)[1:-1] for s in PLAIN)


def test_the_tracker_database_holds_no_plaintext_and_rasa_answers_in_context(stack: Stack) -> None:
    conversation = new_conversation()
    sender = f"web:{conversation}"

    first = send(stack, conversation, text=DISCLOSURE)
    assert any("111" in r["text"] for r in first), first  # the safety reply
    after_first = tracker(stack, sender)["slots"]
    assert after_first.get("risk_level") and after_first.get("perpetrator"), after_first

    second = send(stack, conversation, text=FOLLOW_UP)
    assert second and RASA_UNAVAILABLE not in [r["text"] for r in second]

    # Rasa read turn 1 back from the encrypted rows to answer turn 2: its text and what it set.
    state = tracker(stack, sender)
    assert [e["text"] for e in state["events"] if e["event"] == "user"] == [DISCLOSURE, FOLLOW_UP]
    # (risk slots are re-triaged every turn; the perpetrator is only set from an entity)
    assert state["slots"].get("perpetrator") == after_first["perpetrator"]

    # The database file itself: no message text, no phone number, no address, in any form.
    path = stack.data_dir / "rasa_tracker.db"
    raw = path.read_bytes()
    for journal in path.parent.glob("rasa_tracker.db-*"):  # a journal / WAL if one is left
        raw += journal.read_bytes()
    for secret in SECRETS:
        assert secret.encode("utf-8") not in raw, secret
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT type_name, intent_name, action_name, data FROM events WHERE sender_id = ?",
                          (sender,)).fetchall()
    assert len(rows) >= 6
    assert all(data.startswith("gAAAAA") for *_, data in rows)  # Fernet tokens
    clear = json.dumps([r[:3] for r in rows], ensure_ascii=False)
    assert not [s for s in SECRETS if s in clear]
    assert {"user", "bot", "action"} <= {r[0] for r in rows}

    # The development key was generated once into DATA_DIR/secrets, readable by the service only.
    key_file = stack.data_dir / "secrets" / "tracker_keys"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
