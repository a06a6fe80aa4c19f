"""Where the knowledge base finds its database and its content.

The database URL is a field of `bot.settings` (the project's only settings module);
the content directory, a staff preview and test switch, is read here.
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

    return get_settings().kb_database_url


def kb_reload_seconds() -> int:
    """`KB_RELOAD_SECONDS` (default 20): how often at most the action server asks the database
    whether editors published something (a card published is answered within this time)."""
    from bot.settings import get_settings

    return get_settings().kb_reload_seconds


def retention_days() -> int:
    """RETENTION_CONVERSATION_DAYS: how long questions nobody answered are kept (`unanswered.py`),
    like the conversations they came from."""
    from bot.settings import get_settings

    return get_settings().retention_conversation_days


def retention_check_seconds() -> int:
    """RETENTION_CHECK_SECONDS: how often what is past retention is looked for."""
    from bot.settings import get_settings

    return get_settings().retention_check_seconds


def kb_content_dir() -> Path:
    """The reviewed YAML content (`KB_CONTENT_DIR` overrides it, for staff previews and tests)."""
    configured = os.environ.get("KB_CONTENT_DIR", "").strip()
    return Path(configured).expanduser().resolve() if configured else DEFAULT_CONTENT_DIR
