"""The chaos run's own servers: a private PostgreSQL cluster, a private Redis, a flaky fake Telegram.

The machine's PostgreSQL and Redis serve other people's tests too: the chaos run never
stops them. It starts its own, each on a free port from devtools/ports.py, in a temporary
directory, and crashes and restarts those.

- `PrivatePostgres`: `initdb` into a temporary directory with the machine's binaries
  (/usr/lib/postgresql/<newest>/bin); as root, every PostgreSQL command runs as the
  `postgres` system user (initdb and the server refuse root). `crash_restart` stops it
  with `pg_ctl stop -m immediate` (no checkpoint, every connection cut: what a crash
  leaves behind; start-up runs crash recovery), waits, and starts it again.
- `PrivateRedis`: `redis-server` without persistence (the gateways keep only losable state
  there); `stop` kills it, `start` starts an empty one on the same port.
- `FlakyTelegram`: devtools' fake Telegram that, for a while, answers one method with an
  error (429 with `retry_after`, then 500s), whatever the request.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from devtools.fake_telegram import FakeTelegram
from devtools.ports import free_port

HOST = "127.0.0.1"
POSTGRES_USER = "postgres"


class ServiceError(RuntimeError):
    pass


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's binaries (Debian layout)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ServiceError("no PostgreSQL server binaries (initdb) found under /usr/lib/postgresql")


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1:<free port>, trust authentication, user postgres."""

    def __init__(self, root: Path | None = None, port: int | None = None) -> None:
        self.bin = postgres_bin()
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="chaos-postgres-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = port or free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            # initdb: "cannot be run as root"; run everything as the postgres system user.
            try:
                entry = pwd.getpwnam(POSTGRES_USER)
            except KeyError:
                raise ServiceError("running as root, and there is no 'postgres' user to run PostgreSQL as") from None
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._as_user = ["runuser", "-u", POSTGRES_USER, "--"]

    @property
    def admin_url(self) -> str:
        return f"postgresql://{POSTGRES_USER}@{HOST}:{self.port}/postgres"

    def url(self, database: str, driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://{POSTGRES_USER}@{HOST}:{self.port}/{database}"

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self._as_user, str(self.bin / tool), *args], capture_output=True, text=True,
                              check=check, cwd=self.root)

    def init(self) -> PrivatePostgres:
        self._run("initdb", "-D", str(self.data), "-U", POSTGRES_USER, "-A", "trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-instructions")
        return self

    def start(self) -> None:
        # Sockets in the cluster's own directory, TCP on loopback only; enough connections for
        # two gateways' pools, two Rasa servers, the action server and the checks.
        options = f"-p {self.port} -k {self.root} -c listen_addresses={HOST} -c max_connections=300"
        result = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
                           "start", check=False)
        if result.returncode != 0:
            raise ServiceError(f"PostgreSQL did not start: {result.stderr or result.stdout}\n{self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def crash_restart(self, down_seconds: float) -> None:
        """Crash (immediate stop: no checkpoint, connections cut), stay down, start (crash recovery)."""
        self.stop("immediate")
        time.sleep(down_seconds)
        self.start()

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> PrivatePostgres:
        self.init()
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop("immediate")
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """redis-server on 127.0.0.1:<free port>, no persistence; `stop` and `start` it at will."""

    def __init__(self, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError("redis-server not found")
        self.binary = binary
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="chaos-redis-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        log = open(self.root / "redis.log", "ab")  # noqa: SIM115 - the child keeps it
        self._process = subprocess.Popen(
            [self.binary, "--bind", HOST, "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.root), "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 20
        import redis

        while time.monotonic() < deadline:
            try:
                client = redis.Redis(host=HOST, port=self.port, socket_connect_timeout=1)
                client.ping()
                client.close()
                return
            except redis.RedisError:
                time.sleep(0.1)
        raise ServiceError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)  # as a crash: nothing saved (nothing is anyway)
            self._process.wait()
        self._process = None

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class FlakyTelegram(FakeTelegram):
    """FakeTelegram whose `method` fails with `error_code` (and `retry_after` for a 429) until a time."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._outages: list[tuple[str, float, int, int | None]] = []  # method, until (monotonic), code, retry
        self._outage_lock = threading.Lock()
        self.failed_calls: dict[int, int] = {}  # error code -> calls answered with it

    def outage(self, method: str, seconds: float, error_code: int, retry_after: int | None = None) -> None:
        with self._outage_lock:
            self._outages.append((method, time.monotonic() + seconds, error_code, retry_after))

    def _api(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        now = time.monotonic()
        with self._outage_lock:
            active = next(((code, retry) for name, until, code, retry in self._outages
                           if name == method and now < until), None)
            if active is not None:
                self.failed_calls[active[0]] = self.failed_calls.get(active[0], 0) + 1
        if active is None:
            return super()._api(method, params)
        code, retry = active
        with self._lock:
            self.calls.append((method, params))
        body: dict[str, Any] = {"ok": False, "error_code": code,
                                "description": "Too Many Requests: retry after %s" % retry if code == 429
                                else "Internal Server Error"}
        if retry is not None:
            body["parameters"] = {"retry_after": retry}
        return code, body
