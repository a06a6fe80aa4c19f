"""Zalo OA access tokens: stored per OA, refreshed single-flight.

Zalo refresh tokens are single-use and a refresh also ends the old access
token, so two processes refreshing at once would lock the OA out. Refreshing
therefore happens under a lock every gateway process shares, the database's:

- PostgreSQL: `SELECT ... FOR UPDATE` on the OA's row;
- SQLite: a `BEGIN IMMEDIATE` transaction (the write lock of the file).

Inside the lock, a process first checks whether someone else already replaced
the token that failed; only if not does it call Zalo, and it saves the new
pair in the same transaction. Within one process an asyncio lock lets
concurrent senders wait for the one refresh instead of queueing on the database.

With several gateway workers on PostgreSQL this row lock is already the
cross-process single-flight, and it is the right place for it: the token pair
is durable state (a refresh token used up and not saved locks the OA out), so
it is decided and saved in one database transaction, not under a Redis lock
that could expire or vanish between Zalo's answer and the save.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import anyio.to_thread
import httpx
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import Database, make_engine
from bot.models import ZaloToken, as_utc, utc_now
from bot.settings import ZaloSettings

logger = logging.getLogger(__name__)

# Refresh ahead of expiry (access tokens live 25 h).
REFRESH_AHEAD = timedelta(hours=1)
OAUTH_TIMEOUT = httpx.Timeout(10.0, connect=3.0)




class TokenRefreshFailed(Exception):
    pass


class ZaloTokens:
    def __init__(self, database: Database, accounts: dict[str, ZaloSettings]) -> None:
        self._database = database
        self._accounts = accounts
        self._locks: dict[str, asyncio.Lock] = {oa_id: asyncio.Lock() for oa_id in accounts}
        self._lock_engine = _locking_engine(database)
        self.refresh_calls = 0  # how many times this process called Zalo's token endpoint

    def close(self) -> None:
        if self._lock_engine is not self._database.engine:
            self._lock_engine.dispose()

    def seed(self) -> None:
        """First start: store the configured pair. Later starts keep the stored
        (newer) pair: the configured refresh token has been used up by then."""
        with self._database.session() as session:
            for oa_id, account in self._accounts.items():
                if session.get(ZaloToken, oa_id) is not None:
                    continue
                try:
                    with session.begin_nested():  # two workers starting at once: one row wins
                        session.add(ZaloToken(oa_id=oa_id, access_token=account.access_token,
                                              refresh_token=account.refresh_token, updated_at=utc_now()))
                except IntegrityError:
                    pass

    async def access_token(self, oa_id: str) -> str:
        row = await anyio.to_thread.run_sync(self._read, oa_id)
        if not row.access_token or (
            row.access_expires_at is not None and as_utc(row.access_expires_at) - utc_now() < REFRESH_AHEAD
        ):
            return await self.refresh(oa_id, row.access_token)
        return row.access_token

    async def refresh(self, oa_id: str, failed_token: str) -> str:
        """A fresh access token; calls Zalo only if nobody replaced `failed_token` yet."""
        async with self._locks[oa_id]:
            return await anyio.to_thread.run_sync(self.refresh_blocking, oa_id, failed_token)

    def refresh_blocking(self, oa_id: str, failed_token: str) -> str:
        with self._locked_row(oa_id) as (session, row):
            if row.access_token and row.access_token != failed_token and not row.needs_reauth:
                return row.access_token  # another process (or task) refreshed already
            account = self._accounts[oa_id]
            self.refresh_calls += 1
            try:
                pair = _call_refresh(account, row.refresh_token)
            except TokenRefreshFailed as error:
                failure = error
                row.needs_reauth = True  # saved on leaving the block, then raised
                logger.error("Zalo OA %s: token refresh failed (%s); authorise the app again", oa_id, error)
            else:
                row.access_token, row.refresh_token, lifetime = pair
                row.access_expires_at = utc_now() + timedelta(seconds=lifetime)
                row.needs_reauth = False
                row.updated_at = utc_now()
                return row.access_token
        raise failure

    def _read(self, oa_id: str) -> ZaloToken:
        with self._database.session() as session:
            row = session.get(ZaloToken, oa_id)
            if row is None:
                raise KeyError(f"no Zalo token stored for OA {oa_id}")
            session.expunge(row)
            return row

    @contextmanager
    def _locked_row(self, oa_id: str) -> Iterator[tuple[Session, ZaloToken]]:
        with Session(self._lock_engine, expire_on_commit=False) as session, session.begin():
            # SQLite: the engine began with BEGIN IMMEDIATE. PostgreSQL: lock the row.
            row = session.scalars(select(ZaloToken).where(ZaloToken.oa_id == oa_id).with_for_update()).one()
            yield session, row


def _call_refresh(account: ZaloSettings, refresh_token: str) -> tuple[str, str, int]:
    try:
        with httpx.Client(timeout=OAUTH_TIMEOUT, trust_env=False) as http:
            response = http.post(
                f"{account.oauth_base}/v4/oa/access_token",
                headers={"secret_key": account.app_secret},
                data={"refresh_token": refresh_token, "app_id": account.app_id,
                      "grant_type": "refresh_token"},
            )
        data = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise TokenRefreshFailed(f"token endpoint unreachable: {type(error).__name__}") from error
    if not isinstance(data, dict) or not data.get("access_token") or not data.get("refresh_token"):
        code = data.get("error") if isinstance(data, dict) else None
        raise TokenRefreshFailed(f"token endpoint refused (error {code})")
    try:
        lifetime = int(str(data.get("expires_in") or "90000"))  # Zalo sends a string
    except ValueError:
        lifetime = 90000
    return str(data["access_token"]), str(data["refresh_token"]), lifetime


def _locking_engine(database: Database) -> Engine:
    """The engine whose transactions take the lock: on SQLite one of its own that
    begins with BEGIN IMMEDIATE; on other databases the usual engine."""
    if database.engine.dialect.name != "sqlite":
        return database.engine
    engine = make_engine(database.url)

    @event.listens_for(engine, "connect")
    def _manual_transactions(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we say BEGIN ourselves

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
