"""Start and supervise the bot's processes, all on 127.0.0.1.

    <app python> -m devtools.stack --model models/<name>.tar.gz [--rasa-processes N] [--gateway-workers N]

1. action server   <app python> -m rasa_sdk --actions actions         ACTIONS_PORT (5055)
2. Rasa server(s)  <engine python> -m rasa run --enable-api ...       RASA_PORT (5005), +1, +2, ...
3. gateway(s)      <app python> -m uvicorn --factory bot.app:create_app  BOT_PORT (8000), +1, +2, ...

Waits until each is ready (action server `/health`; Rasa `/status`, with the
token, shows the model loaded; gateway `/readyz`), prints the web chat
address, and on Ctrl-C or SIGTERM stops every process it started, each in
its own process group, so nothing is left behind. If one of them dies, the
others are stopped too and the tail of its log is printed; except a Rasa
server or gateway worker of several, which is started again while the others
of its kind serve (`Stack.revive`).

One Rasa server and one gateway on SQLite files in DATA_DIR is the laptop
set-up (`make run`). Several Rasa servers or gateway workers serve the same
conversations only with shared state: APP_DATABASE_URL and RASA_TRACKER_URL
on PostgreSQL and REDIS_URL (the lock store that serialises one conversation
across Rasa servers, and the gateways' shared state). Then Rasa gets an
endpoints file written into DATA_DIR at start (`rasa_endpoints.yml`: the
repository's endpoints.yml with the tracker store on RASA_TRACKER_URL and a
Redis lock store), and the gateways get RASA_URLS with every Rasa server.

Also a library, used by the end-to-end and scale tests:

    with Stack(model=..., rasa_port=..., actions_port=..., bot_port=..., data_dir=tmp) as stack:
        httpx.post(stack.bot_url + "/api/webchat/.../messages", json={"text": "xin chào"})

    Stack(..., rasa_processes=2, gateway_workers=2, redis_url="redis://127.0.0.1:6379/3",
          app_database_url="postgresql+psycopg://postgres@127.0.0.1:5432/app",
          rasa_tracker_url="postgresql+psycopg://postgres@127.0.0.1:5432/tracker")
    stack.bot_urls, stack.rasa_urls, stack.kill_rasa(1), stack.processes_info()

Ports for a stack that is not the laptop's come from devtools/ports.py, outside the
kernel's ephemeral range, in runs for several servers of a kind (RASA_PORT, +1, ...):
`rasa_port, actions_port, bot_port = free_ports(2, 1, 2)`.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import yaml

from bot.settings import read_or_create_token
from devtools.ports import free_port, free_ports  # noqa: F401 - ports for Stack(...): devtools/ports.py

REPO_ROOT = Path(__file__).resolve().parent.parent

HOST = "127.0.0.1"
DEFAULT_PORTS = {"RASA_PORT": 5005, "ACTIONS_PORT": 5055, "BOT_PORT": 8000}
# Loading TensorFlow and the model takes a while on 2 cores.
DEFAULT_STARTUP_TIMEOUT = 300.0
STOP_GRACE_SECONDS = 15.0
# Written into DATA_DIR when Rasa's stores are shared (PostgreSQL tracker, Redis lock store).
GENERATED_ENDPOINTS = "rasa_endpoints.yml"
# Rasa's Redis lock store only accepts an alphanumeric key prefix (it adds ":lock:").
DEFAULT_LOCK_KEY_PREFIX = "treem"
# Rasa's Redis lock store without its endless wait after a server dies mid-turn (see the module).
LOCK_STORE_CLASS = "engine.lock_store.TicketSafeRedisLockStore"
# A Rasa server that dies mid-turn keeps holding that conversation's lock until the
# lock expires (Rasa's default: 60 s); the other server takes the retried turn only
# then. 20 s is within the gateway's Rasa timeout (30 s), and far above one turn.
TICKET_LOCK_LIFETIME_SECONDS = 20

# Rasa only takes the API token on its command line, where every local user can
# read it (ps). This launcher adds it from the environment inside the process,
# as `--auth-token=<token>`: a token may begin with "-" (token_urlsafe), which
# argparse would take for an option after a separate `--auth-token`.
RASA_LAUNCHER = (
    "import os, sys\n"
    "from common.redaction import install\n"  # stdlib only: redact Rasa's log lines too
    "install()\n"
    "from rasa.__main__ import main\n"
    "sys.argv = ['rasa', *sys.argv[1:], '--auth-token=' + os.environ.pop('RASA_AUTH_TOKEN')]\n"
    "main()\n"
)

# Every process we start: no telemetry, no hubs, no proxies for loopback.
QUIET_OFFLINE_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTHONDONTWRITEBYTECODE": "1",
    "NO_PROXY": "127.0.0.1,localhost,::1",
    "no_proxy": "127.0.0.1,localhost,::1",
}


class StackError(RuntimeError):
    """A process could not start or become ready; the message says which and why."""


@dataclass
class _Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    is_ready: Callable[[], bool]
    popen: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = field(default=None, repr=False)

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()


class Stack:
    def __init__(
        self,
        *,
        model: Path | str,
        engine_python: str | None = None,
        app_python: str | None = None,
        data_dir: Path | str | None = None,
        rasa_port: int = DEFAULT_PORTS["RASA_PORT"],
        actions_port: int = DEFAULT_PORTS["ACTIONS_PORT"],
        bot_port: int = DEFAULT_PORTS["BOT_PORT"],
        repo: Path = REPO_ROOT,
        extra_env: Mapping[str, str] | None = None,
        extra_pythonpath: Sequence[str | Path] = (),
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        rasa_processes: int = 1,
        gateway_workers: int = 1,
        app_database_url: str | None = None,
        rasa_tracker_url: str | None = None,
        redis_url: str | None = None,
    ) -> None:
        self.repo = Path(repo).resolve()
        self.model = Path(model).resolve()
        if not self.model.is_file():
            raise StackError(f"model file not found: {self.model}")
        if rasa_processes < 1 or gateway_workers < 1:
            raise StackError("at least one Rasa process and one gateway worker are needed")
        if rasa_processes > 1 and not redis_url:
            # Without a shared lock store two Rasa servers could both work on one
            # conversation at once and lose one of the two turns' events.
            raise StackError("several Rasa processes need REDIS_URL (their shared lock store)")
        if (rasa_processes > 1 or gateway_workers > 1) and _is_sqlite(app_database_url, rasa_tracker_url):
            raise StackError("several Rasa processes or gateway workers need APP_DATABASE_URL and "
                             "RASA_TRACKER_URL on a database server (PostgreSQL), not SQLite files")
        self.engine_python = engine_python or default_python("engine")
        self.app_python = app_python or default_python("app")
        self.data_dir = Path(data_dir or os.environ.get("DATA_DIR") or self.repo / "var").resolve()
        self.rasa_processes, self.gateway_workers = rasa_processes, gateway_workers
        self.app_database_url = app_database_url or f"sqlite:///{self.data_dir / 'app.db'}"
        self.rasa_tracker_url = rasa_tracker_url or f"sqlite:///{self.data_dir / 'rasa_tracker.db'}"
        self.redis_url = redis_url or ""
        # Process name -> port. One of a kind keeps its plain name ("rasa", "gateway").
        self.ports = {
            **_numbered("rasa", rasa_port, rasa_processes),
            "actions": actions_port,
            **_numbered("gateway", bot_port, gateway_workers),
        }
        self.startup_timeout = startup_timeout
        self.log_dir = self.data_dir / "logs"
        self.token = os.environ.get("RASA_TOKEN") or read_or_create_token(self.data_dir)
        self._env = self._base_env(extra_env or {}, extra_pythonpath)
        self._processes: list[_Process] = []
        self._factories: dict[str, Callable[[], _Process]] = {}

    # ---- addresses ---------------------------------------------------------------

    @property
    def rasa_names(self) -> list[str]:
        return [name for name in self.ports if name.partition("-")[0] == "rasa"]

    @property
    def gateway_names(self) -> list[str]:
        return [name for name in self.ports if name.partition("-")[0] == "gateway"]

    @property
    def rasa_urls(self) -> list[str]:
        return [f"http://{HOST}:{self.ports[name]}" for name in self.rasa_names]

    @property
    def bot_urls(self) -> list[str]:
        return [f"http://{HOST}:{self.ports[name]}" for name in self.gateway_names]

    @property
    def rasa_url(self) -> str:
        return self.rasa_urls[0]

    @property
    def actions_url(self) -> str:
        return f"http://{HOST}:{self.ports['actions']}"

    @property
    def bot_url(self) -> str:
        return self.bot_urls[0]

    @property
    def shares_state(self) -> bool:
        """Rasa's stores and the gateways' state live in servers (PostgreSQL, Redis), not in DATA_DIR files."""
        return bool(self.redis_url) or not _is_sqlite(self.rasa_tracker_url)

    @property
    def endpoints_path(self) -> Path:
        """The endpoints file Rasa reads: generated into DATA_DIR when its stores are shared."""
        return self.data_dir / GENERATED_ENDPOINTS if self.shares_state else self.repo / "endpoints.yml"

    # ---- lifecycle ---------------------------------------------------------------

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> Stack:
        for name, port in self.ports.items():
            if not port_is_free(port):
                raise StackError(f"port {port} for the {name} is in use (another stack running?)")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.shares_state:
            self._write_endpoints()
        for index, name in enumerate(self.rasa_names):
            self._factories[name] = lambda index=index: self._rasa_server(index)
        for index, name in enumerate(self.gateway_names):
            self._factories[name] = lambda index=index: self._gateway(index)
        self._factories["actions"] = self._action_server
        try:
            # The action server and the first Rasa start side by side. The first
            # Rasa alone creates the tracker's database and table (Rasa checks,
            # then creates: two at once would race); the others start once the
            # table is there, and load the model alongside it.
            actions = self._spawn(self._action_server())
            first_rasa, *other_names = self.rasa_names
            rasa = [self._spawn(self._factories[first_rasa]())]
            if other_names:
                self._wait_until(rasa[0], self._tracker_table_exists, "Rasa's tracker table")
                rasa += [self._spawn(self._factories[name]()) for name in other_names]
            self._wait_ready(actions)
            for process in rasa:
                self._wait_ready(process)
            # The gateways need Rasa. They may start together: each runs the app
            # database's migrations under a lock (bot/db.py), one after the other.
            for process in [self._spawn(self._factories[name]()) for name in self.gateway_names]:
                self._wait_ready(process)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM every process group, wait, then SIGKILL whatever is left."""
        # A second Ctrl-C while stopping must not cut the clean-up short.
        with _signals_deferred(signal.SIGINT, signal.SIGTERM):
            self._stop_all()

    def _stop_all(self) -> None:
        running = [p for p in self._processes if p.popen is not None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in running:
            assert process.popen is not None
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # Also reaps workers the leader left behind (e.g. Sanic's worker processes).
            _signal_group(process, signal.SIGKILL)
            process.popen.wait()
            if process.log_file:
                process.log_file.close()
        self._processes.clear()

    def restart(self, name: str) -> None:
        """Stop one process (e.g. "gateway", or "rasa-1" of several) and start it again; waits until it is ready.

        The tests use it to show that state kept in the databases (the handoff
        lock) survives a restart. A process stopped by `kill_rasa` starts again.
        """
        process = self._process_named(name)
        assert process.popen is not None
        _signal_group(process, signal.SIGTERM)
        try:
            process.popen.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.popen.wait()
        if process.log_file:
            process.log_file.close()
        self._processes.remove(process)
        self._wait_ready(self._spawn(self._factories[name]()))

    def kill_rasa(self, index: int) -> None:
        """SIGKILL the Rasa server `index` (0-based), as a crash would; the others go on.

        It stays down until `restart(stack.rasa_names[index])`.
        """
        self.kill(self.rasa_names[index])

    def kill(self, name: str) -> None:
        """SIGKILL one process (e.g. "gateway-1", "actions") and its workers, as a crash would.

        It stays down until `restart(name)`, or `revive()` for a Rasa server or gateway
        worker of several (bench/chaos.py kills each kind in turn).
        """
        process = self._process_named(name)
        assert process.popen is not None
        _signal_group(process, signal.SIGKILL)
        process.popen.wait()

    def processes_info(self) -> dict[str, int]:
        """Name -> pid of every running process (e.g. for CPU and memory sampling: count each
        with its descendants, the action server's Sanic serves from a worker process)."""
        return {p.name: p.popen.pid for p in self._processes if p.popen is not None and p.exited() is None}

    def first_exited(self) -> str | None:
        """Name of a process that has exited, if any (for supervision)."""
        return next((p.name for p in self._processes if p.exited() is not None), None)

    def revive(self, on_restart: Callable[[str], None] | None = None) -> str | None:
        """Supervision: start again each Rasa server or gateway worker that exited while
        another of its kind still serves (the failover covers the gap), and wait until it
        is ready. Returns the name of an exited process that has no such peer (the stack
        cannot go on without it), else None.
        """
        for process in list(self._processes):
            if process.exited() is None:
                continue
            kind = process.name.partition("-")[0]
            peers = [p for p in self._processes if p is not process and p.name.partition("-")[0] == kind
                     and p.exited() is None]
            if kind not in ("rasa", "gateway") or not peers:
                return process.name
            if on_restart is not None:
                on_restart(process.name)
            self.restart(process.name)
        return None

    def _process_named(self, name: str) -> _Process:
        found = next((p for p in self._processes if p.name == name), None)
        if found is None:
            raise StackError(f"no process named {name!r} (running: {', '.join(p.name for p in self._processes)})")
        return found

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    # ---- the three processes -------------------------------------------------------

    def _action_server(self) -> _Process:
        env = {**self._env, "SANIC_HOST": HOST}  # rasa-sdk binds 0.0.0.0 unless told
        argv = [self.app_python, "-m", "rasa_sdk", "--actions", "actions",
                "-p", str(self.ports["actions"])]
        return self._process("actions", argv, env, lambda: _http_ok(f"{self.actions_url}/health"))

    def _rasa_server(self, index: int = 0) -> _Process:
        name, url = self.rasa_names[index], self.rasa_urls[index]
        env = {**self._env, "RASA_AUTH_TOKEN": self.token}
        argv = [self.engine_python, "-c", RASA_LAUNCHER, "run", "--enable-api",
                "-i", HOST, "-p", str(self.ports[name]), "--model", str(self.model),
                "--endpoints", str(self.endpoints_path),
                "--credentials", str(self.repo / "credentials.yml")]

        def model_loaded() -> bool:
            data = _http_json(f"{url}/status", params={"token": self.token})
            return bool(data and data.get("model_file"))

        return self._process(name, argv, env, model_loaded)

    def _gateway(self, index: int = 0) -> _Process:
        name, url = self.gateway_names[index], self.bot_urls[index]
        env = {**self._env, "BOT_HOST": HOST, "BOT_PORT": str(self.ports[name])}
        # No access log: request paths carry the conversation id, which is its key.
        argv = [self.app_python, "-m", "uvicorn", "--factory", "bot.app:create_app",
                "--host", HOST, "--port", str(self.ports[name]), "--no-access-log",
                # Open console event streams must not hold a stopping gateway for long.
                "--timeout-graceful-shutdown", "3"]
        return self._process(name, argv, env, lambda: _http_ok(f"{url}/readyz"))

    def _base_env(self, extra_env: Mapping[str, str], extra_pythonpath: Sequence[str | Path]) -> dict[str, str]:
        pythonpath = [str(p) for p in extra_pythonpath] + [str(self.repo)]
        return {
            **os.environ,
            **QUIET_OFFLINE_ENV,
            "PYTHONPATH": os.pathsep.join(pythonpath),
            "DATA_DIR": str(self.data_dir),
            "RASA_TOKEN": self.token,
            "RASA_URL": self.rasa_url,
            "RASA_URLS": ",".join(self.rasa_urls),
            "RASA_PORT": str(self.ports[self.rasa_names[0]]),
            "ACTIONS_PORT": str(self.ports["actions"]),
            "ACTION_SERVER_URL": f"{self.actions_url}/webhook",
            "RASA_TRACKER_DB": str(self.data_dir / "rasa_tracker.db"),
            # What this stack was given, not what the calling shell happens to hold.
            "APP_DATABASE_URL": self.app_database_url,
            "RASA_TRACKER_URL": self.rasa_tracker_url,
            "REDIS_URL": self.redis_url,
            **({"TICKET_LOCK_LIFETIME": os.environ.get("TICKET_LOCK_LIFETIME") or str(TICKET_LOCK_LIFETIME_SECONDS)}
               if self.redis_url else {}),
            **extra_env,
        }

    def _write_endpoints(self) -> None:
        """Rasa's endpoints for shared stores: the repository's file, with the tracker
        store on RASA_TRACKER_URL and, with REDIS_URL, a Redis lock store."""
        endpoints = yaml.safe_load((self.repo / "endpoints.yml").read_text(encoding="utf-8")) or {}
        tracker = endpoints.get("tracker_store") or {"type": "SQL"}
        # Keeps the store's type (and its own options); only where it connects changes.
        endpoints["tracker_store"] = {
            **{k: v for k, v in tracker.items() if k not in SQL_CONNECTION_KEYS},
            **sql_store_endpoint(self.rasa_tracker_url, self.data_dir),
        }
        if self.redis_url:
            prefix = self._env.get("REDIS_KEY_PREFIX") or ""
            endpoints["lock_store"] = redis_lock_store_endpoint(self.redis_url, prefix)
        path = self.data_dir / GENERATED_ENDPOINTS
        # It may hold the database password: only the service's user reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"# Written by devtools/stack.py at start from {self.repo / 'endpoints.yml'}; "
                         "do not edit.\n")
            yaml.safe_dump(endpoints, handle, sort_keys=False, allow_unicode=True)

    def _process(self, name: str, argv: list[str], env: dict[str, str], is_ready: Callable[[], bool]) -> _Process:
        return _Process(name, argv, env, self.log_dir / f"{name}.log", is_ready)

    def _spawn(self, process: _Process) -> _Process:
        process.log_file = open(process.log_path, "ab")  # noqa: SIM115 (closed in stop())
        process.log_file.write(f"\n=== {time.strftime('%F %T')} {_shown(process.argv)}\n".encode())
        process.log_file.flush()
        process.popen = subprocess.Popen(
            process.argv,
            cwd=self.repo,
            env=process.env,
            stdin=subprocess.DEVNULL,
            stdout=process.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stopped as a whole, not by Ctrl-C
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self._processes.append(process)
        return process

    def _wait_ready(self, process: _Process) -> None:
        self._wait_until(process, process.is_ready, "ready")

    def _wait_until(self, process: _Process, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            code = process.exited()
            if code is not None:
                raise StackError(
                    f"the {process.name} exited with code {code} while starting; "
                    f"last lines of {process.log_path}:\n{self.log_tail(process.name)}"
                )
            if condition():
                return
            time.sleep(0.5)
        raise StackError(
            f"the {process.name} was not {what} after {self.startup_timeout:.0f}s; "
            f"last lines of {process.log_path}:\n{self.log_tail(process.name)}"
        )

    def _tracker_table_exists(self) -> bool:
        """Whether Rasa's `events` table is in RASA_TRACKER_URL (Rasa creates it, and the database)."""
        from sqlalchemy import create_engine, inspect
        from sqlalchemy.exc import SQLAlchemyError

        engine = create_engine(self.rasa_tracker_url, connect_args=_connect_timeout(self.rasa_tracker_url))
        try:
            with engine.connect() as connection:
                return inspect(connection).has_table("events")
        except SQLAlchemyError:  # the database itself may not exist yet
            return False
        finally:
            engine.dispose()


# ---- Rasa's shared stores ------------------------------------------------------------------

# Keys of Rasa's SQLTrackerStore that say where the database is (the rest are the store's own).
SQL_CONNECTION_KEYS = frozenset({"dialect", "url", "host", "port", "db", "username", "password",
                                 "login_db", "query"})


def sql_store_endpoint(url: str, data_dir: Path) -> dict[str, Any]:
    """A SQLAlchemy URL (e.g. postgresql+psycopg://user:pw@host:5432/db) as Rasa's SQLTrackerStore arguments.

    Rasa's engine environment has its own driver (psycopg2), so only the dialect is kept.
    For PostgreSQL, `login_db` lets Rasa create its database when it is missing.
    """
    parts = urlsplit(url)
    dialect = parts.scheme.partition("+")[0]
    if dialect == "sqlite":
        path = unquote(url.partition(":///")[2])
        return {"dialect": "sqlite", "db": str(Path(path) if path else data_dir / "rasa_tracker.db")}
    if dialect in ("postgres", "postgresql"):
        dialect = "postgresql"
    database = unquote(parts.path.lstrip("/"))
    if not (parts.hostname and database):
        raise StackError("RASA_TRACKER_URL needs a host and a database name, e.g. "
                         "postgresql+psycopg://postgres@127.0.0.1:5432/rasa_tracker")
    endpoint: dict[str, Any] = {"dialect": dialect, "url": parts.hostname, "db": database}
    if parts.port:
        endpoint["port"] = parts.port
    if parts.username:
        endpoint["username"] = unquote(parts.username)
    if parts.password:
        endpoint["password"] = unquote(parts.password)
    if dialect == "postgresql":
        endpoint["login_db"] = "postgres"
    if parts.query:
        endpoint["query"] = dict(parse_qsl(parts.query))
    return endpoint


def redis_lock_store_endpoint(url: str, key_prefix: str = "") -> dict[str, Any]:
    """REDIS_URL (redis://[:password@]host:port/db) as Rasa's Redis lock store arguments."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise StackError(f"REDIS_URL must look like redis://127.0.0.1:6379/0, not {url!r}")
    db = parts.path.lstrip("/") or "0"
    if not db.isdigit():
        raise StackError(f"REDIS_URL's database must be a number, not {db!r}")
    endpoint: dict[str, Any] = {"type": LOCK_STORE_CLASS, "url": parts.hostname, "port": parts.port or 6379,
                                "db": int(db), "key_prefix": lock_key_prefix(key_prefix)}
    if parts.username:
        endpoint["username"] = unquote(parts.username)
    if parts.password:
        endpoint["password"] = unquote(parts.password)
    if parts.scheme == "rediss":
        endpoint["use_ssl"] = True
    return endpoint


def lock_key_prefix(redis_key_prefix: str) -> str:
    """Rasa's lock keys beside the gateway's: REDIS_KEY_PREFIX reduced to what Rasa accepts (alphanumeric)."""
    return "".join(c for c in redis_key_prefix if c.isalnum()) or DEFAULT_LOCK_KEY_PREFIX


def _connect_timeout(url: str) -> dict[str, Any]:
    return {} if url.startswith("sqlite") else {"connect_timeout": 3}


def _is_sqlite(*urls: str | None) -> bool:
    return any(not url or url.startswith("sqlite") for url in urls)


def _numbered(kind: str, first_port: int, count: int) -> dict[str, int]:
    if count == 1:
        return {kind: first_port}
    return {f"{kind}-{i}": first_port + i for i in range(count)}


# ---- helpers ---------------------------------------------------------------------------


def default_python(kind: str) -> str:
    """ENGINE_PYTHON / APP_PYTHON, else the project's environment, else the trial venv."""
    explicit = os.environ.get(f"{kind.upper()}_PYTHON")
    if explicit:
        return explicit
    if kind == "app":
        return sys.executable  # this script runs in the app environment
    setup = REPO_ROOT / "scripts" / "setup_env.sh"
    if setup.exists():
        found = subprocess.run([str(setup), "--path", kind], capture_output=True, text=True)
        if found.returncode == 0 and Path(found.stdout.strip()).exists():
            return found.stdout.strip()
    trial = Path.home() / ".cache" / "tre-em" / f"{kind}-trial" / "bin" / "python"
    if trial.exists():
        return str(trial)
    raise StackError(f"no {kind} python found: set {kind.upper()}_PYTHON or run scripts/setup_env.sh {kind}")


def newest_model(models_dir: Path = REPO_ROOT / "models") -> Path | None:
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        # Like the servers themselves: a closed connection in TIME_WAIT does not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _http_json(url: str, params: dict[str, str] | None = None) -> Any:
    try:
        # trust_env=False: a proxy from the environment must not see loopback traffic.
        response = httpx.get(url, params=params, timeout=3.0, trust_env=False)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _http_ok(url: str) -> bool:
    return _http_json(url) is not None


def _signal_group(process: _Process, sig: signal.Signals) -> None:
    assert process.popen is not None
    try:
        os.killpg(process.popen.pid, sig)  # the group id is the leader's pid (start_new_session)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def _signals_deferred(*signals: signal.Signals) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _die_with_parent() -> None:
    # If this supervisor is killed outright (SIGKILL, a crashed test run), the
    # kernel sends SIGTERM to each direct child, which stops its own workers.
    # The kernel sends it when the *thread* that started the child ends: start (and
    # restart) processes from a thread that lives as long as they should (bench/chaos.py).
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _shown(argv: list[str]) -> str:
    return " ".join("<launcher>" if "\n" in a else shlex.quote(a) for a in argv)


# ---- command line ----------------------------------------------------------------------


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _port_from_env(name: str) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else DEFAULT_PORTS[name]
    except ValueError:
        raise SystemExit(f"{name} must be a port number, not {raw!r}") from None


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number, not {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="trained model (.tar.gz); default: the newest in models/")
    parser.add_argument("--engine-python", help="python of the engine environment (Rasa); default $ENGINE_PYTHON")
    parser.add_argument("--app-python", help="python of the app environment; default $APP_PYTHON or this python")
    parser.add_argument("--data-dir", help="databases, secrets and logs; default $DATA_DIR or ./var")
    parser.add_argument("--startup-timeout", type=float, default=DEFAULT_STARTUP_TIMEOUT)
    parser.add_argument("--rasa-processes", type=_positive, default=1, metavar="N",
                        help="Rasa servers on RASA_PORT, +1, ... (more than one needs REDIS_URL and PostgreSQL)")
    parser.add_argument("--gateway-workers", type=_positive, default=1, metavar="N",
                        help="gateway processes on BOT_PORT, +1, ... (more than one needs PostgreSQL)")
    args = parser.parse_args(argv)

    model = Path(args.model) if args.model else newest_model()
    if model is None:
        print("No model found in models/: train one first (make train).", file=sys.stderr)
        return 2

    # SIGTERM ends the run like Ctrl-C: leaving `with stack` stops the children.
    # SIGINT too, explicitly: a shell starting us in the background ignores it.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    demo = contextlib.ExitStack()
    try:
        # DEMO_CHANNELS=1: fake Telegram and Zalo platforms on loopback, each with a
        # page where a person types as a child of that channel (devtools/).
        demo_env = _start_demo_channels(demo) if os.environ.get("DEMO_CHANNELS") == "1" else {}
        stack = Stack(
            model=model,
            engine_python=args.engine_python,
            app_python=args.app_python,
            data_dir=args.data_dir,
            rasa_port=_port_from_env("RASA_PORT"),
            actions_port=_port_from_env("ACTIONS_PORT"),
            bot_port=_port_from_env("BOT_PORT"),
            startup_timeout=args.startup_timeout,
            extra_env=demo_env,
            rasa_processes=args.rasa_processes,
            gateway_workers=args.gateway_workers,
            # The shared stores come from the environment, as every other setting.
            app_database_url=os.environ.get("APP_DATABASE_URL") or None,
            rasa_tracker_url=os.environ.get("RASA_TRACKER_URL") or None,
            redis_url=os.environ.get("REDIS_URL") or None,
        )
        rasa = f"{args.rasa_processes} Rasa servers" if args.rasa_processes > 1 else "Rasa"
        gateways = f"{args.gateway_workers} gateway workers" if args.gateway_workers > 1 else "the gateway"
        print(f"Starting the action server, {rasa} ({model.name}) and {gateways}; logs in {stack.log_dir}",
              flush=True)
        with stack:
            others = "".join(f"\n          {url}/" for url in stack.bot_urls[1:])
            print(f"\nWeb chat: {stack.bot_url}/{others}\nAPI:      {stack.bot_url}/docs\n"
                  "Ctrl-C stops everything.", flush=True)
            for page in demo_env.get("DEMO_PAGES", "").split():
                name, url = page.split("=", 1)
                print(f"Demo {name} (type as a child of that channel): {url}/", flush=True)

            def restarting(name: str) -> None:
                print(f"\nThe {name} stopped unexpectedly; starting it again while the others of its kind "
                      f"serve. Last lines of its log:\n{stack.log_tail(name)}", file=sys.stderr, flush=True)

            while (dead := stack.revive(on_restart=restarting)) is None:
                time.sleep(1)
            print(f"\nThe {dead} stopped unexpectedly; stopping the rest. Last lines of its log:\n"
                  f"{stack.log_tail(dead)}", file=sys.stderr)
            return 1
    except StackError as error:
        print(f"Could not start: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopped.", flush=True)
        return 0
    finally:
        demo.close()


def _start_demo_channels(demo: contextlib.ExitStack) -> dict[str, str]:
    """Start the fake platforms in this process; return the gateway's settings for them."""
    from devtools.fake_telegram import FakeTelegram
    from devtools.fake_zalo import FakeZalo

    bot_port = _port_from_env("BOT_PORT")
    telegram = demo.enter_context(FakeTelegram(port=int(os.environ.get("DEMO_TELEGRAM_PORT") or 8081)))
    zalo = demo.enter_context(FakeZalo(webhook_url=f"http://{HOST}:{bot_port}/zalo/webhook",
                                       port=int(os.environ.get("DEMO_ZALO_PORT") or 8082),
                                       forgiving_refresh=True))
    # Telegram in polling mode (only a token: the laptop set-up); Zalo through its webhook.
    return {"TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE": telegram.api_base,
            "TELEGRAM_FILE_BASE": f"{telegram.url}/file/bot", "TELEGRAM_WEBHOOK_URL": "",
            **zalo.env(), "DEMO_PAGES": f"Telegram={telegram.url} Zalo={zalo.url}"}


if __name__ == "__main__":
    sys.exit(main())
