"""`python -m devtools.stack` from the command line: starts everything, and SIGTERM leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench import procstats

from devtools.ports import free_port
from devtools.stack import REPO_ROOT

pytestmark = pytest.mark.e2e


def descendants(pid: int) -> set[int]:
    return set(procstats.process_tree(pid)) - {pid}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_every_process(trained_model: Path, engine_python: str, tmp_path: Path) -> None:
    bot_port = free_port()
    env = {**os.environ, "RASA_PORT": str(free_port()), "ACTIONS_PORT": str(free_port()),
           "BOT_PORT": str(bot_port)}
    env.pop("RASA_TOKEN", None)
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "devtools.stack", "--model", str(trained_model),
         "--engine-python", engine_python, "--data-dir", str(tmp_path)],
        env={**env, "PYTHONPATH": str(REPO_ROOT)}, cwd=REPO_ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        # Wait for what a person waits for: the printed address, which the stack
        # prints once all three services are ready (polling the gateway's port
        # instead raced the stack's own readiness check). The stack gives up by
        # itself after its start-up timeout, which ends this loop too.
        printed = []
        assert supervisor.stdout is not None
        for line in supervisor.stdout:
            printed.append(line)
            if f"http://127.0.0.1:{bot_port}/" in line:
                break
        else:
            pytest.fail("the stack exited before printing its address:\n" + "".join(printed))
        started = descendants(supervisor.pid)
        assert len(started) >= 3

        supervisor.send_signal(signal.SIGTERM)
        rest, _ = supervisor.communicate(timeout=60)
        output = "".join(printed) + rest
    finally:
        if supervisor.poll() is None:
            supervisor.kill()

    assert supervisor.returncode == 0, output
    assert f"http://127.0.0.1:{bot_port}/" in output
    assert not [pid for pid in started if alive(pid)], "processes left behind"
    assert (tmp_path / "secrets" / "rasa_token").stat().st_mode & 0o077 == 0
