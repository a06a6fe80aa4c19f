"""Alembic environment for the app database (gateway, cases, console, channels).

Used in code by `bot.db.migrate()` (which passes an open connection) and by
staff with `alembic -c bot/alembic.ini ...` from the repository root (which
falls back to APP_DATABASE_URL). Every module that defines tables on
`bot.models.Base` is listed in bot/schema.py, so autogenerate sees the whole schema.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from bot.models import Base
from bot.schema import load_all

load_all()

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return

    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from bot.settings import get_settings

        url = get_settings().app_database_url
    engine = create_engine(url)
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
