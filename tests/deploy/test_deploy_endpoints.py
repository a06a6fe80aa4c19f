"""deploy/endpoints.production.yml loads with Rasa's own reader (engine python) and the stores
it names really work: the encrypted tracker store on PostgreSQL and the lock store on Redis."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from tests.deploy.deploy_support import ENDPOINTS_FILE, REPO_ROOT, engine_python
from tests.unavailable import unavailable

PROBE = Path(__file__).with_name("engine_endpoints_probe.py")
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}


def _psql(sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["psql", "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-d", "postgres",
                           "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True)


@pytest.fixture
def tracker_database() -> Iterator[str]:
    if _psql("SELECT 1").returncode != 0:
        unavailable("PostgreSQL is not running on 127.0.0.1:5432")
    name = f"deploy_tracker_{secrets.token_hex(4)}"
    assert _psql(f'CREATE DATABASE "{name}"').returncode == 0
    yield name
    _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _probe(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([engine_python(), str(PROBE), str(ENDPOINTS_FILE)], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=180,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "RASA_TELEMETRY_ENABLED": "false",
                               **env})


def _production_env(database: str) -> dict[str, str]:
    # What compose.yaml and deploy/env/rasa.env give a replica, pointed at this machine's services.
    return {"BOT_ENV": "production", "ACTION_SERVER_URL": "http://actions:5055/webhook",
            "TRACKER_DB_HOST": f"{PG['host']}:{PG['port']}", "TRACKER_DB_NAME": database,
            "TRACKER_DB_USER": PG["user"], "TRACKER_DB_PASSWORD": "",
            "REDIS_HOST": "127.0.0.1", "REDIS_PASSWORD": "",
            "TRACKER_ENCRYPTION_KEYS": Fernet.generate_key().decode()}


def test_rasa_reads_the_production_endpoints_and_builds_the_real_stores(tracker_database: str) -> None:
    result = _probe(_production_env(tracker_database))
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])

    assert found["action_url"] == "http://actions:5055/webhook"
    # Rasa falls back to an in-memory store when a custom class fails to import: not here.
    assert found["tracker_store"] == "EncryptedSQLTrackerStore"
    assert found["tracker_url"].startswith("postgresql://postgres")
    assert found["tracker_url"].endswith("@127.0.0.1:5432/" + tracker_database)
    assert found["restored_text"] == "em bị đánh ở nhà"
    assert found["stored"] and all("em bị" not in row and "disclose" not in row for row in found["stored"])

    assert found["lock_store"] == "TicketSafeRedisLockStore"
    assert found["lock_found"] is True
    assert found["lock_key"].startswith("treem:")  # the prefix was accepted, not silently dropped
    assert int(found["lock_db"]) == 1


def test_a_missing_variable_stops_rasa_instead_of_running_misconfigured(tracker_database: str) -> None:
    env = _production_env(tracker_database)
    del env["TRACKER_DB_PASSWORD"]
    result = _probe(env)
    assert result.returncode != 0
    assert "TRACKER_DB_PASSWORD" in result.stderr
