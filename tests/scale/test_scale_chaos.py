"""The chaos run, short: `bench/chaos.py --minutes 2` with 12 children must print its table with
every invariant held (docs/reliability.md has the full 10-minute run, `make chaos`).

Several minutes of the whole machine (its own stack, a private PostgreSQL and Redis, a Rasa
server restarted under load): marked `chaos`, run by `make test-scale` and left out of `make test`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.stack import REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.chaos]

SHORT_RUN = ["--minutes", "2", "--children", "12", "--disclosers", "2", "--forgetters", "2", "--think", "3,8"]


@pytest.mark.xfail(strict=True, reason=(
    "open findings of docs/reliability.md: after a busy reply a child's next messages can be stored out of "
    "order, and a turn lock held by a hanging turn stalls a conversation. Strict: once fixed, this passes "
    "and the marker must go."))
def test_a_short_chaos_run_holds_every_invariant(trained_model: Path, engine_python: str, tmp_path: Path) -> None:
    if os.geteuid() == 0 and subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
        pytest.skip("running as root without a 'postgres' user to run the private PostgreSQL as")
    env = {**os.environ, "ENGINE_PYTHON": engine_python, "PYTHONPATH": str(REPO_ROOT)}
    run = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "chaos.py"), "--model", str(trained_model),
                          *SHORT_RUN, "--keep-logs", str(tmp_path / "logs")],
                         capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=1800)
    table = run.stdout[run.stdout.find("| invariant |"):]
    assert "| invariant |" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.returncode == 0 and "**NO**" not in table, table
