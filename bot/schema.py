"""Every module that defines tables of the app database on `bot.models.Base`.

Alembic's environment (bot/migrations/env.py) and the schema test import them
all, so autogenerate and the comparison see the whole schema. A module with
new tables is added here, together with its migration.
"""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "bot.models",
    "bot.cases.models",
    # push channels (bot/channels): inbox, outbox, message refs, Zalo tokens and windows
    "bot.inbox",
    "bot.outbox",
    "bot.channels.message_refs",
    "bot.channels.zalo_tokens",
    "bot.channels.zalo_windows",
    # privacy (bot/privacy): anonymous counts left of cases after their retention period
    "bot.privacy.models",
    # the case record and the child's feedback (bot/cases/record.py, bot/cases/feedback.py)
    "bot.cases.record",
    "bot.cases.feedback",
)


def load_all() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)
