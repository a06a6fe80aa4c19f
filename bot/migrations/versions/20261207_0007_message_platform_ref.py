"""The channel's id of a person's message, so that a redone update stores it once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

`messages.platform_ref` (Telegram update_id, Zalo msg_id; NULL for the web chat and for
what the bot and counsellors say): an update handled again after a crash mid-turn finds the
message it stored the first time (bot/transcript.py `add_user_message`). Found by the chaos
run (docs/reliability.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database made before migrations by `create_all` (adopted by 0001) may have the column already.
    inspector = sa.inspect(op.get_bind())
    if 'platform_ref' not in {c['name'] for c in inspector.get_columns('messages')}:
        with op.batch_alter_table('messages') as batch:
            batch.add_column(sa.Column('platform_ref', sa.String(length=128), nullable=True))
    if 'ix_messages_conversation_id_platform_ref' not in {i['name'] for i in inspector.get_indexes('messages')}:
        op.create_index('ix_messages_conversation_id_platform_ref', 'messages', ['conversation_id', 'platform_ref'])


def downgrade() -> None:
    op.drop_index('ix_messages_conversation_id_platform_ref', table_name='messages')
    # SQLite rebuilds the table to drop a column: keep its AUTOINCREMENT (ids never reused).
    with op.batch_alter_table('messages', table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column('platform_ref')
