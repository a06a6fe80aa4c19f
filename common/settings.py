"""Settings helpers every runtime needs (each runtime reads its own settings).

The gateway's and the action server's settings are bot/settings.py; the Rasa
engine's plug-ins read theirs from the environment Rasa was started with.
Both keep generated secrets under `$DATA_DIR/secrets`.
"""

from __future__ import annotations

from pathlib import Path


def secrets_dir(data_dir: Path) -> Path:
    """`<data_dir>/secrets`, created if missing; only the service's user may read either."""
    # Only the service's user may read DATA_DIR: it holds children's conversations.
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory = data_dir / "secrets"
    directory.mkdir(exist_ok=True, mode=0o700)
    return directory
