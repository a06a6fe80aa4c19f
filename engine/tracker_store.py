"""Rasa's SQL tracker store with every event's payload encrypted at rest.

Rasa 3.6's SQLTrackerStore keeps each event as a row of the `events` table; the
`data` column is the event as JSON, with everything a person wrote (`text`,
`parse_data.text`, entities, slot values). Here `data` is a Fernet token instead.

Kept in clear, because Rasa's own queries and the gateway's retention job
(bot/privacy/stores.py) need them, and none of them holds what a person wrote:
  sender_id    "<channel>:<id>": the conversation (a pseudonymous channel id)
  type_name    the event type ("user", "bot", "action", "slot", ...)
  timestamp    Unix seconds: Rasa finds the latest session with it, retention the age
  intent_name  the intent the NLU chose (only an intent of the domain; see `_intent_label`)
  action_name  the `name` of the event: an action, slot or form name from the domain

Keys (Fernet, MultiFernet): the newest key encrypts, every listed key decrypts, so
rotation is "put a new key first, keep the old ones until their rows are gone"
(retention deletes conversations within RETENTION_CASE_DAYS at most).
  TRACKER_ENCRYPTION_KEYS   comma-separated keys, newest first (production: required)
  otherwise, outside production, one key generated once into
  $DATA_DIR/secrets/tracker_keys (mode 0600), shared by every Rasa process of a stack.

Rows written before encryption (plain JSON, starting with "{") are still read,
so an existing tracker database keeps working; new events are encrypted.

Endpoints: `type: engine.tracker_store.EncryptedSQLTrackerStore` with the
same arguments as `type: SQL` (dialect, url/host, port, db, username, password,
login_db, query).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Optional, Text

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from common.settings import secrets_dir

logger = logging.getLogger(__name__)

KEYS_ENV = "TRACKER_ENCRYPTION_KEYS"
KEY_FILE_NAME = "tracker_keys"
# The first bytes of a plain JSON event written by SQLTrackerStore (before encryption).
_LEGACY_JSON_START = "{"


class TrackerKeyError(RasaException):
    """No usable key. Not an ImportError: Rasa would fall back to an in-memory store on that."""


class EventCipher:
    """Encrypts and decrypts the `data` of one event (a JSON string)."""

    def __init__(self, keys: Iterable[str | bytes]) -> None:
        fernets = []
        for key in keys:
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                # Never echo the value: it is a secret (or a mistyped one).
                raise TrackerKeyError(
                    f"{KEYS_ENV}: a key is not a Fernet key (32 url-safe base64-encoded bytes)"
                ) from None
        if not fernets:
            raise TrackerKeyError(f"{KEYS_ENV} lists no key")
        self._newest = fernets[0]
        self._fernet = MultiFernet(fernets)

    def seal(self, plain_json: str) -> str:
        return self._fernet.encrypt(plain_json.encode("utf-8")).decode("ascii")

    def is_current(self, stored: str) -> bool:
        """Encrypted under the newest key (nothing for `rekey` to do)."""
        if stored.startswith(_LEGACY_JSON_START):
            return False
        try:
            self._newest.decrypt(stored.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def rekey(self, stored: str) -> str:
        """The same event under the newest key (a plain legacy row gets encrypted)."""
        return self.seal(self.open(stored))

    def open(self, stored: str) -> str:
        if stored.startswith(_LEGACY_JSON_START):
            return stored  # written before encryption
        try:
            return self._fernet.decrypt(stored.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise TrackerKeyError(
                "a tracker event cannot be decrypted with any key of "
                f"{KEYS_ENV} (was a key removed before its rows expired?)"
            ) from None


def keys_from_environment(env: Mapping[str, str] | None = None) -> list[str]:
    """The keys, newest first: TRACKER_ENCRYPTION_KEYS, else (not production) the generated file."""
    env = os.environ if env is None else env
    listed = [key.strip() for key in (env.get(KEYS_ENV) or "").split(",") if key.strip()]
    if listed:
        return listed
    if (env.get("BOT_ENV") or "development").strip() == "production":
        raise TrackerKeyError(
            f"BOT_ENV=production: set {KEYS_ENV} (Fernet keys, newest first); "
            "a generated key file is for development only"
        )
    data_dir = Path(env.get("DATA_DIR") or "var").expanduser()
    return read_or_create_keys(data_dir)


def read_or_create_keys(data_dir: Path) -> list[str]:
    """`$DATA_DIR/secrets/tracker_keys`, created once (like bot/settings.read_or_create_token)."""
    path = secrets_dir(data_dir) / KEY_FILE_NAME
    try:
        # O_EXCL: when several Rasa processes start at once, exactly one writes the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # One key a line, newest first (a developer may rotate by adding a line on top).
        # A process that lost the O_EXCL race may read before the winner has written.
        for _ in range(20):
            keys = [k.strip() for k in path.read_text(encoding="utf-8").splitlines() if k.strip()]
            if keys:
                return keys
            time.sleep(0.1)
        raise TrackerKeyError(f"{path} is empty; delete it or set {KEYS_ENV}") from None
    key = Fernet.generate_key().decode("ascii")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return [key]


class EncryptedSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore whose `events.data` column holds Fernet tokens instead of JSON."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        dialect: Text = "sqlite",
        host: Optional[Text] = None,
        port: Optional[int] = None,
        db: Text = "rasa.db",
        username: Optional[Text] = None,
        password: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        login_db: Optional[Text] = None,
        query: Optional[dict] = None,
        **kwargs: Any,
    ) -> None:
        # Keys first: without them, refuse before touching the database.
        self._cipher = EventCipher(keys_from_environment())
        super().__init__(domain, dialect, host, port, db, username, password, event_broker,
                         login_db, query, **kwargs)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """SQLTrackerStore.save (Rasa 3.6.21), with `data` sealed."""
        await self.stream_events(tracker)

        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = event.as_dict()
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=self._intent_label(data),
                        action_name=data.get("name"),
                        data=self._cipher.seal(json.dumps(data)),
                    )
                )
            session.commit()

    async def _retrieve(
        self, sender_id: Text, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        """SQLTrackerStore._retrieve (Rasa 3.6.21), with `data` opened."""
        with self.session_scope() as session:
            rows = self._event_query(
                session, sender_id, fetch_events_from_all_sessions=fetch_events_from_all_sessions
            ).all()
            events = [json.loads(self._cipher.open(row.data)) for row in rows]

        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    def _intent_label(self, data: dict) -> Optional[str]:
        """The intent name for the clear column, only if the domain knows it.

        A message "/<anything>" is read by Rasa as that intent: the gateway strips a
        leading "/" from typed text, and this keeps free text out of the column even so.
        """
        intent = (data.get("parse_data") or {}).get("intent", {}).get(INTENT_NAME_KEY)
        if intent is None:
            return None
        known = self.domain.intents if self.domain else []
        return intent if intent in known else None
