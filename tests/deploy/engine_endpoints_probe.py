"""Run by the engine python (test_deploy_endpoints.py): load deploy/endpoints.production.yml
with Rasa's own reader and create the real stores from it. Prints one JSON object."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid


def main(endpoints_file: str) -> None:
    from rasa.core.lock_store import LockStore
    from rasa.core.tracker_store import TrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import read_endpoint_config

    action = read_endpoint_config(endpoints_file, "action_endpoint")
    tracker_config = read_endpoint_config(endpoints_file, "tracker_store")
    lock_config = read_endpoint_config(endpoints_file, "lock_store")

    tracker_store = TrackerStore.create(tracker_config, domain=Domain.empty())
    sender = f"deploy-probe-{uuid.uuid4().hex}"
    tracker = DialogueStateTracker(sender, slots=[])
    tracker.update(UserUttered("em bị đánh ở nhà", intent={"name": "disclose_abuse", "confidence": 1.0}))
    asyncio.run(tracker_store.save(tracker))
    restored = asyncio.run(tracker_store.retrieve(sender))
    with tracker_store.engine.connect() as connection:
        stored = [row[0] for row in connection.exec_driver_sql(
            "SELECT data FROM events WHERE sender_id = %(sender)s", {"sender": sender})]

    lock_store = LockStore.create(lock_config)
    lock = lock_store.create_lock(sender)
    lock_store.save_lock(lock)
    found = lock_store.get_lock(sender) is not None
    lock_key = lock_store.key_prefix + sender
    lock_store.delete_lock(sender)

    print(json.dumps({
        "action_url": action.url,
        "tracker_store": type(tracker_store).__name__,
        "tracker_url": str(tracker_store.engine.url.render_as_string(hide_password=True)),
        "restored_text": restored.latest_message.text if restored else None,
        "stored": stored,
        "lock_store": type(lock_store).__name__,
        "lock_found": found,
        "lock_key": lock_key,
        "lock_db": lock_store.red.connection_pool.connection_kwargs.get("db"),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
