"""How long the reports page takes over 100,000 cases on PostgreSQL (issue #15: under 2 s).

    <app python> bench/reports.py [--cases 100000] [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                  [--repeat 5] [--keep]

Creates a fresh PostgreSQL database (removed at the end unless --keep), migrates it, seeds
N cases over one year with their conversations (plus as many again without a case), a
record for 60 % of them, two counsellor messages per case a counsellor took, and feedback
answers; then, through the real gateway app (TestClient, a supervisor signed in), times:

  - GET /console/reports for the last 30 days, and for the whole year (every case);
  - GET /console/api/reports/summary and /console/reports/export.csv for the whole year;
  - bot.cases.reports.build alone for the whole year (the queries, without HTTP or the page).

Prints a markdown table of the median and worst wall time of --repeat runs (the first run is a
warm-up, not counted) and the median CPU seconds of this process and of the database's backends
(/proc): on a machine shared with other work the wall time grows, the CPU time much less. Not a timed test: the figure is kept in docs/performance.md. Everything stays
on 127.0.0.1; the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import insert
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.cases import record, reports  # noqa: E402
from bot.cases.feedback import ChildFeedback  # noqa: E402
from bot.cases.hours import VIETNAM  # noqa: E402
from bot.cases.models import Case, CaseEntry, Role, StaffUser  # noqa: E402
from bot.db import Database, migrate  # noqa: E402
from bot.models import Conversation  # noqa: E402

CHANNELS = ("web", "telegram", "zalo")
RISKS = ("imminent", "high", "concern")
TRIAGE = ("physical_violence", "sexual_abuse", "bullying", "request", "suicide_plan", "grooming", "neglect")
PROVINCES = ("79", "01", "48", "31", "92", "24", "37", "")
LIMITS = {"imminent": 120, "high": 600, "concern": 1800}
BATCH = 5000


def _admin(url: str) -> psycopg.Connection[Any]:
    parsed = make_url(url)
    return psycopg.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 5432, user=parsed.username,
                           password=parsed.password, dbname=parsed.database or "postgres", autocommit=True)


def seed(database: Database, cases: int, today: date, rng: random.Random) -> None:
    start = today - timedelta(days=364)
    with database.session() as session:
        staff = [StaffUser(username=f"tv{i}", display_name=f"TV {i}", role=Role.COUNSELLOR, password_hash="x")
                 for i in range(20)]
        session.add_all(staff)
        session.flush()
        staff_ids = [s.id for s in staff]
    body = database.keyring.encrypt("…") if database.keyring else "x"  # the gateway checks the keys read it
    done = 0
    while done < cases:
        n = min(BATCH, cases - done)
        conversations, case_rows, records, entries = [], [], [], []
        for i in range(done, done + n):
            day = start + timedelta(days=rng.randrange(365))
            created = datetime(day.year, day.month, day.day, rng.randrange(24), rng.randrange(60),
                               tzinfo=VIETNAM).astimezone(UTC)
            channel = rng.choice(CHANNELS)
            conversations.append({"id": i + 1, "channel": channel, "external_id": f"bench{i:08d}",
                                  "created_at": created, "last_activity": created})
            conversations.append({"id": cases + i + 1, "channel": channel, "external_id": f"plain{i:08d}",
                                  "created_at": created, "last_activity": created})
            risk = rng.choice(RISKS)
            taken = rng.random() < 0.75
            waited = rng.randrange(5, 2400)
            closed = rng.random() < 0.97
            case_rows.append({
                "id": i + 1, "conversation_id": i + 1, "channel": channel, "user_ref": secrets.token_hex(8),
                "risk": risk, "priority": {"concern": 1, "high": 2, "imminent": 3}[risk],
                "category": rng.choice(TRIAGE), "consent": "given",
                "status": "closed" if closed else ("active" if taken else "waiting"), "out_of_hours": False,
                "created_at": created, "waiting_since": created, "updated_at": created,
                "taken_at": created + timedelta(seconds=waited) if taken else None,
                "closed_at": created + timedelta(hours=1) if closed else None, "declined_at": None,
                "assigned_to_id": rng.choice(staff_ids) if taken else None,
                "outcome": rng.choice(["supported", "referred", "child_left", "callback_111"]) if closed else None,
                "alerts_sent": 0, "transcript_until_id": 0, "rasa_paused": False,
            })
            if taken:
                first = created + timedelta(seconds=waited + rng.randrange(1, 90))
                entries += [{"case_id": i + 1, "sender": "counsellor", "body": body, "created_at": first},
                            {"case_id": i + 1, "sender": "user", "body": body, "created_at": first},
                            {"case_id": i + 1, "sender": "counsellor", "body": body,
                             "created_at": first + timedelta(seconds=40)}]
            if rng.random() < 0.6:
                records.append({
                    "case_id": i + 1, "bot_categories": record.suggested_categories(case_rows[-1]["category"]),
                    "categories": rng.sample(list(record.CATEGORIES), rng.randrange(1, 3)),
                    "age_band": rng.choice(list(record.AGE_BANDS) + [""]), "gender": rng.choice(["female", "male", ""]),
                    "contact": rng.choice(list(record.CONTACTS)), "province": rng.choice(PROVINCES), "commune": None,
                    "referrals": rng.sample(list(record.REFERRALS), rng.randrange(0, 2)), "follow_up_on": None,
                    "follow_up_done_at": None, "counsellor_risk": rng.choice(["", "none", *RISKS]),
                    "updated_by_id": None, "created_at": created, "updated_at": created,
                })
        with database.session() as session:
            session.execute(insert(Conversation), conversations)
            session.execute(insert(Case), case_rows)
            session.execute(insert(record.CaseRecord), records)
            session.execute(insert(CaseEntry), entries)
            session.execute(insert(ChildFeedback), [
                {"answered_on": start + timedelta(days=rng.randrange(365)), "channel": rng.choice(CHANNELS),
                 "counsellor_id": rng.choice(staff_ids), "answer": rng.choice(["yes", "yes", "neutral", "no"])}
                for _ in range(n // 4)])
        done += n
        print(f"  seeded {done} cases", file=sys.stderr)
    with database.engine.begin() as connection:
        for table in ("conversations", "cases", "case_records", "case_entries", "child_feedback"):
            connection.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                       f"(SELECT max(id) FROM {table}))")
            connection.exec_driver_sql(f"ANALYZE {table}")


def _backend_cpu(admin_url: str, database: str) -> float:
    """CPU seconds used so far by every PostgreSQL backend connected to `database` (this machine's
    /proc): with the bench process's own CPU, a figure the other processes of a busy machine do
    not inflate, unlike the wall time."""
    with _admin(admin_url) as admin:
        pids = [row[0] for row in admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,))]
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def timed(call: Any, repeat: int, cpu: Any) -> tuple[float, float, float]:
    """Median and worst wall time, and median CPU seconds (this process and the database's)."""
    call()  # warm-up
    runs, cpus = [], []
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time() + cpu()
        call()
        runs.append(time.perf_counter() - began)
        cpus.append(time.process_time() + cpu() - began_cpu)
    return statistics.median(runs), max(runs), statistics.median(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from bot.app import create_app
    from bot.console.auth import hash_password
    from bot.settings import load_settings

    name = f"bench_reports_{secrets.token_hex(4)}"
    with _admin(args.admin_url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    rng = random.Random(15)
    today = datetime.now(VIETNAM).date()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-reports-") as data_dir:
            # The retention job must find nothing to delete (it runs at start): the seeded year stays.
            settings = load_settings({"DATA_DIR": data_dir, "APP_DATABASE_URL": url, "STAFFED_HOURS": "always",
                                      "RASA_URL": "http://127.0.0.1:9", "RETENTION_CHECK_SECONDS": "86400",
                                      "RETENTION_CONVERSATION_DAYS": "3650", "RETENTION_CASE_DAYS": "3650",
                                      "QUEUE_CHECK_SECONDS": "3600"})
            database = Database.from_settings(settings)
            migrate(database)
            began = time.perf_counter()
            seed(database, args.cases, today, rng)
            print(f"  seeding took {time.perf_counter() - began:.0f} s", file=sys.stderr)
            with database.session() as session:
                session.add(StaffUser(username="ha", display_name="Hà", role=Role.SUPERVISOR,
                                      password_hash=hash_password("mat-khau-bench-dai")))
            year = f"from={(today - timedelta(days=364)).isoformat()}&to={today.isoformat()}"
            month = f"from={(today - timedelta(days=29)).isoformat()}&to={today.isoformat()}"
            rows: list[tuple[str, float, float, float]] = []
            cpu = lambda: _backend_cpu(args.admin_url, name)  # noqa: E731
            with TestClient(create_app(settings)) as client:
                from tests.console.console_support import login

                login(client, "ha", "mat-khau-bench-dai")

                def get(path: str) -> Any:
                    def call() -> None:
                        response = client.get(path)
                        assert response.status_code == 200, response.text[:300]
                    return call

                rows.append(("GET /console/reports, last 30 days", *timed(get(f"/console/reports?{month}"),
                                                                           args.repeat, cpu)))
                rows.append(("GET /console/reports, the whole year", *timed(get(f"/console/reports?{year}"),
                                                                             args.repeat, cpu)))
                rows.append(("GET /console/api/reports/summary, the whole year",
                             *timed(get(f"/console/api/reports/summary?{year}"), args.repeat, cpu)))
                rows.append(("GET /console/reports/export.csv, the whole year",
                             *timed(get(f"/console/reports/export.csv?{year}"), args.repeat, cpu)))
            flt = reports.ReportFilter(today - timedelta(days=364), today)

            def build() -> None:
                with database.session() as session:
                    report = reports.build(session, flt, LIMITS)
                    assert report.cases == args.cases, report.cases

            rows.append(("bot.cases.reports.build alone, the whole year", *timed(build, args.repeat, cpu)))
            database.dispose()
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\n{args.cases} cases over 365 days, PostgreSQL, median and worst of {args.repeat} runs "
              f"after a warm-up ({os.cpu_count()} cores, load average {load} at the end):\n")
        print("| what | median | worst | CPU (median; the bench process and PostgreSQL) |\n|---|---|---|---|")
        for what, median, worst, cpu_seconds in rows:
            print(f"| {what} | {median:.2f} s | {worst:.2f} s | {cpu_seconds:.2f} s |")
    finally:
        if not args.keep:
            with _admin(args.admin_url) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
