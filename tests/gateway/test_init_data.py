from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect

from bot.settings import REPO_ROOT


def test_init_data_creates_the_token_and_tables_and_can_run_twice(tmp_path: Path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO_ROOT)}
    env.pop("RASA_TOKEN", None)
    env.pop("APP_DATABASE_URL", None)
    for _ in range(2):
        subprocess.run([sys.executable, "-m", "bot.init_data"], env=env, check=True, cwd=tmp_path)

    assert (tmp_path / "data" / "secrets" / "rasa_token").read_text().strip()
    tables = inspect(create_engine(f"sqlite:///{tmp_path / 'data' / 'app.db'}")).get_table_names()
    assert {"conversations", "messages", "offered_buttons"} <= set(tables)
