"""Editing in the console (issue #16): card versions, the serving version, unanswered questions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_card_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("based_on_id", sa.Integer(), nullable=True),
        sa.Column("restored_from_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewer", sa.String(length=64), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_card_versions")),
    )
    op.create_index(op.f("ix_kb_card_versions_card_id"), "kb_card_versions", ["card_id"])
    op.create_index(op.f("ix_kb_card_versions_status"), "kb_card_versions", ["status"])
    op.create_table(
        "kb_serving_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_serving_version")),
    )
    op.create_table(
        "kb_unanswered",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("audience", sa.String(length=8), nullable=True),
        sa.Column("closest_card", sa.String(length=120), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_unanswered")),
    )
    op.create_index(op.f("ix_kb_unanswered_created_at"), "kb_unanswered", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_kb_unanswered_created_at"), table_name="kb_unanswered")
    op.drop_table("kb_unanswered")
    op.drop_table("kb_serving_version")
    op.drop_index(op.f("ix_kb_card_versions_status"), table_name="kb_card_versions")
    op.drop_index(op.f("ix_kb_card_versions_card_id"), table_name="kb_card_versions")
    op.drop_table("kb_card_versions")
