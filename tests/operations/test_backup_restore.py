"""Backup and restore, drilled: the procedure of docs/operations.md ("Backup and restore") run for real.

On the local PostgreSQL server (the deployed stack runs the same commands through
`docker compose exec`), a gateway database owned by its own login role, as
deploy/postgres/init-databases.sh makes it, gets cases through the real code path:
web chat disclosures over a fake Rasa (devtools/fake_rasa.py), a counsellor
who takes a case, replies and writes a note in the console. With the gateway
stopped it is dumped with `pg_dump --format custom`; the keys are kept apart
(CASE_ENCRYPTION_KEYS and `secrets/user_ref_key`); the dump is restored into a
fresh database with `pg_restore --clean --if-exists --no-owner --role <app role>`,
exactly as documented. This proves that:

- with the keys, a gateway on a new host (a new DATA_DIR) over the restored database
  shows a supervisor the same cases, with the same Vietnamese transcripts and notes,
  and goes on working there (the child writes again, the case is closed, the same
  child's next case names the restored one as a previous case);
- with other keys, the gateway refuses to start, naming the key problem, and never
  shows a transcript in garbage or blank.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text

from bot.app import create_app
from bot.cases.crypto import CaseKeyError
from bot.cases.models import Role
from bot.settings import Settings
from devtools.fake_rasa import FakeRasa, default_reply
from tests.console.console_support import child_says, login, make_settings_for, make_staff, new_conversation
from tests.unavailable import unavailable

pytestmark = pytest.mark.postgres

POSTGRES_ADMIN_URL = os.environ.get("BACKUP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_BIN_DIRS = ("/usr/lib/postgresql/{major}/bin",)

# What children write (the fake Rasa hands these over to a counsellor, as the action server would).
BEATEN = "Bố em đánh em rất đau, tối nay em sợ về nhà."
WANTS_A_PERSON = "Em muốn nói chuyện với một người thật, được không ạ?"
DISCLOSURES = {BEATEN: ("high", "physical_violence"), WANTS_A_PERSON: ("concern", "request")}
COUNSELLOR_SAYS = "Chào em, chị là Lan ở Tổng đài 111. Bây giờ em đang ở đâu?"
CHILD_ANSWERS = "Em đang ở trường, cô giáo chưa về ạ."
NOTE = "Trẻ ở trường; cần liên hệ cô chủ nhiệm trước 17 giờ."


def handing_over(sender: str, said: str) -> list[dict[str, Any]]:
    if said in DISCLOSURES:
        risk, category = DISCLOSURES[said]
        return [{"recipient_id": sender, "text": "Cảm ơn em đã kể cho mình."},
                {"recipient_id": sender, "custom": {"handoff": {"risk": risk, "category": category,
                                                                "consent": "given"}}}]
    return default_reply(sender, said)


@dataclass
class Server:
    """The local PostgreSQL server, its client tools, and the databases and role a test made there."""

    admin: Engine
    pg_dump: str
    pg_restore: str
    app_role: str = field(default_factory=lambda: f"tre_em_drill_{uuid.uuid4().hex[:10]}")
    databases: list[str] = field(default_factory=list)

    def fresh_database(self) -> str:
        """An empty database owned by the app role, as init-databases.sh creates `tre_em_app`; its URL."""
        name = f"backup_drill_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" OWNER "{self.app_role}" ENCODING \'UTF8\''))
            connection.execute(text(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC'))
        self.databases.append(name)
        return make_url(POSTGRES_ADMIN_URL).set(username=self.app_role, database=name).render_as_string(
            hide_password=False)

    def client_args(self) -> list[str]:
        """`--host`, `--port`, `--username postgres`: what `dc exec postgres` gives the commands implicitly."""
        url = make_url(POSTGRES_ADMIN_URL)
        return ["--host", url.host or "127.0.0.1", "--port", str(url.port or 5432),
                "--username", url.username or "postgres"]

    def dump(self, database_url: str, dump_file: Path) -> None:
        """docs/operations.md: pg_dump --username postgres --format custom "$db" > "backup/$db-<date>.dump"."""
        database = make_url(database_url).database
        with dump_file.open("wb") as out:
            done = subprocess.run([self.pg_dump, *self.client_args(), "--format", "custom", database],
                                  stdout=out, stderr=subprocess.PIPE, timeout=120, check=False)
        assert done.returncode == 0, done.stderr.decode()
        assert dump_file.stat().st_size > 0

    def restore(self, dump_file: Path, database_url: str) -> None:
        """docs/operations.md: pg_restore --username postgres --clean --if-exists --no-owner
        --role tre_em --dbname "$db" < "backup/$db-<date>.dump"."""
        database = make_url(database_url).database
        with dump_file.open("rb") as dump:
            done = subprocess.run([self.pg_restore, *self.client_args(), "--clean", "--if-exists", "--no-owner",
                                   "--role", self.app_role, "--dbname", database],
                                  stdin=dump, capture_output=True, timeout=120, check=False)
        # pg_restore goes on after an error and exits 1 at the end: any error fails the drill.
        assert done.returncode == 0 and not done.stderr, done.stderr.decode()


@pytest.fixture
def server() -> Iterator[Server]:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            server_major = connection.execute(text("SHOW server_version_num")).scalar_one()[:-4]
    except Exception as error:  # noqa: BLE001
        admin.dispose()
        unavailable(f"PostgreSQL not reachable (set BACKUP_TEST_POSTGRES_URL): {type(error).__name__}")
    tools = [_client_tool(name, server_major) for name in ("pg_dump", "pg_restore")]
    if None in tools:
        admin.dispose()
        unavailable(f"pg_dump / pg_restore {server_major} not found on PATH nor in "
                    f"{PG_BIN_DIRS[0].format(major=server_major)}")
    made = Server(admin, *tools)  # type: ignore[arg-type]
    with admin.connect() as connection:
        # The gateway's login role (`tre_em` in deploy/postgres/init-databases.sh), one per test.
        connection.execute(text(f'CREATE ROLE "{made.app_role}" LOGIN'))
    try:
        yield made
    finally:
        with admin.connect() as connection:
            for name in made.databases:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{made.app_role}"'))
        admin.dispose()


def _client_tool(name: str, server_major: str) -> str | None:
    """The server's own major version of a client tool (pg_dump refuses a newer server)."""
    for candidate in (shutil.which(name), *(str(Path(d.format(major=server_major)) / name) for d in PG_BIN_DIRS)):
        if not candidate or not Path(candidate).is_file():
            continue
        version = subprocess.run([candidate, "--version"], capture_output=True, text=True, check=False).stdout
        if re.search(rf"\b{re.escape(server_major)}\.\d+", version):
            return candidate
    return None


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    with FakeRasa() as fake:
        yield fake


