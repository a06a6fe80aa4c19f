"""Helpers of the shared-state tests (conftest.py holds the fixtures)."""

from __future__ import annotations

import os

import psycopg
import redis
from sqlalchemy.engine import make_url

REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# A role allowed to create databases; each test session makes its own.
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def redis_available(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _admin_connect() -> psycopg.Connection:
    url = make_url(POSTGRES_ADMIN_URL)
    return psycopg.connect(host=url.host, port=url.port or 5432, user=url.username, password=url.password,
                           dbname=url.database or "postgres", autocommit=True, connect_timeout=3)


def postgres_available(_url: str) -> bool:
    try:
        with _admin_connect():
            return True
    except psycopg.OperationalError:
        return False


def create_database(name: str) -> str:
    with _admin_connect() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    with _admin_connect() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
