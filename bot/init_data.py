"""Prepare the gateway's data before the first start (idempotent): `python -m bot.init_data`.

Creates DATA_DIR, the Rasa API token (secrets/rasa_token, mode 0600) and the
gateway's tables in the app database. The knowledge base migrates and loads
its own database (actions/knowledge_base).
The app schema is owned by Alembic (bot/migrations): this runs `upgrade head`.
"""

from __future__ import annotations

from bot.db import Database, check_keys, migrate
from bot.settings import get_settings


def main() -> None:
    settings = get_settings()  # creates DATA_DIR and the token file if missing
    database = Database.from_settings(settings)
    try:
        migrate(database)  # alembic upgrade head (bot/migrations)
        check_keys(database)  # the keys read what is stored: stop the stack before it starts
    finally:
        database.dispose()


if __name__ == "__main__":
    main()
