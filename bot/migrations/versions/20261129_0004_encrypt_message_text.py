"""Message text at rest: encrypt the transcript, the outbox and stored webhook updates.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

`messages.text`, `outbox.text` and `inbound_updates.payload` now hold Fernet
tokens under the case keys (bot.at_rest, bot.cases.crypto). The payload column
becomes TEXT (encrypted JSON). Existing rows are encrypted in place with the
keyring of the Database being migrated (`bot.db.migrate` passes it; the
`alembic` command line loads it from the settings). Downgrade decrypts them
back to plain text.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from bot.cases.crypto import CaseKeyError, Keyring

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

BATCH = 500
# (table, column) of everything a child wrote or was answered, outside the case tables.
COLUMNS = (("messages", "text"), ("outbox", "text"), ("inbound_updates", "payload"))


def upgrade() -> None:
    keyring = _keyring()
    if keyring is None and any(_has_rows(table, column) for table, column in COLUMNS):
        # Checked before any DDL: SQLite would keep half a table rebuild behind.
        raise CaseKeyError("messages to encrypt but no keyring given: migrate with Database.from_settings(settings)")
    with op.batch_alter_table('inbound_updates', schema=None) as batch_op:
        batch_op.alter_column('payload', existing_type=sa.JSON(), type_=sa.Text(), existing_nullable=True,
                              postgresql_using='payload::text')
    for table, column in COLUMNS:
        _convert(table, column, _encrypt_if_plain)


def downgrade() -> None:
    for table, column in COLUMNS:
        _convert(table, column, lambda keyring, value: keyring.decrypt(value))
    with op.batch_alter_table('inbound_updates', schema=None) as batch_op:
        batch_op.alter_column('payload', existing_type=sa.Text(), type_=sa.JSON(), existing_nullable=True,
                              postgresql_using='payload::json')


def _encrypt_if_plain(keyring: Keyring, value: str) -> str:
    try:
        keyring.decrypt(value)
    except CaseKeyError:
        return keyring.encrypt(value)
    return value  # already a token (a re-run after a partial upgrade)


def _keyring() -> Keyring | None:
    """The migrated Database's keyring (bot.db.migrate); from the settings on the `alembic` command line."""
    config = op.get_context().config
    if config is None:
        return None
    if 'keyring' not in config.attributes:
        from bot.cases.crypto import load_keyring
        from bot.settings import get_settings

        settings = get_settings()
        config.attributes['keyring'] = load_keyring(settings.case_encryption_keys, settings.data_dir)
    return config.attributes['keyring']


def _has_rows(table_name: str, column: str) -> bool:
    table = sa.table(table_name, sa.column('id', sa.Integer()), sa.column(column, sa.Text()))
    return op.get_bind().execute(sa.select(table.c.id).where(table.c[column].is_not(None)).limit(1)).first() is not None


def _convert(table_name: str, column: str, change: Callable[[Keyring, str], str]) -> None:
    connection = op.get_bind()
    table = sa.table(table_name, sa.column('id', sa.Integer()), sa.column(column, sa.Text()))
    value_column = table.c[column]
    keyring = _keyring()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(table.c.id, value_column)
            .where(table.c.id > last, value_column.is_not(None))
            .order_by(table.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        if keyring is None:
            raise CaseKeyError(f"{table_name}.{column} has rows to convert but no keyring was given: "
                               "migrate with Database.from_settings(settings)")
        for row_id, value in rows:
            connection.execute(sa.update(table).where(table.c.id == row_id)
                               .values({column: change(keyring, value)}))
        last = rows[-1][0]
