"""Two workers starting at once: one migration, one set of generated secrets, one Zalo token row."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

from bot.cases.crypto import UserRefs, read_or_create_case_keys
from bot.db import Database, migrate
from bot.settings import read_or_create_token

WORKERS = 4


def _at_once(work: Any, count: int = WORKERS) -> list[Any]:
    """Run `work()` in `count` threads released together; their results (or exceptions)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work()
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _migrate_once(url: str) -> str:
    database = Database(url)
    try:
        migrate(database)
        with database.engine.connect() as connection:
            return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    finally:
        database.dispose()


def test_workers_upgrading_a_fresh_postgres_database_at_once(fresh_postgres_database: str) -> None:
    results = _at_once(lambda: _migrate_once(fresh_postgres_database))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(set(results)) == 1  # everybody sees the same head
    database = Database(fresh_postgres_database)
    try:
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        assert {"conversations", "messages", "cases", "outbox"} <= set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()


def test_workers_upgrading_a_fresh_sqlite_file_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    results = _at_once(lambda: _migrate_once(url))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(set(results)) == 1


def _secrets_of(data_dir: str, queue: Any, barrier: Any) -> None:
    barrier.wait()
    path = Path(data_dir)
    refs = UserRefs.from_data_dir(path)
    queue.put((read_or_create_token(path), tuple(read_or_create_case_keys(path)), refs.of("web", "x")))


def test_processes_generating_secrets_at_once_agree(tmp_path: Path) -> None:
    # Separate processes, as real workers: each either writes a secret or reads the
    # winner's, never a half-written file (an empty key would give it keys of its own).
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    barrier = context.Barrier(WORKERS)
    data_dir = tmp_path / "data"
    (data_dir / "secrets").mkdir(parents=True, mode=0o700)
    processes = [context.Process(target=_secrets_of, args=(str(data_dir), queue, barrier)) for _ in range(WORKERS)]
    for process in processes:
        process.start()
    seen = [queue.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(30)

    assert all(process.exitcode == 0 for process in processes)
    assert len(set(seen)) == 1
    token, keys, ref = seen[0]
    assert len(token) >= 32 and keys and len(ref) > 8
    assert not [p.name for p in (data_dir / "secrets").iterdir() if p.name.startswith(".")]  # no leftovers


def test_two_workers_seeding_the_zalo_token_row_at_once(postgres_database: str, tmp_path: Path) -> None:
    from bot.channels.zalo_tokens import ZaloToken, ZaloTokens
    from bot.settings import ZaloSettings

    database = Database(postgres_database)
    migrate(database)
    account = ZaloSettings(app_id="app", app_secret="s", oa_id=f"oa-{tmp_path.name}"[:60], oa_secret_key="k",
                           access_token="a1", refresh_token="r1", api_base="http://127.0.0.1:9",
                           oauth_base="http://127.0.0.1:9")
    try:
        results = _at_once(lambda: ZaloTokens(database, {account.oa_id: account}).seed())
        assert not [r for r in results if isinstance(r, Exception)], results
        with database.session() as session:
            assert session.get(ZaloToken, account.oa_id) is not None
    finally:
        database.dispose()
