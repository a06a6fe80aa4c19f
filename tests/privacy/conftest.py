"""Fixtures for the privacy tests: an app database, and a tracker database written by Rasa itself."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.cases.crypto import Keyring
from bot.db import Database, migrate
from devtools.fake_rasa import FakeRasa
from tests.privacy.privacy_support import REPO, engine_python
from tests.unavailable import unavailable

POSTGRES_ADMIN_URL = os.environ.get("PRIVACY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The app database, migrated: SQLite, and PostgreSQL when the local server answers."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'app.db'}", Keyring([Fernet.generate_key().decode()]))
        migrate(db)
        yield db
        db.dispose()
        return
    import uuid

    from sqlalchemy import create_engine, make_url, text

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as error:  # noqa: BLE001
        admin.dispose()
        unavailable(f"PostgreSQL not reachable (set PRIVACY_TEST_POSTGRES_URL): {type(error).__name__}")
    name = f"privacy_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False),
                  Keyring([Fernet.generate_key().decode()]))
    try:
        migrate(db)
        yield db
    finally:
        db.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def make_tracker(tmp_path: Path) -> Callable[[dict[str, float]], Path]:
    """Write trackers {sender_id: unix time} with Rasa's (encrypted) tracker store (engine env); return the file."""
    key = Fernet.generate_key().decode()

    def make(senders: dict[str, float]) -> Path:
        path = tmp_path / "rasa_tracker.db"
        env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(REPO),
               "TRACKER_ENCRYPTION_KEYS": key}
        subprocess.run([engine_python(), "-W", "ignore", str(Path(__file__).with_name("make_rasa_tracker.py")),
                        str(path), *(f"{s}={t}" for s, t in senders.items())],
                       check=True, env=env, capture_output=True, timeout=300)
        return path

    return make


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    with FakeRasa() as fake:
        yield fake
