"""The app schema belongs to Alembic: one head, matches the models, audit log append-only."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

import bot.cases.models  # noqa: F401 - registers the case tables on Base.metadata
from bot.db import Database, alembic_config, migrate
from bot.models import Base, Conversation, Message, OfferedButton
from bot.schema import load_all


def test_there_is_exactly_one_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"merge the Alembic heads: {heads}"


def test_upgrade_head_matches_the_models(database: Database) -> None:
    load_all()
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"])
def test_the_audit_log_is_append_only(database: Database, statement: str) -> None:
    with database.engine.begin() as connection:
        connection.execute(text("INSERT INTO audit_log (at, actor, action, detail) "
                                "VALUES ('2026-11-28 09:00:00', 'lan', 'view_case', '{}')"))
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text(statement))


def test_a_database_made_by_create_all_is_adopted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    Base.metadata.create_all(engine, tables=[t.__table__ for t in (Conversation, Message, OfferedButton)])
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO conversations (channel, external_id, created_at, last_activity) "
                                "VALUES ('web', 'aaaaaaaaaaaaaaaa', '2026-01-01', '2026-01-01')"))
    engine.dispose()

    database = Database(url)
    migrate(database)
    tables = set(inspect(database.engine).get_table_names())
    with database.engine.connect() as connection:
        kept = connection.execute(text("SELECT count(*) FROM conversations")).scalar()
    database.dispose()
    assert {"cases", "audit_log", "staff_users"} <= tables and kept == 1
