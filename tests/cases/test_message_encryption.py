"""Message text at rest: the keyring of the Database encrypts it, rotation and
`reencrypt` move it to a new key, and revision 0004 converts an existing plain-text database."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from bot import inbox, transcript
from bot.cases import keys
from bot.cases.crypto import CaseKeyError, Keyring, read_or_create_case_keys
from bot.db import Database, alembic_config, migrate
from bot.messages import BotReply, Button
from bot.models import Message, Sender
from bot.outbox import Outbox, OutboxItem, Outgoing, Sent

DISCLOSURE = "Bố em say rượu là đánh em"
REPLY = "Em không có lỗi. Em có thể gọi 111 bất cứ lúc nào."


def new_key() -> str:
    return Fernet.generate_key().decode()


def raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


class FakeTransport:
    max_chars = 4096

    async def send(self, item: Outgoing) -> Sent:
        return Sent()


def write_everything(database: Database) -> None:
    """A child's message, a reply queued for a push channel, an unhandled webhook update."""
    outbox = Outbox(database)
    outbox.register("telegram", FakeTransport())
    with database.session() as session:
        conversation = transcript.get_or_create_conversation(session, "telegram", "4242")
        transcript.add_user_message(session, conversation, DISCLOSURE)
        replies = transcript.add_replies(session, conversation, [BotReply(REPLY, (Button("Gọi 111", "/call"),))])
        outbox.enqueue(session, conversation, replies)
        inbox.accept(session, "telegram:1", "900", "4242", {"message": {"text": DISCLOSURE}})


def test_no_plain_text_in_messages_outbox_or_inbound_updates(tmp_path: Path, database: Database,
                                                              keyring: Keyring) -> None:
    write_everything(database)
    file = tmp_path / "app.db"
    rows = (raw(file, "SELECT text FROM messages") + raw(file, "SELECT text FROM outbox")
            + raw(file, "SELECT payload FROM inbound_updates"))
    assert len(rows) == 4
    for (token,) in rows:
        assert isinstance(token, str) and DISCLOSURE not in token and REPLY not in token
        keyring.decrypt(token)  # a Fernet token of this keyring
    with database.session() as session:
        assert [m.text for m in session.scalars(select(Message).order_by(Message.id))] == [DISCLOSURE, REPLY]
        assert session.scalars(select(OutboxItem.text)).one() == REPLY
        [update] = inbox.claim_due(session, lease=timedelta(seconds=60), busy=set())
        assert update.payload == {"message": {"text": DISCLOSURE}}
        inbox.finish(session, update.id)
    assert raw(file, "SELECT payload FROM inbound_updates") == [(None,)]


def test_a_database_without_keyring_refuses_message_text(tmp_path: Path, database: Database) -> None:
    write_everything(database)
    bare = Database(database.url)
    try:
        with pytest.raises(CaseKeyError), bare.session() as session:
            session.scalars(select(Message)).all()
        # Wrapped in SQLAlchemy's StatementError, which does not show the parameters.
        with pytest.raises(StatementError, match="no keyring") as raised, bare.session() as session:
            conversation = transcript.get_or_create_conversation(session, "web", "x" * 16)
            transcript.add_user_message(session, conversation, DISCLOSURE)
    finally:
        bare.dispose()
    assert DISCLOSURE not in str(raised.value)
    assert all(DISCLOSURE not in str(t) for (t,) in raw(tmp_path / "app.db", "SELECT text FROM messages"))


