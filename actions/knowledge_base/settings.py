"""Where the knowledge base finds its database and its content.

The one place the knowledge base reads configuration. The data directory comes
from `bot.settings` (the project's only settings module); `KB_DATABASE_URL` is
read here until `bot.settings.Settings` grows a `kb_database_url` field, after
which this function only forwards it.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent.parent
DEFAULT_CONTENT_DIR = PACKAGE_DIR / "content"


def kb_database_url() -> str:
    """`KB_DATABASE_URL`, default `sqlite:///<DATA_DIR>/kb.db`.

    PostgreSQL works through the same setting: `postgresql+psycopg://user@host/db`.
    """
    from bot.settings import get_settings  # app environment only; imported late for the CLI's --help

    settings = get_settings()
    configured = getattr(settings, "kb_database_url", None) or os.environ.get("KB_DATABASE_URL", "").strip()
    return configured or f"sqlite:///{Path(settings.data_dir) / 'kb.db'}"


def kb_content_dir() -> Path:
    """The reviewed YAML content (`KB_CONTENT_DIR` overrides it, for staff previews and tests)."""
    configured = os.environ.get("KB_CONTENT_DIR", "").strip()
    return Path(configured).expanduser().resolve() if configured else DEFAULT_CONTENT_DIR
