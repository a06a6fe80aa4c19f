"""Message text is encrypted at rest: the web chat works as before, the SQLite file holds no plain text."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import transcript
from bot.cases.crypto import CASE_KEYS_FILE, Keyring
from bot.db import Database
from bot.messages import BotReply
from bot.models import Message, Sender
from bot.settings import Settings

DISCLOSURE = "Chú hàng xóm hay sờ vào người em, em sợ lắm"
COUNSELLOR = "Cô Lan đây, em đang ở đâu? Em có an toàn không?"


def app_db_file(settings: Settings) -> Path:
    return Path(settings.app_database_url.removeprefix("sqlite:///"))


def raw_rows(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(app_db_file(settings))
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_the_web_chat_round_trips_while_the_file_holds_only_tokens(
    client: TestClient, settings: Settings, conversation_id: str
) -> None:
    sent = client.post(f"/api/webchat/{conversation_id}/messages", json={"text": DISCLOSURE})
    assert sent.status_code == 200, sent.text
    replies = sent.json()["messages"]
    last_seen = replies[-1]["id"]

    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            conversation = transcript.get_or_create_conversation(session, "web", conversation_id)
            transcript.add_replies(session, conversation, [BotReply(COUNSELLOR)], Sender.COUNSELLOR)
        with database.session() as session:
            texts = [m.text for m in session.scalars(select(Message).order_by(Message.id))]
    finally:
        database.dispose()
    assert texts[0] == DISCLOSURE and texts[-1] == COUNSELLOR
    assert [r["text"] for r in replies] == texts[1:-1]

    # Polling with after= still works (ordering is by id, never by text).
    polled = client.get(f"/api/webchat/{conversation_id}/messages", params={"after": last_seen})
    assert [(m["sender"], m["text"]) for m in polled.json()["messages"]] == [("counsellor", COUNSELLOR)]

    # The file itself: no plain text anywhere, only Fernet tokens that the keys open.
    rows = raw_rows(settings, "SELECT text FROM messages ORDER BY id")
    assert len(rows) == len(texts)
    keyring = Keyring((settings.data_dir / "secrets" / CASE_KEYS_FILE).read_text().split())
    for (token,), plain in zip(rows, texts, strict=True):
        assert isinstance(token, str) and token.startswith("gAAAAA")
        assert plain not in token and keyring.decrypt(token) == plain
    client.close()  # checkpoint the WAL into the file before reading its bytes
    for path in app_db_file(settings).parent.glob(app_db_file(settings).name + "*"):
        content = path.read_bytes()
        for secret in (DISCLOSURE, COUNSELLOR, "sờ vào người em"):
            assert secret.encode("utf-8") not in content, path.name
