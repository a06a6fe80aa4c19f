"""The encrypted tracker store (engine/tracker_store.py), with Rasa 3.6 itself.

Events go through a real SQLite file and a real PostgreSQL database; the raw
`events.data` column is read back with plain SQL to check no text is in clear.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.core.utils import read_endpoints_from_path
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from engine.tracker_store import (
    KEYS_ENV,
    EncryptedSQLTrackerStore,
    TrackerKeyError,
    keys_from_environment,
)
from devtools.ports import free_port
from tests.unavailable import unavailable

REPO = Path(__file__).resolve().parents[2]
CLASS_PATH = "engine.tracker_store.EncryptedSQLTrackerStore"
POSTGRES_ADMIN_URL = os.environ.get("PRIVACY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

SECRET = "chú Tư đánh em, số em là 0912345678"
REPLY = "Mình rất tiếc khi nghe chuyện này"
SLOT_VALUE = "nhà ở 12 Lê Lợi"
DOMAIN = Domain.from_dict({
    "intents": ["greet", "disclose_abuse"],
    "slots": {"place": {"type": "text", "mappings": [{"type": "custom"}]}},
    "responses": {"utter_greet": [{"text": "Chào em"}]},
})


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv(KEYS_ENV, key)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("BOT_ENV", raising=False)
    return key


def conversation(sender_id: str, at: float = 1_700_000_000.0) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender_id, slots=DOMAIN.slots)
    tracker.update(SessionStarted(timestamp=at))
    tracker.update(UserUttered(SECRET, {"name": "disclose_abuse", "confidence": 0.9},
                               entities=[{"entity": "phone", "value": "0912345678", "start": 25, "end": 35}],
                               timestamp=at + 1))
    tracker.update(SlotSet("place", SLOT_VALUE, timestamp=at + 2))
    tracker.update(ActionExecuted("utter_greet", timestamp=at + 3))
    tracker.update(BotUttered(REPLY, timestamp=at + 4))
    return tracker


def save(store: TrackerStore, tracker: DialogueStateTracker) -> None:
    asyncio.run(store.save(tracker))


def texts(tracker: DialogueStateTracker | None) -> list[str]:
    assert tracker is not None
    return [e.text for e in tracker.events if isinstance(e, (UserUttered, BotUttered))]


def raw_rows(engine: sa.engine.Engine) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT sender_id, type_name, timestamp, intent_name, action_name, data FROM events ORDER BY id"))
        return [dict(row._mapping) for row in rows]


def assert_no_plaintext(rows: list[dict]) -> None:
    assert rows
    everything = json.dumps(rows, ensure_ascii=False) + json.dumps(rows)  # raw and \u-escaped forms
    for secret in ("0912345678", "đánh em", "d\\u00e1nh", "Lê Lợi", "L\\u00ea", "rất tiếc", "r\\u1ea5t"):
        assert secret not in everything
    assert all(row["data"].startswith("gAAAAA") for row in rows)  # Fernet tokens, version 0x80


def sqlite_store(path: Path) -> EncryptedSQLTrackerStore:
    return EncryptedSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(path))


def test_events_round_trip_through_sqlite_and_the_raw_column_is_ciphertext(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path / "tracker.db")
    save(store, conversation("web:round-trip-aaaa"))

    again = asyncio.run(sqlite_store(tmp_path / "tracker.db").retrieve("web:round-trip-aaaa"))
    assert texts(again) == [SECRET, REPLY]
    assert again.get_slot("place") == SLOT_VALUE
    assert again.latest_message.intent["name"] == "disclose_abuse"
    assert again.latest_message.entities[0]["value"] == "0912345678"

    rows = raw_rows(store.engine)
    assert_no_plaintext(rows)
    # What Rasa's queries and the retention job read stays in clear; none of it is free text.
    assert [(r["sender_id"], r["type_name"], r["intent_name"], r["action_name"]) for r in rows] == [
        ("web:round-trip-aaaa", "session_started", None, None),
        ("web:round-trip-aaaa", "user", "disclose_abuse", None),
        ("web:round-trip-aaaa", "slot", None, "place"),
        ("web:round-trip-aaaa", "action", None, "utter_greet"),
        ("web:round-trip-aaaa", "bot", None, None),
    ]
    assert [r["timestamp"] for r in rows] == [1_700_000_000.0 + i for i in range(5)]


def test_later_turns_append_and_only_the_latest_session_is_retrieved(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path / "tracker.db")
    tracker = conversation("telegram:4242")
    save(store, tracker)
    tracker.update(SessionStarted(timestamp=1_700_000_100.0))
    tracker.update(UserUttered("phiên mới", {"name": "greet", "confidence": 1.0}, timestamp=1_700_000_101.0))
    save(store, tracker)

    assert len(raw_rows(store.engine)) == 7  # the second save added only the two new events
    assert texts(asyncio.run(store.retrieve("telegram:4242"))) == ["phiên mới"]
    assert texts(asyncio.run(store.retrieve_full_tracker("telegram:4242"))) == [SECRET, REPLY, "phiên mới"]
    assert asyncio.run(store.retrieve("telegram:nobody")) is None


def test_a_typed_slash_command_never_reaches_the_clear_intent_column(tmp_path: Path) -> None:
    # Rasa reads "/<anything>" as that intent; only an intent of the domain is kept in clear.
    store = sqlite_store(tmp_path / "tracker.db")
    tracker = DialogueStateTracker("web:slash-cmd-aaaa", slots=[])
    tracker.update(UserUttered("/nha_em_o_le_loi", {"name": "nha_em_o_le_loi", "confidence": 1.0}))
    save(store, tracker)
    assert [r["intent_name"] for r in raw_rows(store.engine)] == [None]
    assert texts(asyncio.run(store.retrieve("web:slash-cmd-aaaa"))) == ["/nha_em_o_le_loi"]


def test_rotation_old_rows_still_decrypt_and_new_rows_use_the_newest_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _key: str) -> None:
    old_key, new_key = _key, Fernet.generate_key().decode()
    save(sqlite_store(tmp_path / "tracker.db"), conversation("web:before-rotation"))

    monkeypatch.setenv(KEYS_ENV, f"{new_key}, {old_key}")
    rotated = sqlite_store(tmp_path / "tracker.db")
    assert texts(asyncio.run(rotated.retrieve("web:before-rotation"))) == [SECRET, REPLY]
    save(rotated, conversation("web:after-rotation"))

    rows = raw_rows(rotated.engine)
    before = [r["data"] for r in rows if r["sender_id"] == "web:before-rotation"]
    after = [r["data"] for r in rows if r["sender_id"] == "web:after-rotation"]
    assert all(Fernet(old_key).decrypt(d.encode()) for d in before)
    assert all(Fernet(new_key).decrypt(d.encode()) for d in after)
    with pytest.raises(InvalidToken):
        Fernet(old_key).decrypt(after[0].encode())

    # Once the old key is dropped, its rows are unreadable: an error, never a silent empty tracker.
    monkeypatch.setenv(KEYS_ENV, new_key)
    with pytest.raises(TrackerKeyError):
        asyncio.run(sqlite_store(tmp_path / "tracker.db").retrieve("web:before-rotation"))
    assert texts(asyncio.run(sqlite_store(tmp_path / "tracker.db").retrieve("web:after-rotation"))) == [SECRET, REPLY]


def test_rows_written_before_encryption_stay_readable(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    legacy = conversation("zalo:oa:77")
    save(SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(path)), legacy)  # Rasa's own store, plain JSON

    store = sqlite_store(path)
    resumed = asyncio.run(store.retrieve("zalo:oa:77"))
    assert texts(resumed) == [SECRET, REPLY]
    resumed.update(UserUttered("tin nhắn sau khi mã hóa", {"name": "greet", "confidence": 1.0},
                               timestamp=1_700_000_010.0))
    save(store, resumed)

    rows = raw_rows(store.engine)
    assert [r["data"][:1] for r in rows] == ["{"] * 5 + ["g"]  # only the new event is encrypted
    assert texts(asyncio.run(store.retrieve("zalo:oa:77"))) == [SECRET, REPLY, "tin nhắn sau khi mã hóa"]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as error:  # noqa: BLE001
        admin.dispose()
        unavailable(f"PostgreSQL not reachable (set PRIVACY_TEST_POSTGRES_URL): {type(error).__name__}")
    name = f"hpriv_tracker_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield str(sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name))
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_events_round_trip_through_postgresql(postgres_url: str) -> None:
    url = sa.engine.make_url(postgres_url)
    # The arguments devtools/stack.py writes for production (host/port/db/username, like `type: SQL`).
    store = TrackerStore.create(EndpointConfig(
        type=CLASS_PATH, dialect="postgresql", url=url.host, port=url.port, db=url.database, username=url.username,
    ), domain=DOMAIN)
    assert isinstance(store, EncryptedSQLTrackerStore)
    try:
        save(store, conversation("web:postgres-aaaa"))
        assert texts(asyncio.run(store.retrieve("web:postgres-aaaa"))) == [SECRET, REPLY]
        assert_no_plaintext(raw_rows(store.engine))
        # What bot/privacy/stores.py runs for retention still works on the encrypted table.
        with store.engine.begin() as connection:
            stale = connection.execute(sa.text(
                "SELECT sender_id FROM events GROUP BY sender_id HAVING MAX(timestamp) < :cutoff"),
                {"cutoff": 1_800_000_000.0}).scalars().all()
            assert stale == ["web:postgres-aaaa"]
            connection.execute(sa.text("DELETE FROM events WHERE sender_id IN (:s)"), {"s": "web:postgres-aaaa"})
        assert asyncio.run(store.retrieve("web:postgres-aaaa")) is None
    finally:
        store.engine.dispose()


def test_endpoints_yml_loads_this_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTION_SERVER_URL", "http://127.0.0.1:1/webhook")
    monkeypatch.setenv("RASA_TRACKER_DB", str(tmp_path / "rasa_tracker.db"))
    endpoints = read_endpoints_from_path(str(REPO / "endpoints.yml"))
    store = TrackerStore.create(endpoints.tracker_store, domain=DOMAIN)
    assert type(store) is EncryptedSQLTrackerStore  # not Rasa's in-memory fallback for unknown types
    save(store, conversation("web:endpoints-aaaa"))
    assert_no_plaintext(raw_rows(store.engine))
    with sqlite3.connect(tmp_path / "rasa_tracker.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM events").fetchone() == (5,)


def test_production_without_keys_refuses_to_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEYS_ENV)
    monkeypatch.setenv("BOT_ENV", "production")
    with pytest.raises(TrackerKeyError, match="production"):
        TrackerStore.create(EndpointConfig(type=CLASS_PATH, dialect="sqlite", db=str(tmp_path / "t.db")),
                            domain=DOMAIN)
    assert not (tmp_path / "t.db").exists()  # refused before touching the database
    assert not (tmp_path / "data").exists()  # and no key was generated


def test_a_malformed_key_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEYS_ENV, "not-a-real-key-0912345678")
    with pytest.raises(TrackerKeyError) as refused:
        EncryptedSQLTrackerStore(DOMAIN, db=":memory:")
    assert "0912345678" not in str(refused.value)


def test_outside_production_a_key_is_generated_once_with_mode_0600(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEYS_ENV)
    first = keys_from_environment()
    key_file = tmp_path / "data" / "secrets" / "tracker_keys"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert keys_from_environment() == first and len(first) == 1
    Fernet(first[0])  # a valid key

    save(sqlite_store(tmp_path / "tracker.db"), conversation("web:dev-key-aaaa"))
    assert texts(asyncio.run(sqlite_store(tmp_path / "tracker.db").retrieve("web:dev-key-aaaa"))) == [SECRET, REPLY]


def test_rekey_puts_old_and_plain_rows_under_the_newest_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _key: str) -> None:
    from engine import rekey

    path = tmp_path / "tracker.db"
    save(SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(path)), conversation("web:plain-legacy-aaa"))
    save(sqlite_store(path), conversation("web:under-old-key-aaa"))
    new_key = Fernet.generate_key().decode()
    monkeypatch.setenv(KEYS_ENV, f"{new_key},{_key}")
    save(sqlite_store(path), conversation("web:under-new-key-aaa"))

    assert rekey.main([f"sqlite:///{path}"]) == 0
    engine = sa.create_engine(f"sqlite:///{path}")
    rows = raw_rows(engine)
    assert len(rows) == 15
    assert_no_plaintext(rows)
    assert all(Fernet(new_key).decrypt(r["data"].encode()) for r in rows)
    report = rekey.rekey(engine, rekey.EventCipher([new_key, _key]))
    assert (report.rows, report.rewritten) == (15, 0)  # a second run has nothing to do
    engine.dispose()

    monkeypatch.setenv(KEYS_ENV, new_key)  # the old key can go now
    for sender in ("web:plain-legacy-aaa", "web:under-old-key-aaa", "web:under-new-key-aaa"):
        assert texts(asyncio.run(sqlite_store(path).retrieve(sender))) == [SECRET, REPLY]


def test_the_real_rasa_server_in_production_without_keys_exits(tmp_path: Path) -> None:
    """`rasa run` itself: the error stops the server (Rasa falls back to an in-memory store only
    on ImportError / AttributeError, which this is not)."""
    import subprocess
    import sys

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != KEYS_ENV}
    env.update(BOT_ENV="production", DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(REPO),
               RASA_TELEMETRY_ENABLED="false", RASA_TRACKER_DB=str(tmp_path / "tracker.db"),
               ACTION_SERVER_URL="http://127.0.0.1:1/webhook")
    # Without a model file `rasa run` exits 0 at once; the store is created before the model is read.
    (tmp_path / "placeholder.tar.gz").touch()
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "run", "--model", "placeholder.tar.gz",
         "--endpoints", str(REPO / "endpoints.yml"),
         "-i", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0
    assert "TrackerKeyError" in result.stdout + result.stderr
    assert not (tmp_path / "tracker.db").exists() and not (tmp_path / "data").exists()


def test_the_plugins_import_nothing_from_the_app_environment() -> None:
    """Rasa's environment has rasa, its dependencies and cryptography; not FastAPI, not bot.*."""
    import ast
    import sys

    allowed = {"rasa", "cryptography", "sqlalchemy", "engine", "common"} | set(sys.stdlib_module_names)
    for module in sorted((REPO / "engine").glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] in allowed, f"{module.name} imports {name}"


@pytest.mark.postgres
def test_rekey_on_postgresql(postgres_url: str, monkeypatch: pytest.MonkeyPatch, _key: str) -> None:
    from engine import rekey

    url = sa.engine.make_url(postgres_url)
    plain = SQLTrackerStore(DOMAIN, dialect="postgresql", host=url.host, port=url.port, db=url.database,
                            username=url.username)
    save(plain, conversation("telegram:legacy-pg"))
    plain.engine.dispose()
    new_key = Fernet.generate_key().decode()
    monkeypatch.setenv(KEYS_ENV, f"{new_key},{_key}")
    # The gateway's spelling of the URL (postgresql+psycopg://) is accepted too.
    assert rekey.main([postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)]) == 0

    monkeypatch.setenv(KEYS_ENV, new_key)
    store = EncryptedSQLTrackerStore(DOMAIN, dialect="postgresql", host=url.host, port=url.port,
                                     db=url.database, username=url.username)
    try:
        assert_no_plaintext(raw_rows(store.engine))
        assert texts(asyncio.run(store.retrieve("telegram:legacy-pg"))) == [SECRET, REPLY]
    finally:
        store.engine.dispose()