def gateway_settings(data_dir: Path, fake_rasa: FakeRasa, database_url: str, keys: str) -> Settings:
    settings = make_settings_for(data_dir, fake_rasa, APP_DATABASE_URL=database_url, CASE_ENCRYPTION_KEYS=keys)
    fake_rasa.reply = handing_over
    return settings


def console_view(client: TestClient) -> dict[int, dict[str, Any]]:
    """What a supervisor sees of every open case: its row in the overview, its transcript, its page."""
    overview = client.get("/console/api/overview")
    assert overview.status_code == 200, overview.text
    cases = overview.json()["waiting"] + overview.json()["active"]
    seen = {}
    for case in cases:
        entries = client.get(f"/console/api/cases/{case['id']}/entries")
        assert entries.status_code == 200, entries.text
        seen[case["id"]] = {
            "row": {k: case[k] for k in ("risk", "category", "channel", "status", "assignee", "waiting_since")},
            "transcript": [(e["sender"], e["text"]) for e in entries.json()["entries"]],
            "page": client.get(f"/console/cases/{case['id']}").text,
        }
    return seen


def test_a_restored_dump_with_the_kept_keys_shows_the_same_cases_and_readable_transcripts(
        server: Server, fake_rasa: FakeRasa, tmp_path: Path) -> None:
    keys = Fernet.generate_key().decode()
    live = gateway_settings(tmp_path / "live", fake_rasa, server.fresh_database(), keys)
    with TestClient(create_app(live)) as client:
        make_staff(live, "lan", name="Lan")
        make_staff(live, "mai", role=Role.SUPERVISOR, name="Mai")
        beaten, asking = new_conversation(), new_conversation()
        child_says(client, beaten, BEATEN)
        child_says(client, asking, WANTS_A_PERSON)
        csrf = login(client, "lan")
        [beaten_case] = [c["id"] for c in client.get("/console/api/queue").json()["waiting"] if c["risk"] == "high"]
        assert client.post(f"/console/cases/{beaten_case}/take", data={"csrf_token": csrf},
                           follow_redirects=False).status_code == 303
        assert client.post(f"/console/cases/{beaten_case}/reply", data={"text": COUNSELLOR_SAYS},
                           headers={"X-CSRF-Token": csrf, "Accept": "application/json"}).status_code == 200
        child_says(client, beaten, CHILD_ANSWERS)
        assert client.post(f"/console/cases/{beaten_case}/notes", data={"text": NOTE, "csrf_token": csrf},
                           follow_redirects=False).status_code == 303
        client.cookies.clear()
        login(client, "mai")
        before = console_view(client)
    assert len(before) == 2
    assert [e for e in before[beaten_case]["transcript"] if e[0] in ("user", "counsellor")] == [
        ("user", BEATEN), ("counsellor", COUNSELLOR_SAYS), ("user", CHILD_ANSWERS)]
    assert NOTE in before[beaten_case]["page"]

    # The stack stopped: dump the database; the keys go to the secret store, not next to the dump.
    dump_file = tmp_path / "backup" / "tre_em_app.dump"
    dump_file.parent.mkdir()
    server.dump(live.app_database_url, dump_file)
    assert BEATEN.encode() not in dump_file.read_bytes() and NOTE.encode() not in dump_file.read_bytes()
    kept_user_ref_key = (live.data_dir / "secrets" / "user_ref_key").read_text()

    # A new host: a fresh database, a new DATA_DIR with the kept key files, the same CASE_ENCRYPTION_KEYS.
    restored_url = server.fresh_database()
    server.restore(dump_file, restored_url)
    new_host = tmp_path / "new-host"
    (new_host / "secrets").mkdir(parents=True, mode=0o700)
    (new_host / "secrets" / "user_ref_key").write_text(kept_user_ref_key)
    restored = gateway_settings(new_host, fake_rasa, restored_url, keys)
    with TestClient(create_app(restored)) as client:
        login(client, "mai")  # the console accounts came back with the dump
        after = console_view(client)
        assert after.keys() == before.keys()
        for case_id, seen in before.items():
            assert after[case_id]["row"] == seen["row"]
            assert after[case_id]["transcript"] == seen["transcript"]
        assert BEATEN in after[beaten_case]["page"] and NOTE in after[beaten_case]["page"]

        # It goes on working on the restored tables, as the app role: a message, a close, a new case.
        child_says(client, beaten, "Cô giáo về rồi ạ.")
        assert client.get(f"/console/api/cases/{beaten_case}/entries").json()["entries"][-1]["text"] == \
            "Cô giáo về rồi ạ."
        client.cookies.clear()
        csrf = login(client, "lan")
        assert client.post(f"/console/cases/{beaten_case}/close", data={"csrf_token": csrf, "outcome": "supported"},
                           follow_redirects=False).status_code == 303
        child_says(client, beaten, BEATEN)
        [again] = [c["id"] for c in client.get("/console/api/queue").json()["waiting"] if c["risk"] == "high"]
        assert again not in before
        page = client.get(f"/console/cases/{again}").text
        assert 'id="previous-cases"' in page and NOTE in page, \
            "the same child's earlier case must be found again: the user-ref key is one of the keys to keep"


