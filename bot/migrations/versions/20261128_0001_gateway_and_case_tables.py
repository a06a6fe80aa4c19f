"""Gateway and case tables: the first revision of the app database.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Written to run unchanged on SQLite and PostgreSQL (named constraints, no
dialect types). The gateway's own tables (conversations, messages,
offered_buttons) are adopted when a database made by the old create_all()
already has them. The audit log is append-only: triggers refuse UPDATE and
DELETE. tests/cases/test_migrations.py checks this file matches the models.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GATEWAY_TABLES = ("conversations", "messages", "offered_buttons")
CASE_TABLES = ("staff_users", "console_sessions", "cases", "case_events", "case_entries",
               "case_notes", "canned_responses", "audit_log")

SEEDED_AT = datetime(2026, 11, 28, tzinfo=UTC)
# Replies counsellors start from; supervisors edit them in the console.
CANNED_RESPONSES = (
    ("Chào hỏi", "Chào em, anh/chị là tư vấn viên của Tổng đài 111. Anh/chị đã đọc những gì em "
                 "kể với Mây. Cảm ơn em đã nói ra. Bây giờ em có đang ở chỗ an toàn không?"),
    ("Hỏi về an toàn", "Ngay lúc này có ai đang làm em sợ hoặc làm em đau ở gần em không?"),
    ("Không phải lỗi của em", "Chuyện này không phải lỗi của em. Em đã làm đúng khi kể ra."),
    ("Người lớn tin cậy", "Em có người lớn nào mà em tin tưởng không, như ông bà, cô chú, "
                          "thầy cô? Em có thể kể với ai trong số đó?"),
    ("Số khẩn cấp", "Nếu em gặp nguy hiểm ngay, em gọi 113 (công an). Nếu em bị thương, "
                    "gọi 115 (cấp cứu). Em có thể gọi 111 bất cứ lúc nào, miễn phí."),
    ("Kết thúc", "Anh/chị sẽ kết thúc cuộc trò chuyện ở đây. Khi nào cần, em cứ nhắn lại "
                 "hoặc gọi 111, miễn phí, cả ngày lẫn đêm."),
)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if not set(GATEWAY_TABLES) <= existing:
        _gateway_tables()
    _case_tables()
    _append_only_audit_log()
    canned = sa.table("canned_responses", sa.column("title", sa.String), sa.column("text", sa.Text),
                      sa.column("updated_at", sa.DateTime(timezone=True)))
    op.bulk_insert(canned, [{"title": t, "text": x, "updated_at": SEEDED_AT} for t, x in CANNED_RESPONSES])


def _gateway_tables() -> None:
    op.create_table('conversations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_activity', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversations')),
    sa.UniqueConstraint('channel', 'external_id', name=op.f('uq_conversations_channel'))
    )

    op.create_table('messages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.Enum('user', 'bot', 'counsellor', 'system', name='message_sender', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('buttons', sa.JSON(), nullable=False),
    sa.Column('payload', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_messages_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_conversation_id_id', ['conversation_id', 'id'], unique=False)

    op.create_table('offered_buttons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.String(length=1000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_offered_buttons_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_offered_buttons_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offered_buttons'))
    )
    with op.batch_alter_table('offered_buttons', schema=None) as batch_op:
        batch_op.create_index('ix_offered_buttons_conversation_id_payload', ['conversation_id', 'payload'], unique=False)


def _case_tables() -> None:
    op.create_table('staff_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('counsellor', 'supervisor', 'admin', name='staff_role', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('alert_chat_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_users')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_users_username'))
    )

    op.create_table('console_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_console_sessions_user_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_sessions'))
    )

    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('user_ref', sa.String(length=32), nullable=False),
    sa.Column('risk', sa.Enum('concern', 'high', 'imminent', name='case_risk', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('consent', sa.Enum('given', 'not_required', 'declined', name='case_consent', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('status', sa.Enum('waiting', 'active', 'closed', 'declined', name='case_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('out_of_hours', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('declined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('assigned_to_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('alerts_sent', sa.Integer(), nullable=False),
    sa.Column('last_alert_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('transcript_until_id', sa.Integer(), nullable=False),
    sa.Column('rasa_paused', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['assigned_to_id'], ['staff_users.id'], name=op.f('fk_cases_assigned_to_id_staff_users')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_cases_conversation_id_conversations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_status_priority', ['status', 'priority'], unique=False)
        batch_op.create_index('ix_cases_user_ref', ['user_ref'], unique=False)
        batch_op.create_index('uq_cases_open_conversation', ['conversation_id'], unique=True, sqlite_where=sa.text("status IN ('waiting', 'active')"), postgresql_where=sa.text("status IN ('waiting', 'active')"))

    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['staff_users.id'], name=op.f('fk_case_events_actor_id_staff_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index('ix_case_events_case_id', ['case_id'], unique=False)

    op.create_table('case_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('sender', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_entries_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_case_entries_message_id_messages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_entries')),
    sa.UniqueConstraint('case_id', 'message_id', name=op.f('uq_case_entries_case_id'))
    )
    with op.batch_alter_table('case_entries', schema=None) as batch_op:
        batch_op.create_index('ix_case_entries_case_id_id', ['case_id', 'id'], unique=False)

    op.create_table('case_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['staff_users.id'], name=op.f('fk_case_notes_author_id_staff_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_notes_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_notes'))
    )
    with op.batch_alter_table('case_notes', schema=None) as batch_op:
        batch_op.create_index('ix_case_notes_case_id', ['case_id'], unique=False)

    op.create_table('canned_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['updated_by_id'], ['staff_users.id'], name=op.f('fk_canned_responses_updated_by_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canned_responses'))
    )

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=48), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_case_id', ['case_id'], unique=False)


def _append_only_audit_log() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    elif op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in reversed(CASE_TABLES):
        op.drop_table(table)
    for table in reversed(GATEWAY_TABLES):
        op.drop_table(table)
