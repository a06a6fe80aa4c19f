"""What the chaos run (bench/chaos.py, docs/reliability.md) found, each fixed and kept fixed here:

- A message delivered to Telegram while PostgreSQL restarted was sent again: the outbox could
  not record "sent" (nor the transport its message reference), so the lease ran out, or the
  transport answered "retry", and the child saw the line twice. Now the outcome is recorded
  once the database is back (`Database.run_retrying`, within the lease), and a delivered
  message is `Sent` even if its reference cannot be stored.
- A turn Rasa finished without a word (its custom action failed: the action server was down)
  left the child with silence. Now the child gets the apology with 111.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import exc, select

from bot import replies, transcript
from bot.cases.crypto import Keyring
from bot.channels.telegram import TelegramTransport
from bot.db import Database, migrate
from bot.messages import BotReply
from bot.outbox import SENT, Outbox, OutboxItem, Outgoing, Sent
from devtools.fake_rasa import FakeRasa


class FlakyDatabase(Database):
    """A Database that, once `down` is set, fails its next `failures` units of work as a
    PostgreSQL restart does (connection refused)."""

    def __init__(self, url: str, keyring: Keyring) -> None:
        super().__init__(url, keyring)
        self.down = False
        self.failures = 0

    async def run(self, work: Any) -> Any:
        if self.down and self.failures > 0:
            self.failures -= 1
            raise exc.OperationalError("INSERT ...", {}, ConnectionRefusedError("the database is restarting"))
        return await super().run(work)


@pytest.fixture
def database(tmp_path: Path) -> FlakyDatabase:
    database = FlakyDatabase(f"sqlite:///{tmp_path / 'app.db'}", Keyring([Fernet.generate_key().decode()]))
    migrate(database)
    return database


def test_run_retrying_waits_for_the_database_and_gives_up_after_its_time(database: FlakyDatabase) -> None:
    database.down, database.failures = True, 2
    assert asyncio.run(database.run_retrying(lambda s: 42, within_seconds=10)) == 42
    database.failures = 100
    with pytest.raises(exc.OperationalError):
        asyncio.run(database.run_retrying(lambda s: 42, within_seconds=1.0))

    def broken(_session: Any) -> None:
        raise ValueError("a bug, not an outage")

    database.down = False
    with pytest.raises(ValueError):
        asyncio.run(database.run_retrying(broken, within_seconds=10))


class DeliveringWhileTheDatabaseGoes:
    """A transport whose send succeeds just as the database goes away for a few units of work."""

    max_chars = 4096

    def __init__(self, database: FlakyDatabase) -> None:
        self.database = database
        self.sent: list[str] = []

    async def send(self, item: Outgoing) -> Sent:
        self.sent.append(item.text)
        self.database.down, self.database.failures = True, 3
        return Sent("77")


def test_a_message_delivered_while_the_database_restarts_is_recorded_sent_not_sent_again(
        database: FlakyDatabase) -> None:
    outbox = Outbox(database, lease_seconds=30)
    transport = DeliveringWhileTheDatabaseGoes(database)
    outbox.register("telegram", transport)
    with database.session() as session:
        conversation = transcript.get_or_create_conversation(session, "telegram", "4242")
        outbox.enqueue(session, conversation, transcript.add_replies(session, conversation, [BotReply("Chào em")]))

    async def deliver() -> None:
        stop = asyncio.Event()
        worker = asyncio.create_task(outbox.run(stop))
        for _ in range(200):
            await asyncio.sleep(0.05)
            with database.session() as session:
                if session.scalars(select(OutboxItem.status)).one() == SENT:
                    break
        await asyncio.sleep(0.5)  # long enough for a second send, if one were coming
        stop.set()
        await worker

    asyncio.run(deliver())
    with database.session() as session:
        assert session.scalars(select(OutboxItem.status)).one() == SENT
    assert transport.sent == ["Chào em"]


def test_a_delivered_telegram_message_is_sent_even_if_its_reference_cannot_be_stored() -> None:
    async def send_message(**_kwargs: Any) -> Any:
        return SimpleNamespace(message_id=77)

    async def wait(_key: str) -> None:
        return None

    async def unreachable(_work: Any, *, within_seconds: float) -> None:
        raise exc.OperationalError("INSERT ...", {}, ConnectionRefusedError("down"))

    ready = asyncio.Event()
    ready.set()
    channel = SimpleNamespace(_ready=ready, limiter=SimpleNamespace(wait=wait),
                              bot=SimpleNamespace(send_message=send_message),
                              _database=SimpleNamespace(run_retrying=unreachable))
    item = Outgoing(id=1, channel="telegram", external_id="4242", message_id=5, part=0, text="Chào em",
                    buttons=(), attempts=0)
    assert asyncio.run(TelegramTransport(channel).send(item)) == Sent("77")  # type: ignore[arg-type]


def test_a_turn_rasa_answers_with_nothing_gets_the_apology_with_111(
        client: TestClient, fake_rasa: FakeRasa, conversation_id: str) -> None:
    fake_rasa.reply = lambda _sender, _text: []
    response = client.post(f"/api/webchat/{conversation_id}/messages", json={"text": "quyền trẻ em là gì"})
    assert response.status_code == 200
    [message] = response.json()["messages"]
    assert message["sender"] == "system" and message["text"] == replies.RASA_UNAVAILABLE and "111" in message["text"]
