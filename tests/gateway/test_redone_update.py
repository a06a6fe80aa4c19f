"""A push channel's update handled again (the worker died mid-turn, its lease ran out, another worker took
it) stores the child's message once: the channel's id of the message is kept with it (found by the chaos
run, docs/reliability.md). The web chat has no such id and stores every message it is sent."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.cases.crypto import Keyring
from bot.db import Database, migrate
from bot.messages import Inbound
from bot.models import Message, Sender
from bot.rasa_client import RasaClient
from bot.relay import Relay
from devtools.fake_rasa import FakeRasa


def child_messages(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(Message.text).where(Message.sender == Sender.USER)
                                    .order_by(Message.id)).all())


def handle_twice(tmp_path: Path, fake_rasa: FakeRasa, inbound: Inbound) -> list[str]:
    database = Database(f"sqlite:///{tmp_path / 'app.db'}", Keyring([Fernet.generate_key().decode()]))
    migrate(database)

    async def scenario() -> None:
        rasa = RasaClient(fake_rasa.url, fake_rasa.token)
        relay = Relay(database, rasa, max_message_chars=500)
        await relay.handle(inbound)
        await relay.handle(inbound)  # the same update, taken again by another worker
        await rasa.aclose()

    asyncio.run(scenario())
    try:
        return child_messages(database)
    finally:
        database.dispose()


def test_a_telegram_update_handled_again_stores_the_childs_message_once(tmp_path: Path,
                                                                          fake_rasa: FakeRasa) -> None:
    inbound = Inbound(channel="telegram", external_id="4242", text="em sợ lắm", external_message_id="900001")
    assert handle_twice(tmp_path, fake_rasa, inbound) == ["em sợ lắm"]
    assert fake_rasa.texts_received() == ["em sợ lắm", "em sợ lắm"]  # Rasa is asked again: no reply was kept


def test_two_messages_with_the_same_words_are_both_stored(tmp_path: Path, fake_rasa: FakeRasa) -> None:
    # Different updates (a child who repeats herself) are two messages.
    database = Database(f"sqlite:///{tmp_path / 'app.db'}", Keyring([Fernet.generate_key().decode()]))
    migrate(database)

    async def scenario() -> None:
        rasa = RasaClient(fake_rasa.url, fake_rasa.token)
        relay = Relay(database, rasa, max_message_chars=500)
        for update_id in ("1", "2"):
            await relay.handle(Inbound(channel="zalo", external_id="oa:u", text="cứu em", external_message_id=update_id))
        await rasa.aclose()

    asyncio.run(scenario())
    assert child_messages(database) == ["cứu em", "cứu em"]
    database.dispose()


def test_the_web_chat_stores_every_message_it_is_sent(tmp_path: Path, fake_rasa: FakeRasa) -> None:
    inbound = Inbound(channel="web", external_id="tab-1", text="chào Mây")
    assert handle_twice(tmp_path, fake_rasa, inbound) == ["chào Mây", "chào Mây"]
