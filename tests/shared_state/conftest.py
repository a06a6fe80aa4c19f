"""Fixtures of the shared-state tests: a real Redis and a real PostgreSQL on this machine.

Each test gets its own Redis key prefix (only its keys are deleted afterwards) and
the session gets its own PostgreSQL database (dropped at the end). Where a server
is absent the tests that need it skip, saying which one and where it was looked for.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.shared_state.shared_state_support import (
    POSTGRES_ADMIN_URL,
    REDIS_TEST_URL,
    create_database,
    drop_database,
    postgres_available,
    redis_available,
)
from tests.unavailable import unavailable


@pytest.fixture
def redis_url() -> str:
    if not redis_available(REDIS_TEST_URL):
        unavailable(f"Redis is not running at {REDIS_TEST_URL} (set TEST_REDIS_URL to point elsewhere)")
    return REDIS_TEST_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    import redis

    prefix = f"test-shared-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (its SQLAlchemy URL). Not one per session: each
    test's gateway has its own case keys (in its DATA_DIR), and a gateway refuses to start on a
    database its keys cannot read (bot.db.check_keys)."""
    if not postgres_available(POSTGRES_ADMIN_URL):
        unavailable(f"PostgreSQL is not running at {POSTGRES_ADMIN_URL} (set TEST_POSTGRES_URL)")
    name = f"test_shared_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
    yield url
    drop_database(name)


@pytest.fixture
def fresh_postgres_database() -> Iterator[str]:
    """An empty PostgreSQL database for one test (e.g. a first migration)."""
    if not postgres_available(POSTGRES_ADMIN_URL):
        unavailable(f"PostgreSQL is not running at {POSTGRES_ADMIN_URL} (set TEST_POSTGRES_URL)")
    name = f"test_shared_fresh_{uuid.uuid4().hex[:10]}"
    url = create_database(name)
    yield url
    drop_database(name)
