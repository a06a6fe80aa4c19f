"""Rotate the case encryption key: `python -m bot.cases.keys rotate`.

Puts a new Fernet key first in DATA_DIR/secrets/case_keys (the old ones stay,
so nothing becomes unreadable), then re-encrypts everything encrypted at rest
under the new key: case transcript entries and notes, and the gateway's
message text (`messages.text`, `outbox.text`, `inbound_updates.payload`).
After that the old keys can be removed from the file
(`python -m bot.cases.keys retire`). When the keys come from
CASE_ENCRYPTION_KEYS instead, put the new key first there and run
`python -m bot.cases.keys reencrypt`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cryptography.fernet import Fernet
from sqlalchemy import Integer, Text, column, select, table, update

from bot.cases.crypto import Keyring, read_or_create_case_keys, write_case_keys
from bot.db import Database, migrate
from bot.settings import get_settings

BATCH = 500
# Every column holding a Fernet token under the case keys.
ENCRYPTED_COLUMNS = (
    ("case_entries", "body"),
    ("case_notes", "body"),
    ("messages", "text"),  # bot.at_rest.EncryptedText
    ("outbox", "text"),
    ("inbound_updates", "payload"),  # bot.at_rest.EncryptedJSON
)


def reencrypt(database: Database, keyring: Keyring) -> int:
    """Rotate every token to the newest key of `keyring`; the number of rows rewritten.

    Works on the raw tokens (no decrypt-and-compare through the ORM), in batches
    by id, each batch its own transaction, so it can run while the gateway does.
    """
    count = 0
    for table_name, column_name in ENCRYPTED_COLUMNS:
        rows_table = table(table_name, column("id", Integer()), column(column_name, Text()))
        value = rows_table.c[column_name]
        last = 0
        while True:
            with database.engine.begin() as connection:
                rows = connection.execute(
                    select(rows_table.c.id, value).where(rows_table.c.id > last, value.is_not(None))
                    .order_by(rows_table.c.id).limit(BATCH)
                ).all()
                for row_id, token in rows:
                    # Only if unchanged meanwhile (e.g. the intake worker erased the payload).
                    connection.execute(update(rows_table).where(rows_table.c.id == row_id, value == token)
                                       .values({column_name: keyring.rotate(token)}))
                count += len(rows)
            if len(rows) < BATCH:
                break
            last = rows[-1][0]
    return count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.cases.keys", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["rotate", "reencrypt", "retire"])
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command in ("rotate", "retire") and settings.case_encryption_keys:
        print("Keys come from CASE_ENCRYPTION_KEYS: change them there, then run `reencrypt`.", file=sys.stderr)
        return 2
    if args.command == "retire":
        keys = read_or_create_case_keys(settings.data_dir)
        write_case_keys(settings.data_dir, keys[:1])
        print(f"Kept the newest key; removed {len(keys) - 1}. Run only after `rotate` finished.")
        return 0
    if args.command == "rotate":
        keys = read_or_create_case_keys(settings.data_dir)
        write_case_keys(settings.data_dir, [Fernet.generate_key().decode(), *keys])
    database = Database.from_settings(settings)  # after `rotate`: the new key is first
    try:
        migrate(database)
        assert database.keyring is not None
        count = reencrypt(database, database.keyring)
    finally:
        database.dispose()
    print(f"Re-encrypted {count} rows (case transcripts, notes, messages, outbox, webhook updates) "
          "under the newest key. "
          "Restart the gateway so it encrypts with the new key.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
