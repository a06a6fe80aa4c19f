"""Knowledge-base tables: documents, provisions, topics, cards, resources, feedback.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Written to run unchanged on SQLite and PostgreSQL (named constraints, no
dialect types). tests/kb/test_database.py checks it matches models.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _position() -> sa.Column:
    return sa.Column("position", sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "kb_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("short_name", sa.String(length=200), nullable=False),
        sa.Column("issued", sa.Date(), nullable=True),
        sa.Column("in_force", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("replaced_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        _position(),
        sa.PrimaryKeyConstraint("id", name="pk_kb_documents"),
        sa.UniqueConstraint("number", name="uq_kb_documents_number"),
    )
    op.create_table(
        "kb_document_amendments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("amended_by", sa.String(length=64), nullable=False),
        _position(),
        sa.ForeignKeyConstraint(["document_id"], ["kb_documents.id"], ondelete="CASCADE",
                                name="fk_kb_document_amendments_document_id_kb_documents"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_document_amendments"),
    )
    op.create_index("ix_kb_document_amendments_document_id", "kb_document_amendments", ["document_id"])
    op.create_table(
        "kb_provisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("article", sa.String(length=16), nullable=False),
        sa.Column("clause", sa.String(length=16), nullable=True),
        sa.Column("short_title", sa.String(length=300), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        _position(),
        sa.ForeignKeyConstraint(["document_id"], ["kb_documents.id"], ondelete="CASCADE",
                                name="fk_kb_provisions_document_id_kb_documents"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_provisions"),
        sa.UniqueConstraint("document_id", "article", "clause", name="uq_kb_provisions_citation"),
    )
    op.create_index("ix_kb_provisions_document_id", "kb_provisions", ["document_id"])
    op.create_table(
        "kb_topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        _position(),
        sa.PrimaryKeyConstraint("id", name="pk_kb_topics"),
        sa.UniqueConstraint("slug", name="uq_kb_topics_slug"),
    )
    op.create_table(
        "kb_cards",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("audience", sa.String(length=8), nullable=False),
        sa.Column("child_answer", sa.JSON(), nullable=False),
        sa.Column("parent_answer", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("valid_as_of", sa.Date(), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
        sa.Column("source_file", sa.String(length=200), nullable=False),
        _position(),
        sa.ForeignKeyConstraint(["topic_id"], ["kb_topics.id"], ondelete="CASCADE",
                                name="fk_kb_cards_topic_id_kb_topics"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_cards"),
    )
    op.create_index("ix_kb_cards_topic_id", "kb_cards", ["topic_id"])
    op.create_table(
        "kb_card_intents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.String(length=120), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=False),
        _position(),
        sa.ForeignKeyConstraint(["card_id"], ["kb_cards.id"], ondelete="CASCADE",
                                name="fk_kb_card_intents_card_id_kb_cards"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_card_intents"),
        sa.UniqueConstraint("card_id", "intent", name="uq_kb_card_intents_card_intent"),
    )
    op.create_index("ix_kb_card_intents_card_id", "kb_card_intents", ["card_id"])
    op.create_index("ix_kb_card_intents_intent", "kb_card_intents", ["intent"])
    op.create_table(
        "kb_card_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _position(),
        sa.ForeignKeyConstraint(["card_id"], ["kb_cards.id"], ondelete="CASCADE",
                                name="fk_kb_card_questions_card_id_kb_cards"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_card_questions"),
    )
    op.create_index("ix_kb_card_questions_card_id", "kb_card_questions", ["card_id"])
    op.create_table(
        "kb_card_citations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.String(length=120), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("article", sa.String(length=16), nullable=True),
        sa.Column("clause", sa.String(length=16), nullable=True),
        sa.Column("provision_id", sa.Integer(), nullable=True),
        _position(),
        sa.ForeignKeyConstraint(["card_id"], ["kb_cards.id"], ondelete="CASCADE",
                                name="fk_kb_card_citations_card_id_kb_cards"),
        sa.ForeignKeyConstraint(["document_id"], ["kb_documents.id"], ondelete="CASCADE",
                                name="fk_kb_card_citations_document_id_kb_documents"),
        sa.ForeignKeyConstraint(["provision_id"], ["kb_provisions.id"], ondelete="SET NULL",
                                name="fk_kb_card_citations_provision_id_kb_provisions"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_card_citations"),
    )
    op.create_index("ix_kb_card_citations_card_id", "kb_card_citations", ["card_id"])
    op.create_index("ix_kb_card_citations_document_id", "kb_card_citations", ["document_id"])
    op.create_index("ix_kb_card_citations_provision_id", "kb_card_citations", ["provision_id"])
    op.create_table(
        "kb_card_follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.String(length=120), nullable=False),
        sa.Column("follow_up_id", sa.String(length=120), nullable=False),
        _position(),
        sa.ForeignKeyConstraint(["card_id"], ["kb_cards.id"], ondelete="CASCADE",
                                name="fk_kb_card_follow_ups_card_id_kb_cards"),
        sa.ForeignKeyConstraint(["follow_up_id"], ["kb_cards.id"], ondelete="CASCADE",
                                name="fk_kb_card_follow_ups_follow_up_id_kb_cards"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_card_follow_ups"),
    )
    op.create_index("ix_kb_card_follow_ups_card_id", "kb_card_follow_ups", ["card_id"])
    op.create_table(
        "kb_resources",
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("hours", sa.String(length=100), nullable=False),
        sa.Column("cost", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _position(),
        sa.PrimaryKeyConstraint("slug", name="pk_kb_resources"),
    )
    op.create_table(
        "kb_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.String(length=120), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("audience", sa.String(length=8), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_feedback"),
    )
    op.create_index("ix_kb_feedback_card_id", "kb_feedback", ["card_id"])
    op.create_table(
        "kb_content_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("card_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_content_state"),
    )


def downgrade() -> None:
    for table in ("kb_content_state", "kb_feedback", "kb_resources", "kb_card_follow_ups",
                  "kb_card_citations", "kb_card_questions", "kb_card_intents", "kb_cards",
                  "kb_topics", "kb_provisions", "kb_document_amendments", "kb_documents"):
        op.drop_table(table)  # indexes go with their table
