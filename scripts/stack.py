"""Start and supervise the bot's three processes, all on 127.0.0.1.

    <app python> scripts/stack.py --model models/<name>.tar.gz

1. action server   <app python> -m rasa_sdk --actions actions         ACTIONS_PORT (5055)
2. Rasa server     <engine python> -m rasa run --enable-api ...       RASA_PORT (5005)
3. gateway         <app python> -m uvicorn --factory bot.app:create_app  BOT_PORT (8000)

Waits until each is ready (action server `/health`; Rasa `/status`, with the
token, shows the model loaded; gateway `/readyz`), prints the web chat
address, and on Ctrl-C or SIGTERM stops every process it started, each in
its own process group, so nothing is left behind. If one of them dies, the
others are stopped too and the tail of its log is printed.

Also a library, used by the end-to-end tests:

    with Stack(model=..., rasa_port=..., actions_port=..., bot_port=..., data_dir=tmp) as stack:
        httpx.post(stack.bot_url + "/api/webchat/.../messages", json={"text": "xin chào"})
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

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make `bot` importable
    sys.path.insert(0, str(REPO_ROOT))

from bot.settings import read_or_create_token  # noqa: E402

HOST = "127.0.0.1"
DEFAULT_PORTS = {"RASA_PORT": 5005, "ACTIONS_PORT": 5055, "BOT_PORT": 8000}
# Loading TensorFlow and the model takes a while on 2 cores.
DEFAULT_STARTUP_TIMEOUT = 300.0
STOP_GRACE_SECONDS = 15.0

# Rasa only takes the API token on its command line, where every local user can
# read it (ps). This launcher adds it from the environment inside the process,
# as `--auth-token=<token>`: a token may begin with "-" (token_urlsafe), which
# argparse would take for an option after a separate `--auth-token`.
RASA_LAUNCHER = (
    "import os, sys\n"
    "from bot.privacy.redaction import install\n"  # stdlib only: redact Rasa's log lines too
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
    ) -> None:
        self.repo = Path(repo).resolve()
        self.model = Path(model).resolve()
        if not self.model.is_file():
            raise StackError(f"model file not found: {self.model}")
        self.engine_python = engine_python or default_python("engine")
        self.app_python = app_python or default_python("app")
        self.data_dir = Path(data_dir or os.environ.get("DATA_DIR") or self.repo / "var").resolve()
        self.ports = {"rasa": rasa_port, "actions": actions_port, "gateway": bot_port}
        self.startup_timeout = startup_timeout
        self.log_dir = self.data_dir / "logs"
        self.token = os.environ.get("RASA_TOKEN") or read_or_create_token(self.data_dir)
        self._env = self._base_env(extra_env or {}, extra_pythonpath)
        self._processes: list[_Process] = []

    # ---- addresses ---------------------------------------------------------------

    @property
    def rasa_url(self) -> str:
        return f"http://{HOST}:{self.ports['rasa']}"

    @property
    def actions_url(self) -> str:
        return f"http://{HOST}:{self.ports['actions']}"

    @property
    def bot_url(self) -> str:
        return f"http://{HOST}:{self.ports['gateway']}"

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
        try:
            # The action server and Rasa start side by side; the gateway needs Rasa.
            actions, rasa = self._spawn(self._action_server()), self._spawn(self._rasa_server())
            self._wait_ready(actions)
            self._wait_ready(rasa)
            self._wait_ready(self._spawn(self._gateway()))
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
        """Stop one process (e.g. "gateway") and start it again; waits until it is ready.

        The tests use it to show that state kept in the databases (the handoff
        lock) survives a restart.
        """
        process = next(p for p in self._processes if p.name == name)
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
        fresh = {"actions": self._action_server, "rasa": self._rasa_server, "gateway": self._gateway}[name]()
        self._wait_ready(self._spawn(fresh))

    def first_exited(self) -> str | None:
        """Name of a process that has exited, if any (for supervision)."""
        return next((p.name for p in self._processes if p.exited() is not None), None)

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

    def _rasa_server(self) -> _Process:
        env = {**self._env, "RASA_AUTH_TOKEN": self.token}
        argv = [self.engine_python, "-c", RASA_LAUNCHER, "run", "--enable-api",
                "-i", HOST, "-p", str(self.ports["rasa"]), "--model", str(self.model),
                "--endpoints", str(self.repo / "endpoints.yml"),
                "--credentials", str(self.repo / "credentials.yml")]

        def model_loaded() -> bool:
            data = _http_json(f"{self.rasa_url}/status", params={"token": self.token})
            return bool(data and data.get("model_file"))

        return self._process("rasa", argv, env, model_loaded)

    def _gateway(self) -> _Process:
        env = {**self._env, "BOT_HOST": HOST, "BOT_PORT": str(self.ports["gateway"])}
        # No access log: request paths carry the conversation id, which is its key.
        argv = [self.app_python, "-m", "uvicorn", "--factory", "bot.app:create_app",
                "--host", HOST, "--port", str(self.ports["gateway"]), "--no-access-log",
                # Open console event streams must not hold a stopping gateway for long.
                "--timeout-graceful-shutdown", "3"]
        return self._process("gateway", argv, env, lambda: _http_ok(f"{self.bot_url}/readyz"))

    def _base_env(self, extra_env: Mapping[str, str], extra_pythonpath: Sequence[str | Path]) -> dict[str, str]:
        pythonpath = [str(p) for p in extra_pythonpath] + [str(self.repo)]
        return {
            **os.environ,
            **QUIET_OFFLINE_ENV,
            "PYTHONPATH": os.pathsep.join(pythonpath),
            "DATA_DIR": str(self.data_dir),
            "RASA_TOKEN": self.token,
            "RASA_URL": self.rasa_url,
            "RASA_PORT": str(self.ports["rasa"]),
            "ACTIONS_PORT": str(self.ports["actions"]),
            "ACTION_SERVER_URL": f"{self.actions_url}/webhook",
            "RASA_TRACKER_DB": str(self.data_dir / "rasa_tracker.db"),
            **extra_env,
        }

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
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            code = process.exited()
            if code is not None:
                raise StackError(
                    f"the {process.name} exited with code {code} while starting; "
                    f"last lines of {process.log_path}:\n{self.log_tail(process.name)}"
                )
            if process.is_ready():
                return
            time.sleep(0.5)
        raise StackError(
            f"the {process.name} was not ready after {self.startup_timeout:.0f}s; "
            f"last lines of {process.log_path}:\n{self.log_tail(process.name)}"
        )


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="trained model (.tar.gz); default: the newest in models/")
    parser.add_argument("--engine-python", help="python of the engine environment (Rasa); default $ENGINE_PYTHON")
    parser.add_argument("--app-python", help="python of the app environment; default $APP_PYTHON or this python")
    parser.add_argument("--data-dir", help="databases, secrets and logs; default $DATA_DIR or ./var")
    parser.add_argument("--startup-timeout", type=float, default=DEFAULT_STARTUP_TIMEOUT)
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
        )
        print(f"Starting the action server, Rasa ({model.name}) and the gateway; logs in {stack.log_dir}",
              flush=True)
        with stack:
            print(f"\nWeb chat: {stack.bot_url}/\nAPI:      {stack.bot_url}/docs\n"
                  "Ctrl-C stops everything.", flush=True)
            for page in demo_env.get("DEMO_PAGES", "").split():
                name, url = page.split("=", 1)
                print(f"Demo {name} (type as a child of that channel): {url}/", flush=True)
            while (dead := stack.first_exited()) is None:
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
