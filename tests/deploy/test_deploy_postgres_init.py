"""deploy/postgres/init-databases.sh against this machine's PostgreSQL: the roles, the three
databases and the least-privilege grants (the app role may read and delete tracker rows only)."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator

import pytest
from tests.deploy.deploy_support import DEPLOY
from tests.unavailable import unavailable

SCRIPT = DEPLOY / "postgres" / "init-databases.sh"
SERVER = {"PGHOST": "127.0.0.1", "PGPORT": "5432"}


def _psql(sql: str, *, user: str = "postgres", database: str = "postgres") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["psql", "-X", "-qtA", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", database, "-c", sql],
                          capture_output=True, text=True, env={**os.environ, **SERVER})


@pytest.fixture
def names() -> Iterator[dict[str, str]]:
    if _psql("SELECT 1").returncode != 0:
        unavailable("PostgreSQL is not running on 127.0.0.1:5432")
    suffix = secrets.token_hex(4)
    names = {"APP_DB_USER": f"deploy_app_{suffix}", "APP_DB_NAME": f"deploy_app_db_{suffix}",
             "KB_DB_NAME": f"deploy_kb_db_{suffix}", "TRACKER_DB_USER": f"deploy_rasa_{suffix}",
             "TRACKER_DB_NAME": f"deploy_tracker_db_{suffix}"}
    yield names
    for database in ("APP_DB_NAME", "KB_DB_NAME", "TRACKER_DB_NAME"):
        _psql(f'DROP DATABASE IF EXISTS "{names[database]}" WITH (FORCE)')
    for role in ("APP_DB_USER", "TRACKER_DB_USER"):
        _psql(f'DROP ROLE IF EXISTS "{names[role]}"')


def test_init_script_creates_databases_with_least_privilege(names: dict[str, str]) -> None:
    # A password with SQL metacharacters: it travels as a psql variable, never spliced into SQL.
    env = {**os.environ, **SERVER, **names, "APP_DB_PASSWORD": "it's; DROP ROLE x; --",
           "TRACKER_DB_PASSWORD": secrets.token_hex(16)}
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr

    app, rasa = names["APP_DB_USER"], names["TRACKER_DB_USER"]
    owners = _psql("SELECT datname || '=' || pg_get_userbyid(datdba) FROM pg_database "
                   f"WHERE datname IN ('{names['APP_DB_NAME']}', '{names['KB_DB_NAME']}', "
                   f"'{names['TRACKER_DB_NAME']}') ORDER BY 1").stdout.split()
    assert sorted(owners) == sorted([f"{names['APP_DB_NAME']}={app}", f"{names['KB_DB_NAME']}={app}",
                                     f"{names['TRACKER_DB_NAME']}={rasa}"])

    # Rasa (the tracker role) creates its table at first start; the app role may then read and delete.
    tracker = names["TRACKER_DB_NAME"]
    assert _psql("CREATE TABLE events (id serial PRIMARY KEY, sender_id text, data text); "
                 "INSERT INTO events (sender_id, data) VALUES ('web:x', 'sealed')",
                 user=rasa, database=tracker).returncode == 0
    assert _psql("SELECT count(*) FROM events", user=app, database=tracker).stdout.strip() == "1"
    assert _psql("DELETE FROM events WHERE sender_id = 'web:x'", user=app, database=tracker).returncode == 0
    for forbidden in ("INSERT INTO events (sender_id, data) VALUES ('web:y', 'x')", "DROP TABLE events",
                      "CREATE TABLE intruder (id int)"):
        assert _psql(forbidden, user=app, database=tracker).returncode != 0, forbidden
    # The tracker role cannot reach the gateway's database.
    assert _psql("SELECT 1", user=rasa, database=names["APP_DB_NAME"]).returncode != 0
    # The app role owns its two databases (Alembic creates the schema there).
    assert _psql("CREATE TABLE probe (id int); DROP TABLE probe", user=app, database=names["KB_DB_NAME"]).returncode == 0
