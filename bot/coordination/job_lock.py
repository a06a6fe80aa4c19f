"""One worker at a time for the gateway's periodic jobs, decided by the app database.

Every worker runs the same background loops (the waiting-time watch, retention).
Each pass must run alone: two retention passes at once would both count a closed
case into the anonymous statistics before deleting it, two watch passes would
both alert about the same late case and tell the child twice. The lock lives in
the database the job works on, not in Redis: it holds exactly while the job's
data is being changed, and it goes away with the connection of a worker that dies.

- PostgreSQL: an advisory lock keyed by the job's name; the second worker waits,
  then finds the work done (its reads start after the first one committed).
- SQLite (one machine): an exclusive lock on a file beside the database.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.db import Database

# The first half of the two-part advisory lock keys of these jobs.
JOB_LOCK_CLASS = 0x7EE0


def _job_key(name: str) -> int:
    return zlib.crc32(name.encode()) - 2**31  # a signed 32-bit int, as PostgreSQL wants


def lock_in_transaction(session: Session, name: str) -> None:
    """Serialize this transaction with every other one that says `name` (PostgreSQL; held
    until commit). On SQLite the transaction's first write already serializes writers."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:cls, :key)"), {"cls": JOB_LOCK_CLASS, "key": _job_key(name)})


@contextmanager
def exclusive(database: Database, name: str) -> Iterator[None]:
    """Hold the job's lock across several transactions of the job (blocking)."""
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect() as connection:
            params = {"cls": JOB_LOCK_CLASS, "key": _job_key(name)}
            connection.execute(text("SELECT pg_advisory_lock(:cls, :key)"), params)
            connection.commit()  # session-level lock: it outlives this transaction
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:cls, :key)"), params)
                connection.commit()
        return
    parsed = make_url(database.url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        yield
        return
    import fcntl

    path = Path(parsed.database)
    fd = os.open(path.with_name(f"{path.name}.job-{name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
