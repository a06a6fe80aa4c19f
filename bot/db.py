"""Connection to the app database: one engine per process, short-lived sessions.

    db = Database.from_settings(settings)   # or Database(url, keyring=...)
    with db.session() as session:
        ...            # committed on leaving the block, rolled back on error
    result = await db.run(work)   # the same, from async code: work(session) in a worker thread

The Database carries the keyring (bot.cases.crypto) that encrypts message text
at rest (bot.at_rest): build it with the gateway's keys wherever it may read or
write the transcript, the outbox or stored webhook updates.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import anyio.to_thread
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.at_rest import attach_keyring
from bot.cases.crypto import CaseKeyError, Keyring, load_keyring

if TYPE_CHECKING:
    from bot.settings import Settings

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 5000
# PostgreSQL pool of one process. A turn holds a connection only for its two short
# units of work, but a saturated worker runs a dozen at once: connections beyond the
# pool are opened and closed per checkout (a new server process each time), so the pool
# covers the usual concurrency and the overflow only absorbs bursts.
POOL_SIZE = 10
POOL_MAX_OVERFLOW = 10
# A connection idle longer than this is checked with a round trip before use (a restart
# of PostgreSQL, a dropped idle connection); a busy one is not (pool_pre_ping would add
# a round trip to every unit of work). Connections are replaced after POOL_RECYCLE_SECONDS.
IDLE_PING_SECONDS = 10.0
POOL_RECYCLE_SECONDS = 1800
# pg_advisory_xact_lock key of "the schema is being migrated" (any constant the app owns).
MIGRATION_LOCK_KEY = 0x7E_E0_0007
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# `run_retrying`: the first wait after a failed attempt; it doubles up to RETRY_MAX_DELAY_SECONDS.
RETRY_FIRST_DELAY_SECONDS = 0.5
RETRY_MAX_DELAY_SECONDS = 5.0
# What "the database cannot be reached right now" looks like (a restart, a failover, a full pool).
UNREACHABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)


class Database:
    def __init__(self, url: str, keyring: Keyring | None = None) -> None:
        self.url = url
        # None only for tools that never touch message text (they fail closed if they do).
        self.keyring = keyring
        self.engine = make_engine(url)
        attach_keyring(self.engine, keyring)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The app database with the case keys (CASE_ENCRYPTION_KEYS or secrets/case_keys)."""
        return cls(settings.app_database_url, load_keyring(settings.case_encryption_keys, settings.data_dir))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on any error, always close."""
        with self._sessions() as session, session.begin():
            yield session

    async def run(self, work: Callable[[Session], T]) -> T:
        """`work(session)` as one unit of work, off the event loop (sessions are blocking)."""

        def unit_of_work() -> T:
            with self.session() as session:
                return work(session)

        return await anyio.to_thread.run_sync(unit_of_work)

    async def run_retrying(self, work: Callable[[Session], T], *, within_seconds: float) -> T:
        """`run`, tried again while the database cannot be reached, for up to `within_seconds`.

        For what must not be lost once it happened outside the database, e.g. that a message
        was delivered: recorded late rather than not at all (a crash of PostgreSQL lasts seconds).
        Any other error, and the last one after `within_seconds`, is raised."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        delay = RETRY_FIRST_DELAY_SECONDS
        while True:
            try:
                return await self.run(work)
            except UNREACHABLE:
                if loop.time() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_DELAY_SECONDS)

    def dispose(self) -> None:
        self.engine.dispose()


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    # hide_parameters: an error message (logged) never repeats what a child wrote.
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, hide_parameters=True, pool_size=POOL_SIZE, max_overflow=POOL_MAX_OVERFLOW,
                               pool_recycle=POOL_RECYCLE_SECONDS)
        _ping_when_idle(engine)
        return engine

    if parsed.database and parsed.database != ":memory:":
        # A new data directory is private: the transcript is children's conversations.
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = create_engine(url, hide_parameters=True)

    # The gateway, the action server and Alembic share one SQLite file: WAL lets
    # readers work during a write, busy_timeout makes a writer wait instead of failing.
    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # Deleted or rewritten rows (a forgotten conversation, text replaced by its
        # ciphertext in migration 0004) are zeroed, not left in free pages.
        cursor.execute("PRAGMA secure_delete=ON")
        if parsed.database and parsed.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling for idle connections only (SQLAlchemy's documented
    checkout-event pattern): a failed ping raises DisconnectionError, and the pool then
    replaces the connection and tries again, so the caller never sees the dead one."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < IDLE_PING_SECONDS:
            return  # just opened, or used a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 - any failure means "use another connection"
            raise exc.DisconnectionError(f"idle connection failed its ping: {type(error).__name__}") from error
        if not alive:
            raise exc.DisconnectionError("idle connection failed its ping")


def migrate(database: Database) -> None:
    """Bring the schema to the newest Alembic revision (idempotent; bot/migrations).

    Several workers start at once against one database: each migrates under a lock,
    so one applies the revisions and the others, once it has committed, find the
    schema at head and do nothing. PostgreSQL: a transaction-level advisory lock,
    released with the migration's commit. SQLite (one machine): an exclusive lock
    on a file beside the database.
    """
    from alembic import command  # imported here: only start-up and init_data need Alembic

    with _sqlite_file_lock(database.url), database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        config = alembic_config(database.url)
        config.attributes["connection"] = connection
        config.attributes["keyring"] = database.keyring  # 0004 encrypts existing messages
        # "head", not "heads": two unmerged histories must fail loudly, not half-apply.
        command.upgrade(config, "head")


# Encrypted columns whose oldest and newest values `check_keys` tries (bot.at_rest, bot.cases.crypto).
KEY_CHECK_COLUMNS = (("messages", "text"), ("case_entries", "body"), ("case_notes", "body"))


def check_keys(database: Database) -> None:
    """Refuse to go on when the configured case keys cannot read what the database already holds.

    After a restore with the wrong keys (or none: new ones are generated on a new host),
    the gateway would otherwise start, list the cases, and fail on every transcript a
    counsellor opens, while writing new messages under keys that read nothing else. Tries
    the oldest and newest stored value of each encrypted column: a few rows, at start only.
    """
    keyring = database.keyring
    if keyring is None:
        return
    with database.engine.connect() as connection:
        for table, column in KEY_CHECK_COLUMNS:
            for order in ("ASC", "DESC"):
                value = connection.exec_driver_sql(
                    f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY id {order} LIMIT 1"
                ).scalar()
                if value is None:
                    continue
                try:
                    keyring.decrypt(value)
                except CaseKeyError as error:
                    raise CaseKeyError(
                        f"the case keys (CASE_ENCRYPTION_KEYS, or DATA_DIR/secrets/case_keys) cannot decrypt "
                        f"the {table}.{column} already in {make_url(database.url).render_as_string()}: "
                        "none of them is a key this data was written with. Start with the keys in use when "
                        "it was written (after a restore: the keys kept with the backup, docs/operations.md); "
                        "the gateway refuses to start rather than show transcripts it cannot read"
                    ) from error


@contextmanager
def _sqlite_file_lock(url: str) -> Iterator[None]:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        yield
        return
    import fcntl

    lock_path = Path(parsed.database).with_name(Path(parsed.database).name + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the file is closed
        yield
    finally:
        os.close(fd)


def alembic_config(url: str) -> Config:
    """Alembic configured in code: no ini file or working directory needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ini-style interpolation
    return config


# The old name, kept for callers written before the migrations existed.
init_db = migrate
