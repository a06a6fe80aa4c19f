"""How devtools/stack.py configures several processes, checked without starting any.

The laptop set-up (one Rasa, one gateway, SQLite) keeps the repository's
endpoints.yml and its process names; shared stores get an endpoints file of
their own, and a set-up that cannot be correct is refused before anything starts.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml

from devtools.stack import GENERATED_ENDPOINTS, LOCK_STORE_CLASS, REPO_ROOT, Stack, StackError, lock_key_prefix, \
    redis_lock_store_endpoint, sql_store_endpoint

PG_APP = "postgresql+psycopg://postgres@127.0.0.1:5432/app_db"
PG_TRACKER = "postgresql+psycopg://rasa:s%40cret@10.0.0.5:5433/tracker_db?sslmode=require"
REDIS = "redis://127.0.0.1:6379/4"


def stack(tmp_path: Path, **options: object) -> Stack:
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"not started in these tests")
    return Stack(model=model, engine_python="/nonexistent/python", app_python="/nonexistent/python",
                 data_dir=tmp_path / "data", rasa_port=7150, actions_port=7160, bot_port=7170,
                 extra_env={"RASA_TOKEN": "t" * 40}, **options)  # type: ignore[arg-type]


def test_the_laptop_set_up_is_unchanged(tmp_path: Path) -> None:
    single = stack(tmp_path)
    assert single.ports == {"rasa": 7150, "actions": 7160, "gateway": 7170}
    assert (single.rasa_urls, single.bot_urls) == (["http://127.0.0.1:7150"], ["http://127.0.0.1:7170"])
    assert single.endpoints_path == REPO_ROOT / "endpoints.yml"
    env = single._env
    assert env["APP_DATABASE_URL"] == f"sqlite:///{single.data_dir / 'app.db'}"
    assert env["RASA_TRACKER_URL"] == f"sqlite:///{single.data_dir / 'rasa_tracker.db'}"
    assert env["REDIS_URL"] == ""  # single-process mode: in-process limits, feed and locks


def test_several_processes_get_numbered_names_and_consecutive_ports(tmp_path: Path) -> None:
    multi = stack(tmp_path, rasa_processes=3, gateway_workers=2, app_database_url=PG_APP,
                  rasa_tracker_url=PG_TRACKER, redis_url=REDIS)
    assert multi.ports == {"rasa-0": 7150, "rasa-1": 7151, "rasa-2": 7152, "actions": 7160,
                           "gateway-0": 7170, "gateway-1": 7171}
    assert multi.rasa_url == "http://127.0.0.1:7150" and multi.bot_url == "http://127.0.0.1:7170"
    assert multi._env["RASA_URLS"] == "http://127.0.0.1:7150,http://127.0.0.1:7151,http://127.0.0.1:7152"
    assert (multi._env["APP_DATABASE_URL"], multi._env["RASA_TRACKER_URL"], multi._env["REDIS_URL"]) == \
        (PG_APP, PG_TRACKER, REDIS)


@pytest.mark.parametrize("options, refused", [
    ({"rasa_processes": 2, "app_database_url": PG_APP, "rasa_tracker_url": PG_TRACKER}, "REDIS_URL"),
    ({"rasa_processes": 2, "redis_url": REDIS}, "PostgreSQL"),
    ({"gateway_workers": 2, "rasa_tracker_url": PG_TRACKER, "redis_url": REDIS}, "PostgreSQL"),
    ({"gateway_workers": 0}, "at least one"),
])
def test_a_set_up_that_cannot_be_correct_is_refused(tmp_path: Path, options: dict[str, object],
                                                    refused: str) -> None:
    with pytest.raises(StackError, match=refused):
        stack(tmp_path, **options)


def test_shared_stores_get_an_endpoints_file_of_their_own(tmp_path: Path) -> None:
    multi = stack(tmp_path, rasa_processes=2, gateway_workers=2, app_database_url=PG_APP,
                  rasa_tracker_url=PG_TRACKER, redis_url=REDIS)
    multi._write_endpoints()

    path = multi.data_dir / GENERATED_ENDPOINTS
    assert multi.endpoints_path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the database password
    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    repository = yaml.safe_load((REPO_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    assert written["action_endpoint"] == repository["action_endpoint"]
    assert written["tracker_store"] == {
        "type": repository["tracker_store"]["type"], "dialect": "postgresql", "url": "10.0.0.5",
        "db": "tracker_db", "port": 5433, "username": "rasa", "password": "s@cret", "login_db": "postgres",
        "query": {"sslmode": "require"},
    }
    assert written["lock_store"] == {"type": LOCK_STORE_CLASS, "url": "127.0.0.1", "port": 6379, "db": 4,
                                     "key_prefix": "treem"}
    # A lock left by a killed server expires well within the gateway's timeout.
    assert int(multi._env["TICKET_LOCK_LIFETIME"]) == int(os.environ.get("TICKET_LOCK_LIFETIME") or 20)


def test_store_urls_become_rasa_arguments(tmp_path: Path) -> None:
    assert sql_store_endpoint(f"sqlite:///{tmp_path}/t.db", tmp_path) == {"dialect": "sqlite",
                                                                        "db": f"{tmp_path}/t.db"}
    with pytest.raises(StackError, match="database name"):
        sql_store_endpoint("postgresql+psycopg://postgres@127.0.0.1:5432", tmp_path)
    assert redis_lock_store_endpoint("redis://:pw@cache:6380", "tre-em:")["password"] == "pw"
    assert redis_lock_store_endpoint("redis://:pw@cache:6380", "tre-em:")["db"] == 0
    with pytest.raises(StackError, match="REDIS_URL"):
        redis_lock_store_endpoint("http://127.0.0.1:6379/0")
    # Rasa ignores a prefix that is not alphanumeric: the gateway's "tre-em:" becomes "treem".
    assert (lock_key_prefix("tre-em:"), lock_key_prefix("scale1a2b:"), lock_key_prefix("::")) == \
        ("treem", "scale1a2b", "treem")