@pytest.mark.parametrize("keys", ["other", "none"])
def test_a_restored_dump_without_its_keys_refuses_to_start_instead_of_showing_garbage(
        server: Server, fake_rasa: FakeRasa, tmp_path: Path, keys: str) -> None:
    live = gateway_settings(tmp_path / "live", fake_rasa, server.fresh_database(), Fernet.generate_key().decode())
    with TestClient(create_app(live)) as client:
        make_staff(live, "mai", role=Role.SUPERVISOR, name="Mai")
        child_says(client, new_conversation(), BEATEN)
    dump_file = tmp_path / "tre_em_app.dump"
    server.dump(live.app_database_url, dump_file)
    restored_url = server.fresh_database()
    server.restore(dump_file, restored_url)

    # A new host with a new key, or with none set (development then generates one into DATA_DIR).
    new_keys = Fernet.generate_key().decode() if keys == "other" else ""
    without = gateway_settings(tmp_path / "new-host", fake_rasa, restored_url, new_keys)
    with pytest.raises(CaseKeyError) as refused, TestClient(create_app(without)):
        pytest.fail("the gateway started on transcripts its keys cannot read")
    message = str(refused.value)
    assert "CASE_ENCRYPTION_KEYS" in message and "cannot decrypt" in message and "restore" in message
    assert BEATEN not in message