def test_rotation_new_key_encrypts_old_key_decrypts_reencrypt_moves_everything(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    old, new = new_key(), new_key()
    database = Database(url, Keyring([old]))
    migrate(database)
    write_everything(database)
    database.dispose()

    rotated = Database(url, Keyring([new, old]))  # what `rotate` does to the key file
    try:
        with rotated.session() as session:
            conversation = transcript.get_or_create_conversation(session, "telegram", "4242")
            transcript.add_user_message(session, conversation, "tin mới")
        with rotated.session() as session:  # old rows still readable
            assert [m.text for m in session.scalars(select(Message).order_by(Message.id))] == [
                DISCLOSURE, REPLY, "tin mới"]
        tokens = [t for (t,) in raw(tmp_path / "app.db", "SELECT text FROM messages ORDER BY id")]
        assert Keyring([new]).decrypt(tokens[-1]) == "tin mới"  # the new key encrypts
        with pytest.raises(CaseKeyError):
            Keyring([new]).decrypt(tokens[0])  # old rows are still under the old key

        assert keys.reencrypt(rotated, Keyring([new, old])) == 5  # 3 messages, 1 outbox, 1 update
    finally:
        rotated.dispose()

    only_new = Keyring([new])
    file = tmp_path / "app.db"
    for sql in ("SELECT text FROM messages", "SELECT text FROM outbox", "SELECT payload FROM inbound_updates"):
        for (token,) in raw(file, sql):
            only_new.decrypt(str(token))  # the old key can now be retired
    retired = Database(url, only_new)
    try:
        with retired.session() as session:
            assert [m.text for m in session.scalars(select(Message).order_by(Message.id))] == [
                DISCLOSURE, REPLY, "tin mới"]
    finally:
        retired.dispose()


def test_the_keys_command_rotates_and_reencrypts_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import get_settings

    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("APP_DATABASE_URL", raising=False)
    monkeypatch.delenv("CASE_ENCRYPTION_KEYS", raising=False)
    get_settings.cache_clear()
    try:
        database = Database.from_settings(get_settings())
        migrate(database)
        write_everything(database)
        database.dispose()
        [old] = read_or_create_case_keys(tmp_path)

        assert keys.main(["rotate"]) == 0
        new, previous = read_or_create_case_keys(tmp_path)
        assert previous == old and new != old
        assert keys.main(["retire"]) == 0
        assert read_or_create_case_keys(tmp_path) == [new]
        database = Database.from_settings(get_settings())
        try:
            with database.session() as session:
                assert [m.text for m in session.scalars(select(Message).order_by(Message.id))] == [DISCLOSURE, REPLY]
        finally:
            database.dispose()
    finally:
        get_settings.cache_clear()


def test_revision_0004_encrypts_an_existing_plain_text_database(tmp_path: Path, keyring: Keyring) -> None:
    file = tmp_path / "old.db"
    url = f"sqlite:///{file}"
    config = alembic_config(url)
    config.attributes["keyring"] = None  # or it would load the keys of the settings
    command.upgrade(config, "0003")
    connection = sqlite3.connect(file)
    with connection:
        connection.execute("INSERT INTO conversations (id, channel, external_id, created_at, last_activity) "
                           "VALUES (1, 'telegram', '4242', '2026-11-01', '2026-11-01')")
        connection.executemany(
            "INSERT INTO messages (id, conversation_id, sender, text, buttons, created_at) "
            "VALUES (?, 1, ?, ?, '[]', '2026-11-01')", [(1, "user", DISCLOSURE), (2, "bot", REPLY), (3, "bot", "")])
        connection.execute("INSERT INTO outbox (channel, external_id, message_id, part, text, buttons, status, "
                           "attempts, next_attempt_at, created_at) VALUES ('telegram', '4242', 2, 0, ?, '[]', "
                           "'pending', 0, '2026-11-01', '2026-11-01')", (REPLY,))
        connection.execute("INSERT INTO inbound_updates (source, external_id, conversation_key, payload, status, "
                           "attempts, next_attempt_at, received_at) VALUES ('telegram:1', '900', '4242', ?, "
                           "'pending', 0, '2026-11-01', '2026-11-01')", ('{"message": {"text": "%s"}}' % DISCLOSURE,))
        connection.execute("INSERT INTO inbound_updates (source, external_id, conversation_key, payload, status, "
                           "attempts, next_attempt_at, received_at) VALUES ('telegram:1', '901', '4242', NULL, "
                           "'done', 1, '2026-11-01', '2026-11-01')")
    connection.close()

    # Without a keyring the conversion refuses instead of leaving plain text behind.
    bare = Database(url)
    with pytest.raises(CaseKeyError):
        migrate(bare)
    bare.dispose()
    assert raw(file, "SELECT text FROM messages WHERE id = 1") == [(DISCLOSURE,)]

    database = Database(url, keyring)
    try:
        migrate(database)
        migrate(database)  # idempotent
        with database.session() as session:
            assert [(m.id, m.text) for m in session.scalars(select(Message).order_by(Message.id))] == [
                (1, DISCLOSURE), (2, REPLY), (3, "")]
            assert session.scalars(select(OutboxItem.text)).one() == REPLY
            payloads = session.scalars(select(inbox.InboundUpdate.payload).order_by(inbox.InboundUpdate.id)).all()
            assert payloads == [{"message": {"text": DISCLOSURE}}, None]
    finally:
        database.dispose()
    for sql in ("SELECT text FROM messages", "SELECT text FROM outbox", "SELECT payload FROM inbound_updates"):
        for (value,) in raw(file, sql):
            assert value is None or (DISCLOSURE not in str(value) and REPLY not in str(value)
                                     and keyring.decrypt(str(value)) is not None)
    for path in tmp_path.glob("old.db*"):  # nor in freed pages or the WAL
        assert DISCLOSURE.encode() not in path.read_bytes(), path.name

    # Downgrade decrypts back (needs the same keys).
    config = alembic_config(url)
    config.attributes["keyring"] = keyring
    command.downgrade(config, "0003")
    assert raw(file, "SELECT text FROM messages ORDER BY id") == [(DISCLOSURE,), (REPLY,), ("",)]
    assert raw(file, "SELECT payload FROM inbound_updates WHERE payload IS NOT NULL") == [
        ('{"message": {"text": "%s"}}' % DISCLOSURE,)]


def test_polling_after_an_id_still_works(database: Database) -> None:
    with database.session() as session:
        conversation = transcript.get_or_create_conversation(session, "web", "w" * 16)
        first = transcript.add_replies(session, conversation, [BotReply("một"), BotReply("hai")])
        transcript.add_replies(session, conversation, [BotReply("ba")], Sender.COUNSELLOR)
    with database.session() as session:
        conversation = transcript.get_or_create_conversation(session, "web", "w" * 16)
        later = transcript.replies_after(session, conversation, first[0].id, 10)
        assert [m.text for m in later] == ["hai", "ba"]
