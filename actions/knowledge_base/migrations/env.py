"""Alembic environment for the knowledge base.

Used two ways: in code by `KnowledgeBaseDatabase.migrate()` (which passes an open
connection), and by staff with `alembic -c actions/knowledge_base/alembic.ini ...`
from the repository root (which falls back to the KB_DATABASE_URL setting).
This directory has no __init__.py on purpose: rasa-sdk imports every package
under actions/, and this file must only ever run inside Alembic.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from actions.knowledge_base.database import VERSION_TABLE
from actions.knowledge_base.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
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
        from actions.knowledge_base.settings import kb_database_url

        url = kb_database_url()
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
        version_table=VERSION_TABLE,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
