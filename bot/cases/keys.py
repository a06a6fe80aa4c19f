"""Rotate the case encryption key: `python -m bot.cases.keys rotate`.

Puts a new Fernet key first in DATA_DIR/secrets/case_keys (the old ones stay,
so nothing becomes unreadable), then re-encrypts every transcript entry and
note under the new key. After that the old keys can be removed from the file
(`python -m bot.cases.keys retire`). When the keys come from
CASE_ENCRYPTION_KEYS instead, put the new key first there and run
`python -m bot.cases.keys reencrypt`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.cases.crypto import Keyring, load_keyring, read_or_create_case_keys, write_case_keys
from bot.cases.models import CaseEntry, CaseNote
from bot.db import Database, migrate
from bot.settings import get_settings

BATCH = 500


def reencrypt(database: Database, keyring: Keyring) -> int:
    count = 0
    for model in (CaseEntry, CaseNote):
        last = 0
        while True:
            with database.session() as session:
                rows = session.scalars(select(model).where(model.id > last).order_by(model.id).limit(BATCH)).all()
                for row in rows:
                    row.body = keyring.rotate(row.body)
                count += len(rows)
            if len(rows) < BATCH:
                break
            last = rows[-1].id
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
    database = Database(settings.app_database_url)
    try:
        migrate(database)
        count = reencrypt(database, load_keyring(settings.case_encryption_keys, settings.data_dir))
    finally:
        database.dispose()
    print(f"Re-encrypted {count} transcript entries and notes under the newest key. "
          "Restart the gateway so it encrypts with the new key.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
