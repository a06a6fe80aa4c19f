"""The structured case record and the child's feedback (issue #15).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

`case_records`: one per case, the counsellor's record beside the bot's triage
(bot/cases/record.py); deleted with its case. `feedback_prompts` and `child_feedback`:
the question asked after a case is closed and the answers, without identifiers
(bot/cases/feedback.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'case_records',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('bot_categories', sa.JSON(), nullable=False),
        sa.Column('categories', sa.JSON(), nullable=False),
        sa.Column('age_band', sa.String(length=16), nullable=False),
        sa.Column('gender', sa.String(length=16), nullable=False),
        sa.Column('contact', sa.String(length=16), nullable=False),
        sa.Column('province', sa.String(length=8), nullable=False),
        sa.Column('commune', sa.Text(), nullable=True),
        sa.Column('referrals', sa.JSON(), nullable=False),
        sa.Column('follow_up_on', sa.Date(), nullable=True),
        sa.Column('follow_up_done_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('counsellor_risk', sa.String(length=16), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_records_case_id_cases'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['updated_by_id'], ['staff_users.id'],
                                name=op.f('fk_case_records_updated_by_id_staff_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_records')),
        sa.UniqueConstraint('case_id', name=op.f('uq_case_records_case_id')),
    )
    op.create_index('ix_case_records_follow_up_on', 'case_records', ['follow_up_on'], unique=False)
    op.create_table(
        'feedback_prompts',
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('counsellor_id', sa.Integer(), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('token', name=op.f('pk_feedback_prompts')),
    )
    op.create_table(
        'child_feedback',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('answered_on', sa.Date(), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('counsellor_id', sa.Integer(), nullable=True),
        sa.Column('answer', sa.String(length=16), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('comment_from', sa.Integer(), nullable=True),
        sa.Column('comment_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_child_feedback')),
    )
    op.create_index('ix_child_feedback_answered_on', 'child_feedback', ['answered_on'], unique=False)
    op.create_index('ix_child_feedback_comment_from', 'child_feedback', ['comment_from'], unique=False)
    # The reports select cases and conversations by their first day, and find a case's first
    # counsellor message (a database made with create_all from today's models has them already).
    for name, table, columns in (('ix_cases_created_at', 'cases', ['created_at']),
                                 ('ix_conversations_created_at', 'conversations', ['created_at']),
                                 ('ix_case_entries_first_reply', 'case_entries', ['case_id', 'sender', 'created_at'])):
        if name not in {index['name'] for index in sa.inspect(op.get_bind()).get_indexes(table)}:
            op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_entries_first_reply', table_name='case_entries')
    op.drop_index('ix_conversations_created_at', table_name='conversations')
    op.drop_index('ix_cases_created_at', table_name='cases')
    op.drop_index('ix_child_feedback_comment_from', table_name='child_feedback')
    op.drop_index('ix_child_feedback_answered_on', table_name='child_feedback')
    op.drop_table('child_feedback')
    op.drop_table('feedback_prompts')
    op.drop_index('ix_case_records_follow_up_on', table_name='case_records')
    op.drop_table('case_records')
