"""The web chat polls with `after=<last id seen>`: on PostgreSQL, with two workers writing
to one conversation at once, no message may become visible after a higher id was seen."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from bot import transcript
from bot.cases.crypto import load_keyring
from bot.db import Database, migrate
from bot.messages import BotReply
from bot.models import Sender

SLOW_TEXT = "trả lời chậm"


@pytest.fixture
def database(postgres_database: str, tmp_path: Path) -> Iterator[Database]:
    db = Database(postgres_database, keyring=load_keyring((), tmp_path))
    migrate(db)
    yield db
    db.dispose()


def test_ids_of_one_conversation_become_visible_in_order(database: Database) -> None:
    with database.session() as session:
        conversation_id = transcript.get_or_create_conversation(session, "web", "poll-order").id

    # Widen the window between a message's INSERT (which takes its id) and the end of
    # its transaction, for the first writer only: the race two workers can hit.
    slow_thread: dict[str, int] = {}

    @event.listens_for(database.engine, "after_cursor_execute")
    def _linger(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO messages") and threading.get_ident() == slow_thread.get("id"):
            time.sleep(0.6)

    def write(text: str, slow: bool) -> None:
        if slow:
            slow_thread["id"] = threading.get_ident()
        with database.session() as session:
            conversation = session.get(transcript.Conversation, conversation_id)
            assert conversation is not None
            transcript.add_replies(session, conversation, [BotReply(text)], Sender.BOT)

    seen: list[int] = []
    stop = threading.Event()

    def poll() -> None:  # the browser: ask for replies after the last id it showed
        while not stop.is_set():
            with database.session() as session:
                conversation = session.get(transcript.Conversation, conversation_id)
                assert conversation is not None
                after = seen[-1] if seen else 0
                seen.extend(m.id for m in transcript.replies_after(session, conversation, after, 50))
            time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    slow = threading.Thread(target=write, args=(SLOW_TEXT, True))
    slow.start()
    time.sleep(0.2)  # the slow writer has its id and lingers
    fast = threading.Thread(target=write, args=("trả lời nhanh", False))
    fast.start()
    slow.join(5)
    fast.join(5)
    time.sleep(0.2)
    stop.set()
    poller.join(5)

    with database.session() as session:
        conversation = session.get(transcript.Conversation, conversation_id)
        assert conversation is not None
        stored = [m.id for m in transcript.replies_after(session, conversation, 0, 50)]
    assert len(stored) == 2
    assert seen == stored  # the poller saw both, in order, none skipped
