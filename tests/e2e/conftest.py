"""Fixtures that run the whole bot: real Rasa server, action server and gateway.

Which model: $MODEL (the Makefile passes the one it trained), else what
`scripts/train_model.py` prints (it trains only when the inputs changed), else
the newest `models/*.tar.gz`. Pythons: $ENGINE_PYTHON / $APP_PYTHON, else the
project's environments (scripts/setup_env.sh), else the trial venvs.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.ports import free_port
from devtools.stack import REPO_ROOT, Stack, StackError, default_python, newest_model
from tests.unavailable import unavailable

NETGUARD_DIR = REPO_ROOT / "tests" / "netguard"


@pytest.fixture(scope="session")
def engine_python() -> str:
    try:
        return default_python("engine")
    except StackError as error:
        unavailable(str(error))
        raise


@pytest.fixture(scope="session")
def trained_model(engine_python: str) -> Path:
    if os.environ.get("MODEL"):
        return Path(os.environ["MODEL"])
    train = REPO_ROOT / "scripts" / "train_model.py"
    if train.exists():
        result = subprocess.run(
            [engine_python, str(train)],
            cwd=REPO_ROOT,
            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(REPO_ROOT)},
            stdout=subprocess.PIPE,
            text=True,
            timeout=3600,
        )
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            pytest.fail(f"scripts/train_model.py failed (exit {result.returncode})")
        return Path(lines[-1])
    model = newest_model()
    if model is None:
        unavailable("no trained model: run `make train` (or set MODEL=<path>)")
    assert model is not None
    return model


@pytest.fixture(scope="session")
def netguard_log() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="netguard-") as directory:
        yield Path(directory) / "netguard.log"


@pytest.fixture(scope="session")
def stack(trained_model: Path, engine_python: str, netguard_log: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The three processes on free loopback ports, with a fresh DATA_DIR.

    The network guard (tests/netguard) is on every process's PYTHONPATH: any
    connection or name lookup outside loopback is refused and recorded.
    """
    data_dir = tmp_path_factory.mktemp("stack-data")
    with Stack(
        model=trained_model,
        engine_python=engine_python,
        data_dir=data_dir,
        rasa_port=free_port(),
        actions_port=free_port(),
        bot_port=free_port(),
        # A database URL from the developer's environment must not be touched.
        extra_env={"NETGUARD_LOG": str(netguard_log), "NETGUARD_MODE": "refuse",
                   "APP_DATABASE_URL": f"sqlite:///{data_dir / 'app.db'}",
                   # The dialogue's own replies are checked in each response, however slow the
                   # machine: the busy reply (bot/admission.py) has its own tests.
                   "RASA_REPLY_DEADLINE_SECONDS": "300"},
        extra_pythonpath=[NETGUARD_DIR],
    ) as running:
        yield running
