"""One production-shaped stack for every scale test: two Rasa servers and two gateway
workers on loopback, the app database and Rasa's tracker on PostgreSQL (fresh
databases, dropped afterwards), the lock store and the gateways' shared state on
Redis (a key prefix of their own, deleted afterwards).

Started once for the whole directory (package scope): the modules run in name
order and the Rasa failover test, which kills a Rasa server, comes last.

PostgreSQL: $SCALE_TEST_POSTGRES_URL (an admin connection; default the local
server, user postgres). Redis: $SCALE_TEST_REDIS_URL (default db 11 of the local
server). Without them the tests are skipped, saying which one is missing.
Model and engine Python: the end-to-end suite's fixtures (tests/e2e/conftest.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.cases.crypto import load_keyring
from bot.db import Database
from devtools.ports import free_ports
from devtools.stack import REPO_ROOT, Stack
from tests.scale.scale_support import PASSWORD
from tests.e2e.conftest import engine_python, trained_model  # noqa: F401 - the model and Python, as for e2e
from tests.unavailable import unavailable

POSTGRES_ADMIN_URL = os.environ.get("SCALE_TEST_POSTGRES_URL",
                                    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("SCALE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
NETGUARD_DIR = REPO_ROOT / "tests" / "netguard"
STAFF = (("lan", "Lan", "counsellor", "2"), ("ha", "Hà", "supervisor", "3"))


# ---- the servers ----------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def postgres_admin_url() -> str:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means "not here"
        shown = make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)
        unavailable(f"PostgreSQL is not reachable at {shown} (set SCALE_TEST_POSTGRES_URL): "
                    f"{type(error).__name__}")
    return POSTGRES_ADMIN_URL


@pytest.fixture(scope="package")
def redis_url() -> str:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.ping()
        client.close()
    except Exception as error:  # noqa: BLE001
        unavailable(f"Redis is not reachable at {REDIS_URL} (set SCALE_TEST_REDIS_URL): {type(error).__name__}")
    return REDIS_URL


@pytest.fixture(scope="package")
def database_urls(postgres_admin_url: str) -> Iterator[dict[str, str]]:
    """Fresh database names: the app's is created here, Rasa creates its tracker's itself."""
    suffix = uuid.uuid4().hex[:10]
    names = {"app": f"scale_app_{suffix}", "tracker": f"scale_tracker_{suffix}"}
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{names["app"]}"'))
    base = make_url(postgres_admin_url)
    try:
        yield {kind: base.set(database=name).render_as_string(hide_password=False) for kind, name in names.items()}
    finally:
        with admin.connect() as connection:
            for name in names.values():
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="package")
def redis_key_prefix(redis_url: str) -> Iterator[str]:
    import redis

    prefix = f"scale{uuid.uuid4().hex[:10]}:"
    yield prefix
    # The gateways' keys and Rasa's lock keys both start with it (devtools/stack.lock_key_prefix).
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


# ---- the model and the stack -------------------------------------------------------------------------


@pytest.fixture(scope="package")
def scale_netguard_log() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="netguard-scale-") as directory:
        yield Path(directory) / "netguard.log"


@pytest.fixture(scope="package")
def scale_stack(trained_model: Path, engine_python: str, database_urls: dict[str, str], redis_url: str,
                redis_key_prefix: str, scale_netguard_log: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Runs of consecutive ports: the second Rasa server and gateway worker take the port after the first.
    rasa_port, actions_port, bot_port = free_ports(2, 1, 2)
    data_dir = tmp_path_factory.mktemp("scale-data")
    env = {
        "NETGUARD_LOG": str(scale_netguard_log), "NETGUARD_MODE": "refuse",
        "REDIS_KEY_PREFIX": redis_key_prefix,
        "STAFFED_HOURS": "always",
        # Every simulated child writes from 127.0.0.1: the per-address limit (ten times the
        # per-person one) must not turn the run into 429s. Rate limiting has its own tests.
        "RATE_LIMIT_BURST": "100", "RATE_LIMIT_PER_MINUTE": "6000",
        # Every turn's reply is checked in its own response, a failover's resend included:
        # no busy reply (bot/admission.py, tests/gateway/test_admission.py) may stand in for it.
        "RASA_MAX_IN_FLIGHT": "1000", "RASA_REPLY_DEADLINE_SECONDS": "300",
    }
    with Stack(model=trained_model, engine_python=engine_python, data_dir=data_dir, rasa_port=rasa_port,
               actions_port=actions_port, bot_port=bot_port, rasa_processes=2, gateway_workers=2,
               app_database_url=database_urls["app"], rasa_tracker_url=database_urls["tracker"],
               redis_url=redis_url, extra_env=env, extra_pythonpath=[NETGUARD_DIR]) as running:
        create_staff(running)
        yield running


def create_staff(stack: Stack) -> None:
    """Counsellor accounts with the CLI (`python -m bot.users`), as the README says, in the shared database."""
    env = {**os.environ, "DATA_DIR": str(stack.data_dir), "APP_DATABASE_URL": stack.app_database_url,
           "PYTHONPATH": str(REPO_ROOT), "RASA_TOKEN": stack.token}
    for username, name, role, capacity in STAFF:
        subprocess.run([sys.executable, "-m", "bot.users", "create", username, "--name", name, "--role", role,
                        "--capacity", capacity, "--password-stdin"], input=PASSWORD + "\n", text=True,
                       check=True, cwd=REPO_ROOT, env=env)


@pytest.fixture(scope="package")
def app_database(scale_stack: Stack) -> Iterator[Database]:
    """The gateways' database, with their keys (message text is encrypted at rest)."""
    database = Database(scale_stack.app_database_url, keyring=load_keyring((), scale_stack.data_dir))
    yield database
    database.dispose()
