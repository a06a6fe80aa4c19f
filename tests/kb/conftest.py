"""Fixtures for the knowledge-base tests.

`database_url` runs a test once on SQLite and once on PostgreSQL. PostgreSQL is
the local server (KB_TEST_POSTGRES_URL, default postgres@127.0.0.1:5432, trust
auth); each test gets a fresh database of its own, dropped afterwards. Without a
reachable server those runs are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from actions.knowledge_base.content import read_content
from actions.knowledge_base.database import KnowledgeBaseDatabase
from actions.knowledge_base.loader import ensure_loaded, read_content_from_database
from actions.knowledge_base.service import KnowledgeBase
from tests.kb.kb_paths import FIXTURE_CONTENT
from tests.unavailable import unavailable

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

POSTGRES_ADMIN_URL = os.environ.get("KB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _postgres_unavailable() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means "not here"
        return f"PostgreSQL not reachable at {make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)} " \
               f"(set KB_TEST_POSTGRES_URL): {type(error).__name__}"
    return None


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    reason = _postgres_unavailable()
    if reason:
        unavailable(reason)
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    name = f"kb_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kb.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def database(database_url: str) -> Iterator[KnowledgeBaseDatabase]:
    db = KnowledgeBaseDatabase(database_url)
    yield db
    db.dispose()


@pytest.fixture
def loaded_database(database: KnowledgeBaseDatabase) -> KnowledgeBaseDatabase:
    ensure_loaded(database, FIXTURE_CONTENT)
    return database


@pytest.fixture
def fixture_kb(loaded_database: KnowledgeBaseDatabase) -> KnowledgeBase:
    """The fixture content, loaded into (and read back from) the parametrized database."""
    with loaded_database.session() as session:
        return KnowledgeBase(read_content_from_database(session))


@pytest.fixture(scope="session")
def yaml_kb() -> KnowledgeBase:
    """The fixture content straight from YAML (no database), for tests about wording."""
    return KnowledgeBase(read_content(FIXTURE_CONTENT).content)
