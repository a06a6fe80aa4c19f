"""The `editor` role: people who edit the legal knowledge base in the console.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

`staff_users.role` is a plain string with a CHECK constraint (`bot.cases.models._enum`);
the constraint is rebuilt with the new value.
"""

from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

CONSTRAINT = "ck_staff_users_staff_role"
BEFORE = ("counsellor", "supervisor", "admin")
AFTER = (*BEFORE, "editor")


def _rebuild(roles: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{r}'" for r in roles)
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_constraint(op.f(CONSTRAINT), type_="check")
        batch.create_check_constraint(op.f(CONSTRAINT), f"role IN ({listed})")


def upgrade() -> None:
    _rebuild(AFTER)


def downgrade() -> None:
    # The old constraint has no place for editors: their accounts go (they never act on a case;
    # the audit log keeps their username, it has no foreign key).
    op.execute("DELETE FROM console_sessions WHERE user_id IN (SELECT id FROM staff_users WHERE role = 'editor')")
    op.execute("DELETE FROM staff_users WHERE role = 'editor'")
    _rebuild(BEFORE)
