"""Honest dates and provenance (issue #16).

Cards: `checked_on` (the day the facts were last checked against the text) replaces
`valid_as_of`; `quotes` names an older version of a text a card quotes; `sources` says
where the numbers in its answers come from. Resources: `source` (the official page for
the number) and `checked`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

The content tables are rewritten from the YAML on every load (the content format
version changed too), so existing rows only need their columns renamed or defaulted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kb_cards") as batch:
        batch.alter_column("valid_as_of", new_column_name="checked_on", existing_type=sa.Date(),
                           existing_nullable=False)
        batch.add_column(sa.Column("quotes", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("sources", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("kb_resources") as batch:
        batch.add_column(sa.Column("source", sa.String(length=500), nullable=False, server_default=""))
        batch.add_column(sa.Column("checked", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kb_resources") as batch:
        batch.drop_column("checked")
        batch.drop_column("source")
    with op.batch_alter_table("kb_cards") as batch:
        batch.drop_column("sources")
        batch.drop_column("quotes")
        batch.alter_column("checked_on", new_column_name="valid_as_of", existing_type=sa.Date(),
                           existing_nullable=False)
