"""Run with the ENGINE python: write trackers as the running Rasa server does.

The store is the one endpoints.yml names (engine/tracker_store.py, Rasa 3.6's
SQLTrackerStore with encrypted event payloads); its key comes from TRACKER_ENCRYPTION_KEYS.

    <engine python> make_rasa_tracker.py <sqlite file> <sender_id>=<unix timestamp> ...

Each sender gets a user message and a bot reply at the given time, so the
`events` table (and its index) is exactly what a running Rasa server creates.
"""

from __future__ import annotations

import asyncio
import sys

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from engine.tracker_store import EncryptedSQLTrackerStore


def main(path: str, senders: list[str]) -> None:
    store = EncryptedSQLTrackerStore(Domain.empty(), dialect="sqlite", db=path)
    for item in senders:
        sender_id, _, at = item.partition("=")
        when = float(at)
        tracker = DialogueStateTracker(sender_id, slots=[])
        tracker.update(UserUttered("số em là 0912345678", {"name": "greet", "confidence": 1.0}, timestamp=when))
        tracker.update(ActionExecuted("utter_greet", timestamp=when + 1))
        tracker.update(BotUttered("Chào em", timestamp=when + 2))
        asyncio.run(store.save(tracker))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
